// A guest that oopses or hangs in the middle of a kernel suite is a CRASH or a
// TIMEOUT charged to the requirement the step exercised, with its case saved
// for replay; the run goes on in a freshly booted guest and no QEMU outlives it.
import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GuestFlags } from '../implementations/guest/agent.ts';
import { body, Op } from '../implementations/guest/protocol.ts';
import { builtGuest, withGuestLock } from '../implementations/guest/testGuest.ts';
import { processAlive } from '../implementations/guest/image/build.ts';
import { pass } from '../properties/oracles/observation.ts';
import type { KernelContext, KernelStep, KernelSuite } from '../properties/kernel/types.ts';
import { stepsFromJson } from '../properties/steps.ts';
import { executeRunOn, runSteps } from './engine.ts';
import { guestFactory } from './guestFactory.ts';
import { parseTargetSpec } from './targetSpec.ts';

const image = await builtGuest('the guest fault tests');
const dir = mkdtempSync(join(tmpdir(), 'vhostcheck-guest-faults-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Charged to every step of the fixture suite: any catalogue id serves, the point is where the verdict lands. */
const CHARGED = 'vhost-vdpa.device-id';

/** Steps that break the guest on purpose: a panic (sysrq c) and a syscall that never returns (a blocking eventfd read). */
async function execFault(ctx: KernelContext, step: KernelStep) {
  const { agent } = ctx;
  switch (step.op) {
    case 'answer': {
      const r = await agent.request(Op.hello, Buffer.alloc(0));
      if (r.kind !== 'ok') throw new Error(`agent: ${r.kind}`);
      return [pass(CHARGED, 'the agent answered')];
    }
    case 'oops': {
      const f = await agent.open('/proc/sysrq-trigger', GuestFlags.O_RDWR);
      if (f.kind === 'ok' && f.result >= 0) await agent.write(f.result, Buffer.from('c'));
      throw new Error('the guest survived sysrq c');
    }
    case 'hang': {
      const e = await agent.eventfd(0, 0);
      if (e.kind !== 'ok') throw new Error(`agent: ${e.kind}`);
      // The agent waits ten minutes for the eventfd; the host gives up after 1.5 s: a syscall that does not return.
      await agent.request(Op.read, body.read(e.result, 8, 600_000), 1_500);
      throw new Error('a ten-minute read of an unsignalled eventfd returned');
    }
  }
  throw new Error(`unknown op ${step.op}`);
}

function faultSuite(steps: KernelStep[]): KernelSuite {
  return {
    name: 'guest-faults',
    description: 'fixture: breaks the guest on purpose',
    requirements: [CHARGED],
    families: ['vhost-net'],
    deviceTypes: ['net'],
    maxSteps: steps.length,
    scenario: () => fc.constant(steps),
    open: async (ctx) => ({ exec: (s) => execFault(ctx, s), finish: async () => [], close: async () => {} }),
    requirementOf: () => CHARGED,
    formatStep: (s) => s.op,
  };
}

const step = (op: string): KernelStep => ({ t: 'kernel', op });

describe.skipIf(!image)('a guest that breaks mid-suite', () => {
  for (const [fault, verdict] of [['oops', 'CRASH'], ['hang', 'TIMEOUT']] as const) {
    it(`${fault}: ${verdict} at the step's requirement, a saved case that replays, a fresh guest, no QEMU left`, () =>
      withGuestLock(async () => {
        const spec = parseTargetSpec('guest:vhost-net');
        if (spec.kind !== 'guest') throw new Error('spec');
        const pids: number[] = [];
        const factory = guestFactory(spec, {
          probe: async (guest) => {
            if (guest.qemu.pid !== undefined) pids.push(guest.qemu.pid);
            return { family: 'vhost-net', deviceType: 'net', kernelRelease: guest.image.manifest.kernelRelease, facts: {} };
          },
        });
        const suite = faultSuite([step('answer'), step(fault), step('answer')]);
        const regressionDir = join(dir, fault);
        try {
          const run = await executeRunOn({ targetSpec: 'guest:vhost-net', selectors: [CHARGED], seed: 1, runs: 1, strict: false, regressionDir, kernelSuites: [suite] }, factory);
          const r = run.results.find((x) => x.id === CHARGED)!;
          expect(r.verdict).toBe(verdict);
          expect(r.failure?.steps).toEqual(['1. answer()', `2. ${fault}()`]);
          const file = r.failure!.regressionFile!;
          const saved = JSON.parse(readFileSync(file, 'utf8')) as { suite: string; steps: unknown };
          expect(saved.suite).toBe('guest-faults');
          // The saved steps break a fresh guest the same way.
          const again = await runSteps(factory, undefined, stepsFromJson(saved.steps), (o) => o.verdict !== 'PASS', saved.suite, [suite]);
          expect(again.failure?.observation.verdict).toBe(verdict);
          expect(again.failure?.observation.requirement).toBe(CHARGED);
          expect(factory.kernel.boots).toBeGreaterThanOrEqual(2);
        } finally {
          await factory.dispose();
        }
        for (const pid of pids) expect(processAlive(pid), `QEMU ${pid}`).toBe(false);
      }), 180_000);
  }
});

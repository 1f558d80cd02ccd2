// The host's agent process (vhost-vdpa:/dev/vhost-vdpa-N) that dies or hangs
// in the middle of a kernel suite is a CRASH or a TIMEOUT charged to the
// requirement the step exercised, with its case saved for replay; the run
// goes on with a fresh agent and no agent process outlives it. No guest and
// no vDPA device needed: the steps break the agent itself.
import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { body, Op } from '../implementations/guest/protocol.ts';
import { processAlive } from '../implementations/guest/image/build.ts';
import { startLocalMachine } from '../implementations/vhost-vdpa/localAgent.ts';
import { pass } from '../properties/oracles/observation.ts';
import type { KernelContext, KernelStep, KernelSuite } from '../properties/kernel/types.ts';
import { stepsFromJson } from '../properties/steps.ts';
import { executeRunOn, runSteps } from './engine.ts';
import { kernelFactory } from './kernelFactory.ts';
import { parseTargetSpec } from './targetSpec.ts';

const dir = mkdtempSync(join(tmpdir(), 'vhostcheck-host-faults-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CHARGED = 'vhost-vdpa.device-id';
const NODE = '/dev/vhost-vdpa-0';

/** Steps that break the agent on purpose: its death mid-request, and a syscall that never returns (a blocking eventfd read). */
async function execFault(ctx: KernelContext, step: KernelStep, pids: number[]) {
  const { agent } = ctx;
  switch (step.op) {
    case 'answer': {
      const r = await agent.request(Op.hello, Buffer.alloc(0));
      if (r.kind !== 'ok') throw new Error(`agent: ${r.kind}`);
      return [pass(CHARGED, 'the agent answered')];
    }
    case 'die': {
      const e = await agent.eventfd(0, 0);
      if (e.kind !== 'ok') throw new Error(`agent: ${e.kind}`);
      const waiting = agent.eventfdWait(e.result, 4_000);
      process.kill(pids.at(-1)!, 'SIGSEGV');
      const r = await waiting;
      throw new Error(`the agent's wait ended with ${r.kind}`);
    }
    case 'hang': {
      const e = await agent.eventfd(0, 0);
      if (e.kind !== 'ok') throw new Error(`agent: ${e.kind}`);
      await agent.request(Op.read, body.read(e.result, 8, 600_000), 1_500);
      throw new Error('a ten-minute read of an unsignalled eventfd returned');
    }
  }
  throw new Error(`unknown op ${step.op}`);
}

function faultSuite(steps: KernelStep[], pids: number[]): KernelSuite {
  return {
    name: 'host-faults',
    description: 'fixture: breaks the host agent on purpose',
    requirements: [CHARGED],
    families: ['vhost-vdpa'],
    deviceTypes: ['net'],
    maxSteps: steps.length,
    scenario: () => fc.constant(steps),
    open: async (ctx) => ({ exec: (s) => execFault(ctx, s, pids), finish: async () => [], close: async () => {} }),
    requirementOf: () => CHARGED,
    formatStep: (s) => s.op,
  };
}

const step = (op: string): KernelStep => ({ t: 'kernel', op });

describe('the host agent breaks mid-suite', () => {
  for (const [fault, verdict, said] of [['die', 'CRASH', /host agent ended \(SIGSEGV\)/], ['hang', 'TIMEOUT', /stopped answering/]] as const) {
    it(`${fault}: ${verdict} at the step's requirement, a saved case that replays, a fresh agent, no agent left`, async () => {
      const pids: number[] = [];
      const factory = kernelFactory(
        parseTargetSpec(`vhost-vdpa:${NODE}`),
        {
          label: 'host agent',
          start: async () => {
            const m = await startLocalMachine();
            pids.push(m.process.pid!);
            return m;
          },
          target: async () => ({ target: 'host-vhost-vdpa', node: NODE, deviceType: 'net' }),
        },
        { family: 'vhost-vdpa', probe: async (m) => ({ family: 'vhost-vdpa', deviceType: 'net', kernelRelease: m.agent.kernelRelease, facts: {} }) },
      );
      const suite = faultSuite([step('answer'), step(fault), step('answer')], pids);
      const regressionDir = join(dir, fault);
      try {
        const run = await executeRunOn({ targetSpec: `vhost-vdpa:${NODE}`, selectors: [CHARGED], seed: 1, runs: 1, strict: false, regressionDir, kernelSuites: [suite] }, factory);
        const r = run.results.find((x) => x.id === CHARGED)!;
        expect(r.verdict).toBe(verdict);
        expect(r.failure?.actual).toMatch(said);
        expect(r.failure?.steps).toEqual(['1. answer()', `2. ${fault}()`]);
        const saved = JSON.parse(readFileSync(r.failure!.regressionFile!, 'utf8')) as { suite: string; steps: unknown };
        const again = await runSteps(factory, undefined, stepsFromJson(saved.steps), (o) => o.verdict !== 'PASS', saved.suite, [suite]);
        expect(again.failure?.observation.verdict).toBe(verdict);
        expect(again.failure?.observation.requirement).toBe(CHARGED);
        expect(factory.kernel.boots).toBeGreaterThanOrEqual(2);
      } finally {
        await factory.dispose();
      }
      for (const pid of pids) expect(processAlive(pid), `agent ${pid}`).toBe(false);
    }, 60_000);
  }
});

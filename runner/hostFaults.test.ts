// The host's agent process (vhost-vdpa:/dev/vhost-vdpa-N) that dies or hangs
// in the middle of a kernel suite is a CRASH or a TIMEOUT charged to the
// requirement the step exercised, with its case saved for replay; the run
// goes on with a fresh agent and no agent process outlives it. No guest and
// no vDPA device needed: the steps break the agent itself.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { processAlive } from '../implementations/guest/image/build.ts';
import { startLocalMachine } from '../implementations/vhost-vdpa/localAgent.ts';
import type { KernelContext, KernelStep } from '../properties/kernel/types.ts';
import { kernelFactory } from './kernelFactory.ts';
import { expectFaultCharged, faultStep, faultSuite } from './kernelFaults.fixture.ts';
import { parseTargetSpec } from './targetSpec.ts';

const dir = mkdtempSync(join(tmpdir(), 'vhostcheck-host-faults-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const NODE = '/dev/vhost-vdpa-0';

/** The host agent's own fault: its death (SIGSEGV) while a request waits. */
function agentDeath(pids: readonly number[]) {
  return (ctx: KernelContext, step: KernelStep): Promise<never> | undefined => {
    if (step.op !== 'die') return undefined;
    return (async () => {
      const e = await ctx.machine.agent.eventfd(0, 0);
      if (e.kind !== 'ok') throw new Error(`agent: ${e.kind}`);
      const waiting = ctx.machine.agent.eventfdWait(e.result, 4_000);
      process.kill(pids.at(-1)!, 'SIGSEGV');
      const r = await waiting;
      throw new Error(`the agent's wait ended with ${r.kind}`);
    })();
  };
}

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
      const suite = faultSuite('host-faults', 'vhost-vdpa', [faultStep('answer'), faultStep(fault), faultStep('answer')], agentDeath(pids));
      try {
        await expectFaultCharged({ factory, targetSpec: `vhost-vdpa:${NODE}`, suite, fault, verdict, said, regressionDir: join(dir, fault) });
      } finally {
        await factory.dispose();
      }
      for (const pid of pids) expect(processAlive(pid), `agent ${pid}`).toBe(false);
    }, 60_000);
  }
});

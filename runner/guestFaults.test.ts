// A guest that oopses or hangs in the middle of a kernel suite is a CRASH or a
// TIMEOUT charged to the requirement the step exercised, with its case saved
// for replay; the run goes on in a freshly booted guest and no QEMU outlives it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GuestFlags } from '../implementations/guest/agent.ts';
import { builtGuest, withGuestLock } from '../implementations/guest/testGuest.ts';
import { processAlive } from '../implementations/guest/image/build.ts';
import type { KernelContext, KernelStep } from '../properties/kernel/types.ts';
import { guestFactory } from './guestFactory.ts';
import { expectFaultCharged, faultStep, faultSuite } from './kernelFaults.fixture.ts';
import { parseTargetSpec } from './targetSpec.ts';

const image = await builtGuest('the guest fault tests');
const dir = mkdtempSync(join(tmpdir(), 'vhostcheck-guest-faults-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The guest's own fault: a panic (sysrq c). */
function guestFault(ctx: KernelContext, step: KernelStep): Promise<never> | undefined {
  if (step.op !== 'oops') return undefined;
  return (async () => {
    const f = await ctx.machine.agent.open('/proc/sysrq-trigger', GuestFlags.O_RDWR);
    if (f.kind === 'ok' && f.result >= 0) await ctx.machine.agent.write(f.result, Buffer.from('c'));
    throw new Error('the guest survived sysrq c');
  })();
}

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
        const suite = faultSuite('guest-faults', 'vhost-net', [faultStep('answer'), faultStep(fault), faultStep('answer')], guestFault);
        try {
          await expectFaultCharged({ factory, targetSpec: 'guest:vhost-net', suite, fault, verdict, regressionDir: join(dir, fault) });
        } finally {
          await factory.dispose();
        }
        for (const pid of pids) expect(processAlive(pid), `QEMU ${pid}`).toBe(false);
      }), 180_000);
  }
});

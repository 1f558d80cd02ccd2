// The guest:vhost-net suites against the real kernel in the QEMU guest (skipped
// with a reason when the guest is not built): fixed seeds of every suite find
// nothing on the healthy kernel, and a session that fabricates a wrong kernel
// answer is caught at the requirement it breaks.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { builtGuest, sharedGuest } from '../../../implementations/guest/testGuest.ts';
import type { VhostNetAnswer, VhostNetRequest } from '../../../model/kernel/vhostNet.ts';
import { runKernelSteps } from '../run.ts';
import type { KernelCase, KernelContext, KernelObservation, KernelStep, KernelSuite } from '../types.ts';
import { ControlCase } from './controlCase.ts';
import { probeVhostNet } from './probe.ts';
import { VHOST_NET_SUITES } from './suites.ts';

const image = await builtGuest('guest:vhost-net suites');
const SEEDS = [1, 2, 3, 4, 5, 6];
const failing = (o: KernelObservation) => o.verdict !== 'PASS';

/** The suite with its session's answers passed through `lie` (a mutated kernel). */
function lying(suite: KernelSuite, lie: (r: VhostNetRequest, a: VhostNetAnswer) => VhostNetAnswer): KernelSuite {
  return {
    ...suite,
    open: async (ctx: KernelContext): Promise<KernelCase> => {
      const c = (await suite.open(ctx)) as ControlCase;
      const real = c.session.answer.bind(c.session);
      c.session.answer = async (r, wait) => lie(r, await real(r, wait));
      return c;
    },
  };
}

const step = (op: string, fields: Record<string, unknown> = {}): KernelStep => ({ t: 'kernel', op, ...fields });

describe.skipIf(!image)('guest:vhost-net suites (real kernel)', () => {
  const guest = sharedGuest(image);
  const target = { target: 'vhost-net' as const };
  const ctx = async (): Promise<KernelContext> => ({ guest: guest(), agent: guest().agent, target, profile: await probeVhostNet(guest(), target) });

  for (const suite of VHOST_NET_SUITES) {
    it(`${suite.name}: seeds ${SEEDS.join(', ')} find nothing on the healthy kernel`, async () => {
      const c = await ctx();
      expect(suite.unsupported?.(c.profile) ?? null).toBeNull();
      for (const seed of SEEDS) {
        const [steps] = fc.sample(suite.scenario(c.profile), { seed, numRuns: 1 });
        const r = await runKernelSteps(suite, c, steps!, failing);
        expect(r.failure?.message ?? null, `seed ${seed}:\n${steps!.map((s, i) => `${i}. ${suite.formatStep(s)}`).join('\n')}`).toBeNull();
        expect(r.observations.length).toBeGreaterThan(0);
      }
    }, 60_000);
  }

  const control = VHOST_NET_SUITES.find((s) => s.name === 'vhost-control')!;
  const iotlb = VHOST_NET_SUITES.find((s) => s.name === 'vhost-iotlb')!;

  it('a kernel that takes a ring size of 3 is NON_STRICT at vhost.vring.num-valid', async () => {
    const liar = lying(control, (r, a) => (r.op === 'setVringNum' && r.num === 3 ? { kind: 'ok', ret: 0, out: new Uint8Array() } : a));
    const r = await runKernelSteps(liar, await ctx(), [step('setOwner'), step('setVringNum', { index: 0, num: 3 })], failing);
    expect(r.failure?.observation).toMatchObject({ requirement: 'vhost.vring.num-valid', verdict: 'NON_STRICT' });
  });

  it('a kernel that lets a second SET_OWNER through is FAIL at vhost.owner.exclusive', async () => {
    const liar = lying(control, (r, a) => (r.op === 'setOwner' && a.kind === 'error' ? { kind: 'ok', ret: 0, out: new Uint8Array() } : a));
    const r = await runKernelSteps(liar, await ctx(), [step('setOwner'), step('setOwner')], failing);
    expect(r.failure?.observation).toMatchObject({ requirement: 'vhost.owner.exclusive', verdict: 'FAIL' });
  });

  it('a kernel that queues no MISS for an unmapped used ring is FAIL (a hang) at vhost.iotlb.miss-on-unmapped', async () => {
    const c = await ctx();
    const [setup] = fc.sample(iotlb.scenario(c.profile), { seed: 1, numRuns: 1 });
    const prefix = setup!.slice(0, 8); // SET_OWNER, table, both rings, kicks
    const liar = lying(iotlb, (r, a) => (r.op === 'iotlbRead' && a.kind === 'ok' ? { kind: 'empty' } : a));
    const r = await runKernelSteps(liar, c, [...prefix, step('setBackend', { index: 1, attach: true }), step('iotlbRead', { length: 72 })], failing);
    expect(r.failure?.observation).toMatchObject({ requirement: 'vhost.iotlb.miss-on-unmapped', verdict: 'FAIL' });
  });

  it('a kernel that leaks a byte into a MISS is NON_STRICT at vhost.iotlb.no-info-leak', async () => {
    const c = await ctx();
    const [setup] = fc.sample(iotlb.scenario(c.profile), { seed: 1, numRuns: 1 });
    const liar = lying(iotlb, (r, a) => {
      if (r.op !== 'iotlbRead' || a.kind !== 'ok' || a.ret !== 72) return a;
      const out = Uint8Array.from(a.out);
      out[64] = 0x5a;
      return { ...a, out };
    });
    const r = await runKernelSteps(liar, c, [...setup!.slice(0, 8), step('setBackend', { index: 1, attach: true }), step('iotlbRead', { length: 72 })], failing);
    expect(r.failure?.observation).toMatchObject({ requirement: 'vhost.iotlb.no-info-leak', verdict: 'NON_STRICT' });
  });
});

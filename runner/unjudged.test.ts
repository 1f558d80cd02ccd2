import { describe, expect, it } from 'vitest';
import type { Requirement } from '../spec/requirements/types.ts';
import { type CoverageSuite, unjudged } from './unjudged.ts';

const req = (id: string, role: Requirement['role'] = 'device'): Requirement => ({ id, source: { doc: 'virtio-1.2', section: 'x' }, level: 'MUST', role, summary: 's' });
const suite = (status: CoverageSuite['status'], requirements = ['virtio.split.used.len-written']): CoverageSuite => ({ name: 'split-datapath', requirements, status });
const SOCKET_BLK = { kind: 'socket' as const, deviceType: 'blk' };

describe('unjudged: every requirement without a verdict says why', () => {
  it('kernel-target rules are not applicable to a vhost-user or simulated target, with that reason', () => {
    for (const id of ['vhost.iotlb.perm-enforced', 'vhost-vdpa.enable-after-driver-ok', 'vduse.create.vq-num-limit']) {
      const r = unjudged(req(id, 'backend'), SOCKET_BLK, [suite({ state: 'complete', runs: 100 })]);
      expect(r).toMatchObject({ verdict: 'SKIP', category: 'not-applicable' });
      expect(r.detail).toContain('kernel-target rule');
    }
    expect(unjudged(req('vhost.iotlb.perm-enforced', 'backend'), { kind: 'kernel', deviceType: 'net' }, []).category).toBe('not-covered');
  });

  it('driver and front-end rules, and another device type\'s rules, are not applicable', () => {
    expect(unjudged(req('virtio.split.avail.idx', 'driver'), SOCKET_BLK, [])).toMatchObject({ verdict: 'SKIP', category: 'not-applicable' });
    expect(unjudged(req('virtio.net.num-buffers-one'), SOCKET_BLK, []).detail).toContain('virtio-net rule');
  });

  it('a suite the target lacks features for makes its requirements UNSUPPORTED, naming the features', () => {
    const r = unjudged(req('virtio.split.used.len-written'), SOCKET_BLK, [suite({ state: 'unsupported', missing: ['VHOST_USER_PROTOCOL_F_LOG_SHMFD'] })]);
    expect(r).toMatchObject({ verdict: 'UNSUPPORTED', category: 'unsupported' });
    expect(r.detail).toContain('VHOST_USER_PROTOCOL_F_LOG_SHMFD');
  });

  it('a suite cut short or never started leaves its requirements NOT_RUN (not reached), not SKIP', () => {
    const cut = unjudged(req('virtio.split.used.len-written'), SOCKET_BLK, [suite({ state: 'cut', runs: 3, why: 'time budget exhausted' })]);
    expect(cut).toMatchObject({ verdict: 'NOT_RUN', category: 'not-reached' });
    expect(cut.detail).toContain('cut short after 3 runs (time budget exhausted)');
    expect(unjudged(req('virtio.split.used.len-written'), SOCKET_BLK, [suite({ state: 'not-started', why: 'interrupted' })]).verdict).toBe('NOT_RUN');
  });

  it('no suite checks it, or a suite ran to the end without exercising it: not covered, said so', () => {
    expect(unjudged(req('virtio.split.in-order.used-order'), SOCKET_BLK, [suite({ state: 'complete', runs: 100 })])).toMatchObject({ verdict: 'SKIP', category: 'not-covered', detail: 'no suite checks this requirement yet' });
    // A suite listing an ancestor id covers its descendants (per-message ids under vhost-user.reply.required).
    const child = unjudged(req('vhost-user.reply.required.set-owner', 'backend'), SOCKET_BLK, [suite({ state: 'complete', runs: 100 }, ['vhost-user.reply.required'])]);
    expect(child).toMatchObject({ verdict: 'SKIP', category: 'not-covered' });
    expect(child.detail).toContain('ran to the end');
  });

  it('a split catch-all without observations of its own points to the rules that judge it', () => {
    const r = unjudged(req('virtio.robust.survives'), SOCKET_BLK, [suite({ state: 'complete', runs: 100 }, ['virtio.robust.survives'])], ['virtio.robust.survives.valid-chains', 'virtio.robust.survives.polled']);
    expect(r).toMatchObject({ verdict: 'SKIP', category: 'not-covered' });
    expect(r.detail).toBe('judged through its more specific rules: virtio.robust.survives.valid-chains, virtio.robust.survives.polled');
  });
});

describe('unjudged on a kernel target: what its interface answers for', () => {
  const VDUSE_BLK = { kind: 'kernel' as const, deviceType: 'blk', family: 'vduse' as const };
  const VDPA_NET = { kind: 'kernel' as const, deviceType: 'net', family: 'vhost-vdpa' as const };

  it('a vhost-user rule, or another interface\'s rule, is not applicable, naming where it is judged', () => {
    expect(unjudged(req('vhost-user.ring.start-on-kick', 'backend'), VDPA_NET, [])).toMatchObject({ verdict: 'SKIP', category: 'not-applicable' });
    const r = unjudged(req('vhost-vdpa.suspend', 'backend'), VDUSE_BLK, []);
    expect(r).toMatchObject({ verdict: 'SKIP', category: 'not-applicable' });
    expect(r.detail).toContain('guest:vdpa-sim-net');
    expect(unjudged(req('vduse.create.vq-num-limit', 'backend'), VDPA_NET, []).category).toBe('not-applicable');
  });

  it('a rule the family lists as unjudgeable from user space gives that reason', () => {
    const r = unjudged(req('vhost-vdpa.iotlb.batch-commit', 'backend'), VDPA_NET, []);
    expect(r).toMatchObject({ verdict: 'SKIP', category: 'not-covered' });
    expect(r.detail).toMatch(/^cannot be judged from user space on this target: /);
  });

  it('a vhost core rule no vhost-vdpa suite lists says which targets judge it', () => {
    const r = unjudged(req('vhost.desc.head-range', 'backend'), VDPA_NET, []);
    expect(r).toMatchObject({ verdict: 'SKIP', category: 'not-covered', detail: 'judged on vhost-net targets; no vhost-vdpa suite checks it' });
  });

  it('a driver-step suite on a target only kernel suites reach leaves its rules not applicable', () => {
    const r = unjudged(req('virtio.split.used.len-written'), VDUSE_BLK, [suite({ state: 'wrong-transport', transport: 'vduse ioctls' })]);
    expect(r).toMatchObject({ verdict: 'SKIP', category: 'not-applicable' });
    expect(r.detail).toContain('vduse ioctls');
  });
});

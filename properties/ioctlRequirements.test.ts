import { describe, expect, it } from 'vitest';
import { requirementById } from '../spec/requirements/index.ts';
import { onIoctl } from './ioctlRequirements.ts';

describe('observations on the ioctl transport', () => {
  it('keeps virtio and kernel rules as they are', () => {
    expect(onIoctl('virtio.robust.write-bound', 'FAIL')).toEqual({ requirement: 'virtio.robust.write-bound', verdict: 'FAIL' });
    expect(onIoctl('vhost-vdpa.vring.index-range', 'PASS')).toEqual({ requirement: 'vhost-vdpa.vring.index-range', verdict: 'PASS' });
  });

  it('charges a vhost-user rule to the kernel rule that says the same, at that rule\'s level', () => {
    expect(onIoctl('vhost-user.robust.vring-index-range', 'PASS')).toEqual({ requirement: 'vhost-vdpa.vring.index-range', verdict: 'PASS' });
    // A refused valid SET_VRING_NUM: the vhost-user MUST becomes the DE_FACTO vhost rule, a deviation without harm.
    expect(onIoctl('vhost-user.reply.required.set-vring-num', 'FAIL')).toEqual({ requirement: 'vhost.vring.num-valid', verdict: 'NON_STRICT' });
    // Valid chains left unused after a kick: the driver waits forever, a hang even under a DE_FACTO rule.
    expect(onIoctl('vhost-user.ring.start-on-kick.buffers-used', 'FAIL')).toEqual({ requirement: 'virtio.robust.survives.valid-chains', verdict: 'FAIL' });
    expect(onIoctl('vhost-user.ring.start-on-kick.session-kept', 'FAIL')).toEqual({ requirement: 'virtio.robust.survives.valid-chains', verdict: 'FAIL' });
    // A severe FAIL under a DE_FACTO vhost-user rule stays severe.
    expect(onIoctl('vhost-user.robust.vring-index-range', 'FAIL')).toEqual({ requirement: 'vhost-vdpa.vring.index-range', verdict: 'FAIL' });
    expect(onIoctl('vhost-user.robust.vring-index-range', 'CRASH')).toEqual({ requirement: 'vhost-vdpa.vring.index-range', verdict: 'CRASH' });
  });

  it('drops a passing vhost-user-only observation and refuses to hide a failing one', () => {
    expect(onIoctl('vhost-user.features.get-features-stable', 'PASS')).toBeNull();
    expect(() => onIoctl('vhost-user.features.get-features-stable', 'FAIL')).toThrow(/no vhost-vdpa counterpart/);
  });

  it('names only catalogued rules', () => {
    for (const id of ['vhost-user.robust.vring-index-range', 'vhost-user.reply.required.set-owner', 'vhost-user.reply.required.iotlb-update', 'vhost-user.ring.get-vring-base-stops', 'vhost-user.vring.call-invalid-fd']) {
      const m = onIoctl(id, 'PASS');
      expect(m && requirementById(m.requirement), id).toBeTruthy();
    }
  });
});

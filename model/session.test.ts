import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Reply, VhostRequest } from '../spec/requests.ts';
import { bit, VIRTIO_F_VERSION_1 } from '../spec/virtio/features.ts';
import { VHOST_USER_F_PROTOCOL_FEATURES, VHOST_USER_PROTOCOL_F_CONFIG, VHOST_USER_PROTOCOL_F_MQ } from '../spec/vhostUser/protocolFeatures.ts';
import { judge } from './outcome.ts';
import type { Profile } from './profile.ts';
import { initialSession, ringActive, type SessionModel, stepSession } from './session.ts';

const profile: Profile = {
  deviceType: 'blk', queues: 2, vringLimit: 2, maxQueueSize: 256, offeredFeatures: bit(VIRTIO_F_VERSION_1) | bit(VHOST_USER_F_PROTOCOL_FEATURES),
  offeredProtocolFeatures: 0n, configSize: 60, config: new Uint8Array(0), blkCapacitySectors: 2048n, blkFreshDisk: true, errorsAlwaysVisible: true,
};
const OK: Reply = { ok: true };
const ERR: Reply = { ok: false, errno: 'EINVAL' };

function apply(s: SessionModel, req: VhostRequest, reply: Reply) {
  return judge(stepSession(s, profile, req), reply, s);
}

describe('session model', () => {
  it('GET_FEATURES must return the offered word', () => {
    const s = initialSession(profile);
    expect(apply(s, { op: 'getFeatures' }, { ok: true, value: profile.offeredFeatures }).verdict).toBe('PASS');
    expect(apply(s, { op: 'getFeatures' }, { ok: true, value: 1n }).verdict).toBe('FAIL');
  });

  it('SET_LOG_FD is optional: taken or refused passes, a dropped session fails vhost-user.log.set-log-fd', () => {
    const s = initialSession(profile);
    expect(apply(s, { op: 'setLogFd' }, OK)).toMatchObject({ verdict: 'PASS', requirement: 'vhost-user.log.set-log-fd' });
    expect(apply(s, { op: 'setLogFd' }, ERR)).toMatchObject({ verdict: 'PASS', requirement: 'vhost-user.log.set-log-fd' });
    expect(apply(s, { op: 'setLogFd' }, { closed: true })).toMatchObject({ verdict: 'FAIL', requirement: 'vhost-user.log.set-log-fd' });
  });

  it('unoffered features: refusal passes, acceptance fails when errors are visible', () => {
    const s = initialSession(profile);
    expect(apply(s, { op: 'setFeatures', features: bit(50) }, ERR).verdict).toBe('PASS');
    expect(apply(s, { op: 'setFeatures', features: bit(50) }, OK)).toMatchObject({ verdict: 'FAIL', requirement: 'virtio.status.features-ok-refusal' });
  });

  it('features without an offered VERSION_1: the device may refuse or stop (virtio 1.2 §6.1), but a refused valid set is still a failure', () => {
    const s = initialSession(profile);
    const legacy = bit(VHOST_USER_F_PROTOCOL_FEATURES);
    expect(apply(s, { op: 'setFeatures', features: legacy }, { closed: true })).toMatchObject({ verdict: 'PASS', requirement: 'virtio.features.version-1-may-fail' });
    expect(apply(s, { op: 'setFeatures', features: legacy }, ERR)).toMatchObject({ verdict: 'PASS', requirement: 'virtio.features.version-1-may-fail' });
    expect(apply(s, { op: 'setFeatures', features: legacy }, OK).verdict).toBe('PASS');
    expect(apply(s, { op: 'setFeatures', features: bit(VIRTIO_F_VERSION_1) }, { closed: true }).verdict).toBe('FAIL');
    expect(apply(s, { op: 'setFeatures', features: bit(VIRTIO_F_VERSION_1) }, ERR).verdict).toBe('FAIL');
  });

  it('unoffered features: acceptance cannot be seen, so passes, without REPLY_ACK over a socket', () => {
    const quiet = { ...profile, errorsAlwaysVisible: false };
    expect(judge(stepSession(initialSession(quiet), quiet, { op: 'setFeatures', features: bit(50) }), OK, initialSession(quiet)).verdict).toBe('PASS');
  });

  it('vring index beyond the queue count must be refused, whatever its width (bug-catalog D4)', () => {
    const s = initialSession(profile);
    for (const index of [2, 255, 256, 0xffff, 0x1_0000, 0xffff_ffff]) {
      expect(apply(s, { op: 'setVringNum', index, num: 8 }, OK)).toMatchObject({ verdict: 'FAIL', requirement: 'vhost-user.robust.vring-index-range' });
      expect(apply(s, { op: 'setVringNum', index, num: 8 }, { closed: true }).verdict).toBe('PASS');
    }
  });

  it('an index the back-end reports (GET_QUEUE_NUM) but the suite does not drive may be accepted or refused', () => {
    const wide = { ...profile, vringLimit: 256 };
    const s = initialSession(wide);
    expect(judge(stepSession(s, wide, { op: 'setVringNum', index: 2, num: 8 }), OK, s).verdict).toBe('PASS');
    expect(judge(stepSession(s, wide, { op: 'setVringNum', index: 2, num: 8 }), ERR, s).verdict).toBe('PASS');
    expect(judge(stepSession(s, wide, { op: 'setVringNum', index: 256, num: 8 }), OK, s)).toMatchObject({ verdict: 'FAIL', requirement: 'vhost-user.robust.vring-index-range' });
  });

  it('rings start enabled without PROTOCOL_FEATURES and disabled with it (vhost-user.rst Ring states)', () => {
    const s0 = initialSession(profile);
    const without = apply(s0, { op: 'setFeatures', features: bit(VIRTIO_F_VERSION_1) }, OK).next;
    const withPf = apply(s0, { op: 'setFeatures', features: profile.offeredFeatures }, OK).next;
    expect(without.vrings.every((v) => v.enabled)).toBe(true);
    expect(withPf.vrings.every((v) => !v.enabled)).toBe(true);
  });

  it('GET_VRING_BASE stops the ring and must return the next index to process', () => {
    let s = apply(initialSession(profile), { op: 'setFeatures', features: bit(VIRTIO_F_VERSION_1) }, OK).next;
    for (const req of [
      { op: 'setVringNum', index: 0, num: 8 }, { op: 'setVringAddr', index: 0, flags: 0, desc: 0x1000n, used: 0x2000n, avail: 0x3000n, log: 0n },
      { op: 'setVringBase', index: 0, base: 5 }, { op: 'setVringKick', index: 0 },
    ] as VhostRequest[]) s = apply(s, req, OK).next;
    expect(ringActive(s.vrings[0])).toBe(true);
    expect(apply(s, { op: 'getVringBase', index: 0 }, { ok: true, value: 4 })).toMatchObject({ verdict: 'FAIL', requirement: 'vhost-user.ring.get-vring-base-stops' });
    const after = apply(s, { op: 'getVringBase', index: 0 }, { ok: true, value: 5 });
    expect(after.verdict).toBe('PASS');
    expect(ringActive(after.next.vrings[0])).toBe(false);
  });

  it('reset returns every ring to its initial state (virtio.status.reset-clears)', () => {
    let s = apply(initialSession(profile), { op: 'setVringBase', index: 1, base: 9 }, OK).next;
    s = apply(s, { op: 'resetDevice' }, OK).next;
    expect(apply(s, { op: 'getVringBase', index: 1 }, { ok: true, value: 9 })).toMatchObject({ verdict: 'FAIL', requirement: 'virtio.status.reset-clears' });
    expect(apply(s, { op: 'getVringBase', index: 1 }, { ok: true, value: 0 }).verdict).toBe('PASS');
  });

  it('GET_QUEUE_NUM with MQ must repeat the count the back-end reported when probed, which may exceed the queues the suite drives', () => {
    const mq: Profile = { ...profile, offeredProtocolFeatures: bit(VHOST_USER_PROTOCOL_F_MQ), queueNum: 128 };
    const s0 = initialSession(mq);
    const s = judge(stepSession(s0, mq, { op: 'setProtocolFeatures', features: bit(VHOST_USER_PROTOCOL_F_MQ) }), OK, s0).next;
    const ask = (value: number) => judge(stepSession(s, mq, { op: 'getQueueNum' }), { ok: true, value }, s);
    expect(ask(128).verdict).toBe('PASS');
    expect(ask(2)).toMatchObject({ verdict: 'FAIL', requirement: 'vhost-user.reply.required' });
  });

  it('messages of a protocol feature not negotiated: refusal or close pass, an answer is informational', () => {
    const s = initialSession(profile);
    expect(apply(s, { op: 'getStatus' }, { ok: true, value: 0 }).verdict).toBe('INFORMATIONAL');
    expect(apply(s, { op: 'getStatus' }, { closed: true }).verdict).toBe('PASS');
    expect(apply(s, { op: 'getConfig', offset: 0, size: 4 }, ERR).verdict).toBe('PASS');
  });

  it('config reads beyond the space: error, or zeros — never other bytes (bug-catalog L15)', () => {
    const s = { ...initialSession(profile), protocol: 1n << BigInt(VHOST_USER_PROTOCOL_F_CONFIG) };
    expect(apply(s, { op: 'getConfig', offset: 56, size: 8 }, ERR).verdict).toBe('PASS');
    expect(apply(s, { op: 'getConfig', offset: 56, size: 8 }, { ok: true, value: Uint8Array.of(1, 2, 3, 4, 0, 0, 0, 0) }).verdict).toBe('PASS');
    expect(apply(s, { op: 'getConfig', offset: 56, size: 8 }, { ok: true, value: Uint8Array.of(1, 2, 3, 4, 0, 9, 0, 0) }).verdict).toBe('FAIL');
    expect(apply(s, { op: 'getConfig', offset: 0, size: 8 }, { ok: true, value: new Uint8Array(4) }).verdict).toBe('FAIL');
  });

  it('config reads inside the space must match the config space at that offset (a device ignoring offset fails)', () => {
    const config = Uint8Array.from({ length: 60 }, (_, i) => i + 1);
    const p2 = { ...profile, config };
    const s = { ...initialSession(p2), protocol: 1n << BigInt(VHOST_USER_PROTOCOL_F_CONFIG) };
    const r = stepSession(s, p2, { op: 'getConfig', offset: 8, size: 4 });
    expect(judge(r, { ok: true, value: config.slice(8, 12) }, s).verdict).toBe('PASS');
    expect(judge(r, { ok: true, value: config.slice(0, 4) }, s)).toMatchObject({ verdict: 'FAIL', requirement: 'vhost-user.config.get-config' });
  });

  it('IOTLB update of size 0 must be refused once ACCESS_PLATFORM is negotiated (bug-catalog L9)', () => {
    const p2 = { ...profile, offeredFeatures: profile.offeredFeatures | bit(33) };
    const s = judge(stepSession(initialSession(p2), p2, { op: 'setFeatures', features: bit(33) | bit(VIRTIO_F_VERSION_1) }), OK, initialSession(p2)).next;
    const r = stepSession(s, p2, { op: 'iotlbUpdate', iova: 0n, size: 0n, uaddr: 0n, perm: 3 });
    expect(judge(r, OK, s)).toMatchObject({ verdict: 'FAIL', requirement: 'vhost.iotlb.update-zero-size-rejected' });
    expect(judge(r, ERR, s).verdict).toBe('PASS');
  });

  it('property: the model is total — every request yields at least one acceptable outcome and a fallback', () => {
    const req = fc.oneof(
      fc.record({ op: fc.constant('setVringNum' as const), index: fc.nat(), num: fc.nat(70000) }),
      fc.record({ op: fc.constant('getConfig' as const), offset: fc.nat(400), size: fc.nat(400) }),
      fc.record({ op: fc.constant('setFeatures' as const), features: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) }),
      fc.record({ op: fc.constant('iotlbUpdate' as const), iova: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), size: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), uaddr: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), perm: fc.nat(5) }),
    );
    fc.assert(fc.property(fc.array(req, { maxLength: 20 }), (reqs) => {
      let s = initialSession(profile);
      for (const r of reqs) {
        const step = stepSession(s, profile, r);
        expect(step.outcomes.length).toBeGreaterThan(0);
        s = step.outcomes[0].next;
      }
    }), { seed: 42 });
  });
});

describe('session model: vhost-user reset without RESET_DEVICE', () => {
  it('RESET_OWNER may be ignored: ring bases are unknown afterwards, not required to be 0', () => {
    const quiet = { ...profile, errorsAlwaysVisible: false };
    let s = judge(stepSession(initialSession(quiet), quiet, { op: 'setVringBase', index: 0, base: 7 }), OK, initialSession(quiet)).next;
    s = judge(stepSession(s, quiet, { op: 'resetDevice' }), OK, s).next;
    expect(judge(stepSession(s, quiet, { op: 'getVringBase', index: 0 }), { ok: true, value: 7 }, s).verdict).toBe('PASS');
    expect(judge(stepSession(s, quiet, { op: 'getVringBase', index: 0 }), { ok: true, value: 0 }, s).verdict).toBe('PASS');
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Reply, VhostRequest } from '../spec/requests.ts';
import { bit, VIRTIO_F_VERSION_1 } from '../spec/virtio/features.ts';
import { VHOST_F_LOG_ALL } from '../spec/vhost/types.ts';
import {
  VHOST_USER_F_PROTOCOL_FEATURES, VHOST_USER_PROTOCOL_F_CONFIG, VHOST_USER_PROTOCOL_F_LOG_SHMFD, VHOST_USER_PROTOCOL_F_MQ, VHOST_USER_PROTOCOL_F_REPLY_ACK,
  VHOST_USER_PROTOCOL_F_RESET_DEVICE, VHOST_USER_PROTOCOL_F_STATUS,
} from '../spec/vhostUser/protocolFeatures.ts';
import { judge } from './outcome.ts';
import type { Profile } from './profile.ts';
import { initialSession, refusalVisible, ringActive, type SessionModel, stepSession } from './session.ts';

const profile: Profile = {
  deviceType: 'blk', queues: 2, vringLimit: 2, maxQueueSize: 256, offeredFeatures: bit(VIRTIO_F_VERSION_1) | bit(VHOST_USER_F_PROTOCOL_FEATURES),
  offeredProtocolFeatures: 0n, configSize: 60, config: new Uint8Array(0), blkCapacitySectors: 2048n, blkFreshDisk: true, transport: 'in-process',
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

  it('SET_LOG_FD is optional: taken or refused passes, a dropped session is NON_STRICT at vhost-user.log.set-log-fd', () => {
    const s = initialSession(profile);
    expect(apply(s, { op: 'setLogFd' }, OK)).toMatchObject({ verdict: 'PASS', requirement: 'vhost-user.log.set-log-fd' });
    expect(apply(s, { op: 'setLogFd' }, ERR)).toMatchObject({ verdict: 'PASS', requirement: 'vhost-user.log.set-log-fd' });
    // "Communication": closing "should only happen in exceptional circumstances" — a should: NON_STRICT.
    expect(apply(s, { op: 'setLogFd' }, { closed: true })).toMatchObject({ verdict: 'NON_STRICT', requirement: 'vhost-user.log.set-log-fd' });
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
    const quiet = { ...profile, transport: 'vhost-user' as const };
    expect(judge(stepSession(initialSession(quiet), quiet, { op: 'setFeatures', features: bit(50) }), OK, initialSession(quiet)).verdict).toBe('PASS');
  });

  it('vring index beyond the queue count must be refused, whatever its width (bug-catalog D4)', () => {
    const s = initialSession(profile);
    for (const index of [2, 255, 256, 0xffff, 0x1_0000, 0xffff_ffff]) {
      expect(apply(s, { op: 'setVringNum', index, num: 8 }, OK)).toMatchObject({ verdict: 'FAIL', requirement: 'vhost-user.robust.vring-index-range' });
      expect(apply(s, { op: 'setVringNum', index, num: 8 }, { closed: true }).verdict).toBe('PASS');
    }
  });

  it('SET_VRING_KICK/CALL/ERR: an index above 255 whose bits 0-7 name a driven vring may be taken for that vring or refused (vhost-user.rst: bits 0-7 hold the index)', () => {
    const s = initialSession(profile);
    for (const op of ['setVringKick', 'setVringCall', 'setVringErr'] as const) {
      expect(apply(s, { op, index: 256 }, OK)).toMatchObject({ verdict: 'PASS', requirement: 'vhost-user.robust.vring-index-range' });
      expect(apply(s, { op, index: 0x101 }, ERR).verdict).toBe('PASS');
      // Bits 0-7 name vring 2, which a 2-queue back-end does not have: still refused or a FAIL.
      expect(apply(s, { op, index: 0x102 }, OK)).toMatchObject({ verdict: 'FAIL', requirement: 'vhost-user.robust.vring-index-range' });
    }
    // Taken, it is the vring bits 0-7 name that changed.
    expect(apply(s, { op: 'setVringCall', index: 0x101, invalid: true }, OK).next.vrings[1].call).toBe('invalid');
    expect(apply(s, { op: 'setVringKick', index: 0x100 }, OK).next.vrings[0].started).toBe(true);
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

  it('reset (RESET_DEVICE negotiated) returns every ring to its initial state (virtio.status.reset-clears)', () => {
    let s = apply({ ...initialSession(profile), protocol: bit(VHOST_USER_PROTOCOL_F_RESET_DEVICE) }, { op: 'setVringBase', index: 1, base: 9 }, OK).next;
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
    const quiet = { ...profile, transport: 'vhost-user' as const };
    let s = judge(stepSession(initialSession(quiet), quiet, { op: 'setVringBase', index: 0, base: 7 }), OK, initialSession(quiet)).next;
    s = judge(stepSession(s, quiet, { op: 'resetDevice' }), OK, s).next;
    expect(judge(stepSession(s, quiet, { op: 'getVringBase', index: 0 }), { ok: true, value: 7 }, s).verdict).toBe('PASS');
    expect(judge(stepSession(s, quiet, { op: 'getVringBase', index: 0 }), { ok: true, value: 0 }, s).verdict).toBe('PASS');
  });
});

describe('refusal visibility from negotiation (issue 10)', () => {
  const socket: Profile = { ...profile, transport: 'vhost-user', offeredProtocolFeatures: bit(VHOST_USER_PROTOCOL_F_REPLY_ACK) | bit(VHOST_USER_PROTOCOL_F_LOG_SHMFD) };
  const plain = initialSession(socket);
  const acked = { ...plain, protocol: bit(VHOST_USER_PROTOCOL_F_REPLY_ACK) };
  const on = (s: SessionModel, req: VhostRequest, reply: Reply) => judge(stepSession(s, socket, req), reply, s);

  it('over vhost-user without REPLY_ACK an accepted unoffered feature set cannot be seen: the model accepts it and the harness checks liveness', () => {
    expect(on(plain, { op: 'setFeatures', features: bit(50) }, OK).verdict).toBe('PASS');
  });

  it('with REPLY_ACK negotiated the refusal is seen, so an "ok" is FAIL (mutant features-ok-accepts-unoffered served over a socket)', () => {
    expect(on(acked, { op: 'setFeatures', features: bit(50) }, OK)).toMatchObject({ verdict: 'FAIL', requirement: 'virtio.status.features-ok-refusal' });
    expect(on(acked, { op: 'setFeatures', features: bit(50) }, ERR).verdict).toBe('PASS');
  });

  it('a message with its own reply shows a refusal without REPLY_ACK; one without does not; IOTLB_MSG only under REPLY_ACK', () => {
    expect(refusalVisible(plain, socket, { op: 'getVringBase', index: 9 })).toBe(true);
    expect(refusalVisible(plain, socket, { op: 'getFeatures' })).toBe(true);
    expect(refusalVisible(plain, socket, { op: 'setVringNum', index: 9, num: 8 })).toBe(false);
    expect(refusalVisible(plain, socket, { op: 'iotlbUpdate', iova: 0n, size: 0n, uaddr: 0n, perm: 3 })).toBe(false);
    expect(refusalVisible(acked, socket, { op: 'iotlbUpdate', iova: 0n, size: 0n, uaddr: 0n, perm: 3 })).toBe(true);
    expect(refusalVisible(acked, socket, { op: 'setVringNum', index: 9, num: 8 })).toBe(true);
  });

  it('SET_LOG_BASE has a reply only with LOG_SHMFD ("Communication")', () => {
    const req: VhostRequest = { op: 'setLogBase', size: 0n, offset: 0n };
    expect(refusalVisible(plain, socket, req)).toBe(false);
    expect(refusalVisible({ ...plain, protocol: bit(VHOST_USER_PROTOCOL_F_LOG_SHMFD) }, socket, req)).toBe(true);
  });

  it('in process every refusal is seen, whatever was negotiated', () => {
    expect(refusalVisible(initialSession(profile), profile, { op: 'setVringNum', index: 9, num: 8 })).toBe(true);
  });

  it('a vring index beyond the back-end is judged where the refusal shows: GET_VRING_BASE always, SET_VRING_NUM only with REPLY_ACK', () => {
    expect(on(plain, { op: 'setVringNum', index: 0x10000, num: 8 }, OK).verdict).toBe('PASS');
    expect(on(acked, { op: 'setVringNum', index: 0x10000, num: 8 }, OK)).toMatchObject({ verdict: 'FAIL', requirement: 'vhost-user.robust.vring-index-range' });
    expect(on(plain, { op: 'getVringBase', index: 0x10000 }, { ok: true, value: 0 })).toMatchObject({ verdict: 'FAIL', requirement: 'vhost-user.robust.vring-index-range' });
  });
});

describe('where the text is silent, the model accepts (issue 10)', () => {
  const reset = { ...profile, offeredProtocolFeatures: bit(VHOST_USER_PROTOCOL_F_RESET_DEVICE) | bit(VHOST_USER_PROTOCOL_F_STATUS) };
  const step = (s: SessionModel, req: VhostRequest, reply: Reply, p: Profile = reset) => judge(stepSession(s, p, req), reply, s);

  it('a second SET_OWNER after RESET_DEVICE may be refused ("The back-end retains ownership"); the first must be taken', () => {
    let s = initialSession(reset);
    expect(step(s, { op: 'setOwner' }, ERR)).toMatchObject({ verdict: 'FAIL' });
    s = step(s, { op: 'setOwner' }, OK).next;
    s = step(s, { op: 'setProtocolFeatures', features: bit(VHOST_USER_PROTOCOL_F_RESET_DEVICE) }, OK).next;
    s = step(s, { op: 'resetDevice' }, OK).next;
    expect(step(s, { op: 'setOwner' }, ERR).verdict).toBe('PASS');
    expect(step(s, { op: 'setOwner' }, OK).verdict).toBe('PASS');
  });

  it('SET_PROTOCOL_FEATURES a second time, or with bits not offered: either answer', () => {
    const s = step(initialSession(reset), { op: 'setProtocolFeatures', features: bit(VHOST_USER_PROTOCOL_F_RESET_DEVICE) }, OK).next;
    expect(step(s, { op: 'setProtocolFeatures', features: bit(VHOST_USER_PROTOCOL_F_RESET_DEVICE) }, ERR)).toMatchObject({ verdict: 'PASS', next: { protocol: s.protocol } });
    expect(step(initialSession(reset), { op: 'setProtocolFeatures', features: bit(40) }, OK).verdict).toBe('PASS');
    expect(step(initialSession(reset), { op: 'setProtocolFeatures', features: bit(40) }, ERR).verdict).toBe('PASS');
  });

  it('SET_FEATURES again may be refused, except a VHOST_F_LOG_ALL switch ("Migration")', () => {
    const logs = { ...reset, offeredFeatures: reset.offeredFeatures | bit(VHOST_F_LOG_ALL) };
    const s = step(initialSession(logs), { op: 'setFeatures', features: bit(VIRTIO_F_VERSION_1) }, OK, logs).next;
    expect(step(s, { op: 'setFeatures', features: bit(VIRTIO_F_VERSION_1) }, ERR, logs)).toMatchObject({ verdict: 'PASS', next: { acked: bit(VIRTIO_F_VERSION_1) } });
    expect(step(s, { op: 'setFeatures', features: bit(VIRTIO_F_VERSION_1) | bit(VHOST_USER_F_PROTOCOL_FEATURES) }, ERR, logs).verdict).toBe('PASS');
    expect(step(s, { op: 'setFeatures', features: bit(VIRTIO_F_VERSION_1) | bit(VHOST_F_LOG_ALL) }, ERR, logs).verdict).toBe('FAIL');
  });

  it('SET_VRING_ENABLE before PROTOCOL_FEATURES is negotiated ("should be sent only when ...") may be refused', () => {
    const s = initialSession(reset);
    expect(step(s, { op: 'setVringEnable', index: 0, enable: true }, ERR).verdict).toBe('PASS');
    const negotiated = step(s, { op: 'setFeatures', features: reset.offeredFeatures }, OK).next;
    expect(step(negotiated, { op: 'setVringEnable', index: 0, enable: true }, ERR).verdict).toBe('FAIL');
  });

  it('GET_VRING_BASE of a ring never set up may be refused; an answer must still be the initial base', () => {
    const s = initialSession(reset);
    expect(step(s, { op: 'getVringBase', index: 0 }, ERR).verdict).toBe('PASS');
    expect(step(s, { op: 'getVringBase', index: 0 }, { ok: true, value: 3 }).verdict).toBe('FAIL');
    const sized = step(s, { op: 'setVringNum', index: 0, num: 8 }, OK).next;
    expect(step(sized, { op: 'getVringBase', index: 0 }, ERR).verdict).toBe('FAIL');
  });

  it('SET_STATUS out of the virtio initialisation order may be refused; in order it must be taken', () => {
    const s = step(initialSession(reset), { op: 'setProtocolFeatures', features: bit(VHOST_USER_PROTOCOL_F_STATUS) }, OK).next;
    expect(step(s, { op: 'setStatus', status: 15 }, ERR).verdict).toBe('PASS');
    expect(step(s, { op: 'setStatus', status: 1 }, ERR).verdict).toBe('FAIL');
    const acked = step(step(s, { op: 'setFeatures', features: bit(VIRTIO_F_VERSION_1) }, OK).next, { op: 'setStatus', status: 3 }, OK).next;
    expect(step(acked, { op: 'setStatus', status: 11 }, ERR).verdict).toBe('FAIL');
  });

  it('re-configuring a started ring (size, base, other addresses) may be refused ("some configuration aspects")', () => {
    let s = step(initialSession(reset), { op: 'setFeatures', features: bit(VIRTIO_F_VERSION_1) }, OK).next;
    for (const req of [
      { op: 'setVringNum', index: 0, num: 8 }, { op: 'setVringAddr', index: 0, flags: 0, desc: 0x1000n, used: 0x2000n, avail: 0x3000n, log: 0n }, { op: 'setVringKick', index: 0 },
    ] as VhostRequest[]) s = step(s, req, OK).next;
    expect(step(s, { op: 'setVringNum', index: 0, num: 16 }, ERR).verdict).toBe('PASS');
    expect(step(s, { op: 'setVringBase', index: 0, base: 3 }, ERR).verdict).toBe('PASS');
    expect(step(s, { op: 'setVringAddr', index: 0, flags: 0, desc: 0x5000n, used: 0x6000n, avail: 0x7000n, log: 0n }, ERR).verdict).toBe('PASS');
    expect(step(s, { op: 'setVringAddr', index: 0, flags: 1, desc: 0x1000n, used: 0x2000n, avail: 0x3000n, log: 0x2000n }, ERR).verdict).toBe('FAIL');
  });

  it('over vhost-user, a gated message to a back-end without PROTOCOL_FEATURES may be refused', () => {
    const minimal: Profile = { ...profile, transport: 'vhost-user', offeredFeatures: bit(VIRTIO_F_VERSION_1) };
    const s = initialSession(minimal);
    expect(step(s, { op: 'getStatus' }, ERR, minimal).verdict).toBe('PASS');
    expect(step(s, { op: 'getProtocolFeatures' }, ERR, minimal).verdict).toBe('PASS');
  });

  it('in process too, a device without PROTOCOL_FEATURES may refuse gated messages (variant minimal); over ioctls they are plain calls', () => {
    const minimal: Profile = { ...profile, offeredFeatures: bit(VIRTIO_F_VERSION_1) };
    for (const req of [{ op: 'getQueueNum' }, { op: 'getStatus' }, { op: 'setLogBase', size: 0x2000n, offset: 0n }] as VhostRequest[]) {
      expect(step(initialSession(minimal), req, ERR, minimal).verdict).toBe('PASS');
    }
    const ioctl: Profile = { ...minimal, transport: 'ioctl' };
    expect(step(initialSession(ioctl), { op: 'getStatus' }, ERR, ioctl).verdict).toBe('FAIL');
  });

  it('the deprecated RESET_OWNER may be refused; a negotiated RESET_DEVICE must be taken', () => {
    const socket: Profile = { ...reset, transport: 'vhost-user' };
    expect(step(initialSession(socket), { op: 'resetDevice' }, ERR, socket).verdict).toBe('PASS');
    const negotiated = step(initialSession(socket), { op: 'setProtocolFeatures', features: bit(VHOST_USER_PROTOCOL_F_RESET_DEVICE) }, OK, socket).next;
    expect(step(negotiated, { op: 'resetDevice' }, ERR, socket).verdict).toBe('FAIL');
  });

  it('a RESET_DEVICE before its protocol feature may reset all state: features and status are then either value', () => {
    let s = step(initialSession(reset), { op: 'setProtocolFeatures', features: bit(VHOST_USER_PROTOCOL_F_STATUS) }, OK).next;
    s = step(s, { op: 'setFeatures', features: bit(VIRTIO_F_VERSION_1) }, OK).next;
    s = step(s, { op: 'setStatus', status: 0x0b }, OK).next;
    s = step(s, { op: 'resetDevice' }, OK).next;
    // Read back as set (ignored) or as 0 (acted on); anything else still fails.
    expect(step(s, { op: 'getStatus' }, { ok: true, value: 0x0b }).verdict).toBe('PASS');
    expect(step(s, { op: 'getStatus' }, { ok: true, value: 0 }).verdict).toBe('PASS');
    expect(step(s, { op: 'getStatus' }, { ok: true, value: 0x01 }).verdict).toBe('FAIL');
    // The next SET_FEATURES is a first one or a repeat: either answer; once taken, the features are known again.
    expect(step(s, { op: 'setFeatures', features: bit(VIRTIO_F_VERSION_1) }, ERR).verdict).toBe('PASS');
    const again = step(s, { op: 'setFeatures', features: bit(VIRTIO_F_VERSION_1) }, OK).next;
    expect(again.ackedMaybeNone).toBe(false);
    // FEATURES_OK may be refused while the device may hold no features; an exact reset clears the doubt.
    expect(step(s, { op: 'setStatus', status: 0x0b }, ERR).verdict).toBe('PASS');
    const exact = step(step(s, { op: 'setProtocolFeatures', features: bit(VHOST_USER_PROTOCOL_F_STATUS) | bit(VHOST_USER_PROTOCOL_F_RESET_DEVICE) }, OK).next, { op: 'resetDevice' }, OK).next;
    expect(exact).toMatchObject({ acked: null, status: 0, ackedMaybeNone: false, statusMaybeZero: false });
  });

  it('SET_MEM_TABLE with regions overlapping one another may be refused; a plain table must be taken', () => {
    const a = { gpa: 0n, size: 0x10_0000n, uaddr: 0x7f00_0000_0000n };
    const s = initialSession(reset);
    expect(step(s, { op: 'setMemTable', regions: [a, { ...a, uaddr: 0x7f00_1000_0000n }] }, ERR).verdict).toBe('PASS');
    expect(step(s, { op: 'setMemTable', regions: [a, { ...a, gpa: 0x10_0000n }] }, ERR).verdict).toBe('PASS');
    expect(step(s, { op: 'setMemTable', regions: [a, { gpa: 0x10_0000n, size: 0x10_0000n, uaddr: 0x7f00_1000_0000n }] }, ERR).verdict).toBe('FAIL');
  });

  it('an IOTLB update with permission 0 ("No access") or an unknown one: either answer', () => {
    const p2 = { ...profile, offeredFeatures: profile.offeredFeatures | bit(33) };
    const s = step(initialSession(p2), { op: 'setFeatures', features: bit(33) | bit(VIRTIO_F_VERSION_1) }, OK, p2).next;
    for (const perm of [0, 7]) {
      expect(step(s, { op: 'iotlbUpdate', iova: 0x1000n, size: 0x1000n, uaddr: 0x1000n, perm }, OK, p2).verdict).toBe('PASS');
      expect(step(s, { op: 'iotlbUpdate', iova: 0x1000n, size: 0x1000n, uaddr: 0x1000n, perm }, ERR, p2).verdict).toBe('PASS');
    }
  });
});

describe('session model over ioctls (vhost-vdpa)', () => {
  const ACCESS_PLATFORM = 33;
  const kernel: Profile = {
    ...profile, transport: 'ioctl', offeredFeatures: bit(VIRTIO_F_VERSION_1) | bit(ACCESS_PLATFORM),
    frontEndMemory: [{ uaddr: 0x7f00_0000_0000n, size: 0x10_0000n }],
  };
  const run = (s: SessionModel, req: VhostRequest, reply: Reply) => judge(stepSession(s, kernel, req), reply, s);
  const mapped = () => {
    const s = run(initialSession(kernel), { op: 'setFeatures', features: kernel.offeredFeatures }, OK).next;
    return run(s, { op: 'iotlbUpdate', iova: 0n, size: 0x10_0000n, uaddr: 0x7f00_0000_0000n, perm: 3 }, OK).next;
  };

  it('GET_VRING_BASE reads the index without stopping the ring (vhost_vdpa_vring_ioctl asks ops->get_vq_state only)', () => {
    let s = initialSession(kernel);
    for (const req of [{ op: 'setVringNum', index: 0, num: 8 }, { op: 'setVringAddr', index: 0, flags: 0, desc: 0n, avail: 0x1000n, used: 0x2000n, log: 0n }, { op: 'setVringKick', index: 0 }, { op: 'setVringEnable', index: 0, enable: true }] as VhostRequest[]) s = run(s, req, OK).next;
    expect(ringActive(s.vrings[0])).toBe(true);
    expect(ringActive(run(s, { op: 'getVringBase', index: 0 }, { ok: true, value: 0 }).next.vrings[0])).toBe(true);
  });

  it('an UPDATE of the front-end\'s own memory must be taken; one of memory it does not have may be refused', () => {
    const s = run(initialSession(kernel), { op: 'setFeatures', features: kernel.offeredFeatures }, OK).next;
    expect(run(s, { op: 'iotlbUpdate', iova: 0n, size: 0x1000n, uaddr: 0x7f00_0000_0000n, perm: 3 }, ERR).verdict).toBe('FAIL');
    expect(run(s, { op: 'iotlbUpdate', iova: 0n, size: 0x1000n, uaddr: 0x1000n, perm: 3 }, ERR).verdict).toBe('PASS');
    expect(run(s, { op: 'iotlbUpdate', iova: 0n, size: 0x1000n, uaddr: 0x1000n, perm: 3 }, OK).verdict).toBe('PASS');
  });

  it('an UPDATE overlapping a mapping is refused (EEXIST); taking it breaks vhost-vdpa.iotlb.overlap-rejected', () => {
    const s = mapped();
    expect(run(s, { op: 'iotlbUpdate', iova: 0x8000n, size: 0x1000n, uaddr: 0x7f00_0000_0000n, perm: 3 }, ERR)).toMatchObject({ verdict: 'PASS', requirement: 'vhost-vdpa.iotlb.overlap-rejected' });
    expect(run(s, { op: 'iotlbUpdate', iova: 0x8000n, size: 0x1000n, uaddr: 0x7f00_0000_0000n, perm: 3 }, OK)).toMatchObject({ verdict: 'NON_STRICT', requirement: 'vhost-vdpa.iotlb.overlap-rejected' });
  });

  it('an UPDATE overlapping only a mapping that may not be there may be taken (vhost_vdpa_va_map skips non-shared VMAs)', () => {
    const s0 = run(initialSession(kernel), { op: 'setFeatures', features: kernel.offeredFeatures }, OK).next;
    // uaddr 0x1 is not the front-end's memory: the kernel may return 0 having mapped nothing.
    const s = run(s0, { op: 'iotlbUpdate', iova: 0n, size: 0x10n, uaddr: 0x1n, perm: 3 }, OK).next;
    const over = { op: 'iotlbUpdate', iova: 0x9n, size: 0x1n, uaddr: 0x1n, perm: 3 } as const;
    expect(run(s, over, OK)).toMatchObject({ verdict: 'PASS', requirement: 'vhost-vdpa.iotlb.overlap-rejected' });
    expect(run(s, over, ERR)).toMatchObject({ verdict: 'PASS', requirement: 'vhost-vdpa.iotlb.overlap-rejected' });
    // After an INVALIDATE of part of a certain mapping the rest may be gone (the kernel drops whole mappings).
    const cut = run(mapped(), { op: 'iotlbInvalidate', iova: 0n, size: 0x1000n }, OK).next;
    expect(run(cut, { op: 'iotlbUpdate', iova: 0x8000n, size: 0x1000n, uaddr: 0x7f00_0000_0000n, perm: 3 }, OK).verdict).toBe('PASS');
    // Taken over own memory, the new mapping is certain: a later overlap with it must be refused.
    const retaken = run(cut, { op: 'iotlbUpdate', iova: 0x8000n, size: 0x1000n, uaddr: 0x7f00_0000_0000n, perm: 3 }, OK).next;
    expect(run(retaken, { op: 'iotlbUpdate', iova: 0x8800n, size: 0x10n, uaddr: 0x7f00_0000_0000n, perm: 3 }, OK)).toMatchObject({ verdict: 'NON_STRICT', requirement: 'vhost-vdpa.iotlb.overlap-rejected' });
  });

  it('an INVALIDATE with nothing mapped may be refused (no IOTLB for the ASID yet); with a mapping it must be taken', () => {
    const s = run(initialSession(kernel), { op: 'setFeatures', features: kernel.offeredFeatures }, OK).next;
    expect(run(s, { op: 'iotlbInvalidate', iova: 0n, size: 0x1000n }, ERR).verdict).toBe('PASS');
    expect(run(mapped(), { op: 'iotlbInvalidate', iova: 0n, size: 0x1000n }, ERR).verdict).toBe('FAIL');
  });
});

import { describe, expect, it } from 'vitest';
import type { InflightArea, Reply, VhostRequest } from '../spec/requests.ts';
import { bit, VIRTIO_F_RING_PACKED, VIRTIO_F_VERSION_1 } from '../spec/virtio/features.ts';
import { inflightAreaSize } from '../spec/vhostUser/inflight.ts';
import { VHOST_USER_F_PROTOCOL_FEATURES, VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD, VHOST_USER_PROTOCOL_F_REPLY_ACK, VHOST_USER_PROTOCOL_F_RESET_DEVICE } from '../spec/vhostUser/protocolFeatures.ts';
import { inflightAreaCheck } from './inflight.ts';
import { judge } from './outcome.ts';
import type { Profile } from './profile.ts';
import { initialSession, type SessionModel, stepSession } from './session.ts';

const INFLIGHT = bit(VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD) | bit(VHOST_USER_PROTOCOL_F_REPLY_ACK);
const profile: Profile = {
  deviceType: 'blk', queues: 2, vringLimit: 4, maxQueueSize: 256, offeredFeatures: bit(VIRTIO_F_VERSION_1) | bit(VHOST_USER_F_PROTOCOL_FEATURES),
  offeredProtocolFeatures: INFLIGHT, configSize: 60, config: new Uint8Array(0), blkCapacitySectors: 2048n, blkFreshDisk: true, transport: 'in-process',
};
const negotiated: SessionModel = { ...initialSession(profile), protocol: INFLIGHT };

const area = (over: Partial<InflightArea> = {}): Reply => {
  const size = over.bytes?.length ?? inflightAreaSize(1, 8, false);
  return { ok: true, value: { mmapSize: BigInt(size), mmapOffset: 0n, fd: true, bytes: new Uint8Array(size), ...over } };
};
const get: VhostRequest = { op: 'getInflightFd', numQueues: 1, queueSize: 8 };

function apply(s: SessionModel, req: VhostRequest, reply: Reply) {
  return judge(stepSession(s, profile, req), reply, s);
}

describe('inflight buffer check (vhost-user.inflight.get-fd)', () => {
  const check = inflightAreaCheck(1, 8, false);

  it('passes a zeroed buffer of the doc layout with its fd', () => {
    expect(check(area())).toBeNull();
  });

  it('fails a reply without fd, a buffer smaller than the regions, one that cannot be mapped, or a stale byte', () => {
    expect(check(area({ fd: false }))).toMatch(/no fd/);
    expect(check(area({ mmapSize: BigInt(inflightAreaSize(1, 8, false) - 1) }))).toMatch(/smaller than 1 queue region/);
    expect(check(area({ bytes: null, problem: 'runs past the file' }))).toMatch(/cannot be mapped: runs past the file/);
    const stale = new Uint8Array(inflightAreaSize(1, 8, false));
    stale[40] = 1;
    expect(check(area({ bytes: stale }))).toMatch(/byte 40 .* not 0/);
  });

  it('packed buffers are sized with the packed layout and not compared with zero (DPDK links the free list)', () => {
    const bytes = new Uint8Array(inflightAreaSize(1, 8, true)).fill(1);
    expect(inflightAreaCheck(1, 8, true)(area({ bytes }))).toBeNull();
    expect(inflightAreaCheck(1, 8, true)(area())).toMatch(/smaller/);
  });
});

describe('session model: GET_INFLIGHT_FD / SET_INFLIGHT_FD', () => {
  it('a valid GET must be served; its buffer becomes the one the front-end holds', () => {
    const j = apply(negotiated, get, area());
    expect(j).toMatchObject({ verdict: 'PASS', requirement: 'vhost-user.inflight.get-fd', next: { inflight: { numQueues: 1, queueSize: 8 } } });
    expect(apply(negotiated, get, { ok: false, errno: 'EIO' })).toMatchObject({ verdict: 'FAIL', requirement: 'vhost-user.inflight.get-fd' });
    expect(apply(negotiated, get, area({ fd: false }))).toMatchObject({ verdict: 'FAIL', requirement: 'vhost-user.inflight.get-fd' });
  });

  it('GET for no queue, an empty queue or more queues than the device has: any answer, and the held buffer is kept on refusal', () => {
    const held = apply(negotiated, get, area()).next;
    for (const req of [{ ...get, numQueues: 0 }, { ...get, queueSize: 0 }, { ...get, numQueues: 3 }, { ...get, queueSize: 0xffff }]) {
      for (const r of [area({ fd: false }), { ok: false, errno: 'EIO' } as Reply, { closed: true } as Reply]) expect(apply(held, req, r).verdict).toBe('PASS');
      expect(apply(held, req, { ok: false, errno: 'EIO' }).next.inflight).toEqual({ numQueues: 1, queueSize: 8, packed: false });
    }
  });

  it('a repeated GET that ends the session is vhost-user.robust.no-leak-on-repeat (bug-catalog D7, DE_FACTO: NON_STRICT without a crash); a first one is get-fd', () => {
    const held = apply(negotiated, get, area()).next;
    expect(apply(held, get, { closed: true })).toMatchObject({ verdict: 'NON_STRICT', requirement: 'vhost-user.robust.no-leak-on-repeat' });
    expect(apply(negotiated, get, { closed: true })).toMatchObject({ verdict: 'FAIL', requirement: 'vhost-user.inflight.get-fd' });
  });

  it('a repeated GET while a buffer is held is a duplicate: refusing it passes, a first valid GET must be served', () => {
    const held = apply(negotiated, get, area()).next;
    expect(apply(held, get, { ok: false, errno: 'EIO' })).toMatchObject({ verdict: 'PASS', next: { inflight: { numQueues: 1, queueSize: 8 } } });
    expect(apply(negotiated, get, { ok: false, errno: 'EIO' }).verdict).toBe('FAIL');
  });

  it('a SET of a split buffer after the ring layout became packed is left open (the healthy device refuses it: issue 10)', () => {
    const held = apply(negotiated, get, area()).next;
    const packed = apply(held, { op: 'setFeatures', features: profile.offeredFeatures }, { ok: true }).next;
    const repacked = { ...packed, acked: packed.acked! | (1n << 34n) };
    const set: VhostRequest = { op: 'setInflightFd', numQueues: 1, queueSize: 8, withFd: true };
    expect(judge(stepSession(repacked, { ...profile, offeredFeatures: profile.offeredFeatures | (1n << 34n) }, set), { ok: false, errno: 'EINVAL' }, repacked).verdict).toBe('PASS');
    expect(apply(packed, set, { ok: false, errno: 'EINVAL' }).verdict).toBe('FAIL');
  });

  it('a SET once a ring is started is left open (QEMU sends it before starting rings)', () => {
    const held = apply(negotiated, get, area()).next;
    const started = { ...held, vrings: held.vrings.map((v, i) => (i === 0 ? { ...v, started: true } : v)) };
    expect(apply(started, { op: 'setInflightFd', numQueues: 1, queueSize: 8, withFd: true }, { ok: false, errno: 'EIO' }).verdict).toBe('PASS');
  });

  it('SET with the held buffer must be taken; without its fd must be refused (fd-count)', () => {
    const held = apply(negotiated, get, area()).next;
    const set: VhostRequest = { op: 'setInflightFd', numQueues: 1, queueSize: 8, withFd: true };
    expect(apply(held, set, { ok: true })).toMatchObject({ verdict: 'PASS', requirement: 'vhost-user.inflight.set-fd' });
    expect(apply(held, set, { ok: false, errno: 'EIO' })).toMatchObject({ verdict: 'FAIL', requirement: 'vhost-user.inflight.set-fd' });
    // DE_FACTO, and taking it without its fd harms nothing by itself: NON_STRICT.
    expect(apply(held, { ...set, withFd: false }, { ok: true })).toMatchObject({ verdict: 'NON_STRICT', requirement: 'vhost-user.robust.fd-count' });
    expect(apply(held, { ...set, withFd: false }, { ok: false, errno: 'EIO' }).verdict).toBe('PASS');
  });

  it('SET naming queues beyond GET_QUEUE_NUM and DPDK VHOST_MAX_VRING must be refused (bug-catalog D9); below, either way', () => {
    const set: VhostRequest = { op: 'setInflightFd', numQueues: 0xffff, queueSize: 8, withFd: true };
    expect(apply(negotiated, set, { ok: true })).toMatchObject({ verdict: 'FAIL', requirement: 'vhost-user.robust.inflight-num-queues' });
    expect(apply(negotiated, set, { ok: false, errno: 'EIO' })).toMatchObject({ verdict: 'PASS', requirement: 'vhost-user.robust.inflight-num-queues' });
    expect(apply(negotiated, { ...set, numQueues: 0x101 }, { ok: true })).toMatchObject({ verdict: 'FAIL', requirement: 'vhost-user.robust.inflight-num-queues' });
    for (const numQueues of [3, 0x100]) {
      expect(apply(negotiated, { ...set, numQueues }, { ok: true }).verdict).toBe('PASS');
      expect(apply(negotiated, { ...set, numQueues }, { ok: false, errno: 'EIO' }).verdict).toBe('PASS');
    }
  });

  it('a SET whose description is not the buffer held is left open', () => {
    const held = apply(negotiated, get, area()).next;
    expect(apply(held, { op: 'setInflightFd', numQueues: 2, queueSize: 8, withFd: true }, { ok: false, errno: 'EIO' }).verdict).toBe('PASS');
  });

  it('a buffer allocated for split rings may be refused once RING_PACKED is negotiated (regression: --runs 3000 --seed 1)', () => {
    const packedProfile: Profile = { ...profile, offeredFeatures: profile.offeredFeatures | bit(VIRTIO_F_RING_PACKED) };
    const heldSplit = judge(stepSession(negotiated, packedProfile, get), area(), negotiated).next;
    const packed: SessionModel = { ...heldSplit, acked: bit(VIRTIO_F_VERSION_1) | bit(VIRTIO_F_RING_PACKED) };
    const set: VhostRequest = { op: 'setInflightFd', numQueues: 1, queueSize: 8, withFd: true };
    expect(judge(stepSession(packed, packedProfile, set), { ok: false, errno: 'EINVAL' }, packed).verdict).toBe('PASS');
    expect(judge(stepSession(packed, packedProfile, set), { ok: true }, packed).verdict).toBe('PASS');
    // Same layout as at GET: still must be taken.
    const heldPacked = judge(stepSession(packed, packedProfile, get), area({ bytes: new Uint8Array(inflightAreaSize(1, 8, true)) }), packed).next;
    expect(judge(stepSession(heldPacked, packedProfile, set), { ok: false, errno: 'EINVAL' }, heldPacked).verdict).toBe('FAIL');
  });

  it('after a RESET_DEVICE sent before its protocol feature, the buffer may be sized for either layout (fleet regression: simulated --seed 7 --runs 5)', () => {
    const packedProfile: Profile = { ...profile, offeredFeatures: profile.offeredFeatures | bit(VIRTIO_F_RING_PACKED), offeredProtocolFeatures: INFLIGHT | bit(VHOST_USER_PROTOCOL_F_RESET_DEVICE) };
    let s = initialSession(packedProfile);
    const run = (req: VhostRequest, reply: Reply) => (s = judge(stepSession(s, packedProfile, req), reply, s).next);
    run({ op: 'setFeatures', features: bit(VIRTIO_F_VERSION_1) | bit(VIRTIO_F_RING_PACKED) }, { ok: true });
    // "Only valid if the VHOST_USER_PROTOCOL_F_RESET_DEVICE protocol feature is set": this one may still reset all state.
    run({ op: 'resetDevice' }, { ok: true });
    run({ op: 'setProtocolFeatures', features: INFLIGHT }, { ok: true });
    const split = judge(stepSession(s, packedProfile, get), area(), s);
    expect(split.verdict).toBe('PASS');
    expect(judge(stepSession(s, packedProfile, get), area({ bytes: new Uint8Array(inflightAreaSize(1, 8, true)) }), s).verdict).toBe('PASS');
    // Without the early reset a split-sized buffer for a packed session is still too small.
    const noReset: SessionModel = { ...s, ackedMaybeNone: false };
    expect(judge(stepSession(noReset, packedProfile, get), area(), noReset).verdict).toBe('FAIL');
  });

  it('unnegotiated: refusal passes, an answer is informational, and num_queues beyond the queues is still judged as such', () => {
    const s = initialSession(profile);
    expect(apply(s, get, area())).toMatchObject({ verdict: 'INFORMATIONAL', requirement: 'vhost-user.inflight.get-fd' });
    expect(apply(s, get, { ok: false, errno: 'EIO' }).verdict).toBe('PASS');
    expect(apply(s, { op: 'setInflightFd', numQueues: 0xffff, queueSize: 8, withFd: true }, { closed: true })).toMatchObject({ verdict: 'PASS', requirement: 'vhost-user.robust.inflight-num-queues' });
  });
});

// The vhost-vdpa model without a guest: each rule accepts what every
// supported kernel answers and turns a wrong answer into a violation at its
// own requirement, with the verdict its level gives (model/outcome.ts).
import { describe, expect, it } from 'vitest';
import { VHOST_ACCESS_RW, VHOST_BACKEND_F_IOTLB_ASID, VHOST_BACKEND_F_IOTLB_BATCH, VHOST_BACKEND_F_IOTLB_MSG_V2, VHOST_IOTLB_BATCH_BEGIN, VHOST_IOTLB_INVALIDATE, VHOST_IOTLB_UPDATE } from '../../spec/vhost/types.ts';
import { VIRTIO_CONFIG_S_ACKNOWLEDGE, VIRTIO_CONFIG_S_DRIVER, VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_CONFIG_S_FEATURES_OK } from '../../spec/virtio/status.ts';
import { initialVdpaState, judgeVdpa, learnStatus, stepVdpa, type VdpaAnswer, type VdpaDevice, type VdpaRequest, type VdpaState } from './vdpa.ts';

const bit = (b: number) => 1n << BigInt(b);
const U64_MAX = (1n << 64n) - 1n;

/** A net device as a vdpa parent describes itself: 3 vqs in 2 groups, 2 address spaces, suspend and resume. */
const NET: VdpaDevice = {
  deviceType: 'net',
  deviceId: 1,
  backendFeatures: 0x17en,
  vqs: 3,
  vringNum: 256,
  configSize: 24,
  iovaFirst: 0n,
  iovaLast: U64_MAX,
  asNum: 2,
  groupNum: 2,
  vqGroups: [0, 0, 1],
  memSize: 0x1_0000n,
};
/** The same without suspend/resume and with a bounded IOVA range. */
const PLAIN: VdpaDevice = { ...NET, backendFeatures: bit(1) | bit(2) | bit(3), iovaFirst: 0x1000n, iovaLast: 0xffff_ffffn };

const OK: VdpaAnswer = { ok: true };
const okv = (value: NonNullable<Extract<VdpaAnswer, { ok: true }>['value']>): VdpaAnswer => ({ ok: true, value });
const e = (errno: string): VdpaAnswer => ({ ok: false, errno });
const WRITTEN = okv(72);

/** Runs `steps` answering each as given, requiring PASS; returns the state after them. */
function run(dev: VdpaDevice, steps: readonly [VdpaRequest, VdpaAnswer][], s: VdpaState = initialVdpaState(dev)): VdpaState {
  for (const [r, a] of steps) {
    const j = judgeVdpa(stepVdpa(dev, s, r), a, s);
    expect(j.verdict, `${JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v))}: ${j.detail}`).toBe('PASS');
    s = learnStatus(j.next, r, a);
  }
  return s;
}

function judged(dev: VdpaDevice, s: VdpaState, r: VdpaRequest, a: VdpaAnswer) {
  const j = judgeVdpa(stepVdpa(dev, s, r), a, s);
  return { verdict: j.verdict, requirement: j.requirement };
}

const update = (iova: bigint, size: bigint, extra: Partial<Extract<VdpaRequest, { op: 'iotlb' }>> = {}): VdpaRequest => ({
  op: 'iotlb', frame: 'v2', asid: 0, type: VHOST_IOTLB_UPDATE, iova, size, uaddrOff: 0n, perm: VHOST_ACCESS_RW, ...extra,
});
const invalidate = (iova: bigint, size: bigint, asid = 0): VdpaRequest => update(iova, size, { type: VHOST_IOTLB_INVALIDATE, asid });
const owned = (dev: VdpaDevice, backend = bit(VHOST_BACKEND_F_IOTLB_MSG_V2)) =>
  run(dev, [
    [{ op: 'setOwner' }, OK],
    [{ op: 'setBackendFeatures', features: backend }, OK],
  ]);

describe('vhost-vdpa model: identity and ownership', () => {
  it('vhost-vdpa.device-id: the virtio id of the device type, a MUST: another id FAILs', () => {
    const s = initialVdpaState(NET);
    expect(judged(NET, s, { op: 'query', what: 'deviceId' }, okv(1))).toEqual({ verdict: 'PASS', requirement: 'vhost-vdpa.device-id' });
    expect(judged(NET, s, { op: 'query', what: 'deviceId' }, okv(2))).toEqual({ verdict: 'FAIL', requirement: 'vhost-vdpa.device-id' });
  });

  it('vhost-vdpa.backend-features.offered: MSG_V2, BATCH and ASID must be there (DE_FACTO: NON_STRICT)', () => {
    const s = initialVdpaState(NET);
    expect(judged(NET, s, { op: 'query', what: 'backendFeatures' }, okv(0x17en)).verdict).toBe('PASS');
    expect(judged(NET, s, { op: 'query', what: 'backendFeatures' }, okv(0x178n))).toEqual({ verdict: 'NON_STRICT', requirement: 'vhost-vdpa.backend-features.offered' });
  });

  it('vhost-vdpa.open-exclusive: a second open is EBUSY; succeeding is NON_STRICT', () => {
    const s = initialVdpaState(NET);
    expect(judged(NET, s, { op: 'openSecond' }, e('EBUSY')).verdict).toBe('PASS');
    expect(judged(NET, s, { op: 'openSecond' }, OK)).toEqual({ verdict: 'NON_STRICT', requirement: 'vhost-vdpa.open-exclusive' });
  });

  it('vhost.owner.required / exclusive: vring ioctls before SET_OWNER are EPERM, a second SET_OWNER EBUSY', () => {
    const s = initialVdpaState(NET);
    expect(judged(NET, s, { op: 'setVringNum', index: 0, num: 64 }, OK)).toEqual({ verdict: 'NON_STRICT', requirement: 'vhost.owner.required' });
    const o = run(NET, [[{ op: 'setOwner' }, OK]]);
    expect(judged(NET, o, { op: 'setOwner' }, OK)).toEqual({ verdict: 'FAIL', requirement: 'vhost.owner.exclusive' });
  });

  it('a second process (forked child) is never the owner: EPERM for vring ioctls, EFAULT for IOTLB writes, EBUSY for SET_OWNER', () => {
    const s = owned(NET);
    expect(judged(NET, s, { op: 'foreign', call: 'setVringNum' }, e('EPERM')).verdict).toBe('PASS');
    expect(judged(NET, s, { op: 'foreign', call: 'setVringNum' }, okv(0))).toEqual({ verdict: 'NON_STRICT', requirement: 'vhost.owner.required' });
    expect(judged(NET, s, { op: 'foreign', call: 'iotlbUpdate' }, okv(72))).toEqual({ verdict: 'FAIL', requirement: 'vhost-vdpa.iotlb.owner-required' });
    expect(judged(NET, s, { op: 'foreign', call: 'setOwner' }, okv(0))).toEqual({ verdict: 'FAIL', requirement: 'vhost.owner.exclusive' });
    // A child that took an unowned device leaves it owned by nobody this process is.
    const taken = run(NET, [[{ op: 'foreign', call: 'setOwner' }, okv(0)]]);
    expect(judged(NET, taken, { op: 'setOwner' }, e('EBUSY')).verdict).toBe('PASS');
    expect(judged(NET, taken, { op: 'getVringBase', index: 0 }, e('EPERM')).verdict).toBe('PASS');
    expect(judged(NET, run(NET, [[{ op: 'reopen' }, OK]], taken), { op: 'setOwner' }, OK).verdict).toBe('PASS');
  });

  it('vhost-vdpa.vring.index-range: index = vq count, 0xffff and 2^32-1 are ENOBUFS; taking one FAILs (memory safety)', () => {
    const s = run(NET, [[{ op: 'setOwner' }, OK]]);
    for (const index of [3, 0xffff, 0xffff_ffff]) {
      expect(judged(NET, s, { op: 'getVringBase', index }, e('ENOBUFS')).verdict).toBe('PASS');
      expect(judged(NET, s, { op: 'setVringNum', index, num: 64 }, OK)).toEqual({ verdict: 'FAIL', requirement: 'vhost-vdpa.vring.index-range' });
    }
  });
});

describe('vhost-vdpa model: status and features', () => {
  const AD = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;

  it('vhost-vdpa.status.no-bit-removal: clearing a held bit is EINVAL; accepting it is NON_STRICT', () => {
    const s = run(NET, [[{ op: 'setStatus', status: AD }, OK]]);
    expect(judged(NET, s, { op: 'setStatus', status: VIRTIO_CONFIG_S_ACKNOWLEDGE }, e('EINVAL')).verdict).toBe('PASS');
    expect(judged(NET, s, { op: 'setStatus', status: VIRTIO_CONFIG_S_ACKNOWLEDGE }, OK)).toEqual({ verdict: 'NON_STRICT', requirement: 'vhost-vdpa.status.no-bit-removal' });
  });

  it('vhost-vdpa.status.reset: status 0 resets, and the status then reads 0', () => {
    const s = run(NET, [
      [{ op: 'setStatus', status: AD }, OK],
      [{ op: 'setStatus', status: 0 }, OK],
    ]);
    expect(judged(NET, s, { op: 'getStatus' }, okv(0)).verdict).toBe('PASS');
    expect(judged(NET, s, { op: 'getStatus' }, okv(AD))).toEqual({ verdict: 'NON_STRICT', requirement: 'vhost-vdpa.status.reset' });
  });

  it('vhost-vdpa.status.virtio-bits: FEATURES_OK may read back clear (refused), any other value FAILs', () => {
    const s = run(NET, [[{ op: 'setStatus', status: AD | VIRTIO_CONFIG_S_FEATURES_OK }, OK]]);
    expect(judged(NET, s, { op: 'getStatus' }, okv(AD | VIRTIO_CONFIG_S_FEATURES_OK)).verdict).toBe('PASS');
    expect(judged(NET, s, { op: 'getStatus' }, okv(AD)).verdict).toBe('PASS');
    expect(judged(NET, s, { op: 'getStatus' }, okv(VIRTIO_CONFIG_S_ACKNOWLEDGE))).toEqual({ verdict: 'FAIL', requirement: 'vhost-vdpa.status.virtio-bits' });
  });

  it('vhost-vdpa.features.locked-after-features-ok: SET_FEATURES after FEATURES_OK (read back) is EBUSY', () => {
    const s = run(NET, [
      [{ op: 'setStatus', status: AD | VIRTIO_CONFIG_S_FEATURES_OK }, OK],
      [{ op: 'getStatus' }, okv(AD | VIRTIO_CONFIG_S_FEATURES_OK)],
    ]);
    expect(judged(NET, s, { op: 'setFeatures', features: 0n }, e('EBUSY')).verdict).toBe('PASS');
    expect(judged(NET, s, { op: 'setFeatures', features: 0n }, OK)).toEqual({ verdict: 'NON_STRICT', requirement: 'vhost-vdpa.features.locked-after-features-ok' });
  });

  it('vhost-vdpa.backend-features.unsupported-rejected: an unknown bit or SUSPEND the parent lacks is EOPNOTSUPP', () => {
    const s = initialVdpaState(PLAIN);
    expect(judged(PLAIN, s, { op: 'setBackendFeatures', features: bit(63) }, e('EOPNOTSUPP')).verdict).toBe('PASS');
    expect(judged(PLAIN, s, { op: 'setBackendFeatures', features: bit(4) }, OK)).toEqual({ verdict: 'NON_STRICT', requirement: 'vhost-vdpa.backend-features.unsupported-rejected' });
    // ENABLE_AFTER_DRIVER_OK is taken by vdpa.c without asking the parent; refusing it is also right.
    expect(judged(PLAIN, s, { op: 'setBackendFeatures', features: bit(6) }, OK).verdict).toBe('PASS');
    expect(judged(PLAIN, s, { op: 'setBackendFeatures', features: bit(6) }, e('EOPNOTSUPP')).verdict).toBe('PASS');
  });

  it('vhost-vdpa.log-unsupported: SET_LOG_BASE / SET_LOG_FD are ENOTTY', () => {
    const s = initialVdpaState(NET);
    expect(judged(NET, s, { op: 'setLog', which: 'base' }, e('ENOTTY')).verdict).toBe('PASS');
    expect(judged(NET, s, { op: 'setLog', which: 'fd' }, OK)).toEqual({ verdict: 'NON_STRICT', requirement: 'vhost-vdpa.log-unsupported' });
  });
});

describe('vhost-vdpa model: config space', () => {
  it('vhost-vdpa.config.bounds: a window past the end is EINVAL; reading it FAILs (memory safety)', () => {
    const s = initialVdpaState(NET);
    for (const [off, len] of [[0, 0], [25, 1], [20, 5], [1, 0xffff_ffff]] as const) {
      expect(judged(NET, s, { op: 'getConfig', off, len }, e('EINVAL')).verdict).toBe('PASS');
      expect(judged(NET, s, { op: 'getConfig', off, len }, okv({ reads: [new Uint8Array(8), new Uint8Array(8)] }))).toEqual({ verdict: 'FAIL', requirement: 'vhost-vdpa.config.bounds' });
    }
    expect(judged(NET, s, { op: 'setConfig', off: 24, len: 1, fill: 0 }, e('EINVAL')).verdict).toBe('PASS');
  });

  it('vhost-vdpa.config.zero-init: a byte that kept the canary differs between the two reads', () => {
    const s = initialVdpaState(NET);
    const same = okv({ reads: [Uint8Array.of(1, 2, 3, 4), Uint8Array.of(1, 2, 3, 4)] });
    const kept = okv({ reads: [Uint8Array.of(1, 2, 3, 0x00), Uint8Array.of(1, 2, 3, 0xff)] });
    expect(judged(NET, s, { op: 'getConfig', off: 20, len: 4 }, same).verdict).toBe('PASS');
    expect(judged(NET, s, { op: 'getConfig', off: 20, len: 4 }, kept)).toEqual({ verdict: 'NON_STRICT', requirement: 'vhost-vdpa.config.zero-init' });
  });
});

describe('vhost-vdpa model: vrings, every kernel version accepted', () => {
  it('vhost.vring.num-valid: 0, > 0xffff, not a power of two are EINVAL; above GET_VRING_NUM either answer', () => {
    const s = run(NET, [[{ op: 'setOwner' }, OK]]);
    for (const num of [0, 3, 100, 0x10000]) expect(judged(NET, s, { op: 'setVringNum', index: 0, num }, OK)).toEqual({ verdict: 'NON_STRICT', requirement: 'vhost.vring.num-valid' });
    expect(judged(NET, s, { op: 'setVringNum', index: 0, num: 512 }, OK).verdict).toBe('PASS');
    expect(judged(NET, s, { op: 'setVringNum', index: 0, num: 512 }, e('EINVAL')).verdict).toBe('PASS');
  });

  describe('vhost.vring.num-immutable: SET_VRING_NUM on a running ring (DRIVER_OK, not suspended, vq enabled)', () => {
    const DRIVER_OK = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;
    const resize: VdpaRequest = { op: 'setVringNum', index: 1, num: 64 };
    const enable = (index: number, on = true): [VdpaRequest, VdpaAnswer] => [{ op: 'setVringEnable', index, enable: on }, OK];
    const driverOk: [VdpaRequest, VdpaAnswer] = [{ op: 'setStatus', status: DRIVER_OK }, OK];
    const running = () => run(NET, [[{ op: 'setOwner' }, OK], enable(1), driverOk]);

    it('taken is a breach (MUST_NOT: FAIL); any refusal passes', () => {
      expect(judged(NET, running(), resize, OK)).toEqual({ verdict: 'FAIL', requirement: 'vhost.vring.num-immutable' });
      for (const errno of ['EBUSY', 'EINVAL', 'EPERM']) expect(judged(NET, running(), resize, e(errno))).toEqual({ verdict: 'PASS', requirement: 'vhost.vring.num-immutable' });
      // Above GET_VRING_NUM it is still a resize of the running ring; num validity is judged first.
      expect(judged(NET, running(), { ...resize, num: 512 }, OK)).toEqual({ verdict: 'FAIL', requirement: 'vhost.vring.num-immutable' });
      expect(judged(NET, running(), { ...resize, num: 3 }, OK)).toEqual({ verdict: 'NON_STRICT', requirement: 'vhost.vring.num-valid' });
      // Enabled with ENABLE_AFTER_DRIVER_OK acked, after DRIVER_OK: running too.
      const late = run(NET, [[{ op: 'setOwner' }, OK], [{ op: 'setBackendFeatures', features: bit(6) }, OK], driverOk, enable(1)]);
      expect(judged(NET, late, resize, OK)).toEqual({ verdict: 'FAIL', requirement: 'vhost.vring.num-immutable' });
    });

    it('a ring not running gets no num-immutable verdict: before DRIVER_OK, another vq enabled, suspended, after a reset or reopen', () => {
      const owner: [VdpaRequest, VdpaAnswer] = [{ op: 'setOwner' }, OK];
      const idle = [
        run(NET, [owner]),
        run(NET, [owner, enable(1)]),
        run(NET, [owner, enable(0), driverOk]),
        run(NET, [[{ op: 'suspend' }, OK]], running()),
        run(NET, [[{ op: 'setStatus', status: 0 }, OK]], running()),
        run(NET, [[{ op: 'reopen' }, OK], owner, driverOk], running()),
      ];
      for (const s of idle) {
        const j = judged(NET, s, resize, OK);
        expect(j).toEqual({ verdict: 'PASS', requirement: 'vhost.vring.num-valid' });
      }
      // Nothing is enabled or live: a refusal of a valid size is still wrong. At DRIVER_OK with the vq off, or
      // suspended, refusing is stricter than the header (as SET_VRING_BASE/ADDR are refused then) and passes.
      expect(judged(NET, idle[0]!, resize, e('EBUSY')).verdict).toBe('NON_STRICT');
      expect(judged(NET, idle[2]!, resize, e('EINVAL')).verdict).toBe('PASS');
      expect(judged(NET, idle[3]!, resize, e('EINVAL')).verdict).toBe('PASS');
      // After RESUME the ring runs again.
      expect(judged(NET, run(NET, [[{ op: 'suspend' }, OK], [{ op: 'resume' }, OK]], running()), resize, OK)).toEqual({ verdict: 'FAIL', requirement: 'vhost.vring.num-immutable' });
    });

    it("'maybe' running (a late enable without ENABLE_AFTER_DRIVER_OK, a disable, a failed reset) accepts both answers", () => {
      const maybes = [
        run(NET, [[{ op: 'setOwner' }, OK], driverOk, enable(1)]),
        run(NET, [enable(1, false)], running()),
        run(NET, [[{ op: 'setStatus', status: 0 }, e('EIO')], driverOk], running()),
        // An older kernel's SUSPEND before DRIVER_OK, then DRIVER_OK: the parent may hold it suspended.
        { ...running(), suspended: 'maybe' as const },
      ];
      for (const s of maybes) {
        expect(judged(NET, s, resize, OK)).toEqual({ verdict: 'PASS', requirement: 'vhost.vring.num-valid' });
        expect(judged(NET, s, resize, e('EBUSY')).verdict).toBe('PASS');
      }
    });
  });

  it('vhost.vring.get-base: GET_VRING_BASE reads back the base set; another value FAILs', () => {
    const s = run(NET, [
      [{ op: 'setOwner' }, OK],
      [{ op: 'setVringBase', index: 1, base: 7 }, OK],
    ]);
    expect(judged(NET, s, { op: 'getVringBase', index: 1 }, okv({ index: 1, num: 7 })).verdict).toBe('PASS');
    expect(judged(NET, s, { op: 'getVringBase', index: 1 }, okv({ index: 1, num: 8 }))).toEqual({ verdict: 'FAIL', requirement: 'vhost.vring.get-base' });
    expect(judged(NET, s, { op: 'setVringBase', index: 1, base: 0x10000 }, OK)).toEqual({ verdict: 'NON_STRICT', requirement: 'vhost.vring.base-busy' });
  });

  it('vhost.vring.addr-checked: unknown flags EOPNOTSUPP, misaligned avail/used EINVAL; running devices may refuse valid ones', () => {
    const s = run(NET, [[{ op: 'setOwner' }, OK]]);
    const addr = { op: 'setVringAddr', index: 0, flags: 0, desc: 0x1000n, avail: 0x2000n, used: 0x3000n, log: 0n } as const;
    expect(judged(NET, s, { ...addr, flags: 2 }, e('EOPNOTSUPP')).verdict).toBe('PASS');
    expect(judged(NET, s, { ...addr, used: 0x3002n }, OK)).toEqual({ verdict: 'NON_STRICT', requirement: 'vhost.vring.addr-checked' });
    expect(judged(NET, s, addr, e('EINVAL')).verdict).toBe('NON_STRICT');
    const live = run(NET, [[{ op: 'setStatus', status: VIRTIO_CONFIG_S_DRIVER_OK }, OK]], s);
    expect(judged(NET, live, addr, e('EINVAL')).verdict).toBe('PASS');
  });

  it('vhost-vdpa.suspend / suspend.base-readable: bases survive SUSPEND; without suspend support DRIVER_OK gives EOPNOTSUPP', () => {
    const live = run(NET, [
      [{ op: 'setOwner' }, OK],
      [{ op: 'setVringBase', index: 0, base: 42 }, OK],
      [{ op: 'setStatus', status: VIRTIO_CONFIG_S_DRIVER_OK }, OK],
      [{ op: 'suspend' }, OK],
    ]);
    expect(judged(NET, live, { op: 'getVringBase', index: 0 }, okv({ index: 0, num: 42 })).verdict).toBe('PASS');
    expect(judged(NET, live, { op: 'getVringBase', index: 0 }, okv({ index: 0, num: 0 }))).toEqual({ verdict: 'NON_STRICT', requirement: 'vhost-vdpa.suspend.base-readable' });
    expect(judged(NET, live, { op: 'getStatus' }, okv(0))).toEqual({ verdict: 'FAIL', requirement: 'vhost-vdpa.suspend' });
    // RESUME promises the state from before SUSPEND: a base that moved FAILs at vhost-vdpa.resume (a MUST).
    const resumed = run(NET, [[{ op: 'resume' }, OK]], live);
    expect(judged(NET, resumed, { op: 'getVringBase', index: 0 }, okv({ index: 0, num: 42 })).verdict).toBe('PASS');
    expect(judged(NET, resumed, { op: 'getVringBase', index: 0 }, okv({ index: 0, num: 1 }))).toEqual({ verdict: 'FAIL', requirement: 'vhost-vdpa.resume' });
    const plain = run(PLAIN, [[{ op: 'setStatus', status: VIRTIO_CONFIG_S_DRIVER_OK }, OK]]);
    expect(judged(PLAIN, plain, { op: 'suspend' }, OK)).toEqual({ verdict: 'NON_STRICT', requirement: 'vhost-vdpa.suspend.unsupported' });
    // Before DRIVER_OK: newer kernels answer 0 without asking the parent, older kernels EOPNOTSUPP.
    expect(judged(PLAIN, initialVdpaState(PLAIN), { op: 'resume' }, OK).verdict).toBe('PASS');
    expect(judged(PLAIN, initialVdpaState(PLAIN), { op: 'resume' }, e('EOPNOTSUPP')).verdict).toBe('PASS');
  });

  it('vhost-vdpa.asid.get-vring-group / set-group-asid: the probed group; an ASID past the count is EINVAL', () => {
    const s = run(NET, [[{ op: 'setOwner' }, OK]]);
    expect(judged(NET, s, { op: 'getVringGroup', index: 2 }, okv({ index: 2, num: 1 })).verdict).toBe('PASS');
    expect(judged(NET, s, { op: 'getVringGroup', index: 2 }, okv({ index: 2, num: 2 }))).toEqual({ verdict: 'FAIL', requirement: 'vhost-vdpa.asid.get-vring-group' });
    expect(judged(NET, s, { op: 'setGroupAsid', group: 1, asid: 2 }, OK)).toEqual({ verdict: 'FAIL', requirement: 'vhost-vdpa.asid.set-group-asid' });
    // Group 2 is a vq index (3 vqs) but no group (2 groups).
    expect(judged(NET, s, { op: 'setGroupAsid', group: 2, asid: 0 }, e('EINVAL')).verdict).toBe('PASS');
    expect(judged(NET, s, { op: 'setGroupAsid', group: 2, asid: 0 }, OK)).toEqual({ verdict: 'FAIL', requirement: 'vhost-vdpa.asid.set-group-asid' });
    expect(judged(NET, s, { op: 'setGroupAsid', group: 1, asid: 1 }, OK).verdict).toBe('PASS');
  });
});

describe('vhost-vdpa model: IOTLB', () => {
  it('vhost.iotlb.update-zero-size-rejected and vhost-vdpa.iotlb.owner-required', () => {
    const s = owned(NET);
    expect(judged(NET, s, update(0x1000n, 0n), WRITTEN)).toEqual({ verdict: 'FAIL', requirement: 'vhost.iotlb.update-zero-size-rejected' });
    expect(judged(NET, initialVdpaState(NET), update(0x1000n, 0x1000n), e('EFAULT')).verdict).toBe('PASS');
    expect(judged(NET, initialVdpaState(NET), update(0x1000n, 0x1000n), WRITTEN)).toEqual({ verdict: 'FAIL', requirement: 'vhost-vdpa.iotlb.owner-required' });
  });

  it('vhost-vdpa.iotlb.update-range: below the range, wrapping 2^64, past the end are refused', () => {
    const s = owned(PLAIN);
    for (const [iova, size] of [[0n, 0x1000n], [U64_MAX - 0xfffn, 0x2000n], [0xffff_f000n, 0x2000n]] as const) {
      expect(judged(PLAIN, s, update(iova, size), e('EFAULT')).verdict).toBe('PASS');
      expect(judged(PLAIN, s, update(iova, size), WRITTEN)).toEqual({ verdict: 'FAIL', requirement: 'vhost-vdpa.iotlb.update-range' });
    }
    // The very last page of a full 64-bit range is mappable.
    expect(judged(NET, owned(NET), update(U64_MAX - 0xfffn, 0x1000n), WRITTEN).verdict).toBe('PASS');
  });

  it('vhost-vdpa.iotlb.overlap-rejected: an overlapping UPDATE FAILs when taken (two translations for one IOVA)', () => {
    const s = run(NET, [[update(0x2000n, 0x2000n), WRITTEN]], owned(NET));
    expect(judged(NET, s, update(0x3000n, 0x1000n), e('EFAULT')).verdict).toBe('PASS');
    expect(judged(NET, s, update(0x3000n, 0x1000n), WRITTEN)).toEqual({ verdict: 'FAIL', requirement: 'vhost-vdpa.iotlb.overlap-rejected' });
    // A disjoint one must be taken; refusing it is charged to the v2 message rule.
    expect(judged(NET, s, update(0x8000n, 0x1000n), e('EFAULT'))).toEqual({ verdict: 'FAIL', requirement: 'vhost-vdpa.iotlb.v2' });
  });

  it('vhost-vdpa.iotlb.invalidate: after INVALIDATE the range maps again; a refusal is charged to the INVALIDATE', () => {
    const s = run(NET, [
      [update(0x2000n, 0x2000n), WRITTEN],
      [invalidate(0x2000n, 0x2000n), WRITTEN],
    ], owned(NET));
    expect(judged(NET, s, update(0x2000n, 0x2000n), WRITTEN).verdict).toBe('PASS');
    expect(judged(NET, s, update(0x2000n, 0x2000n), e('EFAULT'))).toEqual({ verdict: 'NON_STRICT', requirement: 'vhost-vdpa.iotlb.invalidate' });
  });

  it('a partial INVALIDATE leaves the rest of an UPDATE possibly mapped (a pinning parent maps page runs separately)', () => {
    const s = run(NET, [
      [update(0x4000n, 0x4000n), WRITTEN],
      [invalidate(0x4000n, 0x1000n), WRITTEN],
    ], owned(NET));
    expect(judged(NET, s, update(0x6000n, 0x1000n), e('EFAULT')).verdict).toBe('PASS');
    expect(judged(NET, s, update(0x6000n, 0x1000n), WRITTEN).verdict).toBe('PASS');
    // Mapping the freed page again says nothing about the other pages of the old UPDATE.
    const again = run(NET, [[update(0x4000n, 0x2000n), WRITTEN]], s);
    expect(judged(NET, again, update(0x7000n, 0x1000n), e('EFAULT')).verdict).toBe('PASS');
  });

  it('an INVALIDATE that meets only the page around an unaligned mapping may leave it (a use_va parent maps it exactly)', () => {
    const s = run(NET, [
      [update(0n, 1n), WRITTEN],
      [invalidate(0x800n, 0x1000n), WRITTEN],
    ], owned(NET));
    expect(judged(NET, s, update(0n, 0x4000n), e('EFAULT')).verdict).toBe('PASS');
    expect(judged(NET, s, update(0n, 0x4000n), WRITTEN).verdict).toBe('PASS');
  });

  it('vhost.iotlb.invalidate-zero-size: older kernels EINVAL, newer take it', () => {
    const s = run(NET, [[update(0x2000n, 0x1000n), WRITTEN]], owned(NET));
    expect(judged(NET, s, invalidate(0x2000n, 0n), e('EINVAL')).verdict).toBe('PASS');
    expect(judged(NET, s, invalidate(0x2000n, 0n), WRITTEN).verdict).toBe('PASS');
    expect(judged(NET, s, invalidate(0x2000n, 0n), e('ENOMEM'))).toEqual({ verdict: 'NON_STRICT', requirement: 'vhost.iotlb.invalidate-zero-size' });
  });

  it('vhost-vdpa.asid.needs-feature / alloc-limit: the asid word counts only with IOTLB_ASID', () => {
    const without = owned(NET);
    expect(judged(NET, without, update(0x1000n, 0x1000n, { asid: 5 }), WRITTEN).verdict).toBe('PASS');
    expect(judged(NET, without, update(0x1000n, 0x1000n, { asid: 5 }), e('EFAULT'))).toEqual({ verdict: 'FAIL', requirement: 'vhost-vdpa.asid.needs-feature' });
    const withAsid = owned(NET, bit(VHOST_BACKEND_F_IOTLB_MSG_V2) | bit(VHOST_BACKEND_F_IOTLB_ASID));
    expect(judged(NET, withAsid, update(0x1000n, 0x1000n, { asid: 2 }), WRITTEN)).toEqual({ verdict: 'FAIL', requirement: 'vhost-vdpa.asid.alloc-limit' });
    expect(judged(NET, withAsid, invalidate(0x1000n, 0x1000n, 1), WRITTEN)).toEqual({ verdict: 'NON_STRICT', requirement: 'vhost-vdpa.asid.alloc-limit' });
    expect(judged(NET, withAsid, update(0x1000n, 0x1000n, { asid: 1 }), WRITTEN).verdict).toBe('PASS');
  });

  it('vhost-vdpa.iotlb.batch-asid-mismatch: inside a batch for ASID 0, a message for ASID 1 is refused', () => {
    const s = run(NET, [[update(0n, 0n, { type: VHOST_IOTLB_BATCH_BEGIN }), WRITTEN]], owned(NET, bit(VHOST_BACKEND_F_IOTLB_MSG_V2) | bit(VHOST_BACKEND_F_IOTLB_BATCH) | bit(VHOST_BACKEND_F_IOTLB_ASID)));
    expect(judged(NET, s, update(0x1000n, 0x1000n, { asid: 1 }), e('EFAULT')).verdict).toBe('PASS');
    expect(judged(NET, s, update(0x1000n, 0x1000n, { asid: 1 }), WRITTEN)).toEqual({ verdict: 'NON_STRICT', requirement: 'vhost-vdpa.iotlb.batch-asid-mismatch' });
  });

  it('vhost-vdpa.iotlb.batch-asid-mismatch cannot be reached on a device with one address space: another ASID is out of range first', () => {
    const ONE_AS: VdpaDevice = { ...NET, asNum: 1 };
    const s = run(ONE_AS, [[update(0n, 0n, { type: VHOST_IOTLB_BATCH_BEGIN }), WRITTEN]], owned(ONE_AS, bit(VHOST_BACKEND_F_IOTLB_MSG_V2) | bit(VHOST_BACKEND_F_IOTLB_BATCH) | bit(VHOST_BACKEND_F_IOTLB_ASID)));
    expect(judged(ONE_AS, s, update(0x1000n, 0x1000n, { asid: 1 }), WRITTEN).requirement).toBe('vhost-vdpa.asid.alloc-limit');
    expect(judged(ONE_AS, s, invalidate(0x1000n, 0x1000n, 1), WRITTEN).requirement).toBe('vhost-vdpa.asid.alloc-limit');
  });

  it('vhost.iotlb.msg-size-mismatch / msg-type: short writes and unknown frame types are EINVAL', () => {
    const s = owned(NET);
    expect(judged(NET, s, { op: 'iotlbFrame', frameType: 2, length: 39 }, e('EINVAL')).verdict).toBe('PASS');
    expect(judged(NET, s, { op: 'iotlbFrame', frameType: 2, length: 39 }, okv(39))).toEqual({ verdict: 'FAIL', requirement: 'vhost.iotlb.msg-size-mismatch' });
    expect(judged(NET, s, { op: 'iotlbFrame', frameType: 3, length: 72 }, okv(72))).toEqual({ verdict: 'NON_STRICT', requirement: 'vhost.iotlb.msg-type' });
  });

  it('vhost-vdpa.open-release-reset: after close and open nothing is mapped and the status is 0', () => {
    const s = run(NET, [
      [update(0x2000n, 0x1000n), WRITTEN],
      [{ op: 'reopen' }, OK],
    ], owned(NET));
    expect(judged(NET, s, { op: 'getStatus' }, okv(1))).toEqual({ verdict: 'NON_STRICT', requirement: 'vhost-vdpa.open-release-reset' });
    const again = owned(NET);
    const after = run(NET, [[{ op: 'setOwner' }, OK], [{ op: 'setBackendFeatures', features: bit(1) }, OK]], { ...s, spaces: s.spaces });
    expect(judged(NET, after, update(0x2000n, 0x1000n), e('EFAULT'))).toEqual({ verdict: 'NON_STRICT', requirement: 'vhost-vdpa.open-release-reset' });
    expect(judged(NET, again, update(0x2000n, 0x1000n), WRITTEN).verdict).toBe('PASS');
  });
});

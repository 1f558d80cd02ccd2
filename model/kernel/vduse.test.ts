// The VDUSE model without a guest: each rule passes the answer the sources
// give and fails a fabricated wrong kernel answer at its own id, with the
// verdict its level gives (model/outcome.ts violation).
import { describe, expect, it } from 'vitest';
import { VIRTIO_ID_BLOCK } from '../../spec/virtio/blk.ts';
import { VIRTIO_ID_NET } from '../../spec/virtio/net.ts';
import { bit, VIRTIO_F_ACCESS_PLATFORM, VIRTIO_F_VERSION_1 } from '../../spec/virtio/features.ts';
import { requirementById } from '../../spec/requirements/index.ts';
import * as M from './vduse.ts';

const PAGE = 4096;
const ok = <T = null>(value: T = null as T): M.Res<T> => ({ ok: true, value });
const err = (errno: string): M.Res<never> => ({ ok: false, errno });
const FEATURES = bit(VIRTIO_F_VERSION_1) | bit(VIRTIO_F_ACCESS_PLATFORM);
const VALID: M.CreateConfig = { emptyName: false, deviceId: VIRTIO_ID_BLOCK, features: FEATURES, vqNum: 2, vqAlign: PAGE, configSize: 8, reservedWord: -1 };
const start = M.initialVduseState({ initialApiVersion: 0n, pageSize: PAGE });

function created(): M.VduseState {
  return M.judgeCreate(start, VALID, [1, 2, 3, 4, 5, 6, 7, 8], PAGE, ok()).next;
}
function opened(): M.VduseState {
  return M.judgeOpenDev(created(), ok()).next;
}
function setUp(): M.VduseState {
  let s = opened();
  for (const index of [0, 1]) s = M.judgeVqSetup(s, { index, maxSize: 128, reserved: false }, ok()).next;
  return s;
}
function driving(): M.VduseState {
  return M.vdpaOpened(M.judgeAttach(setUp(), true, '').next);
}
const verdicts = (fs: readonly M.Finding[]) => fs.map((x) => `${x.requirement} ${x.verdict}`);

describe('control device', () => {
  it('GET_API_VERSION must report the version set', () => {
    expect(verdicts(M.judgeGetApiVersion(start, ok(0n)).findings)).toEqual(['vduse.api.get-version PASS']);
    expect(verdicts(M.judgeGetApiVersion(start, ok(1n)).findings)).toEqual(['vduse.api.get-version FAIL']);
  });
  it('SET_API_VERSION: above every defined version is EINVAL; acceptance is monotone', () => {
    expect(verdicts(M.judgeSetApiVersion(start, 2n, err('EINVAL')).findings)).toEqual(['vduse.api.set-version-range PASS']);
    expect(verdicts(M.judgeSetApiVersion(start, 2n, ok()).findings)).toEqual(['vduse.api.set-version-range NON_STRICT']);
    // A kernel that knows only version 0 may refuse 1; one that refused 1 must not accept 2.
    const refused1 = M.judgeSetApiVersion(start, 1n, err('EINVAL'));
    expect(verdicts(refused1.findings)).toEqual(['vduse.api.set-version-range PASS']);
    expect(verdicts(M.judgeSetApiVersion(refused1.next, 1n, ok()).findings)).toEqual(['vduse.api.set-version-range NON_STRICT']);
    expect(verdicts(M.judgeSetApiVersion(start, 0n, err('EINVAL')).findings)).toEqual(['vduse.api.set-version-range NON_STRICT']);
  });
});

describe('CREATE_DEV (vduse_validate_config, features_is_valid)', () => {
  const cases: [string, Partial<M.CreateConfig>, string[]][] = [
    ['reserved word', { reservedWord: 5 }, ['vduse.create.reserved-zero']],
    ['ngroups with API v0', { reservedWord: 0 }, ['vduse.create.ngroups', 'vduse.create.reserved-zero']],
    ['vq_num 0x10000', { vqNum: 0x10000 }, ['vduse.create.vq-num-limit']],
    ['config_size > PAGE_SIZE', { configSize: PAGE + 1 }, ['vduse.create.config-size-limit']],
    ['vq_align > PAGE_SIZE', { vqAlign: 2 * PAGE }, ['vduse.create.config-size-limit']],
    ['empty name', { emptyName: true }, ['vduse.create.name']],
    ['unknown device id', { deviceId: 3 }, ['vduse.create.device-type']],
    ['no ACCESS_PLATFORM', { features: bit(VIRTIO_F_VERSION_1) }, ['vduse.create.features-access-platform']],
    ['blk CONFIG_WCE', { features: FEATURES | bit(11) }, ['vduse.create.features-readonly-config']],
    ['net CTRL_VQ', { deviceId: VIRTIO_ID_NET, features: FEATURES | bit(17) }, ['vduse.create.features-readonly-config']],
    ['net without VERSION_1', { deviceId: VIRTIO_ID_NET, features: bit(VIRTIO_F_ACCESS_PLATFORM) }, ['vduse.create.features-readonly-config']],
  ];
  for (const [what, change, ids] of cases) {
    it(`${what}: EINVAL passes, acceptance fails at ${ids.join(', ')}`, () => {
      const c = { ...VALID, ...change };
      expect(verdicts(M.judgeCreate(start, c, [], PAGE, err('EINVAL')).findings)).toEqual(ids.map((id) => `${id} PASS`));
      const accepted = M.judgeCreate(start, c, [], PAGE, ok()).findings;
      // MUST rules (reserved-zero from the UAPI, device-type from vduse.rst) fail; code-only rules are NON_STRICT.
      for (const x of accepted) expect(x.verdict, x.requirement).toBe(requirementById(x.requirement)!.level === 'MUST' ? 'FAIL' : 'NON_STRICT');
      expect(accepted.map((x) => x.requirement)).toEqual(ids);
    });
  }
  it('a name in use is EEXIST; a valid blk refused is a FAIL; net and fs either way', () => {
    expect(verdicts(M.judgeCreate(created(), VALID, [], PAGE, err('EEXIST')).findings)).toEqual(['vduse.create.name PASS']);
    expect(verdicts(M.judgeCreate(created(), VALID, [], PAGE, ok()).findings)).toEqual(['vduse.create.name NON_STRICT']);
    expect(verdicts(M.judgeCreate(start, VALID, [], PAGE, err('ENOMEM')).findings)).toEqual(['vduse.create.device-type FAIL']);
    const net = { ...VALID, deviceId: VIRTIO_ID_NET };
    expect(verdicts(M.judgeCreate(start, net, [], PAGE, err('EINVAL')).findings)).toEqual(['vduse.create.device-type INFORMATIONAL']);
    expect(verdicts(M.judgeCreate(start, net, [], PAGE, ok()).findings)).toEqual(['vduse.create.device-type INFORMATIONAL']);
    // A device type some versions refuse: EINVAL passes even when its name is also in use.
    expect(verdicts(M.judgeCreate(created(), { ...VALID, deviceId: M.VIRTIO_ID_FS }, [], PAGE, err('EINVAL')).findings)).toEqual(['vduse.create.name PASS']);
    // Stricter than the code read (6.12 refuses vq_align 1): allowed.
    expect(verdicts(M.judgeCreate(start, { ...VALID, vqAlign: 1 }, [], PAGE, err('EINVAL')).findings)).toEqual(['vduse.create.device-type INFORMATIONAL']);
  });
  it('a 256-byte name is cut to 255', () => {
    expect(verdicts(M.judgeLongName(ok(), true, ok()))).toEqual(['vduse.create.name PASS']);
    expect(verdicts(M.judgeLongName(ok(), false, ok()))).toEqual(['vduse.create.name NON_STRICT']);
    expect(verdicts(M.judgeLongName(err('EINVAL'), false, err('EINVAL')))).toEqual(['vduse.create.name NON_STRICT']);
  });
});

describe('destroy, open', () => {
  it('DESTROY_DEV: busy while open or attached (freeing it is memory-safety), unknown is EINVAL, the documented sequence succeeds', () => {
    expect(verdicts(M.judgeDestroy(opened(), true, err('EBUSY')).findings)).toEqual(['vduse.destroy.busy PASS']);
    expect(verdicts(M.judgeDestroy(opened(), true, ok()).findings)).toEqual(['vduse.destroy.busy FAIL']);
    expect(verdicts(M.judgeDestroy(created(), false, err('EINVAL')).findings)).toEqual(['vduse.destroy.busy PASS']);
    expect(verdicts(M.judgeDestroy(created(), true, ok()).findings)).toEqual(['vduse.destroy.sequence PASS']);
    expect(verdicts(M.judgeDestroy(created(), true, err('EBUSY')).findings)).toEqual(['vduse.destroy.sequence FAIL']);
  });
  it('the device node opens once', () => {
    expect(verdicts(M.judgeOpenDev(opened(), err('EBUSY')).findings)).toEqual(['vduse.dev.single-open PASS']);
    expect(verdicts(M.judgeOpenDev(opened(), ok()).findings)).toEqual(['vduse.dev.single-open NON_STRICT']);
  });
  it('attach needs every vq set up; after that it must succeed', () => {
    expect(verdicts(M.judgeAttach(opened(), false, 'EINVAL').findings)).toEqual(['vduse.create.attach-needs-vq-setup PASS']);
    expect(verdicts(M.judgeAttach(opened(), true, '').findings)).toEqual(['vduse.create.attach-needs-vq-setup NON_STRICT']);
    expect(verdicts(M.judgeAttach(setUp(), false, 'EINVAL').findings)).toEqual(['vduse.create.sequence FAIL']);
  });
});

describe('device ioctls', () => {
  it('VQ_SETUP bounds and reserved words', () => {
    expect(verdicts(M.judgeVqSetup(opened(), { index: 2, maxSize: 1, reserved: false }, ok()).findings)).toEqual(['vduse.vq.setup FAIL']);
    expect(verdicts(M.judgeVqSetup(opened(), { index: 2, maxSize: 1, reserved: false }, err('EINVAL')).findings)).toEqual(['vduse.vq.setup PASS']);
    expect(verdicts(M.judgeVqSetup(opened(), { index: 0, maxSize: 1, reserved: true }, ok()).findings)).toEqual(['vduse.vq.setup INFORMATIONAL']);
    expect(verdicts(M.judgeVqSetup(opened(), { index: 0, maxSize: 1, reserved: false }, err('EINVAL')).findings)).toEqual(['vduse.vq.setup NON_STRICT']);
  });
  it('VQ_GET_INFO reports what the driver set, and zeros after a reset', () => {
    let s = driving();
    s = M.vringSet(s, { index: 1, num: 64, desc: 0x1000n, driver: 0x2000n, device: 0x3000n, base: 7 }, ok(), ok(), ok());
    const info = { num: 64, desc: 0x1000n, driver: 0x2000n, device: 0x3000n, avail: 7, ready: false };
    expect(verdicts(M.judgeVqGetInfo(s, 1, ok(info)).findings)).toEqual(['vduse.vq.get-info PASS']);
    expect(verdicts(M.judgeVqGetInfo(s, 1, ok({ ...info, avail: 8 })).findings)).toEqual(['vduse.vq.get-info NON_STRICT']);
    expect(verdicts(M.judgeVqGetInfo(s, 2, ok(info)).findings)).toEqual(['vduse.vq.get-info FAIL']);
    const reset = M.afterReset(s);
    expect(verdicts(M.judgeVqGetInfo(reset, 1, ok(info)).findings)).toEqual(['vduse.reset.clears NON_STRICT']);
    expect(verdicts(M.judgeVqGetInfo(reset, 1, ok({ num: 0, desc: 0n, driver: 0n, device: 0n, avail: 0, ready: false })).findings)).toEqual(['vduse.reset.clears PASS']);
  });
  it('DEV_SET_CONFIG bounds; what it writes is what the driver reads', () => {
    expect(verdicts(M.judgeSetConfig(opened(), 0, [], ok()).findings)).toEqual(['vduse.config.set-bounds NON_STRICT']);
    expect(verdicts(M.judgeSetConfig(opened(), 6, [1, 2, 3], ok()).findings)).toEqual(['vduse.config.set-bounds FAIL']);
    const w = M.judgeSetConfig(driving(), 2, [9, 9], ok());
    expect(verdicts(M.judgeDriverConfigRead(w.next, 0, ok([1, 2, 9, 9])).findings)).toEqual(['vduse.config.set-bounds PASS']);
    expect(verdicts(M.judgeDriverConfigRead(w.next, 0, ok([1, 2, 3, 4])).findings)).toEqual(['vduse.config.set-bounds FAIL']);
  });
  it('the config space is read-only to the driver', () => {
    expect(verdicts(M.judgeDriverConfigWrite(driving(), 0, ok([1, 2])).findings)).toEqual(['vduse.config.read-only PASS']);
    expect(verdicts(M.judgeDriverConfigWrite(driving(), 0, ok([7, 7])).findings)).toEqual(['vduse.config.read-only FAIL']);
  });
  it('interrupts: refused before DRIVER_OK (old kernels queued it), delivered after, never to a not-ready vq', () => {
    expect(verdicts(M.judgeInjectConfigIrq(opened(), err('EINVAL'), null).findings)).toEqual(['vduse.config.inject-irq PASS']);
    expect(verdicts(M.judgeInjectConfigIrq(opened(), ok(), null).findings)).toEqual(['vduse.config.inject-irq INFORMATIONAL']);
    let s = M.callsSet(driving(), [true, true], true);
    s = M.vringEnabled(s, 0, true, ok());
    s = { ...s, dev: { ...s.dev!, status: 0xf } };
    expect(verdicts(M.judgeInjectConfigIrq(s, ok(), false).findings)).toEqual(['vduse.config.inject-irq FAIL']);
    expect(verdicts(M.judgeVqInjectIrq(s, 0, ok(), true).findings)).toEqual(['vduse.vq.inject-irq PASS']);
    expect(verdicts(M.judgeVqInjectIrq(s, 0, ok(), false).findings)).toEqual(['vduse.vq.inject-irq FAIL']);
    expect(verdicts(M.judgeVqInjectIrq(s, 1, ok(), true).findings)).toEqual(['vduse.vq.inject-irq FAIL']);
    expect(verdicts(M.judgeVqInjectIrq(s, 5, ok(), null).findings)).toEqual(['vduse.vq.inject-irq FAIL']);
  });
  it('kicks reach the kickfd; a kick with none installed is signalled on install', () => {
    let s = M.vringEnabled(driving(), 0, true, ok());
    const pending = M.judgeKick(s, 0, null).next;
    expect(verdicts(M.judgeSetupKickfd(pending, 0, 'eventfd', ok(), true).findings)).toEqual(['vduse.vq.kick-pending PASS']);
    expect(verdicts(M.judgeSetupKickfd(pending, 0, 'eventfd', ok(), false).findings)).toEqual(['vduse.vq.kick-pending FAIL']);
    s = M.judgeSetupKickfd(s, 0, 'eventfd', ok(), null).next;
    expect(verdicts(M.judgeKick(s, 0, true).findings)).toEqual(['vduse.vq.kickfd PASS']);
    expect(verdicts(M.judgeKick(s, 0, false).findings)).toEqual(['vduse.vq.kickfd FAIL']);
    expect(verdicts(M.judgeSetupKickfd(s, 0, 'not-an-eventfd', ok(), null).findings)).toEqual(['vduse.vq.kickfd FAIL']);
    expect(verdicts(M.judgeSetupKickfd(s, 9, 'eventfd', ok(), null).findings)).toEqual(['vduse.vq.kickfd FAIL']);
  });
  it('DEV_GET_FEATURES mirrors the negotiated features once FEATURES_OK is set, and 0 after a reset', () => {
    let s = M.judgeSetFeatures(driving(), FEATURES, ok()).next;
    expect(M.judgeGetFeatures(s, ok(123n)).findings).toEqual([]);
    s = { ...s, dev: { ...s.dev!, status: 0xb } };
    expect(verdicts(M.judgeGetFeatures(s, ok(FEATURES)).findings)).toEqual(['vduse.features.get PASS']);
    expect(verdicts(M.judgeGetFeatures(s, ok(FEATURES | 1n)).findings)).toEqual(['vduse.features.get FAIL']);
    expect(verdicts(M.judgeGetFeatures(M.afterReset(s), ok(FEATURES)).findings)).toEqual(['vduse.reset.clears NON_STRICT']);
  });
  it('reads and responses are checked', () => {
    expect(verdicts([M.judgeShortRead(100, err('EINVAL'))])).toEqual(['vduse.msg.read-size PASS']);
    expect(verdicts([M.judgeShortRead(100, ok(1))])).toEqual(['vduse.msg.read-size NON_STRICT']);
    expect(verdicts([M.judgeEmptyRead(err('EWOULDBLOCK'))])).toEqual(['vduse.msg.read-size PASS']);
    expect(verdicts([M.judgeEmptyRead(err('EINVAL'))])).toEqual(['vduse.msg.read-size NON_STRICT']);
    expect(verdicts([M.judgeBadResponse('unknown-id', err('ENOENT'))])).toEqual(['vduse.msg.write-checked PASS']);
    expect(verdicts([M.judgeBadResponse('reserved', ok(152))])).toEqual(['vduse.msg.write-checked NON_STRICT']);
  });
  it('REG_UMEM with an invalid argument is EINVAL', () => {
    expect(verdicts(M.judgeRegUmem(opened(), 'unaligned', err('EINVAL')).findings)).toEqual(['vduse.iotlb.reg-umem PASS']);
    expect(verdicts(M.judgeRegUmem(opened(), 'unaligned', ok()).findings)).toEqual(['vduse.iotlb.reg-umem FAIL']);
  });
  it('a broken device answers every ioctl with EPERM', () => {
    const s = M.markBroken(opened());
    expect(verdicts(M.judgeVqGetInfo(s, 0, err('EPERM')).findings)).toEqual(['vduse.msg.timeout-broken PASS']);
    expect(verdicts(M.judgeVqGetInfo(s, 0, ok({ num: 0, desc: 0n, driver: 0n, device: 0n, avail: 0, ready: false })).findings)).toEqual(['vduse.msg.timeout-broken NON_STRICT']);
    expect(verdicts(M.judgeBrokenAfterTimeout(err('EPERM'), false))).toEqual(['vduse.msg.timeout-broken PASS', 'vduse.msg.timeout-broken NON_STRICT']);
  });
});

describe('messages', () => {
  const observed = (o: Partial<M.SetStatusObserved>): M.SetStatusObserved => ({ ioctl: ok(), messages: [1], after: ok(1), badWrites: [], goodWrite: ok(152), ...o });
  it('SET_STATUS reaches the device once, and its answer decides the status', () => {
    expect(verdicts(M.judgeSetStatus(driving(), 1, 'ok', observed({})).findings)).toEqual(['vduse.msg.response-id PASS', 'vduse.msg.set-status PASS']);
    expect(verdicts(M.judgeSetStatus(driving(), 1, 'ok', observed({ messages: [] })).findings)).toContain('vduse.msg.set-status FAIL');
    expect(verdicts(M.judgeSetStatus(driving(), 1, 'failed', observed({ after: ok(0) })).findings)).toContain('vduse.msg.set-status-failed PASS');
    expect(verdicts(M.judgeSetStatus(driving(), 1, 'failed', observed({ after: ok(1) })).findings)).toContain('vduse.msg.set-status-failed NON_STRICT');
    expect(verdicts(M.judgeSetStatus(driving(), 1, 'ok', observed({ goodWrite: err('ENOENT') })).findings)).toContain('vduse.msg.response-id FAIL');
  });
  it('garbled answers are refused and the right one still taken', () => {
    const bad = [{ kind: 'short' as const, r: err('EINVAL') }, { kind: 'unknown-id' as const, r: ok(152) }];
    expect(verdicts(M.judgeSetStatus(driving(), 1, 'garbled', observed({ badWrites: bad })).findings).slice(0, 2)).toEqual(['vduse.msg.write-checked PASS', 'vduse.msg.write-checked NON_STRICT']);
  });
  it('an unanswered request marks the device broken', () => {
    const j = M.judgeSetStatus(driving(), 1, 'none', observed({ after: ok(0) }));
    expect(j.next.dev!.broken).toBe(true);
    expect(verdicts(M.judgeSetStatus(driving(), 1, 'none', observed({ after: ok(1) })).findings)).toContain('vduse.msg.timeout-broken NON_STRICT');
  });
  it('GET_VQ_STATE: the answer is relayed; FAILED fails the driver\'s ioctl', () => {
    expect(verdicts(M.judgeGetVringBase(driving(), 1, { result: 'ok', avail: 9 }, [1], ok(9)).findings)).toEqual(['vduse.msg.get-vq-state PASS']);
    expect(verdicts(M.judgeGetVringBase(driving(), 1, { result: 'ok', avail: 9 }, [1], ok(8)).findings)).toEqual(['vduse.msg.get-vq-state FAIL']);
    expect(verdicts(M.judgeGetVringBase(driving(), 1, { result: 'failed', avail: 9 }, [1], ok(9)).findings)).toEqual(['vduse.msg.result NON_STRICT']);
  });
  const region: M.Mapping = { start: 0x2000n, last: 0x3fffn, perm: 1, offset: 0x4000n };
  it('UPDATE_IOTLB covers each new mapping; IOTLB_GET_FD then finds it with its permission and bytes', () => {
    expect(verdicts(M.judgeIotlbUpdate(driving(), region, 'ok', { write: ok(72), messages: [[0n, 2n ** 64n - 1n]] }).findings)).toEqual(['vduse.msg.update-iotlb PASS']);
    expect(verdicts(M.judgeIotlbUpdate(driving(), region, 'ok', { write: ok(72), messages: [] }).findings)).toEqual(['vduse.msg.update-iotlb FAIL']);
    const s = M.judgeIotlbUpdate(driving(), region, 'ok', { write: ok(72), messages: [[0n, 2n ** 64n - 1n]] }).next;
    const fd: M.GetFdResult = { offset: 0x4000n, start: 0x2000n, last: 0x3fffn, perm: 1, mapRead: true, mapWrite: false, dataMatches: true, writeArrived: null };
    expect(verdicts(M.judgeIotlbGetFd(s, 0x2800n, 0x2900n, ok(fd)).findings)).toEqual(['vduse.iotlb.get-fd PASS', 'vduse.iotlb.get-fd-perm PASS']);
    expect(verdicts(M.judgeIotlbGetFd(s, 0x2800n, 0x2900n, ok({ ...fd, mapWrite: true })).findings)).toEqual(['vduse.iotlb.get-fd PASS', 'vduse.iotlb.get-fd-perm FAIL']);
    expect(verdicts(M.judgeIotlbGetFd(s, 0x2800n, 0x2900n, ok({ ...fd, dataMatches: false })).findings)).toEqual(['vduse.iotlb.get-fd FAIL', 'vduse.iotlb.get-fd-perm PASS']);
    expect(verdicts(M.judgeIotlbGetFd(s, 0x2800n, 0x2900n, ok({ ...fd, offset: 0n })).findings)[0]).toBe('vduse.iotlb.get-fd FAIL');
    expect(verdicts(M.judgeIotlbGetFd(s, 0x8000n, 0x9000n, ok(fd)).findings)).toEqual(['vduse.iotlb.get-fd FAIL']);
    expect(verdicts(M.judgeIotlbGetFd(s, 0x9000n, 0x8000n, ok(fd)).findings)).toEqual(['vduse.iotlb.get-fd-range NON_STRICT']);
    expect(verdicts(M.judgeIotlbGetInfo(s, 0x2000n, 0x2000n, false, ok({ start: 0x2000n, last: 0x2fffn })).findings)).toEqual(['vduse.iotlb.get-info NON_STRICT']);
  });
  it('a FAILED UPDATE_IOTLB fails the driver\'s write', () => {
    expect(verdicts(M.judgeIotlbUpdate(driving(), region, 'failed', { write: err('EFAULT'), messages: [[0n, 2n ** 64n - 1n]] }).findings)).toEqual(['vduse.msg.update-iotlb PASS', 'vduse.msg.result PASS']);
    expect(verdicts(M.judgeIotlbUpdate(driving(), region, 'failed', { write: ok(72), messages: [[0n, 2n ** 64n - 1n]] }).findings)).toEqual(['vduse.msg.update-iotlb PASS', 'vduse.msg.result NON_STRICT']);
  });
  it('a request read before a close comes back after reopening; a lost one is a hang', () => {
    expect(verdicts(M.judgeReconnect({ id: 3, type: 1 }, { id: 3, type: 1 }, true))).toEqual(['vduse.dev.reconnect-replays PASS']);
    expect(verdicts(M.judgeReconnect({ id: 3, type: 1 }, null, false))).toEqual(['vduse.dev.reconnect-replays FAIL']);
    expect(verdicts(M.judgeReconnect({ id: 3, type: 1 }, { id: 4, type: 1 }, true))).toEqual(['vduse.dev.reconnect-replays NON_STRICT']);
  });
  it('config read past config_size is zero-filled', () => {
    expect(verdicts(M.judgeNetConfigShow([1, 2, 3, 4, 5, 6], { link: 'down', mtu: 0 }))).toEqual(['vduse.config.zero-fill PASS', 'vduse.config.zero-fill PASS']);
    expect(verdicts(M.judgeNetConfigShow([1, 2, 3, 4, 5, 6, 1, 0], { link: 'up', mtu: 0 }))).toEqual(['vduse.config.zero-fill PASS', 'vduse.config.zero-fill PASS']);
    // Stale bytes past the end are a leak of kernel memory: FAIL although the rule is code-derived.
    expect(verdicts(M.judgeNetConfigShow([1, 2, 3, 4, 5, 6], { link: 'up', mtu: 0x5a5a }))).toEqual(['vduse.config.zero-fill FAIL', 'vduse.config.zero-fill FAIL']);
    expect(M.judgeNetConfigShow([1, 2, 3, 4, 5, 6], null)).toEqual([]);
  });
  it('a blk request carried end to end: kick, both sides\' bytes, interrupt', () => {
    const good: M.RoundTripObserved = { kicked: true, deviceSaw: true, inject: ok(), irq: true, driverSaw: true, detail: 'write' };
    expect(verdicts(M.judgeRoundTrip(driving(), good).findings)).toEqual(['vduse.vq.kickfd PASS', 'vduse.vq.inject-irq PASS', 'vduse.iotlb.get-fd PASS']);
    expect(verdicts(M.judgeRoundTrip(driving(), { ...good, kicked: false, deviceSaw: null, inject: null, irq: null, driverSaw: null }).findings)).toEqual(['vduse.vq.kickfd FAIL']);
    expect(verdicts(M.judgeRoundTrip(driving(), { ...good, deviceSaw: false }).findings)).toContain('vduse.iotlb.get-fd FAIL');
    expect(verdicts(M.judgeRoundTrip(driving(), { ...good, driverSaw: false }).findings)).toContain('vduse.iotlb.get-fd FAIL');
    expect(verdicts(M.judgeRoundTrip(driving(), { ...good, irq: false }).findings)).toContain('vduse.vq.inject-irq FAIL');
  });
  it('after a reset vhost-vdpa still reads the vq state as packed (its acked features outlive it): no split verdict until it is reopened', () => {
    const packed = M.judgeSetFeatures(driving(), FEATURES | bit(34), ok()).next;
    const reset = M.judgeSetStatus(packed, 0, 'ok', observed({ messages: [0], after: ok(0) })).next;
    expect(reset.dev!.driverFeatures).toBe(0n);
    // 6.12: the split answer 0x7fff read through the packed bitfields comes back as 0xbfff.
    expect(M.judgeGetVringBase(reset, 0, { result: 'ok', avail: 0x7fff }, [0], ok(0xbfff)).findings).toEqual([]);
    const reopened = M.vdpaOpened(M.vdpaClosed(reset, []));
    expect(verdicts(M.judgeGetVringBase(reopened, 0, { result: 'ok', avail: 0x7fff }, [0], ok(0xbfff)).findings)).toEqual(['vduse.msg.get-vq-state FAIL']);
    const split = M.judgeSetFeatures(reset, FEATURES, ok()).next;
    expect(verdicts(M.judgeGetVringBase(split, 0, { result: 'ok', avail: 0x7fff }, [0], ok(0x7fff)).findings)).toEqual(['vduse.msg.get-vq-state PASS']);
  });
  it('an invalidate that drops nothing still sends UPDATE_IOTLB; a FAILED answer leaves the device\'s map unknown (vduse_domain_clear_map)', () => {
    const mapped = M.judgeIotlbUpdate(driving(), region, 'ok', { write: ok(72), messages: [[0n, 2n ** 64n - 1n]] }).next;
    const failed = M.judgeIotlbInvalidate(mapped, 0n, 0xfffn, 'failed', { write: ok(72), messages: [[0n, 2n ** 64n - 1n]] });
    expect(failed.findings).toEqual([]);
    expect(M.judgeIotlbGetFd(failed.next, 0x2000n, 0x2000n, err('EINVAL')).findings.map((x) => x.verdict)).toEqual(['PASS']);
    // Answered OK, the domain still holds the region: a refusal then is a FAIL.
    const answered = M.judgeIotlbInvalidate(mapped, 0n, 0xfffn, 'ok', { write: ok(72), messages: [[0n, 2n ** 64n - 1n]] }).next;
    expect(verdicts(M.judgeIotlbGetFd(answered, 0x2000n, 0x2000n, err('EINVAL')).findings)).toEqual(['vduse.iotlb.get-fd FAIL']);
  });
  it('packed vq state is masked before vhost-vdpa packs it', () => {
    const s = M.judgeSetFeatures(driving(), FEATURES | bit(34), ok()).next;
    expect(verdicts(M.judgeGetVringBasePacked(s, 0, [2, 0x8005, 1, 0x8009], ok(0x80090005)).findings)).toEqual(['vduse.msg.get-vq-state-masked PASS']);
    expect(verdicts(M.judgeGetVringBasePacked(s, 0, [2, 0x8005, 1, 0x8009], ok(0x80098005)).findings)).toEqual(['vduse.msg.get-vq-state-masked NON_STRICT']);
    expect(verdicts(M.judgeGetVringBasePacked(s, 0, [3, 0x8005, 1, 0x8009], ok(1)).findings)).toEqual(['vduse.msg.get-vq-state-masked INFORMATIONAL']);
  });
});

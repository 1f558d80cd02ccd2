// The vhost-net model without a guest: the healthy kernel's answers pass, and
// a fabricated wrong answer is judged at its own requirement with the level's
// verdict (FAIL for a MUST or a harmful DE_FACTO, NON_STRICT otherwise).
import { describe, expect, it } from 'vitest';
import { encode } from '../../spec/codec.ts';
import { vhost_msg_v2 } from '../../spec/vhost/types.ts';
import { afterKick, initialState, judgeAnswer, messageFindings, missPermFinding, predict, readOnlyUsedFlags, type VhostNetAnswer, type VhostNetFacts, type VhostNetRequest, type VhostNetState } from './vhostNet.ts';

const FACTS: VhostNetFacts = { offeredBackendFeatures: 2n, maxMemRegions: 64 };
const W = 0x7f00_0000_0000n;
const WINDOW = { base: W, size: 0x10_0000n };
const OK: VhostNetAnswer = { kind: 'ok', ret: 0, out: new Uint8Array(8) };
const E = (errno: string): VhostNetAnswer => ({ kind: 'error', errno });

function judge(s: VhostNetState, r: VhostNetRequest, a: VhostNetAnswer) {
  return judgeAnswer(predict(s, r, FACTS), a, s);
}

/** Runs requests the healthy kernel answers `ok`, asserting each passes. */
function after(reqs: readonly VhostNetRequest[], s = initialState(WINDOW)): VhostNetState {
  for (const r of reqs) {
    const j = judge(s, r, OK);
    expect(j.verdict, `${r.op}: ${j.detail}`).toBe('PASS');
    s = j.next;
  }
  return s;
}

const table: VhostNetRequest = { op: 'setMemTable', padding: 0, regions: [{ gpa: 0n, size: 0x10_0000n, uaddr: W }] };
const ring = (index: number): VhostNetRequest[] => [
  { op: 'setVringNum', index, num: 256 },
  { op: 'setVringAddr', index, flags: 0, desc: W, avail: W + 0x1_0000n, used: W + 0x1_1000n, log: 0n },
];
const owned = () => after([{ op: 'setOwner' }]);
const running = () => after([{ op: 'setOwner' }, table, ...ring(1), { op: 'setBackend', index: 1, attach: true }]);

function v2(fields: Partial<{ type: number; asid: number; iova: bigint; size: bigint; uaddr: bigint; perm: number; kind: number }>, length = 72): Uint8Array {
  const b = encode(vhost_msg_v2, { type: fields.type ?? 2, asid: fields.asid ?? 0, iotlb_iova: fields.iova ?? 0x1_0000n, iotlb_size: fields.size ?? 0x1000n, iotlb_uaddr: fields.uaddr ?? W, iotlb_perm: fields.perm ?? 3, iotlb_type: fields.kind ?? 2 });
  return b.subarray(0, length);
}

describe('ownership', () => {
  it('a vring ioctl before SET_OWNER: EPERM passes, success is NON_STRICT at vhost.owner.required', () => {
    const r: VhostNetRequest = { op: 'setVringNum', index: 0, num: 256 };
    expect(judge(initialState(), r, E('EPERM')).verdict).toBe('PASS');
    expect(judge(initialState(), r, OK)).toMatchObject({ verdict: 'NON_STRICT', requirement: 'vhost.owner.required' });
    expect(judge(initialState(), r, E('EINVAL'))).toMatchObject({ verdict: 'NON_STRICT', requirement: 'vhost.owner.required' });
  });
  it('a second SET_OWNER that succeeds is FAIL at vhost.owner.exclusive (MUST)', () => {
    expect(judge(owned(), { op: 'setOwner' }, E('EBUSY')).verdict).toBe('PASS');
    expect(judge(owned(), { op: 'setOwner' }, OK)).toMatchObject({ verdict: 'FAIL', requirement: 'vhost.owner.exclusive' });
  });
  it('RESET_OWNER gives ownership up: the next vring ioctl must be refused, the next SET_OWNER must succeed', () => {
    const s = after([{ op: 'resetOwner' }], owned());
    expect(judge(s, { op: 'getVringBase', index: 0 }, OK).requirement).toBe('vhost.owner.required');
    expect(judge(s, { op: 'setOwner' }, E('EBUSY'))).toMatchObject({ verdict: 'FAIL', requirement: 'vhost.owner.exclusive' });
  });
});

describe('vrings', () => {
  it('an index at or past nvqs: ENOBUFS passes; success is FAIL (memory safety) at vhost.vring.index-range', () => {
    for (const index of [2, 0xffff, 0xffff_ffff]) {
      expect(judge(owned(), { op: 'setVringBase', index, num: 0 }, E('ENOBUFS')).verdict).toBe('PASS');
      expect(judge(owned(), { op: 'setVringBase', index, num: 0 }, OK)).toMatchObject({ verdict: 'FAIL', requirement: 'vhost.vring.index-range' });
    }
  });
  it('num 0, 3, 65536 must be EINVAL (vhost.vring.num-valid), 256 must succeed', () => {
    for (const num of [0, 3, 0x1_0000]) expect(judge(owned(), { op: 'setVringNum', index: 0, num }, OK)).toMatchObject({ verdict: 'NON_STRICT', requirement: 'vhost.vring.num-valid' });
    expect(judge(owned(), { op: 'setVringNum', index: 0, num: 0x8000 }, OK).verdict).toBe('PASS');
  });
  it('resizing or moving a running ring: success is FAIL at vhost.vring.num-immutable (MUST_NOT), NON_STRICT at base-busy', () => {
    expect(judge(running(), { op: 'setVringNum', index: 1, num: 128 }, E('EBUSY')).verdict).toBe('PASS');
    expect(judge(running(), { op: 'setVringNum', index: 1, num: 128 }, OK)).toMatchObject({ verdict: 'FAIL', requirement: 'vhost.vring.num-immutable' });
    expect(judge(running(), { op: 'setVringBase', index: 1, num: 0 }, OK)).toMatchObject({ verdict: 'NON_STRICT', requirement: 'vhost.vring.base-busy' });
    expect(judge(owned(), { op: 'setVringBase', index: 1, num: 0x1_0000 }, OK)).toMatchObject({ verdict: 'NON_STRICT', requirement: 'vhost.vring.base-busy' });
  });
  it('GET_VRING_BASE must give back the base that was set (vhost.vring.get-base, MUST)', () => {
    const s = after([{ op: 'setVringBase', index: 1, num: 7 }], owned());
    const out = (index: number, num: number) => ({ kind: 'ok' as const, ret: 0, out: Uint8Array.from([index, 0, 0, 0, num, 0, 0, 0]) });
    expect(judge(s, { op: 'getVringBase', index: 1 }, out(1, 7)).verdict).toBe('PASS');
    expect(judge(s, { op: 'getVringBase', index: 1 }, out(1, 8))).toMatchObject({ verdict: 'FAIL', requirement: 'vhost.vring.get-base' });
  });
  it('ring addresses: unknown flags EOPNOTSUPP, misaligned used EINVAL; success is NON_STRICT at vhost.vring.addr-checked', () => {
    const a = { op: 'setVringAddr' as const, index: 0, desc: W, avail: W + 0x1000n, used: W + 0x2000n, log: 0n };
    expect(judge(owned(), { ...a, flags: 2 }, E('EOPNOTSUPP')).verdict).toBe('PASS');
    expect(judge(owned(), { ...a, flags: 2 }, OK)).toMatchObject({ verdict: 'NON_STRICT', requirement: 'vhost.vring.addr-checked' });
    expect(judge(owned(), { ...a, flags: 0, used: W + 0x2002n }, OK)).toMatchObject({ verdict: 'NON_STRICT', requirement: 'vhost.vring.addr-checked' });
  });
  it('VHOST_FILE_UNBIND must detach (vhost.vring.file-unbind, MUST): an error is FAIL', () => {
    expect(judge(owned(), { op: 'setVringFile', which: 'call', index: 0, unbind: true }, E('EBADF'))).toMatchObject({ verdict: 'FAIL', requirement: 'vhost.vring.file-unbind' });
  });
  it('endianness: ENOTTY (no cross-endian support) always passes; 2 accepted is FAIL at vhost.vring.endian', () => {
    expect(judge(owned(), { op: 'setVringEndian', index: 0, num: 1 }, E('ENOTTY')).verdict).toBe('PASS');
    expect(judge(owned(), { op: 'setVringEndian', index: 0, num: 2 }, OK)).toMatchObject({ verdict: 'FAIL', requirement: 'vhost.vring.endian' });
  });
});

describe('memory table and log', () => {
  it('padding and 65 regions (max_mem_regions 64) must be refused (vhost.mem.region-limit)', () => {
    expect(judge(owned(), { ...table, padding: 1 } as VhostNetRequest, OK)).toMatchObject({ verdict: 'NON_STRICT', requirement: 'vhost.mem.region-limit' });
    const many: VhostNetRequest = { op: 'setMemTable', padding: 0, regions: Array.from({ length: 65 }, (_, i) => ({ gpa: BigInt(i) << 12n, size: 0x1000n, uaddr: W })) };
    expect(judge(owned(), many, E('E2BIG')).verdict).toBe('PASS');
    expect(judge(owned(), many, OK)).toMatchObject({ verdict: 'NON_STRICT', requirement: 'vhost.mem.region-limit' });
  });
  it('a wrapping region is refused when a ring starts (vhost.mem.overflow); before, either answer passes', () => {
    const wrap: VhostNetRequest = { op: 'setMemTable', padding: 0, regions: [{ gpa: 0n, size: 0x2000n, uaddr: 0xffff_ffff_ffff_f000n }] };
    const s = after([{ op: 'setOwner' }, wrap, ...ring(1)]);
    expect(judge(s, { op: 'setBackend', index: 1, attach: true }, E('EFAULT')).verdict).toBe('PASS');
    expect(judge(s, { op: 'setBackend', index: 1, attach: true }, OK)).toMatchObject({ verdict: 'NON_STRICT', requirement: 'vhost.mem.overflow' });
    expect(judge(running(), wrap, OK)).toMatchObject({ verdict: 'NON_STRICT', requirement: 'vhost.mem.overflow' });
  });
  it('with LOG_ALL on a running ring, a log base in the kernel half must be refused (vhost.log.base-checked)', () => {
    const s = after([{ op: 'setFeatures', features: 1n << 26n }], running());
    expect(judge(s, { op: 'setLogBase', base: 0xffff_8880_0000_0000n }, E('EFAULT')).verdict).toBe('PASS');
    expect(judge(s, { op: 'setLogBase', base: 0xffff_8880_0000_0000n }, OK)).toMatchObject({ verdict: 'NON_STRICT', requirement: 'vhost.log.base-checked' });
  });
  it('VHOST_F_LOG_ALL can change while the device runs (vhost.log.all-live): a refusal with a good log is FAIL', () => {
    const s = after([{ op: 'setLogBase', base: W + 0xf_0000n }], running());
    expect(judge(s, { op: 'setFeatures', features: 1n << 26n }, E('EFAULT'))).toMatchObject({ verdict: 'FAIL', requirement: 'vhost.log.all-live' });
  });
  it('GET_BACKEND_FEATURES must keep its answer; bits never offered must be refused', () => {
    const out = (v: number) => ({ kind: 'ok' as const, ret: 0, out: Uint8Array.from([v, 0, 0, 0, 0, 0, 0, 0]) });
    expect(judge(owned(), { op: 'getBackendFeatures' }, out(2)).verdict).toBe('PASS');
    expect(judge(owned(), { op: 'getBackendFeatures' }, out(6))).toMatchObject({ verdict: 'FAIL', requirement: 'vhost.backend-features.get' });
    expect(judge(owned(), { op: 'setBackendFeatures', features: 4n }, OK)).toMatchObject({ verdict: 'FAIL', requirement: 'vhost.backend-features.get' });
  });
});

describe('device IOTLB messages', () => {
  const iotlb = () => after([{ op: 'setFeatures', features: 1n << 33n }, { op: 'setBackendFeatures', features: 2n }], owned());
  const wrote = (n = 72): VhostNetAnswer => ({ kind: 'ok', ret: n, out: new Uint8Array() });
  it('an UPDATE returns sizeof(vhost_msg_v2); another count is NON_STRICT at vhost.iotlb.msg-v2', () => {
    expect(judge(iotlb(), { op: 'iotlbWrite', bytes: v2({}) }, wrote()).verdict).toBe('PASS');
    expect(judge(iotlb(), { op: 'iotlbWrite', bytes: v2({}) }, wrote(40))).toMatchObject({ verdict: 'FAIL', requirement: 'vhost.iotlb.msg-v2' });
  });
  it('size 0 UPDATE, short writes, unknown message types and wrapping uaddrs must be refused, each at its own id', () => {
    expect(judge(iotlb(), { op: 'iotlbWrite', bytes: v2({ size: 0n }) }, wrote())).toMatchObject({ verdict: 'NON_STRICT', requirement: 'vhost.iotlb.update-zero-size-rejected' });
    expect(judge(iotlb(), { op: 'iotlbWrite', bytes: v2({}, 39) }, wrote(39))).toMatchObject({ verdict: 'NON_STRICT', requirement: 'vhost.iotlb.msg-size-mismatch' });
    expect(judge(iotlb(), { op: 'iotlbWrite', bytes: v2({ type: 3 }) }, wrote())).toMatchObject({ verdict: 'NON_STRICT', requirement: 'vhost.iotlb.msg-type' });
    expect(judge(iotlb(), { op: 'iotlbWrite', bytes: v2({ kind: 7 }) }, E('EFAULT')).verdict).toBe('PASS');
    expect(judge(iotlb(), { op: 'iotlbWrite', bytes: v2({ uaddr: 0xffff_ffff_ffff_f000n, size: 0x2000n }) }, wrote())).toMatchObject({ verdict: 'NON_STRICT', requirement: 'vhost.iotlb.update-uaddr-checked' });
  });
  it('INVALIDATE of size 0: EINVAL (older kernels) and success (newer) both pass', () => {
    expect(judge(iotlb(), { op: 'iotlbWrite', bytes: v2({ kind: 3, size: 0n }) }, E('EINVAL')).verdict).toBe('PASS');
    expect(judge(iotlb(), { op: 'iotlbWrite', bytes: v2({ kind: 3, size: 0n }) }, wrote()).verdict).toBe('PASS');
  });
  it('an attach with the used ring unmapped must queue a MISS: reading nothing is FAIL (a hang) at vhost.iotlb.miss-on-unmapped', () => {
    const s = after([table, ...ring(1)], iotlb());
    const j = judge(s, { op: 'setBackend', index: 1, attach: true }, E('EFAULT'));
    expect(j.verdict).toBe('PASS');
    expect(judge(j.next, { op: 'iotlbRead', length: 72 }, { kind: 'empty' })).toMatchObject({ verdict: 'FAIL', requirement: 'vhost.iotlb.miss-on-unmapped' });
    const miss = (iova: bigint) => ({ kind: 'ok' as const, ret: 72, out: v2({ iova, size: 0n, uaddr: 0n, perm: 1, kind: 1 }) });
    expect(judge(j.next, { op: 'iotlbRead', length: 72 }, miss(W + 0x1_1000n)).verdict).toBe('PASS');
    expect(judge(j.next, { op: 'iotlbRead', length: 72 }, miss(0x5000n))).toMatchObject({ verdict: 'NON_STRICT', requirement: 'vhost.iotlb.miss-on-unmapped' });
  });
  it('a MISS for the used ring at start must ask for write access (NON_STRICT when it asks read-only)', () => {
    const s = after([table, ...ring(1)], iotlb());
    const j = judge(s, { op: 'setBackend', index: 1, attach: true }, E('EFAULT'));
    const msg = (perm: number) => v2({ iova: W + 0x1_1000n, size: 0n, uaddr: 0n, perm, kind: 1 });
    expect(missPermFinding(j.next, msg(2))?.problem).toBeNull();
    expect(missPermFinding(j.next, msg(1))).toMatchObject({ requirement: 'vhost.iotlb.miss-on-unmapped', problem: expect.stringContaining('write') });
  });
  it('a kick after the ring is invalidated asks again; a read into a short buffer must return 0', () => {
    const mapped = judge(after([table, ...ring(1)], iotlb()), { op: 'iotlbWrite', bytes: v2({ iova: W, size: 0x2_0000n }) }, wrote());
    const s0 = after([{ op: 'setVringFile', which: 'kick', index: 1, unbind: false }], mapped.next);
    const s1 = judge(s0, { op: 'setBackend', index: 1, attach: true }, OK).next;
    const s2 = judge(s1, { op: 'iotlbWrite', bytes: v2({ kind: 3, iova: W, size: 0x2_0000n }) }, wrote()).next;
    expect(afterKick(s2, 1).misses.due).toBe(1);
    expect(judge(afterKick(s2, 1), { op: 'iotlbRead', length: 8 }, { kind: 'ok', ret: 72, out: new Uint8Array(72) })).toMatchObject({ verdict: 'NON_STRICT', requirement: 'vhost.iotlb.read-short-buffer' });
  });
  it('used->flags is to be left alone at start only under one mapping without write permission', () => {
    const laid = after([table, ...ring(1)], iotlb());
    const map = (s: VhostNetState, iova: bigint, perm: number) => judge(s, { op: 'iotlbWrite', bytes: v2({ iova, size: 0x1000n, uaddr: W + 0x1_1000n, perm }) }, wrote()).next;
    const ro = map(laid, W + 0x1_1000n, 1);
    expect(readOnlyUsedFlags(ro, 1)).toEqual({ uaddr: W + 0x1_1000n, perm: 1 });
    expect(readOnlyUsedFlags(map(laid, W + 0x1_1000n, 3), 1)).toBeNull();
    expect(readOnlyUsedFlags(laid, 1)).toBeNull(); // nothing mapped: a miss, not a write
    expect(readOnlyUsedFlags(map(ro, W + 0x1_1000n, 3), 1)).toBeNull(); // overlapping UPDATEs: which wins is not said
    expect(readOnlyUsedFlags(ro, 0)).toBeNull(); // ring 0 was never laid out
  });
  it('a message read back: type 1 under MSG_V2 breaks vhost.iotlb.msg-v2, a stray byte vhost.iotlb.no-info-leak', () => {
    const good = v2({ kind: 1, size: 0n, uaddr: 0n, perm: 1 });
    expect(messageFindings(good, 2n).every((f) => f.problem === null)).toBe(true);
    const v1 = Uint8Array.from(good);
    v1[0] = 1;
    expect(messageFindings(v1, 2n).find((f) => f.problem)?.requirement).toBe('vhost.iotlb.msg-v2');
    const leak = Uint8Array.from(good);
    leak[60] = 0xaa;
    expect(messageFindings(leak, 2n).find((f) => f.problem)?.requirement).toBe('vhost.iotlb.no-info-leak');
  });
});

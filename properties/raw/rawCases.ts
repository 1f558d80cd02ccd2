// Hostile vhost-user frames as data (DESIGN.md "properties/ arbitraries":
// hostile messages, oversize payloads, missing or surplus fds). Each case is
// a plain JSON-able object, the shape corpus/seeds/ keeps: the exact bytes
// (hex) that go down the socket, how many fresh eventfds ride along as
// SCM_RIGHTS, and the requirement a wrong answer breaks. Frames are built
// with spec/vhostUser (encodeFrame, encodePayload) so every layout comes
// from one table; the lies (a wrong size, a wrong count) are written on purpose.
import fc from 'fast-check';
import { encodeFrame, VHOST_USER_HEADER, VHOST_USER_NEED_REPLY_MASK, VHOST_USER_REPLY_MASK, VHOST_USER_VERSION } from '../../spec/vhostUser/frame.ts';
import * as M from '../../spec/vhostUser/messages.ts';
import { encodePayload, VHOST_MEMORY_BASELINE_NREGIONS, VHOST_USER_VRING_IDX_MASK, VHOST_USER_VRING_NOFD_MASK, type MemoryRegion, type Payload } from '../../spec/vhostUser/payloads.ts';

export const RAW_CASE_KINDS = [
  'bad-version',
  'reply-flag-on-request',
  'size-over-payload',
  'size-under-payload',
  'size-max',
  'truncated-header',
  'unknown-request',
  'vring-index',
  'vring-num',
  'missing-fd',
  'surplus-fds',
  'out-of-order',
  'too-many-regions',
  'region-overflow',
  'zero-size-region',
  'inflight-size',
] as const;

type RawCaseKind = (typeof RAW_CASE_KINDS)[number];

export interface RawCase {
  readonly kind: RawCaseKind;
  /** The whole frame, header included, as sent (lowercase hex). */
  readonly bytes: string;
  /** Fresh eventfds attached with the first byte. */
  readonly fds: number;
  readonly requirement: string;
  readonly description: string;
  /**
   * A success answer (REPLY_ACK 0, or the normal reply of a message that
   * always has one) breaks `requirement`. Otherwise the frame is only
   * dubious: any answer is acceptable as long as the back-end survives.
   */
  readonly mustRefuse: boolean;
}

const U64_MAX = (1n << 64n) - 1n;
const V = VHOST_USER_VERSION;
/** "REPLY_ACK": need_reply makes a silent success visible; the suite negotiates REPLY_ACK first. */
const ACK = VHOST_USER_VERSION | VHOST_USER_NEED_REPLY_MASK;

const R = {
  badHeader: 'vhost-user.robust.bad-header',
  unknown: 'vhost-user.robust.unknown-request',
  index: 'vhost-user.robust.vring-index-range',
  num: 'vhost-user.robust.vring-num',
  fdCount: 'vhost-user.robust.fd-count',
  surplusFds: 'vhost-user.robust.unexpected-fds-closed',
  overflow: 'vhost-user.robust.mem-region-overflow',
  regions: 'vhost-user.robust.too-many-regions',
  survives: 'vhost-user.robust.survives',
  inflight: 'vhost-user.robust.inflight-num-queues',
} as const;

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const h = (n: number | bigint) => `0x${n.toString(16)}`;
const shortName = (code: number) => (M.messageSpec('frontend', code)?.name ?? `request ${code}`).replace(/^VHOST_USER_/, '');

function mk(kind: RawCaseKind, requirement: string, mustRefuse: boolean, description: string, bytes: Uint8Array, fds = 0): RawCase {
  return { kind, bytes: hex(bytes), fds, requirement, description, mustRefuse };
}

const frame = (code: number, flags: number, payload: Payload = { type: 'none' }, size?: number) => encodeFrame(code, flags, encodePayload(payload), size);

// ------------------------------------------------------------- vring indices

/** Messages whose payload names a vring in a 32-bit index field ("Multiple queue support"). */
const STATE_INDEXED = [M.VHOST_USER_SET_VRING_NUM, M.VHOST_USER_SET_VRING_BASE, M.VHOST_USER_SET_VRING_ADDR, M.VHOST_USER_SET_VRING_ENABLE, M.VHOST_USER_GET_VRING_BASE] as const;
/** Messages whose u64 names a vring in bits 0-7 with bit 8 the no-fd flag ("VHOST_USER_SET_VRING_KICK"). */
const FILE_INDEXED = [M.VHOST_USER_SET_VRING_KICK, M.VHOST_USER_SET_VRING_CALL, M.VHOST_USER_SET_VRING_ERR] as const;

function stateIndexed(code: (typeof STATE_INDEXED)[number], index: number): RawCase {
  const payload: Payload =
    code === M.VHOST_USER_SET_VRING_ADDR
      ? { type: 'vringAddr', value: { index, flags: 0, desc_user_addr: 0n, used_user_addr: 0n, avail_user_addr: 0n, log_guest_addr: 0n } }
      : // A valid num (a power of two) and base 0, so the index is the only fault; ENABLE with num 1 enables.
        { type: 'vringState', value: { index, num: code === M.VHOST_USER_SET_VRING_NUM ? 128 : code === M.VHOST_USER_SET_VRING_ENABLE ? 1 : 0 } };
  // GET_VRING_BASE has a reply of its own; need_reply would change nothing ("REPLY_ACK").
  const flags = code === M.VHOST_USER_GET_VRING_BASE ? V : ACK;
  return mk('vring-index', R.index, true, `${shortName(code)} index ${h(index)}`, frame(code, flags, payload));
}

/**
 * The u64 is sent as-is, so a front-end that wrote a 32-bit index into it is
 * imitated; the fds attached always agree with bit 8. Only bits 0-7 are the
 * index: a word whose low byte names an existing ring (256 → ring 0, no fd)
 * is not out of range, only odd in its undefined bits 9-63.
 */
function fileIndexed(code: (typeof FILE_INDEXED)[number], word: bigint, queues: number): RawCase {
  const noFd = (word & BigInt(VHOST_USER_VRING_NOFD_MASK)) !== 0n;
  const index = Number(word & BigInt(VHOST_USER_VRING_IDX_MASK));
  const desc = `${shortName(code)} u64 ${h(word)} (index ${index}, ${noFd ? 'no fd' : '1 fd'})`;
  return mk('vring-index', R.index, index >= queues, desc, frame(code, ACK, { type: 'vringFile', value: { u64: word } }), noFd ? 0 : 1);
}

// -------------------------------------------------------------- memory tables

const region = (guest_phys_addr: bigint, memory_size: bigint, userspace_addr: bigint, mmap_offset: bigint): MemoryRegion => ({
  guest_phys_addr,
  memory_size,
  userspace_addr,
  mmap_offset,
});
/** A plausible 64 KiB region, the i-th of a table. */
const plain = (i: number) => region(BigInt(i) << 16n, 0x10000n, 0x7f00_0000_0000n + (BigInt(i) << 16n), 0n);

function memTable(nregions: number, regions: readonly MemoryRegion[]): Buffer {
  return frame(M.VHOST_USER_SET_MEM_TABLE, ACK, { type: 'memoryTable', value: { nregions, padding: 0, regions } });
}

/** The native sendmsg carries at most 16 fds. */
const MAX_FDS = 16;

type OverflowField = 'guest_phys_addr' | 'userspace_addr' | 'mmap_offset';

function overflowing(field: OverflowField, size: bigint, base: bigint): RawCase {
  const r = { ...plain(0), memory_size: size, [field]: base };
  return mk('region-overflow', R.overflow, true, `SET_MEM_TABLE region ${field} ${h(base)} + size ${h(size)} wraps 2^64`, memTable(1, [r]), 1);
}

// ---------------------------------------------------------------------- seeds

const UNKNOWN_CODES = [0, 44, 0xff, 0x100, 0xffff, 0x1_0000, 0xffff_ffff];

/** The hand-written cases: every kind, at its boundary values. `queues` is what the target exposes. */
export function seedCases(queues: number): RawCase[] {
  const out: RawCase[] = [];
  const getFeatures = (flags: number, size?: number) => frame(M.VHOST_USER_GET_FEATURES, flags, { type: 'none' }, size);
  const num0 = (size?: number) => frame(M.VHOST_USER_SET_VRING_NUM, ACK, { type: 'vringState', value: { index: 0, num: 128 } }, size);

  // "Header": "Lower 2 bits are the version (currently 0x01)". A bad version
  // may be refused or ignored; only death or a hang is wrong.
  for (const version of [0, 2, 3]) out.push(mk('bad-version', R.badHeader, false, `GET_FEATURES with version ${version}`, getFeatures(version)));
  // "Bit 2 is the reply flag - needs to be sent on each reply from the back-end": never on a request.
  out.push(mk('reply-flag-on-request', R.badHeader, false, 'GET_FEATURES with the reply flag set', getFeatures(V | VHOST_USER_REPLY_MASK)));
  // A size that promises more than is sent: the back-end must wait or give up, never answer the short frame.
  out.push(mk('size-over-payload', R.badHeader, true, 'GET_FEATURES header size 8, no payload sent', getFeatures(V, 8)));
  out.push(mk('size-over-payload', R.badHeader, true, 'SET_VRING_NUM header size 16, 8 payload bytes sent', num0(16)));
  // A size smaller than the payload: the declared payload is too short for a vring state.
  out.push(mk('size-under-payload', R.badHeader, true, 'SET_VRING_NUM header size 4, 8 payload bytes sent', num0(4)));
  out.push(mk('size-under-payload', R.badHeader, true, 'SET_VRING_NUM header size 0, 8 payload bytes sent', num0(0)));
  out.push(mk('size-max', R.badHeader, true, 'GET_FEATURES header size 0xffffffff', getFeatures(V, 0xffff_ffff)));
  out.push(mk('size-max', R.badHeader, true, 'SET_VRING_NUM header size 0xffffffff, 8 payload bytes sent', num0(0xffff_ffff)));
  for (const n of [1, 4, 8, 11]) {
    out.push(mk('truncated-header', R.badHeader, true, `first ${n} of the 12 header bytes of GET_FEATURES`, getFeatures(V).subarray(0, n)));
  }

  // "Communication": the doc lists codes 1-43; anything else is unknown.
  for (const code of UNKNOWN_CODES) out.push(mk('unknown-request', R.unknown, true, `request code ${h(code)} with need_reply`, frame(code, ACK)));
  out.push(mk('unknown-request', R.unknown, true, 'request code 0x2c with need_reply, 8 payload bytes and 2 fds', frame(44, ACK, { type: 'u64', value: { u64: 0n } }), 2));

  // Only indices the back-end does not report are out of range: 255 is a valid vring of a back-end with 128 queue pairs (DPDK).
  const indices = [...new Set([queues, 255, 256, 0xffff, 0x1_0000, 0xffff_ffff])].filter((i) => i >= queues);
  for (const code of STATE_INDEXED) for (const i of indices) out.push(stateIndexed(code, i));
  const words = [...new Set([queues, queues | VHOST_USER_VRING_NOFD_MASK, 255, 256, 0xffff, 0x1_0000, 0xffff_ffff].map(BigInt))];
  for (const code of FILE_INDEXED) for (const w of words) out.push(fileIndexed(code, w, queues));

  // DPDK vhost_user_set_vring_num(): a split ring's size is a power of two,
  // at most 32768. Zero is let through there, so it is only dubious.
  for (const num of [0, 3, 0x8001, 0x1_0000, 0xffff_ffff]) {
    const bytes = frame(M.VHOST_USER_SET_VRING_NUM, ACK, { type: 'vringState', value: { index: 0, num } });
    // A bad size may be refused when the ring starts (only then is split vs packed known, and packed
    // sizes need not be powers of 2): an immediate success ack is allowed; the case checks survival.
    out.push(mk('vring-num', R.num, false, `SET_VRING_NUM index 0 num ${h(num)}`, bytes));
  }

  // "VHOST_USER_SET_VRING_KICK": without bit 8 an fd must come along.
  for (const code of FILE_INDEXED) {
    out.push(mk('missing-fd', R.fdCount, true, `${shortName(code)} index 0, bit 8 clear, no fd`, frame(code, ACK, { type: 'vringFile', value: { u64: 0n } })));
  }
  // "VHOST_USER_SET_MEM_TABLE": one fd per region.
  out.push(mk('missing-fd', R.fdCount, true, 'SET_MEM_TABLE with 2 regions and 1 fd', memTable(2, [plain(0), plain(1)]), 1));
  out.push(mk('missing-fd', R.fdCount, true, 'SET_MEM_TABLE with 1 region and no fd', memTable(1, [plain(0)])));

  // Fds on messages that take none must be closed; the message itself may still succeed.
  out.push(mk('surplus-fds', R.surplusFds, false, 'GET_FEATURES with 3 fds', getFeatures(V), 3));
  out.push(mk('surplus-fds', R.surplusFds, false, 'SET_VRING_NUM index 0 with 2 fds', num0(), 2));
  const nofdWithFd = frame(M.VHOST_USER_SET_VRING_CALL, ACK, { type: 'vringFile', value: { u64: BigInt(VHOST_USER_VRING_NOFD_MASK) } });
  out.push(mk('surplus-fds', R.surplusFds, false, 'SET_VRING_CALL index 0 with bit 8 (no fd) set and 1 fd', nofdWithFd, 1));

  // The session has no memory table and no ring size yet: ring addresses
  // cannot be translated, a kick would start a ring of size 0. The doc does
  // not say whether such a message is refused or kept for later (DPDK
  // translates lazily), so only survival is asked for.
  const addr = { index: 0, flags: 0, desc_user_addr: 0x7f00_0000_0000n, used_user_addr: 0x7f00_0000_2000n, avail_user_addr: 0x7f00_0000_1000n, log_guest_addr: 0n };
  out.push(mk('out-of-order', R.survives, false, 'SET_VRING_ADDR index 0 before SET_MEM_TABLE', frame(M.VHOST_USER_SET_VRING_ADDR, ACK, { type: 'vringAddr', value: addr })));
  out.push(mk('out-of-order', R.survives, false, 'SET_VRING_KICK index 0 (with fd) before SET_VRING_NUM', frame(M.VHOST_USER_SET_VRING_KICK, ACK, { type: 'vringFile', value: { u64: 0n } }), 1));
  out.push(mk('out-of-order', R.survives, false, 'GET_VRING_BASE index 0 of a ring never set up', frame(M.VHOST_USER_GET_VRING_BASE, V, { type: 'vringState', value: { index: 0, num: 0 } })));

  // "Multiple Memory regions description": at most 8 regions (region0 … region7).
  for (const n of [9, 64]) {
    const regions = Array.from({ length: n }, (_, i) => plain(i));
    out.push(mk('too-many-regions', R.regions, true, `SET_MEM_TABLE nregions ${n} with ${n} regions, ${Math.min(n, MAX_FDS)} fds`, memTable(n, regions), Math.min(n, MAX_FDS)));
  }
  const eight = Array.from({ length: VHOST_MEMORY_BASELINE_NREGIONS }, (_, i) => plain(i));
  out.push(mk('too-many-regions', R.regions, true, 'SET_MEM_TABLE nregions 0xffffffff with 8 regions, 8 fds', memTable(0xffff_ffff, eight), 8));

  // Catalogue D3 / L9: start + size wrapping 64 bits must not yield a short mapping.
  out.push(overflowing('guest_phys_addr', 0x2000n, U64_MAX - 0xfffn));
  out.push(overflowing('userspace_addr', 0x2000n, U64_MAX - 0xfffn));
  out.push(overflowing('mmap_offset', 0x2000n, U64_MAX - 0xfffn));
  out.push(overflowing('mmap_offset', U64_MAX, 1n));
  // A zero size makes an inclusive end (start + size - 1) wrap below start;
  // the doc does not forbid an empty region, so only survival is asked for.
  out.push(mk('zero-size-region', R.overflow, false, 'SET_MEM_TABLE with one region of size 0', memTable(1, [{ ...plain(0), memory_size: 0n }]), 1));
  out.push(mk('zero-size-region', R.overflow, false, 'SET_MEM_TABLE region of size 0 at guest address 0xffffffffffffffff', memTable(1, [region(U64_MAX, 0n, 0x7f00_0000_0000n, 0n)]), 1));

  // "Inflight description" lists 8+8+2+2 bytes, 24 as the C struct; DPDK vhost_user_set_inflight_fd() and
  // libvhost-user vu_set_inflight_fd() refuse any other size. Exactly `size` bytes are sent, so framing holds.
  const inflight = encodePayload({ type: 'inflight', value: { mmap_size: 0x1000n, mmap_offset: 0n, num_queues: 1, queue_size: 8 } });
  for (const size of [20, 16, 0]) {
    out.push(mk('inflight-size', R.inflight, true, `SET_INFLIGHT_FD with a ${size}-byte description (24 expected) and 1 fd`, encodeFrame(M.VHOST_USER_SET_INFLIGHT_FD, ACK, inflight.subarray(0, size)), 1));
  }
  return out;
}

// ------------------------------------------------------------------ generated

const u32 = fc.nat({ max: 0xffff_ffff });
/** Boundary-heavy 64-bit values. */
const u64 = fc.oneof(fc.constantFrom(0n, 1n, 0xfffn, 0x1000n, 1n << 32n, 1n << 63n, U64_MAX - 0xfffn, U64_MAX), fc.bigInt({ min: 0n, max: U64_MAX }));

function unknownRequest(): fc.Arbitrary<RawCase> {
  const code = fc.oneof(fc.constant(0), fc.integer({ min: 44, max: 0xffff }), fc.integer({ min: 0x1_0000, max: 0xffff_ffff }));
  return fc.record({ code, payload: fc.uint8Array({ maxLength: 64 }), fds: fc.nat({ max: 3 }) }).map(({ code, payload, fds }) =>
    mk('unknown-request', R.unknown, true, `request code ${h(code)} with need_reply, ${payload.length} payload bytes, ${fds} fds`, encodeFrame(code, ACK, payload), fds),
  );
}

function vringIndex(queues: number): fc.Arbitrary<RawCase> {
  const index = fc.oneof(fc.integer({ min: queues, max: 0x1_0000 }), fc.integer({ min: queues, max: 0xffff_ffff }));
  const state = fc.tuple(fc.constantFrom(...STATE_INDEXED), index).map(([code, i]) => stateIndexed(code, i));
  // Bits 0-7 out of range; bits 9-63 anything, which the doc leaves undefined.
  const word = fc
    .tuple(fc.integer({ min: Math.min(queues, 0xff), max: 0xff }), fc.boolean(), fc.bigInt({ min: 0n, max: (1n << 55n) - 1n }))
    .map(([i, noFd, rest]) => BigInt(i) | (noFd ? BigInt(VHOST_USER_VRING_NOFD_MASK) : 0n) | (rest << 9n));
  const file = fc.tuple(fc.constantFrom(...FILE_INDEXED), word).map(([code, w]) => fileIndexed(code, w, queues));
  return fc.oneof(state, file);
}

function badHeader(): fc.Arbitrary<RawCase> {
  const version = u32.filter((f) => (f & 0x3) !== VHOST_USER_VERSION).map((flags) =>
    mk('bad-version', R.badHeader, false, `GET_FEATURES with flags ${h(flags)}`, frame(M.VHOST_USER_GET_FEATURES, flags)),
  );
  // SET_VRING_NUM's payload is exactly 8 bytes; any other size is a lie.
  const size = u32.filter((s) => s !== 8).map((size) => {
    const bytes = frame(M.VHOST_USER_SET_VRING_NUM, ACK, { type: 'vringState', value: { index: 0, num: 128 } }, size);
    return size > 8
      ? mk('size-over-payload', R.badHeader, true, `SET_VRING_NUM header size ${h(size)}, 8 payload bytes sent`, bytes)
      : mk('size-under-payload', R.badHeader, true, `SET_VRING_NUM header size ${size}, 8 payload bytes sent`, bytes);
  });
  const truncated = fc.tuple(u32, u32, u32, fc.integer({ min: 1, max: VHOST_USER_HEADER.size - 1 })).map(([request, flags, sz, n]) =>
    mk('truncated-header', R.badHeader, true, `first ${n} bytes of header (request ${h(request)}, flags ${h(flags)}, size ${h(sz)})`, encodeFrame(request, flags, new Uint8Array(0), sz).subarray(0, n)),
  );
  return fc.oneof(version, size, truncated);
}

function memoryTables(): fc.Arbitrary<RawCase> {
  const tooMany = fc.tuple(fc.integer({ min: VHOST_MEMORY_BASELINE_NREGIONS + 1, max: 0xffff_ffff }), fc.nat({ max: 16 })).map(([n, sent]) => {
    const regions = Array.from({ length: Math.min(n, sent) }, (_, i) => plain(i));
    const fds = Math.min(regions.length, MAX_FDS);
    return mk('too-many-regions', R.regions, true, `SET_MEM_TABLE nregions ${h(n)} with ${regions.length} regions, ${fds} fds`, memTable(n, regions), fds);
  });
  const overflow = fc
    .tuple(fc.constantFrom<OverflowField>('guest_phys_addr', 'userspace_addr', 'mmap_offset'), fc.bigInt({ min: 1n, max: U64_MAX }), u64)
    .map(([field, size, pick]) => {
      // Any start in [2^64 - size, 2^64) wraps.
      const base = U64_MAX - (pick % size);
      return overflowing(field, size, base);
    });
  return fc.oneof(tooMany, overflow);
}

/** Random hostile frames of every generated kind; the seeds cover the rest. */
export function rawCaseArbitrary(queues: number): fc.Arbitrary<RawCase> {
  return fc.oneof(unknownRequest(), vringIndex(queues), badHeader(), memoryTables());
}

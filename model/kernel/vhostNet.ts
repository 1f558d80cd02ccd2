// The reference model of one /dev/vhost-net session's control plane and
// device IOTLB messages: which answers each request may get, and which
// requirement (spec/requirements/vhostKernel.ts) an answer breaks. Pure: no
// I/O, no clock. Written from the UAPI (include/uapi/linux/vhost.h,
// vhost_types.h) and, for the DE_FACTO rules, from drivers/vhost/vhost.c and
// net.c (functions cited per rule). Where kernels differ or the text leaves
// room, every answer any of them gives is accepted.
import { VHOST_IOTLB_MISS, VHOST_IOTLB_MSG, VHOST_IOTLB_MSG_V2, VHOST_IOTLB_UPDATE, VHOST_IOTLB_INVALIDATE, vhost_msg_v2 } from '../../spec/vhost/types.ts';
import type { Verdict } from '../../spec/verdicts.ts';
import { type Harm, violation } from '../outcome.ts';

/** The two vqs of vhost-net (drivers/vhost/net.c VHOST_NET_VQ_RX = 0, VHOST_NET_VQ_TX = 1). */
export const VHOST_NET_VQS = 2;
/** VHOST_VRING_F_LOG as a flags mask (vhost_types.h: the only defined vhost_vring_addr flag). */
const F_LOG = 1;
/** vhost_types.h VHOST_PAGE_SIZE; one log bit covers one page (vhost.h VHOST_SET_LOG_BASE). */
const LOG_PAGE = 0x1000n;
const U64 = (1n << 64n) - 1n;

/**
 * User addresses as the model classifies them without knowing the kernel's TASK_SIZE: memory the
 * session mapped (VhostNetState.userWindow) and anything below 2^38 (under the smallest 64-bit
 * user address space Linux has, riscv sv39) is user memory; the kernel half from 2^63 and ranges
 * that wrap are not. In between, either answer is accepted.
 */
const SURELY_USER = 1n << 38n;
const SURELY_KERNEL = 1n << 63n;
type Certainty = 'yes' | 'no' | 'maybe';

/** access_ok(addr, len) as the model can decide it (include/asm-generic/access_ok.h, arch/x86 valid_user_address). */
function userRange(s: Pick<VhostNetState, 'userWindow'>, addr: bigint, len: bigint): Certainty {
  const end = addr + len;
  if (end > U64 + 1n || addr >= SURELY_KERNEL) return 'no';
  const w = s.userWindow;
  if (end <= SURELY_USER || (w && addr >= w.base && end <= w.base + w.size)) return 'yes';
  return 'maybe';
}

export interface Region {
  readonly gpa: bigint;
  readonly size: bigint;
  readonly uaddr: bigint;
}

export interface Mapping {
  readonly iova: bigint;
  /** Inclusive end: iova + size - 1. */
  readonly last: bigint;
  readonly uaddr: bigint;
  readonly perm: number;
}

export interface VringAddrs {
  readonly flags: number;
  readonly desc: bigint;
  readonly avail: bigint;
  readonly used: bigint;
  readonly log: bigint;
}

export interface VqModel {
  /** undefined: never set in this ownership, or reset to the kernel's default (not the suite's business). */
  readonly num?: number;
  /** The next avail index the device reads (SET_VRING_BASE, then advanced by the data path). */
  readonly base?: number;
  readonly addr?: VringAddrs;
  /** A backend (tap) is attached: the ring is "running" (vhost.h: "the ring is running" for SET_VRING_NUM). */
  readonly running: boolean;
  /** A kick eventfd is bound (VHOST_SET_VRING_KICK): a signal on it runs the ring. */
  readonly kickBound?: boolean;
}

/** A miss the kernel may have queued on the fd: readable by the next read. */
export interface PossibleMiss {
  readonly iova: bigint;
  /** The perm values the model lets through when it matches a message to this miss. */
  readonly perms: readonly number[];
  /** The access the device was making (1 read, 2 write), when the model knows it: the perm asked for must grant it. */
  readonly access?: 1 | 2;
}

export interface VhostNetState {
  readonly owner: boolean;
  readonly features: bigint;
  readonly backendFeatures: bigint;
  /** The memory table: 'none' never set; 'unknown' after RESET_OWNER (a kernel may keep an empty table or none). */
  readonly mem: readonly Region[] | 'none' | 'unknown';
  readonly logBase: bigint;
  readonly vqs: readonly VqModel[];
  /** The device IOTLB when VIRTIO_F_ACCESS_PLATFORM is acked, else null (vhost_net_set_features). */
  readonly iotlb: readonly Mapping[] | null;
  /** Misses queued and not yet read: `due` of them must be readable; any of `possible` may be. */
  readonly misses: { readonly due: number; readonly possible: readonly PossibleMiss[] };
  /** Memory the session mapped in the process that owns the device: certainly user memory. */
  readonly userWindow?: { readonly base: bigint; readonly size: bigint };
}

/** What the device offered when the run began (KernelProfile facts). */
export interface VhostNetFacts {
  readonly offeredBackendFeatures: bigint;
  /** /sys/module/vhost/parameters/max_mem_regions, when the guest lets us read it. */
  readonly maxMemRegions?: number;
}

export function initialState(userWindow?: VhostNetState['userWindow']): VhostNetState {
  return {
    ...(userWindow ? { userWindow } : {}),
    owner: false,
    features: 0n,
    backendFeatures: 0n,
    mem: 'none',
    logBase: 0n,
    vqs: Array.from({ length: VHOST_NET_VQS }, () => ({ running: false })),
    iotlb: null,
    misses: { due: 0, possible: [] },
  };
}

export type VhostNetRequest =
  | { readonly op: 'setOwner' }
  | { readonly op: 'resetOwner' }
  | { readonly op: 'setFeatures'; readonly features: bigint }
  | { readonly op: 'getBackendFeatures' }
  | { readonly op: 'setBackendFeatures'; readonly features: bigint }
  | { readonly op: 'setVringNum'; readonly index: number; readonly num: number }
  | { readonly op: 'setVringBase'; readonly index: number; readonly num: number }
  | { readonly op: 'getVringBase'; readonly index: number }
  | ({ readonly op: 'setVringAddr'; readonly index: number } & VringAddrs)
  | { readonly op: 'setVringFile'; readonly which: 'kick' | 'call' | 'err'; readonly index: number; readonly unbind: boolean }
  | { readonly op: 'setVringEndian'; readonly index: number; readonly num: number }
  | { readonly op: 'setMemTable'; readonly padding: number; readonly regions: readonly Region[] }
  | { readonly op: 'setLogBase'; readonly base: bigint }
  | { readonly op: 'setBackend'; readonly index: number; readonly attach: boolean }
  | { readonly op: 'iotlbWrite'; readonly bytes: Uint8Array }
  | { readonly op: 'iotlbRead'; readonly length: number };

/** The kernel's answer, as the session reports it. `empty`: a read found nothing within its wait. */
export type VhostNetAnswer =
  | { readonly kind: 'ok'; readonly ret: number; readonly out: Uint8Array }
  | { readonly kind: 'error'; readonly errno: string }
  | { readonly kind: 'empty' };

export interface Allowed {
  readonly kind: VhostNetAnswer['kind'];
  /** For errors: the errnos accepted (absent: any). */
  readonly errnos?: readonly string[];
  /** For ok: null when the value is right, else why not. */
  readonly check?: (a: Extract<VhostNetAnswer, { kind: 'ok' }>) => string | null;
  readonly next: VhostNetState;
}

export interface Prediction {
  readonly requirement: string;
  readonly allowed: readonly Allowed[];
  /** What an answer nothing allows amounts to (model/outcome.ts Harm). */
  readonly harm: Harm;
  readonly note: string;
}

export interface VhostNetJudgement {
  readonly verdict: Verdict;
  readonly requirement: string;
  readonly next: VhostNetState;
  readonly detail: string;
}

const ok = (next: VhostNetState, check?: Allowed['check']): Allowed => (check ? { kind: 'ok', next, check } : { kind: 'ok', next });
const err = (next: VhostNetState, ...errnos: string[]): Allowed => (errnos.length ? { kind: 'error', next, errnos } : { kind: 'error', next });
const predict1 = (requirement: string, note: string, allowed: Allowed[], harm: Harm = 'deviation'): Prediction => ({ requirement, allowed, harm, note });

function withVq(s: VhostNetState, index: number, vq: Partial<VqModel>): VhostNetState {
  return { ...s, vqs: s.vqs.map((q, i) => (i === index ? { ...q, ...vq } : q)) };
}

const hasIotlb = (s: VhostNetState): boolean => s.iotlb !== null;
const logAll = (s: VhostNetState): boolean => (s.features & (1n << 26n)) !== 0n;

/** log_access_ok(log_base, addr, sz) (drivers/vhost/vhost.c): the bitmap bytes for [addr, addr+sz) are user memory. */
function logCovers(s: Pick<VhostNetState, 'userWindow'>, base: bigint, addr: bigint, size: bigint): Certainty {
  const a = addr / LOG_PAGE / 8n;
  if (a > U64 - base) return 'no';
  return userRange(s, base + a, (size + LOG_PAGE * 8n - 1n) / LOG_PAGE / 8n);
}

const worst = (cs: readonly Certainty[]): Certainty => (cs.includes('no') ? 'no' : cs.includes('maybe') ? 'maybe' : 'yes');

/**
 * vq_log_access_ok() for a running ring with log base `base`: every region's log bits when
 * VHOST_F_LOG_ALL is acked, and the used ring's when the ring logs it (VHOST_VRING_F_LOG, no IOTLB).
 */
function ringLogOk(s: VhostNetState, vq: VqModel, base: bigint, all = logAll(s)): Certainty {
  const regions = Array.isArray(s.mem) ? (s.mem as readonly Region[]) : [];
  const cs: Certainty[] = all ? regions.map((r) => logCovers(s, base, r.gpa, r.size)) : [];
  if (vq.addr && vq.addr.flags & F_LOG && !hasIotlb(s) && vq.num !== undefined) cs.push(logCovers(s, base, vq.addr.log, BigInt(6 + 8 * vq.num)));
  return worst(cs);
}

/** vhost_overflow() + access_ok() of each region (vq_memory_access_ok), checked once a ring runs. */
function regionsUsable(s: VhostNetState, regions: readonly Region[]): Certainty {
  return worst(regions.map((r) => userRange(s, r.uaddr, r.size)));
}

/**
 * The owner and index gates every vring ioctl passes first: vhost_net_ioctl() → vhost_dev_ioctl()
 * → vhost_dev_check_owner() (EPERM when this process's mm is not the owner's, including "no owner
 * yet"), then vhost_get_vq_from_user() (ENOBUFS for index >= nvqs).
 */
function gates(s: VhostNetState, index: number | null): Prediction | null {
  if (!s.owner) return predict1('vhost.owner.required', 'no VHOST_SET_OWNER in this ownership: vhost_dev_check_owner() refuses', [err(s, 'EPERM')]);
  if (index !== null && (index >= VHOST_NET_VQS || index < 0))
    // An out-of-range index that succeeds would have been used to index d->vqs[]: memory safety.
    return predict1('vhost.vring.index-range', `index ${index} >= ${VHOST_NET_VQS} vqs`, [err(s, 'ENOBUFS')], 'memory-safety');
  return null;
}

export interface Coverage {
  /** Every byte of the range is in some mapping. */
  readonly covered: boolean;
  /** The first byte no mapping holds. */
  readonly firstGap?: bigint;
  /** Every mapping met grants `perm`. */
  readonly permOk: boolean;
  /**
   * Mappings overlap in the range. vhost.h does not say which of two overlapping UPDATEs wins, and
   * vhost_iotlb_add_range() keeps both (translate_desc() takes the lowest start): the model then
   * accepts what either would give.
   */
  readonly ambiguous: boolean;
}

/** How the device IOTLB covers [iova, iova+len-1] for an access needing `perm`. */
export function iotlbCovers(map: readonly Mapping[], iova: bigint, len: bigint, perm: number): Coverage {
  const last = iova + len - 1n;
  const hits = map.filter((m) => m.iova <= last && m.last >= iova);
  const ambiguous = hits.some((a, i) => hits.some((b, j) => i < j && a.iova <= b.last && b.iova <= a.last));
  let at = iova;
  let permOk = true;
  for (;;) {
    const m = hits.find((x) => x.iova <= at && at <= x.last);
    if (!m) return { covered: false, firstGap: at, permOk, ambiguous };
    if ((m.perm & perm) !== perm) permOk = false;
    if (m.last >= last) return { covered: true, permOk, ambiguous };
    at = m.last + 1n;
  }
}

/** vhost_iotlb_add_range(): the new range joins the tree; overlapped ones stay (see Coverage.ambiguous). */
function iotlbAdd(map: readonly Mapping[], m: Mapping): Mapping[] {
  return [...map, m];
}

/** vhost_iotlb_del_range(): removes every mapping that overlaps [start, last] (whole entries, not the overlap). */
function iotlbDel(map: readonly Mapping[], start: bigint, last: bigint): Mapping[] {
  return map.filter((x) => x.last < start || x.iova > last);
}

/** The size of the used ring the kernel touches: flags, idx, num elems, avail_event (vhost_get_used_size()). */
const usedSize = (num: number): bigint => BigInt(4 + 8 * num + 2);
const availSize = (num: number): bigint => BigInt(4 + 2 * num + 2);
const descSize = (num: number): bigint => BigInt(16 * num);

/**
 * What attaching a backend needs, as vhost_net_set_backend() checks it: vhost_vq_access_ok()
 * (a memory table to exist — vq_memory_access_ok() refuses a NULL umem —, every region usable,
 * the log when logging), then vhost_vq_init_access() writes used->flags and reads used->idx.
 */
function predictAttach(s: VhostNetState, index: number): Prediction {
  const vq = s.vqs[index]!;
  const running = withVq(s, index, { running: true });
  const stays = s;
  if (vq.running) return predict1('vhost.mem.overflow', 'the same tap again: nothing to check', [ok(s), err(s)]);
  if (Array.isArray(s.mem)) {
    const regions = s.mem as readonly Region[];
    const usable = regionsUsable(s, regions);
    if (usable === 'no') return predict1('vhost.mem.overflow', 'a region wraps 2^64 or is not user memory: vq_memory_access_ok() refuses it now', [err(stays, 'EFAULT')]);
    const log = ringLogOk(s, vq, s.logBase);
    if (log === 'no') return predict1('vhost.log.base-checked', 'the log area cannot cover guest memory: vq_log_access_ok() refuses', [err(stays, 'EFAULT')]);
    if (usable === 'maybe' || log === 'maybe' || vq.num === undefined || !vq.addr) return predict1('vhost.mem.overflow', 'addresses the model cannot classify', [ok(running), err(stays)]);
  } else {
    return predict1('vhost.mem.overflow', 'no memory table (or one the model cannot know after RESET_OWNER)', [err(stays, 'EFAULT'), ...(s.mem === 'unknown' ? [ok(running)] : [])]);
  }
  if (s.iotlb) {
    // With a device IOTLB the first access is vhost_update_used_flags(): vhost_put_user() →
    // __vhost_get_user() → translate_desc(); an unmapped used ring queues a miss and fails.
    const c = iotlbCovers(s.iotlb, vq.addr.used, 2n, 0x1);
    if (c.ambiguous) return predict1('vhost.mem.overflow', 'overlapping mappings hold the used ring', [ok(withMaybeMisses(running, vq)), err({ ...stays, misses: { due: s.misses.due, possible: [...s.misses.possible, { iova: vq.addr.used, perms: [1, 2, 3] }] } })]);
    if (!c.covered) {
      // __vhost_get_user_slow() asks with VHOST_ACCESS_RO even for this write; a kernel asking WO or RW is as right.
      const miss: PossibleMiss = { iova: c.firstGap!, perms: [1, 2, 3], access: 2 };
      return predict1('vhost.iotlb.miss-on-unmapped', `used ring ${hex(vq.addr.used)} unmapped: the kernel must ask for it`, [
        err({ ...stays, misses: { due: s.misses.due + 1, possible: [...s.misses.possible, miss] } }, 'EFAULT'),
      ]);
    }
    // The TX poll (and a pending kick) may run the ring right after it starts: it may ask for what it lacks.
    return predict1('vhost.mem.overflow', 'the used ring is mapped', [ok(withMaybeMisses(running, vq)), err(stays)]);
  }
  return predict1('vhost.mem.overflow', 'a usable table and ring: attaching is the kernel\'s call', [ok(running), err(stays)]);
}

/** After a ring starts (or is kicked) with a device IOTLB, vq_meta_prefetch() may ask for any unmapped part of it. */
function withMaybeMisses(s: VhostNetState, vq: VqModel): VhostNetState {
  if (!s.iotlb || !vq.addr || vq.num === undefined) return s;
  const extra: PossibleMiss[] = [];
  for (const [addr, len, perm] of [[vq.addr.desc, descSize(vq.num), 1], [vq.addr.avail, availSize(vq.num), 1], [vq.addr.used, usedSize(vq.num), 2]] as const) {
    const c = iotlbCovers(s.iotlb, addr, len, perm);
    if (!c.covered || c.ambiguous) extra.push({ iova: c.firstGap ?? addr, perms: [perm, 1, 2, 3], access: perm });
    if (c.ambiguous) extra.push(...s.iotlb.filter((m) => m.iova <= addr + len - 1n && m.last >= addr).map((m) => ({ iova: m.last + 1n, perms: [1, 2, 3] })));
  }
  return extra.length ? { ...s, misses: { due: s.misses.due, possible: [...s.misses.possible, ...extra] } } : s;
}

/**
 * A kick on a running ring with a device IOTLB: vq_meta_prefetch() checks the descriptor table and
 * avail ring (read) and the used ring (write) in that order; the first byte no mapping holds is
 * asked for (iotlb_access_ok() → vhost_iotlb_miss()), a mapping without the permission stops the
 * ring silently. The suite's rings hold no buffers here (avail idx 0), so nothing else is read.
 */
export function afterKick(s: VhostNetState, index: number): VhostNetState {
  const vq = s.vqs[index];
  if (!s.iotlb || !vq?.running || !vq.kickBound || !vq.addr || vq.num === undefined) return s;
  for (const [addr, len, perm] of [[vq.addr.desc, descSize(vq.num), 1], [vq.addr.avail, availSize(vq.num), 1], [vq.addr.used, usedSize(vq.num), 2]] as const) {
    const c = iotlbCovers(s.iotlb, addr, len, perm);
    if (c.ambiguous) return withMaybeMisses(s, vq);
    if (!c.covered) return { ...s, misses: { due: s.misses.due + 1, possible: [...s.misses.possible, { iova: c.firstGap!, perms: [perm, 1, 2, 3], access: perm }] } };
    if (!c.permOk) return s;
  }
  return s;
}

/**
 * Where used->flags of a stopped ring sits in user memory when the device IOTLB maps it, unambiguously,
 * without write permission: starting the ring must then leave it alone (vhost.iotlb.perm-enforced;
 * vhost_vq_init_access() → vhost_update_used_flags() writes it). Null when no such mapping holds it.
 */
export function readOnlyUsedFlags(s: VhostNetState, index: number): { readonly uaddr: bigint; readonly perm: number } | null {
  const vq = s.vqs[index];
  const used = vq?.addr?.used;
  if (!s.iotlb || !vq || used === undefined || vq.running) return null;
  const m = s.iotlb.find((x) => x.iova <= used && used + 1n <= x.last);
  if (!m || iotlbCovers(s.iotlb, used, 2n, 2).ambiguous || m.perm & 2) return null;
  return { uaddr: m.uaddr + (used - m.iova), perm: m.perm };
}

export function hex(v: bigint | number): string {
  return `0x${v.toString(16)}`;
}

function predictVring(s: VhostNetState, r: Extract<VhostNetRequest, { index: number }>): Prediction {
  const g = gates(s, r.index);
  if (g) return g;
  const vq = s.vqs[r.index]!;
  switch (r.op) {
    case 'setVringNum':
      // vhost.h: "the ring is running" — vhost_vring_set_num() refuses a resize with EBUSY. A MUST_NOT: any refusal passes.
      if (vq.running) return predict1('vhost.vring.num-immutable', 'resizing a running ring', [err(s)]);
      if (r.num === 0 || r.num > 0xffff || (r.num & (r.num - 1)) !== 0) return predict1('vhost.vring.num-valid', `num ${r.num} is 0, above 0xffff or not a power of two`, [err(s, 'EINVAL')]);
      return predict1('vhost.vring.num-valid', `num ${r.num} is valid`, [ok(withVq(s, r.index, { num: r.num }))]);
    case 'setVringBase':
      if (vq.running) return predict1('vhost.vring.base-busy', 'moving the base of a running ring', [err(s, 'EBUSY')]);
      // VIRTIO_F_RING_PACKED is not negotiated here (the suite never acks it): a split ring's base is 16 bits.
      if (r.num > 0xffff) return predict1('vhost.vring.base-busy', `split-ring base ${r.num} > 0xffff`, [err(s, 'EINVAL')]);
      return predict1('vhost.vring.base-busy', `base ${r.num}`, [ok(withVq(s, r.index, { base: r.num }))]);
    case 'getVringBase': {
      const index = r.index;
      const base = vq.base;
      return predict1('vhost.vring.get-base', base === undefined ? 'the base was never set in this ownership' : `the base is ${base}`, [
        ok(s, (a) => {
          const got = { index: readU32(a.out, 0), num: readU32(a.out, 4) };
          if (got.index !== index) return `GET_VRING_BASE wrote index ${got.index}, asked ${index}`;
          if (base !== undefined && got.num !== base) return `GET_VRING_BASE says ${got.num}, the next avail index is ${base}`;
          if (base === undefined && got.num > 0xffff) return `a split ring's base ${got.num} > 0xffff`;
          return null;
        }),
      ]);
    }
    case 'setVringAddr': {
      // vhost_vring_set_addr(): unknown flags → EOPNOTSUPP first, then avail (2), used (4), log (4) alignment → EINVAL.
      if (r.flags & ~F_LOG) return predict1('vhost.vring.addr-checked', `flags ${hex(r.flags)} beyond VHOST_VRING_F_LOG`, [err(s, 'EOPNOTSUPP')]);
      if (r.avail & 1n || r.used & 3n || r.log & 3n) return predict1('vhost.vring.addr-checked', 'avail not 2-aligned, used or log not 4-aligned', [err(s, 'EINVAL')]);
      const next = withVq(s, r.index, { addr: { flags: r.flags, desc: r.desc, avail: r.avail, used: r.used, log: r.log } });
      // The descriptor table's 16-byte alignment (virtio 2.7.5) is not checked by vhost: refusing it is as right.
      const descOdd = (r.desc & 15n) !== 0n;
      if (vq.running) {
        const c = worst([s.iotlb ? 'yes' : worst([userRange(s, r.desc, 1n), userRange(s, r.avail, 1n), userRange(s, r.used, 1n)]), r.flags & F_LOG && !s.iotlb && vq.num !== undefined ? logCovers(s, s.logBase, r.log, usedSize(vq.num)) : 'yes']);
        if (c === 'no') return predict1('vhost.vring.addr-checked', 'a running ring moved out of user memory: vq_access_ok() refuses', [err(s, 'EINVAL')]);
        return predict1('vhost.vring.addr-checked', 'aligned addresses on a running ring', [ok(next), ...(c === 'maybe' || descOdd ? [err(s)] : [])]);
      }
      return predict1('vhost.vring.addr-checked', 'aligned addresses, checked when the ring starts', descOdd ? [ok(next), err(s, 'EINVAL')] : [ok(next)]);
    }
    case 'setVringFile':
      // vhost_types.h: VHOST_FILE_UNBIND (-1) detaches; an eventfd attaches.
      return predict1('vhost.vring.file-unbind', r.unbind ? `${r.which} fd -1 detaches` : `${r.which} eventfd`, [ok(r.which === 'kick' ? withVq(s, r.index, { kickBound: !r.unbind }) : s)]);
    case 'setVringEndian':
      // vhost.h: legacy cross-endian support is optional (CONFIG_VHOST_CROSS_ENDIAN_LEGACY): without it
      // the ioctl is unknown (ENOIOCTLCMD reaches user space as ENOTTY).
      if (vq.running) return predict1('vhost.vring.endian', 'endianness of a running ring', [err(s, 'EBUSY', 'ENOTTY')]);
      if (r.num !== 0 && r.num !== 1) return predict1('vhost.vring.endian', `endianness ${r.num} is neither 0 nor 1`, [err(s, 'EINVAL', 'ENOTTY')]);
      return predict1('vhost.vring.endian', `endianness ${r.num}`, [ok(s), err(s, 'ENOTTY')]);
    case 'setBackend': {
      if (r.attach) return predictAttach(s, r.index);
      // vhost_net_set_backend() runs vhost_vq_access_ok() before it looks at the fd, even to detach. De facto, a
      // detach first drops every message queued on the fd (vhost_clear_msg()): a miss not read by then may be gone.
      const cleared: VhostNetState = { ...s, misses: { due: 0, possible: s.misses.possible } };
      const stopped = withVq(cleared, r.index, { running: false });
      return predict1('vhost.mem.overflow', 'detaching the backend', vq.running ? [ok(stopped)] : [ok(stopped), err(cleared, 'EFAULT')]);
    }
  }
}

function readU32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

function readU64(b: Uint8Array, at: number): bigint {
  return BigInt(readU32(b, at)) | (BigInt(readU32(b, at + 4)) << 32n);
}

function predictMemTable(s: VhostNetState, r: Extract<VhostNetRequest, { op: 'setMemTable' }>, facts: VhostNetFacts): Prediction {
  const g = gates(s, null);
  if (g) return g;
  const n = r.regions.length;
  // vhost_set_memory(): padding → EOPNOTSUPP, then more than max_mem_regions (module parameter, default 64) → E2BIG.
  if (r.padding !== 0) return predict1('vhost.mem.region-limit', 'non-zero padding', [err(s, 'EOPNOTSUPP')]);
  const limit = facts.maxMemRegions;
  if (limit === undefined && n > 64) return predict1('vhost.mem.region-limit', `${n} regions, the limit unknown`, [ok({ ...s, mem: r.regions }), err(s, 'E2BIG')]);
  if (limit !== undefined && n > limit) return predict1('vhost.mem.region-limit', `${n} regions > max_mem_regions ${limit}`, [err(s, 'E2BIG')]);
  // vhost_iotlb_add_range() refuses a range whose last byte wraps (or a size of 0): EFAULT from vhost_set_memory().
  if (r.regions.some((x) => x.size === 0n || x.gpa + x.size - 1n > U64)) return predict1('vhost.mem.overflow', 'a region of size 0 or whose guest range wraps 2^64', [err(s, 'EFAULT')]);
  const next: VhostNetState = { ...s, mem: r.regions };
  const running = s.vqs.filter((q) => q.running);
  if (running.length === 0) {
    // Nothing runs: vhost_set_memory() checks regions only for running rings. Refusing earlier is stricter, and allowed.
    return predict1('vhost.mem.overflow', 'no ring runs: regions are checked when one starts', regionsUsable(s, r.regions) === 'yes' ? [ok(next)] : [ok(next), err(s, 'EFAULT')]);
  }
  const usable = regionsUsable(s, r.regions);
  if (usable === 'no') return predict1('vhost.mem.overflow', 'a running ring and a region that wraps 2^64 or is not user memory', [err(s, 'EFAULT')]);
  const logs = running.map((q) => ringLogOk({ ...s, mem: r.regions }, q, s.logBase));
  if (logs.includes('no')) return predict1('vhost.log.base-checked', 'the log cannot cover the new table', [err(s, 'EFAULT')]);
  return predict1('vhost.mem.overflow', 'a usable table', usable === 'maybe' || logs.includes('maybe') ? [ok(next), err(s, 'EFAULT')] : [ok(next)]);
}

function predictLogBase(s: VhostNetState, base: bigint): Prediction {
  const g = gates(s, null);
  if (g) return g;
  // VHOST_SET_LOG_BASE (vhost_dev_ioctl): each running ring checks vq_log_access_ok(); a failing ring keeps its old base.
  const checks = s.vqs.map((q) => (q.running ? ringLogOk(s, q, base) : 'yes'));
  const next: VhostNetState = { ...s, logBase: base };
  if (checks.includes('no')) return predict1('vhost.log.base-checked', `log base ${hex(base)} cannot cover a running ring's log`, [err(s, 'EFAULT')]);
  return predict1('vhost.log.base-checked', `log base ${hex(base)}`, checks.includes('maybe') ? [ok(next), err(s, 'EFAULT')] : [ok(next)]);
}

function predictFeatures(s: VhostNetState, features: bigint): Prediction {
  const wasAll = logAll(s);
  const all = (features & (1n << 26n)) !== 0n;
  // vhost_net_set_features(): with VHOST_F_LOG_ALL, vhost_log_access_ok() checks every running ring's log.
  const next: VhostNetState = { ...s, features, iotlb: (features & (1n << 33n)) !== 0n ? (s.iotlb ?? []) : null };
  if (all) {
    const checks = s.vqs.map((q) => (q.running ? worst(Array.isArray(s.mem) ? (s.mem as readonly Region[]).map((r) => logCovers(s, s.logBase, r.gpa, r.size)) : []) : 'yes'));
    if (checks.includes('no')) return predict1('vhost.log.base-checked', 'VHOST_F_LOG_ALL with a log base that cannot cover guest memory', [err(s, 'EFAULT')]);
    // vhost_types.h VHOST_F_LOG_ALL: "Can be changed while device is active."
    if (checks.includes('maybe')) return predict1('vhost.log.all-live', 'a log base the model cannot classify', [ok(next), err(s, 'EFAULT')]);
  }
  return predict1('vhost.log.all-live', `${all === wasAll ? 'keeping' : 'changing'} VHOST_F_LOG_ALL${s.vqs.some((q) => q.running) ? ' on a running device' : ''}`, [ok(next)]);
}

function iotlbWriteLength(s: VhostNetState, bytes: Uint8Array): Prediction | null {
  // vhost_chr_write_iter(): the type word, then (v1) the hole up to the iotlb, or (v2) the asid word, then the
  // whole vhost_iotlb_msg; anything shorter is EINVAL.
  if (bytes.length < 4) return predict1('vhost.iotlb.msg-size-mismatch', `${bytes.length} bytes: no type word`, [err(s, 'EINVAL')]);
  const type = readU32(bytes, 0);
  if (type !== VHOST_IOTLB_MSG && type !== VHOST_IOTLB_MSG_V2) return predict1('vhost.iotlb.msg-type', `message type ${type}`, [err(s, 'EINVAL')]);
  // The iotlb starts at 8 in both layouts; its 32 bytes (26 used + padding) must all be there.
  if (bytes.length < 8 + 32) return predict1('vhost.iotlb.msg-size-mismatch', `${bytes.length} bytes < 40 (header + struct vhost_iotlb_msg)`, [err(s, 'EINVAL')]);
  return null;
}

function predictIotlbWrite(s: VhostNetState, bytes: Uint8Array): Prediction {
  const short = iotlbWriteLength(s, bytes);
  if (short) return short;
  const type = readU32(bytes, 0);
  const asid = readU32(bytes, 4);
  const iova = readU64(bytes, 8);
  const size = readU64(bytes, 16);
  const uaddr = readU64(bytes, 24);
  const perm = bytes[32]!;
  const kind = bytes[33]!;
  const full = type === VHOST_IOTLB_MSG ? 72 : vhost_msg_v2.size;
  const okLen = (a: Extract<VhostNetAnswer, { kind: 'ok' }>): string | null => (a.ret === full ? null : `the write returned ${a.ret}, not sizeof(vhost_msg${type === VHOST_IOTLB_MSG ? '' : '_v2'}) = ${full}`);
  if (kind === VHOST_IOTLB_UPDATE && size === 0n) return predict1('vhost.iotlb.update-zero-size-rejected', 'UPDATE of size 0', [err(s, 'EINVAL')]);
  // The generic handler takes only ASID 0. Without VHOST_BACKEND_F_IOTLB_ASID the kernel does not read the asid word
  // (vhost_chr_write_iter() skips it), so a non-zero word is then ignored: both answers are right there.
  const asidRead = (s.backendFeatures & (1n << 3n)) !== 0n;
  if (asid !== 0 && type === VHOST_IOTLB_MSG_V2 && asidRead) return predict1('vhost.iotlb.asid-zero-only', `ASID ${asid}`, [err(s, 'EINVAL', 'EFAULT')]);
  const asidNote = asid !== 0 && type === VHOST_IOTLB_MSG_V2 ? ` (ASID word ${asid} unread without VHOST_BACKEND_F_IOTLB_ASID)` : '';
  if (!s.iotlb) {
    // No device IOTLB (ACCESS_PLATFORM not acked): vhost_process_iotlb_msg() has nothing to update (EFAULT).
    return predict1('vhost.iotlb.msg-type', `an IOTLB message without a device IOTLB${asidNote}`, [err(s, 'EFAULT', 'EINVAL')]);
  }
  if (kind === VHOST_IOTLB_UPDATE) {
    const last = iova + size - 1n;
    // umem_access_ok(): uaddr+size must not wrap and must be user memory; vhost_iotlb_add_range(): last >= start.
    // umem_access_ok(): the wrap always, user memory only for the access the mapping grants: a mapping with
    // neither RO nor WO reaches nothing, so the kernel may take it whatever its uaddr.
    const wraps = uaddr + size > U64 + 1n;
    const ua = wraps ? 'no' : (perm & 3) === 0 ? (userRange(s, uaddr, size) === 'yes' ? 'yes' : 'maybe') : userRange(s, uaddr, size);
    if (last > U64 || ua === 'no') return predict1('vhost.iotlb.update-uaddr-checked', `UPDATE iova ${hex(iova)} size ${hex(size)} uaddr ${hex(uaddr)}: wraps or not user memory`, [err(s, 'EFAULT')]);
    const map = iotlbAdd(s.iotlb, { iova, last, uaddr, perm });
    const next: VhostNetState = { ...s, iotlb: map };
    // A pending miss the update covers is answered: vhost_iotlb_notify_vq() requeues its ring.
    return predict1('vhost.iotlb.msg-v2', `UPDATE [${hex(iova)}, ${hex(last)}] perm ${perm}${asidNote}`, ua === 'yes' ? [ok(next, okLen)] : [ok(next, okLen), err(s, 'EFAULT')]);
  }
  if (kind === VHOST_IOTLB_INVALIDATE) {
    // Size 0: EINVAL before newer kernels, accepted (an empty or whole range) after. Both conform.
    if (size === 0n) return predict1('vhost.iotlb.invalidate-zero-size', 'INVALIDATE of size 0', [ok(s, okLen), ok({ ...s, iotlb: [] }, okLen), err(s, 'EINVAL')]);
    const last = iova + size - 1n > U64 ? U64 : iova + size - 1n;
    return predict1('vhost.iotlb.invalidate-removes', `INVALIDATE [${hex(iova)}, ${hex(last)}]${asidNote}`, [ok({ ...s, iotlb: iotlbDel(s.iotlb, iova, last) }, okLen)]);
  }
  // MISS, ACCESS_FAIL, BATCH_* (not offered by vhost-net: VHOST_NET_BACKEND_FEATURES) and unknown types: the handler's EINVAL becomes EFAULT.
  return predict1('vhost.iotlb.msg-type', `iotlb type ${kind} is neither UPDATE nor INVALIDATE`, [err(s, 'EFAULT', 'EINVAL')]);
}

/** vhost_chr_read_iter(): a buffer smaller than struct vhost_msg (72) reads nothing; otherwise the next queued miss. */
function predictIotlbRead(s: VhostNetState, length: number): Prediction {
  if (length < 72) return predict1('vhost.iotlb.read-short-buffer', `a ${length}-byte buffer`, [ok(s, (a) => (a.ret === 0 ? null : `read ${a.ret} bytes into a ${length}-byte buffer`)), { kind: 'empty', next: s }]);
  const { due, possible } = s.misses;
  const drained: VhostNetState = { ...s, misses: { due: Math.max(0, due - 1), possible } };
  const check = (a: Extract<VhostNetAnswer, { kind: 'ok' }>): string | null => {
    const b = a.out;
    if (a.ret !== 72) return `read ${a.ret} bytes, a message is 72`;
    const iova = readU64(b, 8);
    const perm = b[32]!;
    if (b[33] !== VHOST_IOTLB_MISS) return `iotlb type ${b[33]} read from the fd (only MISS is sent)`;
    if (!possible.some((p) => p.iova === iova && p.perms.includes(perm))) return `a MISS for ${hex(iova)} perm ${perm} nothing asked for (expected one of ${possible.map((p) => hex(p.iova)).join(', ') || 'none'})`;
    return null;
  };
  if (due > 0) {
    return {
      requirement: 'vhost.iotlb.miss-on-unmapped',
      note: `${due} miss(es) queued`,
      // No miss to read leaves the ring waiting for an UPDATE nobody knows to send: a hang.
      harm: 'hang',
      allowed: [{ kind: 'ok', next: drained, check }],
    };
  }
  return predict1('vhost.iotlb.miss-on-unmapped', 'no miss is due (one the ring may have asked for may come)', [{ kind: 'empty', next: s }, ...(possible.length ? [ok(s, check)] : [])]);
}

/**
 * The format rules a message read from the fd must follow, each under its own requirement: the
 * layout negotiated (vhost_types.h: struct vhost_msg_v2 once VHOST_BACKEND_F_IOTLB_MSG_V2 is set)
 * and no uninitialised byte (vhost_new_msg() kzalloc()s the node: the v1 hole, the asid word, a
 * miss's size and uaddr, and the padding after the iotlb are zero).
 */
export function messageFindings(bytes: Uint8Array, backendFeatures: bigint): { readonly requirement: string; readonly problem: string | null }[] {
  const v2 = (backendFeatures & (1n << 1n)) !== 0n;
  const type = readU32(bytes, 0);
  const layout = type === (v2 ? VHOST_IOTLB_MSG_V2 : VHOST_IOTLB_MSG) ? null : `message type ${type} with IOTLB_MSG_V2 ${v2 ? '' : 'not '}negotiated`;
  const mustBeZero = [4, 5, 6, 7, ...Array.from({ length: 16 }, (_, i) => 16 + i), ...Array.from({ length: 72 - 34 }, (_, i) => 34 + i)];
  const dirty = mustBeZero.filter((i) => bytes[i] !== 0);
  return [
    { requirement: 'vhost.iotlb.msg-v2', problem: layout },
    { requirement: 'vhost.iotlb.no-info-leak', problem: dirty.length ? `bytes ${dirty.slice(0, 8).join(', ')}${dirty.length > 8 ? ' …' : ''} of a MISS are not zero` : null },
  ];
}

/**
 * The perm a MISS asks for must grant the access the device was making (vhost_types.h: the miss
 * carries the iova and the access; translate_desc() → vhost_iotlb_miss(vq, addr, access)): asking
 * read-only for a write invites a read-only answer the write then goes through. Null when the
 * message matches no miss whose access the model knows.
 */
export function missPermFinding(s: VhostNetState, bytes: Uint8Array): { readonly requirement: string; readonly problem: string | null } | null {
  const iova = readU64(bytes, 8);
  const perm = bytes[32]!;
  const known = s.misses.possible.filter((p) => p.iova === iova && p.access !== undefined);
  if (!known.length) return null;
  const granted = known.some((p) => (perm & p.access!) === p.access);
  const what = known.map((p) => (p.access === 2 ? 'write' : 'read')).join(' or ');
  return { requirement: 'vhost.iotlb.miss-on-unmapped', problem: granted ? null : `the MISS for ${hex(iova)} asks perm ${perm} for a ${what}` };
}

/** Everything the model predicts for one request. */
export function predict(s: VhostNetState, r: VhostNetRequest, facts: VhostNetFacts): Prediction {
  switch (r.op) {
    case 'setOwner':
      // vhost.h: "Set current process as the (exclusive) owner of this file descriptor."
      if (s.owner) return predict1('vhost.owner.exclusive', 'a second SET_OWNER', [err(s)]);
      return predict1('vhost.owner.exclusive', 'the first SET_OWNER', [ok({ ...s, owner: true })]);
    case 'resetOwner': {
      if (!s.owner) return predict1('vhost.owner.required', 'RESET_OWNER without an owner', [err(s, 'EPERM')]);
      // vhost.h: "Give up ownership, and reset the device to default values." What the defaults are is the kernel's.
      const fresh = initialState(s.userWindow);
      // Features and backend features go back to none (no device IOTLB); whether an empty memory table stays is the kernel's.
      return predict1('vhost.owner.reset', 'RESET_OWNER by the owner', [ok({ ...fresh, mem: 'unknown' })]);
    }
    case 'setFeatures':
      return predictFeatures(s, r.features);
    case 'getBackendFeatures':
      return predict1('vhost.backend-features.get', 'GET_BACKEND_FEATURES', [ok(s, (a) => (readU64(a.out, 0) === facts.offeredBackendFeatures ? null : `now ${hex(readU64(a.out, 0))}, at probe time ${hex(facts.offeredBackendFeatures)}`))]);
    case 'setBackendFeatures': {
      const extra = r.features & ~facts.offeredBackendFeatures;
      if (extra) return predict1('vhost.backend-features.get', `bits ${hex(extra)} were not offered`, [err(s)]);
      return predict1('vhost.backend-features.get', `a subset ${hex(r.features)} of the offer`, [ok({ ...s, backendFeatures: r.features })]);
    }
    case 'setMemTable':
      return predictMemTable(s, r, facts);
    case 'setLogBase':
      return predictLogBase(s, r.base);
    case 'iotlbWrite':
      return predictIotlbWrite(s, r.bytes);
    case 'iotlbRead':
      return predictIotlbRead(s, r.length);
    default:
      return predictVring(s, r);
  }
}

/** The verdict for the kernel's answer: PASS when the prediction allows it, else the requirement's violation. */
export function judgeAnswer(p: Prediction, a: VhostNetAnswer, s: VhostNetState): VhostNetJudgement {
  let mismatch: string | null = null;
  for (const al of p.allowed) {
    if (al.kind !== a.kind) continue;
    if (a.kind === 'error' && al.errnos && !al.errnos.includes(a.errno)) {
      mismatch ??= `${a.errno}, expected ${al.errnos.join(' or ')}`;
      continue;
    }
    if (a.kind === 'ok' && al.check) {
      const why = al.check(a);
      if (why) {
        mismatch ??= why;
        continue;
      }
    }
    return { verdict: 'PASS', requirement: p.requirement, next: al.next, detail: p.note };
  }
  const said = a.kind === 'error' ? a.errno : a.kind === 'ok' ? `ok (${a.ret})` : 'nothing';
  const expected = p.allowed.map((x) => (x.kind === 'error' ? (x.errnos?.join('|') ?? 'an error') : x.kind)).join(' or ');
  // A wrong answer leaves the model where the kernel says it is when it can tell: a refused step changes nothing.
  const next = a.kind === 'error' ? s : (p.allowed.find((x) => x.kind === a.kind)?.next ?? s);
  // A wrong value or errno of an allowed kind is a deviation; an answer of a kind nothing allows carries the prediction's harm.
  return { verdict: violation(p.requirement, mismatch ? 'deviation' : p.harm), requirement: p.requirement, next, detail: `${p.note}: the kernel said ${mismatch ?? said}, expected ${expected}` };
}

// Guest memory regions and the device IOTLB, as the device must see them.
// Ranges are inclusive [start, last] throughout, as in Linux vhost_iotlb,
// because an exclusive end overflows for a range ending at 2^64-1 (bug-catalog L9, L10, L14).
import type { MemRegionDesc } from '../spec/requests.ts';

const U64_MAX = 0xffff_ffff_ffff_ffffn;
/** vhost-user.rst SET_MEM_TABLE: at most VHOST_MEMORY_BASELINE_NREGIONS regions. */
const MAX_MEM_REGIONS = 8;

const IOTLB_PERM = { RO: 1, WO: 2, RW: 3 } as const;

export interface IotlbEntry {
  readonly iova: bigint;
  readonly last: bigint;
  readonly uaddr: bigint;
  readonly perm: number;
  /**
   * The remnant of an entry an INVALIDATE covered only in part: Linux vhost and DPDK drop the whole
   * entry, a back-end that trims keeps this part; vhost-user.rst allows either, so it may or may not be mapped.
   */
  readonly maybe?: boolean;
}

/** Inclusive last address of [start, start+size), or null when size is 0 or it wraps 64 bits. */
export function lastOf(start: bigint, size: bigint): bigint | null {
  if (size <= 0n || start < 0n || start > U64_MAX) return null;
  const last = start + size - 1n;
  return last > U64_MAX ? null : last;
}

export function memTableValid(regions: readonly MemRegionDesc[]): boolean {
  if (regions.length > MAX_MEM_REGIONS) return false;
  return regions.every((r) => lastOf(r.gpa, r.size) !== null && lastOf(r.uaddr, r.size) !== null);
}

/** Why an IOTLB UPDATE must be refused: an empty or wrapping IOVA range (L9), a wrapping uaddr range, or no access at all. */
export type IotlbRefusal = 'iova-range' | 'uaddr-range' | 'perm';

export function iotlbUpdateRefusal(iova: bigint, size: bigint, uaddr: bigint, perm: number): IotlbRefusal | null {
  if (lastOf(iova, size) === null) return 'iova-range';
  if (lastOf(uaddr, size) === null) return 'uaddr-range';
  return perm < IOTLB_PERM.RO || perm > IOTLB_PERM.RW ? 'perm' : null;
}

/** New IOTLB after an UPDATE, or null when the request must be refused. */
export function iotlbUpdate(tlb: readonly IotlbEntry[], iova: bigint, size: bigint, uaddr: bigint, perm: number): IotlbEntry[] | null {
  if (iotlbUpdateRefusal(iova, size, uaddr, perm) !== null) return null;
  return [...tlb, { iova, last: iova + size - 1n, uaddr, perm }];
}

/**
 * Invalidates [iova, iova+size-1]: every entry overlapping it, at either end (bug-catalog D15), is
 * gone inside the range; what an overlapping entry had outside the range survives only as "maybe".
 */
/** The last IOVA an invalidate of [iova, iova+size) reaches: a size 0 or a range past 2^64 runs to the end of the space. */
export function invalidateLast(iova: bigint, size: bigint): bigint {
  return lastOf(iova, size) ?? U64_MAX;
}

export function iotlbInvalidate(tlb: readonly IotlbEntry[], iova: bigint, size: bigint): IotlbEntry[] {
  const last = invalidateLast(iova, size);
  return tlb.flatMap((e) => {
    if (e.last < iova || e.iova > last) return [e];
    const rest: IotlbEntry[] = [];
    if (e.iova < iova) rest.push({ ...e, last: iova - 1n, maybe: true });
    if (e.last > last) rest.push({ ...e, iova: last + 1n, uaddr: e.uaddr + (last + 1n - e.iova), maybe: true });
    return rest;
  });
}

export type Access = 'read' | 'write';

/**
 * Translates [addr, addr+len) through `map`, piece by piece. Returns the
 * pieces (target address, length) or null if any byte is unmapped or lacks
 * the permission: a device must translate the whole range, never only its
 * start (bug-catalog D1, L1).
 */
export function translateRange(
  addr: bigint,
  len: number,
  map: readonly { readonly start: bigint; readonly last: bigint; readonly to: bigint; readonly perm: number }[],
  access: Access,
): { to: bigint; len: number }[] | null {
  if (len === 0) return [];
  const last = lastOf(addr, BigInt(len));
  if (last === null) return null;
  const need = access === 'read' ? IOTLB_PERM.RO : IOTLB_PERM.WO;
  const pieces: { to: bigint; len: number }[] = [];
  let at = addr;
  while (at <= last) {
    const e = map.find((m) => at >= m.start && at <= m.last);
    if (!e || (e.perm & need) === 0) return null;
    const end = e.last < last ? e.last : last;
    pieces.push({ to: e.to + (at - e.start), len: Number(end - at + 1n) });
    at = end + 1n;
  }
  return pieces;
}

/** A memory table as a translation map from guest-physical to front-end virtual addresses. */
export function memTableMap(regions: readonly MemRegionDesc[]): { start: bigint; last: bigint; to: bigint; perm: number }[] {
  return regions.map((r) => ({ start: r.gpa, last: r.gpa + r.size - 1n, to: r.uaddr, perm: IOTLB_PERM.RW }));
}

/** The IOTLB as a translation map: definite entries only, or (lenient) with the "maybe" remnants after them. */
export function iotlbMap(tlb: readonly IotlbEntry[], lenient = false): { start: bigint; last: bigint; to: bigint; perm: number }[] {
  const definite = tlb.filter((e) => !e.maybe);
  const entries = lenient ? [...definite, ...tlb.filter((e) => e.maybe)] : definite;
  return entries.map((e) => ({ start: e.iova, last: e.last, to: e.uaddr, perm: e.perm }));
}

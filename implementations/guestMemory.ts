// The guest memory layout every adapter shares with its device. Two regions
// that are contiguous in guest-physical space but not in the host mapping
// nor in front-end virtual space, with guard bytes before, between and after
// them: a device that translates only the start of a range (bug-catalog D1),
// assumes a range crossing regions is host-contiguous (L1) or overruns a
// buffer writes into a guard, where the canary oracle sees it.
import type { GuestMemory, GuestRegion } from './target.ts';

const GUARD_BYTES = 4096;
export const REGION_BYTES = 1 << 20;
const CANARY_BYTE = 0xa5;

export interface RegionPlan {
  readonly gpa: bigint;
  readonly uaddr: bigint;
  readonly size: number;
}

/** GPA 0..2 MiB in two regions; uaddrs far apart as in a real front-end process. */
const STANDARD_LAYOUT: readonly RegionPlan[] = [
  { gpa: 0x0n, uaddr: 0x7f00_0000_0000n, size: REGION_BYTES },
  { gpa: BigInt(REGION_BYTES), uaddr: 0x7f40_0000_0000n, size: REGION_BYTES },
];

export function backingSize(plan: readonly RegionPlan[] = STANDARD_LAYOUT): number {
  return plan.reduce((n, r) => n + r.size + GUARD_BYTES, GUARD_BYTES);
}

/** Lays the plan out in `backing` (a Buffer or a shared mapping of a memfd) and fills the guards with canaries. */
export function layOutGuestMemory(backing: Buffer, plan: readonly RegionPlan[] = STANDARD_LAYOUT): GuestMemory {
  if (backing.length < backingSize(plan)) throw new Error(`guest memory backing too small: ${backing.length} < ${backingSize(plan)}`);
  const regions: GuestRegion[] = [];
  const guards: { start: number; end: number }[] = [];
  let at = 0;
  for (const r of plan) {
    guards.push({ start: at, end: at + GUARD_BYTES });
    at += GUARD_BYTES;
    regions.push({ gpa: r.gpa, uaddr: r.uaddr, bytes: backing.subarray(at, at + r.size), backingOffset: at });
    at += r.size;
  }
  guards.push({ start: at, end: at + GUARD_BYTES });
  for (const g of guards) backing.fill(CANARY_BYTE, g.start, g.end);
  return { regions, backing, guards };
}

const CANARY_GUARD = Buffer.alloc(GUARD_BYTES, CANARY_BYTE);

/** The first guard byte whose canary was overwritten, or -1. Checked after every kick, so compared natively first. */
export function damagedGuardOffset(mem: GuestMemory): number {
  for (const g of mem.guards) {
    const view = mem.backing.subarray(g.start, g.end);
    if (view.length === CANARY_GUARD.length && view.equals(CANARY_GUARD)) continue;
    for (let i = g.start; i < g.end; i++) if (mem.backing[i] !== CANARY_BYTE) return i;
  }
  return -1;
}

/** Resolves a guest-physical range to a view, or null unless one region covers it entirely. */
export function gpaView(mem: GuestMemory, gpa: bigint, len: number): Buffer | null {
  for (const r of mem.regions) {
    const end = r.gpa + BigInt(r.bytes.length);
    if (gpa >= r.gpa && gpa + BigInt(len) <= end) {
      const off = Number(gpa - r.gpa);
      return r.bytes.subarray(off, off + len);
    }
  }
  return null;
}

// Address translation of the back-end: the memory table from SET_MEM_TABLE
// (vhost-user.rst "Memory access") and the device IOTLB (vhost-user.rst
// "IOMMU support", linux/vhost_types.h vhost_iotlb_msg).
//
// Without ACCESS_PLATFORM, ring addresses (SET_VRING_ADDR) are front-end
// virtual addresses and descriptor addresses are guest-physical; both are
// looked up in the memory table. With ACCESS_PLATFORM both are IOVAs: the
// IOTLB turns them into front-end virtual addresses, then the memory table
// (virtio 1.2 §6 VIRTIO_F_ACCESS_PLATFORM).
//
// A range crossing mappings is translated piecewise, one host range per
// mapping it touches, as Linux translate_desc() does (bug-catalog L1): the
// standard guest memory is GPA-contiguous but not host-contiguous, so a
// crossing buffer can never be used as one host range. Any gap fails the
// whole range; no part of it is used.
import type { MemRegionDesc } from '../../spec/requests.ts';
import { VHOST_ACCESS_RO, VHOST_ACCESS_RW, VHOST_ACCESS_WO } from '../../spec/vhost/types.ts';
import { VHOST_MEMORY_BASELINE_NREGIONS } from '../../spec/vhostUser/payloads.ts';
import type { GuestMemory } from '../target.ts';
import type { HostRange } from './dma.ts';
import type { MutantSwitch } from './mutants/index.ts';

const U64_LIMIT = 1n << 64n;
/** The slot limit GET_MAX_MEM_SLOTS reports (libvhost-user's VHOST_USER_MAX_RAM_SLOTS is larger; any positive count is allowed). */
export const MAX_MEM_SLOTS = 32;
const U64_MASK = U64_LIMIT - 1n;

function isU64(v: bigint): boolean {
  return v >= 0n && v <= U64_MASK;
}

interface MemSlot {
  readonly gpa: bigint;
  readonly uaddr: bigint;
  readonly size: bigint;
  /** Where the slot starts in GuestMemory.backing: the "mmap" of the region. */
  readonly hostOff: number;
}

interface IotlbEntry {
  readonly iova: bigint;
  /** Inclusive, as in the kernel's vhost_iotlb_map (bug-catalog L10, L14). */
  readonly last: bigint;
  readonly uaddr: bigint;
  readonly perm: number;
}

type Key = 'gpa' | 'uaddr';

export class AddressSpace {
  private slots: MemSlot[] = [];
  /** Non-overlapping: an update replaces whatever it overlaps. */
  private iotlb: IotlbEntry[] = [];

  constructor(
    private readonly memory: GuestMemory,
    private readonly has: MutantSwitch,
  ) {}

  /**
   * Replaces the memory table. A region is accepted only if it describes
   * memory the front-end really shares (inside one guest region, with the
   * same GPA-to-uaddr offset) and neither gpa+size nor uaddr+size wraps 64
   * bits (vhost-user.robust.mem-region-overflow); at most 8 regions
   * (VHOST_MEMORY_BASELINE_NREGIONS). On failure the old table stays.
   */
  setMemTable(regions: readonly MemRegionDesc[]): boolean {
    if (regions.length > VHOST_MEMORY_BASELINE_NREGIONS) return false;
    const slots: MemSlot[] = [];
    for (const r of regions) {
      const slot = this.slotFor(r);
      if (slot === null) return false;
      slots.push(slot);
    }
    this.slots = slots;
    return true;
  }

  /** VHOST_USER_ADD_MEM_REG: one more region, checked as in setMemTable, within MAX_MEM_SLOTS and overlapping none. */
  addRegion(r: MemRegionDesc): boolean {
    const slot = this.slotFor(r);
    if (slot === null || this.slots.length >= MAX_MEM_SLOTS) return false;
    if (this.slots.some((s) => s.gpa < r.gpa + r.size && r.gpa < s.gpa + s.size)) return false;
    this.slots.push(slot);
    return true;
  }

  /** VHOST_USER_REM_MEM_REG: the region matching guest address, user address and size (mmap offset ignored) goes. */
  removeRegion(r: MemRegionDesc): boolean {
    const i = this.slots.findIndex((s) => s.gpa === r.gpa && s.uaddr === r.uaddr && s.size === r.size);
    if (i < 0) return false;
    if (!this.has('rem-mem-reg-keeps-mapping')) this.slots.splice(i, 1);
    return true;
  }

  /** The guest-physical address of a host byte, for dirty logging: through the slot that maps it. */
  gpaAtHost(off: number): bigint | null {
    const s = this.slots.find((x) => off >= x.hostOff && BigInt(off - x.hostOff) < x.size);
    return s === undefined ? null : s.gpa + BigInt(off - s.hostOff);
  }

  private slotFor(r: MemRegionDesc): MemSlot | null {
    if (!isU64(r.gpa) || !isU64(r.size) || !isU64(r.uaddr)) return null;
    if (r.gpa + r.size > U64_LIMIT || r.uaddr + r.size > U64_LIMIT) return null;
    // vhost-user.rst SET_MEM_TABLE maps any guest range onto shared memory: what must hold is that
    // the front-end-virtual range lies in memory the front-end shared, whatever GPA it is given.
    const shared = this.memory.regions.find((m) => r.uaddr >= m.uaddr && r.uaddr + r.size <= m.uaddr + BigInt(m.bytes.length));
    if (shared === undefined) return null;
    return { gpa: r.gpa, uaddr: r.uaddr, size: r.size, hostOff: shared.backingOffset + Number(r.uaddr - shared.uaddr) };
  }

  /** VHOST_IOTLB_UPDATE: size 0 and ranges past 2^64 are refused (bug-catalog L9). */
  iotlbUpdate(iova: bigint, size: bigint, uaddr: bigint, perm: number): boolean {
    if (!isU64(iova) || !isU64(size) || !isU64(uaddr)) return false;
    if (perm !== VHOST_ACCESS_RO && perm !== VHOST_ACCESS_WO && perm !== VHOST_ACCESS_RW) return false;
    if (size === 0n && !this.has('iotlb-zero-size-accepted')) return false;
    const last = iova + size - 1n;
    if (last > U64_MASK) return false;
    // Linux umem_access_ok(): the user range must not wrap either.
    if (size > 0n && uaddr + size - 1n > U64_MASK) return false;
    // The mutant's size 0 gives last = iova - 1, which wraps to 2^64-1 at iova 0.
    this.removeRange(iova, last & U64_MASK);
    this.iotlb.push({ iova, last: last & U64_MASK, uaddr, perm });
    return true;
  }

  /**
   * VHOST_IOTLB_INVALIDATE of [iova, iova+size-1] computed in u64 as the
   * kernel does, so size 0 at iova 0 is the whole space (the relaxed rule of
   * newer kernels, bug-catalog L9 follow-up) and a range past 2^64 stops there.
   */
  iotlbInvalidate(iova: bigint, size: bigint): boolean {
    if (!isU64(iova) || !isU64(size)) return false;
    const end = iova + size - 1n;
    const last = size === 0n ? end & U64_MASK : end > U64_MASK ? U64_MASK : end;
    if (this.has('iotlb-invalidate-start-only')) {
      // bug-catalog D15: the overlap test looks at the start address only.
      this.iotlb = this.iotlb.filter((e) => !(e.iova <= iova && iova <= e.last));
    } else {
      this.removeRange(iova, last);
    }
    return true;
  }

  clearIotlb(): void {
    this.iotlb = [];
  }

  /** A descriptor buffer: a GPA, or an IOVA with ACCESS_PLATFORM. `perm` is what the device will do with it. */
  buffer(addr: bigint, len: number, perm: number, iommu: boolean): HostRange[] | null {
    return iommu ? this.viaIotlb(addr, BigInt(len), perm) : this.lookup('gpa', addr, BigInt(len));
  }

  /** A ring area from SET_VRING_ADDR: a front-end virtual address, or an IOVA with ACCESS_PLATFORM. */
  ring(addr: bigint, len: number, perm: number, iommu: boolean): HostRange[] | null {
    return iommu ? this.viaIotlb(addr, BigInt(len), perm) : this.lookup('uaddr', addr, BigInt(len));
  }

  /** Drops [first, last] from every entry, keeping the parts of an entry outside it. */
  private removeRange(first: bigint, last: bigint): void {
    if (last < first) return;
    const kept: IotlbEntry[] = [];
    for (const e of this.iotlb) {
      if (e.last < first || e.iova > last) {
        kept.push(e);
        continue;
      }
      if (e.iova < first) kept.push({ ...e, last: first - 1n });
      if (e.last > last) kept.push({ ...e, iova: last + 1n, uaddr: e.uaddr + (last + 1n - e.iova) });
    }
    this.iotlb = kept;
  }

  private entryAt(iova: bigint): IotlbEntry | undefined {
    return this.iotlb.find((e) => e.iova <= iova && iova <= e.last);
  }

  private permits(e: IotlbEntry, perm: number): boolean {
    return this.has('iotlb-perm-ignored') || (e.perm & perm) === perm;
  }

  private viaIotlb(iova: bigint, len: bigint, perm: number): HostRange[] | null {
    if (len === 0n) return [];
    // C computes the last byte in u64; only the mutant lets it wrap (bug-catalog Q4, L14).
    const exact = iova + len - 1n;
    const last = this.has('addr-len-overflow-unchecked') ? exact & U64_MASK : exact;
    const first = this.entryAt(iova);
    if (first === undefined || !this.permits(first, perm)) return null;
    const pieces: { uaddr: bigint; len: bigint }[] = [];
    if (last <= first.last || this.has('iotlb-translate-start-only')) {
      pieces.push({ uaddr: first.uaddr + (iova - first.iova), len });
    } else {
      let cur = iova;
      while (cur <= last) {
        const e = this.entryAt(cur);
        if (e === undefined || !this.permits(e, perm)) return null;
        const end = e.last < last ? e.last : last;
        pieces.push({ uaddr: e.uaddr + (cur - e.iova), len: end - cur + 1n });
        cur = end + 1n;
      }
    }
    const out: HostRange[] = [];
    for (const p of pieces) {
      const h = this.lookup('uaddr', p.uaddr, p.len);
      if (h === null) return null;
      out.push(...h);
    }
    return out;
  }

  private slotAt(key: Key, addr: bigint): MemSlot | undefined {
    return this.slots.find((s) => s[key] <= addr && addr < s[key] + s.size);
  }

  private lookup(key: Key, addr: bigint, len: bigint): HostRange[] | null {
    if (len === 0n) return [];
    const exact = addr + len - 1n;
    let last = this.has('addr-len-overflow-unchecked') ? exact & U64_MASK : exact;
    const first = this.slotAt(key, addr);
    if (this.has('translate-start-only')) {
      // bug-catalog D1: only the first byte is checked, the rest assumed to follow in host memory.
      return first === undefined ? null : [{ off: first.hostOff + Number(addr - first[key]), len: Number(len) }];
    }
    // bug-catalog L10: the mutant looks up the byte after the range as well.
    if (this.has('translate-off-by-one-end')) last += 1n;
    const out: HostRange[] = [];
    let cur = addr;
    while (cur <= last) {
      const s = this.slotAt(key, cur);
      if (s === undefined) return null;
      const slotLast = s[key] + s.size - 1n;
      const end = slotLast < last ? slotLast : last;
      const useEnd = end < exact ? end : exact;
      if (useEnd >= cur) out.push({ off: s.hostOff + Number(cur - s[key]), len: Number(useEnd - cur + 1n) });
      cur = end + 1n;
    }
    if (this.has('cross-region-contiguous') && out.length > 1) {
      // bug-catalog L1: coverage checked, but the range used as one host run from its start.
      return [{ off: out[0].off, len: Number(len) }];
    }
    return out;
  }
}

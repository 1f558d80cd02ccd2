// The suite as a packed-virtqueue driver (virtio 1.2 §2.8): descriptors go
// into one ring in order, marked available with the driver's wrap counter;
// the device writes used descriptors back in the same ring. Queue sizes need
// not be powers of two, so indices wrap by comparison, never by mask.
import { encode } from '../../spec/codec.ts';
import {
  PACKED_DESC_SIZE, packedFlagAvail, packedFlagUsed, VRING_DESC_F_INDIRECT, VRING_DESC_F_NEXT, VRING_DESC_F_WRITE,
  VRING_PACKED_DESC_F_AVAIL, VRING_PACKED_DESC_F_USED, vring_packed_desc,
} from '../../spec/virtio/ring.ts';
import type { ChainShape } from '../../model/chain.ts';
import type { GuestMemory } from '../../implementations/target.ts';
import { putU16, readGpa, u16At, writeGpa } from './guestAccess.ts';
import { INDIRECT_STRIDE, type PlacedChain, type SplitRingAddrs, type UsedElem } from './splitRing.ts';

const NOT_A_BUFFER_ID = 0xffff;

export interface PackedUsedElem extends UsedElem {
  readonly flags: number;
  /**
   * Every ring slot (with its wrap counter) the used buffer covers: the one
   * the device wrote and those it skipped. A DESC event at any of them has
   * fired (virtio 1.2 §2.8.10; Linux vhost and QEMU test the same window).
   */
  readonly slots: readonly { readonly idx: number; readonly wrap: boolean }[];
}

export class PackedRingDriver {
  private nextAvail = 0;
  private availWrap = true;
  private nextUsed = 0;
  private usedWrap = true;
  private freeSlots: number;
  private readonly freeIds: number[];
  /** Descriptor count of each outstanding buffer id: the device skips that many slots (§2.8.6). In the order the buffers were made available. */
  private readonly slotsOfId = new Map<number, number>();
  /** Device-writable bytes of each outstanding buffer id. */
  private readonly writableOfId = new Map<number, number>();

  /** `inOrder`: VIRTIO_F_IN_ORDER was negotiated, so one used descriptor may stand for a whole batch. */
  constructor(private readonly mem: GuestMemory, readonly addrs: SplitRingAddrs, readonly num: number, private readonly inOrder = false) {
    this.freeSlots = num;
    this.freeIds = Array.from({ length: num }, (_, i) => i);
    writeGpa(mem, addrs.desc, new Uint8Array(num * PACKED_DESC_SIZE));
    writeGpa(mem, addrs.avail, new Uint8Array(4));
    writeGpa(mem, addrs.used, new Uint8Array(4));
  }

  get freeCount(): number {
    return Math.min(this.freeSlots, this.freeIds.length);
  }

  descriptorsNeeded(shape: ChainShape): number {
    if (shape.defect === 'loop') return this.num;
    return shape.indirect ? 1 : Math.max(1, shape.buffers.length);
  }

  private desc(addr: bigint, len: number, id: number, flags: number): Uint8Array {
    return encode(vring_packed_desc, { addr: BigInt.asUintN(64, addr), len: len >>> 0, id, flags });
  }

  addChain(shape: ChainShape): PlacedChain | null {
    const need = this.descriptorsNeeded(shape);
    if (need > this.freeSlots || this.freeIds.length === 0) return null;
    const id = this.freeIds.shift()!;
    const wrapFlags = (w: boolean) => packedFlagAvail(w) | packedFlagUsed(!w);
    const entries: { slot: number; bytes: Uint8Array }[] = [];
    let slot = this.nextAvail;
    let wrap = this.availWrap;
    // "Buffer ID is included in the last descriptor in the list" (§2.8.6): the others carry an id
    // no buffer has, so a device reading the id from the wrong descriptor is caught.
    // A looping chain has no last descriptor, so every descriptor carries the id there.
    const push = (addr: bigint, len: number, flags: number) => {
      const last = (flags & VRING_DESC_F_NEXT) === 0 || shape.defect === 'loop';
      entries.push({ slot, bytes: this.desc(addr, len, last ? id : NOT_A_BUFFER_ID, flags | wrapFlags(wrap)) });
      if (++slot >= this.num) {
        slot = 0;
        wrap = !wrap;
      }
    };
    if (shape.indirect) {
      const table = this.addrs.indirect + BigInt(id * INDIRECT_STRIDE * PACKED_DESC_SIZE);
      const bufs = shape.buffers.length ? shape.buffers : [{ addr: 0n, len: 0, write: false }];
      bufs.forEach((b, k) => {
        let flags = b.write ? VRING_DESC_F_WRITE : 0;
        if (shape.defect === 'nested-indirect' && k === 0) flags = VRING_DESC_F_INDIRECT;
        const addr = shape.defect === 'nested-indirect' && k === 0 ? table : b.addr;
        // Entries of an indirect table carry no AVAIL/USED bits and no id (§2.8.7).
        writeGpa(this.mem, table + BigInt(k * PACKED_DESC_SIZE), encode(vring_packed_desc, { addr: BigInt.asUintN(64, addr), len: b.len >>> 0, id: 0, flags }));
      });
      const len = bufs.length * PACKED_DESC_SIZE + (shape.defect === 'indirect-len-invalid' ? 3 : 0);
      push(table, len, VRING_DESC_F_INDIRECT);
    } else if (shape.defect === 'loop') {
      // A chain that never ends: every descriptor of the ring has NEXT, so the walk comes back to its head.
      const first = shape.buffers[0] ?? { addr: 0n, len: 0, write: false };
      const rest = shape.buffers[1] ?? first;
      for (let k = 0; k < need; k++) {
        const b = k === 0 ? first : rest;
        push(b.addr, b.len, VRING_DESC_F_NEXT | (b.write ? VRING_DESC_F_WRITE : 0));
      }
    } else {
      const bufs = shape.buffers.length ? shape.buffers : [{ addr: 0n, len: 0, write: false }];
      bufs.forEach((b, k) => push(b.addr, b.len, (b.write ? VRING_DESC_F_WRITE : 0) | (k < bufs.length - 1 ? VRING_DESC_F_NEXT : 0)));
    }
    // The head's flags make the whole chain visible, so it is written last (§2.8.21 "Making buffers available").
    for (const e of entries.slice(1)) writeGpa(this.mem, this.addrs.desc + BigInt(e.slot * PACKED_DESC_SIZE), e.bytes);
    writeGpa(this.mem, this.addrs.desc + BigInt(entries[0].slot * PACKED_DESC_SIZE), entries[0].bytes);
    this.nextAvail = slot;
    this.availWrap = wrap;
    this.freeSlots -= need;
    this.slotsOfId.set(id, need);
    this.writableOfId.set(id, shape.buffers.reduce((n, b) => n + (b.write ? b.len : 0), 0));
    return { head: id, descs: [] };
  }

  /** Packed rings publish through the descriptor flags themselves; nothing else to write. */
  publish(): void {}

  /** Whether the descriptor takeUsed would look at next has been marked used (§2.8.1). */
  get hasNewUsed(): boolean {
    const flags = u16At(this.mem, this.addrs.desc + BigInt(this.nextUsed * PACKED_DESC_SIZE) + 14n);
    const avail = (flags >> VRING_PACKED_DESC_F_AVAIL) & 1;
    const used = (flags >> VRING_PACKED_DESC_F_USED) & 1;
    return avail === used && used === (this.usedWrap ? 1 : 0);
  }

  /** Used descriptors written since the last call, in ring order. */
  takeUsed(): PackedUsedElem[] {
    const out: PackedUsedElem[] = [];
    for (let guard = 0; guard < this.num; guard++) {
      const b = readGpa(this.mem, this.addrs.desc + BigInt(this.nextUsed * PACKED_DESC_SIZE), PACKED_DESC_SIZE);
      const dv = new DataView(b.buffer, b.byteOffset, PACKED_DESC_SIZE);
      const flags = dv.getUint16(14, true);
      const avail = (flags >> VRING_PACKED_DESC_F_AVAIL) & 1;
      const used = (flags >> VRING_PACKED_DESC_F_USED) & 1;
      if (avail !== used || used !== (this.usedWrap ? 1 : 0)) break;
      const id = dv.getUint16(12, true);
      // §2.8 "In-order use of descriptors": with IN_ORDER one used descriptor, carrying the id of a batch's
      // last buffer, completes every buffer made available before it too; "the skipped buffers ... are
      // assumed to have been used (read or written) by the device completely".
      const outstanding = [...this.slotsOfId.keys()];
      const batch = this.inOrder && this.slotsOfId.has(id) ? outstanding.slice(0, outstanding.indexOf(id) + 1) : [id];
      for (const bid of batch) {
        const skip = this.slotsOfId.get(bid) ?? 1;
        const slots: { idx: number; wrap: boolean }[] = [];
        for (let k = 0; k < skip; k++) {
          slots.push({ idx: this.nextUsed, wrap: this.usedWrap });
          if (++this.nextUsed >= this.num) {
            this.nextUsed = 0;
            this.usedWrap = !this.usedWrap;
          }
        }
        // §2.8.4 "Element Address and Length": Element Length is reserved for used descriptors without
        // VIRTQ_DESC_F_WRITE, and is ignored by drivers; the flag says nothing was written (§2.8.3).
        const written = (flags & VRING_DESC_F_WRITE) !== 0;
        const len = bid !== id ? (this.writableOfId.get(bid) ?? 0) : written ? dv.getUint32(8, true) : 0;
        out.push({ id: bid, len, flags, slots });
        this.freeSlots += skip;
        this.slotsOfId.delete(bid);
        this.writableOfId.delete(bid);
        if (!this.freeIds.includes(bid) && bid < this.num) this.freeIds.push(bid);
      }
    }
    return out;
  }

  /** Driver event suppression structure, in the driver area (§2.8.14). */
  setDriverEvent(offWrap: number, flags: number): void {
    putU16(this.mem, this.addrs.avail, offWrap);
    putU16(this.mem, this.addrs.avail + 2n, flags);
  }

  /**
   * The off_wrap word naming the descriptor `ahead` slots past the next one the driver expects used
   * (virtio 1.2 §2.8.14: offset in bits 0-14, wrap counter in bit 15), so an event can fall on either lap.
   */
  usedEventAhead(ahead: number): number {
    let idx = this.nextUsed + ahead;
    let wrap = this.usedWrap;
    while (idx >= this.num) {
      idx -= this.num;
      wrap = !wrap;
    }
    return idx | (wrap ? 0x8000 : 0);
  }

  get driverEvent(): { offWrap: number; flags: number } {
    return { offWrap: u16At(this.mem, this.addrs.avail), flags: u16At(this.mem, this.addrs.avail + 2n) };
  }

  /** Vring base word for SET_VRING_BASE: index | wrap << 15 (Linux vhost packed encoding). */
  get availState(): { idx: number; wrap: boolean } {
    return { idx: this.nextAvail, wrap: this.availWrap };
  }

  driverOwnedAreas(): { gpa: bigint; len: number }[] {
    return [{ gpa: this.addrs.avail, len: 4 }];
  }
}

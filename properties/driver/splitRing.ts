// The suite as a split-virtqueue driver (virtio 1.2 §2.7): lays out
// descriptor chains, direct or indirect, valid or deliberately hostile,
// publishes them and reads used elements back.
import { encode } from '../../spec/codec.ts';
import {
  splitRingOffsets, SPLIT_DESC_SIZE, VRING_DESC_F_INDIRECT, VRING_DESC_F_NEXT, VRING_DESC_F_WRITE, vring_desc,
} from '../../spec/virtio/ring.ts';
import type { ChainShape } from '../../model/chain.ts';
import type { GuestMemory } from '../../implementations/target.ts';
import { putU16, readGpa, u16At, writeGpa } from './guestAccess.ts';

export interface SplitRingAddrs {
  readonly desc: bigint;
  readonly avail: bigint;
  readonly used: bigint;
  /** Where indirect tables of this queue go: one table of INDIRECT_STRIDE entries per head. */
  readonly indirect: bigint;
}

/** Entries reserved per indirect table; chains the suite builds have fewer buffers. */
export const INDIRECT_STRIDE = 16;

export interface UsedElem {
  readonly id: number;
  readonly len: number;
  /** The used ring entry it was read from. */
  readonly slot?: number;
}

/** A placed chain: the head the driver will see in the used ring and the descriptors it holds. */
export interface PlacedChain {
  readonly head: number;
  readonly descs: readonly number[];
}

export class SplitRingDriver {
  private readonly free: number[];
  private availIdx = 0;
  private lastUsed = 0;

  constructor(
    private readonly mem: GuestMemory,
    readonly addrs: SplitRingAddrs,
    readonly num: number,
    startIdx = 0,
  ) {
    this.free = Array.from({ length: num }, (_, i) => i);
    this.availIdx = startIdx & 0xffff;
    this.lastUsed = startIdx & 0xffff;
    writeGpa(mem, addrs.desc, new Uint8Array(num * SPLIT_DESC_SIZE));
    writeGpa(mem, addrs.avail, new Uint8Array(splitRingOffsets.usedEvent(num) + 2));
    writeGpa(mem, addrs.used, new Uint8Array(splitRingOffsets.availEvent(num) + 2));
    putU16(mem, addrs.avail + 2n, this.availIdx);
    putU16(mem, addrs.used + 2n, this.lastUsed);
  }

  get freeCount(): number {
    return this.free.length;
  }

  /** Descriptors a chain of this shape needs from the ring's table. */
  descriptorsNeeded(shape: ChainShape): number {
    if (shape.indirect) return 1;
    if (shape.defect === 'loop') return 2;
    return Math.max(1, shape.buffers.length);
  }

  private writeDesc(tableGpa: bigint, i: number, addr: bigint, len: number, flags: number, next: number): void {
    writeGpa(this.mem, tableGpa + BigInt(i * SPLIT_DESC_SIZE), encode(vring_desc, { addr: BigInt.asUintN(64, addr), len: len >>> 0, flags, next: next & 0xffff }));
  }

  /** Writes the chain into free descriptors and the avail ring (not yet published). Returns null if the ring is full. */
  addChain(shape: ChainShape): PlacedChain | null {
    const need = this.descriptorsNeeded(shape);
    if (need > this.free.length) return null;
    const descs = this.free.splice(0, need);
    const head = descs[0];
    if (shape.indirect) this.placeIndirect(shape, head);
    else this.placeDirect(shape, descs);
    const availHead = shape.defect === 'head-out-of-range' ? this.num + head : head;
    putU16(this.mem, this.addrs.avail + BigInt(splitRingOffsets.availRing(this.availIdx % this.num)), availHead);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    return { head, descs };
  }

  private placeDirect(shape: ChainShape, descs: number[]): void {
    if (shape.defect === 'loop') {
      // The request header, then a buffer whose `next` points at itself: a device without a chain
      // bound keeps appending the same buffer (bug-catalog D13, CVE-2019-3900 class).
      const first = shape.buffers[0] ?? { addr: 0n, len: 0, write: false };
      const second = shape.buffers[1] ?? first;
      this.writeDesc(this.addrs.desc, descs[0], first.addr, first.len, VRING_DESC_F_NEXT | (first.write ? VRING_DESC_F_WRITE : 0), descs[1]);
      this.writeDesc(this.addrs.desc, descs[1], second.addr, second.len, VRING_DESC_F_NEXT | (second.write ? VRING_DESC_F_WRITE : 0), descs[1]);
      return;
    }
    const bufs = shape.buffers.length ? shape.buffers : [{ addr: 0n, len: 0, write: false }];
    bufs.forEach((b, k) => {
      const last = k === bufs.length - 1;
      let flags = b.write ? VRING_DESC_F_WRITE : 0;
      let next = last ? 0 : descs[k + 1];
      if (!last) flags |= VRING_DESC_F_NEXT;
      if (last && shape.defect === 'next-out-of-range') {
        flags |= VRING_DESC_F_NEXT;
        next = this.num + 3;
      }
      this.writeDesc(this.addrs.desc, descs[k], b.addr, b.len, flags, next);
    });
  }

  /** One descriptor pointing at a table of `buffers.length` entries (§2.7.5.3). */
  private placeIndirect(shape: ChainShape, head: number): void {
    const table = this.addrs.indirect + BigInt(head * INDIRECT_STRIDE * SPLIT_DESC_SIZE);
    const n = Math.max(1, shape.buffers.length);
    const bufs = shape.buffers.length ? shape.buffers : [{ addr: 0n, len: 0, write: false }];
    bufs.forEach((b, k) => {
      const last = k === n - 1;
      let flags = (b.write ? VRING_DESC_F_WRITE : 0) | (last ? 0 : VRING_DESC_F_NEXT);
      let next = last ? 0 : k + 1;
      if (shape.defect === 'indirect-loop' && last) {
        flags |= VRING_DESC_F_NEXT;
        next = 0;
      }
      if (shape.defect === 'nested-indirect' && k === 0) {
        // An entry of the table that itself points at an indirect table: forbidden (§2.7.5.3.1).
        flags = VRING_DESC_F_INDIRECT | (last ? 0 : VRING_DESC_F_NEXT);
        this.writeDesc(table, k, table, n * SPLIT_DESC_SIZE, flags, next);
        return;
      }
      this.writeDesc(table, k, b.addr, b.len, flags, next);
    });
    const len = shape.defect === 'indirect-len-invalid' ? (n * SPLIT_DESC_SIZE) + 3 : n * SPLIT_DESC_SIZE;
    this.writeDesc(this.addrs.desc, head, table, len, VRING_DESC_F_INDIRECT, 0);
  }

  /** Makes the added chains visible: the avail idx write is what the device reads (§2.7.13). */
  publish(): void {
    putU16(this.mem, this.addrs.avail + 2n, this.availIdx);
  }

  /** Advances avail idx by `extra` beyond what was written: the index-runaway attack (bug-catalog Q2). */
  publishRunaway(extra: number): void {
    putU16(this.mem, this.addrs.avail + 2n, (this.availIdx + extra) & 0xffff);
  }

  get publishedIdx(): number {
    return u16At(this.mem, this.addrs.avail + 2n);
  }

  get usedIdx(): number {
    return u16At(this.mem, this.addrs.used + 2n);
  }

  get lastSeenUsed(): number {
    return this.lastUsed;
  }

  /** Whether the device has published used entries that takeUsed has not returned yet. */
  get hasNewUsed(): boolean {
    return ((this.usedIdx - this.lastUsed) & 0xffff) !== 0;
  }

  /** Used elements the device added since the last call. */
  takeUsed(): UsedElem[] {
    const idx = this.usedIdx;
    const out: UsedElem[] = [];
    // At most `num` entries can be new; a device that moved idx further is caught by the oracle via `usedRunaway`.
    const count = Math.min((idx - this.lastUsed) & 0xffff, this.num);
    for (let k = 0; k < count; k++) {
      const slot = (this.lastUsed + k) % this.num;
      const b = readGpa(this.mem, this.addrs.used + BigInt(splitRingOffsets.usedRing(slot)), 8);
      const dv = new DataView(b.buffer, b.byteOffset, 8);
      out.push({ id: dv.getUint32(0, true), len: dv.getUint32(4, true), slot });
    }
    this.lastUsed = (this.lastUsed + count) & 0xffff;
    return out;
  }

  /** Number of used entries the device claims beyond what the ring can hold. */
  usedRunaway(): number {
    return Math.max(0, ((this.usedIdx - this.lastUsed) & 0xffff) - this.num);
  }

  release(descs: readonly number[]): void {
    for (const d of descs) if (!this.free.includes(d)) this.free.push(d);
  }

  setAvailFlags(flags: number): void {
    putU16(this.mem, this.addrs.avail, flags);
  }

  get availFlags(): number {
    return u16At(this.mem, this.addrs.avail);
  }

  setUsedEvent(v: number): void {
    putU16(this.mem, this.addrs.avail + BigInt(splitRingOffsets.usedEvent(this.num)), v & 0xffff);
  }

  get usedEvent(): number {
    return u16At(this.mem, this.addrs.avail + BigInt(splitRingOffsets.usedEvent(this.num)));
  }

  /** Byte ranges the device must never write (descriptor table and avail ring), for the read-only oracle. */
  driverOwnedAreas(): { gpa: bigint; len: number }[] {
    return [
      { gpa: this.addrs.desc, len: this.num * SPLIT_DESC_SIZE },
      { gpa: this.addrs.avail, len: splitRingOffsets.usedEvent(this.num) + 2 },
    ];
  }
}

// Test-only virtio driver for the simulated device: lays out split and
// packed rings and buffers in guest memory by hand and reads back what the
// device wrote, so the device tests depend on nothing but spec/.
import { expect } from 'vitest';
import { encode } from '../../spec/codec.ts';
import type { MemRegionDesc, Reply, ReplyValue, VhostRequest } from '../../spec/requests.ts';
import { virtio_blk_outhdr } from '../../spec/virtio/blk.ts';
import { bit, VIRTIO_F_VERSION_1 } from '../../spec/virtio/features.ts';
import {
  PACKED_DESC_SIZE,
  packedFlagAvail,
  packedFlagUsed,
  SPLIT_DESC_SIZE,
  splitRingOffsets,
  splitRingSizes,
  VRING_DESC_F_NEXT,
  VRING_DESC_F_WRITE,
} from '../../spec/virtio/ring.ts';
import { gpaView } from '../guestMemory.ts';
import type { Target } from '../target.ts';

export interface Buf {
  readonly addr: bigint;
  readonly len: number;
  readonly write: boolean;
}

interface Used {
  readonly id: number;
  readonly len: number;
}

export async function ok(t: Target, req: VhostRequest): Promise<Reply> {
  const r = await t.send(req);
  expect(r, JSON.stringify(req, (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v))).toMatchObject({ ok: true });
  return r;
}

export function value(r: Reply): ReplyValue | undefined {
  return 'ok' in r && r.ok ? r.value : undefined;
}

/** Guest memory seen by the driver: a bump allocator over GPA space plus read/write helpers. */
export class Guest {
  private next = 0x1000n;

  constructor(readonly target: Target) {}

  alloc(len: number, align = 16): bigint {
    const a = BigInt(align);
    const at = ((this.next + a - 1n) / a) * a;
    this.next = at + BigInt(Math.max(len, 1));
    return at;
  }

  view(gpa: bigint, len: number): Buffer {
    const v = gpaView(this.target.memory, gpa, len);
    if (v === null) throw new Error(`test driver: gpa 0x${gpa.toString(16)}+${len} not in one region`);
    return v;
  }

  /** A device-readable buffer holding `data`. */
  out(data: Uint8Array): Buf {
    const addr = this.alloc(data.length);
    this.view(addr, data.length).set(data);
    return { addr, len: data.length, write: false };
  }

  /** A device-writable buffer of `len` bytes, pre-filled with `fill`. */
  in(len: number, fill = 0xee): Buf {
    const addr = this.alloc(len);
    this.view(addr, len).fill(fill);
    return { addr, len, write: true };
  }

  bytes(b: Buf): Buffer {
    return Buffer.from(this.view(b.addr, b.len));
  }

  uaddr(gpa: bigint): bigint {
    const r = this.target.memory.regions.find((m) => gpa >= m.gpa && gpa < m.gpa + BigInt(m.bytes.length));
    if (r === undefined) throw new Error(`test driver: gpa 0x${gpa.toString(16)} unmapped`);
    return r.uaddr + (gpa - r.gpa);
  }

  memTable(): MemRegionDesc[] {
    return this.target.memory.regions.map((r) => ({ gpa: r.gpa, size: BigInt(r.bytes.length), uaddr: r.uaddr }));
  }
}

/** SET_OWNER, SET_FEATURES (VERSION_1 plus `extra`), SET_MEM_TABLE. */
export async function negotiate(t: Target, g: Guest, extra = 0n): Promise<void> {
  await ok(t, { op: 'setOwner' });
  await ok(t, { op: 'setFeatures', features: bit(VIRTIO_F_VERSION_1) | extra });
  await ok(t, { op: 'setMemTable', regions: g.memTable() });
}

export function blkHeader(type: number, sector: bigint): Buffer {
  return encode(virtio_blk_outhdr, { type, ioprio: 0, sector });
}

interface RingAddrs {
  readonly desc: bigint;
  readonly avail: bigint;
  readonly used: bigint;
}

abstract class Queue {
  constructor(
    readonly t: Target,
    readonly g: Guest,
    readonly index: number,
    readonly num: number,
    readonly ring: RingAddrs,
  ) {}

  /** SET_VRING_NUM/ADDR/BASE/CALL/KICK with the ring addresses as front-end virtual addresses (or `map` of them). */
  protected async configure(base: number, map: (gpa: bigint) => bigint): Promise<void> {
    const { t, index, ring } = this;
    await ok(t, { op: 'setVringNum', index, num: this.num });
    await ok(t, { op: 'setVringAddr', index, flags: 0, desc: map(ring.desc), avail: map(ring.avail), used: map(ring.used), log: 0n });
    await ok(t, { op: 'setVringBase', index, base });
    await ok(t, { op: 'setVringCall', index });
    await ok(t, { op: 'setVringKick', index });
  }

  kick(): Promise<void> {
    return this.t.kick(this.index);
  }

  called(): Promise<boolean> {
    return this.t.waitCall(this.index, 0);
  }
}

export class SplitQueue extends Queue {
  private nextDesc = 0;
  availIdx = 0;
  private seenUsed = 0;

  static async create(t: Target, g: Guest, index: number, num: number, map?: (gpa: bigint) => bigint): Promise<SplitQueue> {
    const sizes = splitRingSizes(num);
    const ring = { desc: g.alloc(sizes.desc, 16), avail: g.alloc(sizes.avail, 2), used: g.alloc(sizes.used, 4) };
    const q = new SplitQueue(t, g, index, num, ring);
    await q.configure(0, map ?? ((gpa) => g.uaddr(gpa)));
    return q;
  }

  writeDesc(i: number, d: { addr: bigint; len: number; flags: number; next: number }): void {
    const b = this.g.view(this.ring.desc + BigInt(i * SPLIT_DESC_SIZE), SPLIT_DESC_SIZE);
    b.writeBigUInt64LE(d.addr, 0);
    b.writeUInt32LE(d.len, 8);
    b.writeUInt16LE(d.flags, 12);
    b.writeUInt16LE(d.next, 14);
  }

  /** Writes `bufs` as a chain in fresh descriptors and makes it available; returns the head. */
  add(bufs: readonly Buf[]): number {
    const ids = bufs.map(() => this.nextDesc++ % this.num);
    bufs.forEach((b, k) => {
      const last = k === bufs.length - 1;
      this.writeDesc(ids[k], { addr: b.addr, len: b.len, flags: (b.write ? VRING_DESC_F_WRITE : 0) | (last ? 0 : VRING_DESC_F_NEXT), next: last ? 0 : ids[k + 1] });
    });
    this.publish(ids[0]);
    return ids[0];
  }

  /** Puts `head` in the avail ring and advances avail idx. */
  publish(head: number): void {
    this.g.view(this.ring.avail + BigInt(splitRingOffsets.availRing(this.availIdx % this.num)), 2).writeUInt16LE(head);
    this.setAvailIdx(this.availIdx + 1);
  }

  setAvailIdx(idx: number): void {
    this.availIdx = idx & 0xffff;
    this.g.view(this.ring.avail + 2n, 2).writeUInt16LE(this.availIdx);
  }

  setAvailFlags(flags: number): void {
    this.g.view(this.ring.avail, 2).writeUInt16LE(flags);
  }

  setUsedEvent(idx: number): void {
    this.g.view(this.ring.avail + BigInt(splitRingOffsets.usedEvent(this.num)), 2).writeUInt16LE(idx & 0xffff);
  }

  availEvent(): number {
    return this.g.view(this.ring.used + BigInt(splitRingOffsets.availEvent(this.num)), 2).readUInt16LE(0);
  }

  usedIdx(): number {
    return this.g.view(this.ring.used + 2n, 2).readUInt16LE(0);
  }

  /** Used elements published since the last call. */
  takeUsed(): Used[] {
    const out: Used[] = [];
    const idx = this.usedIdx();
    for (; this.seenUsed !== idx; this.seenUsed = (this.seenUsed + 1) & 0xffff) {
      const b = this.g.view(this.ring.used + BigInt(splitRingOffsets.usedRing(this.seenUsed % this.num)), 8);
      out.push({ id: b.readUInt32LE(0), len: b.readUInt32LE(4) });
    }
    return out;
  }
}

export class PackedQueue extends Queue {
  private availSlot = 0;
  private availWrap = true;
  private usedSlot = 0;
  private usedWrap = true;
  private readonly slotsOf = new Map<number, number>();

  static async create(t: Target, g: Guest, index: number, num: number): Promise<PackedQueue> {
    // desc = descriptor ring, avail = driver event suppression, used = device event suppression.
    const ring = { desc: g.alloc(num * PACKED_DESC_SIZE, 16), avail: g.alloc(4, 4), used: g.alloc(4, 4) };
    const q = new PackedQueue(t, g, index, num, ring);
    await q.configure(0x8000_8000, (gpa) => g.uaddr(gpa));
    return q;
  }

  private slot(i: number): Buffer {
    return this.g.view(this.ring.desc + BigInt(i * PACKED_DESC_SIZE), PACKED_DESC_SIZE);
  }

  /** Writes `bufs` in consecutive slots with buffer id `id` (on every descriptor unless `ids` says otherwise); head flags last. */
  add(bufs: readonly Buf[], id: number, ids?: readonly number[]): void {
    const slots: number[] = [];
    const flags: number[] = [];
    bufs.forEach((b, k) => {
      slots.push(this.availSlot);
      const s = this.slot(this.availSlot);
      s.writeBigUInt64LE(b.addr, 0);
      s.writeUInt32LE(b.len, 8);
      s.writeUInt16LE(ids?.[k] ?? id, 12);
      flags.push(packedFlagAvail(this.availWrap) | packedFlagUsed(!this.availWrap) | (b.write ? VRING_DESC_F_WRITE : 0) | (k < bufs.length - 1 ? VRING_DESC_F_NEXT : 0));
      if (++this.availSlot >= this.num) {
        this.availSlot = 0;
        this.availWrap = !this.availWrap;
      }
    });
    for (let k = slots.length - 1; k >= 0; k--) this.slot(slots[k]).writeUInt16LE(flags[k], 14);
    this.slotsOf.set(id, bufs.length);
  }

  setDriverEvent(flags: number, offWrap = 0): void {
    const b = this.g.view(this.ring.avail, 4);
    b.writeUInt16LE(offWrap, 0);
    b.writeUInt16LE(flags, 2);
  }

  /** Used descriptors published since the last call, with their raw flags. */
  takeUsed(): (Used & { flags: number })[] {
    const out: (Used & { flags: number })[] = [];
    for (;;) {
      const s = this.slot(this.usedSlot);
      const flags = s.readUInt16LE(14);
      const w = this.usedWrap;
      if (((flags >> 7) & 1) !== (w ? 1 : 0) || ((flags >> 15) & 1) !== (w ? 1 : 0)) return out;
      const id = s.readUInt16LE(12);
      out.push({ id, len: s.readUInt32LE(8), flags });
      for (let k = this.slotsOf.get(id) ?? 1; k > 0; k--) {
        if (++this.usedSlot >= this.num) {
          this.usedSlot = 0;
          this.usedWrap = !this.usedWrap;
        }
      }
    }
  }
}

// Packed virtqueue processing, virtio 1.2 §2.8: one descriptor ring shared
// by driver and device, wrap counters (§2.8.1), chains in consecutive slots
// (§2.8.5), indirect tables (§2.8.6), used descriptors (§2.8.7), and the
// event suppression structures (§2.8.10, §2.8.14) at the driver area (SET_VRING_ADDR
// avail) and the device area (used).
import { VHOST_ACCESS_RO, VHOST_ACCESS_RW, VHOST_ACCESS_WO } from '../../spec/vhost/types.ts';
import { hasFeature, VIRTIO_F_ACCESS_PLATFORM, VIRTIO_RING_F_EVENT_IDX } from '../../spec/virtio/features.ts';
import {
  PACKED_DESC_SIZE,
  packedFlagAvail,
  packedFlagUsed,
  VRING_DESC_F_INDIRECT,
  VRING_DESC_F_NEXT,
  VRING_DESC_F_WRITE,
  VRING_PACKED_DESC_F_AVAIL,
  VRING_PACKED_DESC_F_USED,
  VRING_PACKED_EVENT_F_WRAP_CTR,
  VRING_PACKED_EVENT_FLAG_DESC,
  VRING_PACKED_EVENT_FLAG_DISABLE,
  VRING_PACKED_EVENT_FLAG_ENABLE,
  vring_packed_desc_event,
} from '../../spec/virtio/ring.ts';
import { ChainBuilder, indirectEntries, type Elem, type RingContext, type RingSession } from './chain.ts';
import type { HostRange } from './dma.ts';
import type { Vring, VringAddr } from './vring.ts';

interface PackedDesc {
  readonly addr: bigint;
  readonly len: number;
  readonly id: number;
  readonly flags: number;
}

/** Offsets inside vring_packed_desc_event (the spec table keeps the kernel's `off_warp` spelling). */
const EVENT_OFF_WRAP = 0;
const EVENT_FLAGS = 2;

export class PackedRing implements RingSession {
  private readonly oldUsed: { readonly idx: number; readonly wrap: boolean };
  private pushed = 0;
  private popped = 0;
  private undo: { readonly idx: number; readonly wrap: boolean } | null = null;

  private constructor(
    private readonly ctx: RingContext,
    private readonly vq: Vring,
    private readonly ring: HostRange[],
    private readonly driverEvent: HostRange[],
    private readonly deviceEvent: HostRange[],
  ) {
    this.oldUsed = { idx: vq.usedIdx, wrap: vq.usedWrap };
    // The device always wants available-buffer notifications (§2.8.14 flags ENABLE).
    ctx.dma.writeU16(deviceEvent, EVENT_FLAGS, VRING_PACKED_EVENT_FLAG_ENABLE);
  }

  static open(ctx: RingContext, vq: Vring, addr: VringAddr): PackedRing | null {
    // SET_VRING_BASE can carry indices outside the ring: nothing sane to resume from.
    if (vq.lastAvail >= vq.num || vq.usedIdx >= vq.num) {
      vq.broken = true;
      return null;
    }
    const iommu = hasFeature(ctx.features, VIRTIO_F_ACCESS_PLATFORM);
    const ring = ctx.space.ring(addr.desc, vq.num * PACKED_DESC_SIZE, VHOST_ACCESS_RW, iommu);
    const driverEvent = ctx.space.ring(addr.avail, vring_packed_desc_event.size, VHOST_ACCESS_RO, iommu);
    const deviceEvent = ctx.space.ring(addr.used, vring_packed_desc_event.size, VHOST_ACCESS_WO, iommu);
    if (ring === null || driverEvent === null || deviceEvent === null) return null;
    return new PackedRing(ctx, vq, ring, driverEvent, deviceEvent);
  }

  pop(): Elem | null {
    const { ctx, vq } = this;
    for (;;) {
      // At most one ring's worth per kick: the driver cannot have more outstanding (§2.8), and a
      // device must not spin on a ring it keeps rewriting itself.
      if (vq.broken || this.popped >= vq.num) return null;
      const head = { idx: vq.lastAvail, wrap: vq.availWrap };
      const flags = ctx.dma.readU16(this.ring, head.idx * PACKED_DESC_SIZE + 14);
      // §2.8.1: available when AVAIL matches the driver wrap counter and USED does not.
      const avail = ((flags >> VRING_PACKED_DESC_F_AVAIL) & 1) === 1;
      const used = ((flags >> VRING_PACKED_DESC_F_USED) & 1) === 1;
      if (avail !== head.wrap || used === head.wrap) return null;
      this.popped++;
      // The chain's extent: NEXT flags in consecutive slots, at most a ring's worth (§2.8.5).
      const descs: PackedDesc[] = [];
      let { idx, wrap } = head;
      let tooLong = false;
      for (;;) {
        const d = this.readDesc(this.ring, idx);
        descs.push(d);
        [idx, wrap] = this.advance(idx, wrap);
        if (!(d.flags & VRING_DESC_F_NEXT)) break;
        if (descs.length >= vq.num) {
          tooLong = true;
          break;
        }
      }
      vq.lastAvail = idx;
      vq.availWrap = wrap;
      this.undo = head;
      // §2.8.6: the Buffer ID is in the last descriptor of the list.
      const id = (ctx.has('packed-used-id-from-first-desc') ? descs[0] : descs[descs.length - 1]).id;
      const b = new ChainBuilder(ctx);
      const why = tooLong ? 'chain longer than the ring' : this.build(b, descs);
      const e: Elem = { id, slots: descs.length, iov: why === null ? b.iov : [] };
      if (why !== null) {
        if (!ctx.has('rejected-head-dropped')) this.push(e, 0);
        continue;
      }
      return e;
    }
  }

  unpop(): void {
    if (this.undo === null) return;
    this.vq.lastAvail = this.undo.idx;
    this.vq.availWrap = this.undo.wrap;
    this.undo = null;
    this.popped--;
  }

  push(e: Elem, len: number): void {
    const { dma } = this.ctx;
    const at = this.vq.usedIdx * PACKED_DESC_SIZE;
    dma.writeU16(this.ring, at + 12, e.id);
    dma.writeU32(this.ring, at + 8, len);
    // §2.8.7: AVAIL and USED both equal to the Device Ring Wrap Counter, written last.
    const w = this.vq.usedWrap;
    dma.writeU16(this.ring, at + 14, packedFlagAvail(w) | packedFlagUsed(w) | (len > 0 ? VRING_DESC_F_WRITE : 0));
    let { usedIdx: idx, usedWrap: wrap } = this.vq;
    for (let k = 0; k < e.slots; k++) [idx, wrap] = this.advance(idx, wrap);
    this.vq.usedIdx = idx;
    this.vq.usedWrap = wrap;
    this.pushed++;
  }

  finish(): boolean {
    const { ctx, vq } = this;
    if (this.pushed === 0) return false;
    const flags = ctx.dma.readU16(this.driverEvent, EVENT_FLAGS) & 0x3;
    if (flags === VRING_PACKED_EVENT_FLAG_DISABLE) return false;
    // DESC means something only with EVENT_IDX (§2.8.10); otherwise, like the reserved value, treat it as ENABLE.
    if (flags !== VRING_PACKED_EVENT_FLAG_DESC || !hasFeature(ctx.features, VIRTIO_RING_F_EVENT_IDX)) return true;
    const offWrap = ctx.dma.readU16(this.driverEvent, EVENT_OFF_WRAP);
    const off = offWrap & ((1 << VRING_PACKED_EVENT_F_WRAP_CTR) - 1);
    const eventWrap = ctx.has('packed-event-wrap-ignored') ? this.oldUsed.wrap : offWrap >> VRING_PACKED_EVENT_F_WRAP_CTR === 1;
    // Positions on a cycle of two laps (wrap counter 1 on even laps): notify iff the
    // batch moved the used index over the event position (the window [old, new)).
    const lap = 2 * vq.num;
    const pos = (i: number, w: boolean) => (i + (w ? 0 : vq.num)) % lap;
    const old = pos(this.oldUsed.idx, this.oldUsed.wrap);
    const moved = (pos(vq.usedIdx, vq.usedWrap) - old + lap) % lap;
    return (pos(off, eventWrap) - old + lap) % lap < moved;
  }

  /** The next slot. Sizes need not be a power of 2 (§2.8), so never a mask (bug-catalog D14). */
  private advance(i: number, wrap: boolean): [number, boolean] {
    const { has } = this.ctx;
    if (has('packed-wrap-pow2-mask')) {
      const j = (i + 1) & (this.vq.num - 1);
      return [j, j === 0 ? !wrap : wrap];
    }
    if (++i >= this.vq.num) return [0, has('packed-wrap-counter-stuck') ? wrap : !wrap];
    return [i, wrap];
  }

  private readDesc(table: HostRange[], i: number): PackedDesc {
    const b = this.ctx.dma.read(table, i * PACKED_DESC_SIZE, PACKED_DESC_SIZE);
    return { addr: b.readBigUInt64LE(0), len: b.readUInt32LE(8), id: b.readUInt16LE(12), flags: b.readUInt16LE(14) };
  }

  /** The iovecs of a chain; returns why it must be rejected, or null. */
  private build(b: ChainBuilder, descs: readonly PackedDesc[]): string | null {
    for (const d of descs) {
      b.step();
      if (d.flags & VRING_DESC_F_INDIRECT) {
        // §2.8.6: an indirect buffer is a single descriptor with INDIRECT set.
        if (descs.length > 1) return 'INDIRECT descriptor in a chain';
        const why = this.indirect(b, d);
        if (why !== null) return why;
        continue;
      }
      const why = b.add(d.addr, d.len, (d.flags & VRING_DESC_F_WRITE) !== 0);
      if (why !== null) return why;
    }
    return null;
  }

  /**
   * An indirect table: its entries are used in order, NEXT is not used
   * (§2.8.6). The nested-indirect mutant jumps into a nested table (and never
   * comes back), so a table that points at itself never ends.
   */
  private indirect(b: ChainBuilder, first: PackedDesc): string | null {
    const { ctx } = this;
    if (!b.indirectAllowed) return 'INDIRECT without VIRTIO_F_INDIRECT_DESC';
    let d = first;
    next: for (;;) {
      const entries = indirectEntries(d.len, PACKED_DESC_SIZE, ctx.has);
      if (entries === null) return `indirect table len ${d.len}`;
      const table = b.table(d.addr, entries * PACKED_DESC_SIZE);
      if (table === null) return 'indirect table not mapped';
      for (let j = 0; j < entries; j++) {
        b.step();
        const t = this.readDesc(table, j);
        if (t.flags & VRING_DESC_F_INDIRECT) {
          if (!ctx.has('nested-indirect-followed')) return 'INDIRECT inside an indirect table';
          d = t;
          continue next;
        }
        const why = b.add(t.addr, t.len, (t.flags & VRING_DESC_F_WRITE) !== 0);
        if (why !== null) return why;
      }
      return null;
    }
  }
}

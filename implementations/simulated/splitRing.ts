// Split virtqueue processing, virtio 1.2 §2.7: descriptor table, available
// ring, used ring, indirect descriptors (§2.7.5.3) and used buffer
// notification suppression (§2.7.7, VRING_AVAIL_F_NO_INTERRUPT / used_event).
import { VHOST_ACCESS_RO, VHOST_ACCESS_WO } from '../../spec/vhost/types.ts';
import { hasFeature, VIRTIO_F_ACCESS_PLATFORM, VIRTIO_RING_F_EVENT_IDX } from '../../spec/virtio/features.ts';
import {
  SPLIT_DESC_SIZE,
  splitRingOffsets,
  splitRingSizes,
  VRING_AVAIL_F_NO_INTERRUPT,
  VRING_DESC_F_INDIRECT,
  VRING_DESC_F_NEXT,
  VRING_DESC_F_WRITE,
} from '../../spec/virtio/ring.ts';
import { ChainBuilder, indirectEntries, type Elem, type RingContext, type RingSession } from './chain.ts';
import type { HostRange, Iov } from './dma.ts';
import type { Vring, VringAddr } from './vring.ts';

/**
 * virtio 1.2 §2.7.7.2 with EVENT_IDX: "After the device writes a descriptor index into the used ring: If the
 * idx field in the used ring (which determined where that descriptor index was placed) was equal to
 * used_event, the device MUST send a notification." This batch placed entries at idx old, old+1, ..., new-1
 * (16-bit, wrapping): notify iff used_event is one of them.
 */
function placedAtEvent(usedEvent: number, oldIdx: number, newIdx: number): boolean {
  const placed = (newIdx - oldIdx) & 0xffff;
  return ((usedEvent - oldIdx) & 0xffff) < placed;
}

interface Desc {
  readonly addr: bigint;
  readonly len: number;
  readonly flags: number;
  readonly next: number;
}

type Walk = { readonly iov: readonly Iov[] } | { readonly reject: string };

export class SplitRing implements RingSession {
  private readonly availIdx: number;
  private readonly oldUsed: number;
  private pushed = 0;

  private constructor(
    private readonly ctx: RingContext,
    private readonly vq: Vring,
    private readonly desc: HostRange[],
    private readonly avail: HostRange[],
    private readonly used: HostRange[],
  ) {
    this.oldUsed = vq.usedIdx;
    this.availIdx = this.readAvailIdx();
    // vhost_get_vq_desc: "Guest moved used index from %u to %u" (bug-catalog Q2).
    if (((this.availIdx - vq.lastAvail) & 0xffff) > vq.num && !ctx.has('avail-idx-runaway')) vq.broken = true;
  }

  /** Null when the ring cannot be accessed now (areas not mapped: nothing is processed) or is unusable. */
  static open(ctx: RingContext, vq: Vring, addr: VringAddr): SplitRing | null {
    // §2.7: a split queue size is a power of 2; a ring started with another size cannot run.
    if ((vq.num & (vq.num - 1)) !== 0) {
      vq.broken = true;
      return null;
    }
    const iommu = hasFeature(ctx.features, VIRTIO_F_ACCESS_PLATFORM);
    const sizes = splitRingSizes(vq.num);
    const desc = ctx.space.ring(addr.desc, sizes.desc, VHOST_ACCESS_RO, iommu);
    const avail = ctx.space.ring(addr.avail, sizes.avail, VHOST_ACCESS_RO, iommu);
    const used = ctx.space.ring(addr.used, sizes.used, VHOST_ACCESS_WO, iommu);
    if (desc === null || avail === null || used === null) return null;
    return new SplitRing(ctx, vq, desc, avail, used);
  }

  pop(): Elem | null {
    const { ctx, vq } = this;
    for (;;) {
      if (vq.broken || vq.lastAvail === this.availIdx) return null;
      const head = ctx.dma.readU16(this.avail, splitRingOffsets.availRing(vq.lastAvail % vq.num));
      let start = head;
      if (head >= vq.num) {
        // bug-catalog L2: a head outside the table is a broken driver, never an index.
        if (!ctx.has('split-no-head-bound')) {
          vq.broken = true;
          return null;
        }
        start = head & (vq.num - 1);
      }
      const walk = this.walk(start);
      vq.lastAvail = (vq.lastAvail + 1) & 0xffff;
      if ('reject' in walk) {
        // The chain goes back untouched with len 0, and processing goes on.
        if (!ctx.has('rejected-head-dropped')) this.push({ id: head, slots: 1, iov: [] }, 0);
        continue;
      }
      return { id: head, slots: 1, iov: walk.iov };
    }
  }

  unpop(): void {
    this.vq.lastAvail = (this.vq.lastAvail - 1) & 0xffff;
  }

  push(e: Elem, len: number): void {
    const { dma } = this.ctx;
    const at = splitRingOffsets.usedRing(this.vq.usedIdx % this.vq.num);
    dma.writeU32(this.used, at, e.id);
    dma.writeU32(this.used, at + 4, len);
    this.ctx.logUsed?.(at, 8);
    // §2.7.8.2: the element is complete before idx publishes it.
    this.vq.usedIdx = (this.vq.usedIdx + 1) & 0xffff;
    dma.writeU16(this.used, 2, this.vq.usedIdx);
    this.ctx.logUsed?.(2, 2);
    this.pushed++;
  }

  finish(): boolean {
    const { ctx, vq } = this;
    const eventIdx = hasFeature(ctx.features, VIRTIO_RING_F_EVENT_IDX);
    // §2.7.10: with EVENT_IDX the device asks to be kicked once avail idx passes avail_event.
    if (eventIdx) {
      ctx.dma.writeU16(this.used, splitRingOffsets.availEvent(vq.num), vq.lastAvail);
      ctx.logUsed?.(splitRingOffsets.availEvent(vq.num), 2);
    }
    if (this.pushed === 0) return false;
    if (eventIdx) {
      const usedEvent = ctx.dma.readU16(this.avail, splitRingOffsets.usedEvent(vq.num));
      const event = ctx.has('event-idx-off-by-one') ? (usedEvent + 1) & 0xffff : usedEvent;
      return placedAtEvent(event, this.oldUsed, vq.usedIdx);
    }
    const flag = (ctx.dma.readU16(this.avail, 0) & VRING_AVAIL_F_NO_INTERRUPT) !== 0;
    if (flag) vq.noInterruptSeen = true;
    const noInterrupt = ctx.has('no-interrupt-sticky') ? vq.noInterruptSeen : flag;
    return ctx.has('never-notify-flags-zero') ? noInterrupt : !noInterrupt;
  }

  private readAvailIdx(): number {
    const idx = this.ctx.dma.readU16(this.avail, 2);
    const seen = this.vq.availIdxSeen;
    this.vq.availIdxSeen = idx;
    // The mutant's torn load: low byte of the new idx, high byte of the old one.
    return this.ctx.has('avail-idx-torn-read') ? (idx & 0xff) | (seen & 0xff00) : idx;
  }

  private readDesc(table: HostRange[], i: number): Desc {
    const b = this.ctx.dma.read(table, i * SPLIT_DESC_SIZE, SPLIT_DESC_SIZE);
    return { addr: b.readBigUInt64LE(0), len: b.readUInt32LE(8), flags: b.readUInt16LE(12), next: b.readUInt16LE(14) };
  }

  /**
   * Walks the chain from `head` (vhost_get_vq_desc): every index checked
   * against the table it indexes, the walk bounded by that table's size
   * (ring: num; indirect table: len/16, bug-catalog L11), one level of
   * indirection only.
   */
  private walk(head: number): Walk {
    const { ctx, vq } = this;
    const b = new ChainBuilder(ctx);
    let table = this.desc;
    let size = vq.num;
    let indirect = false;
    // The mutants keep an iovec-array capacity instead of a loop check, and serve what fits.
    let limit = ctx.has('chain-no-loop-bound') ? 4 * vq.num : vq.num;
    let capacityOnly = ctx.has('chain-no-loop-bound');
    let count = 0;
    let i = head;
    for (;;) {
      b.step();
      if (++count > limit) {
        if (capacityOnly) break;
        return { reject: indirect ? 'indirect chain longer than its table' : 'chain longer than the ring' };
      }
      const d = this.readDesc(table, i);
      if (d.flags & VRING_DESC_F_INDIRECT) {
        if (!b.indirectAllowed) return { reject: 'INDIRECT without VIRTIO_F_INDIRECT_DESC' };
        if (indirect && !ctx.has('nested-indirect-followed')) return { reject: 'INDIRECT inside an indirect table' };
        // §2.7.5.3.1: the driver MUST NOT set NEXT together with INDIRECT.
        if (!indirect && d.flags & VRING_DESC_F_NEXT) return { reject: 'INDIRECT together with NEXT' };
        const entries = indirectEntries(d.len, SPLIT_DESC_SIZE, ctx.has);
        if (entries === null) return { reject: `indirect table len ${d.len}` };
        const t = b.table(d.addr, entries * SPLIT_DESC_SIZE);
        if (t === null) return { reject: 'indirect table not mapped' };
        // §2.7.5.3.1: the WRITE flag of the descriptor pointing at the table is ignored.
        table = t;
        size = entries;
        indirect = true;
        limit = ctx.has('indirect-loop-bound-by-ring') ? vq.num : entries;
        capacityOnly = ctx.has('indirect-loop-bound-by-ring');
        count = 0;
        i = 0;
        continue;
      }
      const why = b.add(d.addr, d.len, (d.flags & VRING_DESC_F_WRITE) !== 0);
      if (why !== null) return { reject: why };
      if (!(d.flags & VRING_DESC_F_NEXT)) break;
      i = d.next;
      if (i >= size) return { reject: `next ${i} outside a table of ${size}` };
    }
    return { iov: b.iov };
  }
}

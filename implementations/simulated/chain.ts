// What the split and packed ring code share: the popped element (the
// iovec list of one descriptor chain, as libvhost-user's VuVirtqElement),
// the session interface the device personalities drive, and the per-buffer
// checks every descriptor goes through, whatever ring layout it came from.
import { VHOST_ACCESS_RO, VHOST_ACCESS_WO } from '../../spec/vhost/types.ts';
import { hasFeature, VIRTIO_F_ACCESS_PLATFORM, VIRTIO_RING_F_INDIRECT_DESC } from '../../spec/virtio/features.ts';
import type { AddressSpace } from './addressSpace.ts';
import type { Dma, HostRange, Iov } from './dma.ts';
import { DeviceHang } from './faults.ts';
import type { MutantSwitch } from './mutants/index.ts';

/** Everything ring code needs from the device for one kick. */
export interface RingContext {
  readonly dma: Dma;
  readonly space: AddressSpace;
  readonly has: MutantSwitch;
  /** The acked feature word. */
  readonly features: bigint;
  /** Logs a write of `len` bytes at `offset` into the split used ring (vhost-user.rst "Migration", VHOST_VRING_F_LOG). */
  readonly logUsed?: (offset: number, len: number) => void;
}

/** One popped descriptor chain. */
export interface Elem {
  /** Split: the head index. Packed: the Buffer ID (§2.8.6: from the last descriptor). */
  readonly id: number;
  /** Ring slots the chain occupies (packed: the used index advances by this, §2.8.7). */
  readonly slots: number;
  /** Device-readable iovecs first, then device-writable, in chain order. */
  readonly iov: readonly Iov[];
}

/** One kick's worth of access to a started ring (vu_queue_pop / unpop / push / notify). */
export interface RingSession {
  /** The next valid chain, or null when none is available or the queue broke. Rejected chains are completed with len 0 on the way. */
  pop(): Elem | null;
  /** Gives back the chain just popped, untouched, as still available (vu_queue_unpop). */
  unpop(e: Elem): void;
  /** Marks the chain used with `len` bytes written. */
  push(e: Elem, len: number): void;
  /** Ends the batch; true when the driver asked to be notified of it. */
  finish(): boolean;
}

/**
 * A bound no correct walk reaches (chains are bounded by the ring or table
 * size, at most 1024 or 65536/16 entries): exceeding it means the walk would
 * never end, which a real back-end shows as a hang.
 */
const WALK_STEP_LIMIT = 1 << 17;

const U64_LIMIT = 1n << 64n;

/** Builds the iovec list of one chain, rejecting what a device must not use. */
export class ChainBuilder {
  readonly iov: Iov[] = [];
  private seenWritable = false;
  private steps = 0;
  private readonly iommu: boolean;
  readonly indirectAllowed: boolean;

  constructor(private readonly ctx: RingContext) {
    this.iommu = hasFeature(ctx.features, VIRTIO_F_ACCESS_PLATFORM);
    this.indirectAllowed = hasFeature(ctx.features, VIRTIO_RING_F_INDIRECT_DESC);
  }

  step(): void {
    if (++this.steps > WALK_STEP_LIMIT) throw new DeviceHang(`descriptor walk did not end after ${WALK_STEP_LIMIT} steps`);
  }

  /** Adds one buffer descriptor; returns why the chain must be rejected, or null. */
  add(addr: bigint, len: number, write: boolean): string | null {
    const { has } = this.ctx;
    // §2.7.4.2 / §2.8.4: device-writable descriptors come after all device-readable ones.
    if (write) this.seenWritable = true;
    else if (this.seenWritable && !has('out-after-in-status')) return 'device-readable descriptor after a device-writable one';
    if (addr + BigInt(len) > U64_LIMIT && !has('addr-len-overflow-unchecked')) return 'addr + len wraps past 2^64';
    if (len === 0) {
      // A zero-length buffer maps to nothing (Linux translate_desc); the mutant keeps it (bug-catalog L12).
      if (has('zero-len-hang')) this.iov.push({ off: 0, len: 0, write });
      return null;
    }
    const host = this.ctx.space.buffer(addr, len, write ? VHOST_ACCESS_WO : VHOST_ACCESS_RO, this.iommu);
    if (host === null) return `buffer 0x${addr.toString(16)}+${len} not mapped`;
    for (const h of host) this.iov.push({ off: h.off, len: h.len, write });
    return null;
  }

  /** Translates an indirect table for reading (bug-catalog D1: with its own len, not one descriptor's size). */
  table(addr: bigint, bytes: number): HostRange[] | null {
    if (addr + BigInt(bytes) > U64_LIMIT) return null;
    return this.ctx.space.buffer(addr, bytes, VHOST_ACCESS_RO, this.iommu);
  }
}

/**
 * The number of entries of an indirect table of `len` bytes, or null when
 * the length is invalid: 0 or not a multiple of the descriptor size
 * (virtio.robust.indirect-len-invalid). The `indirect-len-unchecked` mutant
 * rounds up instead and reads at least one entry.
 */
export function indirectEntries(len: number, descSize: number, has: MutantSwitch): number | null {
  if (has('indirect-len-unchecked')) return Math.max(1, Math.ceil(len / descSize));
  return len === 0 || len % descSize !== 0 ? null : len / descSize;
}

// The inflight tracking buffer of QEMU docs/interop/vhost-user.rst "Inflight
// I/O tracking": one queue region per virtqueue, back to back ("queue0 region
// | queue1 region | ... | queueN region"), each a header and one descriptor
// state per descriptor ("desc_num ... is equal to the virtqueue size").
// Sizes are those of the doc's C structs (QueueRegionSplit / DescStateSplit,
// QueueRegionPacked / DescStatePacked) with C alignment; implementations may
// pad each region further (libvhost-user and DPDK align to 64 bytes).

/** QueueRegionSplit before desc[]: features u64, version, desc_num, last_batch_head, used_idx (u16 each). */
export const QUEUE_REGION_SPLIT_HEADER = 16;
/** DescStateSplit: inflight u8, padding[5], next u16, counter u64. */
export const DESC_STATE_SPLIT = 16;
/** QueueRegionPacked before desc[]: 29 bytes of fields and padding[7], then desc[] at its 8-byte alignment. */
export const QUEUE_REGION_PACKED_HEADER = 32;
/** DescStatePacked: inflight, padding, next, last, num, counter, id, flags, len, addr. */
export const DESC_STATE_PACKED = 32;

/** The smallest queue region the doc's layout allows for a virtqueue of `queueSize` descriptors. */
export function queueRegionSize(queueSize: number, packed: boolean): number {
  return packed ? QUEUE_REGION_PACKED_HEADER + DESC_STATE_PACKED * queueSize : QUEUE_REGION_SPLIT_HEADER + DESC_STATE_SPLIT * queueSize;
}

/** The smallest buffer that holds `numQueues` queue regions. */
export function inflightAreaSize(numQueues: number, queueSize: number, packed: boolean): number {
  return numQueues * queueRegionSize(queueSize, packed);
}

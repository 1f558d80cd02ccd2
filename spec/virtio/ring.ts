// Split and packed virtqueue layouts: virtio 1.2 §2.7 (split) and §2.8
// (packed); linux/virtio_ring.h.
import { defineStruct } from '../codec.ts';

export const VRING_DESC_F_NEXT = 1;
export const VRING_DESC_F_WRITE = 2;
export const VRING_DESC_F_INDIRECT = 4;
/** Bit numbers (not masks) of the packed descriptor AVAIL/USED flags, §2.8.1. */
export const VRING_PACKED_DESC_F_AVAIL = 7;
export const VRING_PACKED_DESC_F_USED = 15;
export const VRING_USED_F_NO_NOTIFY = 1;
export const VRING_AVAIL_F_NO_INTERRUPT = 1;
export const VRING_PACKED_EVENT_FLAG_ENABLE = 0x0;
export const VRING_PACKED_EVENT_FLAG_DISABLE = 0x1;
export const VRING_PACKED_EVENT_FLAG_DESC = 0x2;
export const VRING_PACKED_EVENT_F_WRAP_CTR = 15;
export const VRING_AVAIL_ALIGN_SIZE = 2;
export const VRING_USED_ALIGN_SIZE = 4;
export const VRING_DESC_ALIGN_SIZE = 16;

/** §2.7 / §2.8: "Queue Size … maximum 32768"; the packed off_wrap field leaves 15 bits for the offset. */
export const VIRTQ_MAX_SIZE = 32768;

export const vring_desc = defineStruct('vring_desc', 16, [
  { name: 'addr', type: 'u64', offset: 0 },
  { name: 'len', type: 'u32', offset: 8 },
  { name: 'flags', type: 'u16', offset: 12 },
  { name: 'next', type: 'u16', offset: 14 },
] as const);

export const vring_used_elem = defineStruct('vring_used_elem', 8, [
  { name: 'id', type: 'u32', offset: 0 },
  { name: 'len', type: 'u32', offset: 4 },
] as const);

/** Header of the available ring; `ring[num]` and `used_event` follow (§2.7.6). */
export const vring_avail = defineStruct('vring_avail', 4, [
  { name: 'flags', type: 'u16', offset: 0 },
  { name: 'idx', type: 'u16', offset: 2 },
] as const);

/** Header of the used ring; `ring[num]` and `avail_event` follow (§2.7.8). */
export const vring_used = defineStruct('vring_used', 4, [
  { name: 'flags', type: 'u16', offset: 0 },
  { name: 'idx', type: 'u16', offset: 2 },
] as const);

export const vring_packed_desc = defineStruct('vring_packed_desc', 16, [
  { name: 'addr', type: 'u64', offset: 0 },
  { name: 'len', type: 'u32', offset: 8 },
  { name: 'id', type: 'u16', offset: 12 },
  { name: 'flags', type: 'u16', offset: 14 },
] as const);

/** Event suppression structure, §2.8.14: off_wrap = offset | wrap << 15. */
export const vring_packed_desc_event = defineStruct('vring_packed_desc_event', 4, [
  { name: 'off_wrap', type: 'u16', offset: 0 },
  { name: 'flags', type: 'u16', offset: 2 },
] as const);

export const SPLIT_DESC_SIZE = vring_desc.size;
export const SPLIT_USED_ELEM_SIZE = vring_used_elem.size;
export const PACKED_DESC_SIZE = vring_packed_desc.size;

/** Byte sizes of the three split-ring areas for a queue of `num` entries (§2.7 table "Virtqueue Part Alignment Size"). */
export function splitRingSizes(num: number): { desc: number; avail: number; used: number } {
  return {
    desc: SPLIT_DESC_SIZE * num,
    avail: vring_avail.size + 2 * num + 2, // + used_event
    used: vring_used.size + SPLIT_USED_ELEM_SIZE * num + 2, // + avail_event
  };
}

/** Offsets inside the avail/used areas. */
export const splitRingOffsets = {
  availRing: (i: number) => vring_avail.size + 2 * i,
  usedEvent: (num: number) => vring_avail.size + 2 * num,
  usedRing: (i: number) => vring_used.size + SPLIT_USED_ELEM_SIZE * i,
  availEvent: (num: number) => vring_used.size + SPLIT_USED_ELEM_SIZE * num,
} as const;

/**
 * vring_need_event (virtio 1.2 §2.7.10 and linux/virtio_ring.h): notify iff
 * event_idx lies in the half-open window (old, new] of 16-bit indices.
 */
export function vringNeedEvent(eventIdx: number, newIdx: number, oldIdx: number): boolean {
  return ((newIdx - eventIdx - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff);
}

export function packedFlagAvail(wrap: boolean): number {
  return wrap ? 1 << VRING_PACKED_DESC_F_AVAIL : 0;
}

export function packedFlagUsed(wrap: boolean): number {
  return wrap ? 1 << VRING_PACKED_DESC_F_USED : 0;
}

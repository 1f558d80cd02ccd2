// Every struct, enumerator and constant of include/uapi/linux/vduse.h except
// the ioctl numbers (spec/vduse/ioctls.ts): the VDUSE control-device and
// device ioctl arguments, and the request/response messages read(2) from and
// written to /dev/vduse/$NAME (Documentation/userspace-api/vduse.rst).
// spec/headers.test.ts compares every value, size and offset with the header.
//
// Conventions are those of spec/vhost/types.ts (number constants, C `int` as
// u32, scalar arrays as `bytes`, flexible arrays outside the table, union
// members flattened as `member_field` with a cName designator). Unions whose
// variants overlap get one table per variant, exported as `tag__variant`
// (double underscore: C tags never contain one, and `vduse_vq_state_split`
// is already a real tag). All variant tables keep the C tag as their `name`
// and the full C size, so any of them decodes the same bytes; which one
// applies is decided by context (the negotiated ring layout for vq state, the
// request `type` for requests), never by the bytes of the union itself.
import { defineStruct } from '../codec.ts';

/** Size of vduse_dev_config.name and of VDUSE_DESTROY_DEV's argument, NUL included. */
export const VDUSE_NAME_MAX = 256;

// After name[256] come the 8-aligned `features` at 264 and `reserved[13]`
// (52 bytes) at 280; sizeof is 336 and `config[config_size]` follows.
/** Fixed part of VDUSE_CREATE_DEV's argument; `config_size` bytes of config space follow (`config[]`). */
export const vduse_dev_config = defineStruct('vduse_dev_config', 336, [
  { name: 'name', type: 'bytes', length: VDUSE_NAME_MAX, offset: 0 },
  { name: 'vendor_id', type: 'u32', offset: 256 },
  { name: 'device_id', type: 'u32', offset: 260 },
  { name: 'features', type: 'u64', offset: 264 },
  { name: 'vq_num', type: 'u32', offset: 272 },
  { name: 'vq_align', type: 'u32', offset: 276 },
  /** `__u32 reserved[13]`, must be zero. */
  { name: 'reserved', type: 'bytes', length: 52, offset: 280 },
  { name: 'config_size', type: 'u32', offset: 332 },
] as const);

/** vduse_iotlb_entry.perm values (same encoding as VHOST_ACCESS_*). */
export const VDUSE_ACCESS_RO = 0x1;
export const VDUSE_ACCESS_WO = 0x2;
export const VDUSE_ACCESS_RW = 0x3;

/** Argument of VDUSE_IOTLB_GET_FD: the inclusive IOVA range [start, last], and on return the region's mmap offset and perm. */
export const vduse_iotlb_entry = defineStruct('vduse_iotlb_entry', 32, [
  { name: 'offset', type: 'u64', offset: 0 },
  { name: 'start', type: 'u64', offset: 8 },
  { name: 'last', type: 'u64', offset: 16 },
  { name: 'perm', type: 'u8', offset: 24 },
] as const);

/** Fixed part of VDUSE_DEV_SET_CONFIG's argument; `length` bytes follow (`buffer[]`). */
export const vduse_config_data = defineStruct('vduse_config_data', 8, [
  { name: 'offset', type: 'u32', offset: 0 },
  { name: 'length', type: 'u32', offset: 4 },
] as const);

export const vduse_vq_config = defineStruct('vduse_vq_config', 32, [
  { name: 'index', type: 'u32', offset: 0 },
  { name: 'max_size', type: 'u16', offset: 4 },
  /** `__u16 reserved[13]`, must be zero. */
  { name: 'reserved', type: 'bytes', length: 26, offset: 6 },
] as const);

export const vduse_vq_state_split = defineStruct('vduse_vq_state_split', 2, [
  { name: 'avail_index', type: 'u16', offset: 0 },
] as const);

/** The counters are the packed-ring wrap counters (0 or 1), kept as u16 by the header. */
export const vduse_vq_state_packed = defineStruct('vduse_vq_state_packed', 8, [
  { name: 'last_avail_counter', type: 'u16', offset: 0 },
  { name: 'last_avail_idx', type: 'u16', offset: 2 },
  { name: 'last_used_counter', type: 'u16', offset: 4 },
  { name: 'last_used_idx', type: 'u16', offset: 6 },
] as const);

// vduse_vq_info: the split/packed union (8 bytes, 2-aligned) sits at 32,
// `ready` at 40, and the u64 members round sizeof up to 48.
const vqInfoHead = [
  { name: 'index', type: 'u32', offset: 0 },
  { name: 'num', type: 'u32', offset: 4 },
  { name: 'desc_addr', type: 'u64', offset: 8 },
  { name: 'driver_addr', type: 'u64', offset: 16 },
  { name: 'device_addr', type: 'u64', offset: 24 },
] as const;

/** VDUSE_VQ_GET_INFO result for a split virtqueue. */
export const vduse_vq_info__split = defineStruct('vduse_vq_info', 48, [
  ...vqInfoHead,
  { name: 'split_avail_index', type: 'u16', offset: 32, cName: 'split.avail_index' },
  { name: 'ready', type: 'u8', offset: 40 },
] as const);

/** VDUSE_VQ_GET_INFO result for a packed virtqueue (VIRTIO_F_RING_PACKED negotiated). */
export const vduse_vq_info__packed = defineStruct('vduse_vq_info', 48, [
  ...vqInfoHead,
  { name: 'packed_last_avail_counter', type: 'u16', offset: 32, cName: 'packed.last_avail_counter' },
  { name: 'packed_last_avail_idx', type: 'u16', offset: 34, cName: 'packed.last_avail_idx' },
  { name: 'packed_last_used_counter', type: 'u16', offset: 36, cName: 'packed.last_used_counter' },
  { name: 'packed_last_used_idx', type: 'u16', offset: 38, cName: 'packed.last_used_idx' },
  { name: 'ready', type: 'u8', offset: 40 },
] as const);

/** vduse_vq_eventfd.fd value that de-assigns the kick eventfd. */
export const VDUSE_EVENTFD_DEASSIGN = -1;

export const vduse_vq_eventfd = defineStruct('vduse_vq_eventfd', 8, [
  { name: 'index', type: 'u32', offset: 0 },
  /** C `int`; VDUSE_EVENTFD_DEASSIGN (-1) is 0xffffffff. */
  { name: 'fd', type: 'u32', offset: 4 },
] as const);

/** Argument of VDUSE_IOTLB_REG_UMEM / DEREG_UMEM; `uaddr` must be page-aligned. */
export const vduse_iova_umem = defineStruct('vduse_iova_umem', 48, [
  { name: 'uaddr', type: 'u64', offset: 0 },
  { name: 'iova', type: 'u64', offset: 8 },
  { name: 'size', type: 'u64', offset: 16 },
  /** `__u64 reserved[3]`, must be zero. */
  { name: 'reserved', type: 'bytes', length: 24, offset: 24 },
] as const);

/** vduse_iova_info.capability bit: the region can be backed by user memory (VDUSE_IOTLB_REG_UMEM). */
export const VDUSE_IOVA_CAP_UMEM = 1 << 0;

export const vduse_iova_info = defineStruct('vduse_iova_info', 48, [
  { name: 'start', type: 'u64', offset: 0 },
  { name: 'last', type: 'u64', offset: 8 },
  { name: 'capability', type: 'u64', offset: 16 },
  /** `__u64 reserved[3]`, must be zero. */
  { name: 'reserved', type: 'bytes', length: 24, offset: 24 },
] as const);

/** enum vduse_req_type: vduse_dev_request.type. Enumerators, not macros (no #ifdef in C). */
export const VDUSE_GET_VQ_STATE = 0;
export const VDUSE_SET_STATUS = 1;
export const VDUSE_UPDATE_IOTLB = 2;

// vduse_vq_state: `index` then the split/packed union at 4; sizeof 12.
/** Virtqueue state of a split ring, as in vduse_dev_response.vq_state. */
export const vduse_vq_state__split = defineStruct('vduse_vq_state', 12, [
  { name: 'index', type: 'u32', offset: 0 },
  { name: 'split_avail_index', type: 'u16', offset: 4, cName: 'split.avail_index' },
] as const);

/** Virtqueue state of a packed ring. */
export const vduse_vq_state__packed = defineStruct('vduse_vq_state', 12, [
  { name: 'index', type: 'u32', offset: 0 },
  { name: 'packed_last_avail_counter', type: 'u16', offset: 4, cName: 'packed.last_avail_counter' },
  { name: 'packed_last_avail_idx', type: 'u16', offset: 6, cName: 'packed.last_avail_idx' },
  { name: 'packed_last_used_counter', type: 'u16', offset: 8, cName: 'packed.last_used_counter' },
  { name: 'packed_last_used_idx', type: 'u16', offset: 10, cName: 'packed.last_used_idx' },
] as const);

export const vduse_dev_status = defineStruct('vduse_dev_status', 1, [
  { name: 'status', type: 'u8', offset: 0 },
] as const);

/** Inclusive IOVA range [start, last]. */
export const vduse_iova_range = defineStruct('vduse_iova_range', 16, [
  { name: 'start', type: 'u64', offset: 0 },
  { name: 'last', type: 'u64', offset: 8 },
] as const);

// vduse_dev_request: 24 bytes of header, then a union of vq_state / s / iova
// / `__u32 padding[32]`, 8-aligned (iova's u64s) at 24; sizeof 24 + 128.
const requestHead = [
  { name: 'type', type: 'u32', offset: 0 },
  { name: 'request_id', type: 'u32', offset: 4 },
  /** `__u32 reserved[4]`. */
  { name: 'reserved', type: 'bytes', length: 16, offset: 8 },
] as const;

/** Any request, union not interpreted: read this first, then pick the variant by `type`. */
export const vduse_dev_request = defineStruct('vduse_dev_request', 152, requestHead);

/** VDUSE_GET_VQ_STATE: only vq_state.index is meaningful in a request (vduse.h). */
export const vduse_dev_request__vq_state = defineStruct('vduse_dev_request', 152, [
  ...requestHead,
  { name: 'vq_state_index', type: 'u32', offset: 24, cName: 'vq_state.index' },
] as const);

/** VDUSE_SET_STATUS: the new device status (union member `s`). */
export const vduse_dev_request__s = defineStruct('vduse_dev_request', 152, [
  ...requestHead,
  { name: 's_status', type: 'u8', offset: 24, cName: 's.status' },
] as const);

/** VDUSE_UPDATE_IOTLB: the IOVA range whose mappings changed. */
export const vduse_dev_request__iova = defineStruct('vduse_dev_request', 152, [
  ...requestHead,
  { name: 'iova_start', type: 'u64', offset: 24, cName: 'iova.start' },
  { name: 'iova_last', type: 'u64', offset: 32, cName: 'iova.last' },
] as const);

/** vduse_dev_response.result values. */
export const VDUSE_REQ_RESULT_OK = 0x00;
export const VDUSE_REQ_RESULT_FAILED = 0x01;

// vduse_dev_response: 24 bytes of header, then a union of vq_state /
// `__u32 padding[32]` (4-aligned) at 24; sizeof 24 + 128.
const responseHead = [
  { name: 'request_id', type: 'u32', offset: 0 },
  { name: 'result', type: 'u32', offset: 4 },
  /** `__u32 reserved[4]`, must be zero. */
  { name: 'reserved', type: 'bytes', length: 16, offset: 8 },
] as const;

/** Response to VDUSE_SET_STATUS and VDUSE_UPDATE_IOTLB: the union carries nothing. */
export const vduse_dev_response = defineStruct('vduse_dev_response', 152, responseHead);

/** Response to VDUSE_GET_VQ_STATE for a split ring. */
export const vduse_dev_response__vq_state_split = defineStruct('vduse_dev_response', 152, [
  ...responseHead,
  { name: 'vq_state_index', type: 'u32', offset: 24, cName: 'vq_state.index' },
  { name: 'vq_state_split_avail_index', type: 'u16', offset: 28, cName: 'vq_state.split.avail_index' },
] as const);

/** Response to VDUSE_GET_VQ_STATE for a packed ring. */
export const vduse_dev_response__vq_state_packed = defineStruct('vduse_dev_response', 152, [
  ...responseHead,
  { name: 'vq_state_index', type: 'u32', offset: 24, cName: 'vq_state.index' },
  { name: 'vq_state_packed_last_avail_counter', type: 'u16', offset: 28, cName: 'vq_state.packed.last_avail_counter' },
  { name: 'vq_state_packed_last_avail_idx', type: 'u16', offset: 30, cName: 'vq_state.packed.last_avail_idx' },
  { name: 'vq_state_packed_last_used_counter', type: 'u16', offset: 32, cName: 'vq_state.packed.last_used_counter' },
  { name: 'vq_state_packed_last_used_idx', type: 'u16', offset: 34, cName: 'vq_state.packed.last_used_idx' },
] as const);

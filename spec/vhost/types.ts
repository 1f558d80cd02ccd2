// Every struct and constant of include/uapi/linux/vhost_types.h, the argument
// and message layouts of the vhost ioctls (vhost-net, vhost-scsi,
// vhost-vsock, vhost-vdpa) and of the IOTLB messages read from and written
// to a vhost fd. Names are the C names; spec/headers.test.ts compares every
// value, size and offset here with the installed header.
//
// Conventions (shared with spec/vduse/types.ts):
// - Numeric constants are `number`: none of these headers defines a value
//   above 2^53, so bigint is reserved for the u64 *fields* (codec `u64`).
// - C `int` members (fds, abi_version) are encoded as u32: -1 is 0xffffffff.
// - Arrays of scalars (`__u32 reserved[4]`, `char name[256]`) are `bytes`.
// - A trailing flexible array member (`regions[]`, `buf[]`) is not part of
//   the table: the table is the fixed header, `size` equals C's sizeof, and
//   the array follows it on the wire (framing, not this table, handles it).
// - A union member is flattened with `cName` set to its C designator and
//   `name` set to that designator with `.` replaced by `_` (`iotlb.type` →
//   `iotlb_type`), which keeps names unique (vhost_msg has both `type` and
//   `iotlb.type`) and says which variant a field belongs to. A union whose
//   variants overlap gets one table per variant (exported as `tag__variant`,
//   see spec/vduse/types.ts), so encode/decode stay bijective; a union whose
//   only other member is a `padding[]` array (vhost_msg, vhost_msg_v2) is
//   modelled by its real member, the padding covered by the table's size.
import { defineStruct } from '../codec.ts';

export const vhost_vring_state = defineStruct('vhost_vring_state', 8, [
  { name: 'index', type: 'u32', offset: 0 },
  { name: 'num', type: 'u32', offset: 4 },
] as const);

export const vhost_vring_file = defineStruct('vhost_vring_file', 8, [
  { name: 'index', type: 'u32', offset: 0 },
  /** C `int`; -1 (VHOST_FILE_UNBIND) detaches. */
  { name: 'fd', type: 'u32', offset: 4 },
] as const);

/** Bit number in vhost_vring_addr.flags: log_guest_addr is valid and used-ring writes are logged. */
export const VHOST_VRING_F_LOG = 0;

export const vhost_vring_addr = defineStruct('vhost_vring_addr', 40, [
  { name: 'index', type: 'u32', offset: 0 },
  { name: 'flags', type: 'u32', offset: 4 },
  { name: 'desc_user_addr', type: 'u64', offset: 8 },
  { name: 'used_user_addr', type: 'u64', offset: 16 },
  { name: 'avail_user_addr', type: 'u64', offset: 24 },
  { name: 'log_guest_addr', type: 'u64', offset: 32 },
] as const);

/** vhost_iotlb_msg.perm values. */
export const VHOST_ACCESS_RO = 0x1;
export const VHOST_ACCESS_WO = 0x2;
export const VHOST_ACCESS_RW = 0x3;

/** vhost_iotlb_msg.type values. BATCH_BEGIN/END bracket a run of UPDATEs; their other fields are ignored. */
export const VHOST_IOTLB_MISS = 1;
export const VHOST_IOTLB_UPDATE = 2;
export const VHOST_IOTLB_INVALIDATE = 3;
export const VHOST_IOTLB_ACCESS_FAIL = 4;
export const VHOST_IOTLB_BATCH_BEGIN = 5;
export const VHOST_IOTLB_BATCH_END = 6;

// The header says "no alignment requirement", but the u64 members give the
// struct 8-byte alignment in C, so sizeof is 32 (26 bytes + 6 of padding).
export const vhost_iotlb_msg = defineStruct('vhost_iotlb_msg', 32, [
  { name: 'iova', type: 'u64', offset: 0 },
  { name: 'size', type: 'u64', offset: 8 },
  { name: 'uaddr', type: 'u64', offset: 16 },
  { name: 'perm', type: 'u8', offset: 24 },
  { name: 'type', type: 'u8', offset: 25 },
] as const);

/** vhost_msg.type / vhost_msg_v2.type: which of the two message layouts is on the fd. */
export const VHOST_IOTLB_MSG = 0x1;
export const VHOST_IOTLB_MSG_V2 = 0x2;

// The union { iotlb; __u8 padding[64]; } is 8-aligned (iotlb's u64s), so it
// starts at 8 after the 4-byte `type`, and sizeof is 8 + 64 = 72.
export const vhost_msg = defineStruct('vhost_msg', 72, [
  /** C `int`. */
  { name: 'type', type: 'u32', offset: 0 },
  { name: 'iotlb_iova', type: 'u64', offset: 8, cName: 'iotlb.iova' },
  { name: 'iotlb_size', type: 'u64', offset: 16, cName: 'iotlb.size' },
  { name: 'iotlb_uaddr', type: 'u64', offset: 24, cName: 'iotlb.uaddr' },
  { name: 'iotlb_perm', type: 'u8', offset: 32, cName: 'iotlb.perm' },
  { name: 'iotlb_type', type: 'u8', offset: 33, cName: 'iotlb.type' },
] as const);

/** Used once VHOST_BACKEND_F_IOTLB_MSG_V2 is negotiated; `asid` needs VHOST_BACKEND_F_IOTLB_ASID. */
export const vhost_msg_v2 = defineStruct('vhost_msg_v2', 72, [
  { name: 'type', type: 'u32', offset: 0 },
  { name: 'asid', type: 'u32', offset: 4 },
  { name: 'iotlb_iova', type: 'u64', offset: 8, cName: 'iotlb.iova' },
  { name: 'iotlb_size', type: 'u64', offset: 16, cName: 'iotlb.size' },
  { name: 'iotlb_uaddr', type: 'u64', offset: 24, cName: 'iotlb.uaddr' },
  { name: 'iotlb_perm', type: 'u8', offset: 32, cName: 'iotlb.perm' },
  { name: 'iotlb_type', type: 'u8', offset: 33, cName: 'iotlb.type' },
] as const);

export const vhost_memory_region = defineStruct('vhost_memory_region', 32, [
  { name: 'guest_phys_addr', type: 'u64', offset: 0 },
  { name: 'memory_size', type: 'u64', offset: 8 },
  { name: 'userspace_addr', type: 'u64', offset: 16 },
  { name: 'flags_padding', type: 'u64', offset: 24 },
] as const);

/** "All region addresses and sizes must be 4K aligned." */
export const VHOST_PAGE_SIZE = 0x1000;

/** Fixed header of VHOST_SET_MEM_TABLE's argument; `nregions` vhost_memory_region entries follow (`regions[]`). */
export const vhost_memory = defineStruct('vhost_memory', 8, [
  { name: 'nregions', type: 'u32', offset: 0 },
  { name: 'padding', type: 'u32', offset: 4 },
] as const);

/** Revision 1 (January 2013): vhost_tpgt is ignored. */
export const VHOST_SCSI_ABI_VERSION = 1;

export const vhost_scsi_target = defineStruct('vhost_scsi_target', 232, [
  /** C `int`. */
  { name: 'abi_version', type: 'u32', offset: 0 },
  /** `char vhost_wwpn[224]` (TRANSPORT_IQN_LEN), NUL-terminated. */
  { name: 'vhost_wwpn', type: 'bytes', length: 224, offset: 4 },
  { name: 'vhost_tpgt', type: 'u16', offset: 228 },
  { name: 'reserved', type: 'u16', offset: 230 },
] as const);

/** Fixed header of VHOST_VDPA_GET/SET_CONFIG's argument; `len` bytes of config space follow (`buf[]`). */
export const vhost_vdpa_config = defineStruct('vhost_vdpa_config', 8, [
  { name: 'off', type: 'u32', offset: 0 },
  { name: 'len', type: 'u32', offset: 4 },
] as const);

/** Inclusive range [first, last] of IOVAs vhost-vDPA can map. */
export const vhost_vdpa_iova_range = defineStruct('vhost_vdpa_iova_range', 16, [
  { name: 'first', type: 'u64', offset: 0 },
  { name: 'last', type: 'u64', offset: 8 },
] as const);

// Feature bits are bit *numbers*, as in virtio_config.h: the feature mask is
// 1n << BigInt(bit). VHOST_F_LOG_ALL and VHOST_NET_F_VIRTIO_NET_HDR live in
// the virtio feature word (VHOST_GET/SET_FEATURES), in the device-specific
// range below VIRTIO_TRANSPORT_F_START.
export const VHOST_F_LOG_ALL = 26;
export const VHOST_NET_F_VIRTIO_NET_HDR = 27;

// The backend feature word (VHOST_GET/SET_BACKEND_FEATURES) is separate from
// the virtio one; these are its bit numbers too (0x1 is bit 1, not mask 1).
export const VHOST_BACKEND_F_IOTLB_MSG_V2 = 0x1;
export const VHOST_BACKEND_F_IOTLB_BATCH = 0x2;
export const VHOST_BACKEND_F_IOTLB_ASID = 0x3;
export const VHOST_BACKEND_F_SUSPEND = 0x4;

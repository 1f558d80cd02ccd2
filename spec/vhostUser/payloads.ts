// vhost-user message payloads as declarative tables (QEMU
// docs/interop/vhost-user.rst "Message Specification" > "Payload"). The doc
// says "All numbers are in the machine native byte order": little-endian on
// every host this suite runs on (see spec/codec.ts).
//
// Where the doc names a kernel struct (`struct vhost_vring_state`,
// `struct vhost_vring_addr`, `struct vhost_iotlb_msg` in "C structure"), the
// table is the UAPI one from spec/vhost/types.ts, so one wire type has one
// table. Field names follow the C members, like the UAPI tables.
import fc from 'fast-check';
import { arbitraryOf, decode, DecodeError, defineStruct, encode, encodeInto, type StructSpec, type StructValue } from '../codec.ts';
import { vhost_iotlb_msg, vhost_vring_addr, vhost_vring_state } from '../vhost/types.ts';

/** Bits 0-7 of the SET_VRING_KICK/CALL/ERR u64 (and of the vring-area u64): the vring index. */
export const VHOST_USER_VRING_IDX_MASK = 0xff;
/** Bit 8 of the same words: "the invalid FD flag ... set when there is no file descriptor in the ancillary data". */
export const VHOST_USER_VRING_NOFD_MASK = 1 << 8;

/** "Multiple Memory regions description" shows region0 … region7: at most 8 regions per SET_MEM_TABLE. */
export const VHOST_MEMORY_BASELINE_NREGIONS = 8;

// The doc only says "Size bytes array"; 256 is QEMU's VHOST_USER_MAX_CONFIG_SIZE
// (hw/virtio/vhost-user.c, the size of VhostUserConfig.region), so a larger
// `size` cannot be answered by the reference front-end: de-facto limit.
export const VHOST_USER_MAX_CONFIG_SIZE = 256;

/** "Virtio device config space" flags values (QEMU's VHOST_SET_CONFIG_TYPE_* names). */
export const VHOST_SET_CONFIG_TYPE_FRONTEND = 0;
export const VHOST_SET_CONFIG_TYPE_MIGRATION = 1;

/** "Device state transfer parameters": transfer direction and migration phase values. */
export const VHOST_TRANSFER_STATE_DIRECTION_SAVE = 0;
export const VHOST_TRANSFER_STATE_DIRECTION_LOAD = 1;
export const VHOST_TRANSFER_STATE_PHASE_STOPPED = 0;

/** "Memory region description" xen mmap flags bits (with VHOST_USER_PROTOCOL_F_XEN_MMAP). */
export const XEN_MMAP_FLAG_FOREIGN = 1 << 0;
export const XEN_MMAP_FLAG_GRANT = 1 << 1;
/** The region must not be mapped in advance; map only what is needed, when needed. */
export const XEN_MMAP_FLAG_MAP_ON_DEMAND = 1 << 8;

/** "A single 64-bit integer". */
export const VHOST_USER_U64 = defineStruct('u64', 8, [{ name: 'u64', type: 'u64', offset: 0 }] as const);

/** "Memory region description" (QEMU VhostUserMemoryRegion). */
export const VHOST_USER_MEMORY_REGION = defineStruct('VhostUserMemoryRegion', 32, [
  { name: 'guest_phys_addr', type: 'u64', offset: 0 },
  { name: 'memory_size', type: 'u64', offset: 8 },
  { name: 'userspace_addr', type: 'u64', offset: 16 },
  { name: 'mmap_offset', type: 'u64', offset: 24 },
] as const);

/** The same region once XEN_MMAP is negotiated: "two extra fields at the end". */
export const VHOST_USER_MEMORY_REGION_XEN = defineStruct('VhostUserMemoryRegion (XEN_MMAP)', 40, [
  ...VHOST_USER_MEMORY_REGION.fields,
  { name: 'xen_mmap_flags', type: 'u32', offset: 32 },
  { name: 'domid', type: 'u32', offset: 36 },
] as const);

/** Header of "Multiple Memory regions description" (QEMU VhostUserMemory); `nregions` regions follow. */
export const VHOST_USER_MEMORY_HEADER = defineStruct('VhostUserMemory', 8, [
  { name: 'nregions', type: 'u32', offset: 0 },
  { name: 'padding', type: 'u32', offset: 4 },
] as const);

/** "Single memory region description" (ADD_MEM_REG / REM_MEM_REG): 64-bit padding, then a region. */
export const VHOST_USER_MEM_REG_MSG = defineStruct('VhostUserMemRegMsg', 40, [
  { name: 'padding', type: 'u64', offset: 0 },
  ...VHOST_USER_MEMORY_REGION.fields.map((f) => ({ ...f, offset: f.offset + 8, cName: `region.${f.name}` })),
] as const);

export const VHOST_USER_MEM_REG_MSG_XEN = defineStruct('VhostUserMemRegMsg (XEN_MMAP)', 48, [
  { name: 'padding', type: 'u64', offset: 0 },
  ...VHOST_USER_MEMORY_REGION_XEN.fields.map((f) => ({ ...f, offset: f.offset + 8, cName: `region.${f.name}` })),
] as const);

/** "Log description" (QEMU VhostUserLog). */
export const VHOST_USER_LOG = defineStruct('VhostUserLog', 16, [
  { name: 'mmap_size', type: 'u64', offset: 0 },
  { name: 'mmap_offset', type: 'u64', offset: 8 },
] as const);

/** Fixed header of "Virtio device config space"; `size` bytes of config space follow. */
export const VHOST_USER_CONFIG_HEADER = defineStruct('VhostUserConfig', 12, [
  { name: 'offset', type: 'u32', offset: 0 },
  { name: 'size', type: 'u32', offset: 4 },
  { name: 'flags', type: 'u32', offset: 8 },
] as const);

/** "Vring area description": `u64` holds the vring index (bits 0-7) and the no-fd flag (bit 8). */
export const VHOST_USER_VRING_AREA = defineStruct('VhostUserVringArea', 24, [
  { name: 'u64', type: 'u64', offset: 0 },
  { name: 'size', type: 'u64', offset: 8 },
  { name: 'offset', type: 'u64', offset: 16 },
] as const);

// "Inflight description" lists 8+8+2+2 bytes; as a C struct it has 8-byte
// alignment, so sizeof (what QEMU puts in the size field) is 24, not 20.
export const VHOST_USER_INFLIGHT = defineStruct('VhostUserInflight', 24, [
  { name: 'mmap_size', type: 'u64', offset: 0 },
  { name: 'mmap_offset', type: 'u64', offset: 8 },
  { name: 'num_queues', type: 'u16', offset: 16 },
  { name: 'queue_size', type: 'u16', offset: 18 },
] as const);

/** "VhostUserShared": a 16-byte UUID, kept as raw bytes (its first three components are big-endian on the wire). */
export const VHOST_USER_SHARED = defineStruct('VhostUserShared', 16, [{ name: 'uuid', type: 'bytes', length: 16, offset: 0 }] as const);

/** "Device state transfer parameters" (QEMU VhostUserTransferDeviceState). */
export const VHOST_USER_TRANSFER_DEVICE_STATE = defineStruct('VhostUserTransferDeviceState', 8, [
  { name: 'direction', type: 'u32', offset: 0 },
  { name: 'phase', type: 'u32', offset: 4 },
] as const);

/**
 * Payloads with one fixed layout. Two keys may share a table when the doc
 * gives the same bytes a different meaning:
 * - `vringDescIndex` ("vring descriptor index/indices", SET/GET_VRING_BASE) is a
 *   vhost_vring_state whose `num` packs ring indices (see decodePackedIndices);
 * - `vringFile` (SET_VRING_KICK/CALL/ERR) is a u64 with the index in bits 0-7
 *   and the no-fd flag in bit 8 (see splitNoFdWord).
 */
export const FIXED_PAYLOADS = {
  u64: VHOST_USER_U64,
  vringFile: VHOST_USER_U64,
  vringState: vhost_vring_state,
  vringDescIndex: vhost_vring_state,
  vringAddr: vhost_vring_addr,
  log: VHOST_USER_LOG,
  iotlb: vhost_iotlb_msg,
  vringArea: VHOST_USER_VRING_AREA,
  inflight: VHOST_USER_INFLIGHT,
  shared: VHOST_USER_SHARED,
  deviceState: VHOST_USER_TRANSFER_DEVICE_STATE,
} as const;

export type FixedPayloadType = keyof typeof FIXED_PAYLOADS;

/**
 * Every payload kind a message can carry. Besides the fixed ones:
 * `memoryTable` (header + nregions regions), `singleMemoryRegion` (its size
 * depends on XEN_MMAP), `config` (header + `size` bytes), `opaque` (bytes
 * whose layout the doc does not define: they are carried, not interpreted)
 * and `none` (no payload: size 0).
 */
export type PayloadType = FixedPayloadType | 'memoryTable' | 'singleMemoryRegion' | 'config' | 'opaque' | 'none';

export const PAYLOAD_TYPES: readonly PayloadType[] = [
  ...(Object.keys(FIXED_PAYLOADS) as FixedPayloadType[]),
  'memoryTable',
  'singleMemoryRegion',
  'config',
  'opaque',
  'none',
];

export type MemoryRegion = StructValue<typeof VHOST_USER_MEMORY_REGION> | StructValue<typeof VHOST_USER_MEMORY_REGION_XEN>;

export interface MemoryTable {
  readonly nregions: number;
  readonly padding: number;
  readonly regions: readonly MemoryRegion[];
}

export type SingleMemoryRegion = StructValue<typeof VHOST_USER_MEM_REG_MSG> | StructValue<typeof VHOST_USER_MEM_REG_MSG_XEN>;

export interface ConfigSpace {
  readonly offset: number;
  /** The size field as sent; on decode it always equals `data.length`. */
  readonly size: number;
  readonly flags: number;
  readonly data: Uint8Array;
}

type FixedPayload = {
  [K in FixedPayloadType]: { readonly type: K; readonly value: StructValue<(typeof FIXED_PAYLOADS)[K]> };
}[FixedPayloadType];

/** A decoded payload, tagged with its kind. */
export type Payload =
  | FixedPayload
  | { readonly type: 'memoryTable'; readonly value: MemoryTable }
  | { readonly type: 'singleMemoryRegion'; readonly value: SingleMemoryRegion }
  | { readonly type: 'config'; readonly value: ConfigSpace }
  | { readonly type: 'opaque'; readonly value: Uint8Array }
  | { readonly type: 'none' };

/** What the layout depends on besides the message code. */
export interface PayloadContext {
  /** VHOST_USER_PROTOCOL_F_XEN_MMAP negotiated: regions carry xen_mmap_flags and domid. */
  readonly xenMmap?: boolean;
}

function regionTable(ctx: PayloadContext): StructSpec {
  return ctx.xenMmap ? VHOST_USER_MEMORY_REGION_XEN : VHOST_USER_MEMORY_REGION;
}

function memRegTable(ctx: PayloadContext): StructSpec {
  return ctx.xenMmap ? VHOST_USER_MEM_REG_MSG_XEN : VHOST_USER_MEM_REG_MSG;
}

function isFixed(type: PayloadType): type is FixedPayloadType {
  return Object.hasOwn(FIXED_PAYLOADS, type);
}

/** Smallest and largest valid size of a payload kind; `max` is null when the doc sets no bound (`opaque`). */
export function payloadSizeBounds(type: PayloadType, ctx: PayloadContext = {}): { readonly min: number; readonly max: number | null } {
  if (isFixed(type)) return { min: FIXED_PAYLOADS[type].size, max: FIXED_PAYLOADS[type].size };
  switch (type) {
    case 'memoryTable':
      return { min: VHOST_USER_MEMORY_HEADER.size, max: VHOST_USER_MEMORY_HEADER.size + VHOST_MEMORY_BASELINE_NREGIONS * regionTable(ctx).size };
    case 'singleMemoryRegion':
      return { min: memRegTable(ctx).size, max: memRegTable(ctx).size };
    case 'config':
      return { min: VHOST_USER_CONFIG_HEADER.size, max: VHOST_USER_CONFIG_HEADER.size + VHOST_USER_MAX_CONFIG_SIZE };
    case 'opaque':
      return { min: 0, max: null };
    case 'none':
      return { min: 0, max: 0 };
  }
}

function copy(bytes: Uint8Array, start: number, end: number): Uint8Array {
  return new Uint8Array(bytes.subarray(start, end));
}

function decodeMemoryTable(bytes: Uint8Array, ctx: PayloadContext): MemoryTable {
  const header = decode(VHOST_USER_MEMORY_HEADER, bytes);
  if (header.nregions > VHOST_MEMORY_BASELINE_NREGIONS) {
    throw new DecodeError(VHOST_USER_MEMORY_HEADER.name, 0, `nregions ${header.nregions} exceeds ${VHOST_MEMORY_BASELINE_NREGIONS}`);
  }
  const region = regionTable(ctx);
  // The doc's picture shows region0..region7 but never says unused slots are
  // sent; QEMU sizes the message as header + nregions regions
  // (vhost_user_fill_set_mem_table_msg), so that is the one accepted length.
  const expected = VHOST_USER_MEMORY_HEADER.size + header.nregions * region.size;
  if (bytes.length < expected) {
    throw new DecodeError(VHOST_USER_MEMORY_HEADER.name, bytes.length, `truncated: ${header.nregions} regions need ${expected} bytes, have ${bytes.length}`);
  }
  if (bytes.length > expected) {
    throw new DecodeError(VHOST_USER_MEMORY_HEADER.name, expected, `oversize: ${bytes.length - expected} bytes after ${header.nregions} regions`);
  }
  const regions: MemoryRegion[] = [];
  for (let i = 0; i < header.nregions; i++) {
    regions.push(decode(region, bytes, VHOST_USER_MEMORY_HEADER.size + i * region.size) as MemoryRegion);
  }
  return { nregions: header.nregions, padding: header.padding, regions };
}

function decodeConfig(bytes: Uint8Array): ConfigSpace {
  const h = decode(VHOST_USER_CONFIG_HEADER, bytes);
  const name = VHOST_USER_CONFIG_HEADER.name;
  if (h.size > VHOST_USER_MAX_CONFIG_SIZE) {
    throw new DecodeError(name, 4, `size ${h.size} exceeds VHOST_USER_MAX_CONFIG_SIZE ${VHOST_USER_MAX_CONFIG_SIZE}`);
  }
  const end = VHOST_USER_CONFIG_HEADER.size + h.size;
  if (bytes.length < end) throw new DecodeError(name, bytes.length, `truncated: size ${h.size} needs ${end} bytes, have ${bytes.length}`);
  if (bytes.length > end) throw new DecodeError(name, end, `oversize: ${bytes.length - end} bytes after ${h.size} bytes of config`);
  return { offset: h.offset, size: h.size, flags: h.flags, data: copy(bytes, VHOST_USER_CONFIG_HEADER.size, end) };
}

/** Decodes `bytes` as exactly one payload of kind `type`; any other length is a DecodeError. */
export function decodePayloadAs(type: PayloadType, bytes: Uint8Array, ctx: PayloadContext = {}): Payload {
  if (isFixed(type)) return { type, value: decode(FIXED_PAYLOADS[type], bytes, 0, { exact: true }) } as Payload;
  switch (type) {
    case 'memoryTable':
      return { type, value: decodeMemoryTable(bytes, ctx) };
    case 'singleMemoryRegion':
      return { type, value: decode(memRegTable(ctx), bytes, 0, { exact: true }) as SingleMemoryRegion };
    case 'config':
      return { type, value: decodeConfig(bytes) };
    case 'opaque':
      return { type, value: copy(bytes, 0, bytes.length) };
    case 'none':
      if (bytes.length !== 0) throw new DecodeError('no payload', 0, `oversize: ${bytes.length} bytes where the message has no payload`);
      return { type };
  }
}

/**
 * Encodes a payload. Counts are written as given, so hostile payloads (a
 * `nregions` or config `size` that disagrees with what follows) can be built.
 */
/** What a payload-less message encodes to: nothing, so one empty buffer serves every request. */
const NO_BYTES = Buffer.alloc(0);

export function encodePayload(p: Payload, ctx: PayloadContext = {}): Buffer {
  switch (p.type) {
    case 'memoryTable': {
      const region = regionTable(ctx);
      const out = Buffer.alloc(VHOST_USER_MEMORY_HEADER.size + p.value.regions.length * region.size);
      encodeInto(VHOST_USER_MEMORY_HEADER, { nregions: p.value.nregions, padding: p.value.padding }, out, 0);
      p.value.regions.forEach((r, i) => encodeInto(region, r as StructValue<StructSpec>, out, VHOST_USER_MEMORY_HEADER.size + i * region.size));
      return out;
    }
    case 'singleMemoryRegion':
      return encode(memRegTable(ctx), p.value as StructValue<StructSpec>);
    case 'config': {
      const { offset, size, flags, data } = p.value;
      return Buffer.concat([encode(VHOST_USER_CONFIG_HEADER, { offset, size, flags }), data]);
    }
    case 'opaque':
      return Buffer.from(p.value);
    case 'none':
      return NO_BYTES;
    default:
      return encode(FIXED_PAYLOADS[p.type] as StructSpec, p.value as StructValue<StructSpec>);
  }
}

/** Any well-formed payload of kind `type` (every field over its full range). */
export function arbitraryPayload(type: PayloadType, ctx: PayloadContext = {}): fc.Arbitrary<Payload> {
  if (isFixed(type)) return arbitraryOf(FIXED_PAYLOADS[type] as StructSpec).map((value) => ({ type, value }) as Payload);
  switch (type) {
    case 'memoryTable':
      return fc
        .record({
          padding: fc.nat({ max: 0xffff_ffff }),
          regions: fc.array(arbitraryOf(regionTable(ctx)) as fc.Arbitrary<MemoryRegion>, { maxLength: VHOST_MEMORY_BASELINE_NREGIONS }),
        })
        .map(({ padding, regions }) => ({ type, value: { nregions: regions.length, padding, regions } }));
    case 'singleMemoryRegion':
      return arbitraryOf(memRegTable(ctx)).map((value) => ({ type, value: value as SingleMemoryRegion }));
    case 'config':
      return fc
        .record({
          offset: fc.nat({ max: 0xffff_ffff }),
          flags: fc.nat({ max: 0xffff_ffff }),
          data: fc.uint8Array({ maxLength: VHOST_USER_MAX_CONFIG_SIZE }),
        })
        .map(({ offset, flags, data }) => ({ type, value: { offset, size: data.length, flags, data } }));
    case 'opaque':
      return fc.uint8Array({ maxLength: 64 }).map((value) => ({ type, value }));
    case 'none':
      return fc.constant({ type });
  }
}

/** The parts of a u64 whose bits 0-7 are a value and bit 8 the no-fd flag (SET_VRING_KICK/CALL/ERR, vring area, SET_DEVICE_STATE_FD reply). */
export interface NoFdWord {
  /** Bits 0-7: the vring index, or for SET_DEVICE_STATE_FD's reply the error code (0 = success). */
  readonly low: number;
  /** Bit 8: no file descriptor accompanies the message. */
  readonly noFd: boolean;
  /** Bits 9-63, which the doc does not define. */
  readonly rest: bigint;
}

export function splitNoFdWord(word: bigint): NoFdWord {
  return {
    low: Number(word & BigInt(VHOST_USER_VRING_IDX_MASK)),
    noFd: (word & BigInt(VHOST_USER_VRING_NOFD_MASK)) !== 0n,
    rest: word >> 9n,
  };
}

export function makeNoFdWord(low: number, noFd: boolean): bigint {
  if (!Number.isInteger(low) || low < 0 || low > VHOST_USER_VRING_IDX_MASK) throw new RangeError(`low byte ${low} is not 0..255`);
  return BigInt(low) | (noFd ? BigInt(VHOST_USER_VRING_NOFD_MASK) : 0n);
}

/**
 * "Vring descriptor indices for packed virtqueues": the `num` of
 * SET_VRING_BASE / GET_VRING_BASE for a packed ring. (For a split ring only
 * bits 0-15 are used, the next avail index; bits 16-31 are reserved, zero.)
 */
export interface PackedIndices {
  /** Bits 0-14: next Available Ring descriptor the back-end will process (free-running). */
  readonly availIdx: number;
  /** Bit 15: driver (available) ring wrap counter. */
  readonly availWrap: boolean;
  /** Bits 16-30: next Used Ring entry the back-end will write (free-running). */
  readonly usedIdx: number;
  /** Bit 31: device (used) ring wrap counter. */
  readonly usedWrap: boolean;
}

export function decodePackedIndices(num: number): PackedIndices {
  return {
    availIdx: num & 0x7fff,
    availWrap: (num & 0x8000) !== 0,
    usedIdx: (num >>> 16) & 0x7fff,
    usedWrap: (num & 0x8000_0000) !== 0,
  };
}

export function encodePackedIndices(p: PackedIndices): number {
  for (const [k, v] of [['availIdx', p.availIdx], ['usedIdx', p.usedIdx]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0x7fff) throw new RangeError(`${k} ${v} is not 0..0x7fff`);
  }
  return (p.availIdx | (p.availWrap ? 0x8000 : 0) | (p.usedIdx << 16) | (p.usedWrap ? 0x8000_0000 : 0)) >>> 0;
}

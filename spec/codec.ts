// Declarative wire layouts. One table per wire type drives encode, decode,
// size and the fast-check arbitrary (DESIGN.md "spec/"). Multi-byte fields are
// little-endian: virtio structures are explicitly little-endian (virtio 1.2
// §1.4 "le16/le32/le64"), and the vhost/VDUSE UAPI structures are host-endian,
// which is little-endian on every platform this suite runs on (x86_64, arm64).
import fc from 'fast-check';

export type ScalarType = 'u8' | 'u16' | 'u32' | 'u64';

interface FieldBase {
  readonly name: string;
  readonly offset: number;
  /** C member designator when it differs from `name` (e.g. `iotlb.iova` inside a union); used by the header cross-check. */
  readonly cName?: string;
}

export interface ScalarField extends FieldBase {
  readonly type: ScalarType;
}

export interface BytesField extends FieldBase {
  readonly type: 'bytes';
  readonly length: number;
}

export type FieldSpec = ScalarField | BytesField;

export interface StructSpec<F extends readonly FieldSpec[] = readonly FieldSpec[]> {
  /** The C struct tag where one exists (e.g. `vhost_vring_state`), else a descriptive name. */
  readonly name: string;
  /** Total encoded size in bytes, including trailing padding. */
  readonly size: number;
  readonly fields: F;
}

type FieldValue<T extends FieldSpec> = T extends { type: 'u64' }
  ? bigint
  : T extends { type: 'bytes' }
    ? Uint8Array
    : number;

/** The decoded value of a struct: one property per field. */
export type StructValue<S extends StructSpec> = {
  [K in S['fields'][number] as K['name']]: FieldValue<K>;
};

export const SCALAR_SIZE: Readonly<Record<ScalarType, number>> = { u8: 1, u16: 2, u32: 4, u64: 8 };

/** A decoding failure: always this type, never a RangeError from Buffer. */
export class DecodeError extends Error {
  readonly offset: number;
  readonly wireType: string;
  constructor(wireType: string, offset: number, reason: string) {
    super(`${wireType}: ${reason} at offset ${offset}`);
    this.name = 'DecodeError';
    this.offset = offset;
    this.wireType = wireType;
  }
}

/** Raised by `encode` for a value that does not fit its field. */
export class EncodeError extends Error {
  constructor(wireType: string, field: string, reason: string) {
    super(`${wireType}.${field}: ${reason}`);
    this.name = 'EncodeError';
  }
}

export function fieldSize(f: FieldSpec): number {
  return f.type === 'bytes' ? f.length : SCALAR_SIZE[f.type];
}

/** Builds a table from fields laid out in order with C natural alignment. */
export function defineStruct<const F extends readonly FieldSpec[]>(name: string, size: number, fields: F): StructSpec<F> {
  for (const f of fields) {
    if (f.offset + fieldSize(f) > size) throw new Error(`spec table ${name}.${f.name} overruns size ${size}`);
  }
  return { name, size, fields };
}

const SCALAR_MAX: Readonly<Record<Exclude<ScalarType, 'u64'>, number>> = { u8: 0xff, u16: 0xffff, u32: 0xffff_ffff };

function writeField(buf: Buffer, base: number, spec: StructSpec, f: FieldSpec, v: unknown): void {
  const at = base + f.offset;
  switch (f.type) {
    case 'u64': {
      if (typeof v !== 'bigint' || v < 0n || v > 0xffff_ffff_ffff_ffffn) throw new EncodeError(spec.name, f.name, `expected u64 bigint, got ${String(v)}`);
      buf.writeBigUInt64LE(v, at);
      return;
    }
    case 'bytes': {
      if (!(v instanceof Uint8Array) || v.length > f.length) throw new EncodeError(spec.name, f.name, `expected at most ${f.length} bytes`);
      buf.fill(0, at, at + f.length);
      buf.set(v, at);
      return;
    }
    default: {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > SCALAR_MAX[f.type]) {
        throw new EncodeError(spec.name, f.name, `expected ${f.type}, got ${String(v)}`);
      }
      if (f.type === 'u8') buf.writeUInt8(v, at);
      else if (f.type === 'u16') buf.writeUInt16LE(v, at);
      else buf.writeUInt32LE(v, at);
    }
  }
}

/** Encodes into a fresh zeroed buffer, so padding bytes are always 0 (bug-catalog L4, L13). */
export function encode<S extends StructSpec>(spec: S, value: StructValue<S>): Buffer {
  const buf = Buffer.alloc(spec.size);
  encodeInto(spec, value, buf, 0);
  return buf;
}

export function encodeInto<S extends StructSpec>(spec: S, value: StructValue<S>, buf: Buffer | Uint8Array, offset: number): void {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (offset < 0 || offset + spec.size > b.length) throw new EncodeError(spec.name, '*', `no room for ${spec.size} bytes at ${offset}`);
  const rec = value as Record<string, unknown>;
  for (const f of spec.fields) writeField(b, offset, spec, f, rec[f.name]);
}

export interface DecodeOptions {
  /** Reject input longer than the struct (framing says the payload is exactly this type). */
  readonly exact?: boolean;
}

export function decode<S extends StructSpec>(spec: S, input: Uint8Array, offset = 0, opts: DecodeOptions = {}): StructValue<S> {
  const b = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (!Number.isInteger(offset) || offset < 0 || offset > b.length) throw new DecodeError(spec.name, offset, 'offset outside input');
  if (b.length - offset < spec.size) {
    throw new DecodeError(spec.name, b.length, `truncated: need ${spec.size} bytes, have ${b.length - offset}`);
  }
  if (opts.exact && b.length - offset > spec.size) {
    throw new DecodeError(spec.name, offset + spec.size, `oversize: ${b.length - offset - spec.size} trailing bytes`);
  }
  const out: Record<string, unknown> = {};
  for (const f of spec.fields) {
    const at = offset + f.offset;
    switch (f.type) {
      case 'u8': out[f.name] = b.readUInt8(at); break;
      case 'u16': out[f.name] = b.readUInt16LE(at); break;
      case 'u32': out[f.name] = b.readUInt32LE(at); break;
      case 'u64': out[f.name] = b.readBigUInt64LE(at); break;
      case 'bytes': out[f.name] = new Uint8Array(b.subarray(at, at + f.length)); break;
    }
  }
  return out as StructValue<S>;
}

/** A fast-check arbitrary producing any value the table can encode. */
export function arbitraryOf<S extends StructSpec>(spec: S): fc.Arbitrary<StructValue<S>> {
  const parts: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of spec.fields) {
    switch (f.type) {
      case 'u64': parts[f.name] = fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_ffffn }); break;
      case 'bytes': parts[f.name] = fc.uint8Array({ minLength: f.length, maxLength: f.length }); break;
      default: parts[f.name] = fc.integer({ min: 0, max: SCALAR_MAX[f.type] });
    }
  }
  return fc.record(parts) as unknown as fc.Arbitrary<StructValue<S>>;
}

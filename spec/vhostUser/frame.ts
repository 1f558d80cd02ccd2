// vhost-user framing (QEMU docs/interop/vhost-user.rst "Message
// Specification" > "Header"): a 12-byte header — request, flags, size, each
// 32-bit native-endian — then `size` bytes of payload. Framing is kept apart
// from payload parsing: decodeFrame checks only the header and the byte
// count; decodePayload interprets the bytes for a given message.
import { decode, DecodeError, defineStruct, encodeInto, type StructValue } from '../codec.ts';
import { effectiveRules, messageSpec, type Direction, type SessionContext } from './messages.ts';
import { decodePayloadAs, PAYLOAD_TYPES, payloadSizeBounds, type Payload } from './payloads.ts';
import { hasProtocolFeature } from './protocolFeatures.ts';

export const VHOST_USER_HEADER = defineStruct('VhostUserHeader', 12, [
  { name: 'request', type: 'u32', offset: 0 },
  { name: 'flags', type: 'u32', offset: 4 },
  { name: 'size', type: 'u32', offset: 8 },
] as const);

export type FrameHeader = StructValue<typeof VHOST_USER_HEADER>;

/** "Lower 2 bits are the version (currently 0x01)". */
export const VHOST_USER_VERSION_MASK = 0x3;
export const VHOST_USER_VERSION = 0x1;
/** "Bit 2 is the reply flag - needs to be sent on each reply from the back-end". */
export const VHOST_USER_REPLY_MASK = 1 << 2;
/** "Bit 3 is the need_reply flag" (REPLY_ACK). */
export const VHOST_USER_NEED_REPLY_MASK = 1 << 3;

// The doc sets no maximum size. QEMU rejects any size above
// VHOST_USER_PAYLOAD_SIZE, the sizeof its payload union; that union includes
// VhostUserCryptoSession, whose layout the doc does not give (it depends on
// QEMU's cryptodev structs), so its exact value cannot be derived from the
// doc. We take the largest payload the doc *does* define: a memory table of
// 8 regions in the XEN_MMAP layout (8 + 8 × 40 = 328 bytes), which also
// covers a 256-byte config space (12 + 256). Callers reading a session with
// CRYPTO_SESSION negotiated pass a larger `maxPayload`.
export const VHOST_USER_MAX_PAYLOAD_SIZE = Math.max(
  ...PAYLOAD_TYPES.map((t) => payloadSizeBounds(t, { xenMmap: true }).max ?? 0),
);

export interface FrameOptions {
  /** Largest `size` accepted; defaults to VHOST_USER_MAX_PAYLOAD_SIZE. */
  readonly maxPayload?: number;
}

/**
 * A frame with `size` = payload length unless `size` is given: a lying size
 * is how the fuzzers build truncated and overlong frames.
 */
export function encodeFrame(request: number, flags: number, payload: Uint8Array, size = payload.length): Buffer {
  // One allocation, as the front-end sends a frame per request: header written in place, payload after it.
  const frame = Buffer.allocUnsafe(VHOST_USER_HEADER.size + payload.length);
  encodeInto(VHOST_USER_HEADER, { request, flags, size }, frame, 0);
  frame.set(payload, VHOST_USER_HEADER.size);
  return frame;
}

/**
 * Reads the header at the start of `bytes` (which may hold more than one
 * frame). Rejects a short header, a version other than 0x1 and a size above
 * the maximum. Flag bits 4-31 are undefined in the doc and are left for the
 * model to judge.
 */
export function decodeHeader(bytes: Uint8Array, opts: FrameOptions = {}): FrameHeader {
  const header = decode(VHOST_USER_HEADER, bytes);
  const version = header.flags & VHOST_USER_VERSION_MASK;
  if (version !== VHOST_USER_VERSION) {
    throw new DecodeError(VHOST_USER_HEADER.name, 4, `version ${version}, expected ${VHOST_USER_VERSION}`);
  }
  const max = opts.maxPayload ?? VHOST_USER_MAX_PAYLOAD_SIZE;
  if (header.size > max) throw new DecodeError(VHOST_USER_HEADER.name, 8, `size ${header.size} exceeds maximum payload ${max}`);
  return header;
}

/** Splits exactly one frame into header and payload bytes; missing or surplus bytes are a DecodeError. */
export function decodeFrame(bytes: Uint8Array, opts: FrameOptions = {}): { readonly header: FrameHeader; readonly payload: Uint8Array } {
  const header = decodeHeader(bytes, opts);
  const end = VHOST_USER_HEADER.size + header.size;
  if (bytes.length < end) {
    throw new DecodeError('vhost-user frame', bytes.length, `truncated: size ${header.size} needs ${end} bytes, have ${bytes.length}`);
  }
  if (bytes.length > end) throw new DecodeError('vhost-user frame', end, `oversize: ${bytes.length - end} bytes after the payload`);
  return { header, payload: bytes.subarray(VHOST_USER_HEADER.size, end) };
}

export interface DecodePayloadContext extends SessionContext {
  /** The bytes are a reply to the request `code` rather than the request. */
  readonly reply?: boolean;
}

/**
 * Interprets the payload of message `code` sent by `direction`'s side (or the
 * reply to it). The size must be exactly what the doc fixes for that payload;
 * unknown codes are a DecodeError. Offsets are relative to the payload start.
 */
export function decodePayload(code: number, direction: Direction, bytes: Uint8Array, ctx: DecodePayloadContext = {}): Payload {
  const spec = messageSpec(direction, code);
  if (!spec) throw new DecodeError('vhost-user frame', 0, `unknown ${direction} request code ${code}`);
  const xenMmap = hasProtocolFeature(ctx.protocolFeatures ?? 0n, 'XEN_MMAP');
  if (!ctx.reply) return decodePayloadAs(spec.payload, bytes, { xenMmap });
  const { reply } = effectiveRules(spec, ctx);
  if (reply.emptyOnError && bytes.length === 0) return { type: 'none' };
  return decodePayloadAs(reply.payload, bytes, { xenMmap });
}

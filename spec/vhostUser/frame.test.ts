import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '../codec.ts';
import {
  decodeFrame,
  decodeHeader,
  decodePayload,
  encodeFrame,
  VHOST_USER_MAX_PAYLOAD_SIZE,
  VHOST_USER_NEED_REPLY_MASK,
  VHOST_USER_REPLY_MASK,
  VHOST_USER_VERSION,
} from './frame.ts';
import {
  BACKEND_MESSAGES,
  FRONTEND_MESSAGES,
  VHOST_USER_GET_CONFIG,
  VHOST_USER_GET_FEATURES,
  VHOST_USER_SET_LOG_BASE,
  VHOST_USER_SET_MEM_TABLE,
  VHOST_USER_SET_VRING_KICK,
  type Direction,
} from './messages.ts';
import { arbitraryPayload, encodePayload, makeNoFdWord } from './payloads.ts';
import { VHOST_USER_PROTOCOL_F_LOG_SHMFD, VHOST_USER_PROTOCOL_F_XEN_MMAP } from './protocolFeatures.ts';

function expectDecodeError(fn: () => unknown, offset: number): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(DecodeError);
  expect((caught as DecodeError).offset).toBe(offset);
}

const validFlags = fc
  .record({ reply: fc.boolean(), needReply: fc.boolean(), high: fc.nat({ max: 0x0fff_ffff }) })
  .map(({ reply, needReply, high }) => (VHOST_USER_VERSION | (reply ? VHOST_USER_REPLY_MASK : 0) | (needReply ? VHOST_USER_NEED_REPLY_MASK : 0) | (high << 4)) >>> 0);

describe('frame header', () => {
  it('is request, flags, size as three little-endian u32', () => {
    const bytes = encodeFrame(VHOST_USER_GET_FEATURES, VHOST_USER_VERSION | VHOST_USER_NEED_REPLY_MASK, new Uint8Array([0xaa]));
    expect([...bytes]).toEqual([1, 0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0, 0xaa]);
  });

  it('uses the doc flag bits', () => {
    expect(VHOST_USER_VERSION).toBe(0x1);
    expect(VHOST_USER_REPLY_MASK).toBe(0x4);
    expect(VHOST_USER_NEED_REPLY_MASK).toBe(0x8);
  });

  it('has a maximum payload of 328 bytes: 8 XEN_MMAP regions, the largest layout the doc defines', () => {
    expect(VHOST_USER_MAX_PAYLOAD_SIZE).toBe(8 + 8 * 40);
  });
});

describe('frame round trip', () => {
  it('decodeFrame(encodeFrame(h, p)) gives h and p back', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 0xffff_ffff }),
        validFlags,
        fc.uint8Array({ maxLength: VHOST_USER_MAX_PAYLOAD_SIZE }),
        (request, flags, payload) => {
          const { header, payload: back } = decodeFrame(encodeFrame(request, flags, payload));
          expect(header).toEqual({ request, flags, size: payload.length });
          expect([...back]).toEqual([...payload]);
        },
      ),
      { seed: 42 },
    );
  });

  it('carries every message payload through frame and payload decoding', () => {
    const messages = [
      ...FRONTEND_MESSAGES.map((m) => ['frontend', m] as const),
      ...BACKEND_MESSAGES.map((m) => ['backend', m] as const),
    ];
    for (const [direction, m] of messages) {
      fc.assert(
        fc.property(arbitraryPayload(m.payload), (p) => {
          const frame = encodeFrame(m.code, VHOST_USER_VERSION, encodePayload(p));
          const { header, payload } = decodeFrame(frame, { maxPayload: 0xffff });
          const decoded = decodePayload(header.request, direction, payload);
          expect([...encodePayload(decoded)]).toEqual([...encodePayload(p)]);
        }),
        { seed: 42, numRuns: 20 },
      );
    }
  });
});

describe('malformed frames', () => {
  it('truncated header: DecodeError at the end of the bytes', () => {
    for (let n = 0; n < 12; n++) {
      expectDecodeError(() => decodeHeader(new Uint8Array(n)), n);
      expectDecodeError(() => decodeFrame(new Uint8Array(n)), n);
    }
  });

  it('bad version: DecodeError at the flags field', () => {
    for (const version of [0, 2, 3]) {
      expectDecodeError(() => decodeFrame(encodeFrame(1, version | VHOST_USER_REPLY_MASK, new Uint8Array())), 4);
    }
  });

  it('size beyond the maximum: DecodeError at the size field, unless the caller allows more', () => {
    const big = encodeFrame(1, VHOST_USER_VERSION, new Uint8Array(VHOST_USER_MAX_PAYLOAD_SIZE + 1));
    expectDecodeError(() => decodeHeader(big), 8);
    expect(decodeFrame(big, { maxPayload: 4096 }).payload.length).toBe(VHOST_USER_MAX_PAYLOAD_SIZE + 1);
  });

  it('size larger than the bytes present: DecodeError at the end of the bytes', () => {
    const frame = encodeFrame(1, VHOST_USER_VERSION, new Uint8Array(4), 8);
    expect(decodeHeader(frame).size).toBe(8);
    expectDecodeError(() => decodeFrame(frame), 16);
  });

  it('size smaller than the bytes present: DecodeError where the payload should have ended', () => {
    expectDecodeError(() => decodeFrame(encodeFrame(1, VHOST_USER_VERSION, new Uint8Array(8), 4)), 16);
  });

  it('size smaller than the payload the message needs: DecodeError from decodePayload', () => {
    const { header, payload } = decodeFrame(encodeFrame(VHOST_USER_SET_VRING_KICK, VHOST_USER_VERSION, new Uint8Array(4)));
    expectDecodeError(() => decodePayload(header.request, 'frontend', payload), 4);
  });

  it('arbitrary bytes never raise anything but DecodeError, through framing and payload decoding', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 400 }),
        fc.constantFrom<Direction>('frontend', 'backend'),
        fc.boolean(),
        fc.boolean(),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        (bytes, direction, reply, postcopy, protocolFeatures) => {
          try {
            const { header, payload } = decodeFrame(bytes);
            decodePayload(header.request, direction, payload, { reply, postcopy, protocolFeatures });
          } catch (e) {
            expect(e).toBeInstanceOf(DecodeError);
          }
        },
      ),
      { seed: 42, numRuns: 2000 },
    );
  });

  it('arbitrary payloads for every known code never raise anything but DecodeError', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 45 }),
        fc.constantFrom<Direction>('frontend', 'backend'),
        fc.boolean(),
        fc.uint8Array({ maxLength: 400 }),
        (code, direction, reply, bytes) => {
          try {
            decodePayload(code, direction, bytes, { reply });
          } catch (e) {
            expect(e).toBeInstanceOf(DecodeError);
          }
        },
      ),
      { seed: 42, numRuns: 2000 },
    );
  });
});

describe('decodePayload', () => {
  it('decodes a GET_FEATURES reply as u64 and rejects a request with bytes', () => {
    const bytes = Buffer.alloc(8);
    bytes.writeBigUInt64LE(1n << 30n);
    expect(decodePayload(VHOST_USER_GET_FEATURES, 'frontend', bytes, { reply: true })).toEqual({ type: 'u64', value: { u64: 1n << 30n } });
    expectDecodeError(() => decodePayload(VHOST_USER_GET_FEATURES, 'frontend', bytes), 0);
  });

  it('rejects unknown codes', () => {
    expectDecodeError(() => decodePayload(44, 'frontend', new Uint8Array()), 0);
    expectDecodeError(() => decodePayload(0, 'backend', new Uint8Array()), 0);
  });

  it('reads SET_VRING_KICK as a no-fd word', () => {
    const p = decodePayload(VHOST_USER_SET_VRING_KICK, 'frontend', encodePayload({ type: 'u64', value: { u64: makeNoFdWord(1, true) } }));
    expect(p).toEqual({ type: 'vringFile', value: { u64: 0x101n } });
  });

  it('uses the XEN_MMAP region layout once that feature is negotiated', () => {
    const table = Buffer.alloc(8 + 40);
    table.writeUInt32LE(1, 0);
    const xen = 1n << BigInt(VHOST_USER_PROTOCOL_F_XEN_MMAP);
    expect(decodePayload(VHOST_USER_SET_MEM_TABLE, 'frontend', table, { protocolFeatures: xen })).toMatchObject({
      type: 'memoryTable',
      value: { nregions: 1, regions: [{ xen_mmap_flags: 0, domid: 0 }] },
    });
    expectDecodeError(() => decodePayload(VHOST_USER_SET_MEM_TABLE, 'frontend', table), 40);
  });

  it('reads SET_MEM_TABLE replies as an ack, or as the region table in postcopy', () => {
    expect(decodePayload(VHOST_USER_SET_MEM_TABLE, 'frontend', Buffer.alloc(8), { reply: true }).type).toBe('u64');
    expect(decodePayload(VHOST_USER_SET_MEM_TABLE, 'frontend', Buffer.alloc(8), { reply: true, postcopy: true }).type).toBe('memoryTable');
  });

  it('treats the SET_LOG_BASE reply as opaque with LOG_SHMFD and as an ack without', () => {
    const shm = 1n << BigInt(VHOST_USER_PROTOCOL_F_LOG_SHMFD);
    expect(decodePayload(VHOST_USER_SET_LOG_BASE, 'frontend', new Uint8Array(0), { reply: true, protocolFeatures: shm }).type).toBe('opaque');
    expectDecodeError(() => decodePayload(VHOST_USER_SET_LOG_BASE, 'frontend', new Uint8Array(0), { reply: true }), 0);
  });

  it('accepts an empty GET_CONFIG reply as the error signal', () => {
    expect(decodePayload(VHOST_USER_GET_CONFIG, 'frontend', new Uint8Array(0), { reply: true })).toEqual({ type: 'none' });
    expectDecodeError(() => decodePayload(VHOST_USER_GET_CONFIG, 'frontend', new Uint8Array(0)), 0);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '../codec.ts';
import {
  arbitraryPayload,
  decodePackedIndices,
  decodePayloadAs,
  encodePackedIndices,
  encodePayload,
  FIXED_PAYLOADS,
  makeNoFdWord,
  PAYLOAD_TYPES,
  payloadSizeBounds,
  splitNoFdWord,
  VHOST_USER_CONFIG_HEADER,
  VHOST_USER_INFLIGHT,
  VHOST_USER_MEM_REG_MSG,
  VHOST_USER_MEM_REG_MSG_XEN,
  VHOST_USER_MEMORY_REGION,
  VHOST_USER_MEMORY_REGION_XEN,
  VHOST_SET_CONFIG_TYPE_FRONTEND,
  VHOST_SET_CONFIG_TYPE_MIGRATION,
  VHOST_TRANSFER_STATE_DIRECTION_LOAD,
  VHOST_TRANSFER_STATE_DIRECTION_SAVE,
  VHOST_TRANSFER_STATE_PHASE_STOPPED,
  VHOST_USER_VRING_IDX_MASK,
  VHOST_USER_VRING_NOFD_MASK,
  XEN_MMAP_FLAG_FOREIGN,
  XEN_MMAP_FLAG_GRANT,
  XEN_MMAP_FLAG_MAP_ON_DEMAND,
  type FixedPayloadType,
  type Payload,
  type PayloadContext,
} from './payloads.ts';

const CONTEXTS: readonly PayloadContext[] = [{ xenMmap: false }, { xenMmap: true }];
const FIXED = Object.keys(FIXED_PAYLOADS) as FixedPayloadType[];

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

describe('payload tables', () => {
  // Sizes and offsets from the doc's "Payload" tables and the C structs in
  // its "C structure" section (natural alignment).
  it('have the sizes of the doc layouts', () => {
    expect(FIXED_PAYLOADS.u64.size).toBe(8);
    expect(FIXED_PAYLOADS.vringState.size).toBe(8);
    expect(FIXED_PAYLOADS.vringAddr.size).toBe(40);
    expect(FIXED_PAYLOADS.log.size).toBe(16);
    expect(FIXED_PAYLOADS.iotlb.size).toBe(32);
    expect(FIXED_PAYLOADS.vringArea.size).toBe(24);
    expect(FIXED_PAYLOADS.shared.size).toBe(16);
    expect(FIXED_PAYLOADS.deviceState.size).toBe(8);
    expect(VHOST_USER_INFLIGHT.size).toBe(24);
    expect(VHOST_USER_MEMORY_REGION.size).toBe(32);
    expect(VHOST_USER_MEMORY_REGION_XEN.size).toBe(40);
    expect(VHOST_USER_MEM_REG_MSG.size).toBe(40);
    expect(VHOST_USER_MEM_REG_MSG_XEN.size).toBe(48);
    expect(VHOST_USER_CONFIG_HEADER.size).toBe(12);
  });

  // "Virtio device config space" flags, "Device state transfer parameters",
  // the xen mmap flags of "Memory region description", and SET_VRING_KICK's
  // "Bits (0-7) ... vring index. Bit 8 is the invalid FD flag".
  it('name the values the doc lists', () => {
    expect([VHOST_SET_CONFIG_TYPE_FRONTEND, VHOST_SET_CONFIG_TYPE_MIGRATION]).toEqual([0, 1]);
    expect([VHOST_TRANSFER_STATE_DIRECTION_SAVE, VHOST_TRANSFER_STATE_DIRECTION_LOAD, VHOST_TRANSFER_STATE_PHASE_STOPPED]).toEqual([0, 1, 0]);
    expect([XEN_MMAP_FLAG_FOREIGN, XEN_MMAP_FLAG_GRANT, XEN_MMAP_FLAG_MAP_ON_DEMAND]).toEqual([1, 2, 0x100]);
    expect([VHOST_USER_VRING_IDX_MASK, VHOST_USER_VRING_NOFD_MASK]).toEqual([0xff, 0x100]);
  });

  it('place the IOTLB perm and type bytes after the three u64s', () => {
    const bytes = encodePayload({ type: 'iotlb', value: { iova: 1n, size: 2n, uaddr: 3n, perm: 3, type: 2 } });
    expect(bytes.length).toBe(32);
    expect(bytes[24]).toBe(3);
    expect(bytes[25]).toBe(2);
    expect([...bytes.subarray(26)]).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('put the single-region padding before the region', () => {
    const value = { padding: 0n, guest_phys_addr: 0x1000n, memory_size: 0x2000n, userspace_addr: 0x3000n, mmap_offset: 0x40n };
    const bytes = encodePayload({ type: 'singleMemoryRegion', value });
    expect(bytes.readBigUInt64LE(0)).toBe(0n);
    expect(bytes.readBigUInt64LE(8)).toBe(0x1000n);
    expect(bytes.readBigUInt64LE(32)).toBe(0x40n);
  });
});

describe('payload round trips', () => {
  for (const ctx of CONTEXTS) {
    for (const type of PAYLOAD_TYPES) {
      it(`decode(encode(x)) = x for ${type} (xenMmap=${String(ctx.xenMmap)})`, () => {
        fc.assert(
          fc.property(arbitraryPayload(type, ctx), (p) => {
            const bytes = encodePayload(p, ctx);
            const { min, max } = payloadSizeBounds(type, ctx);
            expect(bytes.length).toBeGreaterThanOrEqual(min);
            if (max !== null) expect(bytes.length).toBeLessThanOrEqual(max);
            expect(normalise(decodePayloadAs(type, bytes, ctx))).toEqual(normalise(p));
          }),
          { seed: 42 },
        );
      });
    }
  }
});

describe('payload size errors', () => {
  for (const type of FIXED) {
    const size = FIXED_PAYLOADS[type].size;
    it(`${type}: truncated and oversize input raise DecodeError at the right offset`, () => {
      expectDecodeError(() => decodePayloadAs(type, new Uint8Array(size - 1)), size - 1);
      expectDecodeError(() => decodePayloadAs(type, new Uint8Array(0)), 0);
      expectDecodeError(() => decodePayloadAs(type, new Uint8Array(size + 1)), size);
    });
  }

  it('singleMemoryRegion: size follows the XEN_MMAP layout', () => {
    expect(() => decodePayloadAs('singleMemoryRegion', new Uint8Array(40))).not.toThrow();
    expectDecodeError(() => decodePayloadAs('singleMemoryRegion', new Uint8Array(48)), 40);
    expectDecodeError(() => decodePayloadAs('singleMemoryRegion', new Uint8Array(40), { xenMmap: true }), 40);
    expect(() => decodePayloadAs('singleMemoryRegion', new Uint8Array(48), { xenMmap: true })).not.toThrow();
  });

  it('memoryTable: short header, too many regions, missing and surplus region bytes', () => {
    expectDecodeError(() => decodePayloadAs('memoryTable', new Uint8Array(7)), 7);
    const header = (n: number, extra: number): Buffer => {
      const b = Buffer.alloc(8 + extra);
      b.writeUInt32LE(n, 0);
      return b;
    };
    expectDecodeError(() => decodePayloadAs('memoryTable', header(9, 9 * 32)), 0);
    expectDecodeError(() => decodePayloadAs('memoryTable', header(2, 32)), 40);
    expectDecodeError(() => decodePayloadAs('memoryTable', header(1, 64)), 40);
    expectDecodeError(() => decodePayloadAs('memoryTable', header(1, 32), { xenMmap: true }), 40);
    expect(decodePayloadAs('memoryTable', header(2, 64))).toMatchObject({ value: { nregions: 2 } });
    expect(decodePayloadAs('memoryTable', header(0, 0))).toMatchObject({ value: { nregions: 0, regions: [] } });
  });

  it('config: size above 256, and size disagreeing with the bytes present', () => {
    const cfg = (size: number, data: number): Buffer => {
      const b = Buffer.alloc(12 + data);
      b.writeUInt32LE(size, 4);
      return b;
    };
    expectDecodeError(() => decodePayloadAs('config', new Uint8Array(11)), 11);
    expectDecodeError(() => decodePayloadAs('config', cfg(257, 257)), 4);
    expectDecodeError(() => decodePayloadAs('config', cfg(8, 4)), 16);
    expectDecodeError(() => decodePayloadAs('config', cfg(4, 8)), 16);
    expect(decodePayloadAs('config', cfg(256, 256))).toMatchObject({ value: { size: 256 } });
  });

  it('none: any byte is one too many', () => {
    expect(decodePayloadAs('none', new Uint8Array(0))).toEqual({ type: 'none' });
    expectDecodeError(() => decodePayloadAs('none', new Uint8Array(1)), 0);
  });
});

describe('arbitrary bytes', () => {
  it('never raise anything but DecodeError, for any payload kind', () => {
    fc.assert(
      fc.property(fc.constantFrom(...PAYLOAD_TYPES), fc.boolean(), fc.uint8Array({ maxLength: 400 }), (type, xenMmap, bytes) => {
        try {
          decodePayloadAs(type, bytes, { xenMmap });
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
        }
      }),
      { seed: 42, numRuns: 2000 },
    );
  });

  it('that decode, re-encode to the same bytes (no information is dropped)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...PAYLOAD_TYPES), fc.boolean(), fc.uint8Array({ maxLength: 400 }), (type, xenMmap, bytes) => {
        let p: Payload;
        try {
          p = decodePayloadAs(type, bytes, { xenMmap });
        } catch {
          return;
        }
        // IOTLB trailing padding and inflight tail padding are not fields: zeroed on encode.
        if (type === 'iotlb' || type === 'inflight') return;
        expect([...encodePayload(p, { xenMmap })]).toEqual([...bytes]);
      }),
      { seed: 42, numRuns: 2000 },
    );
  });
});

describe('no-fd words (SET_VRING_KICK/CALL/ERR, vring area, SET_DEVICE_STATE_FD reply)', () => {
  it('split bits 0-7, bit 8 and the rest', () => {
    expect(splitNoFdWord(0x1_05n)).toEqual({ low: 5, noFd: true, rest: 0n });
    expect(splitNoFdWord(0x2_ffn)).toEqual({ low: 0xff, noFd: false, rest: 1n });
    expect(makeNoFdWord(3, true)).toBe(0x103n);
    expect(() => makeNoFdWord(256, false)).toThrow(RangeError);
  });

  it('round-trip', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.boolean(), (low, noFd) => {
        expect(splitNoFdWord(makeNoFdWord(low, noFd))).toEqual({ low, noFd, rest: 0n });
      }),
      { seed: 42 },
    );
  });
});

describe('packed vring indices (GET/SET_VRING_BASE on a packed ring)', () => {
  it('use bits 0-14, 15, 16-30 and 31', () => {
    expect(decodePackedIndices(0x8001_8002)).toEqual({ availIdx: 2, availWrap: true, usedIdx: 1, usedWrap: true });
    expect(encodePackedIndices({ availIdx: 0x7fff, availWrap: false, usedIdx: 0, usedWrap: true })).toBe(0x8000_7fff);
    expect(() => encodePackedIndices({ availIdx: 0x8000, availWrap: false, usedIdx: 0, usedWrap: false })).toThrow(RangeError);
  });

  it('round-trip every 32-bit value', () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffff_ffff }), (num) => {
        expect(encodePackedIndices(decodePackedIndices(num))).toBe(num);
      }),
      { seed: 42 },
    );
  });
});

/** Compares byte fields by content, whatever Uint8Array subclass (Buffer or not) holds them. */
function normalise(v: unknown): unknown {
  if (v instanceof Uint8Array) return Array.from(v);
  if (Array.isArray(v)) return v.map(normalise);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalise(x)]));
  return v;
}

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classifyChainWith } from './chain.ts';
import { iotlbInvalidate, iotlbMap, iotlbUpdate, lastOf, memTableValid, translateRange } from './memory.ts';

const U64_MAX = 0xffff_ffff_ffff_ffffn;

describe('lastOf', () => {
  it('refuses empty and wrapping ranges (bug-catalog L9)', () => {
    expect(lastOf(0n, 0n)).toBeNull();
    expect(lastOf(U64_MAX, 2n)).toBeNull();
    expect(lastOf(U64_MAX, 1n)).toBe(U64_MAX);
    expect(lastOf(0n, U64_MAX + 1n)).toBe(U64_MAX);
  });
});

describe('IOTLB', () => {
  it('refuses size 0, wrap, and permissions outside 1..3', () => {
    expect(iotlbUpdate([], 0n, 0n, 0n, 3)).toBeNull();
    expect(iotlbUpdate([], U64_MAX, 2n, 0n, 3)).toBeNull();
    expect(iotlbUpdate([], 0n, 16n, 0n, 0)).toBeNull();
    expect(iotlbUpdate([], 0n, 16n, 0n, 4)).toBeNull();
    expect(iotlbUpdate([], 0n, 16n, 0x1000n, 1)).toEqual([{ iova: 0n, last: 15n, uaddr: 0x1000n, perm: 1 }]);
  });

  it('invalidation hits entries overlapping at either end (bug-catalog D15); only remnants outside the range survive, as "maybe"', () => {
    const tlb = iotlbUpdate(iotlbUpdate([], 0x1000n, 0x1000n, 0n, 3)!, 0x3000n, 0x1000n, 0n, 3)!;
    const definite = (t: ReturnType<typeof iotlbInvalidate>) => t.filter((e) => !e.maybe).length;
    expect(definite(iotlbInvalidate(tlb, 0x1fffn, 1n))).toBe(1);
    expect(definite(iotlbInvalidate(tlb, 0x0n, 0x1001n))).toBe(1);
    expect(definite(iotlbInvalidate(tlb, 0x2000n, 0x1000n))).toBe(2);
    expect(definite(iotlbInvalidate(tlb, 0x2fffn, 2n))).toBe(1);
    expect(iotlbInvalidate(tlb, 0x0n, 0x5000n)).toEqual([]);
    const cut = iotlbInvalidate(tlb, 0x1800n, 0x2000n);
    expect(cut.find((e) => e.maybe && e.iova === 0x1000n)?.last).toBe(0x17ffn);
    expect(cut.find((e) => e.maybe && e.iova === 0x3800n)?.uaddr).toBe(0x800n);
  });

  it('a chain in memory that is only maybe mapped is valid but may be refused', () => {
    const tlb = iotlbInvalidate(iotlbUpdate([], 0n, 0x2000n, 0x10000n, 3)!, 0x1000n, 0x1000n);
    const c = classifyChainWith({ indirect: false, buffers: [{ addr: 0x800n, len: 16, write: false }] }, iotlbMap(tlb), iotlbMap(tlb, true));
    expect(c).toMatchObject({ valid: true, mayRefuse: 'virtio.robust.addr-unmapped' });
    const gone = classifyChainWith({ indirect: false, buffers: [{ addr: 0x1800n, len: 16, write: false }] }, iotlbMap(tlb), iotlbMap(tlb, true));
    expect(gone.valid).toBe(false);
  });
});

describe('translateRange', () => {
  const map = [
    { start: 0n, last: 0xfffn, to: 0x10_0000n, perm: 3 },
    { start: 0x1000n, last: 0x1fffn, to: 0x50_0000n, perm: 1 },
  ];

  it('translates a range crossing two entries piece by piece (bug-catalog L1)', () => {
    expect(translateRange(0xff0n, 0x20, map, 'read')).toEqual([{ to: 0x10_0ff0n, len: 0x10 }, { to: 0x50_0000n, len: 0x10 }]);
  });

  it('refuses a range whose tail is unmapped or lacks permission (bug-catalog D1)', () => {
    expect(translateRange(0x1ff0n, 0x20, map, 'read')).toBeNull();
    expect(translateRange(0xff0n, 0x20, map, 'write')).toBeNull();
  });

  it('accepts a range ending exactly at the last mapped byte (bug-catalog L10)', () => {
    expect(translateRange(0x1f00n, 0x100, map, 'read')).toEqual([{ to: 0x50_0f00n, len: 0x100 }]);
  });

  it('property: the pieces cover exactly len bytes whenever translation succeeds', () => {
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: 0x2100n }), fc.integer({ min: 1, max: 0x2100 }), (addr, len) => {
      const t = translateRange(addr, len, map, 'read');
      if (t) expect(t.reduce((n, p) => n + p.len, 0)).toBe(len);
      else expect(addr + BigInt(len) - 1n > 0x1fffn).toBe(true);
    }), { seed: 42 });
  });
});

describe('memTableValid', () => {
  it('refuses overflowing regions and more than 8 regions', () => {
    expect(memTableValid([{ gpa: U64_MAX - 10n, size: 0x100n, uaddr: 0n }])).toBe(false);
    expect(memTableValid([{ gpa: 0n, size: 0x100n, uaddr: U64_MAX }])).toBe(false);
    expect(memTableValid(Array.from({ length: 9 }, (_, i) => ({ gpa: BigInt(i) << 20n, size: 0x1000n, uaddr: 0n })))).toBe(false);
    expect(memTableValid([{ gpa: 0n, size: 0x10_0000n, uaddr: 0x7f00_0000_0000n }])).toBe(true);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CHAIN_DEFECTS, classifyChain, DEFECT_REQUIREMENT } from './chain.ts';
import { memTableMap } from './memory.ts';

const map = memTableMap([
  { gpa: 0n, size: 0x10_0000n, uaddr: 0x7f00_0000_0000n },
  { gpa: 0x10_0000n, size: 0x10_0000n, uaddr: 0x7f40_0000_0000n },
]);

describe('classifyChain', () => {
  it('counts readable and writable bytes of a valid chain, crossing regions included', () => {
    const c = classifyChain({ indirect: false, buffers: [{ addr: 0xff000n, len: 0x2000, write: false }, { addr: 0x8000n, len: 17, write: true }] }, map);
    expect(c).toEqual({ valid: true, readable: 0x2000, writable: 17 });
  });

  it('accepts zero-length descriptors (virtio.robust.zero-len-desc: they must not hang a device)', () => {
    expect(classifyChain({ indirect: false, buffers: [{ addr: 0n, len: 0, write: true }] }, map).valid).toBe(true);
  });

  it('refuses unmapped and overflowing buffers with their requirement ids', () => {
    const unmapped = classifyChain({ indirect: false, buffers: [{ addr: 0x1f_ff00n, len: 0x200, write: false }] }, map);
    expect(unmapped).toMatchObject({ valid: false, requirement: DEFECT_REQUIREMENT.unmapped });
    const overflow = classifyChain({ indirect: false, buffers: [{ addr: 0xffff_ffff_ffff_ff00n, len: 0x200, write: true }] }, map);
    expect(overflow).toMatchObject({ valid: false, requirement: DEFECT_REQUIREMENT.overflow });
  });

  it('property: every planted structural defect makes the chain invalid with that defect\'s requirement', () => {
    fc.assert(fc.property(fc.constantFrom(...CHAIN_DEFECTS), fc.boolean(), (defect, indirect) => {
      const c = classifyChain({ indirect, defect, buffers: [{ addr: 0x1000n, len: 16, write: false }] }, map);
      expect(c).toMatchObject({ valid: false, requirement: DEFECT_REQUIREMENT[defect] });
    }), { seed: 42 });
  });

  it('property: a chain inside mapped memory is valid and its byte counts add up', () => {
    const buf = fc.record({ addr: fc.bigInt({ min: 0n, max: 0x1f_0000n }), len: fc.integer({ min: 0, max: 0x1_0000 }), write: fc.boolean() });
    fc.assert(fc.property(fc.array(buf, { maxLength: 8 }), (unordered) => {
      const buffers = [...unordered.filter((b) => !b.write), ...unordered.filter((b) => b.write)];
      const c = classifyChain({ indirect: false, buffers }, map);
      expect(c.valid).toBe(true);
      if (c.valid) expect(c.readable + c.writable).toBe(buffers.reduce((n, b) => n + b.len, 0));
    }), { seed: 42 });
  });
});

describe('classifyChain: buffer order', () => {
  it('refuses a device-readable buffer after a device-writable one (virtio.robust.out-after-in)', () => {
    const c = classifyChain({ indirect: false, buffers: [{ addr: 0n, len: 16, write: false }, { addr: 0x100n, len: 8, write: true }, { addr: 0x200n, len: 8, write: false }] }, map);
    expect(c).toMatchObject({ valid: false, requirement: 'virtio.robust.out-after-in' });
  });

  it('the order rule is about descriptor flags: a zero-length writable descriptor counts too', () => {
    const c = classifyChain({ indirect: false, buffers: [{ addr: 0x100n, len: 0, write: true }, { addr: 0n, len: 16, write: false }] }, map);
    expect(c).toMatchObject({ valid: false, requirement: 'virtio.robust.out-after-in' });
  });
});

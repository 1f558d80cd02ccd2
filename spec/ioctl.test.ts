// The _IOC encoding, and the consistency of the two ioctl tables with the
// constants exported beside them (the numbers themselves are checked against
// the headers by spec/headers.test.ts).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { _IO, _IOC, _IOC_READ, _IOC_WRITE, _IOR, _IOW, _IOWR, ioctlArgSize, type IoctlInfo } from './ioctl.ts';
import * as vduse from './vduse/ioctls.ts';
import * as vhost from './vhost/ioctls.ts';

describe('_IOC (asm-generic layout)', () => {
  it('packs dir:2 size:14 type:8 nr:8 into an unsigned 32-bit number', () => {
    fc.assert(
      fc.property(fc.nat({ max: 3 }), fc.nat({ max: 0x3fff }), fc.nat({ max: 0xff }), fc.nat({ max: 0xff }), (dir, size, type, nr) => {
        const n = _IOC(dir, type, nr, size);
        expect(n).toBeGreaterThanOrEqual(0);
        expect(n).toBeLessThan(2 ** 32);
        expect(n).toBe(((dir << 30) | (size << 16) | (type << 8) | nr) >>> 0);
      }),
      { seed: 42 },
    );
  });

  it('matches a number known from the header (VHOST_GET_VRING_BASE = 0xc008af12)', () => {
    expect(_IOWR(0xaf, 0x12, 8)).toBe(0xc008af12);
    expect(_IOR(0xaf, 0x12, 8) | 0).toBe(_IOC(_IOC_READ, 0xaf, 0x12, 8) | 0);
    expect(_IOW(0xaf, 0x12, 8)).toBe(_IOC(_IOC_WRITE, 0xaf, 0x12, 8));
    expect(_IO(0xaf, 0x01)).toBe(0xaf01);
  });

  it('rejects fields that do not fit instead of silently wrapping', () => {
    expect(() => _IOC(4, 0, 0, 0)).toThrow(RangeError);
    expect(() => _IOC(0, 0x100, 0, 0)).toThrow(RangeError);
    expect(() => _IOC(0, 0, 0x100, 0)).toThrow(RangeError);
    expect(() => _IOC(0, 0, 0, 0x4000)).toThrow(RangeError);
    expect(() => _IOC(0, 0, 0.5, 0)).toThrow(RangeError);
  });
});

const families: [string, readonly IoctlInfo[], Record<string, unknown>, number][] = [
  ['VHOST_IOCTLS', vhost.VHOST_IOCTLS, vhost, vhost.VHOST_VIRTIO],
  ['VDUSE_IOCTLS', vduse.VDUSE_IOCTLS, vduse, vduse.VDUSE_BASE],
];

describe.each(families)('%s', (_, table, module, type) => {
  it('has one entry per exported ioctl constant, with the same number', () => {
    for (const e of table) expect(module[e.name]).toBe(e.number);
    const exported = Object.entries(module).filter(([, v]) => typeof v === 'number' && table.some((e) => e.number === v));
    expect(exported.map(([k]) => k).sort()).toEqual(table.map((e) => e.name).sort());
  });

  it('has distinct names and numbers, and each number encodes its type, nr, size and macro', () => {
    expect(new Set(table.map((e) => e.name)).size).toBe(table.length);
    expect(new Set(table.map((e) => e.number)).size).toBe(table.length);
    const dirOf = { _IO: 0, _IOW: _IOC_WRITE, _IOR: _IOC_READ, _IOWR: _IOC_READ | _IOC_WRITE } as const;
    for (const e of table) {
      expect(e.type).toBe(type);
      expect(e.size).toBe(ioctlArgSize(e.arg));
      expect(e.number).toBe(_IOC(dirOf[e.macro], type, e.nr, e.size));
    }
  });

  it('marks as kernel-writing every _IOR/_IOWR ioctl and the historical _IOW getters', () => {
    for (const e of table) {
      if (e.macro === '_IOR' || e.macro === '_IOWR') expect(e.kernelWrites).toBe(true);
    }
    const writingIow = table.filter((e) => e.macro === '_IOW' && e.kernelWrites).map((e) => e.name);
    expect(writingIow.every((n) => n.includes('_GET_'))).toBe(true);
  });
});

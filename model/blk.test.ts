import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_OK, VIRTIO_BLK_S_UNSUPP, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT } from '../spec/virtio/blk.ts';
import { addWriteCandidate, applyWrite, type Disk, expectBlk, firstReadMismatch, readCandidates } from './blk.ts';

const CAP = 64n;
const TRAITS = { capacitySectors: CAP, readOnly: false, initiallyZero: true };

describe('blk disk model', () => {
  it('property: with no write in flight, a read must return exactly the last data written', () => {
    const write = fc.record({ sector: fc.bigInt({ min: 0n, max: CAP - 4n }), n: fc.integer({ min: 1, max: 4 }), fill: fc.integer({ min: 0, max: 255 }) });
    fc.assert(fc.property(fc.array(write, { maxLength: 10 }), fc.bigInt({ min: 0n, max: CAP - 4n }), fc.integer({ min: 0, max: 2047 }), (writes, at, flip) => {
      let disk: Disk = new Map();
      const shadow = new Uint8Array(Number(CAP) * 512);
      for (const w of writes) {
        const data = new Uint8Array(w.n * 512).fill(w.fill);
        disk = applyWrite(disk, { sector: w.sector, data });
        shadow.set(data, Number(w.sector) * 512);
      }
      const c = readCandidates(disk, [], at, 2048, true);
      const truth = shadow.slice(Number(at) * 512, Number(at) * 512 + 2048);
      expect(firstReadMismatch(c, truth)).toBe(-1);
      truth[flip] ^= 0xff;
      expect(firstReadMismatch(c, truth)).toBe(flip - (flip % 512) + (flip % 512));
    }), { seed: 42 });
  });

  it('a write in flight makes both the old and the new sector content acceptable, nothing else', () => {
    const old = applyWrite(new Map(), { sector: 2n, data: new Uint8Array(512).fill(1) });
    const c = readCandidates(old, [], 2n, 512, true);
    addWriteCandidate(c, { sector: 1n, data: new Uint8Array(1024).fill(9) });
    expect(firstReadMismatch(c, new Uint8Array(512).fill(1))).toBe(-1);
    expect(firstReadMismatch(c, new Uint8Array(512).fill(9))).toBe(-1);
    expect(firstReadMismatch(c, new Uint8Array(512).fill(5))).toBe(0);
  });

  it('a disk not known to start zeroed: unwritten sectors accept anything, written ones do not', () => {
    const d = applyWrite(new Map(), { sector: 1n, data: new Uint8Array(512).fill(7) });
    const c = readCandidates(d, [], 0n, 1024, false);
    const got = new Uint8Array(1024).fill(3);
    expect(firstReadMismatch(c, got)).toBe(512);
    got.fill(7, 512);
    expect(firstReadMismatch(c, got)).toBe(-1);
  });

  it('statuses: beyond capacity IOERR, unknown type UNSUPP or IOERR (never OK), writes to a read-only disk IOERR', () => {
    expect(expectBlk({ type: VIRTIO_BLK_T_IN, sector: CAP - 1n, data: new Uint8Array(0), readLen: 1024 }, TRAITS).statuses).toEqual([VIRTIO_BLK_S_IOERR]);
    expect(expectBlk({ type: VIRTIO_BLK_T_IN, sector: CAP - 2n, data: new Uint8Array(0), readLen: 1024 }, TRAITS)).toEqual({ statuses: [VIRTIO_BLK_S_OK], usedLen: 1025 });
    expect(expectBlk({ type: 0x77, sector: 0n, data: new Uint8Array(0), readLen: 0 }, TRAITS).statuses).toEqual([VIRTIO_BLK_S_UNSUPP, VIRTIO_BLK_S_IOERR]);
    expect(expectBlk({ type: VIRTIO_BLK_T_OUT, sector: 0n, data: new Uint8Array(512), readLen: 0 }, { ...TRAITS, readOnly: true }).statuses).toEqual([VIRTIO_BLK_S_IOERR]);
  });
});

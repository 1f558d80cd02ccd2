// The net loopback oracles: the frame a receive buffer carries and its header's num_buffers are judged
// apart (virtio.net.loopback-integrity, virtio.net.num-buffers-one), so one wrong field is one finding.
import { describe, expect, it } from 'vitest';
import { checkLoopback, checkNumBuffers } from './integrity.ts';

const FRAME = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14);
/** A 12-byte virtio_net_hdr (VERSION_1) with the given num_buffers, then `body`. */
const rx = (numBuffers: number, body: Uint8Array) => Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, numBuffers & 0xff, numBuffers >> 8, ...body]);

describe('checkLoopback', () => {
  it('passes the frame that was sent, whatever the header says', () => {
    expect(checkLoopback(12, FRAME, rx(0, FRAME), 26).verdict).toBe('PASS');
  });

  it('fails a frame with a changed byte, a truncated frame and a surplus length', () => {
    const changed = Uint8Array.from(FRAME);
    changed[5] ^= 0xff;
    expect(checkLoopback(12, FRAME, rx(1, changed), 26).verdict).toBe('FAIL');
    expect(checkLoopback(12, FRAME, rx(1, FRAME), 25).verdict).toBe('FAIL');
    expect(checkLoopback(12, FRAME, rx(1, Uint8Array.from([...FRAME, 0])), 27).verdict).toBe('FAIL');
  });
});

describe('checkNumBuffers', () => {
  it('passes 1 and fails anything else (virtio 1.2 §5.1.6.4.1, MRG_RXBUF not negotiated)', () => {
    expect(checkNumBuffers(12, rx(1, FRAME))).toEqual([expect.objectContaining({ requirement: 'virtio.net.num-buffers-one', verdict: 'PASS' })]);
    expect(checkNumBuffers(12, rx(0, FRAME))).toEqual([expect.objectContaining({ verdict: 'FAIL', detail: 'num_buffers 0, expected 1' })]);
    expect(checkNumBuffers(12, rx(2, FRAME))[0].verdict).toBe('FAIL');
  });

  it('has nothing to judge in a legacy 10-byte header, which has no num_buffers', () => {
    expect(checkNumBuffers(10, rx(0, FRAME))).toEqual([]);
  });
});

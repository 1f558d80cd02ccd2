import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReceiveBuffer } from './receiveBuffer.ts';

function put(rb: ReceiveBuffer, bytes: Uint8Array, atLeast = bytes.length): void {
  const room = rb.room(atLeast);
  expect(room.length).toBeGreaterThanOrEqual(atLeast);
  room.set(bytes);
  rb.filled(bytes.length);
}

describe('ReceiveBuffer', () => {
  it('hands back the received bytes in order as copies, across compaction and growth', () => {
    // Model: a plain array of bytes. Fixed seed (house rule).
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.uint8Array({ maxLength: 40 }).map((b) => ({ put: b })), fc.nat({ max: 50 }).map((n) => ({ take: n })), fc.constant({ clear: true }))),
        (ops) => {
          const rb = new ReceiveBuffer(16);
          let model: number[] = [];
          for (const op of ops) {
            if ('put' in op) {
              put(rb, op.put);
              model.push(...op.put);
            } else if ('take' in op) {
              const n = Math.min(op.take, model.length);
              const got = rb.take(n);
              expect([...got]).toEqual(model.slice(0, n));
              model = model.slice(n);
            } else {
              rb.clear();
              model = [];
            }
            expect(rb.length).toBe(model.length);
            expect([...rb.held()]).toEqual(model);
          }
        },
      ),
      { seed: 12, numRuns: 300 },
    );
  });

  it('a taken frame is a copy: later receives do not change it', () => {
    const rb = new ReceiveBuffer(8);
    put(rb, Uint8Array.of(1, 2, 3));
    const first = rb.take(3);
    put(rb, Uint8Array.of(9, 9, 9));
    expect([...first]).toEqual([1, 2, 3]);
  });

  it('refuses to record or take more than there is', () => {
    const rb = new ReceiveBuffer(4);
    rb.room(4);
    expect(() => rb.filled(5)).toThrow(RangeError);
    expect(() => rb.take(1)).toThrow(RangeError);
  });
});

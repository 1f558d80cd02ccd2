import { describe, expect, it } from 'vitest';
import { createSimulatedTarget } from './index.ts';
import { recycle, takeZeroed } from './zeroedBuffers.ts';

describe('zeroedBuffers', () => {
  it('hands a recycled buffer out again, zero-filled', () => {
    const a = takeZeroed(4096 + 17);
    a.fill(0x5a);
    recycle(a);
    const b = takeZeroed(4096 + 17);
    expect(b).toBe(a);
    expect(b.every((x) => x === 0)).toBe(true);
  });

  it('keeps a buffer recycled twice only once', () => {
    const size = 8192 + 3;
    const a = takeZeroed(size);
    recycle(a);
    recycle(a);
    expect(takeZeroed(size)).toBe(a);
    expect(takeZeroed(size)).not.toBe(a);
  });

  it('gives the next simulated session the memory of a closed one, zeroed but for the guard canaries', async () => {
    const first = createSimulatedTarget({ deviceType: 'blk' });
    for (const r of first.memory.regions) r.bytes.fill(0xee);
    await first.close();
    const second = createSimulatedTarget({ deviceType: 'blk' });
    try {
      expect(second.memory.backing).toBe(first.memory.backing);
      for (const r of second.memory.regions) expect(r.bytes.every((x) => x === 0)).toBe(true);
      for (const g of second.memory.guards) expect(second.memory.backing.subarray(g.start, g.end).every((x) => x === 0xa5)).toBe(true);
    } finally {
      await second.close();
    }
  });
});

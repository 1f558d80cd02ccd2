import { describe, expect, it } from 'vitest';
import { Harness } from '../../properties/harness.ts';
import type { Step } from '../../properties/steps.ts';
import { probeTarget } from '../../runner/profile.ts';
import { VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT } from '../../spec/virtio/blk.ts';
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

  it('zeroes again only the bytes said to be written, however often it was recycled', () => {
    const size = 4096 + 29;
    const a = takeZeroed(size);
    a.fill(0x5a, 100, 200);
    a.fill(0x5a, 3000, 3001);
    recycle(a, { start: 100, end: 200 });
    recycle(a, { start: 3000, end: 3001 });
    const b = takeZeroed(size);
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

  it('gives the next blk session a zeroed disk: what a session wrote is gone, as the model of a fresh disk expects', async () => {
    const open = async () => createSimulatedTarget({ deviceType: 'blk' });
    const { profile } = await probeTarget({ open });
    const layout = { cuts: [], indirect: false, crossRegion: false };
    const setup: Step = { t: 'setup', packed: false, eventIdx: false, indirect: false, inOrder: false, platform: false, num: 8 };
    const write: Step = { t: 'blk', queue: 0, type: VIRTIO_BLK_T_OUT, sector: 3n, data: new Uint8Array(1024).fill(0xee), readLen: 0, layout };
    const read: Step = { t: 'blk', queue: 0, type: VIRTIO_BLK_T_IN, sector: 2n, data: new Uint8Array(0), readLen: 2048, layout };
    const kick: Step = { t: 'kick', queue: 0 };
    for (const steps of [[setup, write, kick], [setup, read, kick]]) {
      const target = await open();
      const h = new Harness(target, profile, { settleMs: 0, failsRun: () => false });
      for (const s of steps) await h.exec(s);
      await target.close();
      expect(h.observations.filter((o) => o.verdict !== 'PASS').map((o) => `${o.verdict} ${o.requirement}: ${o.detail}`)).toEqual([]);
      if (steps.includes(read)) expect(h.observations).toContainEqual(expect.objectContaining({ requirement: 'virtio.blk.read-after-write', verdict: 'PASS' }));
    }
  });
});

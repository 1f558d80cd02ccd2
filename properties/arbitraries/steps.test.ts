// Generators against the smallest profiles a device may have: capacity 0, 1 and 7 sectors, one queue,
// maximum queue size 1 or 32768. Every value they make is legal for the profile or deliberately hostile,
// and always encodable (a negative sector was an internal error, exit 3).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Profile } from '../../model/profile.ts';
import { encode } from '../../spec/codec.ts';
import { virtio_blk_outhdr } from '../../spec/virtio/blk.ts';
import { inflightAreaSize } from '../../spec/vhostUser/inflight.ts';
import { VIRTIO_RING_F_INDIRECT_DESC } from '../../spec/virtio/features.ts';
import { hostileArb, inflightArb, kickArb, ringStateArb, trafficArb } from './steps.ts';

const base: Profile = {
  deviceType: 'blk', queues: 1, vringLimit: 1, maxQueueSize: 1024, offeredFeatures: 0n, offeredProtocolFeatures: 0n,
  configSize: 60, config: new Uint8Array(0), blkCapacitySectors: 2048n, blkFreshDisk: true, transport: 'in-process',
};

describe('blk traffic for small disks', () => {
  for (const capacity of [0n, 1n, 7n]) {
    it(`capacity ${capacity}: every sector is a u64, and some reach past the end`, () => {
      const p = { ...base, blkCapacitySectors: capacity };
      const sectors = fc.sample(trafficArb(p), { numRuns: 400, seed: 1 }).flatMap((s) => (s.t === 'blk' ? [s.sector] : []));
      for (const sector of sectors) expect(() => encode(virtio_blk_outhdr, { type: 0, ioprio: 0, sector })).not.toThrow();
      expect(sectors.some((s) => s >= capacity)).toBe(true);
    });
  }

  it('unknown capacity: no read or write, whose outcome depends on the end of the disk', () => {
    const steps = fc.sample(trafficArb({ ...base, blkCapacitySectors: null }), { numRuns: 200, seed: 1 });
    expect(steps.filter((s) => s.t === 'blk' && (s.type === 0 || s.type === 1))).toEqual([]);
  });
});

describe('queues and sizes at the edges', () => {
  it('one queue: every queue index is 0', () => {
    const p = { ...base, queues: 1 };
    const queues = [...fc.sample(kickArb(p), 50), ...fc.sample(ringStateArb(p), 50), ...fc.sample(hostileArb(p), 50)].flatMap((s) => ('queue' in s ? [s.queue] : []));
    expect(new Set(queues)).toEqual(new Set([0]));
  });

  it('maximum queue size 1: a one-queue inflight exchange asks for size 1, or for a hostile 0 or 0xffff', () => {
    const reqs = fc.sample(inflightArb({ ...base, maxQueueSize: 1 }), { numRuns: 300, seed: 2 }).flat();
    const sizes = reqs.flatMap((s) => (s.t === 'control' && (s.req.op === 'getInflightFd' || s.req.op === 'setInflightFd') && s.req.numQueues === 1 ? [s.req.queueSize] : []));
    expect(sizes).toContain(1);
    expect(sizes.filter((n) => n !== 1 && n !== 0 && n !== 0xffff)).toEqual([]);
  });

  it('maximum queue size 32768 on many queues: a valid inflight buffer stays within a few MiB', () => {
    const reqs = fc.sample(inflightArb({ ...base, queues: 5, maxQueueSize: 32768 }), { numRuns: 300, seed: 3 }).flat();
    for (const s of reqs) {
      if (s.t !== 'control' || s.req.op !== 'getInflightFd' || s.req.numQueues > 5 || s.req.queueSize > 32768 || s.req.numQueues === 0) continue;
      expect(inflightAreaSize(s.req.numQueues, s.req.queueSize, true)).toBeLessThanOrEqual(4 << 20);
    }
  });
});

describe('hostile chains the device can be judged on', () => {
  const defects = (p: Profile) => new Set(fc.sample(hostileArb(p), { numRuns: 400, seed: 1 }).flatMap((s) => (s.t === 'hostile' && s.defect ? [s.defect] : [])));

  it('indirect-table defects only when the device offers VIRTIO_RING_F_INDIRECT_DESC (vdpa_sim does not)', () => {
    const withIndirect = { ...base, offeredFeatures: base.offeredFeatures | (1n << BigInt(VIRTIO_RING_F_INDIRECT_DESC)) };
    const without = { ...base, offeredFeatures: base.offeredFeatures & ~(1n << BigInt(VIRTIO_RING_F_INDIRECT_DESC)) };
    expect(defects(withIndirect)).toEqual(new Set(['loop', 'head-out-of-range', 'next-out-of-range', 'nested-indirect', 'indirect-len-invalid', 'indirect-loop']));
    expect(defects(without)).toEqual(new Set(['loop', 'head-out-of-range', 'next-out-of-range']));
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VRING_AVAIL_F_NO_INTERRUPT, VRING_PACKED_EVENT_FLAG_DESC, VRING_PACKED_EVENT_FLAG_DISABLE } from '../spec/virtio/ring.ts';
import { packedNotifyRule, splitNotifyRule } from './notify.ts';

describe('split notification rules (virtio 1.2 §2.7.10)', () => {
  it('without EVENT_IDX: flags 0 → must, NO_INTERRUPT → should not', () => {
    expect(splitNotifyRule(false, 0, 0, 0, 1).kind).toBe('must');
    expect(splitNotifyRule(false, VRING_AVAIL_F_NO_INTERRUPT, 0, 0, 1).kind).toBe('should-not');
  });

  it('with EVENT_IDX: must exactly when the batch crossed used_event, across the 16-bit wrap', () => {
    expect(splitNotifyRule(true, 0, 0, 0, 1).kind).toBe('must');
    expect(splitNotifyRule(true, 0, 5, 0, 3).kind).toBe('should-not');
    expect(splitNotifyRule(true, 0, 0xffff, 0xfffe, 1).kind).toBe('must');
    expect(splitNotifyRule(true, VRING_AVAIL_F_NO_INTERRUPT, 0, 0, 1).kind).toBe('must');
  });

  it('property: with EVENT_IDX, "must" iff some index written in the batch equals used_event', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 1, max: 64 }), (ev, old, n) => {
      const written = Array.from({ length: n }, (_, k) => (old + k) & 0xffff);
      expect(splitNotifyRule(true, 0, ev, old, (old + n) & 0xffff).kind).toBe(written.includes(ev) ? 'must' : 'should-not');
    }), { seed: 42 });
  });

  it('nothing used: nothing required', () => {
    expect(splitNotifyRule(false, 0, 0, 3, 3).kind).toBe('may');
  });
});

describe('packed notification rules (virtio 1.2 §2.8.10, §2.8.14)', () => {
  it('enable → must, disable → should not, desc → at the named slot and wrap only', () => {
    const slots = [{ idx: 2, wrap: true }];
    expect(packedNotifyRule(false, 0, 0, slots).kind).toBe('must');
    expect(packedNotifyRule(false, VRING_PACKED_EVENT_FLAG_DISABLE, 0, slots).kind).toBe('should-not');
    expect(packedNotifyRule(true, VRING_PACKED_EVENT_FLAG_DESC, 2 | 0x8000, slots).kind).toBe('must');
    expect(packedNotifyRule(true, VRING_PACKED_EVENT_FLAG_DESC, 2, slots).kind).toBe('should-not');
  });
});

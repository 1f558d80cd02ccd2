// A net device that refuses a RESET_DEVICE it never offered keeps the frames it was looping back
// (vhost-user.rst RESET_DEVICE: "Only valid if … set by the back-end"); a frame arriving after such a
// refused reset is one the driver sent, not an unknown one. Found by the fleet's minimal net variant.
import { describe, expect, it } from 'vitest';
import { runSteps } from '../runner/engine.ts';
import { probeTarget } from '../runner/profile.ts';
import { parseTargetSpec } from '../runner/targetSpec.ts';
import { targetFactory } from '../runner/targets.ts';
import type { LayoutSpec, Step } from './steps.ts';

const layout: LayoutSpec = { cuts: [], indirect: false, crossRegion: false, atRegionEnd: false };
const frame = new Uint8Array(64).fill(0x5a);

describe('net loopback across a refused reset', () => {
  it('a frame sent before a RESET_DEVICE the device refused may still come back, and is matched', async () => {
    const factory = targetFactory(parseTargetSpec('simulated:device=net,variant=minimal'));
    const { profile } = await probeTarget(factory);
    const steps: Step[] = [
      { t: 'setup', packed: false, eventIdx: false, indirect: false, inOrder: false, platform: false, num: 4 },
      { t: 'netTx', frame, layout },
      { t: 'kick', queue: 1 },
      { t: 'reset' },
      { t: 'netRx', size: 2048, layout },
      { t: 'kick', queue: 0 },
    ];
    const out = await runSteps(factory, profile, steps, (o) => o.verdict === 'FAIL');
    expect(out.failure?.observation).toBeUndefined();
    expect(out.observations.some((o) => o.requirement === 'virtio.net.loopback-integrity' && o.verdict === 'PASS')).toBe(true);
  });
});

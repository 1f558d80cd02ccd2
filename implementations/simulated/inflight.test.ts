// The device and the model agree on inflight buffers across a change of ring
// layout (issue 10 item 8): `vhostcheck run --runs 3000 --seed 1` shrank this
// case to a FAIL of vhost-user.inflight.set-fd on the healthy device, because
// the model demanded that a buffer allocated for split rings be taken back
// once RING_PACKED was negotiated (model/inflight.ts now leaves that open).
import { describe, expect, it } from 'vitest';
import { runSteps } from '../../runner/engine.ts';
import { probeTarget } from '../../runner/profile.ts';
import { parseTargetSpec } from '../../runner/targetSpec.ts';
import { targetFactory } from '../../runner/targets.ts';
import type { Step } from '../../properties/steps.ts';

const SHRUNK: Step[] = [
  { t: 'repeatGetInflight', numQueues: 1, queueSize: 8, count: 32 },
  { t: 'control', req: { op: 'setFeatures', features: 0x10f74000244n } },
  { t: 'control', req: { op: 'setProtocolFeatures', features: 0x1b20bn } },
  { t: 'control', req: { op: 'setInflightFd', numQueues: 1, queueSize: 8, withFd: true } },
];

describe('inflight buffer after RING_PACKED is negotiated (regression, --runs 3000 --seed 1)', () => {
  for (const spec of ['simulated', 'vhost-user:spawn=simulated']) {
    it(`${spec}: the split-sized buffer may be refused, and nothing fails`, async () => {
      const factory = targetFactory(parseTargetSpec(spec));
      try {
        const { profile } = await probeTarget(factory);
        const out = await runSteps(factory, profile, SHRUNK, (o) => o.verdict !== 'PASS' && o.verdict !== 'INFORMATIONAL');
        expect(out.failure?.observation).toBeUndefined();
        expect(out.observations.some((o) => o.requirement === 'vhost-user.inflight.set-fd')).toBe(true);
      } finally {
        await factory.dispose();
      }
    });
  }
});

// A refusal is judged where the front-end can see it (model/session.ts refusalVisible): over a real
// vhost-user socket, the mutant that accepts unoffered features ("features-ok-accepts-unoffered") is
// caught once REPLY_ACK is negotiated, and a back-end without REPLY_ACK is judged by liveness only.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createSimulatedTarget } from '../implementations/simulated/index.ts';
import { serveVhostUser } from '../implementations/vhost-user/backEnd.ts';
import { VhostUserTarget } from '../implementations/vhost-user/frontEnd.ts';
import { runSteps } from '../runner/engine.ts';
import { deriveProfile } from '../runner/profile.ts';
import type { TargetFactory } from '../runner/targets.ts';
import type { Step } from './steps.ts';

const STEPS: readonly Step[] = [
  { t: 'setup', packed: false, eventIdx: false, indirect: false, inOrder: false, platform: false, num: 4 },
  { t: 'control', req: { op: 'setFeatures', features: 1n << 50n } },
];

let cleanup: (() => Promise<void>) | null = null;
afterEach(async () => {
  await cleanup?.();
  cleanup = null;
});

/** Serves the simulated blk device (a mutant, a variant) on a fresh socket and judges STEPS against it. */
async function judgeServed(opts: { mutant?: string; variant?: string }): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'vhostcheck-refusal-'));
  const socketPath = join(dir, 'sim.sock');
  const stop = new AbortController();
  const served = serveVhostUser(socketPath, (memory, logArea, inflight) => createSimulatedTarget({ deviceType: 'blk', ...opts, memory, logArea, inflight }), stop.signal);
  cleanup = async () => {
    stop.abort();
    await served;
    rmSync(dir, { recursive: true, force: true });
  };
  const open = () => VhostUserTarget.open({ socketPath, deviceType: 'blk', queues: 1, replyTimeoutMs: 1000, blockingWaitMs: 0 });
  const factory: TargetFactory = { spec: { kind: 'vhost-user', via: 'socket', path: socketPath, device: 'blk' }, settleMs: 50, open, dispose: async () => {} };
  const probe = await open();
  const profile = await deriveProfile(probe);
  await probe.close();
  expect(profile.transport).toBe('vhost-user');
  const r = await runSteps(factory, profile, STEPS, () => false);
  return r.observations.filter((o) => o.verdict !== 'PASS' && o.verdict !== 'INFORMATIONAL').map((o) => `${o.verdict} ${o.requirement}`);
}

describe('refusals over a vhost-user socket', () => {
  it('with REPLY_ACK negotiated, a back-end that takes unoffered features fails virtio.status.features-ok-refusal', async () => {
    expect(await judgeServed({ mutant: 'features-ok-accepts-unoffered' })).toContain('FAIL virtio.status.features-ok-refusal');
  });

  it('the healthy back-end refuses them and passes', async () => {
    expect(await judgeServed({})).toEqual([]);
  });

  it('without REPLY_ACK the acceptance cannot be seen: the same mutant is judged by liveness only, and passes', async () => {
    expect(await judgeServed({ mutant: 'features-ok-accepts-unoffered', variant: 'no-reply-ack' })).toEqual([]);
  });
});

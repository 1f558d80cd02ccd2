// The probe as a well-behaved front-end: it asks only what was negotiated, a device that answers less
// gets a smaller profile, and a back-end that never answers or hangs up gets a verdict, not an exception.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createSimulatedTarget } from '../implementations/simulated/index.ts';
import type { Target } from '../implementations/target.ts';
import { VhostUserTarget } from '../implementations/vhost-user/frontEnd.ts';
import type { Reply, VhostRequest } from '../spec/requests.ts';
import { bit } from '../spec/virtio/features.ts';
import { VHOST_USER_PROTOCOL_F_CONFIG, VHOST_USER_PROTOCOL_F_MQ } from '../spec/vhostUser/protocolFeatures.ts';
import { executeRun } from './engine.ts';
import { probeTarget } from './profile.ts';

/** A back-end that accepts connections and then stays silent (`silent`) or hangs up at once (`close`). */
async function listen(mode: 'silent' | 'close'): Promise<{ socketPath: string; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'vhostcheck-probe-'));
  const socketPath = join(dir, 'be.sock');
  const conns = new Set<import('node:net').Socket>();
  const server: Server = createServer((c) => {
    if (mode === 'close') return void c.destroy();
    conns.add(c);
    c.on('data', () => {});
    c.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(socketPath, r));
  return {
    socketPath,
    stop: async () => {
      for (const c of conns) c.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('a back-end that does not answer the probe', () => {
  let stop: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await stop?.();
    stop = undefined;
  });

  it('that stays silent is a TIMEOUT naming GET_FEATURES, within the reply timeout', async () => {
    const be = await listen('silent');
    stop = be.stop;
    const t0 = Date.now();
    const r = await probeTarget({ open: () => VhostUserTarget.open({ socketPath: be.socketPath, deviceType: 'blk', replyTimeoutMs: 150 }) });
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(r.failure).toEqual(expect.objectContaining({ requirement: 'vhost-user.reply.required', verdict: 'TIMEOUT', detail: expect.stringContaining('getFeatures') }));
    expect(r.profile.offeredFeatures).toBe(0n);
  });

  it('that stays silent ends a whole run within a few reply timeouts, with a report saying so', async () => {
    const be = await listen('silent');
    stop = be.stop;
    const t0 = Date.now();
    const r = await executeRun({ targetSpec: `vhost-user:${be.socketPath},device=blk`, selectors: [], seed: 1, runs: 5, strict: false, regressionDir: join(be.socketPath, '..', 'reg'), replyTimeoutMs: 150 });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(r.results.find((x) => x.id === 'vhost-user.reply.required')).toEqual(expect.objectContaining({ verdict: 'TIMEOUT', detail: expect.stringContaining('getFeatures') }));
  });

  it('that hangs up at once is a CRASH naming the message it left unanswered', async () => {
    const be = await listen('close');
    stop = be.stop;
    const r = await probeTarget({ open: () => VhostUserTarget.open({ socketPath: be.socketPath, deviceType: 'blk', replyTimeoutMs: 150 }) });
    expect(r.failure).toEqual(expect.objectContaining({ requirement: 'vhost-user.reply.required', verdict: 'CRASH', detail: expect.stringMatching(/closed the connection at (setOwner|getFeatures)/) }));
  });
});

/**
 * The simulated device made strict and smaller: it offers only `protocol` of its protocol features and
 * refuses every message whose feature was not negotiated; `log` records what the probe sent.
 */
function strictSmaller(protocol: bigint, log: VhostRequest[]): () => Promise<Target> {
  return async () => {
    const inner = createSimulatedTarget({ deviceType: 'blk' });
    let negotiated = 0n;
    const gated: Partial<Record<VhostRequest['op'], number>> = { getConfig: VHOST_USER_PROTOCOL_F_CONFIG, getQueueNum: VHOST_USER_PROTOCOL_F_MQ };
    return {
      info: inner.info, memory: inner.memory, close: () => inner.close(), health: () => inner.health(), kick: (q) => inner.kick(q), waitCall: (q, ms) => inner.waitCall(q, ms),
      send: async (req): Promise<Reply> => {
        log.push(req);
        const r = await inner.send(req);
        if (req.op === 'getProtocolFeatures' && 'ok' in r && r.ok && typeof r.value === 'bigint') return { ok: true, value: r.value & protocol };
        if (req.op === 'setProtocolFeatures') negotiated = req.features;
        const bitNeeded = gated[req.op];
        if (bitNeeded !== undefined && (negotiated & bit(bitNeeded)) === 0n) return { ok: false, errno: 'EPROTO' };
        return r;
      },
    };
  };
}

describe('a device that answers less gets a smaller profile', () => {
  it('without CONFIG and MQ: neither GET_CONFIG nor GET_QUEUE_NUM is sent, and the capacity is unknown rather than 0', async () => {
    const log: VhostRequest[] = [];
    const { profile, failure } = await probeTarget({ open: strictSmaller(0n, log) });
    expect(failure).toBeUndefined();
    expect(log.map((r) => r.op)).not.toContain('getConfig');
    expect(log.map((r) => r.op)).not.toContain('getQueueNum');
    expect(log.map((r) => r.op).slice(0, 2)).toEqual(['setOwner', 'getFeatures']);
    expect(profile.configSize).toBe(0);
    expect(profile.blkCapacitySectors).toBeNull();
    expect(profile.queueNum).toBeUndefined();
  });

  it('with CONFIG negotiated: the config and capacity are read, after SET_PROTOCOL_FEATURES', async () => {
    const log: VhostRequest[] = [];
    const { profile } = await probeTarget({ open: strictSmaller(bit(VHOST_USER_PROTOCOL_F_CONFIG), log) });
    const ops = log.map((r) => r.op);
    expect(ops.indexOf('setProtocolFeatures')).toBeLessThan(ops.indexOf('getConfig'));
    expect(log.find((r) => r.op === 'setProtocolFeatures')).toEqual({ op: 'setProtocolFeatures', features: bit(VHOST_USER_PROTOCOL_F_CONFIG) });
    expect(profile.blkCapacitySectors).not.toBeNull();
    expect(profile.configSize).toBeGreaterThan(8);
  });

  it('acks only protocol features this front-end implements', async () => {
    const log: VhostRequest[] = [];
    // INBAND_NOTIFICATIONS (14) and BACKEND_REQ (5) would change how notifications travel: never acked.
    await probeTarget({ open: strictSmaller(bit(14) | bit(5) | bit(VHOST_USER_PROTOCOL_F_MQ), log) });
    const set = log.find((r) => r.op === 'setProtocolFeatures');
    expect(set).toEqual({ op: 'setProtocolFeatures', features: bit(VHOST_USER_PROTOCOL_F_MQ) });
  });
});

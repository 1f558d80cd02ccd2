// The served simulated device driven by the real front-end over a real
// socket: control plane, guest memory shared by SET_MEM_TABLE, kicks and
// calls over eventfds (vhost-user.rst "Front-end message types",
// "Ring states", "REPLY_ACK"), and a clean shutdown.
import fc from 'fast-check';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fdCount, liveMappings } from '../../native/index.ts';
import { SUITES } from '../../properties/suites/index.ts';
import { runSteps } from '../../runner/engine.ts';
import { deriveProfile } from '../../runner/profile.ts';
import type { TargetFactory } from '../../runner/targets.ts';
import { encodeFrame, VHOST_USER_VERSION } from '../../spec/vhostUser/frame.ts';
import type { InflightArea } from '../../spec/requests.ts';
import { inflightAreaSize } from '../../spec/vhostUser/inflight.ts';
import { VHOST_USER_F_PROTOCOL_FEATURES } from '../../spec/vhostUser/protocolFeatures.ts';
import { VIRTIO_BLK_S_OK, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT } from '../../spec/virtio/blk.ts';
import { bit, VIRTIO_F_VERSION_1 } from '../../spec/virtio/features.ts';
import { createSimulatedTarget } from '../simulated/index.ts';
import { blkHeader, Guest, ok, SplitQueue, value } from '../simulated/driver.fixture.ts';
import { serveVhostUser } from './backEnd.ts';
import { VhostUserTarget } from './frontEnd.ts';

let dir: string;
let socketPath: string;
let stop: AbortController;
let served: Promise<void>;
let baseline: { fds: number; maps: number };

function startServer(deviceType: 'blk' | 'net' = 'blk'): void {
  stop = new AbortController();
  served = serveVhostUser(socketPath, (memory, logArea, inflight) => createSimulatedTarget({ deviceType, memory, logArea, inflight }), stop.signal);
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vhostcheck-be-'));
  socketPath = join(dir, 'sim.sock');
  baseline = { fds: fdCount(), maps: liveMappings() };
  startServer();
});

afterEach(async () => {
  stop.abort();
  await served;
  rmSync(dir, { recursive: true, force: true });
});

const open = (deviceType: 'blk' | 'net' = 'blk') => VhostUserTarget.open({ socketPath, deviceType, queues: deviceType === 'net' ? 2 : 1, replyTimeoutMs: 1000, blockingWaitMs: 0 });

describe('serveVhostUser with the simulated blk device', () => {
  it('negotiates, maps guest memory, runs a split-ring write and read over kick/call eventfds, and reports the ring base', async () => {
    const t = await open();
    const offered = value(await createSimulatedTarget({ deviceType: 'blk' }).send({ op: 'getFeatures' })) as bigint;
    expect(await t.send({ op: 'getFeatures' })).toEqual({ ok: true, value: offered });
    await ok(t, { op: 'setOwner' });
    const pf = value(await ok(t, { op: 'getProtocolFeatures' })) as bigint;
    // REPLY_ACK from here on: every later set is acknowledged, so an accepted message is known accepted.
    await ok(t, { op: 'setProtocolFeatures', features: pf });
    await ok(t, { op: 'setFeatures', features: bit(VIRTIO_F_VERSION_1) | bit(VHOST_USER_F_PROTOCOL_FEATURES) });
    const g = new Guest(t);
    await ok(t, { op: 'setMemTable', regions: g.memTable() });
    const q = await SplitQueue.create(t, g, 0, 8);
    // With PROTOCOL_FEATURES rings start disabled ("Ring states").
    await ok(t, { op: 'setVringEnable', index: 0, enable: true });

    const data = Buffer.alloc(512, 0x5a);
    data.write('served over vhost-user');
    const wr = [g.out(blkHeader(VIRTIO_BLK_T_OUT, 3n)), g.out(data), g.in(1)];
    const wHead = q.add(wr);
    await q.kick();
    expect(await t.waitCall(0, 2000)).toBe(true);
    expect(q.takeUsed()).toEqual([{ id: wHead, len: 1 }]);
    expect(g.bytes(wr[2])[0]).toBe(VIRTIO_BLK_S_OK);

    const rd = [g.out(blkHeader(VIRTIO_BLK_T_IN, 3n)), g.in(512), g.in(1)];
    const rHead = q.add(rd);
    await q.kick();
    expect(await t.waitCall(0, 2000)).toBe(true);
    expect(q.takeUsed()).toEqual([{ id: rHead, len: 513 }]);
    expect(g.bytes(rd[1])).toEqual(data);
    expect(g.bytes(rd[2])[0]).toBe(VIRTIO_BLK_S_OK);

    // GET_VRING_BASE stops the ring and returns the next avail index it would have read.
    expect(await t.send({ op: 'getVringBase', index: 0 })).toEqual({ ok: true, value: 2 });
    q.add([g.out(blkHeader(VIRTIO_BLK_T_IN, 3n)), g.in(512), g.in(1)]);
    await q.kick();
    expect(await t.waitCall(0, 100)).toBe(false);
    expect(q.takeUsed()).toEqual([]);
    await t.close();
  });

  it('GET_INFLIGHT_FD hands out a zeroed memfd; SET_INFLIGHT_FD takes it back, and refuses num_queues beyond the queues or a missing fd', async () => {
    const t = await open();
    await ok(t, { op: 'setOwner' });
    await ok(t, { op: 'setProtocolFeatures', features: value(await t.send({ op: 'getProtocolFeatures' })) as bigint });
    const area = value(await ok(t, { op: 'getInflightFd', numQueues: 1, queueSize: 8 })) as InflightArea;
    expect(area).toMatchObject({ mmapOffset: 0n, fd: true });
    expect(area.mmapSize).toBeGreaterThanOrEqual(BigInt(inflightAreaSize(1, 8, false)));
    expect(area.bytes?.every((b) => b === 0)).toBe(true);
    expect(await t.send({ op: 'setInflightFd', numQueues: 1, queueSize: 8, withFd: true })).toEqual({ ok: true });
    expect(await t.send({ op: 'setInflightFd', numQueues: 0xffff, queueSize: 8, withFd: true })).toEqual({ ok: false, errno: 'EIO' });
    expect(await t.send({ op: 'setInflightFd', numQueues: 1, queueSize: 8, withFd: false })).toEqual({ ok: false, errno: 'EIO' });
    // A request for no queue gets mmap_size 0, which the front-end reads as a refusal.
    expect(await t.send({ op: 'getInflightFd', numQueues: 0, queueSize: 8 })).toEqual({ ok: false, errno: 'EIO' });
    await t.close();
  });

  it('answers refusals as the protocol allows: a non-zero ack, an empty GET_CONFIG, a closed connection when nothing can be answered', async () => {
    const t = await open();
    await ok(t, { op: 'setProtocolFeatures', features: value(await t.send({ op: 'getProtocolFeatures' })) as bigint });
    expect(await t.send({ op: 'setVringNum', index: 0, num: 4096 })).toEqual({ ok: false, errno: 'EIO' });
    expect(await t.send({ op: 'setVringNum', index: 7, num: 8 })).toEqual({ ok: false, errno: 'EIO' });
    expect(await t.send({ op: 'getConfig', offset: 0, size: 4 })).toMatchObject({ ok: true });
    expect(await t.send({ op: 'getConfig', offset: 250, size: 200 })).toEqual({ ok: false, errno: 'EIO' });
    // A memory table whose region lies past the end of the memfd would be SIGBUS: refused.
    const [r0] = t.memory.regions;
    expect(await t.send({ op: 'setMemTable', regions: [{ gpa: 0n, size: 0x1000_0000n, uaddr: r0.uaddr }] })).toEqual({ ok: false, errno: 'EIO' });
    // GET_VRING_BASE has no error form: a bad index ends the session.
    expect(await t.send({ op: 'getVringBase', index: 9 })).toEqual({ closed: true });
    await t.close();

    // An unknown request code without need_reply: nothing to answer with, the connection closes; the server goes on.
    const u = await open();
    expect(await u.sendRaw({ bytes: encodeFrame(99, VHOST_USER_VERSION, new Uint8Array()) })).toEqual({ closed: true });
    await u.close();
    // A header with version 2 cannot be framed at all.
    const v = await open();
    expect(await v.sendRaw({ bytes: encodeFrame(1, 2, new Uint8Array()) })).toEqual({ closed: true });
    await v.close();
    // SET_VRING_KICK announcing an fd but carrying none is malformed.
    const k = await open();
    expect(await k.sendRaw({ bytes: encodeFrame(12, VHOST_USER_VERSION, Buffer.alloc(8)) })).toEqual({ closed: true });
    await k.close();

    const w = await open();
    expect(await w.send({ op: 'getQueueNum' })).toEqual({ ok: true, value: 1 });
    await w.close();
  });

  it('a fresh device per connection, and abort leaves no socket file, fd or mapping behind', async () => {
    for (let i = 0; i < 20; i++) {
      const t = await open();
      await ok(t, { op: 'setOwner' });
      await ok(t, { op: 'setFeatures', features: bit(VIRTIO_F_VERSION_1) });
      await ok(t, { op: 'setMemTable', regions: new Guest(t).memTable() });
      await ok(t, { op: 'setVringKick', index: 0 });
      await ok(t, { op: 'setVringCall', index: 0 });
      await ok(t, { op: 'setVringKick', index: 0 });
      // Round trip so the server has handled everything before this session goes.
      expect(await t.send({ op: 'getFeatures' })).toMatchObject({ ok: true });
      await t.close();
    }
    const t = await open();
    expect(await t.send({ op: 'getVringBase', index: 0 })).toEqual({ ok: true, value: 0 });
    stop.abort();
    await served;
    expect(await t.send({ op: 'getFeatures' })).toEqual({ closed: true });
    await t.close();
    expect(existsSync(socketPath)).toBe(false);
    expect(fdCount()).toBe(baseline.fds);
    expect(liveMappings()).toBe(baseline.maps);
  });
});

describe('the engine against the served device', () => {
  for (const deviceType of ['blk', 'net'] as const) {
    it(`sampled ${deviceType} scenarios of every suite raise no FAIL, CRASH or TIMEOUT`, async () => {
      stop.abort();
      await served;
      startServer(deviceType);
      const factory: TargetFactory = {
        spec: { kind: 'vhost-user', via: 'socket', path: socketPath, device: deviceType },
        settleMs: 300,
        open: () => open(deviceType),
        dispose: async () => {},
      };
      const probe = await factory.open();
      const profile = await deriveProfile(probe);
      await probe.close();
      const bad: string[] = [];
      for (const suite of SUITES.filter((s) => s.deviceTypes.includes(deviceType))) {
        for (const steps of fc.sample(suite.scenario(profile), { seed: 7, numRuns: 3 })) {
          const r = await runSteps(factory, profile, steps, (o) => ['FAIL', 'CRASH', 'TIMEOUT', 'ERROR'].includes(o.verdict));
          if (r.failure) bad.push(`${suite.name}: ${r.failure.observation.requirement} ${r.failure.observation.verdict}: ${r.failure.actual}`);
        }
      }
      expect(bad).toEqual([]);
    }, 120_000);
  }
});

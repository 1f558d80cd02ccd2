// Each variant does what its VARIANTS line says, and the default device does not
// (so each test would fail if the variant's switch were ignored).
import { describe, expect, it } from 'vitest';
import { VHOST_F_LOG_ALL } from '../../../spec/vhost/types.ts';
import {
  VHOST_USER_F_PROTOCOL_FEATURES,
  VHOST_USER_PROTOCOL_F_CONFIG,
  VHOST_USER_PROTOCOL_F_MQ,
  VHOST_USER_PROTOCOL_F_REPLY_ACK,
} from '../../../spec/vhostUser/protocolFeatures.ts';
import { VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_OK, VIRTIO_BLK_T_IN } from '../../../spec/virtio/blk.ts';
import { bit, hasFeature, VIRTIO_F_IN_ORDER } from '../../../spec/virtio/features.ts';
import type { Target } from '../../target.ts';
import { blkHeader, Guest, negotiate, ok, SplitQueue, value } from '../driver.fixture.ts';
import { createSimulatedTarget } from '../index.ts';
import { VARIANTS } from './index.ts';

const EINVAL = { ok: false, errno: 'EINVAL' };
const sim = (variant?: string, deviceType: 'blk' | 'net' = 'blk'): Target => createSimulatedTarget({ deviceType, ...(variant !== undefined && { variant }) });

async function offered(t: Target): Promise<{ features: bigint; protocol: bigint | null }> {
  const features = value(await t.send({ op: 'getFeatures' })) as bigint;
  const p = await t.send({ op: 'getProtocolFeatures' });
  return { features, protocol: 'ok' in p && p.ok ? (p.value as bigint) : null };
}

describe('VARIANTS', () => {
  it('has unique names, one line each', () => {
    expect(new Set(VARIANTS.map((v) => v.name)).size).toBe(VARIANTS.length);
    for (const v of VARIANTS) expect(v.description, v.name).toMatch(/^[^\n]{10,200}$/);
  });

  it('an unknown variant, or one of another device type, is refused by name', () => {
    expect(() => sim('nope')).toThrow(/unknown variant 'nope'/);
    expect(() => sim('net-1qp', 'blk')).toThrow(/simulated:device=net,variant=net-1qp/);
  });
});

describe('strict', () => {
  it('refuses messages before their feature is negotiated; the default device takes them', async () => {
    for (const [variant, refused] of [['strict', true], [undefined, false]] as const) {
      const t = sim(variant);
      const want = refused ? EINVAL : { ok: true };
      expect(await t.send({ op: 'getQueueNum' }), 'GET_QUEUE_NUM').toMatchObject(refused ? EINVAL : { ok: true });
      expect(await t.send({ op: 'getConfig', offset: 0, size: 8 }), 'GET_CONFIG').toMatchObject(refused ? EINVAL : { ok: true });
      expect(await t.send({ op: 'getStatus' }), 'GET_STATUS').toMatchObject(refused ? EINVAL : { ok: true });
      expect(await t.send({ op: 'getInflightFd', numQueues: 1, queueSize: 8 }), 'GET_INFLIGHT_FD').toMatchObject(refused ? EINVAL : { ok: true });
      expect(await t.send({ op: 'setVringEnable', index: 0, enable: true }), 'SET_VRING_ENABLE').toEqual(want);
      expect(await t.send({ op: 'iotlbInvalidate', iova: 0n, size: 0x1000n }), 'IOTLB_MSG').toEqual(want);
      await t.close();
    }
  });

  it('takes them once negotiated', async () => {
    const t = sim('strict');
    const { features, protocol } = await offered(t);
    await ok(t, { op: 'setFeatures', features: features & bit(VHOST_USER_F_PROTOCOL_FEATURES) });
    await ok(t, { op: 'setProtocolFeatures', features: protocol! });
    expect(await t.send({ op: 'getQueueNum' })).toEqual({ ok: true, value: 1 });
    expect(await t.send({ op: 'getConfig', offset: 0, size: 8 })).toMatchObject({ ok: true });
    await ok(t, { op: 'setVringEnable', index: 0, enable: true });
    await t.close();
  });

  it('refuses a second SET_OWNER, also after RESET_DEVICE (the back-end retains ownership)', async () => {
    const t = sim('strict');
    await ok(t, { op: 'setProtocolFeatures', features: (await offered(t)).protocol! });
    await ok(t, { op: 'setOwner' });
    expect(await t.send({ op: 'setOwner' })).toEqual(EINVAL);
    await ok(t, { op: 'resetDevice' });
    expect(await t.send({ op: 'setOwner' })).toEqual(EINVAL);
    const d = sim();
    await ok(d, { op: 'setOwner' });
    await ok(d, { op: 'setOwner' });
  });

  it('refuses undefined flags in payloads', async () => {
    for (const [variant, refused] of [['strict', true], [undefined, false]] as const) {
      const t = sim(variant);
      await ok(t, { op: 'setProtocolFeatures', features: (await offered(t)).protocol! });
      const want = refused ? EINVAL : { ok: true };
      expect(await t.send({ op: 'setVringAddr', index: 0, flags: 2, desc: 0n, avail: 0n, used: 0n, log: 0n }), 'vring flags').toEqual(want);
      expect(await t.send({ op: 'setStatus', status: 0x10 }), 'status').toEqual(want);
      await t.close();
    }
    // Flags 2 is neither a front-end write (0) nor a migration one (1): refused even where the write would go through.
    const t = sim('strict');
    await ok(t, { op: 'setProtocolFeatures', features: (await offered(t)).protocol! });
    expect(await t.send({ op: 'setConfig', offset: 0, data: new Uint8Array(8), flags: 2 })).toEqual(EINVAL);
    expect(await t.send({ op: 'setConfig', offset: 0, data: new Uint8Array(8), flags: 1 })).toEqual({ ok: true });
  });
});

describe('offers', () => {
  it('minimal has no protocol features, no dirty logging, and its rings start enabled', async () => {
    const t = sim('minimal');
    const { features, protocol } = await offered(t);
    expect(hasFeature(features, VHOST_USER_F_PROTOCOL_FEATURES)).toBe(false);
    expect(hasFeature(features, VHOST_F_LOG_ALL)).toBe(false);
    expect(protocol).toBeNull();
    expect(await t.send({ op: 'getConfig', offset: 0, size: 8 })).toEqual(EINVAL);
    const g = new Guest(t);
    await negotiate(t, g);
    const q = await SplitQueue.create(t, g, 0, 8);
    const head = q.add([g.out(blkHeader(VIRTIO_BLK_T_IN, 0n)), g.in(512), g.in(1)]);
    await q.kick();
    expect(q.takeUsed()).toEqual([{ id: head, len: 513 }]);
  });

  it('no-config, no-reply-ack and no-mq each withhold their protocol feature, and its message', async () => {
    const cases = [
      ['no-config', VHOST_USER_PROTOCOL_F_CONFIG, { op: 'getConfig', offset: 0, size: 8 }],
      ['no-reply-ack', VHOST_USER_PROTOCOL_F_REPLY_ACK, null],
      ['no-mq', VHOST_USER_PROTOCOL_F_MQ, { op: 'getQueueNum' }],
    ] as const;
    const all = (await offered(sim())).protocol!;
    for (const [variant, b, req] of cases) {
      const t = sim(variant);
      expect((await offered(t)).protocol, variant).toBe(all & ~bit(b));
      if (req !== null) expect(await t.send(req), variant).toEqual(EINVAL);
    }
  });

  it('slow never offers IN_ORDER: it completes out of order', async () => {
    expect(hasFeature((await offered(sim('slow'))).features, VIRTIO_F_IN_ORDER)).toBe(false);
    expect(hasFeature((await offered(sim())).features, VIRTIO_F_IN_ORDER)).toBe(true);
  });
});

describe('sizes', () => {
  for (const sectors of [0, 1, 7]) {
    it(`tiny-${sectors}: capacity ${sectors} sectors, the last one readable, the next one IOERR`, async () => {
      const t = sim(`tiny-${sectors}`);
      await ok(t, { op: 'setProtocolFeatures', features: (await offered(t)).protocol! });
      const cfg = value(await t.send({ op: 'getConfig', offset: 0, size: 8 })) as Uint8Array;
      expect(Buffer.from(cfg).readBigUInt64LE(0)).toBe(BigInt(sectors));
      const g = new Guest(t);
      await negotiate(t, g);
      const q = await SplitQueue.create(t, g, 0, 8);
      const read = (sector: number) => [g.out(blkHeader(VIRTIO_BLK_T_IN, BigInt(sector))), g.in(512), g.in(1)];
      const past = read(sectors);
      q.add(past);
      if (sectors > 0) q.add(read(sectors - 1));
      await q.kick();
      expect(g.bytes(past[2])[0]).toBe(VIRTIO_BLK_S_IOERR);
      expect(q.takeUsed().map((u) => u.len)).toEqual(sectors > 0 ? [1, 513] : [1]);
    });
  }

  for (const [variant, max] of [['qsize-1', 1], ['qsize-32768', 32768], ['packed-only', 768]] as const) {
    it(`${variant}: queues up to ${max} entries, no more`, async () => {
      const t = sim(variant);
      expect(t.info.maxQueueSize).toBe(max);
      await ok(t, { op: 'setVringNum', index: 0, num: max });
      expect(await t.send({ op: 'setVringNum', index: 0, num: max + 1 })).toEqual(EINVAL);
    });
  }

  it('net-1qp reports its one queue pair; the default net device counts vrings', async () => {
    for (const [variant, n] of [['net-1qp', 1], [undefined, 2]] as const) {
      const t = sim(variant, 'net');
      await ok(t, { op: 'setProtocolFeatures', features: (await offered(t)).protocol! });
      expect(await t.send({ op: 'getQueueNum' }), String(variant)).toEqual({ ok: true, value: n });
      expect(t.info.queues).toBe(2);
    }
  });
});

/** A slow blk device with a negotiated split queue 0 of `num` entries, `reads` sector reads made available and kicked. */
async function slowReads(num: number, reads: number) {
  const t = sim('slow');
  const g = new Guest(t);
  await negotiate(t, g);
  const q = await SplitQueue.create(t, g, 0, num);
  const reqs = Array.from({ length: reads }, (_, s) => [g.out(blkHeader(VIRTIO_BLK_T_IN, BigInt(s))), g.in(512), g.in(1)]);
  const heads = reqs.map((r) => q.add(r));
  await q.kick();
  return { t, g, q, reqs, heads };
}

describe('slow', () => {
  it('answers after a timer, publishes requests late and out of order, and signals each batch', async () => {
    const t = sim('slow');
    const t0 = Date.now();
    await ok(t, { op: 'getFeatures' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(9);
    await t.close();
    const { t: s, q, heads } = await slowReads(32, 6);
    // Nothing is used when kick() returns; the call comes later.
    expect(q.takeUsed()).toEqual([]);
    expect(await s.waitCall(0, 0)).toBe(false);
    const used: number[] = [];
    const deadline = Date.now() + 2000;
    while (used.length < heads.length && Date.now() < deadline) {
      if (await s.waitCall(0, 200)) used.push(...q.takeUsed().map((u) => u.id));
    }
    expect([...used].sort()).toEqual([...heads].sort());
    expect(used).not.toEqual(heads);
    await s.close();
  });

  it('finishes what it holds before it answers the next message (GET_VRING_BASE sees nothing in flight)', async () => {
    // Room for three 3-descriptor chains (the fixture hands out descriptors without a free list).
    const { t, g, q, reqs } = await slowReads(16, 3);
    expect(await t.send({ op: 'getVringBase', index: 0 })).toEqual({ ok: true, value: 3 });
    expect(q.takeUsed()).toHaveLength(3);
    for (const r of reqs) expect(g.bytes(r[2])[0]).toBe(VIRTIO_BLK_S_OK);
    await t.close();
  });

  it('a closed device runs no more timers and releases its waiters', async () => {
    const { t } = await slowReads(8, 1);
    const waiting = t.waitCall(0, 5000);
    await t.close();
    const t0 = Date.now();
    expect(await waiting).toBe(false);
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decode } from '../../spec/codec.ts';
import { VHOST_ACCESS_RO, VHOST_ACCESS_RW } from '../../spec/vhost/types.ts';
import { VHOST_USER_F_PROTOCOL_FEATURES } from '../../spec/vhostUser/protocolFeatures.ts';
import {
  VIRTIO_BLK_F_MQ,
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_S_UNSUPP,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
  virtio_blk_config,
} from '../../spec/virtio/blk.ts';
import {
  bit,
  VIRTIO_F_ACCESS_PLATFORM,
  VIRTIO_F_RING_PACKED,
  VIRTIO_F_VERSION_1,
  VIRTIO_RING_F_EVENT_IDX,
  VIRTIO_RING_F_INDIRECT_DESC,
} from '../../spec/virtio/features.ts';
import { NET_RX_QUEUE, NET_TX_QUEUE, virtio_net_config, virtio_net_hdr_v1, VIRTIO_NET_S_LINK_UP } from '../../spec/virtio/net.ts';
import {
  VRING_AVAIL_F_NO_INTERRUPT,
  VRING_DESC_F_INDIRECT,
  VRING_DESC_F_NEXT,
  VRING_DESC_F_WRITE,
  VRING_PACKED_EVENT_FLAG_DESC,
  VRING_PACKED_EVENT_FLAG_DISABLE,
} from '../../spec/virtio/ring.ts';
import { VIRTIO_CONFIG_S_FEATURES_OK, VIRTIO_CONFIG_S_NEEDS_RESET, STATUS_INIT_SEQUENCE } from '../../spec/virtio/status.ts';
import { damagedGuardOffset, REGION_BYTES } from '../guestMemory.ts';
import type { Target } from '../target.ts';
import { blkHeader, type Buf, Guest, negotiate, ok, PackedQueue, SplitQueue, value } from './driver.fixture.ts';
import { createSimulatedTarget } from './index.ts';

const EINVAL = { ok: false, errno: 'EINVAL' };

async function blk(opts: { num?: number; features?: bigint; packed?: boolean } = {}) {
  const t = createSimulatedTarget({ deviceType: 'blk' });
  const g = new Guest(t);
  await negotiate(t, g, (opts.features ?? 0n) | (opts.packed ? bit(VIRTIO_F_RING_PACKED) : 0n));
  return { t, g, q: await SplitQueue.create(t, g, 0, opts.num ?? 8) };
}

function writeReq(g: Guest, sector: bigint, data: Uint8Array): Buf[] {
  return [g.out(blkHeader(VIRTIO_BLK_T_OUT, sector)), g.out(data), g.in(1)];
}

function readReq(g: Guest, sector: bigint, len: number): Buf[] {
  return [g.out(blkHeader(VIRTIO_BLK_T_IN, sector)), g.in(len), g.in(1)];
}

const statusOf = (g: Guest, req: readonly Buf[]) => g.bytes(req[req.length - 1])[0];

async function status(t: Target): Promise<number> {
  return value(await t.send({ op: 'getStatus' })) as number;
}

describe('control plane', () => {
  it('offers the contracted features, BLK_MQ only with several queues', async () => {
    const f = value(await createSimulatedTarget({ deviceType: 'blk' }).send({ op: 'getFeatures' })) as bigint;
    for (const b of [VIRTIO_F_VERSION_1, VIRTIO_RING_F_INDIRECT_DESC, VIRTIO_RING_F_EVENT_IDX, VIRTIO_F_RING_PACKED, VIRTIO_F_ACCESS_PLATFORM, VHOST_USER_F_PROTOCOL_FEATURES]) {
      expect(f & bit(b)).not.toBe(0n);
    }
    expect(f & bit(VIRTIO_BLK_F_MQ)).toBe(0n);
    const mq = value(await createSimulatedTarget({ deviceType: 'blk', queues: 4 }).send({ op: 'getFeatures' })) as bigint;
    expect(mq & bit(VIRTIO_BLK_F_MQ)).not.toBe(0n);
  });

  it('refuses unoffered features and unknown protocol features', async () => {
    const t = createSimulatedTarget({ deviceType: 'net' });
    expect(await t.send({ op: 'setFeatures', features: bit(VIRTIO_F_VERSION_1) | bit(0) })).toEqual(EINVAL);
    // Bit 2 (RARP) is not offered; MQ, LOG_SHMFD, REPLY_ACK, CONFIG, RESET_DEVICE, CONFIGURE_MEM_SLOTS and STATUS are.
    expect(await t.send({ op: 'setProtocolFeatures', features: bit(2) })).toEqual(EINVAL);
    expect(await t.send({ op: 'setProtocolFeatures', features: 0x1a20bn })).toEqual({ ok: true });
  });

  it('validates the full 32-bit vring index of every ring message', async () => {
    const t = createSimulatedTarget({ deviceType: 'net' });
    for (const index of [2, 0x100, 0x10000, 0x1_0001, 0xffff_ffff]) {
      expect(await t.send({ op: 'setVringNum', index, num: 8 })).toEqual(EINVAL);
      expect(await t.send({ op: 'setVringBase', index, base: 0 })).toEqual(EINVAL);
      expect(await t.send({ op: 'getVringBase', index })).toEqual(EINVAL);
      expect(await t.send({ op: 'setVringKick', index })).toEqual(EINVAL);
      expect(await t.send({ op: 'setVringCall', index })).toEqual(EINVAL);
      expect(await t.send({ op: 'setVringEnable', index, enable: true })).toEqual(EINVAL);
      expect(await t.send({ op: 'setVringAddr', index, flags: 0, desc: 0n, avail: 0n, used: 0n, log: 0n })).toEqual(EINVAL);
    }
    expect(value(await t.send({ op: 'getQueueNum' }))).toBe(2);
  });

  it('accepts queue sizes 1..1024, including non-powers of 2 (checked when a split ring runs)', async () => {
    const t = createSimulatedTarget({ deviceType: 'blk' });
    for (const num of [0, 1025, 65536, 1.5]) expect(await t.send({ op: 'setVringNum', index: 0, num })).toEqual(EINVAL);
    for (const num of [1, 3, 1024]) expect(await t.send({ op: 'setVringNum', index: 0, num })).toEqual({ ok: true });
  });

  it('serves blk and net config space, refusing reads past its end', async () => {
    const b = createSimulatedTarget({ deviceType: 'blk', queues: 2 });
    const cfg = decode(virtio_blk_config, value(await b.send({ op: 'getConfig', offset: 0, size: virtio_blk_config.size })) as Uint8Array);
    expect(cfg).toMatchObject({ capacity: 2048n, blk_size: 512, seg_max: 126, num_queues: 2 });
    expect(Buffer.from(value(await b.send({ op: 'getConfig', offset: 20, size: 4 })) as Uint8Array).readUInt32LE(0)).toBe(512);
    for (const [offset, size] of [[0, 0], [0, 257], [70, 8], [72, 1], [-1, 4]]) expect(await b.send({ op: 'getConfig', offset, size })).toEqual(EINVAL);
    const n = createSimulatedTarget({ deviceType: 'net' });
    const net = decode(virtio_net_config, value(await n.send({ op: 'getConfig', offset: 0, size: virtio_net_config.size })) as Uint8Array);
    expect([...net.mac]).toEqual([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
    expect(net).toMatchObject({ status: VIRTIO_NET_S_LINK_UP, max_virtqueue_pairs: 1, mtu: 1500 });
  });

  it('accepts only memory tables that describe shared memory', async () => {
    const t = createSimulatedTarget({ deviceType: 'blk' });
    const g = new Guest(t);
    const [r0, r1] = g.memTable();
    expect(await t.send({ op: 'setMemTable', regions: [r0, r1] })).toEqual({ ok: true });
    expect(await t.send({ op: 'setMemTable', regions: [{ gpa: r0.gpa + 0x1000n, size: 0x1000n, uaddr: r0.uaddr + 0x1000n }] })).toEqual({ ok: true });
    // Any GPA may be given to shared memory (vhost-user.rst SET_MEM_TABLE): region 1's GPA on region 0's memory.
    expect(await t.send({ op: 'setMemTable', regions: [{ gpa: r1.gpa, size: r0.size, uaddr: r0.uaddr }] })).toEqual({ ok: true });
    const bad = [
      [{ ...r0, size: r0.size + 1n }],
      [{ ...r0, uaddr: r0.uaddr + 0x1000n }],
      [{ gpa: 0xffff_ffff_ffff_f000n, size: 0x2000n, uaddr: r0.uaddr }],
      [{ gpa: r0.gpa, size: 0x1000n, uaddr: 0xffff_ffff_ffff_f000n }],
      Array.from({ length: 9 }, () => r1),
    ];
    for (const regions of bad) expect(await t.send({ op: 'setMemTable', regions })).toEqual(EINVAL);
  });

  it('refuses IOTLB updates that are empty, overflow 64 bits or carry a bad permission', async () => {
    const t = createSimulatedTarget({ deviceType: 'blk' });
    expect(await t.send({ op: 'iotlbUpdate', iova: 0n, size: 0n, uaddr: 0n, perm: VHOST_ACCESS_RW })).toEqual(EINVAL);
    expect(await t.send({ op: 'iotlbUpdate', iova: 0xffff_ffff_ffff_f001n, size: 0x1000n, uaddr: 0n, perm: VHOST_ACCESS_RW })).toEqual(EINVAL);
    expect(await t.send({ op: 'iotlbUpdate', iova: 0xffff_ffff_ffff_f000n, size: 0x1000n, uaddr: 0n, perm: VHOST_ACCESS_RW })).toEqual({ ok: true });
    for (const perm of [0, 4]) expect(await t.send({ op: 'iotlbUpdate', iova: 0n, size: 1n, uaddr: 0n, perm })).toEqual(EINVAL);
    // The user range must not wrap either (Linux umem_access_ok).
    expect(await t.send({ op: 'iotlbUpdate', iova: 0n, size: 0x1000n, uaddr: 0xffff_ffff_ffff_f001n, perm: VHOST_ACCESS_RW })).toEqual(EINVAL);
    expect(await t.send({ op: 'iotlbInvalidate', iova: 0n, size: 0n })).toEqual({ ok: true });
  });

  it('stores the status and never refuses FEATURES_OK for an offered subset', async () => {
    const t = createSimulatedTarget({ deviceType: 'blk' });
    await ok(t, { op: 'setFeatures', features: bit(VIRTIO_F_VERSION_1) });
    for (const s of STATUS_INIT_SEQUENCE) {
      await ok(t, { op: 'setStatus', status: s });
      expect(await status(t)).toBe(s);
    }
    expect(await t.send({ op: 'setStatus', status: 0x100 })).toEqual(EINVAL);
  });

  it('reset returns vrings, status and IOTLB to their initial state and keeps the memory table', async () => {
    const { t, g, q } = await blk();
    q.add(readReq(g, 0n, 512));
    await q.kick();
    expect(q.takeUsed()).toHaveLength(1);
    await ok(t, { op: 'setStatus', status: 0x0f });
    await ok(t, { op: 'resetDevice' });
    expect(await status(t)).toBe(0);
    expect(value(await t.send({ op: 'getVringBase', index: 0 }))).toBe(0);
    // Rings are back to stopped, disabled and unconfigured: a kick does nothing.
    q.add(readReq(g, 0n, 512));
    await q.kick();
    expect(q.takeUsed()).toEqual([]);
    // The memory table survived: the ring can be set up again without SET_MEM_TABLE.
    await ok(t, { op: 'setFeatures', features: bit(VIRTIO_F_VERSION_1) });
    const q2 = await SplitQueue.create(t, g, 0, 8);
    const req = readReq(g, 0n, 512);
    q2.add(req);
    await q2.kick();
    expect(q2.takeUsed()).toEqual([{ id: 0, len: 513 }]);
  });
});

describe('blk on a split ring', () => {
  it('returns written data on read, with status OK and used len = bytes written', async () => {
    const { t, g, q } = await blk();
    const data = Buffer.from(Array.from({ length: 1024 }, (_, i) => (i * 7 + 3) & 0xff));
    const w = writeReq(g, 5n, data);
    const wHead = q.add(w);
    await q.kick();
    expect(q.takeUsed()).toEqual([{ id: wHead, len: 1 }]);
    expect(statusOf(g, w)).toBe(VIRTIO_BLK_S_OK);
    const r = readReq(g, 5n, 1024);
    const rHead = q.add(r);
    await q.kick();
    expect(q.takeUsed()).toEqual([{ id: rHead, len: 1025 }]);
    expect(statusOf(g, r)).toBe(VIRTIO_BLK_S_OK);
    expect(g.bytes(r[1]).equals(data)).toBe(true);
    expect(await q.called()).toBe(true);
    expect(damagedGuardOffset(t.memory)).toBe(-1);
  });

  it('reads back whatever sequence of writes left on the disk (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ sector: fc.nat({ max: 2047 }), sectors: fc.integer({ min: 1, max: 3 }), seed: fc.nat({ max: 255 }) }), { minLength: 1, maxLength: 12 }),
        async (writes) => {
          const { g, q } = await blk({ num: 4 });
          const disk = Buffer.alloc(2048 * 512);
          for (const w of writes) {
            const data = Buffer.alloc(w.sectors * 512, w.seed);
            const req = writeReq(g, BigInt(w.sector), data);
            q.add(req);
            await q.kick();
            const fits = (w.sector + w.sectors) * 512 <= disk.length;
            expect(statusOf(g, req)).toBe(fits ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR);
            if (fits) data.copy(disk, w.sector * 512);
          }
          for (const w of writes) {
            const len = Math.min(w.sectors, 2048 - w.sector) * 512;
            const req = readReq(g, BigInt(w.sector), len);
            q.add(req);
            await q.kick();
            expect(q.takeUsed().at(-1)?.len).toBe(len + 1);
            expect(g.bytes(req[1]).equals(disk.subarray(w.sector * 512, w.sector * 512 + len))).toBe(true);
          }
        },
      ),
      { seed: 42, numRuns: 30 },
    );
  });

  it('gathers a header spread over descriptors and a buffer crossing the region boundary', async () => {
    const { t, g, q } = await blk();
    const hdr = blkHeader(VIRTIO_BLK_T_OUT, 2n);
    const across = BigInt(REGION_BYTES) - 100n;
    g.view(across, 100).fill(0x11);
    g.view(BigInt(REGION_BYTES), 412).fill(0x22);
    const w = [g.out(hdr.subarray(0, 5)), g.out(hdr.subarray(5)), { addr: across, len: 512, write: false }, g.in(1)];
    q.add(w);
    await q.kick();
    expect(statusOf(g, w)).toBe(VIRTIO_BLK_S_OK);
    const r = [g.out(blkHeader(VIRTIO_BLK_T_IN, 2n)), { addr: across, len: 512, write: true }, g.in(1)];
    g.view(across, 100).fill(0);
    g.view(BigInt(REGION_BYTES), 412).fill(0);
    q.add(r);
    await q.kick();
    expect(statusOf(g, r)).toBe(VIRTIO_BLK_S_OK);
    expect(g.view(across, 100).every((b) => b === 0x11)).toBe(true);
    expect(g.view(BigInt(REGION_BYTES), 412).every((b) => b === 0x22)).toBe(true);
    expect(damagedGuardOffset(t.memory)).toBe(-1);
  });

  it('answers GET_ID, FLUSH, out-of-range and unsupported requests', async () => {
    const { g, q } = await blk({ num: 16 });
    const id = [g.out(blkHeader(VIRTIO_BLK_T_GET_ID, 0n)), g.in(20), g.in(1)];
    const flush = [g.out(blkHeader(VIRTIO_BLK_T_FLUSH, 0n)), g.in(1)];
    const far = readReq(g, 2047n, 1024);
    const odd = [g.out(blkHeader(99, 0n)), g.in(1)];
    const heads = [q.add(id), q.add(flush), q.add(far), q.add(odd)];
    await q.kick();
    expect(q.takeUsed()).toEqual([
      { id: heads[0], len: 21 },
      { id: heads[1], len: 1 },
      { id: heads[2], len: 1 },
      { id: heads[3], len: 1 },
    ]);
    expect(g.bytes(id[1]).toString('latin1')).toBe('vhostcheck-sim\0\0\0\0\0\0');
    expect([statusOf(g, id), statusOf(g, flush), statusOf(g, far), statusOf(g, odd)]).toEqual([VIRTIO_BLK_S_OK, VIRTIO_BLK_S_OK, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_UNSUPP]);
  });

  it('completes a chain that is no request (short header, no writable byte) with len 0', async () => {
    const { g, q } = await blk();
    const short = [g.out(new Uint8Array(8)), g.in(1)];
    const noStatus = [g.out(blkHeader(VIRTIO_BLK_T_FLUSH, 0n))];
    const heads = [q.add(short), q.add(noStatus)];
    await q.kick();
    expect(q.takeUsed()).toEqual(heads.map((id) => ({ id, len: 0 })));
    expect(g.bytes(short[1])[0]).toBe(0xee);
  });
});

describe('hostile split chains', () => {
  async function rejected(build: (g: Guest, q: SplitQueue) => number, features = bit(VIRTIO_RING_F_INDIRECT_DESC)) {
    const { t, g, q } = await blk({ num: 8, features });
    const head = build(g, q);
    await q.kick();
    expect(q.takeUsed()).toEqual([{ id: head, len: 0 }]);
    expect(damagedGuardOffset(t.memory)).toBe(-1);
    expect(await status(t)).toBe(0);
    // The queue goes on serving valid requests.
    const req = [g.out(blkHeader(VIRTIO_BLK_T_FLUSH, 0n)), g.in(1)];
    const next = q.add(req);
    await q.kick();
    expect(q.takeUsed()).toEqual([{ id: next, len: 1 }]);
  }

  const hdr = (g: Guest) => g.out(blkHeader(VIRTIO_BLK_T_IN, 0n));

  it('rejects a looping chain', () =>
    rejected((g, q) => {
      const h = hdr(g);
      const d = g.in(512);
      q.writeDesc(0, { addr: h.addr, len: 16, flags: VRING_DESC_F_NEXT, next: 1 });
      q.writeDesc(1, { addr: d.addr, len: 512, flags: VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, next: 0 });
      q.publish(0);
      return 0;
    }));

  it('rejects a next index beyond the ring', () =>
    rejected((g, q) => {
      const h = hdr(g);
      q.writeDesc(0, { addr: h.addr, len: 16, flags: VRING_DESC_F_NEXT, next: 8 });
      q.publish(0);
      return 0;
    }));

  it('rejects readable descriptors after writable ones, unmapped and overflowing buffers', async () => {
    await rejected((g, q) => q.add([hdr(g), g.in(1), g.out(new Uint8Array(4))]));
    await rejected((g, q) => q.add([hdr(g), { addr: 2n * BigInt(REGION_BYTES) - 8n, len: 16, write: true }, g.in(1)]));
    await rejected((g, q) => q.add([hdr(g), { addr: 0xffff_ffff_ffff_fff0n, len: 32, write: true }, g.in(1)]));
  });

  function indirect(g: Guest, q: SplitQueue, entries: { addr: bigint; len: number; flags: number; next: number }[], len?: number): number {
    const table = g.alloc(entries.length * 16);
    entries.forEach((e, i) => {
      const b = g.view(table + BigInt(i * 16), 16);
      b.writeBigUInt64LE(e.addr, 0);
      b.writeUInt32LE(e.len, 8);
      b.writeUInt16LE(e.flags, 12);
      b.writeUInt16LE(e.next, 14);
    });
    q.writeDesc(0, { addr: table, len: len ?? entries.length * 16, flags: VRING_DESC_F_INDIRECT | VRING_DESC_F_WRITE, next: 0 });
    q.publish(0);
    return 0;
  }

  it('serves an indirect chain, ignoring WRITE on the table descriptor', async () => {
    const { g, q } = await blk({ features: bit(VIRTIO_RING_F_INDIRECT_DESC) });
    const h = g.out(blkHeader(VIRTIO_BLK_T_GET_ID, 0n));
    const d = g.in(21);
    indirect(g, q, [
      { addr: h.addr, len: 16, flags: VRING_DESC_F_NEXT, next: 1 },
      { addr: d.addr, len: 21, flags: VRING_DESC_F_WRITE, next: 0 },
    ]);
    await q.kick();
    expect(q.takeUsed()).toEqual([{ id: 0, len: 21 }]);
    expect(g.bytes(d)[20]).toBe(VIRTIO_BLK_S_OK);
  });

  it('rejects nested indirect tables, bad table lengths and loops inside a table', async () => {
    await rejected((g, q) => {
      const inner = g.alloc(16);
      return indirect(g, q, [{ addr: inner, len: 16, flags: VRING_DESC_F_INDIRECT, next: 0 }]);
    });
    for (const len of [0, 24]) {
      await rejected((g, q) => {
        const h = hdr(g);
        return indirect(g, q, [{ addr: h.addr, len: 16, flags: 0, next: 0 }, { addr: h.addr, len: 16, flags: 0, next: 0 }], len);
      });
    }
    await rejected((g, q) => {
      const h = hdr(g);
      const d = g.in(8);
      return indirect(g, q, [
        { addr: h.addr, len: 16, flags: VRING_DESC_F_NEXT, next: 1 },
        { addr: d.addr, len: 8, flags: VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, next: 1 },
      ]);
    });
    await rejected((g, q) => {
      const h = hdr(g);
      return indirect(g, q, [{ addr: h.addr, len: 16, flags: 0, next: 0 }]);
    }, 0n);
  });

  it('skips zero-length descriptors', async () => {
    const { g, q } = await blk();
    const r = [g.out(blkHeader(VIRTIO_BLK_T_IN, 0n)), { addr: 0n, len: 0, write: true }, g.in(512), { addr: 0n, len: 0, write: true }, g.in(1)];
    const head = q.add(r);
    await q.kick();
    expect(q.takeUsed()).toEqual([{ id: head, len: 513 }]);
  });

  it('breaks the queue (NEEDS_RESET) on a head >= num or a runaway avail idx, and recovers after reset', async () => {
    for (const spoil of [(q: SplitQueue) => q.publish(8), (q: SplitQueue) => q.setAvailIdx(q.availIdx + 9)]) {
      const { t, g, q } = await blk({ num: 8 });
      spoil(q);
      await q.kick();
      expect(q.takeUsed()).toEqual([]);
      expect(await status(t) & VIRTIO_CONFIG_S_NEEDS_RESET).toBe(VIRTIO_CONFIG_S_NEEDS_RESET);
      q.add([g.out(blkHeader(VIRTIO_BLK_T_FLUSH, 0n)), g.in(1)]);
      await q.kick();
      expect(q.takeUsed()).toEqual([]);
      await ok(t, { op: 'resetDevice' });
      expect(await status(t)).toBe(0);
      expect(damagedGuardOffset(t.memory)).toBe(-1);
    }
  });

  it('breaks a split ring whose size is not a power of 2 when it starts', async () => {
    const { t, g, q } = await blk({ num: 6 });
    q.add([g.out(blkHeader(VIRTIO_BLK_T_FLUSH, 0n)), g.in(1)]);
    await q.kick();
    expect(q.takeUsed()).toEqual([]);
    expect(await status(t)).toBe(VIRTIO_CONFIG_S_NEEDS_RESET);
  });
});

describe('ring states (vhost-user.rst "Ring states")', () => {
  it('keeps rings disabled until SET_VRING_ENABLE when protocol features are negotiated', async () => {
    const t = createSimulatedTarget({ deviceType: 'blk' });
    const g = new Guest(t);
    await negotiate(t, g, bit(VHOST_USER_F_PROTOCOL_FEATURES));
    const q = await SplitQueue.create(t, g, 0, 8);
    const head = q.add([g.out(blkHeader(VIRTIO_BLK_T_FLUSH, 0n)), g.in(1)]);
    await q.kick();
    expect(q.takeUsed()).toEqual([]);
    expect(await q.called()).toBe(false);
    await ok(t, { op: 'setVringEnable', index: 0, enable: true });
    await q.kick();
    expect(q.takeUsed()).toEqual([{ id: head, len: 1 }]);
  });

  it('stops a ring on GET_VRING_BASE and restarts it on SET_VRING_KICK', async () => {
    const { t, g, q } = await blk();
    q.add([g.out(blkHeader(VIRTIO_BLK_T_FLUSH, 0n)), g.in(1)]);
    await q.kick();
    q.takeUsed();
    expect(value(await t.send({ op: 'getVringBase', index: 0 }))).toBe(1);
    const head = q.add([g.out(blkHeader(VIRTIO_BLK_T_FLUSH, 0n)), g.in(1)]);
    await q.kick();
    expect(q.takeUsed()).toEqual([]);
    await ok(t, { op: 'setVringKick', index: 0 });
    await q.kick();
    expect(q.takeUsed()).toEqual([{ id: head, len: 1 }]);
  });

  it('does not process a ring before it has a kick fd', async () => {
    const t = createSimulatedTarget({ deviceType: 'blk' });
    const g = new Guest(t);
    await negotiate(t, g);
    await ok(t, { op: 'setVringNum', index: 0, num: 8 });
    await ok(t, { op: 'setVringAddr', index: 0, flags: 0, desc: g.uaddr(0x10000n), avail: g.uaddr(0x11000n), used: g.uaddr(0x12000n), log: 0n });
    g.view(0x11000n, 6).set([0, 0, 1, 0, 0, 0]);
    await t.kick(0);
    expect(g.view(0x12002n, 2).readUInt16LE(0)).toBe(0);
  });
});

describe('notifications', () => {
  const flush = (g: Guest) => [g.out(blkHeader(VIRTIO_BLK_T_FLUSH, 0n)), g.in(1)];

  it('split without EVENT_IDX: notifies unless NO_INTERRUPT', async () => {
    const { g, q } = await blk();
    q.add(flush(g));
    await q.kick();
    expect(await q.called()).toBe(true);
    expect(await q.called()).toBe(false);
    q.setAvailFlags(VRING_AVAIL_F_NO_INTERRUPT);
    q.add(flush(g));
    await q.kick();
    expect(await q.called()).toBe(false);
  });

  it('split with EVENT_IDX: notifies when used idx passes used_event, once per batch, and publishes avail_event', async () => {
    const { g, q } = await blk({ features: bit(VIRTIO_RING_F_EVENT_IDX) });
    q.setAvailFlags(VRING_AVAIL_F_NO_INTERRUPT);
    q.setUsedEvent(0);
    q.add(flush(g));
    await q.kick();
    expect(await q.called()).toBe(true);
    expect(q.availEvent()).toBe(1);
    q.setUsedEvent(3);
    q.add(flush(g));
    q.add(flush(g));
    await q.kick();
    expect(await q.called()).toBe(false);
    q.add(flush(g));
    q.add(flush(g));
    await q.kick();
    expect(await q.called()).toBe(true);
    expect(q.availEvent()).toBe(5);
  });

  it('does not signal a call fd sent as invalid', async () => {
    const { t, g, q } = await blk();
    await ok(t, { op: 'setVringCall', index: 0, invalid: true });
    q.add(flush(g));
    await q.kick();
    expect(q.takeUsed()).toHaveLength(1);
    expect(await q.called()).toBe(false);
    expect(await t.health()).toEqual({ state: 'alive' });
  });

  it('packed: honours DISABLE and notifies for DESC exactly when the event slot is used', async () => {
    const t = createSimulatedTarget({ deviceType: 'blk' });
    const g = new Guest(t);
    await negotiate(t, g, bit(VIRTIO_F_RING_PACKED) | bit(VIRTIO_RING_F_EVENT_IDX));
    const q = await PackedQueue.create(t, g, 0, 4);
    q.setDriverEvent(VRING_PACKED_EVENT_FLAG_DISABLE);
    q.add(flush(g), 1);
    await q.kick();
    expect(await q.called()).toBe(false);
    // Used index is now at slot 2, lap 0. Ask for slot 1 of lap 1 (wrap counter 0).
    q.setDriverEvent(VRING_PACKED_EVENT_FLAG_DESC, 1);
    q.add(flush(g), 2);
    await q.kick();
    expect(await q.called()).toBe(false);
    expect(q.takeUsed().map((u) => u.id)).toEqual([1, 2]);
    q.add(flush(g), 3);
    await q.kick();
    expect(await q.called()).toBe(true);
    expect(q.takeUsed().map((u) => u.id)).toEqual([3]);
  });
});

describe('packed ring', () => {
  it('runs a ring of 3 (not a power of 2) over several laps with chains wrapping mid-chain', async () => {
    const t = createSimulatedTarget({ deviceType: 'blk' });
    const g = new Guest(t);
    await negotiate(t, g, bit(VIRTIO_F_RING_PACKED));
    const q = await PackedQueue.create(t, g, 0, 3);
    const seen: number[] = [];
    for (let i = 0; i < 9; i++) {
      const data = Buffer.alloc(512, i + 1);
      // Write: 3 descriptors (a whole lap); read: 2 descriptors, data and status in one buffer.
      q.add([g.out(blkHeader(VIRTIO_BLK_T_OUT, BigInt(i))), g.out(data), g.in(1)], 100 + i);
      await q.kick();
      const used = q.takeUsed();
      const r = g.in(513);
      q.add([g.out(blkHeader(VIRTIO_BLK_T_IN, BigInt(i))), r], 200 + i);
      await q.kick();
      used.push(...q.takeUsed());
      expect(used.map((u) => [u.id, u.len])).toEqual([[100 + i, 1], [200 + i, 513]]);
      for (const u of used) expect(u.flags & VRING_DESC_F_WRITE).toBe(VRING_DESC_F_WRITE);
      expect(g.bytes(r).subarray(0, 512).equals(data)).toBe(true);
      expect(g.bytes(r)[512]).toBe(VIRTIO_BLK_S_OK);
      seen.push(used.length);
    }
    expect(seen).toEqual(Array(9).fill(2));
    // 45 slots used: index 45 % 3, wrap counters toggled 15 times from 1.
    const half = (45 % 3) | (Math.floor(45 / 3) % 2 === 0 ? 0x8000 : 0);
    expect(value(await t.send({ op: 'getVringBase', index: 0 }))).toBe(((half << 16) | half) >>> 0);
  });

  it('completes every request for any ring size and chain mix (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 9 }), fc.array(fc.integer({ min: 2, max: 4 }), { minLength: 1, maxLength: 30 }), async (num, lengths) => {
        const t = createSimulatedTarget({ deviceType: 'blk' });
        const g = new Guest(t);
        await negotiate(t, g, bit(VIRTIO_F_RING_PACKED));
        const q = await PackedQueue.create(t, g, 0, num);
        for (const [i, n] of lengths.entries()) {
          if (n > num) continue;
          // GET_ID over n descriptors: header, n-2 zero-length readable, then the id+status buffer.
          const bufs = [g.out(blkHeader(VIRTIO_BLK_T_GET_ID, 0n)), ...Array.from({ length: n - 2 }, () => ({ addr: 0n, len: 0, write: false })), g.in(21)];
          q.add(bufs, i);
          await q.kick();
          expect(q.takeUsed().map((u) => [u.id, u.len])).toEqual([[i, 21]]);
        }
        expect(damagedGuardOffset(t.memory)).toBe(-1);
      }),
      { seed: 42, numRuns: 40 },
    );
  });

  it('takes the Buffer ID from the last descriptor and rejects a chain longer than the ring', async () => {
    const t = createSimulatedTarget({ deviceType: 'blk' });
    const g = new Guest(t);
    await negotiate(t, g, bit(VIRTIO_F_RING_PACKED));
    const q = await PackedQueue.create(t, g, 0, 4);
    q.add([g.out(blkHeader(VIRTIO_BLK_T_FLUSH, 0n)), g.in(1)], 9, [7, 9]);
    await q.kick();
    expect(q.takeUsed().map((u) => [u.id, u.len])).toEqual([[9, 1]]);
  });
});

describe('net loopback', () => {
  async function net(features = 0n) {
    const t = createSimulatedTarget({ deviceType: 'net' });
    const g = new Guest(t);
    await negotiate(t, g, features);
    return { t, g, rx: await SplitQueue.create(t, g, NET_RX_QUEUE, 8), tx: await SplitQueue.create(t, g, NET_TX_QUEUE, 8) };
  }

  const frame = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i + seed) & 0xff));
  const txBuf = (g: Guest, f: Buffer) => g.out(Buffer.concat([Buffer.alloc(virtio_net_hdr_v1.size), f]));

  it('delivers a transmitted frame on the receive queue with a 12-byte header, num_buffers 1', async () => {
    const { t, g, rx, tx } = await net();
    const r = g.in(12 + 64);
    const rxHead = rx.add([r]);
    await rx.kick();
    expect(rx.takeUsed()).toEqual([]);
    const f = frame(60, 1);
    const txHead = tx.add([txBuf(g, f)]);
    await tx.kick();
    expect(tx.takeUsed()).toEqual([{ id: txHead, len: 0 }]);
    expect(rx.takeUsed()).toEqual([{ id: rxHead, len: 72 }]);
    const got = g.bytes(r);
    expect(decode(virtio_net_hdr_v1, got)).toEqual({ flags: 0, gso_type: 0, hdr_len: 0, gso_size: 0, csum_start: 0, csum_offset: 0, num_buffers: 1 });
    expect(got.subarray(12, 72).equals(f)).toBe(true);
    expect(got[72]).toBe(0xee);
    expect([await tx.called(), await rx.called()]).toEqual([true, true]);
    expect(damagedGuardOffset(t.memory)).toBe(-1);
  });

  it('holds frames until receive buffers arrive, and drops a frame that does not fit without using the buffer', async () => {
    const { g, rx, tx } = await net();
    tx.add([txBuf(g, frame(100, 2))]);
    tx.add([txBuf(g, frame(20, 3))]);
    await tx.kick();
    const small = g.in(12 + 50);
    const head = rx.add([small]);
    await rx.kick();
    // The 100-byte frame did not fit and was dropped; the 20-byte one went into the same buffer.
    expect(rx.takeUsed()).toEqual([{ id: head, len: 32 }]);
    expect(g.bytes(small).subarray(12, 32).equals(frame(20, 3))).toBe(true);
  });

  it('uses the legacy 10-byte header without VERSION_1', async () => {
    const t = createSimulatedTarget({ deviceType: 'net' });
    const g = new Guest(t);
    await ok(t, { op: 'setFeatures', features: 0n });
    await ok(t, { op: 'setMemTable', regions: g.memTable() });
    const rx = await SplitQueue.create(t, g, NET_RX_QUEUE, 8);
    const tx = await SplitQueue.create(t, g, NET_TX_QUEUE, 8);
    const r = g.in(40);
    rx.add([r]);
    tx.add([g.out(Buffer.concat([Buffer.alloc(10), frame(16, 4)]))]);
    await tx.kick();
    expect(rx.takeUsed()[0].len).toBe(26);
    expect(g.bytes(r).subarray(10, 26).equals(frame(16, 4))).toBe(true);
  });

  it('discards TX and fills no RX buffers on disabled rings (vhost-user.rst "Ring states")', async () => {
    const { t, g, rx, tx } = await net(bit(VHOST_USER_F_PROTOCOL_FEATURES));
    await ok(t, { op: 'setVringEnable', index: NET_RX_QUEUE, enable: true });
    rx.add([g.in(100)]);
    tx.add([txBuf(g, frame(30, 5))]);
    await tx.kick();
    expect(tx.takeUsed()).toEqual([{ id: 0, len: 0 }]);
    expect(rx.takeUsed()).toEqual([]);
    await ok(t, { op: 'setVringEnable', index: NET_RX_QUEUE, enable: false });
    await ok(t, { op: 'setVringEnable', index: NET_TX_QUEUE, enable: true });
    tx.add([txBuf(g, frame(30, 6))]);
    await tx.kick();
    expect(rx.takeUsed()).toEqual([]);
    await ok(t, { op: 'setVringEnable', index: NET_RX_QUEUE, enable: true });
    await rx.kick();
    expect(rx.takeUsed()).toEqual([{ id: 0, len: 42 }]);
  });
});

describe('ACCESS_PLATFORM (IOTLB)', () => {
  async function iommu() {
    const t = createSimulatedTarget({ deviceType: 'blk' });
    const g = new Guest(t);
    await negotiate(t, g, bit(VIRTIO_F_ACCESS_PLATFORM));
    // IOVA = GPA for all of guest memory.
    for (const r of g.memTable()) await ok(t, { op: 'iotlbUpdate', iova: r.gpa, size: r.size, uaddr: r.uaddr, perm: VHOST_ACCESS_RW });
    return { t, g, q: await SplitQueue.create(t, g, 0, 8, (gpa) => gpa) };
  }

  it('translates rings and buffers through the IOTLB and enforces permissions', async () => {
    const { t, g, q } = await iommu();
    const win = 0x7_0000_0000n;
    const buf = g.alloc(0x1000, 0x1000);
    await ok(t, { op: 'iotlbUpdate', iova: win, size: 0x1000n, uaddr: g.uaddr(buf), perm: VHOST_ACCESS_RO });
    const good = [g.out(blkHeader(VIRTIO_BLK_T_OUT, 0n)), { addr: win, len: 512, write: false }, g.in(1)];
    const bad = [g.out(blkHeader(VIRTIO_BLK_T_IN, 0n)), { addr: win, len: 512, write: true }, g.in(1)];
    const heads = [q.add(good), q.add(bad)];
    await q.kick();
    expect(q.takeUsed()).toEqual([{ id: heads[0], len: 1 }, { id: heads[1], len: 0 }]);
  });

  it('stops using a range once invalidated', async () => {
    const { t, g, q } = await iommu();
    await ok(t, { op: 'iotlbInvalidate', iova: 0n, size: BigInt(REGION_BYTES) });
    q.add([g.out(blkHeader(VIRTIO_BLK_T_FLUSH, 0n)), g.in(1)]);
    await q.kick();
    expect(q.usedIdx()).toBe(0);
    expect(await t.health()).toEqual({ state: 'alive' });
  });
});

describe('target lifecycle', () => {
  it('rejects unknown mutants and bad options with a clear error', () => {
    expect(() => createSimulatedTarget({ deviceType: 'blk', mutant: 'no-such' })).toThrow(/unknown mutant 'no-such'/);
    expect(() => createSimulatedTarget({ deviceType: 'blk', mutant: 'rx-len-unclamped' })).toThrow(/device=net/);
    expect(() => createSimulatedTarget({ deviceType: 'net', queues: 3 })).toThrow(/2 queues/);
  });

  it('names itself and closes idempotently', async () => {
    const t = createSimulatedTarget({ deviceType: 'net', mutant: 'net-hdr-size-legacy' });
    expect(t.info).toMatchObject({ name: 'simulated:mutant=net-hdr-size-legacy', kind: 'simulated', deviceType: 'net', queues: 2, maxQueueSize: 1024 });
    await t.close();
    await t.close();
    expect(await t.send({ op: 'getFeatures' })).toEqual({ closed: true });
    expect(await t.health()).toEqual({ state: 'exited', code: 0, signal: null });
  });

  it('reports FEATURES_OK as stored', async () => {
    const t = createSimulatedTarget({ deviceType: 'blk' });
    await ok(t, { op: 'setFeatures', features: bit(VIRTIO_F_VERSION_1) });
    await ok(t, { op: 'setStatus', status: VIRTIO_CONFIG_S_FEATURES_OK });
    expect(await status(t)).toBe(VIRTIO_CONFIG_S_FEATURES_OK);
  });
});

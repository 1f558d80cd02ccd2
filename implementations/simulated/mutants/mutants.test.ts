import { describe, expect, it } from 'vitest';
import { requirementById } from '../../../spec/requirements/index.ts';
import { VHOST_ACCESS_RO, VHOST_ACCESS_RW, VHOST_F_LOG_ALL } from '../../../spec/vhost/types.ts';
import { VHOST_USER_F_PROTOCOL_FEATURES } from '../../../spec/vhostUser/protocolFeatures.ts';
import { VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT } from '../../../spec/virtio/blk.ts';
import { bit, VIRTIO_F_ACCESS_PLATFORM, VIRTIO_F_RING_PACKED, VIRTIO_F_VERSION_1, VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC } from '../../../spec/virtio/features.ts';
import { NET_RX_QUEUE, NET_TX_QUEUE } from '../../../spec/virtio/net.ts';
import { VRING_AVAIL_F_NO_INTERRUPT, VRING_DESC_F_INDIRECT, VRING_DESC_F_NEXT, VRING_DESC_F_WRITE, VRING_PACKED_EVENT_FLAG_DESC } from '../../../spec/virtio/ring.ts';
import { VIRTIO_CONFIG_S_FEATURES_OK } from '../../../spec/virtio/status.ts';
import { damagedGuardOffset, REGION_BYTES } from '../../guestMemory.ts';
import type { Target } from '../../target.ts';
import type { Reply } from '../../../spec/requests.ts';
import { blkHeader, type Buf, Guest, negotiate, ok, PackedQueue, SplitQueue, value } from '../driver.fixture.ts';
import { createSimulatedTarget } from '../index.ts';
import { MISTAKE_CLASSES, MUTANTS, type MutantName } from './index.ts';

describe('mutant catalogue', () => {
  it('has unique names, a catalogue row, and known requirement ids for every mutant', () => {
    expect(new Set(MUTANTS.map((m) => m.name)).size).toBe(MUTANTS.length);
    expect(MUTANTS.length).toBeGreaterThanOrEqual(24);
    for (const m of MUTANTS) {
      expect(m.name).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
      expect(m.catalogueRow).toMatch(/^[LDQ]\d+$/);
      expect(m.requirementIds.length).toBeGreaterThan(0);
      for (const id of m.requirementIds) expect(requirementById(id), `${m.name}: ${id}`).toBeDefined();
      expect(m.description.length).toBeGreaterThan(20);
    }
  });

  it('covers every class of mistake of the bug catalogue', () => {
    const used = new Set(MUTANTS.map((m) => m.mistakeClass));
    expect([...Object.keys(MISTAKE_CLASSES)].filter((c) => !used.has(c as keyof typeof MISTAKE_CLASSES))).toEqual([]);
  });
});

// --- scenarios: one per mutant, run against the clean device and the mutant ----------

const flush = (g: Guest): Buf[] => [g.out(blkHeader(VIRTIO_BLK_T_FLUSH, 0n)), g.in(1)];
const readReq = (g: Guest, sector: bigint, data: Buf): Buf[] => [g.out(blkHeader(VIRTIO_BLK_T_IN, sector)), data, g.in(1)];

async function blkSplit(t: Target, opts: { num?: number; features?: bigint } = {}) {
  const g = new Guest(t);
  await negotiate(t, g, opts.features ?? 0n);
  return { g, q: await SplitQueue.create(t, g, 0, opts.num ?? 8) };
}

async function blkPacked(t: Target, num: number, features = 0n) {
  const g = new Guest(t);
  await negotiate(t, g, bit(VIRTIO_F_RING_PACKED) | features);
  return { g, q: await PackedQueue.create(t, g, 0, num) };
}

/** A blk device whose ring and buffers are reached through an identity IOTLB (IOVA = GPA). */
async function blkIommu(t: Target) {
  const g = new Guest(t);
  await negotiate(t, g, bit(VIRTIO_F_ACCESS_PLATFORM));
  for (const r of g.memTable()) await ok(t, { op: 'iotlbUpdate', iova: r.gpa, size: r.size, uaddr: r.uaddr, perm: VHOST_ACCESS_RW });
  return { g, q: await SplitQueue.create(t, g, 0, 8, (gpa) => gpa) };
}

async function net(t: Target) {
  const g = new Guest(t);
  await negotiate(t, g);
  return { g, rx: await SplitQueue.create(t, g, NET_RX_QUEUE, 8), tx: await SplitQueue.create(t, g, NET_TX_QUEUE, 8) };
}

/** Whether each page of [gpa, gpa+len) is marked in the target's dirty log. */
function loggedPages(t: Target, gpa: bigint, len: number): boolean[] {
  const log = t.dirtyLog?.();
  if (!log) throw new Error('no dirty log');
  const out: boolean[] = [];
  for (let p = gpa / 0x1000n; p <= (gpa + BigInt(len) - 1n) / 0x1000n; p++) out.push((log[Number(p / 8n)] & (1 << Number(p % 8n))) !== 0);
  return out;
}

const frame = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 3 + 1) & 0xff));

/** What the suite could see after a step: ring output, status, liveness, guard bytes. */
async function seen(t: Target, q: SplitQueue | PackedQueue) {
  return { used: q.takeUsed(), status: await t.send({ op: 'getStatus' }), health: await t.health(), guard: damagedGuardOffset(t.memory) >= 0 };
}

function table(g: Guest, entries: { addr: bigint; len: number; flags: number; next: number }[]): bigint {
  const at = g.alloc(entries.length * 16);
  entries.forEach((e, i) => {
    const b = g.view(at + BigInt(i * 16), 16);
    b.writeBigUInt64LE(e.addr, 0);
    b.writeUInt32LE(e.len, 8);
    b.writeUInt16LE(e.flags, 12);
    b.writeUInt16LE(e.next, 14);
  });
  return at;
}

interface Scenario {
  readonly deviceType?: 'blk' | 'net';
  run(t: Target): Promise<unknown>;
}

const SCENARIOS: Record<MutantName, Scenario> = {
  'split-no-head-bound': {
    async run(t) {
      const { q } = await blkSplit(t, { num: 4 });
      q.publish(5);
      await q.kick();
      return seen(t, q);
    },
  },
  'chain-no-loop-bound': {
    async run(t) {
      const { g, q } = await blkSplit(t, { num: 4 });
      const h = g.out(blkHeader(VIRTIO_BLK_T_IN, 0n));
      const d = g.in(512);
      q.writeDesc(0, { addr: h.addr, len: 16, flags: VRING_DESC_F_NEXT, next: 1 });
      q.writeDesc(1, { addr: d.addr, len: 512, flags: VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, next: 1 });
      q.publish(0);
      await q.kick();
      return seen(t, q);
    },
  },
  'indirect-loop-bound-by-ring': {
    async run(t) {
      const { g, q } = await blkSplit(t, { features: bit(VIRTIO_RING_F_INDIRECT_DESC) });
      const h = g.out(blkHeader(VIRTIO_BLK_T_IN, 0n));
      const d = g.in(8);
      const tab = table(g, [
        { addr: h.addr, len: 16, flags: VRING_DESC_F_NEXT, next: 1 },
        { addr: d.addr, len: 8, flags: VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, next: 1 },
      ]);
      q.writeDesc(0, { addr: tab, len: 32, flags: VRING_DESC_F_INDIRECT, next: 0 });
      q.publish(0);
      await q.kick();
      return seen(t, q);
    },
  },
  'nested-indirect-followed': {
    async run(t) {
      const { g, q } = await blkSplit(t, { features: bit(VIRTIO_RING_F_INDIRECT_DESC) });
      const [h, s] = flush(g);
      const inner = table(g, [
        { addr: h.addr, len: 16, flags: VRING_DESC_F_NEXT, next: 1 },
        { addr: s.addr, len: 1, flags: VRING_DESC_F_WRITE, next: 0 },
      ]);
      const outer = table(g, [{ addr: inner, len: 32, flags: VRING_DESC_F_INDIRECT, next: 0 }]);
      q.writeDesc(0, { addr: outer, len: 16, flags: VRING_DESC_F_INDIRECT, next: 0 });
      q.publish(0);
      await q.kick();
      return seen(t, q);
    },
  },
  'indirect-len-unchecked': {
    async run(t) {
      const { g, q } = await blkSplit(t, { features: bit(VIRTIO_RING_F_INDIRECT_DESC) });
      const [h, s] = flush(g);
      const tab = table(g, [
        { addr: h.addr, len: 16, flags: VRING_DESC_F_NEXT, next: 1 },
        { addr: s.addr, len: 1, flags: VRING_DESC_F_WRITE, next: 0 },
      ]);
      q.writeDesc(0, { addr: tab, len: 24, flags: VRING_DESC_F_INDIRECT, next: 0 });
      q.publish(0);
      await q.kick();
      return seen(t, q);
    },
  },
  'out-after-in-status': {
    deviceType: 'blk',
    async run(t) {
      const { g, q } = await blkSplit(t);
      const extra = g.out(Uint8Array.of(1, 2, 3, 4));
      q.add([...flush(g), extra]);
      await q.kick();
      return { ...(await seen(t, q)), readable: [...g.bytes(extra)] };
    },
  },
  'zero-len-hang': {
    async run(t) {
      const { g, q } = await blkSplit(t);
      q.add([g.out(blkHeader(VIRTIO_BLK_T_IN, 0n)), { addr: 0n, len: 0, write: true }, g.in(512), g.in(1)]);
      await q.kick();
      return { health: await t.health(), reply: await t.send({ op: 'getFeatures' }) };
    },
  },
  'avail-idx-runaway': {
    async run(t) {
      const { g, q } = await blkSplit(t, { num: 4 });
      q.add(flush(g));
      q.setAvailIdx(q.availIdx + 8);
      await q.kick();
      return seen(t, q);
    },
  },
  'avail-idx-torn-read': {
    async run(t) {
      const { g, q } = await blkSplit(t, { num: 4 });
      await ok(t, { op: 'setVringBase', index: 0, base: 0xff });
      q.setAvailIdx(0xff);
      q.add(flush(g));
      await q.kick();
      return { usedIdx: q.usedIdx(), status: await t.send({ op: 'getStatus' }) };
    },
  },
  'rejected-head-dropped': {
    async run(t) {
      const { g, q } = await blkSplit(t);
      q.add([g.out(blkHeader(VIRTIO_BLK_T_IN, 0n)), { addr: 3n * BigInt(REGION_BYTES), len: 512, write: true }, g.in(1)]);
      await q.kick();
      return seen(t, q);
    },
  },
  'translate-start-only': {
    async run(t) {
      const { g, q } = await blkSplit(t);
      q.add(readReq(g, 0n, { addr: 2n * BigInt(REGION_BYTES) - 256n, len: 512, write: true }));
      await q.kick();
      return seen(t, q);
    },
  },
  'cross-region-contiguous': {
    async run(t) {
      const { g, q } = await blkSplit(t);
      q.add(readReq(g, 0n, { addr: BigInt(REGION_BYTES) - 256n, len: 512, write: true }));
      await q.kick();
      return seen(t, q);
    },
  },
  'translate-off-by-one-end': {
    async run(t) {
      const { g, q } = await blkSplit(t);
      q.add([g.out(blkHeader(VIRTIO_BLK_T_OUT, 0n)), { addr: 2n * BigInt(REGION_BYTES) - 512n, len: 512, write: false }, g.in(1)]);
      await q.kick();
      return seen(t, q);
    },
  },
  'addr-len-overflow-unchecked': {
    async run(t) {
      const { g, q } = await blkSplit(t);
      q.add(readReq(g, 0n, { addr: 0xffff_ffff_ffff_fff0n, len: 32, write: true }));
      await q.kick();
      return seen(t, q);
    },
  },
  'iotlb-translate-start-only': {
    async run(t) {
      const { g, q } = await blkIommu(t);
      const win = 0x7_0000_0000n;
      await ok(t, { op: 'iotlbUpdate', iova: win, size: 0x1000n, uaddr: g.uaddr(g.alloc(0x2000, 0x1000)), perm: VHOST_ACCESS_RW });
      q.add(readReq(g, 0n, { addr: win + 0xf00n, len: 512, write: true }));
      await q.kick();
      return seen(t, q);
    },
  },
  'iotlb-perm-ignored': {
    async run(t) {
      const { g, q } = await blkIommu(t);
      const win = 0x7_0000_0000n;
      await ok(t, { op: 'iotlbUpdate', iova: win, size: 0x1000n, uaddr: g.uaddr(g.alloc(0x1000, 0x1000)), perm: VHOST_ACCESS_RO });
      q.add(readReq(g, 0n, { addr: win, len: 512, write: true }));
      await q.kick();
      return seen(t, q);
    },
  },
  'iotlb-zero-size-accepted': {
    async run(t) {
      return t.send({ op: 'iotlbUpdate', iova: 0n, size: 0n, uaddr: 0n, perm: VHOST_ACCESS_RW });
    },
  },
  'iotlb-invalidate-start-only': {
    async run(t) {
      const { g, q } = await blkIommu(t);
      const win = 0x7_0000_0000n;
      const host = g.uaddr(g.alloc(0x2000, 0x1000));
      await ok(t, { op: 'iotlbUpdate', iova: win, size: 0x1000n, uaddr: host, perm: VHOST_ACCESS_RW });
      await ok(t, { op: 'iotlbUpdate', iova: win + 0x1000n, size: 0x1000n, uaddr: host + 0x1000n, perm: VHOST_ACCESS_RW });
      await ok(t, { op: 'iotlbInvalidate', iova: win, size: 0x2000n });
      q.add(readReq(g, 0n, { addr: win + 0x1000n, len: 512, write: true }));
      await q.kick();
      return seen(t, q);
    },
  },
  'packed-wrap-pow2-mask': {
    async run(t) {
      const { g, q } = await blkPacked(t, 3);
      const used = [];
      for (let i = 0; i < 4; i++) {
        q.add(flush(g), i);
        await q.kick();
        used.push(...q.takeUsed());
      }
      return used;
    },
  },
  'packed-size-pow2-required': {
    async run(t) {
      await negotiate(t, new Guest(t), bit(VIRTIO_F_RING_PACKED));
      return t.send({ op: 'setVringNum', index: 0, num: 3 });
    },
  },
  'packed-wrap-counter-stuck': {
    async run(t) {
      const { g, q } = await blkPacked(t, 2);
      const used = [];
      for (let i = 0; i < 3; i++) {
        q.add(flush(g), i);
        await q.kick();
        used.push(...q.takeUsed());
      }
      return used;
    },
  },
  'packed-used-id-from-first-desc': {
    async run(t) {
      const { g, q } = await blkPacked(t, 4);
      q.add(flush(g), 9, [7, 9]);
      await q.kick();
      return seen(t, q);
    },
  },
  'packed-event-wrap-ignored': {
    async run(t) {
      const { g, q } = await blkPacked(t, 4, bit(VIRTIO_RING_F_EVENT_IDX));
      q.add(flush(g), 1);
      await q.kick();
      q.takeUsed();
      await q.called();
      // Used index at slot 2 of lap 0; ask for slot 1 of lap 1, then use 4 slots in one batch.
      q.setDriverEvent(VRING_PACKED_EVENT_FLAG_DESC, 1);
      q.add(flush(g), 2);
      q.add(flush(g), 3);
      await q.kick();
      return q.called();
    },
  },
  'event-idx-off-by-one': {
    async run(t) {
      const { g, q } = await blkSplit(t, { features: bit(VIRTIO_RING_F_EVENT_IDX) });
      q.setUsedEvent(0);
      q.add(flush(g));
      await q.kick();
      return q.called();
    },
  },
  'no-interrupt-sticky': {
    async run(t) {
      const { g, q } = await blkSplit(t);
      q.setAvailFlags(VRING_AVAIL_F_NO_INTERRUPT);
      q.add(flush(g));
      await q.kick();
      q.takeUsed();
      await q.called();
      // The driver wants notifications again: flags 0 obliges the device to notify (§2.7.7.2).
      q.setAvailFlags(0);
      q.add(flush(g));
      await q.kick();
      return q.called();
    },
  },
  'never-notify-flags-zero': {
    async run(t) {
      const { g, q } = await blkSplit(t);
      q.add(flush(g));
      await q.kick();
      return q.called();
    },
  },
  'call-invalid-fd-notify': {
    async run(t) {
      const { g, q } = await blkSplit(t);
      await ok(t, { op: 'setVringCall', index: 0, invalid: true });
      q.add(flush(g));
      await q.kick();
      return { health: await t.health(), reply: await t.send({ op: 'getStatus' }) };
    },
  },
  'vring-index-u16-truncation': {
    async run(t) {
      return t.send({ op: 'setVringNum', index: 0x10000, num: 8 });
    },
  },
  'get-vring-base-no-stop': {
    async run(t) {
      const { g, q } = await blkSplit(t);
      await ok(t, { op: 'getVringBase', index: 0 });
      q.add(flush(g));
      await q.kick();
      return seen(t, q);
    },
  },
  'protocol-features-rings-enabled': {
    async run(t) {
      const { g, q } = await blkSplit(t, { features: bit(VHOST_USER_F_PROTOCOL_FEATURES) });
      q.add(flush(g));
      await q.kick();
      return seen(t, q);
    },
  },
  'reset-keeps-vring-base': {
    async run(t) {
      const { g, q } = await blkSplit(t);
      q.add(flush(g));
      await q.kick();
      await ok(t, { op: 'resetDevice' });
      return t.send({ op: 'getVringBase', index: 0 });
    },
  },
  'features-ok-accepts-unoffered': {
    async run(t) {
      const set = await t.send({ op: 'setFeatures', features: bit(VIRTIO_F_VERSION_1) | bit(0) });
      await ok(t, { op: 'setStatus', status: VIRTIO_CONFIG_S_FEATURES_OK });
      return { set, status: await t.send({ op: 'getStatus' }) };
    },
  },
  'set-config-writes-readonly': {
    async run(t) {
      // A blk capacity of 0xffff... sectors written with flags 0 (not a live-migration write).
      const set = await t.send({ op: 'setConfig', offset: 0, data: new Uint8Array(8).fill(0xff), flags: 0 });
      return [set, await t.send({ op: 'getConfig', offset: 0, size: 8 })];
    },
  },
  'config-uninit-leak': {
    async run(t) {
      return t.send({ op: 'getConfig', offset: 64, size: 16 });
    },
  },
  'vring-fd-leak': {
    async run(t) {
      for (let i = 0; i < 300; i++) await t.send({ op: 'setVringCall', index: 0 });
      return t.health();
    },
  },
  'inflight-num-queues-unchecked': {
    async run(t) {
      await ok(t, { op: 'setOwner' });
      await ok(t, { op: 'getInflightFd', numQueues: 1, queueSize: 8 });
      return { set: await t.send({ op: 'setInflightFd', numQueues: 0xffff, queueSize: 8, withFd: true }), health: await t.health() };
    },
  },
  'inflight-fd-leak': {
    async run(t) {
      await ok(t, { op: 'setOwner' });
      for (let i = 0; i < 300; i++) await t.send({ op: 'getInflightFd', numQueues: 1, queueSize: 8 });
      return t.health();
    },
  },
  'used-len-includes-readable': {
    async run(t) {
      const { g, q } = await blkSplit(t);
      q.add([g.out(blkHeader(VIRTIO_BLK_T_OUT, 0n)), g.out(new Uint8Array(512)), g.in(1)]);
      await q.kick();
      return seen(t, q);
    },
  },
  'blk-unsupp-ok': {
    deviceType: 'blk',
    async run(t) {
      const { g, q } = await blkSplit(t);
      const req = [g.out(blkHeader(99, 0n)), g.in(1)];
      q.add(req);
      await q.kick();
      return g.bytes(req[1])[0];
    },
  },
  'blk-sector-u32-wrap': {
    deviceType: 'blk',
    async run(t) {
      const { g, q } = await blkSplit(t);
      q.add([g.out(blkHeader(VIRTIO_BLK_T_OUT, 0n)), g.out(Buffer.alloc(512, 0x41)), g.in(1)]);
      q.add([g.out(blkHeader(VIRTIO_BLK_T_OUT, 0x80_0000n)), g.out(Buffer.alloc(512, 0x42)), g.in(1)]);
      const back = g.in(512);
      q.add(readReq(g, 0n, back));
      await q.kick();
      return { used: q.takeUsed(), first: g.bytes(back)[0] };
    },
  },
  'rx-len-unclamped': {
    deviceType: 'net',
    async run(t) {
      const { g, rx, tx } = await net(t);
      rx.add([g.in(12 + 20)]);
      const after = g.in(64, 0x5a);
      tx.add([g.out(Buffer.concat([Buffer.alloc(12), frame(100)]))]);
      await tx.kick();
      return { used: rx.takeUsed(), after: [...g.bytes(after)] };
    },
  },
  'dirty-log-last-page-missed': {
    async run(t) {
      const { g, q } = await blkSplit(t, { features: bit(VHOST_F_LOG_ALL) });
      await ok(t, { op: 'setLogBase', size: 0x1000n, offset: 0x1000n });
      // A 512-byte read buffer that starts 16 bytes before a page boundary: it dirties two pages.
      const at = g.alloc(0x2000, 0x1000) + 0x1000n - 16n;
      q.add([g.out(blkHeader(VIRTIO_BLK_T_IN, 0n)), { addr: at, len: 512, write: true }, g.in(1)]);
      await q.kick();
      return { used: q.takeUsed(), pages: loggedPages(t, at, 512) };
    },
  },
  'dirty-log-used-ring-skipped': {
    async run(t) {
      const { g, q } = await blkSplit(t, { features: bit(VHOST_F_LOG_ALL) });
      await ok(t, { op: 'setLogBase', size: 0x1000n, offset: 0n });
      // VHOST_VRING_F_LOG: the used ring is logged at log_guest_addr, its guest-physical address.
      await ok(t, { op: 'setVringAddr', index: 0, flags: 1, desc: g.uaddr(q.ring.desc), avail: g.uaddr(q.ring.avail), used: g.uaddr(q.ring.used), log: q.ring.used });
      // The request's own buffers on a page of their own, so only the used ring can mark the ring's page.
      const far = g.alloc(0x2000, 0x1000) + 0x1000n;
      g.view(far, 16).set(blkHeader(VIRTIO_BLK_T_FLUSH, 0n));
      q.add([{ addr: far, len: 16, write: false }, { addr: far + 16n, len: 1, write: true }]);
      await q.kick();
      return { used: q.takeUsed(), pages: loggedPages(t, q.ring.used, 8) };
    },
  },
  'log-base-overflow-unchecked': {
    async run(t) {
      await blkSplit(t, { features: bit(VHOST_F_LOG_ALL) });
      return t.send({ op: 'setLogBase', size: 0x2000n, offset: 0xffff_ffff_ffff_f000n });
    },
  },
  'rem-mem-reg-keeps-mapping': {
    async run(t) {
      const { g, q } = await blkSplit(t);
      const [, r1] = g.memTable();
      await ok(t, { op: 'remMemReg', region: r1 });
      // A read into the region the front-end took back: it must be refused, not served.
      q.add([g.out(blkHeader(VIRTIO_BLK_T_IN, 0n)), { addr: r1.gpa + 0x100n, len: 512, write: true }, g.in(1)]);
      await q.kick();
      return q.takeUsed();
    },
  },
  'net-hdr-size-legacy': {
    deviceType: 'net',
    async run(t) {
      const { g, rx, tx } = await net(t);
      const r = g.in(12 + 40);
      rx.add([r]);
      tx.add([g.out(Buffer.concat([Buffer.alloc(12), frame(40)]))]);
      await tx.kick();
      return { used: rx.takeUsed(), bytes: [...g.bytes(r)] };
    },
  },
  'net-num-buffers-unset': {
    deviceType: 'net',
    async run(t) {
      const { g, rx, tx } = await net(t);
      const r = g.in(12 + 40);
      rx.add([r]);
      tx.add([g.out(Buffer.concat([Buffer.alloc(12), frame(40)]))]);
      await tx.kick();
      return g.bytes(r).readUInt16LE(10);
    },
  },
};

describe('every mutant deviates observably from the clean device', () => {
  for (const m of MUTANTS) {
    it(`${m.name} (${m.catalogueRow})`, async () => {
      const scenario = SCENARIOS[m.name];
      const deviceType = m.deviceType ?? scenario.deviceType ?? 'blk';
      const clean = await scenario.run(createSimulatedTarget({ deviceType }));
      const mutant = await scenario.run(createSimulatedTarget({ deviceType, mutant: m.name }));
      expect(mutant).not.toEqual(clean);
    });
  }
});

describe('what the deviations look like', () => {
  const run = async (name: MutantName) => {
    const m = MUTANTS.find((x) => x.name === name);
    const deviceType = m?.deviceType ?? 'blk';
    return [await SCENARIOS[name].run(createSimulatedTarget({ deviceType })), await SCENARIOS[name].run(createSimulatedTarget({ deviceType, mutant: name }))] as const;
  };

  it('split-no-head-bound: completes a bogus head instead of setting NEEDS_RESET', async () => {
    const [clean, bad] = await run('split-no-head-bound');
    expect(clean).toMatchObject({ used: [], status: { ok: true, value: 0x40 } });
    expect(bad).toMatchObject({ used: [{ id: 5, len: 0 }], status: { ok: true, value: 0 } });
  });

  it('chain-no-loop-bound: used len beyond the writable bytes of the chain', async () => {
    const [clean, bad] = await run('chain-no-loop-bound');
    expect(clean).toMatchObject({ used: [{ id: 0, len: 0 }] });
    expect((bad as { used: { len: number }[] }).used[0].len).toBeGreaterThan(512);
  });

  it('translate-start-only and cross-region-contiguous: guard bytes overwritten', async () => {
    for (const name of ['translate-start-only', 'cross-region-contiguous'] as const) {
      const [clean, bad] = await run(name);
      expect(clean).toMatchObject({ guard: false });
      expect(bad).toMatchObject({ guard: true });
    }
  });

  it('zero-len-hang: the device hangs and later requests time out', async () => {
    const [clean, bad] = await run('zero-len-hang');
    expect(clean).toEqual({ health: { state: 'alive' }, reply: expect.objectContaining({ ok: true }) });
    expect(bad).toEqual({ health: { state: 'hung' }, reply: { timeout: true } });
  });

  it('call-invalid-fd-notify and vring-fd-leak: the back-end dies and the connection reads as closed', async () => {
    const [, call] = await run('call-invalid-fd-notify');
    expect(call).toEqual({ health: { state: 'exited', code: null, signal: 'SIGSEGV' }, reply: { closed: true } });
    const [clean, leak] = await run('vring-fd-leak');
    expect(clean).toEqual({ state: 'alive' });
    expect(leak).toEqual({ state: 'exited', code: null, signal: 'SIGABRT' });
  });

  it('config-uninit-leak: stale non-zero bytes past the config space instead of an error', async () => {
    const [clean, bad] = await run('config-uninit-leak');
    expect(clean).toEqual({ ok: false, errno: 'EINVAL' });
    const bytes = value(bad as never) as Uint8Array;
    expect(bytes).toHaveLength(16);
    expect([...bytes.subarray(8)].some((b) => b !== 0)).toBe(true);
  });

  it('set-config-writes-readonly: SET_CONFIG rewrites the blk capacity', async () => {
    const [clean, bad] = (await run('set-config-writes-readonly')) as [Reply[], Reply[]];
    expect(clean[0]).toEqual({ ok: false, errno: 'EINVAL' });
    expect([...(value(clean[1] as never) as Uint8Array)]).not.toEqual(Array(8).fill(0xff));
    expect(bad[0]).toEqual({ ok: true });
    expect([...(value(bad[1] as never) as Uint8Array)]).toEqual(Array(8).fill(0xff));
  });

  it('vring-index-u16-truncation: index 0x10000 acts on vring 0', async () => {
    expect(await run('vring-index-u16-truncation')).toEqual([{ ok: false, errno: 'EINVAL' }, { ok: true }]);
  });

  it('packed-wrap-pow2-mask: a ring of 3 stops completing buffers', async () => {
    const [clean, bad] = await run('packed-wrap-pow2-mask');
    expect((clean as unknown[]).length).toBe(4);
    expect((bad as unknown[]).length).toBeLessThan(4);
  });

  it('dirty-log mutants: the second page of a straddling buffer, or the used ring, is left clean', async () => {
    const [clean, bad] = await run('dirty-log-last-page-missed');
    expect(clean).toMatchObject({ used: [{ len: 513 }], pages: [true, true] });
    expect(bad).toMatchObject({ used: [{ len: 513 }], pages: [true, false] });
    const [cleanUsed, badUsed] = await run('dirty-log-used-ring-skipped');
    expect(cleanUsed).toMatchObject({ pages: [true] });
    expect(badUsed).toMatchObject({ pages: [false] });
  });

  it('log-base-overflow-unchecked and rem-mem-reg-keeps-mapping: accepted and served what must be refused', async () => {
    expect(await run('log-base-overflow-unchecked')).toEqual([{ ok: false, errno: 'EINVAL' }, { ok: true }]);
    const [clean, bad] = await run('rem-mem-reg-keeps-mapping');
    expect(clean).toEqual([{ id: 0, len: 0 }]);
    expect(bad).toEqual([{ id: 0, len: 513 }]);
  });

  it('inflight-num-queues-unchecked: num_queues 0xffff is refused by the clean device and kills the mutant', async () => {
    const [clean, bad] = await run('inflight-num-queues-unchecked');
    expect(clean).toEqual({ set: { ok: false, errno: 'EINVAL' }, health: { state: 'alive' } });
    expect(bad).toEqual({ set: { closed: true }, health: { state: 'exited', code: null, signal: 'SIGSEGV' } });
  });

  it('inflight-fd-leak: 300 GET_INFLIGHT_FD leave the clean device alive and make the mutant abort', async () => {
    const [clean, leak] = await run('inflight-fd-leak');
    expect(clean).toEqual({ state: 'alive' });
    expect(leak).toEqual({ state: 'exited', code: null, signal: 'SIGABRT' });
  });

  it('net-hdr-size-legacy: the 10-byte header leaves num_buffers to the bytes the TX header ended with', async () => {
    const [clean, bad] = await run('net-hdr-size-legacy');
    expect((clean as { bytes: number[] }).bytes.slice(10, 12)).toEqual([1, 0]);
    expect((bad as { bytes: number[] }).bytes.slice(10, 12)).toEqual([0, 0]);
  });
});

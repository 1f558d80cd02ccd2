// fast-check generators for steps: valid traffic in every layout the spec
// allows, and hostile input of every class in bug-catalog.md.
import fc from 'fast-check';
import { CHAIN_DEFECTS } from '../../model/chain.ts';
import type { Profile } from '../../model/profile.ts';
import type { VhostRequest } from '../../spec/requests.ts';
import { VIRTIO_BLK_SECTOR_SIZE, VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT } from '../../spec/virtio/blk.ts';
import { NET_RX_QUEUE, NET_TX_QUEUE } from '../../spec/virtio/net.ts';
import { READ_ONLY_CONFIG_FIELD } from '../../spec/virtio/configAccess.ts';
import { queueRegionSize } from '../../spec/vhostUser/inflight.ts';
import { VHOST_SET_CONFIG_TYPE_FRONTEND } from '../../spec/vhostUser/payloads.ts';
import { hasFeature, VIRTIO_RING_F_INDIRECT_DESC } from '../../spec/virtio/features.ts';
import type { HostileAddr, LayoutSpec, SetupStep, Step } from '../steps.ts';

export function setupArb(opts: { packed?: boolean; platform?: boolean; eventIdx?: boolean; memSlots?: boolean; log?: boolean }): fc.Arbitrary<SetupStep> {
  // Packed rings need not be a power of two (virtio 1.2 §2.8): include odd sizes so wrap arithmetic is exercised.
  const num = opts.packed ? fc.constantFrom(3, 4, 5, 8, 13, 16) : fc.constantFrom(4, 8, 16, 32);
  return fc.record({
    t: fc.constant('setup' as const),
    packed: fc.constant(opts.packed ?? false),
    eventIdx: opts.eventIdx === undefined ? fc.boolean() : fc.constant(opts.eventIdx),
    indirect: fc.boolean(),
    inOrder: fc.boolean(),
    platform: fc.constant(opts.platform ?? false),
    num,
    base: opts.packed ? fc.constant(0) : fc.constantFrom(0, 0, 250, 65530),
    enableRings: fc.oneof({ arbitrary: fc.constant(true), weight: 4 }, { arbitrary: fc.constant(false), weight: 1 }),
    ...(opts.memSlots !== undefined && { memSlots: fc.constant(opts.memSlots) }),
    ...(opts.log !== undefined && { log: fc.constant(opts.log) }),
  });
}

const layoutArb: fc.Arbitrary<LayoutSpec> = fc.record({
  cuts: fc.array(fc.integer({ min: 1, max: 600 }), { maxLength: 3 }),
  indirect: fc.boolean(),
  crossRegion: fc.boolean(),
  atRegionEnd: fc.boolean(),
});

/** Layouts for the dirty-log suite: half of them put a page boundary inside the buffers (bug-catalog L5/L6 "off-by-N"). */
const pageLayoutArb: fc.Arbitrary<LayoutSpec> = fc.record({
  cuts: fc.array(fc.integer({ min: 1, max: 600 }), { maxLength: 3 }),
  indirect: fc.boolean(),
  crossRegion: fc.constant(false),
  straddlePage: fc.boolean(),
});

/** Index of the last queue the profile drives (a profile always drives at least one). */
function lastQueue(p: Profile): number {
  return Math.max(0, p.queues - 1);
}

/**
 * Start sectors for a disk of `capacity` sectors: the first few, those around the end (IOERR expected
 * beyond it), and huge ones that catch byte offsets computed in 32 bits or wrapping 64 (bug-catalog D3
 * class). Never below 0: capacity 0 or 1 puts the "near the end" range at the start.
 */
export function sectorArb(capacity: bigint): fc.Arbitrary<bigint> {
  const nearEnd = capacity > 4n ? capacity - 4n : 0n;
  return fc.oneof(
    { arbitrary: fc.bigInt({ min: 0n, max: 8n }), weight: 6 },
    { arbitrary: fc.bigInt({ min: nearEnd, max: capacity + 2n }), weight: 3 },
    { arbitrary: fc.constantFrom(0x80_0000n, 0x80_0001n, 1n << 32n, 1n << 55n, (1n << 64n) - 1n), weight: 1 },
  );
}

function blkStep(p: Profile, layoutArb: fc.Arbitrary<LayoutSpec>): fc.Arbitrary<Step> {
  const queue = fc.integer({ min: 0, max: lastQueue(p) });
  const other = fc.record({ queue, layout: layoutArb, type: fc.constantFrom(VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID, 3, 0x77) }).map(
    (r): Step => ({ t: 'blk', queue: r.queue, type: r.type, sector: 0n, readLen: r.type === VIRTIO_BLK_T_GET_ID ? 20 : 0, layout: r.layout, data: new Uint8Array(0) }),
  );
  // Without a config the disk's end is unknown, so no read or write could be judged: a smaller profile.
  if (p.blkCapacitySectors === null) return other;
  const sector = sectorArb(p.blkCapacitySectors);
  const sectors = fc.integer({ min: 1, max: 4 });
  const write = fc.record({ queue, sector, layout: layoutArb, n: sectors, fill: fc.integer({ min: 1, max: 255 }), seed: fc.integer({ min: 0, max: 255 }) }).map(
    (r): Step => ({ t: 'blk', queue: r.queue, type: VIRTIO_BLK_T_OUT, sector: r.sector, readLen: 0, layout: r.layout, data: Uint8Array.from({ length: r.n * VIRTIO_BLK_SECTOR_SIZE }, (_, i) => (r.fill + i * r.seed) & 0xff) }),
  );
  const read = fc.record({ queue, sector, layout: layoutArb, n: sectors }).map(
    (r): Step => ({ t: 'blk', queue: r.queue, type: VIRTIO_BLK_T_IN, sector: r.sector, readLen: r.n * VIRTIO_BLK_SECTOR_SIZE, layout: r.layout, data: new Uint8Array(0) }),
  );
  return fc.oneof({ arbitrary: write, weight: 3 }, { arbitrary: read, weight: 3 }, { arbitrary: other, weight: 1 });
}

function netSteps(layoutArb: fc.Arbitrary<LayoutSpec>): fc.Arbitrary<Step> {
  const tx = fc.record({ layout: layoutArb, len: fc.integer({ min: 14, max: 1514 }), seed: fc.integer({ min: 0, max: 255 }) }).map(
    (r): Step => ({ t: 'netTx', layout: r.layout, frame: Uint8Array.from({ length: r.len }, (_, i) => (r.seed * 7 + i) & 0xff) }),
  );
  // Mostly RX buffers large enough for any frame (header + 1514); some too small for the frame that
  // comes, which a device must drop rather than write past the buffer (bug-catalog L3).
  const size = fc.oneof({ arbitrary: fc.integer({ min: 1526, max: 2048 }), weight: 5 }, { arbitrary: fc.integer({ min: 20, max: 1500 }), weight: 1 });
  const rx = fc.record({ layout: layoutArb, size }).map((r): Step => ({ t: 'netRx', size: r.size, layout: r.layout }));
  return fc.oneof({ arbitrary: rx, weight: 2 }, { arbitrary: tx, weight: 2 });
}

export function trafficArb(p: Profile, opts: { pageLayouts?: boolean } = {}): fc.Arbitrary<Step> {
  const layout = opts.pageLayouts ? pageLayoutArb : layoutArb;
  return p.deviceType === 'net' ? netSteps(layout) : blkStep(p, layout);
}

/** Guest memory region 1 taken back and given again (REM_MEM_REG / ADD_MEM_REG); region 0 holds the rings. */
export function memSlotArb(): fc.Arbitrary<Step> {
  return fc.boolean().map((add): Step => ({ t: 'memSlot', region: 1, add }));
}

/**
 * Inflight buffer exchanges (vhost-user.rst "Inflight I/O tracking"): a GET_INFLIGHT_FD followed by
 * the SET_INFLIGHT_FD a front-end sends after a reconnect, with the same description, or hostile
 * ones: num_queues 0 or far beyond the device's queues (bug-catalog D9), a queue size of 0 or beyond
 * any virtqueue, a SET without its fd (the fd count DPDK checks since D10), and a GET repeated until a
 * leaking back-end runs out (D7).
 * Sizes stay small enough that no buffer passes a few MiB (num_queues and queue_size are never both huge).
 */
/** Bytes of inflight buffer a valid exchange may ask for. */
const INFLIGHT_BUDGET = 4 << 20;

export function inflightArb(p: Profile): fc.Arbitrary<Step[]> {
  const control = (req: VhostRequest): Step => ({ t: 'control', req });
  // Valid sizes are those the device takes; queues × size stays within INFLIGHT_BUDGET (a 32768-entry queue is 1 MiB).
  const sizes = [...new Set([1, 8, 256, p.maxQueueSize])].filter((n) => n >= 1 && n <= p.maxQueueSize);
  const valid = fc.constantFrom(...(sizes.length > 0 ? sizes : [1])).chain((queueSize) =>
    fc.record({ numQueues: fc.integer({ min: 1, max: Math.max(1, Math.min(p.queues, Math.floor(INFLIGHT_BUDGET / queueRegionSize(queueSize, true)))) }), queueSize: fc.constant(queueSize) }),
  );
  const roundTrip = valid.map(({ numQueues, queueSize }) => [
    control({ op: 'getInflightFd', numQueues, queueSize }),
    control({ op: 'setInflightFd', numQueues, queueSize, withFd: true }),
  ]);
  const hostileGet = fc.constantFrom([0, 8], [1, 0], [p.queues + 1, 8], [0xffff, 1], [1, 0xffff]).map(([numQueues, queueSize]) => [control({ op: 'getInflightFd', numQueues, queueSize })]);
  const hostileSet = fc.record({ get: valid, set: fc.constantFrom({ numQueues: 0xffff, withFd: true }, { numQueues: 0, withFd: true }, { numQueues: 1, withFd: false }) }).map(({ get, set }) => [
    control({ op: 'getInflightFd', ...get }),
    control({ op: 'setInflightFd', queueSize: get.queueSize, ...set }),
  ]);
  const repeat = repeatGetInflightArb(300).map((s) => [s]);
  return fc.oneof({ arbitrary: roundTrip, weight: 3 }, { arbitrary: hostileGet, weight: 2 }, { arbitrary: hostileSet, weight: 2 }, { arbitrary: repeat, weight: 1 });
}

/** GET_INFLIGHT_FD `count` times: past a leaking back-end's fd limit (300), or enough to see its fds grow (a few dozen). */
export function repeatGetInflightArb(count: number): fc.Arbitrary<Step> {
  return fc.constant<Step>({ t: 'repeatGetInflight', numQueues: 1, queueSize: 8, count });
}

export function kickArb(p: Profile): fc.Arbitrary<Step> {
  const queues = p.deviceType === 'net' ? [NET_RX_QUEUE, NET_TX_QUEUE] : Array.from({ length: lastQueue(p) + 1 }, (_, i) => i);
  return fc.constantFrom(...queues).map((queue): Step => ({ t: 'kick', queue }));
}

function queueArb(p: Profile): fc.Arbitrary<number> {
  return p.deviceType === 'net' ? fc.constantFrom(NET_RX_QUEUE, NET_TX_QUEUE) : fc.integer({ min: 0, max: lastQueue(p) });
}

export function ringStateArb(p: Profile): fc.Arbitrary<Step> {
  const q = queueArb(p);
  return fc.oneof(
    q.map((queue): Step => ({ t: 'stopRing', queue })),
    q.map((queue): Step => ({ t: 'restartRing', queue })),
    fc.record({ queue: q, enable: fc.boolean() }).map((r): Step => ({ t: 'enableRing', queue: r.queue, enable: r.enable })),
    fc.constant<Step>({ t: 'reset' }),
    q.map((queue): Step => ({ t: 'churn', queue, count: 300 })),
  );
}

export function notifyArb(p: Profile): fc.Arbitrary<Step> {
  return fc.record({ queue: queueArb(p), suppress: fc.boolean(), eventOffset: fc.integer({ min: 0, max: 6 }) }).map((r): Step => ({ t: 'notifyMode', ...r }));
}

/**
 * Replaces queue 0's call notifier with an invalid fd (vhost-user.rst: the device must then not signal)
 * or a fresh eventfd: a restore is as likely, so the notification rules still get judged against a
 * working notifier after an invalid one was installed.
 */
export const callFdArb: fc.Arbitrary<Step> = fc.boolean().map((invalid): Step => ({ t: 'control', req: { op: 'setVringCall', index: 0, invalid } }));

const INDIRECT_DEFECTS: ReadonlySet<string> = new Set(['nested-indirect', 'indirect-len-invalid', 'indirect-loop']);

export function hostileArb(p: Profile): fc.Arbitrary<Step> {
  // Only the queue the device reads requests from: net RX chains must be writable-only anyway.
  const queue = p.deviceType === 'net' ? fc.constant(NET_TX_QUEUE) : fc.integer({ min: 0, max: lastQueue(p) });
  // Every hostile kind equally likely: each is a different class of historical bug (bug-catalog.md).
  type Kind = { defect: (typeof CHAIN_DEFECTS)[number] } | { addr: HostileAddr } | { zeroLen: true } | { outAfterIn: true } | { runaway: true };
  // An indirect-table defect needs VIRTIO_RING_F_INDIRECT_DESC: on a device that does not offer it the harness cannot
  // plant one (postHostile posts nothing), so drawing it would only thin out the kinds the device can be judged on.
  const indirect = hasFeature(p.offeredFeatures, VIRTIO_RING_F_INDIRECT_DESC);
  const defects = CHAIN_DEFECTS.filter((d) => indirect || !INDIRECT_DEFECTS.has(d));
  const kinds: Kind[] = [
    ...defects.map((defect) => ({ defect })),
    { addr: 'unmapped' }, { addr: 'tail-unmapped' }, { addr: 'overflow' }, { zeroLen: true }, { outAfterIn: true }, { runaway: true },
  ];
  return fc.record({ queue, kind: fc.constantFrom(...kinds), indirect: fc.boolean(), extra: fc.integer({ min: 1, max: 40 }) }).map((r): Step => {
    if ('runaway' in r.kind) return { t: 'runaway', queue: r.queue, extra: r.extra };
    return { t: 'hostile', queue: r.queue, indirect: r.indirect, ...r.kind };
  });
}

/**
 * SET_CONFIG (vhost-user.config.set-config-readonly): new contents for the device type's read-only
 * field with flags 0, which must not be taken; now and then a GET_CONFIG of the whole space, so a
 * write the device took shows in the model's check of the config too.
 */
export function configArb(p: Profile): fc.Arbitrary<Step> {
  const f = READ_ONLY_CONFIG_FIELD[p.deviceType];
  const reads = fc.constant<Step>({ t: 'control', req: { op: 'getConfig', offset: 0, size: Math.max(1, p.configSize) } });
  if (f === undefined) return reads;
  const data = fc.oneof(fc.constant(new Uint8Array(f.size).fill(0xff)), fc.uint8Array({ minLength: f.size, maxLength: f.size }));
  const writes = data.map((d): Step => ({ t: 'control', req: { op: 'setConfig', offset: f.offset, data: d, flags: VHOST_SET_CONFIG_TYPE_FRONTEND } }));
  return fc.oneof({ arbitrary: writes, weight: 3 }, { arbitrary: reads, weight: 1 });
}

export function iotlbArb(): fc.Arbitrary<Step> {
  const region = fc.integer({ min: 0, max: 1 });
  return fc.oneof(
    fc.oneof(region, fc.constantFrom('all' as const, 'span' as const, 'all-but-rings' as const)).map((r): Step => ({ t: 'unmapIotlb', region: r })),
    fc.record({ region, perm: fc.constantFrom(1, 2, 3) }).map((r): Step => ({ t: 'remapIotlb', ...r })),
    fc.record({ iova: fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_ffffn }), uaddr: fc.bigInt({ min: 0n, max: 0xffff_ffffn }), size: fc.constantFrom(0n, 1n, 0xffff_ffff_ffff_ffffn) }).map(
      (r): Step => ({ t: 'control', req: { op: 'iotlbUpdate', iova: r.iova, size: r.size, uaddr: r.uaddr, perm: 3 } }),
    ),
  );
}

/** Control requests, valid and invalid, that never point the device at memory it would then access. */
export function controlArb(p: Profile, opts: { safeForDataPath: boolean }): fc.Arbitrary<Step> {
  const anyIndex = fc.oneof(fc.integer({ min: 0, max: lastQueue(p) }), fc.constantFrom(p.queues, 255, 256, 0xffff, 0x10000, 0xffff_ffff));
  const badIndex = fc.constantFrom(p.queues, 255, 256, 0xffff, 0x10000, 0x1_0001, 0xffff_ffff);
  const reqs: fc.Arbitrary<VhostRequest>[] = [
    fc.constant({ op: 'getFeatures' } as const),
    fc.record({ op: fc.constant('setVringNum' as const), index: badIndex, num: fc.constantFrom(8, 256) }),
    fc.record({ op: fc.constant('setVringEnable' as const), index: badIndex, enable: fc.boolean() }),
    fc.record({ op: fc.constant('getVringBase' as const), index: badIndex }),
    fc.record({ op: fc.constant('setVringBase' as const), index: badIndex, base: fc.integer({ min: 0, max: 0xffff }) }),
  ];
  if (!opts.safeForDataPath) {
    // Messages gated by protocol features (GET_STATUS, GET_CONFIG, GET_QUEUE_NUM): sent with and
    // without the feature negotiated; the data-path suites never send them, as a correct front-end would not.
    reqs.push(
      fc.constant({ op: 'getQueueNum' } as const),
      fc.constant({ op: 'getStatus' } as const),
      fc.record({ op: fc.constant('getConfig' as const), offset: fc.integer({ min: 0, max: 300 }), size: fc.integer({ min: 0, max: 300 }) }),
      fc.constant({ op: 'getProtocolFeatures' } as const),
      fc.constant({ op: 'setProtocolFeatures', features: p.offeredProtocolFeatures } as const),
      fc.constant({ op: 'setProtocolFeatures', features: p.offeredProtocolFeatures } as const),
      fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_ffffn }).map((f) => ({ op: 'setFeatures', features: f & (p.offeredFeatures | (1n << 63n) | (1n << 50n)) }) as const),
      fc.constant({ op: 'setFeatures', features: p.offeredFeatures } as const),
      fc.constant({ op: 'resetDevice' } as const),
      fc.constant({ op: 'setOwner' } as const),
      fc.record({ op: fc.constant('setVringNum' as const), index: anyIndex, num: fc.constantFrom(0, 1, 3, 8, 256, 1024, 32768, 65535) }),
      fc.record({ op: fc.constant('setVringBase' as const), index: anyIndex, base: fc.integer({ min: 0, max: 0xffff }) }),
      fc.record({ op: fc.constant('getVringBase' as const), index: anyIndex }),
      fc.record({ op: fc.constant('setVringEnable' as const), index: anyIndex, enable: fc.boolean() }),
      fc.record({ op: fc.constant('setVringCall' as const), index: anyIndex, invalid: fc.boolean() }),
      fc.record({ op: fc.constant('setVringErr' as const), index: anyIndex, invalid: fc.boolean() }),
      fc.record({ op: fc.constant('setStatus' as const), status: fc.constantFrom(0, 1, 3, 11, 15) }),
      // Messages of CONFIGURE_MEM_SLOTS and LOG_SHMFD, valid and hostile (bug-catalog D3: offset + size wrapping 64 bits).
      fc.constant({ op: 'getMaxMemSlots' } as const),
      // INFLIGHT_SHMFD, valid and hostile (D9: num_queues beyond the queues; a SET without its fd), negotiated or not. One entry
      // for both: a back-end that dies of them (virtiofsd's seccomp, libvhost-user's num_queues) ends the session.
      fc.oneof(
        fc.record({ op: fc.constant('getInflightFd' as const), numQueues: fc.constantFrom(0, 1, 0xffff), queueSize: fc.constantFrom(0, 8) }),
        fc.record({ op: fc.constant('setInflightFd' as const), numQueues: fc.constantFrom(1, 0xffff), queueSize: fc.constant(8), withFd: fc.boolean() }),
      ),
      fc.record({ op: fc.constant('setLogBase' as const), size: fc.constantFrom(0n, 0x1000n, 0x2000n), offset: fc.constantFrom(0n, 0x1000n, 0xffff_ffff_ffff_f000n) }),
      fc.record({
        op: fc.constant('addMemReg' as const),
        region: fc.record({ gpa: fc.constantFrom(0x40_0000n, 0xffff_ffff_ffff_f000n), size: fc.constantFrom(0x2000n, 0xffff_ffff_ffff_ffffn), uaddr: fc.constantFrom(0x7f00_0000_0000n, 0xffff_ffff_ffff_f000n) }),
      }),
      fc.record({
        op: fc.constant('remMemReg' as const),
        region: fc.record({ gpa: fc.constantFrom(0n, 0x40_0000n), size: fc.constantFrom(0x1000n, 0x10_0000n), uaddr: fc.constantFrom(0n, 0x7f00_0000_0000n) }),
      }),
      fc.record({
        op: fc.constant('setMemTable' as const),
        regions: fc.array(fc.record({ gpa: fc.constantFrom(0n, 0x10_0000n, 0xffff_ffff_ffff_f000n), size: fc.constantFrom(0x10_0000n, 0x2000n, 0xffff_ffff_ffff_ffffn), uaddr: fc.constantFrom(0x7f00_0000_0000n, 0xffff_ffff_ffff_f000n) }), { minLength: 1, maxLength: 10 }),
      }),
    );
  }
  return fc.oneof(...reqs).map((req): Step => ({ t: 'control', req }));
}

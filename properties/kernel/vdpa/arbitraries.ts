// fast-check generators of vhost-vdpa steps, weighted towards the boundaries
// the kernel checks: an index equal to the vq count, 0xffff and 2^32-1; ring
// sizes 0, 1, not a power of two, above 0xffff; IOVAs at the 64-bit edge and
// around the device's IOVA range; status bits removed; config windows past
// the end; batches begun and never ended; ASIDs at and past the AS count; a
// second open() and a close/reopen in the middle of a session; calls from
// another process (a forked child) while this one owns the device.
import fc from 'fast-check';
import {
  VHOST_ACCESS_RO,
  VHOST_ACCESS_RW,
  VHOST_ACCESS_WO,
  VHOST_BACKEND_F_IOTLB_ASID,
  VHOST_BACKEND_F_IOTLB_BATCH,
  VHOST_BACKEND_F_IOTLB_MSG_V2,
  VHOST_BACKEND_F_SUSPEND,
  VHOST_IOTLB_ACCESS_FAIL,
  VHOST_IOTLB_BATCH_BEGIN,
  VHOST_IOTLB_BATCH_END,
  VHOST_IOTLB_INVALIDATE,
  VHOST_IOTLB_MISS,
  VHOST_IOTLB_MSG,
  VHOST_IOTLB_MSG_V2,
  VHOST_IOTLB_UPDATE,
  vhost_msg_v2,
} from '../../../spec/vhost/types.ts';
import { VIRTIO_CONFIG_S_ACKNOWLEDGE, VIRTIO_CONFIG_S_DRIVER, VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_CONFIG_S_FEATURES_OK } from '../../../spec/virtio/status.ts';
import type { QueryName, VdpaDevice, VdpaRequest } from '../../../model/kernel/vdpa.ts';
import { VHOST_BACKEND_F_RESUME } from '../../../spec/vhost/newerUapi.ts';
import { type VdpaStep, vdpaStep } from './steps.ts';

const U32_MAX = 0xffff_ffff;
const U64_MAX = (1n << 64n) - 1n;
const PAGE = 0x1000n;
const bit = (b: number) => 1n << BigInt(b);

const pick = <T>(...values: T[]) => fc.constantFrom(...values);
const weighted = <T>(...arbs: [number, fc.Arbitrary<T>][]) => fc.oneof(...arbs.map(([weight, arbitrary]) => ({ weight, arbitrary })));

function vqIndex(dev: VdpaDevice): fc.Arbitrary<number> {
  return weighted<number>([8, fc.integer({ min: 0, max: dev.vqs - 1 })], [2, pick(dev.vqs, dev.vqs + 1, 0xffff, U32_MAX)]);
}

function ringSize(dev: VdpaDevice): fc.Arbitrary<number> {
  return weighted<number>([4, pick(1, 2, 64, dev.vringNum)], [3, pick(0, 3, 100, 0xffff, 0x10000, U32_MAX, dev.vringNum * 2, dev.vringNum + 1)]);
}

function base(): fc.Arbitrary<number> {
  return weighted<number>([4, fc.integer({ min: 0, max: 64 })], [2, pick(0xffff, 0x8000, 0x10000, U32_MAX)]);
}

const DRIVER_BITS = [VIRTIO_CONFIG_S_ACKNOWLEDGE, VIRTIO_CONFIG_S_DRIVER, VIRTIO_CONFIG_S_FEATURES_OK, VIRTIO_CONFIG_S_DRIVER_OK];
const status = weighted<number>(
  [1, fc.constant(0)],
  [5, fc.subarray(DRIVER_BITS, { minLength: 1 }).map((bits) => bits.reduce((s, b) => s | b, 0))],
);

function featureWord(offered: bigint): fc.Arbitrary<bigint> {
  const bits = [...Array(64).keys()].filter((b) => (offered >> BigInt(b)) & 1n);
  return weighted<bigint>(
    [4, fc.constant(offered)],
    [3, fc.subarray(bits).map((bs) => bs.reduce((w, b) => w | bit(b), 0n))],
    [1, fc.bigInt({ min: 0n, max: U64_MAX })],
  );
}

function backendWord(dev: VdpaDevice): fc.Arbitrary<bigint> {
  return fc.tuple(featureWord(dev.backendFeatures), weighted<bigint>([6, fc.constant(0n)], [1, pick(bit(0), bit(9), bit(63), bit(VHOST_BACKEND_F_SUSPEND), bit(VHOST_BACKEND_F_RESUME))])).map(([a, b]) => a | b);
}

function configWindow(dev: VdpaDevice): fc.Arbitrary<{ off: number; len: number }> {
  const size = dev.configSize;
  const inside = fc.integer({ min: 0, max: Math.max(0, size - 1) }).chain((off) => fc.integer({ min: 1, max: Math.max(1, size - off) }).map((len) => ({ off, len })));
  const edge = fc.record({ off: pick(0, 1, size - 1, size, size + 1, U32_MAX), len: pick(0, 1, 2, 8, size, size + 1, U32_MAX) });
  return weighted<{ off: number; len: number }>([3, inside], [2, edge]);
}

const queryNames: readonly QueryName[] = ['deviceId', 'vqsCount', 'configSize', 'vringNum', 'iovaRange', 'asNum', 'groupNum', 'backendFeatures'];

function asid(dev: VdpaDevice): fc.Arbitrary<number> {
  return weighted<number>([6, fc.integer({ min: 0, max: dev.asNum - 1 })], [2, pick(dev.asNum, dev.asNum + 1, U32_MAX)]);
}

/** IOVAs where mappings collide (a 64 KiB window, page-aligned or not) and at every edge the kernel checks. */
function iova(dev: VdpaDevice): fc.Arbitrary<bigint> {
  const window = fc.integer({ min: 0, max: 15 }).map((p) => dev.iovaFirst + BigInt(p) * PAGE);
  const edges = [dev.iovaFirst, dev.iovaFirst + 0x800n, dev.iovaLast - PAGE + 1n, dev.iovaLast, U64_MAX - PAGE + 1n, 1n << 63n, U64_MAX];
  if (dev.iovaFirst > 0n) edges.push(dev.iovaFirst - 1n, dev.iovaFirst - PAGE);
  return weighted<bigint>([6, window], [1, window.map((v) => v + 0x800n)], [2, pick(...edges)]);
}

const size = weighted<bigint>([6, pick(PAGE, 2n * PAGE, 4n * PAGE)], [2, pick(0n, 1n, 0x800n, 0x1_0000n, 0x2_0000n, U64_MAX, 1n << 63n)]);
const uaddrOff = weighted<bigint>([6, pick(0n, PAGE, 4n * PAGE, 8n * PAGE)], [1, pick(0x800n, 0x1_0000n, 0x10_0000n)]);
const perm = weighted<number>([6, pick(VHOST_ACCESS_RO, VHOST_ACCESS_WO, VHOST_ACCESS_RW)], [1, pick(0, 4, 0xff)]);
const iotlbType = weighted<number>(
  [8, fc.constant(VHOST_IOTLB_UPDATE)],
  [5, fc.constant(VHOST_IOTLB_INVALIDATE)],
  [2, pick(VHOST_IOTLB_BATCH_BEGIN, VHOST_IOTLB_BATCH_END)],
  [1, pick(VHOST_IOTLB_MISS, VHOST_IOTLB_ACCESS_FAIL, 0, 7, 0xff)],
);

function iotlbMessage(dev: VdpaDevice): fc.Arbitrary<VdpaRequest> {
  return fc.record({
    op: fc.constant('iotlb' as const),
    frame: weighted<'v1' | 'v2'>([8, fc.constant('v2')], [1, fc.constant('v1')]),
    asid: asid(dev),
    type: iotlbType,
    iova: iova(dev),
    size,
    uaddrOff,
    perm,
  });
}

const iotlbFrame: fc.Arbitrary<VdpaRequest> = fc.record({
  op: fc.constant('iotlbFrame' as const),
  frameType: pick(VHOST_IOTLB_MSG, VHOST_IOTLB_MSG_V2, 0, 3, U32_MAX),
  length: pick(1, 4, 8, 39, 40, vhost_msg_v2.size, 100),
});

function vringRequest(dev: VdpaDevice): fc.Arbitrary<VdpaRequest> {
  const index = vqIndex(dev);
  const addr = weighted<bigint>([4, pick(0n, 0x1000n, 0x2000n, 0x1_0000n)], [1, pick(1n, 2n, 3n, 0x1002n, U64_MAX - 3n)]);
  return fc.oneof(
    fc.record({ op: fc.constant('setVringNum' as const), index, num: ringSize(dev) }),
    fc.record({ op: fc.constant('setVringBase' as const), index, base: base() }),
    fc.record({ op: fc.constant('getVringBase' as const), index }),
    fc.record({
      op: fc.constant('setVringAddr' as const),
      index,
      flags: weighted<number>([6, pick(0, 1)], [1, pick(2, 0x80, U32_MAX)]),
      desc: addr,
      avail: addr,
      used: addr,
      log: addr,
    }),
    fc.record({ op: fc.constant('setVringFile' as const), which: pick<'kick' | 'call' | 'err'>('kick', 'call', 'err'), index, unbind: fc.boolean() }),
    fc.record({ op: fc.constant('setVringEnable' as const), index, enable: fc.boolean() }),
    fc.record({ op: fc.constant('getVringGroup' as const), index }),
    fc.record({ op: fc.constant('setGroupAsid' as const), group: weighted<number>([4, fc.integer({ min: 0, max: dev.groupNum - 1 })], [1, pick(dev.groupNum, dev.vqs, U32_MAX)]), asid: asid(dev) }),
  );
}

const RUNNING = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;

/**
 * A ring brought up and then resized (vhost.h: SET_VRING_NUM "can not be modified while ring is running"):
 * reset, the vq enabled before DRIVER_OK (certainly running) or after it (running only if the parent took the
 * late enable), then SET_VRING_NUM. Random steps rarely line these up on one vq.
 */
function runningRingResize(dev: VdpaDevice): fc.Arbitrary<VdpaRequest[]> {
  const num = weighted<number>([4, pick(1, 64, dev.vringNum, dev.vringNum * 2)], [1, ringSize(dev)]);
  return fc.record({ index: fc.integer({ min: 0, max: dev.vqs - 1 }), num, late: fc.boolean() }).map(({ index, num, late }): VdpaRequest[] => {
    const enable: VdpaRequest = { op: 'setVringEnable', index, enable: true };
    const driverOk: VdpaRequest = { op: 'setStatus', status: RUNNING };
    return [{ op: 'setStatus', status: 0 }, ...(late ? [driverOk, enable] : [enable, driverOk]), { op: 'setVringNum', index, num }];
  });
}

function controlRequest(dev: VdpaDevice, offered: bigint): fc.Arbitrary<VdpaRequest[]> {
  const one = weighted<VdpaRequest>(
    [2, fc.constant({ op: 'setOwner' })],
    [2, pick(...queryNames).map((what): VdpaRequest => ({ op: 'query', what }))],
    [2, backendWord(dev).map((features): VdpaRequest => ({ op: 'setBackendFeatures', features }))],
    [2, featureWord(offered).map((features): VdpaRequest => ({ op: 'setFeatures', features }))],
    [3, fc.constant({ op: 'getStatus' })],
    [4, status.map((s): VdpaRequest => ({ op: 'setStatus', status: s }))],
    [10, vringRequest(dev)],
    [2, configWindow(dev).map(({ off, len }): VdpaRequest => ({ op: 'getConfig', off, len }))],
    [1, fc.tuple(configWindow(dev), fc.integer({ min: 0, max: 0xff })).map(([{ off, len }, fill]): VdpaRequest => ({ op: 'setConfig', off, len, fill }))],
    [1, pick<'eventfd' | 'unbind' | 'notEventfd'>('eventfd', 'unbind', 'notEventfd').map((fd): VdpaRequest => ({ op: 'setConfigCall', fd }))],
    [1, pick<'base' | 'fd'>('base', 'fd').map((which): VdpaRequest => ({ op: 'setLog', which }))],
    [1, pick<VdpaRequest>({ op: 'suspend' }, { op: 'resume' })],
    [1, pick<VdpaRequest>({ op: 'openSecond' }, { op: 'reopen' })],
    [1, pick<'setOwner' | 'setVringNum' | 'iotlbUpdate'>('setOwner', 'setVringNum', 'iotlbUpdate').map((call): VdpaRequest => ({ op: 'foreign', call }))],
  );
  return weighted<VdpaRequest[]>([10, one.map((r) => [r])], [2, runningRingResize(dev)]);
}

function iotlbRequest(dev: VdpaDevice): fc.Arbitrary<VdpaRequest> {
  return weighted<VdpaRequest>(
    [20, iotlbMessage(dev)],
    [2, iotlbFrame],
    [1, backendWord(dev).map((features): VdpaRequest => ({ op: 'setBackendFeatures', features }))],
    [1, pick<VdpaRequest>({ op: 'setStatus', status: 0 }, { op: 'reopen' }, { op: 'setOwner' }, { op: 'query', what: 'iovaRange' }, { op: 'foreign', call: 'iotlbUpdate' })],
  );
}

/**
 * The preamble, then up to `maxSteps` body entries (a sequence that brings a ring up counts as one). A
 * `reopen` in the body starts a new session, so the preamble follows it again: the steps after it exercise
 * the device rather than the missing owner.
 */
const steps = (preamble: readonly VdpaRequest[], body: fc.Arbitrary<VdpaRequest | VdpaRequest[]>, maxSteps: number) =>
  fc
    .array(body, { minLength: 1, maxLength: Math.max(1, maxSteps - preamble.length), size: 'max' })
    .map((rs) => [...preamble, ...rs.flat().flatMap((r) => (r.op === 'reopen' ? [r, ...preamble] : [r]))].map(vdpaStep));

/** Ownership, status, features, config and vring ioctls, before and after SET_OWNER and DRIVER_OK. */
export function controlScenario(dev: VdpaDevice, offered: bigint, maxSteps: number): fc.Arbitrary<VdpaStep[]> {
  return fc.boolean().chain((owned) => steps(owned ? [{ op: 'setOwner' }] : [], controlRequest(dev, offered), maxSteps));
}

/** IOTLB writes after SET_OWNER and a backend-feature choice that always includes IOTLB_MSG_V2. */
export function iotlbScenario(dev: VdpaDevice, maxSteps: number): fc.Arbitrary<VdpaStep[]> {
  const v2 = bit(VHOST_BACKEND_F_IOTLB_MSG_V2);
  const choices = [v2, v2 | bit(VHOST_BACKEND_F_IOTLB_BATCH), v2 | bit(VHOST_BACKEND_F_IOTLB_ASID), v2 | bit(VHOST_BACKEND_F_IOTLB_BATCH) | bit(VHOST_BACKEND_F_IOTLB_ASID)];
  return pick(...choices).chain((features) => steps([{ op: 'setOwner' }, { op: 'setBackendFeatures', features }], iotlbRequest(dev), maxSteps));
}

/** A device brought to DRIVER_OK with every vq sized and based, then suspended, resumed and inspected. */
export function suspendScenario(dev: VdpaDevice, offered: bigint, maxSteps: number): fc.Arbitrary<VdpaStep[]> {
  const backend = dev.backendFeatures & (bit(VHOST_BACKEND_F_IOTLB_MSG_V2) | bit(VHOST_BACKEND_F_SUSPEND) | bit(VHOST_BACKEND_F_RESUME));
  const driver = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;
  return fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: dev.vqs, maxLength: dev.vqs }).chain((bases) => {
    const preamble: VdpaRequest[] = [
      { op: 'setOwner' },
      { op: 'setBackendFeatures', features: backend },
      { op: 'setStatus', status: driver },
      { op: 'setFeatures', features: offered },
      { op: 'setStatus', status: driver | VIRTIO_CONFIG_S_FEATURES_OK },
      ...bases.flatMap((b, index): VdpaRequest[] => [
        { op: 'setVringNum', index, num: dev.vringNum },
        { op: 'setVringBase', index, base: b },
      ]),
      { op: 'setStatus', status: driver | VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK },
    ];
    const index = vqIndex(dev);
    const body = weighted<VdpaRequest>(
      [4, pick<VdpaRequest>({ op: 'suspend' }, { op: 'resume' })],
      [4, index.map((i): VdpaRequest => ({ op: 'getVringBase', index: i }))],
      [2, fc.record({ op: fc.constant('setVringBase' as const), index, base: base() })],
      [2, fc.constant<VdpaRequest>({ op: 'getStatus' })],
      [1, configWindow(dev).map(({ off, len }): VdpaRequest => ({ op: 'getConfig', off, len }))],
      [1, fc.record({ op: fc.constant('setVringEnable' as const), index, enable: fc.boolean() })],
      [1, pick<VdpaRequest>({ op: 'setStatus', status: 0 }, { op: 'reopen' })],
    );
    return steps(preamble, body, maxSteps);
  });
}

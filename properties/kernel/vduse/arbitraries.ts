// Generators for the VDUSE suites, weighted to the edges the kernel checks:
// vduse_validate_config() (vq_num 0xffff/0x10000, config_size and vq_align
// around PAGE_SIZE, reserved words, names, device ids, features without
// ACCESS_PLATFORM or with a writable-config feature), VQ_SETUP and the other
// indices around vq_num, DEV_SET_CONFIG bounds, malformed responses, status
// answers (OK, FAILED, late, garbled, and at most one missing), and IOTLB
// ranges that overlap what the driver mapped.
import fc from 'fast-check';
import { type BadResponse, type KickfdArg, type UmemFault, VIRTIO_ID_FS } from '../../../model/kernel/vduse.ts';
import { VIRTIO_BLK_F_BLK_SIZE, VIRTIO_BLK_F_CONFIG_WCE, VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_RO, VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_F_SIZE_MAX, VIRTIO_ID_BLOCK } from '../../../spec/virtio/blk.ts';
import { VIRTIO_ID_NET, VIRTIO_NET_F_CTRL_VQ, VIRTIO_NET_F_MAC, VIRTIO_NET_F_MTU, VIRTIO_NET_F_STATUS } from '../../../spec/virtio/net.ts';
import { bit, VIRTIO_F_ACCESS_PLATFORM, VIRTIO_F_RING_PACKED, VIRTIO_F_RING_RESET, VIRTIO_F_VERSION_1 } from '../../../spec/virtio/features.ts';
import { STATUS_INIT_SEQUENCE } from '../../../spec/virtio/status.ts';
import type { KernelProfile, KernelStep } from '../types.ts';
import { DRIVER_PAGES } from './case.ts';
import type { CreateStepConfig, VduseStep } from './steps.ts';

type DeviceType = 'net' | 'blk';

/** The features every device of the type offers: VERSION_1 and the mandatory ACCESS_PLATFORM (features_is_valid). */
export function validDeviceFeatures(t: DeviceType): bigint {
  return bit(VIRTIO_F_VERSION_1) | bit(VIRTIO_F_ACCESS_PLATFORM) | (t === 'net' ? bit(VIRTIO_NET_F_MAC) : 0n);
}

const OPTIONAL: Readonly<Record<DeviceType, readonly number[]>> = {
  blk: [VIRTIO_BLK_F_SIZE_MAX, VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_F_RO, VIRTIO_BLK_F_BLK_SIZE, VIRTIO_BLK_F_FLUSH],
  net: [VIRTIO_NET_F_MTU, VIRTIO_NET_F_STATUS],
};

/** A step without its `t` tag, member by member of the union. */
type StepBody = VduseStep extends infer S ? (S extends VduseStep ? Omit<S, 't'> : never) : never;
const k = (s: StepBody): KernelStep => ({ t: 'kernel', ...s }) as unknown as KernelStep;

function validConfig(t: DeviceType, pageSize: number, vqNums: fc.Arbitrary<number>): fc.Arbitrary<CreateStepConfig> {
  return fc.record({
    extra: fc.subarray([...OPTIONAL[t]]),
    vqNum: vqNums,
    // blk: capacity and more; net: mac, status, max_virtqueue_pairs, mtu.
    config: fc.uint8Array({ minLength: t === 'net' ? 6 : 8, maxLength: t === 'net' ? 12 : 64 }),
  }).map(({ extra, vqNum, config }) => ({
    emptyName: false,
    deviceId: t === 'net' ? VIRTIO_ID_NET : VIRTIO_ID_BLOCK,
    features: extra.reduce((f, b) => f | bit(b), validDeviceFeatures(t)),
    vqNum,
    vqAlign: pageSize,
    reservedWord: -1,
    config,
  }));
}

type Edit = (c: CreateStepConfig) => CreateStepConfig;

/**
 * One edit per rule of vduse_validate_config() / features_is_valid() / vduse_create_dev(), by the requirement it
 * breaks: applied to a valid config, each breaks that rule alone (at API version 0, where reserved[0] is ngroups).
 */
function breakingEdits(t: DeviceType, pageSize: number): Readonly<Record<string, fc.Arbitrary<Edit>>> {
  return {
    'vduse.create.name': fc.constant((c: CreateStepConfig) => ({ ...c, emptyName: true })),
    'vduse.create.device-type': fc.constantFrom(0, 3, 0xffffffff).map((id) => (c: CreateStepConfig) => ({ ...c, deviceId: id })),
    'vduse.create.features-access-platform': fc.constant((c: CreateStepConfig) => ({ ...c, features: c.features & ~bit(VIRTIO_F_ACCESS_PLATFORM) })),
    'vduse.create.features-readonly-config':
      t === 'net'
        ? fc.oneof(
            fc.constant((c: CreateStepConfig) => ({ ...c, features: c.features | bit(VIRTIO_NET_F_CTRL_VQ) })),
            fc.constant((c: CreateStepConfig) => ({ ...c, features: c.features & ~bit(VIRTIO_F_VERSION_1) })),
          )
        : fc.constant((c: CreateStepConfig) => ({ ...c, features: c.features | bit(VIRTIO_BLK_F_CONFIG_WCE) })),
    'vduse.create.vq-num-limit': fc.constantFrom(0x10000, 0xffffffff).map((n) => (c: CreateStepConfig) => ({ ...c, vqNum: n })),
    'vduse.create.config-size-limit': fc.oneof(
      fc.constantFrom(pageSize + 1, 2 * pageSize).map((a) => (c: CreateStepConfig) => ({ ...c, vqAlign: a })),
      fc.constant((c: CreateStepConfig) => ({ ...c, config: new Uint8Array(pageSize + 1) })),
    ),
    'vduse.create.ngroups': fc.constant((c: CreateStepConfig) => ({ ...c, reservedWord: 0 })),
    // Word 1 is nas in the API v1 header (legal there); every other word is reserved at every version.
    'vduse.create.reserved-zero': fc.integer({ min: 1, max: 12 }).map((w) => (c: CreateStepConfig) => ({ ...c, reservedWord: w })),
  };
}

/** Unusual values no rule forbids (a kernel may still refuse some, see model mayBeRefused), and the other device ids. */
function legalEdits(pageSize: number): fc.Arbitrary<Edit>[] {
  return [
    fc.constantFrom(VIRTIO_ID_NET, VIRTIO_ID_BLOCK, VIRTIO_ID_FS).map((id) => (c: CreateStepConfig) => ({ ...c, deviceId: id })),
    fc.constant((c: CreateStepConfig) => ({ ...c, features: c.features & ~bit(VIRTIO_F_VERSION_1) })),
    fc.constantFrom(0, 0xffff).map((n) => (c: CreateStepConfig) => ({ ...c, vqNum: n })),
    fc.constantFrom(0, 1).map((a) => (c: CreateStepConfig) => ({ ...c, vqAlign: a })),
    fc.constantFrom(0, pageSize).map((n) => (c: CreateStepConfig) => ({ ...c, config: new Uint8Array(n) })),
  ];
}

/** A valid config with at most one edge applied. */
function createConfig(t: DeviceType, pageSize: number): fc.Arbitrary<CreateStepConfig> {
  const base = validConfig(t, pageSize, fc.constantFrom(1, 2));
  const edge = fc.oneof(fc.constant((c: CreateStepConfig) => c), ...Object.values(breakingEdits(t, pageSize)), ...legalEdits(pageSize));
  return fc.tuple(base, edge).map(([c, e]) => e(c));
}

/**
 * Each block kept with probability 3/5, in the order given (shrinking drops them): a requirement whose steps
 * the free mix rarely lines up is then exercised in most cases of every seed, not left to chance.
 */
function someOf(blocks: readonly fc.Arbitrary<KernelStep[]>[]): fc.Arbitrary<KernelStep[]> {
  return fc.tuple(...blocks.map((b) => fc.tuple(fc.nat(4), b))).map((picked) => picked.flatMap(([roll, steps]) => (roll >= 2 ? steps : [])));
}

const createStep = (t: DeviceType, pageSize: number) => createConfig(t, pageSize).map((c) => k({ op: 'create', ...c }));
const validCreate = (t: DeviceType, pageSize: number, vqNums: fc.Arbitrary<number>) => validConfig(t, pageSize, vqNums).map((c) => k({ op: 'create', ...c }));

/** An index around vq_num: inside, just past, and far past. */
const vqIndex = fc.oneof({ arbitrary: fc.integer({ min: 0, max: 2 }), weight: 4 }, { arbitrary: fc.constantFrom(3, 0xffff, 0x10000, 0xffffffff), weight: 1 });

/** Steps on the device node that need no driver. */
function deviceSteps(): fc.Arbitrary<KernelStep>[] {
  return [
    fc.record({ index: vqIndex, maxSize: fc.constantFrom(0, 1, 64, 128, 256, 0xffff), reserved: fc.boolean() }).map((a) => k({ op: 'vqSetup', ...a })),
    vqIndex.map((index) => k({ op: 'vqGetInfo', index })),
    fc.record({ offset: fc.constantFrom(0, 1, 6, 8, 63, 64, 4096, 0xffffffff), bytes: fc.uint8Array({ minLength: 0, maxLength: 72 }) }).map((a) => k({ op: 'setConfig', ...a })),
    fc.constant(k({ op: 'injectConfigIrq' })),
    vqIndex.map((index) => k({ op: 'vqInjectIrq', index })),
    fc.record({ index: vqIndex, arg: fc.constantFrom<KickfdArg>('eventfd', 'eventfd', 'deassign', 'not-an-eventfd', 'negative') }).map((a) => k({ op: 'setupKickfd', ...a })),
    fc.constant(k({ op: 'getFeatures' })),
    fc.record({ start: fc.constantFrom(0n, 0x1000n, 0x10000n, 2n ** 64n - 1n), last: fc.constantFrom(0n, 0xfffn, 0x1ffffn, 2n ** 64n - 1n) }).map((a) => k({ op: 'iotlbGetFd', ...a })),
    fc.record({ start: fc.constantFrom(0n, 0x1000n, 2n ** 64n - 1n), last: fc.constantFrom(0n, 0xffffn, 2n ** 64n - 1n), reserved: fc.boolean() }).map((a) => k({ op: 'iotlbGetInfo', ...a })),
    fc.constantFrom<UmemFault>('iova', 'size', 'unaligned', 'reserved').map((fault) => k({ op: 'regUmem', fault })),
    fc.constantFrom(0, 1, 24, 151).map((len) => k({ op: 'readShort', len })),
    fc.constant(k({ op: 'readEmpty' })),
    fc.constantFrom<BadResponse>('short', 'reserved', 'unknown-id').map((kind) => k({ op: 'writeBad', kind })),
  ];
}

/** `vduse-create`: the control device and the device node, creation edges first. */
export function createScenario(p: KernelProfile): fc.Arbitrary<KernelStep[]> {
  const t = p.deviceType;
  const pageSize = Number(p.facts.pageSize ?? 4096);
  const control: fc.Arbitrary<KernelStep>[] = [
    fc.constant(k({ op: 'getApiVersion' })),
    fc.constantFrom(0n, 1n, 2n, 0xffffffffn, 2n ** 64n - 1n).map((version) => k({ op: 'setApiVersion', version })),
    createStep(t, pageSize),
    fc.constant(k({ op: 'createLongName' })),
    fc.boolean().map((known) => k({ op: 'destroy', known })),
    fc.constant(k({ op: 'openDev' })),
    fc.constant(k({ op: 'closeDev' })),
    fc.constant(k({ op: 'attach' })),
    fc.constant(k({ op: 'detach' })),
    // mac only, mac + status, + max_virtqueue_pairs, + half the mtu: the kernel reads all 12 bytes and more.
    fc.record({ len: fc.constantFrom(6, 8, 10, 11, 12), bytes: fc.uint8Array({ minLength: 12, maxLength: 12 }) }).map(({ len, bytes }) => k({ op: 'netConfigShow', config: bytes.subarray(0, len) })),
  ];
  const step = fc.oneof(...control.map((arbitrary, i) => ({ arbitrary, weight: i === 2 || i === 5 ? 3 : 1 })), ...deviceSteps().map((arbitrary) => ({ arbitrary, weight: 2 })));
  const valid = validConfig(t, pageSize, fc.constantFrom(1, 2));
  // Before the main device exists, so each breaks its own rule alone (no EEXIST in the way). ngroups is a rule of API version 0.
  const backToV0 = BigInt(p.facts.apiVersion ?? 0) >= 1n ? [k({ op: 'setApiVersion', version: 0n })] : [];
  const breaking = Object.entries(breakingEdits(t, pageSize)).map(([id, edit]) =>
    fc.tuple(valid, edit).map(([c, e]) => [...(id === 'vduse.create.ngroups' ? backToV0 : []), k({ op: 'create', ...e(c) })]),
  );
  const api = fc.constantFrom(0n, 1n, 2n, 2n ** 64n - 1n).map((version) => [k({ op: 'getApiVersion' }), k({ op: 'setApiVersion', version })]);
  // A device with a vq but no VQ_SETUP yet: vdpa dev add must refuse it.
  const attachEarly = fc.constant<KernelStep[]>([k({ op: 'openDev' }), k({ op: 'attach' })]);
  // Open (or no such name): DESTROY_DEV must refuse.
  const destroyBusy = fc.constant<KernelStep[]>([k({ op: 'openDev' }), k({ op: 'destroy', known: true }), k({ op: 'destroy', known: false })]);
  // Detached and closed (created again if a step destroyed it; EEXIST otherwise): DESTROY_DEV must succeed.
  const destroyIdle = valid.map((c) => [k({ op: 'detach' }), k({ op: 'closeDev' }), k({ op: 'create', ...c }), k({ op: 'destroy', known: true })]);
  const first = fc.oneof({ arbitrary: valid.map((c) => k({ op: 'create', ...c })), weight: 4 }, { arbitrary: createStep(t, pageSize), weight: 1 });
  return fc
    .tuple(someOf([...breaking, api]), first, fc.boolean(), someOf([attachEarly, destroyBusy]), fc.array(step, { minLength: 3, maxLength: 16 }), someOf([destroyIdle]))
    .map(([focus, main, open, early, rest, end]) => [...focus, main, ...(open ? [k({ op: 'openDev' })] : []), ...early, ...rest, ...end]);
}

const STATUSES = [0, ...STATUS_INIT_SEQUENCE, 0x80, 0x40 | 0xf];
const IOVA_PAGES = [0n, 1n, 2n, 8n, 16n, 0x10000n];

/** `vduse-messages`: a device attached and its vhost-vdpa node open, then driver and device steps interleaved. */
export function messagesScenario(p: KernelProfile): fc.Arbitrary<KernelStep[]> {
  const t = p.deviceType;
  const pageSize = Number(p.facts.pageSize ?? 4096);
  const canTimeOut = p.facts.msgTimeoutWritable === true;
  const answer = fc.oneof({ arbitrary: fc.constant('ok' as const), weight: 12 }, { arbitrary: fc.constant('failed' as const), weight: 4 }, { arbitrary: fc.constant('late' as const), weight: 2 }, { arbitrary: fc.constant('garbled' as const), weight: 2 }, { arbitrary: fc.constant(canTimeOut ? ('none' as const) : ('ok' as const)), weight: 1 });
  // The device offers RING_PACKED (prefix below); the driver negotiates it or not.
  const offered = validDeviceFeatures(t) | bit(VIRTIO_F_RING_PACKED);
  const driver: { arbitrary: fc.Arbitrary<KernelStep>; weight: number }[] = [
    { arbitrary: fc.record({ status: fc.constantFrom(...STATUSES), answer }).map((a) => k({ op: 'setStatus', ...a })), weight: 8 },
    { arbitrary: fc.constantFrom(offered, offered & ~bit(VIRTIO_F_RING_PACKED), offered & ~bit(VIRTIO_F_VERSION_1), offered | bit(VIRTIO_F_RING_RESET), 0n).map((features) => k({ op: 'setFeatures', features })), weight: 3 },
    // Counters beyond 1 bit and indices with bit 15 set: what vduse_dev_get_vq_state_packed() must mask.
    { arbitrary: fc.record({ index: fc.integer({ min: 0, max: 1 }), state: fc.tuple(fc.constantFrom(0, 1, 2, 0xffff), fc.constantFrom(0, 5, 0x7fff, 0x8005, 0xffff), fc.constantFrom(0, 1, 2, 0xfffe), fc.constantFrom(0, 9, 0x8009, 0xffff)) }).map((a) => k({ op: 'getVringBasePacked', ...a })), weight: 3 },
    {
      arbitrary: fc.record({ index: vqIndex, num: fc.constantFrom(1, 64, 128, 256, 3), desc: fc.constantFrom(0x1000n, 0x10000n, 0x1008n), driver: fc.constantFrom(0x2000n, 0x2002n), device: fc.constantFrom(0x3000n, 0x3004n), base: fc.constantFrom(0, 1, 0x7fff, 0xffff) }).map((a) => k({ op: 'setVring', ...a })),
      weight: 3,
    },
    { arbitrary: fc.record({ index: vqIndex, ready: fc.boolean() }).map((a) => k({ op: 'enableVring', ...a })), weight: 3 },
    { arbitrary: fc.integer({ min: 0, max: 1 }).map((index) => k({ op: 'kick', index })), weight: 3 },
    { arbitrary: fc.record({ index: fc.integer({ min: 0, max: 1 }), result: fc.constantFrom('ok' as const, 'ok' as const, 'failed' as const), avail: fc.constantFrom(0, 1, 0x7fff, 0x8000, 0xffff) }).map((a) => k({ op: 'getVringBase', ...a })), weight: 3 },
    {
      arbitrary: fc.record({ page: fc.integer({ min: 0, max: DRIVER_PAGES - 1 }), pages: fc.integer({ min: 1, max: 4 }), iovaPage: fc.constantFrom(...IOVA_PAGES), perm: fc.constantFrom(1, 2, 3, 3), answer: fc.constantFrom('ok' as const, 'ok' as const, 'ok' as const, 'failed' as const) })
        .map(({ page, pages, iovaPage, ...a }) => k({ op: 'mapIotlb', page, pages: Math.min(pages, DRIVER_PAGES - page), iova: iovaPage * 4096n, ...a })),
      weight: 5,
    },
    { arbitrary: fc.record({ iovaPage: fc.constantFrom(...IOVA_PAGES), pages: fc.constantFrom(1n, 4n, 0x100000n), answer: fc.constantFrom('ok' as const, 'ok' as const, 'failed' as const) }).map(({ iovaPage, pages, answer: a }) => k({ op: 'unmapIotlb', iova: iovaPage * 4096n, size: pages * 4096n, answer: a })), weight: 2 },
    { arbitrary: fc.record({ pageIndex: fc.constantFrom(...IOVA_PAGES), within: fc.constantFrom(0n, 0x800n, 0x1fffn), span: fc.constantFrom(0n, 0x10n, 0x10000n) }).map(({ pageIndex, within, span }) => k({ op: 'iotlbGetFd', start: pageIndex * 4096n + within, last: pageIndex * 4096n + within + span })), weight: 5 },
    { arbitrary: fc.record({ pageIndex: fc.constantFrom(...IOVA_PAGES), reserved: fc.boolean() }).map(({ pageIndex, reserved }) => k({ op: 'iotlbGetInfo', start: pageIndex * 4096n, last: pageIndex * 4096n + 0xfffn, reserved })), weight: 2 },
    { arbitrary: fc.record({ offset: fc.constantFrom(0, 1, 4), bytes: fc.uint8Array({ minLength: 1, maxLength: 4 }) }).map((a) => k({ op: 'driverConfigWrite', ...a })), weight: 2 },
    { arbitrary: fc.record({ offset: fc.constantFrom(0, 2, 5), len: fc.constantFrom(1, 2, 4) }).map((a) => k({ op: 'driverConfigRead', ...a })), weight: 2 },
    { arbitrary: fc.constant(k({ op: 'reconnect' })), weight: 1 },
    { arbitrary: fc.constant(k({ op: 'setCalls' })), weight: 1 },
    { arbitrary: fc.constant(k({ op: 'closeVdpa' })), weight: 1 },
    { arbitrary: fc.constant(k({ op: 'openVdpa' })), weight: 1 },
  ];
  const step = fc.oneof(...driver, ...deviceSteps().map((arbitrary) => ({ arbitrary, weight: 1 })));
  const [ack, drv, fok] = STATUS_INIT_SEQUENCE;
  // Right after the prefix (status 0, no kickfd, driver features 0), each block exercises its requirement on a healthy device.
  const focus = someOf([
    fc.constantFrom(0, 1, 0x7fff, 0xffff).map((avail) => [k({ op: 'getVringBase', index: 0, result: 'ok', avail })]),
    fc.constant<KernelStep[]>([k({ op: 'getVringBase', index: 0, result: 'failed', avail: 0 })]),
    fc.uint8Array({ minLength: 1, maxLength: 4 }).map((bytes) => [k({ op: 'driverConfigWrite', offset: 0, bytes })]),
    fc.constant<KernelStep[]>([k({ op: 'reconnect' })]),
    fc.constant<KernelStep[]>([k({ op: 'setStatus', status: ack!, answer: 'failed' })]),
    // Read-write or read-only: the fd IOTLB_GET_FD hands out must allow what the region's perm allows.
    fc.constantFrom(3, 1).map((perm) => [k({ op: 'mapIotlb', page: 1, pages: 1, iova: 0x1000n, perm, answer: 'ok' }), k({ op: 'iotlbGetFd', start: 0x1000n, last: 0x1fffn })]),
    // A kick on a ready vq with no kickfd is remembered and signalled when one is installed (vduse_vq_kick, vduse_kickfd_setup).
    fc.constant<KernelStep[]>([k({ op: 'enableVring', index: 0, ready: true }), k({ op: 'setupKickfd', index: 0, arg: 'deassign' }), k({ op: 'kick', index: 0 }), k({ op: 'setupKickfd', index: 0, arg: 'eventfd' })]),
    // Needs the device to offer RING_PACKED: the prefix then always offers it.
    fc.tuple(fc.constantFrom(0, 1, 2, 0xffff), fc.constantFrom(0, 5, 0x8005, 0xffff), fc.constantFrom(0, 1, 0xfffe), fc.constantFrom(0, 9, 0x8009)).map((state) => [k({ op: 'setFeatures', features: offered }), k({ op: 'getVringBasePacked', index: 0, state })]),
    // DEV_GET_FEATURES is defined once FEATURES_OK is set (vduse.h).
    fc.constant<KernelStep[]>([k({ op: 'setFeatures', features: validDeviceFeatures(t) }), ...[ack!, drv!, fok!].map((status) => k({ op: 'setStatus', status, answer: 'ok' })), k({ op: 'getFeatures' })]),
  ]);
  // A reset left unanswered breaks the device for good, so it comes last; it costs msg_timeout (1 s), hence 1 case in 4,
  // and it is drawn first so that shrinking drops it first (each attempt that kept it would wait out the timeout).
  const lost = fc.nat(3).map((roll) => (canTimeOut && roll === 3 ? [k({ op: 'setStatus', status: 0, answer: 'none' })] : []));
  const setup = fc.record({ create: validConfig(t, pageSize, fc.constantFrom(1, 2)), maxSize: fc.constantFrom(64, 128, 256), packed: fc.boolean() });
  return fc.tuple(lost, setup, focus, fc.array(step, { minLength: 4, maxLength: 24 })).map(([end, { create, maxSize, packed }, first, rest]) => {
    const offerPacked = packed || first.some((s) => s.op === 'getVringBasePacked');
    const prefix = [
      k({ op: 'create', ...create, features: create.features | (offerPacked ? bit(VIRTIO_F_RING_PACKED) : 0n) }),
      k({ op: 'openDev' }),
      ...Array.from({ length: create.vqNum }, (_, index) => k({ op: 'vqSetup', index, maxSize, reserved: false })),
      k({ op: 'attach' }),
      k({ op: 'openVdpa' }),
      k({ op: 'setCalls' }),
    ];
    return [...prefix, ...first, ...atMostOneMissingAnswer([...rest, ...end])];
  });
}

/** A missing answer breaks the device for good (vduse_dev_broken): one per case, and the rest answered. */
function atMostOneMissingAnswer(steps: KernelStep[]): KernelStep[] {
  let seen = false;
  return steps.map((s) => {
    if (s.op !== 'setStatus' || s.answer !== 'none') return s;
    if (!seen) {
      seen = true;
      return s;
    }
    return { ...s, answer: 'ok' };
  });
}

/**
 * `vduse-datapath`: a blk device brought to DRIVER_OK the way a virtio driver does it (virtio 1.2 §3.1.1), its
 * memory mapped at iova 0 and vq 0 laid out in it, then blk requests carried end to end among other steps.
 */
export function datapathScenario(p: KernelProfile): fc.Arbitrary<KernelStep[]> {
  const pageSize = Number(p.facts.pageSize ?? 4096);
  const [ack, drv, fok, dok] = STATUS_INIT_SEQUENCE;
  const prefix = fc.record({ create: validCreate('blk', pageSize, fc.constant(1)), num: fc.constantFrom(8, 64, 128), base: fc.constantFrom(0, 1, 0xfffe) }).map(({ create, num, base }) => [
    create,
    k({ op: 'openDev' }),
    k({ op: 'vqSetup', index: 0, maxSize: 128, reserved: false }),
    k({ op: 'attach' }),
    k({ op: 'openVdpa' }),
    k({ op: 'setCalls' }),
    k({ op: 'setFeatures', features: (create as unknown as { features: bigint }).features }),
    k({ op: 'setStatus', status: ack!, answer: 'ok' }),
    k({ op: 'setStatus', status: drv!, answer: 'ok' }),
    k({ op: 'setStatus', status: fok!, answer: 'ok' }),
    k({ op: 'mapIotlb', page: 0, pages: DRIVER_PAGES, iova: 0n, perm: 3, answer: 'ok' }),
    k({ op: 'setVring', index: 0, num, desc: 0n, driver: 0x1000n, device: 0x2000n, base }),
    k({ op: 'enableVring', index: 0, ready: true }),
    k({ op: 'setupKickfd', index: 0, arg: 'eventfd' }),
    k({ op: 'setStatus', status: dok!, answer: 'ok' }),
  ]);
  const request = fc.record({ write: fc.boolean(), sector: fc.integer({ min: 0, max: 7 }), fill: fc.integer({ min: 0, max: 255 }) }).map((a) => k({ op: 'blkRequest', ...a }));
  // With the kickfd gone a kick is remembered, and signalled when the next one is installed (vduse.vq.kick-pending).
  const kickPending: KernelStep[] = [k({ op: 'setupKickfd', index: 0, arg: 'deassign' }), k({ op: 'kick', index: 0 }), k({ op: 'setupKickfd', index: 0, arg: 'eventfd' })];
  const other = fc.oneof(
    fc.constant(k({ op: 'vqGetInfo', index: 0 })),
    fc.constant(k({ op: 'getFeatures' })),
    fc.constant(k({ op: 'injectConfigIrq' })),
    fc.constant(k({ op: 'vqInjectIrq', index: 0 })),
    fc.constant(k({ op: 'kick', index: 0 })),
    fc.record({ result: fc.constantFrom('ok' as const, 'failed' as const), avail: fc.constantFrom(0, 3, 0xffff) }).map((a) => k({ op: 'getVringBase', index: 0, ...a })),
    fc.constant(k({ op: 'iotlbGetFd', start: 0x1000n, last: 0x1000n })),
    fc.constant(k({ op: 'setupKickfd', index: 0, arg: 'eventfd' })),
    fc.constant(kickPending),
  ).map((x) => (Array.isArray(x) ? x : [x]));
  // Each device-side check at DRIVER_OK in most cases, whatever the mix of requests draws.
  const focus = someOf([
    fc.constant<KernelStep[]>([k({ op: 'getFeatures' }), k({ op: 'vqGetInfo', index: 0 })]),
    fc.constant<KernelStep[]>([k({ op: 'injectConfigIrq' }), k({ op: 'iotlbGetFd', start: 0x1000n, last: 0x1000n })]),
    fc.constantFrom(0, 3, 0xffff).map((avail) => [k({ op: 'getVringBase', index: 0, result: 'ok', avail })]),
    fc.constant<KernelStep[]>([k({ op: 'getVringBase', index: 0, result: 'failed', avail: 0 })]),
    fc.constant(kickPending),
  ]);
  const step = fc.oneof({ arbitrary: request.map((r) => [r]), weight: 4 }, { arbitrary: other, weight: 1 });
  return fc.tuple(prefix, focus, fc.array(step, { minLength: 3, maxLength: 14 })).map(([pre, first, rest]) => [...pre, ...first, ...rest.flat()]);
}

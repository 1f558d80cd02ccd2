// Named suites: a set-up, the steps that may follow it, and the requirement
// ids the suite's oracles judge. A suite runs when any of its ids is selected.
import fc from 'fast-check';
import type { Profile } from '../../model/profile.ts';
import { callFdArb, configArb, controlArb, hostileArb, inflightArb, iotlbArb, kickArb, memSlotArb, notifyArb, repeatGetInflightArb, ringStateArb, setupArb, trafficArb } from '../arbitraries/steps.ts';
import { VHOST_F_LOG_ALL } from '../../spec/vhost/types.ts';
import { VHOST_USER_PROTOCOL_F_CONFIG, VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS, VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD, VHOST_USER_PROTOCOL_F_LOG_SHMFD } from '../../spec/vhostUser/protocolFeatures.ts';
import type { SetupStep, Step } from '../steps.ts';

export interface Suite {
  readonly name: string;
  readonly description: string;
  readonly requirements: readonly string[];
  /** Device types the suite applies to. */
  readonly deviceTypes: readonly Profile['deviceType'][];
  /**
   * Transports whose rules the suite judges. Suites of vhost-user messages (protocol features, memory slots, the
   * shared dirty log, SET_CONFIG read-back, inflight buffers) have no meaning over vhost ioctls.
   */
  readonly transports: readonly Profile['transport'][];
  /** Feature bit names (spec/features) the target must offer, else every requirement is UNSUPPORTED. */
  readonly needs?: readonly number[];
  /** vhost-user protocol feature bits the target must offer, likewise. */
  readonly needsProtocol?: readonly number[];
  readonly maxSteps: number;
  scenario(p: Profile): fc.Arbitrary<Step[]>;
}

const DATA_PATH_REQS = [
  'virtio.split.used.id-is-head', 'virtio.split.used.len-written', 'virtio.split.desc.no-write-readable', 'virtio.robust.write-bound',
  'virtio.blk.status-byte', 'virtio.blk.unsupported-type', 'virtio.blk.read-after-write', 'virtio.net.num-buffers-one', 'virtio.net.loopback-integrity',
  'vhost-user.ring.start-on-kick', 'vhost-user.ring.stopped-no-processing', 'vhost-user.ring.disabled-with-protocol-features',
  'vhost-user.ring.get-vring-base-stops', 'virtio.status.reset-clears', 'virtio.robust.survives',
  'vhost-user.ring.disabled-discards-tx', 'vhost-user.ring.disabled-no-rx', 'virtio.features.dependencies-offered',
] as const;

/** A set-up step, then up to `maxSteps` weighted steps. `size: 'max'` spreads lengths over the whole range: fast-check's default keeps arrays short, and most bugs need a few posts and kicks in a row. */
function scenario(setup: fc.Arbitrary<SetupStep>, steps: { arbitrary: fc.Arbitrary<Step>; weight: number }[], maxSteps: number): fc.Arbitrary<Step[]> {
  return fc.tuple(setup, fc.array(fc.oneof(...steps), { minLength: 1, maxLength: maxSteps, size: 'max' })).map(([s, rest]) => [s, ...rest]);
}

/**
 * Ring-state steps the transport has. Over ioctls only reset: the harness sends no stop, restart or enable there
 * (properties/harness.ts `ringStates`), and notifier churn is there to show a back-end's fds growing
 * (Target.backEndFds), which a kernel's eventfd references do not show to user space: it would spend its 3 s
 * budget per step judging only the replies.
 */
function ringStates(p: Profile): fc.Arbitrary<Step> {
  return p.transport === 'ioctl' ? ringStateArb(p).filter((s) => s.t === 'reset') : ringStateArb(p);
}

const w = (arbitrary: fc.Arbitrary<Step>, weight: number) => ({ arbitrary, weight });
/** A weighted step as a chunk of one, for scenarios whose other choices are short step sequences. */
const w1 = (arbitrary: fc.Arbitrary<Step>, weight: number) => ({ arbitrary: arbitrary.map((s) => [s]), weight });

export const SUITES: readonly Suite[] = [
  {
    name: 'control-plane',
    description: 'vhost-user session state machine: negotiation, vring configuration in any order, reset, invalid requests',
    requirements: [
      'vhost-user.features.get-features-stable', 'virtio.status.features-ok-refusal', 'vhost-user.robust.vring-index-range',
      'vhost-user.ring.get-vring-base-stops', 'virtio.status.reset-clears', 'vhost-user.config.get-config', 'vhost-user.status.get-status',
      'vhost-user.robust.mem-region-overflow', 'vhost-user.reply.required', 'vhost-user.mem.max-mem-slots', 'vhost-user.robust.log-base-overflow', 'vhost-user.vring.err-invalid-fd',
      'vhost-user.robust.inflight-num-queues', 'vhost-user.robust.no-leak-on-repeat',
    ],
    deviceTypes: ['blk', 'net', 'fs'],
    transports: ['vhost-user', 'in-process'],
    maxSteps: 25,
    // Repeated GET_INFLIGHT_FD, negotiated or not: libvhost-user answers it either way, and a spawned peer's fds can be counted.
    scenario: (p) => fc.array(fc.oneof({ arbitrary: controlArb(p, { safeForDataPath: false }), weight: 40 }, { arbitrary: repeatGetInflightArb(32), weight: 1 }), { minLength: 1, maxLength: 25, size: 'max' }),
  },
  {
    name: 'split-datapath',
    description: 'split rings: random interleavings of post / kick / stop / restart / enable / reset, chains of every shape, index wrap',
    requirements: [...DATA_PATH_REQS, 'virtio.split.notify.flags-must-notify', 'virtio.split.notify.event-idx-must'],
    deviceTypes: ['blk', 'net'],
    transports: ['vhost-user', 'in-process', 'ioctl'],
    maxSteps: 40,
    scenario: (p) => scenario(setupArb({}), [w(trafficArb(p), 4), w(kickArb(p), 3), w(ringStates(p), 1), w(controlArb(p, { safeForDataPath: true }), 1)], 40),
  },
  {
    name: 'packed-datapath',
    description: 'packed rings, including sizes that are not powers of two, over many wraps',
    requirements: ['virtio.packed.used.id-is-buffer-id', 'virtio.packed.used.len-written', 'virtio.packed.used.flags-wrap', 'virtio.packed.size-not-power-of-2', 'virtio.robust.write-bound', 'virtio.blk.status-byte', 'virtio.blk.read-after-write', 'virtio.net.loopback-integrity', 'vhost-user.ring.start-on-kick', 'virtio.robust.survives'],
    deviceTypes: ['blk', 'net'],
    transports: ['vhost-user', 'in-process', 'ioctl'],
    needs: [34],
    maxSteps: 60,
    scenario: (p) => scenario(setupArb({ packed: true }), [w(trafficArb(p), 2), w(kickArb(p), 1)], 60),
  },
  {
    name: 'notification',
    description: 'used-buffer notification suppression: flags and EVENT_IDX on both ring kinds',
    requirements: ['virtio.split.notify.flags-must-notify', 'virtio.split.notify.flags-no-interrupt', 'virtio.split.notify.event-idx-must', 'virtio.split.notify.event-idx-should-not', 'virtio.packed.notify.disable', 'virtio.packed.notify.desc-event', 'vhost-user.vring.call-invalid-fd'],
    deviceTypes: ['blk', 'net'],
    transports: ['vhost-user', 'in-process', 'ioctl'],
    maxSteps: 30,
    scenario: (p) => fc.oneof(
      scenario(setupArb({}), [w(trafficArb(p), 3), w(kickArb(p), 2), w(notifyArb(p), 2), w(callFdArb, 2)], 30),
      scenario(setupArb({ packed: true }), [w(trafficArb(p), 3), w(kickArb(p), 2), w(notifyArb(p), 2)], 30),
    ),
  },
  {
    name: 'iotlb',
    description: 'ACCESS_PLATFORM: mappings change between requests, invalidation with requests in flight, permission violations, 64-bit edge cases',
    requirements: ['vhost.iotlb.update-zero-size-rejected', 'virtio.robust.addr-unmapped', 'vhost-user.iotlb.invalidate-removes', 'virtio.robust.write-bound', 'virtio.robust.survives'],
    deviceTypes: ['blk', 'net'],
    transports: ['vhost-user', 'in-process', 'ioctl'],
    needs: [33],
    maxSteps: 30,
    scenario: (p) => scenario(setupArb({ platform: true }), [w(trafficArb(p), 3), w(kickArb(p), 2), w(iotlbArb(), 2)], 30),
  },
  {
    name: 'memory-slots',
    description: 'guest memory announced region by region (ADD_MEM_REG) and taken back and given again (REM_MEM_REG) while requests flow',
    requirements: ['vhost-user.mem.max-mem-slots', 'vhost-user.mem.add-reg-maps', 'vhost-user.mem.rem-reg-unmaps', 'virtio.robust.addr-unmapped', 'virtio.robust.write-bound', 'virtio.blk.read-after-write', 'virtio.net.loopback-integrity', 'virtio.robust.survives'],
    deviceTypes: ['blk', 'net'],
    transports: ['vhost-user', 'in-process'],
    needsProtocol: [VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS],
    maxSteps: 30,
    scenario: (p) => scenario(setupArb({ memSlots: true }), [w(trafficArb(p), 3), w(kickArb(p), 3), w(memSlotArb(), 1)], 30),
  },
  {
    name: 'dirty-log',
    description: 'live-migration logging: every page the device writes through descriptors, and every used-ring write, marked in the shared log',
    requirements: ['vhost-user.log.set-log-base', 'vhost-user.log.set-log-fd', 'vhost-user.log.mark-dirty', 'vhost-user.log.used-ring', 'virtio.robust.write-bound', 'virtio.blk.read-after-write', 'virtio.net.loopback-integrity', 'virtio.robust.survives'],
    deviceTypes: ['blk', 'net'],
    transports: ['vhost-user', 'in-process'],
    needs: [VHOST_F_LOG_ALL],
    needsProtocol: [VHOST_USER_PROTOCOL_F_LOG_SHMFD],
    maxSteps: 30,
    scenario: (p) => scenario(setupArb({ log: true }), [w(trafficArb(p, { pageLayouts: true }), 3), w(kickArb(p), 3), w(ringStateArb(p), 1)], 30),
  },
  {
    name: 'config',
    description: 'SET_CONFIG writing read-only fields of the config space (read back after every write) while requests flow',
    requirements: ['vhost-user.config.set-config-readonly', 'vhost-user.config.get-config', 'virtio.blk.read-after-write', 'virtio.net.loopback-integrity', 'virtio.robust.survives'],
    deviceTypes: ['blk', 'net'],
    transports: ['vhost-user', 'in-process'],
    needsProtocol: [VHOST_USER_PROTOCOL_F_CONFIG],
    maxSteps: 20,
    scenario: (p) => scenario(setupArb({}), [w(trafficArb(p), 2), w(kickArb(p), 2), w(configArb(p), 2)], 20),
  },
  {
    name: 'inflight',
    description: 'inflight I/O tracking: buffers fetched with GET_INFLIGHT_FD and handed back with SET_INFLIGHT_FD while requests flow, hostile descriptions, repeated fetches',
    requirements: ['vhost-user.inflight.get-fd', 'vhost-user.inflight.set-fd', 'vhost-user.robust.inflight-num-queues', 'vhost-user.robust.no-leak-on-repeat', 'virtio.blk.read-after-write', 'virtio.net.loopback-integrity', 'virtio.robust.survives'],
    deviceTypes: ['blk', 'net'],
    transports: ['vhost-user', 'in-process'],
    needsProtocol: [VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD],
    maxSteps: 30,
    scenario: (p) => fc
      .tuple(fc.oneof(setupArb({}), setupArb({ packed: true })), fc.array(fc.oneof(w1(trafficArb(p), 3), w1(kickArb(p), 3), { arbitrary: inflightArb(p), weight: 2 }), { minLength: 1, maxLength: 20, size: 'max' }))
      .map(([s, chunks]) => [s, ...chunks.flat()]),
  },
  {
    name: 'hostile-descriptors',
    description: 'loops, out-of-range indices and addresses, overflowing lengths, zero lengths, nested indirect, index runaway; then valid traffic after reset',
    requirements: [
      'virtio.robust.desc-index-bound', 'virtio.robust.chain-loop-bounded', 'virtio.robust.indirect-loop-bounded', 'virtio.robust.nested-indirect-rejected',
      'virtio.robust.indirect-len-invalid', 'virtio.robust.addr-unmapped', 'virtio.robust.addr-len-overflow', 'virtio.robust.zero-len-desc',
      'virtio.robust.avail-idx-runaway', 'virtio.robust.survives', 'virtio.robust.write-bound',
    ],
    deviceTypes: ['blk', 'net'],
    transports: ['vhost-user', 'in-process', 'ioctl'],
    maxSteps: 30,
    scenario: (p) => fc.oneof(
      scenario(setupArb({}), [w(hostileArb(p), 3), w(trafficArb(p), 2), w(kickArb(p), 3), w(fc.constant<Step>({ t: 'reset' }), 1)], 30),
      scenario(setupArb({ packed: true }), [w(hostileArb(p), 3), w(trafficArb(p), 2), w(kickArb(p), 3), w(fc.constant<Step>({ t: 'reset' }), 1)], 30),
    ),
  },
];

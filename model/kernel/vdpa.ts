// A pure model of one vhost-vdpa session (/dev/vhost-vdpa-N): for each
// request, the set of answers the sources allow, the requirement that answer
// judges, and the session state after each allowed answer.
//
// Sources (every rule below cites one; where kernels differ, every version's
// answer is accepted and the comment says which did what):
//   include/uapi/linux/vhost.h, vhost_types.h (6.1 installed; 6.12 linux-source for the newer bits)
//   drivers/vhost/vdpa.c  (6.12.118 linux-source; older behaviour from the upstream review threads
//                          quoted in spec/requirements/vhostVdpa.ts)
//   drivers/vhost/vhost.c (vhost_chr_write_iter, vhost_dev_ioctl, vhost_vring_ioctl)
//
// What is modelled is what user space can observe on the control plane: ioctl
// answers, IOTLB write answers, and the state they reveal later (status byte,
// vring bases, which IOVA ranges are mapped — seen through overlap refusals).
// Where the device may legitimately be in one of several states (a refused
// FEATURES_OK, a mapping the parent rounded to pages), the state holds every
// possibility and the next answer narrows it.
import { type Harm, violation } from '../outcome.ts';
import type { Verdict } from '../../spec/verdicts.ts';
import {
  VHOST_ACCESS_RO,
  VHOST_ACCESS_RW,
  VHOST_ACCESS_WO,
  VHOST_BACKEND_F_IOTLB_ASID,
  VHOST_BACKEND_F_IOTLB_BATCH,
  VHOST_BACKEND_F_IOTLB_MSG_V2,
  VHOST_BACKEND_F_SUSPEND,
  VHOST_IOTLB_BATCH_BEGIN,
  VHOST_IOTLB_BATCH_END,
  VHOST_IOTLB_INVALIDATE,
  VHOST_IOTLB_MSG,
  VHOST_IOTLB_MSG_V2,
  VHOST_IOTLB_UPDATE,
  vhost_iotlb_msg,
  vhost_msg,
  vhost_msg_v2,
} from '../../spec/vhost/types.ts';
import { VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_CONFIG_S_FEATURES_OK, VIRTIO_CONFIG_S_NEEDS_RESET } from '../../spec/virtio/status.ts';
import { VIRTIO_F_RING_PACKED } from '../../spec/virtio/features.ts';
import { VHOST_BACKEND_F_DESC_ASID, VHOST_BACKEND_F_ENABLE_AFTER_DRIVER_OK, VHOST_BACKEND_F_RESUME } from '../../spec/vhost/newerUapi.ts';

const U64_MAX = (1n << 64n) - 1n;
const PAGE = 0x1000n;
/**
 * The pinned total below which a valid UPDATE must succeed: parents without use_va pin the pages
 * (vhost_vdpa_pa_map, RLIMIT_MEMLOCK), and 64 KiB is the smallest default that limit had (MLOCK_LIMIT
 * before Linux 5.16). Above it an UPDATE may fail for want of resources (EFAULT).
 */
const SURE_PIN_LIMIT = 0x1_0000n;
/** The device ids of include/uapi/linux/virtio_ids.h for the device types this suite drives. */
const VIRTIO_IDS = { net: 1, blk: 2 } as const;

const has = (word: bigint, bit: number): boolean => ((word >> BigInt(bit)) & 1n) === 1n;

/** What the device said about itself at probe time (properties/kernel/vdpa/probe.ts), plus the suite's own memory size. */
export interface VdpaDevice {
  readonly deviceType: 'net' | 'blk';
  readonly deviceId: number;
  readonly backendFeatures: bigint;
  readonly vqs: number;
  readonly vringNum: number;
  readonly configSize: number;
  readonly iovaFirst: bigint;
  readonly iovaLast: bigint;
  readonly asNum: number;
  readonly groupNum: number;
  /** GET_VRING_GROUP of each vq, or null when the parent answered EOPNOTSUPP. */
  readonly vqGroups: readonly number[] | null;
  /** Size of the session's shared memfd mapping that IOTLB uaddr offsets point into. */
  readonly memSize: bigint;
}

export type QueryName = 'deviceId' | 'vqsCount' | 'configSize' | 'vringNum' | 'iovaRange' | 'asNum' | 'groupNum' | 'backendFeatures';

export type VdpaRequest =
  | { readonly op: 'reopen' }
  | { readonly op: 'openSecond' }
  | { readonly op: 'setOwner' }
  | { readonly op: 'query'; readonly what: QueryName }
  | { readonly op: 'setBackendFeatures'; readonly features: bigint }
  | { readonly op: 'setFeatures'; readonly features: bigint }
  | { readonly op: 'getStatus' }
  | { readonly op: 'setStatus'; readonly status: number }
  | { readonly op: 'setVringNum'; readonly index: number; readonly num: number }
  | { readonly op: 'setVringBase'; readonly index: number; readonly base: number }
  | { readonly op: 'getVringBase'; readonly index: number }
  | { readonly op: 'setVringAddr'; readonly index: number; readonly flags: number; readonly desc: bigint; readonly avail: bigint; readonly used: bigint; readonly log: bigint }
  | { readonly op: 'setVringFile'; readonly which: 'kick' | 'call' | 'err'; readonly index: number; readonly unbind: boolean }
  | { readonly op: 'setVringEnable'; readonly index: number; readonly enable: boolean }
  | { readonly op: 'getVringGroup'; readonly index: number }
  | { readonly op: 'setGroupAsid'; readonly group: number; readonly asid: number }
  | { readonly op: 'getConfig'; readonly off: number; readonly len: number }
  | { readonly op: 'setConfig'; readonly off: number; readonly len: number; readonly fill: number }
  | { readonly op: 'setConfigCall'; readonly fd: 'eventfd' | 'unbind' | 'notEventfd' }
  | { readonly op: 'setLog'; readonly which: 'base' | 'fd' }
  | {
      readonly op: 'iotlb';
      readonly frame: 'v1' | 'v2';
      readonly asid: number;
      readonly type: number;
      readonly iova: bigint;
      readonly size: bigint;
      /** uaddr as an offset into the session's memfd mapping (the executor adds the mapping's address). */
      readonly uaddrOff: bigint;
      readonly perm: number;
    }
  /** A raw write of `length` bytes whose first u32 is `frameType`; the body asks for iotlb type 0 (no such type). */
  | { readonly op: 'iotlbFrame'; readonly frameType: number; readonly length: number }
  | { readonly op: 'suspend' }
  | { readonly op: 'resume' }
  /**
   * A call made by another process (a forked child, with an mm of its own): SET_OWNER, SET_VRING_NUM of
   * vq 0 to 64, or a valid IOTLB UPDATE of one page of the session memory at IOVA 0x1000.
   */
  | { readonly op: 'foreign'; readonly call: 'setOwner' | 'setVringNum' | 'iotlbUpdate' };

export type VdpaValue =
  | bigint
  | number
  | { readonly index: number; readonly num: number }
  | { readonly first: bigint; readonly last: bigint }
  /** GET_CONFIG read twice, into buffers prefilled with different canaries. */
  | { readonly reads: readonly [Uint8Array, Uint8Array] };

export type VdpaAnswer = { readonly ok: true; readonly value?: VdpaValue } | { readonly ok: false; readonly errno: string };

/** An IOVA range vhost-vdpa maps: exactly [lo, hi], or possibly up to [elo, ehi] (a parent that pins whole pages). */
export interface Mapping {
  readonly lo: bigint;
  readonly hi: bigint;
  readonly elo: bigint;
  readonly ehi: bigint;
  /** False when the mapping may or may not be there (an update the parent may have skipped, a reset). */
  readonly certain: boolean;
}

/** A range some step unmapped, and the requirement that step exercised (so a later refusal is charged to it). */
interface Freed {
  readonly lo: bigint;
  readonly hi: bigint;
  readonly by: string;
}

export interface AddressSpace {
  readonly asid: number;
  readonly allocated: 'yes' | 'maybe' | 'no';
  readonly maps: readonly Mapping[];
  readonly freed: readonly Freed[];
}

export interface VdpaState {
  /** Who owns the device: nobody, this process, or another one (a forked child, whose mm is not ours). */
  readonly owner: 'none' | 'self' | 'other';
  /** Acked backend features (VHOST_SET_BACKEND_FEATURES). */
  readonly backend: bigint;
  /** Every status byte the device may hold now; null when nothing is known (a reset that failed). */
  readonly statuses: readonly number[] | null;
  /** The requirement a status read-back judges (what last changed it). */
  readonly statusWhy: string;
  /** DRIVER_OK was set since the last reset: the device may have raised NEEDS_RESET on its own. */
  readonly live: boolean;
  readonly suspended: boolean | 'maybe';
  /** VIRTIO_F_RING_PACKED may be acked: GET_VRING_BASE then packs two indices. */
  readonly packedMaybe: boolean;
  /** Last base each vq was given, null when unknown. */
  readonly bases: readonly (number | null)[];
  /** The requirement a base read-back judges while not suspended: RESUME's promise once it returned. */
  readonly basesWhy: string;
  /**
   * Whether each vq is enabled (VHOST_VDPA_SET_VRING_ENABLE → set_vq_ready): 'maybe' where the parent may or
   * may not have acted on the request (a late enable without ENABLE_AFTER_DRIVER_OK, a disable, a failed reset).
   */
  readonly ready: readonly (boolean | 'maybe')[];
  readonly spaces: readonly AddressSpace[];
  readonly batch: { readonly asid: number; readonly certain: boolean } | null;
}

export type Accept =
  | { readonly kind: 'ok'; readonly check?: (v: VdpaValue | undefined) => string | null; readonly next: VdpaState; readonly note: string }
  | { readonly kind: 'error'; readonly errnos: readonly string[] | 'any'; readonly next: VdpaState; readonly note: string };

export interface Expectation {
  /** The requirement this step judges. */
  readonly requirement: string;
  readonly accept: readonly Accept[];
  /** What a forbidden answer amounts to (model/outcome.ts `violation`). */
  readonly harm: Harm;
}

export interface Judged {
  readonly requirement: string;
  readonly verdict: Verdict;
  readonly next: VdpaState;
  readonly detail: string;
  readonly expected: readonly string[];
}

export function initialVdpaState(dev: VdpaDevice): VdpaState {
  return {
    owner: 'none',
    backend: 0n,
    statuses: [0],
    statusWhy: 'vhost-vdpa.open-release-reset',
    live: false,
    suspended: false,
    packedMaybe: false,
    bases: Array.from({ length: dev.vqs }, () => null),
    basesWhy: 'vhost.vring.get-base',
    // vhost_vdpa_open() resets the device: every queue_enable reads 0 after a reset (virtio 1.2 §4.1.4.3).
    ready: Array.from({ length: dev.vqs }, () => false),
    spaces: [],
    batch: null,
  };
}

// ------------------------------------------------------------------ helpers

const ok = (next: VdpaState, note: string, check?: (v: VdpaValue | undefined) => string | null): Accept => (check ? { kind: 'ok', next, note, check } : { kind: 'ok', next, note });
const err = (errnos: readonly string[] | 'any', next: VdpaState, note: string): Accept => ({ kind: 'error', errnos, next, note });
const expect = (requirement: string, accept: readonly Accept[], harm: Harm = 'deviation'): Expectation => ({ requirement, accept, harm });

const mayHave = (s: VdpaState, bit: number): boolean => s.statuses === null || s.statuses.some((v) => (v & bit) !== 0);
const mustHave = (s: VdpaState, bit: number): boolean => s.statuses !== null && s.statuses.every((v) => (v & bit) !== 0);

function numberValue(v: VdpaValue | undefined): number | bigint | undefined {
  return typeof v === 'number' || typeof v === 'bigint' ? v : undefined;
}

function equals(want: number | bigint, what: string) {
  return (v: VdpaValue | undefined): string | null => {
    const got = numberValue(v);
    return got !== undefined && BigInt(got) === BigInt(want) ? null : `${what} is ${String(got)}, the device said ${String(want)} when probed`;
  };
}

/** The session after the device was reset: status 0, not suspended, vring state forgotten (virtio 1.2 §2.4). */
function afterReset(s: VdpaState, why: string): VdpaState {
  // vhost-vdpa's own IOTLB trees survive SET_STATUS 0 (only vhost_vdpa_open/release clean them up), but
  // whether the parent keeps its copy depends on IOTLB_PERSIST (_compat_vdpa_reset, VDPA_RESET_F_CLEAN_MAP):
  // what is mapped is no longer known for certain; nor is the batch (vhost_vdpa_reset clears in_batch,
  // the SET_STATUS path _compat_vdpa_reset does not).
  return {
    ...s,
    statuses: [0],
    statusWhy: why,
    live: false,
    suspended: false,
    bases: s.bases.map(() => null),
    basesWhy: 'vhost.vring.get-base',
    ready: s.ready.map(() => false),
    spaces: s.spaces.map((a) => ({ ...a, maps: a.maps.map((m) => ({ ...m, certain: false })) })),
    batch: s.batch ? { ...s.batch, certain: false } : null,
  };
}

// ---------------------------------------------------------------- the model

export function stepVdpa(dev: VdpaDevice, s: VdpaState, r: VdpaRequest): Expectation {
  switch (r.op) {
    case 'reopen': {
      // vhost_vdpa_release(): vhost_vdpa_reset + vhost_vdpa_cleanup (every address space removed, every
      // mapping unmapped); vhost_vdpa_open(): vhost_vdpa_reset again, vhost_dev_init (no owner, backend
      // features 0). The new session starts from status 0 with nothing mapped.
      const fresh = initialVdpaState(dev);
      const spaces = s.spaces.map(
        (a): AddressSpace => ({ asid: a.asid, allocated: 'no', maps: [], freed: [...a.freed, ...a.maps.filter((m) => m.certain).map((m) => ({ lo: m.lo, hi: m.hi, by: 'vhost-vdpa.open-release-reset' }))] }),
      );
      return expect('vhost-vdpa.open-release-reset', [ok({ ...fresh, spaces }, 'closed and opened again')]);
    }
    case 'openSecond':
      // vhost_vdpa_open(): atomic_cmpxchg(&v->opened, 0, 1) fails → -EBUSY.
      return expect('vhost-vdpa.open-exclusive', [err(['EBUSY'], s, 'the node is already open')]);
    case 'setOwner':
      // vhost_dev_set_owner(): -EBUSY when the device already has an owner.
      if (s.owner !== 'none') return expect('vhost.owner.exclusive', [err(['EBUSY'], s, `already owned by ${s.owner === 'self' ? 'this' : 'another'} process`)]);
      return expect('vhost.owner.exclusive', [ok({ ...s, owner: 'self' }, 'first SET_OWNER of the session')]);
    case 'foreign':
      return foreign(s, r.call);
    case 'query':
      return query(dev, s, r.what);
    case 'setBackendFeatures':
      return setBackendFeatures(dev, s, r.features);
    case 'setFeatures':
      return setFeatures(s, r.features);
    case 'getStatus':
      return getStatus(s);
    case 'setStatus':
      return setStatus(s, r.status);
    case 'getConfig':
    case 'setConfig':
      return config(dev, s, r);
    case 'setConfigCall':
      // vhost_vdpa_set_config_call(): fd -1 (VHOST_FILE_UNBIND) removes, an eventfd installs,
      // anything else fails in eventfd_ctx_fdget() (EINVAL for a file that is not an eventfd).
      if (r.fd === 'notEventfd') return expect('vhost-vdpa.config-call', [err(['EINVAL', 'EBADF'], s, 'not an eventfd')]);
      return expect('vhost-vdpa.config-call', [ok(s, r.fd === 'unbind' ? 'fd -1 removes the config eventfd' : 'an eventfd is installed')]);
    case 'setLog':
      // vhost_vdpa_unlocked_ioctl(): VHOST_SET_LOG_BASE / VHOST_SET_LOG_FD → -ENOIOCTLCMD, which user space sees as ENOTTY.
      return expect('vhost-vdpa.log-unsupported', [err(['ENOTTY'], s, 'no dirty log on vhost-vdpa')]);
    case 'suspend':
    case 'resume':
      return suspendResume(dev, s, r.op);
    case 'iotlb':
      return iotlb(dev, s, r);
    case 'iotlbFrame':
      return iotlbFrame(s, r.frameType, r.length);
    default:
      return vring(dev, s, r);
  }
}

/** vhost_dev_check_owner() compares mms: a forked child is never the owner, whoever is. */
function foreign(s: VdpaState, call: Extract<VdpaRequest, { op: 'foreign' }>['call']): Expectation {
  switch (call) {
    case 'setOwner':
      // vhost_dev_set_owner(): EBUSY when owned; otherwise the child becomes the owner (and, exiting, leaves
      // an owner no later caller is). A failed bind of the child's mm (vhost_vdpa_bind_mm) undoes it.
      if (s.owner !== 'none') return expect('vhost.owner.exclusive', [err(['EBUSY'], s, 'already owned')]);
      return expect('vhost.owner.exclusive', [ok({ ...s, owner: 'other' }, 'the child took ownership'), err('any', s, 'binding the child mm failed')]);
    case 'setVringNum':
      return expect('vhost.owner.required', [err(['EPERM'], s, 'the child is not the owner')]);
    case 'iotlbUpdate':
      // vhost_vdpa_process_iotlb_msg(): vhost_dev_check_owner first; the error is EFAULT at write().
      return expect('vhost-vdpa.iotlb.owner-required', [err(['EFAULT'], s, 'the child is not the owner')], 'memory-safety');
  }
}

function query(dev: VdpaDevice, s: VdpaState, what: QueryName): Expectation {
  switch (what) {
    case 'deviceId': {
      const want = VIRTIO_IDS[dev.deviceType];
      return expect('vhost-vdpa.device-id', [
        ok(s, `the virtio id of a ${dev.deviceType} device`, (v) => (numberValue(v) === want ? null : `GET_DEVICE_ID is ${String(numberValue(v))}, a ${dev.deviceType} device is ${want} (virtio_ids.h)`)),
      ]);
    }
    case 'vqsCount':
      return expect('vhost-vdpa.vqs-count', [ok(s, 'stable', equals(dev.vqs, 'GET_VQS_COUNT'))]);
    case 'configSize':
      return expect('vhost-vdpa.config-size', [ok(s, 'stable', equals(dev.configSize, 'GET_CONFIG_SIZE'))]);
    case 'vringNum':
      return expect('vhost-vdpa.vring.num-max', [ok(s, 'stable', equals(dev.vringNum, 'GET_VRING_NUM'))]);
    case 'asNum':
      return expect('vhost-vdpa.asid.get-as-num', [ok(s, 'stable', equals(dev.asNum, 'GET_AS_NUM'))]);
    case 'groupNum':
      return expect('vhost-vdpa.asid.get-group-num', [ok(s, 'stable', equals(dev.groupNum, 'GET_GROUP_NUM'))]);
    case 'iovaRange':
      return expect('vhost-vdpa.iova-range.get', [
        ok(s, 'stable', (v) =>
          v && typeof v === 'object' && 'first' in v && v.first === dev.iovaFirst && v.last === dev.iovaLast ? null : `GET_IOVA_RANGE is ${JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `0x${x.toString(16)}` : x))}, the device said [0x${dev.iovaFirst.toString(16)}, 0x${dev.iovaLast.toString(16)}]`,
        ),
      ]);
    case 'backendFeatures':
      // VHOST_VDPA_BACKEND_FEATURES (IOTLB_MSG_V2 | IOTLB_BATCH | IOTLB_ASID) is always offered; the rest depends on the parent.
      return expect('vhost-vdpa.backend-features.offered', [
        ok(s, 'MSG_V2, BATCH and ASID, the rest as probed', (v) => {
          const got = numberValue(v);
          if (got === undefined) return 'GET_BACKEND_FEATURES returned nothing';
          const word = BigInt(got);
          for (const b of [VHOST_BACKEND_F_IOTLB_MSG_V2, VHOST_BACKEND_F_IOTLB_BATCH, VHOST_BACKEND_F_IOTLB_ASID]) if (!has(word, b)) return `GET_BACKEND_FEATURES 0x${word.toString(16)} lacks bit ${b}`;
          return word === dev.backendFeatures ? null : `GET_BACKEND_FEATURES 0x${word.toString(16)}, probed 0x${dev.backendFeatures.toString(16)}`;
        }),
      ]);
  }
}

function setBackendFeatures(dev: VdpaDevice, s: VdpaState, features: bigint): Expectation {
  // vhost_vdpa_unlocked_ioctl (VHOST_SET_BACKEND_FEATURES), checked in this order in 6.12: unknown bit →
  // EOPNOTSUPP; SUSPEND / RESUME the parent lacks → EOPNOTSUPP; DESC_ASID without IOTLB_ASID → EINVAL;
  // DESC_ASID / IOTLB_PERSIST the parent lacks → EOPNOTSUPP. With several faults any of their errnos passes.
  const errnos = new Set<string>();
  let loose = false;
  for (let b = 0; b < 64; b++) {
    if (!has(features, b) || has(dev.backendFeatures, b)) continue;
    // ENABLE_AFTER_DRIVER_OK is taken without asking the parent; refusing it is stricter, not wrong.
    if (b === VHOST_BACKEND_F_ENABLE_AFTER_DRIVER_OK) loose = true;
    else errnos.add('EOPNOTSUPP');
  }
  if (has(features, VHOST_BACKEND_F_DESC_ASID) && !has(features, VHOST_BACKEND_F_IOTLB_ASID)) errnos.add('EINVAL');
  const taken: VdpaState = { ...s, backend: features };
  if (errnos.size) return expect('vhost-vdpa.backend-features.unsupported-rejected', [err([...errnos], s, 'asks for what the device does not offer')]);
  const accept = [ok(taken, 'a subset of what is offered')];
  if (loose) accept.push(err(['EOPNOTSUPP'], s, 'ENABLE_AFTER_DRIVER_OK not offered: refusing it is stricter than vdpa.c'));
  return expect('vhost.backend-features.get', accept);
}

function setFeatures(s: VdpaState, features: bigint): Expectation {
  // vhost_vdpa_set_features(): EBUSY once FEATURES_OK is set; otherwise the parent may refuse the set (EINVAL).
  const packedMaybe = s.packedMaybe || has(features, VIRTIO_F_RING_PACKED);
  const open = [ok({ ...s, packedMaybe }, 'the device took the features'), err(['EINVAL'], s, 'the device refused the features')];
  if (mustHave(s, VIRTIO_CONFIG_S_FEATURES_OK)) return expect('vhost-vdpa.features.locked-after-features-ok', [err(['EBUSY'], s, 'FEATURES_OK is set')]);
  if (mayHave(s, VIRTIO_CONFIG_S_FEATURES_OK)) return expect('vhost-vdpa.features.locked-after-features-ok', [err(['EBUSY'], s, 'FEATURES_OK may be set'), ...open]);
  return expect('vhost-vdpa.status.virtio-bits', open);
}

function getStatus(s: VdpaState): Expectation {
  const known = s.statuses;
  return expect(s.statusWhy, [
    ok(s, known ? `one of ${known.map((v) => `0x${v.toString(16)}`).join(', ')}` : 'any status', (v) => {
      const got = numberValue(v);
      if (got === undefined) return 'GET_STATUS returned nothing';
      // A live device may raise NEEDS_RESET by itself (virtio 1.2 §2.1.1).
      const bare = s.live ? Number(got) & ~VIRTIO_CONFIG_S_NEEDS_RESET : Number(got);
      return known === null || known.includes(bare) ? null : `status 0x${Number(got).toString(16)}, expected ${known.map((x) => `0x${x.toString(16)}`).join(' or ')}`;
    }),
  ]);
}

/** After a GET_STATUS answer: the status is now known exactly. */
export function learnStatus(s: VdpaState, r: VdpaRequest, a: VdpaAnswer): VdpaState {
  if (r.op !== 'getStatus' || !a.ok) return s;
  const got = numberValue(a.value);
  return got === undefined ? s : { ...s, statuses: [Number(got)] };
}

function setStatus(s: VdpaState, status: number): Expectation {
  if (status === 0) {
    // vhost_vdpa_set_status(): 0 resets through the parent (_compat_vdpa_reset); a failed reset is returned.
    const failed: VdpaState = { ...afterReset(s, 'vhost-vdpa.status.reset'), statuses: null, ready: s.ready.map((v) => (v === false ? false : 'maybe')) };
    return expect('vhost-vdpa.status.reset', [ok(afterReset(s, 'vhost-vdpa.status.reset'), 'reset'), err('any', failed, 'the reset failed')]);
  }
  // vhost_vdpa_set_status(): a non-zero status that clears a bit the device holds is EINVAL.
  const olds = s.statuses ?? [];
  const removing = s.statuses === null ? true : olds.some((old) => (old & ~status) !== 0);
  const keeping = s.statuses === null ? true : olds.some((old) => (old & ~status) === 0);
  // The device clears FEATURES_OK when it refuses the features (virtio 1.2 §3.1.1).
  const newlyFeaturesOk = (status & VIRTIO_CONFIG_S_FEATURES_OK) !== 0 && olds.some((old) => (old & VIRTIO_CONFIG_S_FEATURES_OK) === 0);
  const after = newlyFeaturesOk ? [status, status & ~VIRTIO_CONFIG_S_FEATURES_OK] : [status];
  const live = s.live || (status & VIRTIO_CONFIG_S_DRIVER_OK) !== 0;
  const accept: Accept[] = [];
  if (keeping) accept.push(ok({ ...s, statuses: after, statusWhy: 'vhost-vdpa.status.virtio-bits', live }, `status 0x${status.toString(16)} set`));
  // A live device that raised NEEDS_RESET holds a bit this write would remove.
  if (removing || s.live) accept.push(err(['EINVAL'], s, removing ? 'clears a bit the device holds' : 'the device may hold NEEDS_RESET'));
  return expect(removing ? 'vhost-vdpa.status.no-bit-removal' : 'vhost-vdpa.status.virtio-bits', accept);
}

function config(dev: VdpaDevice, s: VdpaState, r: Extract<VdpaRequest, { op: 'getConfig' | 'setConfig' }>): Expectation {
  // vhost_vdpa_config_validate(): len 0, off > size, or len > size - off → the ioctl is EINVAL.
  if (r.len === 0 || r.off > dev.configSize || r.len > dev.configSize - r.off) {
    return expect('vhost-vdpa.config.bounds', [err(['EINVAL'], s, `[${r.off}, +${r.len}) is outside the ${dev.configSize}-byte config space`)], 'memory-safety');
  }
  if (r.op === 'setConfig') return expect('vhost-vdpa.config.bounds', [ok(s, 'inside the config space')]);
  // vhost_vdpa_get_config(): kvzalloc(len), then copy_to_user of all len bytes: no byte is left as it was.
  return expect('vhost-vdpa.config.zero-init', [
    ok(s, 'every byte written', (v) => {
      if (!v || typeof v !== 'object' || !('reads' in v)) return 'GET_CONFIG returned nothing';
      const [a, b] = v.reads;
      if (a.length !== r.len || b.length !== r.len) return `GET_CONFIG returned ${a.length} bytes for len ${r.len}`;
      for (let i = 0; i < r.len; i++) if (a[i] !== b[i]) return `byte ${r.off + i} kept the caller's buffer (0x${a[i]!.toString(16)} vs 0x${b[i]!.toString(16)} with two canaries)`;
      return null;
    }),
  ]);
}

function suspendResume(dev: VdpaDevice, s: VdpaState, op: 'suspend' | 'resume'): Expectation {
  const supported = has(dev.backendFeatures, op === 'suspend' ? VHOST_BACKEND_F_SUSPEND : VHOST_BACKEND_F_RESUME);
  const why = op === 'suspend' ? 'vhost-vdpa.suspend' : 'vhost-vdpa.resume';
  const flag = op === 'suspend';
  // After RESUME the device works "the same way it was before it was suspended" (vhost.h): the bases it reports are RESUME's promise.
  const done: VdpaState = { ...s, suspended: flag, statusWhy: why, basesWhy: flag ? s.basesWhy : 'vhost-vdpa.resume' };
  const accept: Accept[] = [];
  if (mayHave(s, VIRTIO_CONFIG_S_DRIVER_OK)) accept.push(supported ? ok(done, `${op} while DRIVER_OK`) : err(['EOPNOTSUPP'], s, `the parent has no ${op}`));
  if (!mustHave(s, VIRTIO_CONFIG_S_DRIVER_OK)) {
    // Without DRIVER_OK, newer kernels (6.12 included) return 0 before looking at the parent; earlier kernels asked the parent
    // first (EOPNOTSUPP without it) and set v->suspended on success (review thread, vhost_vdpa_suspend()).
    accept.push(ok({ ...s, suspended: supported && s.suspended !== flag ? 'maybe' : s.suspended }, 'nothing to do before DRIVER_OK'));
    if (!supported) accept.push(err(['EOPNOTSUPP'], s, `the parent has no ${op} (older kernels)`));
  }
  return expect(supported ? why : `${why}.unsupported`, accept);
}

// ------------------------------------------------------------------- vrings

/**
 * Whether vq `index` is certainly running (true), certainly not (false), or may be: DRIVER_OK set, not
 * suspended ("the device must not process more virtqueue descriptors", vhost_vdpa_suspend()), and enabled.
 */
function ringRunning(s: VdpaState, index: number): boolean | 'maybe' {
  const ready = s.ready[index]!;
  if (!mayHave(s, VIRTIO_CONFIG_S_DRIVER_OK) || s.suspended === true || ready === false) return false;
  return mustHave(s, VIRTIO_CONFIG_S_DRIVER_OK) && s.suspended === false && ready === true ? true : 'maybe';
}

/** A vq's enable state after SET_VRING_ENABLE `enable` was taken. */
function readyAfter(s: VdpaState, was: boolean | 'maybe', enable: boolean): boolean | 'maybe' {
  if (was === enable) return was;
  // Disabling: virtio 1.2 §4.1.4.3.2 "The driver MUST NOT write a 0 to queue_enable", so a parent (vp_vdpa
  // writes the register) may ignore it; set_vq_ready() returns nothing to say whether it did.
  if (!enable) return 'maybe';
  // Before DRIVER_OK, enabling is the driver's ordinary step (virtio 1.2 §3.1.1 step 7). After it, only
  // ENABLE_AFTER_DRIVER_OK promises the parent acts on it (vhost_types.h), and while suspended "writing to
  // queue_enable with a value of 1 will not make the device start processing buffers" (vhost_vdpa_suspend()).
  if (!mayHave(s, VIRTIO_CONFIG_S_DRIVER_OK)) return true;
  return has(s.backend, VHOST_BACKEND_F_ENABLE_AFTER_DRIVER_OK) && s.suspended === false ? true : 'maybe';
}

type VringRequest = Extract<VdpaRequest, { op: 'setVringNum' | 'setVringBase' | 'getVringBase' | 'setVringAddr' | 'setVringFile' | 'setVringEnable' | 'getVringGroup' | 'setGroupAsid' }>;

function vring(dev: VdpaDevice, s: VdpaState, r: VringRequest): Expectation {
  const index = r.op === 'setGroupAsid' ? r.group : r.index;
  // vhost_vdpa_unlocked_ioctl → vhost_dev_ioctl: every vring ioctl needs the owner (vhost_dev_check_owner, EPERM) …
  if (s.owner !== 'self') return expect('vhost.owner.required', [err(['EPERM'], s, s.owner === 'none' ? 'no SET_OWNER yet' : 'another process owns the device')]);
  // … then vhost_vdpa_vring_ioctl: idx >= v->nvqs → ENOBUFS, before anything else.
  if (index >= dev.vqs) return expect('vhost-vdpa.vring.index-range', [err(['ENOBUFS'], s, `index ${index} >= ${dev.vqs} vqs`)], 'memory-safety');
  const running = mayHave(s, VIRTIO_CONFIG_S_DRIVER_OK) && s.suspended !== true;
  switch (r.op) {
    case 'setVringNum': {
      // 6.12 vhost_vdpa_vring_ioctl / older vhost_vring_set_num: 0, > 0xffff or not a power of two → EINVAL.
      if (r.num === 0 || r.num > 0xffff || (r.num & (r.num - 1)) !== 0) return expect('vhost.vring.num-valid', [err(['EINVAL'], s, `num ${r.num} is not a ring size`)]);
      // vhost.h VHOST_SET_VRING_NUM: "This parameter can not be modified while ring is running (bound to a
      // device)". A vdpa ring is bound once DRIVER_OK is set with the vq enabled, until SUSPEND (which stops
      // the device processing it). The header names no errno (vhost_vring_set_num says EBUSY, vhost-vdpa's
      // own running-ring refusals of SET_VRING_BASE/ADDR say EINVAL): any refusal keeps the rule.
      const ring = ringRunning(s, index);
      // Taking it resizes a ring the device is walking: the device and the driver's memory then disagree on
      // where the ring ends, and used entries land where the driver laid out none.
      if (ring === true) return expect('vhost.vring.num-immutable', [err('any', s, 'the ring is running: DRIVER_OK, not suspended, vq enabled')], 'corruption');
      // Where the ring may be running, or a stricter kernel may refuse as it refuses SET_VRING_BASE/ADDR after
      // DRIVER_OK (or a vq already enabled, virtio 1.2 §4.1.4.3.2: fields are set before queue_enable), a
      // refusal passes too.
      const refusable = running || s.ready[index] !== false;
      const why = ring === 'maybe' ? 'the ring may be running' : 'refusing a live device or an enabled vq is stricter';
      // Above GET_VRING_NUM: 6.12.118 refuses (v->vq_num_max), older kernels pass it to the parent.
      if (r.num > dev.vringNum) return expect('vhost-vdpa.vring.num-max', [ok(s, 'older kernels pass it on'), refusable ? err('any', s, `above the maximum, or ${why}`) : err(['EINVAL'], s, 'above the maximum')]);
      const accept = [ok(s, 'a power of two within the maximum')];
      if (refusable) accept.push(err('any', s, why));
      return expect('vhost.vring.num-valid', accept);
    }
    case 'setVringBase': {
      // vhost_vring_ioctl: a split ring's base > 0xffff is EINVAL (a packed ring takes 2×16 bits).
      const base = r.base;
      if (base > 0xffff && !s.packedMaybe) return expect('vhost.vring.base-busy', [err(['EINVAL'], s, `base ${base} > 0xffff on a split ring`)]);
      const next: VdpaState = { ...s, bases: s.bases.map((b, i) => (i === index ? (s.packedMaybe ? null : base) : b)), basesWhy: 'vhost.vring.get-base' };
      const accept = [ok(next, 'base set')];
      // 6.12: EINVAL while DRIVER_OK and not suspended; the parent's set_vq_state may refuse then too.
      if (running || s.packedMaybe) accept.push(err(['EINVAL'], s, 'the device is running'));
      return expect('vhost.vring.base-busy', accept);
    }
    case 'getVringBase': {
      // vhost_vdpa_vring_ioctl: get_vq_state from the parent, then vhost_vring_ioctl copies {index, num} back.
      const want = s.packedMaybe ? null : s.bases[index]!;
      const requirement = s.suspended === true ? 'vhost-vdpa.suspend.base-readable' : s.basesWhy;
      return expect(requirement, [
        ok(s, want === null ? 'any base' : `base ${want}`, (v) => {
          if (!v || typeof v !== 'object' || !('index' in v)) return 'GET_VRING_BASE returned nothing';
          if (v.index !== index) return `GET_VRING_BASE wrote index ${v.index} for vq ${index}`;
          return want === null || v.num === want ? null : `vq ${index} base ${v.num}, last set to ${want} and no buffer was made available`;
        }),
      ]);
    }
    case 'setVringAddr': {
      // vhost_vring_set_addr: flags beyond VHOST_VRING_F_LOG → EOPNOTSUPP; avail not 2-aligned, used or log not 4-aligned → EINVAL.
      if ((r.flags & ~1) !== 0) return expect('vhost.vring.addr-checked', [err(['EOPNOTSUPP'], s, `flags 0x${r.flags.toString(16)}`)]);
      if (r.avail % 2n !== 0n || r.used % 4n !== 0n || r.log % 4n !== 0n) return expect('vhost.vring.addr-checked', [err(['EINVAL'], s, 'misaligned ring address')]);
      const accept = [ok(s, 'addresses set')];
      // 6.12: EINVAL while DRIVER_OK and not suspended; set_vq_address may refuse while running.
      if (running) accept.push(err(['EINVAL'], s, 'the device is running'));
      return expect('vhost.vring.addr-checked', accept);
    }
    case 'setVringFile':
      // vhost_vring_ioctl: fd -1 (VHOST_FILE_UNBIND) detaches, an eventfd attaches.
      return expect('vhost.vring.file-unbind', [ok(s, r.unbind ? 'fd -1 detaches' : 'an eventfd attaches')]);
    case 'setVringEnable': {
      // vhost_vdpa_vring_ioctl → set_vq_ready. Enabling after DRIVER_OK is promised only with ENABLE_AFTER_DRIVER_OK.
      const late = mayHave(s, VIRTIO_CONFIG_S_DRIVER_OK) && !has(s.backend, VHOST_BACKEND_F_ENABLE_AFTER_DRIVER_OK);
      const taken: VdpaState = { ...s, ready: s.ready.map((v, i) => (i === index ? readyAfter(s, v, r.enable) : v)) };
      // A refused late enable (EINVAL) returns before set_vq_ready: the vq is as it was.
      return expect('vhost-vdpa.enable-after-driver-ok', late ? [ok(taken, 'taken'), err(['EINVAL'], s, 'late enable refused')] : [ok(taken, 'taken')]);
    }
    case 'getVringGroup': {
      if (dev.vqGroups === null) return expect('vhost-vdpa.asid.get-vring-group', [err(['EOPNOTSUPP'], s, 'no get_vq_group, as probed')]);
      const want = dev.vqGroups[index]!;
      return expect('vhost-vdpa.asid.get-vring-group', [
        ok(s, `group ${want}`, (v) => {
          if (!v || typeof v !== 'object' || !('index' in v)) return 'GET_VRING_GROUP returned nothing';
          if (v.num >= dev.groupNum) return `vq ${index} in group ${v.num}, but there are ${dev.groupNum} groups`;
          return v.index === index && v.num === want ? null : `vq ${index}: {index ${v.index}, group ${v.num}}, probed group ${want}`;
        }),
      ]);
    }
    case 'setGroupAsid': {
      // vhost_vdpa_vring_ioctl: asid >= nas → EINVAL. 6.12 also refuses group >= ngroups (EINVAL) before
      // looking for set_group_asid; older kernels checked the ASID only and left the group to the parent,
      // after EOPNOTSUPP for a parent without set_group_asid.
      if (r.asid >= dev.asNum) return expect('vhost-vdpa.asid.set-group-asid', [err(['EINVAL'], s, `asid ${r.asid} of ${dev.asNum}`)]);
      if (r.group >= dev.groupNum) return expect('vhost-vdpa.asid.set-group-asid', [err(['EINVAL', 'EOPNOTSUPP'], s, `group ${r.group} of ${dev.groupNum}`)]);
      return expect('vhost-vdpa.asid.set-group-asid', [ok(s, 'bound'), err(['EOPNOTSUPP', 'EBUSY'], s, 'the parent cannot (or not now)')]);
    }
  }
}

// -------------------------------------------------------------------- IOTLB

const overlaps = (alo: bigint, ahi: bigint, blo: bigint, bhi: bigint): boolean => alo <= bhi && blo <= ahi;

function spaceOf(s: VdpaState, asid: number): AddressSpace {
  return s.spaces.find((a) => a.asid === asid) ?? { asid, allocated: 'no', maps: [], freed: [] };
}

function withSpace(s: VdpaState, a: AddressSpace): VdpaState {
  return { ...s, spaces: [...s.spaces.filter((x) => x.asid !== a.asid), a].sort((x, y) => x.asid - y.asid) };
}

const IOTLB_WRITE_SIZE = { v1: vhost_msg.size, v2: vhost_msg_v2.size } as const;

function written(frame: 'v1' | 'v2') {
  // vhost_chr_write_iter(): a handled message returns sizeof(struct vhost_msg) or sizeof(struct vhost_msg_v2).
  return (v: VdpaValue | undefined): string | null => (numberValue(v) === IOTLB_WRITE_SIZE[frame] ? null : `write() returned ${String(numberValue(v))}, not ${IOTLB_WRITE_SIZE[frame]}`);
}

/** Every definite world the session may be in for an IOTLB message on `asid`: allocated or not, in the batch or not. */
function worlds(s: VdpaState, asid: number): VdpaState[] {
  const a = spaceOf(s, asid);
  const spaces = a.allocated === 'maybe' ? [withSpace(s, { ...a, allocated: 'yes' }), withSpace(s, { ...a, allocated: 'no' })] : [s];
  return spaces.flatMap((w) => (w.batch && !w.batch.certain ? [{ ...w, batch: { ...w.batch, certain: true } }, { ...w, batch: null }] : [w]));
}

function iotlb(dev: VdpaDevice, s: VdpaState, r: Extract<VdpaRequest, { op: 'iotlb' }>): Expectation {
  // vhost_chr_write_iter(): an UPDATE of size 0 is EINVAL before any handler runs.
  if (r.type === VHOST_IOTLB_UPDATE && r.size === 0n) return expect('vhost.iotlb.update-zero-size-rejected', [err(['EINVAL'], s, 'size 0')], 'memory-safety');
  // Older vhost_chr_write_iter() refused INVALIDATE of size 0 the same way; newer ones pass it on.
  const zeroInvalidate = r.type === VHOST_IOTLB_INVALIDATE && r.size === 0n;
  // vhost_vdpa_process_iotlb_msg(): vhost_dev_check_owner first; any handler error is EFAULT at write().
  if (s.owner !== 'self') return expect('vhost-vdpa.iotlb.owner-required', [err(zeroInvalidate ? ['EFAULT', 'EINVAL'] : ['EFAULT'], s, 'this process does not own the device')], 'memory-safety');
  // vhost_chr_write_iter(): the v2 asid word is read only with IOTLB_ASID; otherwise it is skipped and ASID 0 applies.
  const asidUsed = r.frame === 'v2' && has(s.backend, VHOST_BACKEND_F_IOTLB_ASID);
  const asid = asidUsed ? r.asid : 0;
  const results = worlds(s, asid).map((w) => handle(dev, w, r, asid));
  let first = results[0]!;
  // An asid that would be refused if it were read (>= the AS count) shows whether it was skipped.
  if (r.frame === 'v2' && !asidUsed && r.asid >= dev.asNum) first = { ...first, requirement: 'vhost-vdpa.asid.needs-feature' };
  const accept = results.flatMap((e) => e.accept);
  if (zeroInvalidate) accept.push(err(['EINVAL'], s, 'size 0 refused by older kernels'));
  return zeroInvalidate ? { ...first, requirement: 'vhost.iotlb.invalidate-zero-size', accept } : { ...first, accept };
}

/** vhost_vdpa_process_iotlb_msg() in one definite world. */
function handle(dev: VdpaDevice, s: VdpaState, r: Extract<VdpaRequest, { op: 'iotlb' }>, asid: number): Expectation {
  const a = spaceOf(s, asid);
  const creates = r.type === VHOST_IOTLB_UPDATE || r.type === VHOST_IOTLB_BATCH_BEGIN;
  // UPDATE and BATCH_BEGIN allocate the address space (vhost_vdpa_find_alloc_as: asid >= nas fails);
  // every other type needs one that exists (asid_to_iotlb).
  if (creates && asid >= dev.asNum) return expect('vhost-vdpa.asid.alloc-limit', [err(['EFAULT'], s, `asid ${asid} >= ${dev.asNum} address spaces`)], 'memory-safety');
  if (!creates && a.allocated === 'no') return expect('vhost-vdpa.asid.alloc-limit', [err(['EFAULT'], s, `asid ${asid} has no address space`)]);
  // The space is allocated even if the message then fails: later, whether it exists is not certain.
  const allocated = creates && a.allocated !== 'yes' ? withSpace(s, { ...a, allocated: 'maybe' }) : s;
  const w = creates ? withSpace(s, { ...a, allocated: 'yes' }) : s;
  if (s.batch && s.batch.asid !== asid) return expect('vhost-vdpa.iotlb.batch-asid-mismatch', [err(['EFAULT'], allocated, `inside a batch for asid ${s.batch.asid}`)]);
  const batchAcked = has(s.backend, VHOST_BACKEND_F_IOTLB_BATCH);
  switch (r.type) {
    case VHOST_IOTLB_UPDATE:
      return update(dev, w, allocated, r, asid);
    case VHOST_IOTLB_INVALIDATE:
      return invalidate(w, r, asid);
    case VHOST_IOTLB_BATCH_BEGIN:
    case VHOST_IOTLB_BATCH_END: {
      const next: VdpaState = { ...w, batch: r.type === VHOST_IOTLB_BATCH_BEGIN ? { asid, certain: true } : null };
      const accept = [ok(next, r.type === VHOST_IOTLB_BATCH_BEGIN ? 'batch begun' : 'batch ended', written(r.frame))];
      // vdpa.c does not check that IOTLB_BATCH was negotiated; refusing an unnegotiated batch is stricter.
      if (!batchAcked) accept.push(err(['EFAULT', 'EINVAL'], allocated, 'IOTLB_BATCH not negotiated'));
      return expect('vhost-vdpa.iotlb.batch', accept);
    }
    default:
      // vhost_vdpa_process_iotlb_msg(): any other type (MISS and ACCESS_FAIL travel the other way) is EINVAL → EFAULT.
      return expect('vhost.iotlb.msg-type', [err(['EFAULT'], allocated, `iotlb type ${r.type}`)]);
  }
}

function update(dev: VdpaDevice, s: VdpaState, refused: VdpaState, r: Extract<VdpaRequest, { op: 'iotlb' }>, asid: number): Expectation {
  const last = r.iova + r.size - 1n;
  // vhost_vdpa_process_iotlb_update(): below range.first, wrapping 2^64, or past range.last → EINVAL → EFAULT.
  if (r.iova < dev.iovaFirst || r.iova > U64_MAX - r.size + 1n || last > dev.iovaLast) {
    return expect('vhost-vdpa.iotlb.update-range', [err(['EFAULT'], refused, `[0x${r.iova.toString(16)}, +0x${r.size.toString(16)}) is outside [0x${dev.iovaFirst.toString(16)}, 0x${dev.iovaLast.toString(16)}] or wraps`)], 'memory-safety');
  }
  const a = spaceOf(s, asid);
  // … and any overlap with what the address space maps → EEXIST → EFAULT.
  const clash = a.maps.find((m) => m.certain && overlaps(m.lo, m.hi, r.iova, last));
  if (clash) return expect('vhost-vdpa.iotlb.overlap-rejected', [err(['EFAULT'], refused, `overlaps [0x${clash.lo.toString(16)}, 0x${clash.hi.toString(16)}]`)], 'corruption');
  const elo = r.iova - (r.iova % PAGE);
  const ehi = last > U64_MAX - PAGE ? U64_MAX : last - (last % PAGE) + PAGE - 1n;
  const aligned = r.iova % PAGE === 0n && r.size % PAGE === 0n && r.uaddrOff % PAGE === 0n;
  const memoryOk = r.uaddrOff >= 0n && r.uaddrOff + r.size <= dev.memSize;
  const permOk = r.perm === VHOST_ACCESS_RO || r.perm === VHOST_ACCESS_WO || r.perm === VHOST_ACCESS_RW;
  const pinned = a.maps.reduce((t, m) => t + (m.ehi - m.elo + 1n), 0n) + (ehi - elo + 1n);
  const fuzzy = a.maps.some((m) => overlaps(m.elo, m.ehi, elo, ehi));
  // A use_va parent maps only shared file memory and silently skips the rest (vhost_vdpa_va_map): with a
  // uaddr outside the memfd or an odd perm, an accepted update may map nothing.
  const certain = memoryOk && permOk;
  const added: Mapping = { lo: r.iova, hi: last, elo, ehi, certain };
  // Taking it shows only that the overlapped pages of a possible mapping were not there; its other pages
  // (a pinning parent's separate page runs) may still be: possible mappings stay possible.
  const mapped = withSpace(s, { ...a, maps: [...a.maps, added] });
  const accept = [ok(mapped, 'mapped', written(r.frame))];
  if (!aligned || !certain || fuzzy || pinned > SURE_PIN_LIMIT) {
    // Pages shared with another mapping (a parent that pins whole pages), memory outside the memfd, an
    // unknown perm, or past the smallest RLIMIT_MEMLOCK: refusing is as right as taking it.
    accept.push(err(['EFAULT'], refused, 'unaligned, shares a page, outside the memfd, odd perm or past the pin limit'));
    return expect('vhost-vdpa.iotlb.update-range', accept);
  }
  // A valid update must be taken; if it lands where a step unmapped, a refusal is that step's fault.
  const freedBy = [...a.freed].reverse().find((f) => overlaps(f.lo, f.hi, r.iova, last))?.by;
  return expect(freedBy ?? (r.frame === 'v2' ? 'vhost-vdpa.iotlb.v2' : 'vhost-vdpa.iova-range.get'), accept);
}

function invalidate(s: VdpaState, r: Extract<VdpaRequest, { op: 'iotlb' }>, asid: number): Expectation {
  const a = spaceOf(s, asid);
  const wraps = r.size === 0n || r.iova > U64_MAX - r.size + 1n;
  const last = r.iova + r.size - 1n;
  let maps: Mapping[];
  const freed = [...a.freed];
  if (wraps) {
    // [iova, iova+size-1] wraps: vhost_vdpa_unmap() is handed a range ending below its start; what it removes is not promised.
    maps = a.maps.map((m) => ({ ...m, certain: false }));
  } else {
    // vhost_vdpa_iotlb_unmap(): every map overlapping the range goes, whole (vhost_iotlb_itree_first loop).
    // But one UPDATE may have made several maps: a parent without use_va maps each physically contiguous
    // run of pinned pages on its own (vhost_vdpa_pa_map), so of an UPDATE's range only the pages that
    // overlap the INVALIDATE are certainly gone; the rest may stay.
    maps = [];
    for (const m of a.maps) {
      if (overlaps(m.elo, m.ehi, r.iova, last)) {
        // Only the exact range is certain to be mapped, so only an overlap with it certainly unmaps
        // (a use_va parent maps exactly [lo, hi]; only a pinning one rounds to pages).
        const exact = overlaps(m.lo, m.hi, r.iova, last);
        if (exact && m.certain) freed.push({ lo: m.lo > r.iova ? m.lo : r.iova, hi: m.hi < last ? m.hi : last, by: 'vhost-vdpa.iotlb.invalidate' });
        const everyPage = exact && r.iova <= m.elo + PAGE - 1n && last >= m.ehi - PAGE + 1n;
        if (!everyPage) maps.push({ ...m, certain: false });
      } else maps.push(m);
    }
  }
  return expect('vhost-vdpa.iotlb.invalidate', [ok(withSpace(s, { ...a, maps, freed }), 'unmapped', written(r.frame))]);
}

function iotlbFrame(s: VdpaState, frameType: number, length: number): Expectation {
  // vhost_chr_write_iter(): the u32 type must be VHOST_IOTLB_MSG or _V2 (else EINVAL); then 4 bytes (v1
  // padding, v2 asid) and struct vhost_iotlb_msg must follow in full (else EINVAL). A complete frame
  // reaches the handler, which refuses iotlb type 0 (EFAULT), as it refuses a non-owner.
  const complete = 8 + vhost_iotlb_msg.size;
  if (length < complete) return expect('vhost.iotlb.msg-size-mismatch', [err(['EINVAL'], s, `${length} bytes, a message needs ${complete}`)], 'memory-safety');
  if (frameType !== VHOST_IOTLB_MSG && frameType !== VHOST_IOTLB_MSG_V2) return expect('vhost.iotlb.msg-type', [err(['EINVAL'], s, `frame type ${frameType}`)]);
  return expect('vhost.iotlb.msg-type', [err(['EFAULT'], s, 'iotlb type 0')]);
}

// ------------------------------------------------------------------ judging

function describe(a: Accept): string {
  return a.kind === 'ok' ? `ok (${a.note})` : `${a.errnos === 'any' ? 'any errno' : a.errnos.join('|')} (${a.note})`;
}

function describeAnswer(a: VdpaAnswer): string {
  if (!a.ok) return a.errno;
  const v = a.value;
  if (v === undefined) return 'ok';
  if (typeof v === 'object' && 'reads' in v) return `ok ${v.reads[0].length} bytes ${Buffer.from(v.reads[0].subarray(0, 32)).toString('hex')}`;
  return `ok ${JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `0x${x.toString(16)}` : x))}`;
}

/** The verdict on `answer`: PASS with the state it leads to, or the requirement's violation (the state unchanged). */
export function judgeVdpa(e: Expectation, answer: VdpaAnswer, s: VdpaState): Judged {
  const expected = e.accept.map(describe);
  let why: string | null = null;
  for (const a of e.accept) {
    if (answer.ok && a.kind === 'ok') {
      const bad = a.check ? a.check(answer.value) : null;
      if (bad === null) return { requirement: e.requirement, verdict: 'PASS', next: a.next, detail: `${describeAnswer(answer)}: ${a.note}`, expected };
      why ??= bad;
    }
    if (!answer.ok && a.kind === 'error' && (a.errnos === 'any' || a.errnos.includes(answer.errno))) {
      return { requirement: e.requirement, verdict: 'PASS', next: a.next, detail: `${answer.errno}: ${a.note}`, expected };
    }
  }
  const detail = why ?? `answered ${describeAnswer(answer)}; allowed: ${expected.join('; ')}`;
  return { requirement: e.requirement, verdict: violation(e.requirement, e.harm), next: s, detail, expected };
}

// The VDUSE rules (spec/requirements/vduse.ts) as a pure model: what the kernel
// may answer to each operation on /dev/vduse/control, /dev/vduse/$NAME and,
// from the driver side, /dev/vhost-vdpa-N, and what it must have told the
// user-space device (the suite) on the way. No I/O, no clock.
//
// Sources: include/uapi/linux/vduse.h; Documentation/userspace-api/vduse.rst;
// drivers/vdpa/vdpa_user/vduse_dev.c (vduse_ioctl, vduse_validate_config,
// features_is_valid, vduse_dev_ioctl, vduse_dev_read_iter/write_iter,
// vduse_dev_msg_sync, vduse_vdpa_*, vduse_dev_reset, vduse_destroy_dev,
// vdpa_dev_add) read at torvalds/linux 6243e3c7 (old: blk only, no reserved
// check in VQ_SETUP, INJECT_CONFIG_IRQ without a DRIVER_OK check), gregkh/linux
// 0a0f90ad (6.x) and the vq-group series (API v1, ngroups). Where those
// versions differ, every version's answer is accepted and the rule is judged
// only where they agree. drivers/vhost/vdpa.c decides what the driver side's
// ioctls do before VDUSE sees them (vhost_vdpa_set_status, _vring_ioctl,
// _process_iotlb_update); those are vhost-vdpa rules, not judged here.
import { violation, type Harm } from '../outcome.ts';
import type { Verdict } from '../../spec/verdicts.ts';
import { VIRTIO_ID_BLOCK, VIRTIO_BLK_F_CONFIG_WCE } from '../../spec/virtio/blk.ts';
import { VIRTIO_ID_NET, VIRTIO_NET_F_CTRL_VQ } from '../../spec/virtio/net.ts';
import { bit, VIRTIO_F_ACCESS_PLATFORM, VIRTIO_F_RING_PACKED, VIRTIO_F_VERSION_1 } from '../../spec/virtio/features.ts';
import { VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_CONFIG_S_FEATURES_OK } from '../../spec/virtio/status.ts';

/** The newest API version any kernel defines (vduse.h VDUSE_API_VERSION_1, the vq-group series). */
const NEWEST_API_VERSION = 1n;
/** virtio-fs: allowed by the newest vduse_dev.c allowed_device_id[] only. */
export const VIRTIO_ID_FS = 26;
/** vduse_dev.c device_is_allowed(): blk in every version; net (5.x+) and fs (newest) in some. */
const ALLOWED_IN_SOME_VERSIONS: readonly number[] = [VIRTIO_ID_NET, VIRTIO_ID_FS];
/** sizeof(struct vduse_dev_request) and of the response: a shorter read or write is refused. */
export const VDUSE_MSG_SIZE = 152;
/** Largest vq_num vduse_validate_config() accepts. */
const VDUSE_VQ_NUM_MAX = 0xffff;

export type Res<T = null> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly errno: string };

/** An IOVA range as the driver mapped it through the vhost-vdpa IOTLB (inclusive `last`), `offset` into the driver's memfd. */
export interface Mapping {
  readonly start: bigint;
  readonly last: bigint;
  readonly perm: number;
  readonly offset: bigint;
}

/** What VDUSE_VQ_GET_INFO reports of a split vq. */
export interface VqInfo {
  readonly num: number;
  readonly desc: bigint;
  readonly driver: bigint;
  readonly device: bigint;
  readonly avail: number;
  readonly ready: boolean;
}

/** The driver side's view of one virtqueue: what VQ_GET_INFO must report, and what kicks and interrupts depend on. */
export interface VqView extends VqInfo {
  /** Set by a reset and not changed since: a wrong value is then charged to vduse.reset.clears. */
  readonly cleared: boolean;
  /** A VDUSE kick eventfd is installed (VQ_SETUP_KICKFD). */
  readonly kickfd: boolean;
  /** A driver kick arrived while ready with no kickfd: vduse_vq_kick() remembers it. */
  readonly kickPending: boolean;
  /** The driver installed a call eventfd (VHOST_SET_VRING_CALL) since the last reset. */
  readonly call: boolean;
}

export interface DeviceState {
  readonly deviceId: number;
  readonly features: bigint;
  readonly vqNum: number;
  readonly config: readonly number[];
  /** VDUSE_VQ_SETUP max_size per vq (0: not set up). */
  readonly vqMax: readonly number[];
  readonly fdOpen: boolean;
  readonly attached: boolean;
  readonly vdpaOpen: boolean;
  readonly broken: boolean;
  readonly status: number;
  readonly driverFeatures: bigint;
  /**
   * What vhost-vdpa acked on its vqs (the last VHOST_SET_FEATURES since the node was opened): a device reset does
   * not clear it (vhost_vdpa_set_features copies it into vq->acked_features; only vhost_dev_init and cleanup reset
   * that), and VHOST_GET_VRING_BASE reads the vq state as split or packed by it (vhost_vdpa_vring_ioctl).
   */
  readonly vhostFeatures: bigint;
  readonly featuresCleared: boolean;
  readonly vqs: readonly VqView[];
  readonly configCall: boolean;
  /** The driver's IOTLB (vhost-vdpa keeps it), sorted by start. */
  readonly driverMaps: readonly Mapping[];
  /** What the VDUSE domain holds: the driver's map after the last answered update, null when unknown (after a FAILED answer). */
  readonly deviceMaps: readonly Mapping[] | null;
  /** Ranges the driver dropped by closing vhost-vdpa without the device being sent an UPDATE_IOTLB covering them. */
  readonly stale: readonly Mapping[];
}

export interface VduseState {
  /** The control fd's API version (vduse_open() starts it at VDUSE_API_VERSION). */
  readonly apiVersion: bigint;
  /** Versions the kernel accepted / refused so far: acceptance must be monotone. */
  readonly acceptedMax: bigint;
  readonly refusedMin: bigint | null;
  readonly dev: DeviceState | null;
}

export interface VduseProfile {
  /** VDUSE_GET_API_VERSION on a fresh control fd. */
  readonly initialApiVersion: bigint;
  /** The guest's page size (vduse_validate_config() compares config_size and vq_align with PAGE_SIZE). */
  readonly pageSize: number;
}

export function initialVduseState(p: VduseProfile): VduseState {
  return { apiVersion: p.initialApiVersion, acceptedMax: p.initialApiVersion, refusedMin: null, dev: null };
}

/** What one judged operation found: one verdict for one requirement. */
export interface Finding {
  readonly requirement: string;
  readonly verdict: Verdict;
  readonly detail: string;
  readonly expected: readonly string[];
}

export interface Judged {
  readonly next: VduseState;
  readonly findings: readonly Finding[];
}

function f(requirement: string, verdict: Verdict, detail: string, expected: readonly string[]): Finding {
  return { requirement, verdict, detail, expected };
}
const passed = (requirement: string, detail: string, expected: readonly string[] = [detail]) => f(requirement, 'PASS', detail, expected);
const broke = (requirement: string, detail: string, expected: readonly string[], harm: Harm = 'deviation') => f(requirement, violation(requirement, harm), detail, expected);

const show = (r: Res<unknown>) => (r.ok ? 'ok' : r.errno);

/** A driver-side operation that must fail (with whatever errno vhost-vdpa turns the device's FAILED into). */
function mustFailAny(requirement: string, r: Res<unknown>, why: string): Finding {
  return r.ok ? broke(requirement, `succeeded although ${why}`, ['an error']) : passed(requirement, `${r.errno}: ${why}`);
}

/** An operation that must fail with `errno`; success breaks `requirement` (harm as given); another errno is a softer deviation. */
function mustFail(requirement: string, r: Res<unknown>, errno: string, why: string, harm: Harm = 'deviation'): Finding {
  const expected = [`${errno} (${why})`];
  if (!r.ok) return r.errno === errno ? passed(requirement, `${errno}: ${why}`, expected) : broke(requirement, `${r.errno} instead of ${errno}: ${why}`, expected);
  return broke(requirement, `accepted: ${why}`, expected, harm);
}

function withDev(s: VduseState, d: Partial<DeviceState>): VduseState {
  return { ...s, dev: { ...s.dev!, ...d } };
}

const blankVq = (kickfd = false): VqView => ({ num: 0, desc: 0n, driver: 0n, device: 0n, avail: 0, ready: false, cleared: true, kickfd, kickPending: false, call: false });

/** vduse_dev_reset(): status, driver features, every vq's address, num, state, ready and kickfd, and the callbacks. */
function reset(d: DeviceState): DeviceState {
  return { ...d, status: 0, driverFeatures: 0n, featuresCleared: true, vqs: d.vqs.map(() => blankVq()), configCall: false };
}

// ------------------------------------------------------------------ control

export function judgeGetApiVersion(s: VduseState, r: Res<bigint>): Judged {
  const id = 'vduse.api.get-version';
  if (!r.ok) return { next: s, findings: [broke(id, `GET_API_VERSION failed: ${r.errno}`, [`ok ${s.apiVersion}`])] };
  return { next: s, findings: [r.value === s.apiVersion ? passed(id, `version ${r.value}`) : broke(id, `GET_API_VERSION said ${r.value} after the control fd was set to ${s.apiVersion}`, [`ok ${s.apiVersion}`])] };
}

export function judgeSetApiVersion(s: VduseState, v: bigint, r: Res): Judged {
  const id = 'vduse.api.set-version-range';
  if (r.ok) {
    // A kernel knows no version above the newest header's; accepting one would let a device use an API nobody defined.
    if (v > NEWEST_API_VERSION) return { next: { ...s, apiVersion: v }, findings: [broke(id, `SET_API_VERSION(${v}) accepted: no kernel defines a version above ${NEWEST_API_VERSION}`, ['EINVAL'])] };
    if (s.refusedMin !== null && v >= s.refusedMin) return { next: { ...s, apiVersion: v }, findings: [broke(id, `SET_API_VERSION(${v}) accepted after ${s.refusedMin} was refused`, ['EINVAL'])] };
    return { next: { ...s, apiVersion: v, acceptedMax: v > s.acceptedMax ? v : s.acceptedMax }, findings: [passed(id, `version ${v} accepted`)] };
  }
  const next = { ...s, refusedMin: s.refusedMin === null || v < s.refusedMin ? v : s.refusedMin };
  if (v <= s.acceptedMax) return { next, findings: [broke(id, `SET_API_VERSION(${v}) refused (${r.errno}) though ${s.acceptedMax} was accepted`, ['ok'])] };
  return { next, findings: [r.errno === 'EINVAL' ? passed(id, `version ${v} refused with EINVAL`) : broke(id, `SET_API_VERSION(${v}) refused with ${r.errno}, not EINVAL`, ['EINVAL'])] };
}

/** VDUSE_CREATE_DEV's argument, as generated: one main device per case. */
export interface CreateConfig {
  readonly emptyName: boolean;
  readonly deviceId: number;
  readonly features: bigint;
  readonly vqNum: number;
  readonly vqAlign: number;
  readonly configSize: number;
  /** Index of a reserved word set non-zero (0 is `ngroups` in the API v1 header), or -1. */
  readonly reservedWord: number;
}

/** Every rule a config breaks, with the errno the kernel must give (vduse_validate_config, features_is_valid, vduse_create_dev). */
function createViolations(s: VduseState, c: CreateConfig, pageSize: number): { id: string; errno: string; why: string }[] {
  const out: { id: string; errno: string; why: string }[] = [];
  if (c.reservedWord === 0 && s.apiVersion < 1n) out.push({ id: 'vduse.create.ngroups', errno: 'EINVAL', why: 'ngroups (reserved[0]) non-zero with API version 0' });
  if (c.reservedWord >= (s.apiVersion >= 1n ? 2 : 0)) out.push({ id: 'vduse.create.reserved-zero', errno: 'EINVAL', why: `reserved word ${c.reservedWord} non-zero` });
  if (c.vqNum > VDUSE_VQ_NUM_MAX) out.push({ id: 'vduse.create.vq-num-limit', errno: 'EINVAL', why: `vq_num ${c.vqNum} > 0xffff` });
  if (c.configSize > pageSize) out.push({ id: 'vduse.create.config-size-limit', errno: 'EINVAL', why: `config_size ${c.configSize} > PAGE_SIZE ${pageSize}` });
  if (c.vqAlign > pageSize) out.push({ id: 'vduse.create.config-size-limit', errno: 'EINVAL', why: `vq_align ${c.vqAlign} > PAGE_SIZE ${pageSize}` });
  if (c.emptyName) out.push({ id: 'vduse.create.name', errno: 'EINVAL', why: 'empty name' });
  if (c.deviceId !== VIRTIO_ID_BLOCK && !ALLOWED_IN_SOME_VERSIONS.includes(c.deviceId)) out.push({ id: 'vduse.create.device-type', errno: 'EINVAL', why: `device id ${c.deviceId} is allowed by no kernel` });
  if (!(c.features & bit(VIRTIO_F_ACCESS_PLATFORM))) out.push({ id: 'vduse.create.features-access-platform', errno: 'EINVAL', why: 'features lack VIRTIO_F_ACCESS_PLATFORM' });
  if (c.deviceId === VIRTIO_ID_BLOCK && c.features & bit(VIRTIO_BLK_F_CONFIG_WCE)) out.push({ id: 'vduse.create.features-readonly-config', errno: 'EINVAL', why: 'blk offers CONFIG_WCE (writable config)' });
  if (c.deviceId === VIRTIO_ID_NET && c.features & bit(VIRTIO_NET_F_CTRL_VQ)) out.push({ id: 'vduse.create.features-readonly-config', errno: 'EINVAL', why: 'net offers CTRL_VQ' });
  if (c.deviceId === VIRTIO_ID_NET && !(c.features & bit(VIRTIO_F_VERSION_1))) out.push({ id: 'vduse.create.features-readonly-config', errno: 'EINVAL', why: 'net without VERSION_1' });
  if (!c.emptyName && s.dev) out.push({ id: 'vduse.create.name', errno: 'EEXIST', why: 'the name is in use' });
  return out;
}

/**
 * Values no source read here refuses but a kernel may (stricter validation is allowed): 6.12 refuses
 * vq_align 0 and 1, which vduse_validate_config() at 6243e3c7 and 0a0f90ad accepts; no vq at all; an
 * empty config space; the largest vq_num (65535 vq objects may not be allocated).
 */
function mayBeRefused(c: CreateConfig, pageSize: number): boolean {
  return c.vqAlign !== pageSize || c.vqNum === 0 || c.vqNum === VDUSE_VQ_NUM_MAX || c.configSize === 0;
}

export function judgeCreate(s: VduseState, c: CreateConfig, config: readonly number[], pageSize: number, r: Res): Judged {
  const bad = createViolations(s, c, pageSize);
  if (bad.length) {
    // Several broken rules: the kernel reports whichever it checks first, so any of their errnos passes them all.
    const errnos = new Set(bad.map((b) => b.errno));
    if (mayBeRefused(c, pageSize)) errnos.add('EINVAL');
    // net and fs are allowed by some versions only (EINVAL elsewhere; net needs CAP_NET_ADMIN, EPERM).
    if (ALLOWED_IN_SOME_VERSIONS.includes(c.deviceId)) for (const e of ['EINVAL', 'EPERM']) errnos.add(e);
    const findings = bad.map((b) => {
      if (r.ok) return broke(b.id, `CREATE_DEV accepted: ${b.why}`, [`${b.errno} (${b.why})`]);
      return errnos.has(r.errno) ? passed(b.id, `${r.errno}: ${b.why}`) : broke(b.id, `${r.errno} instead of ${[...errnos].join(' or ')}: ${b.why}`, [...errnos]);
    });
    // A duplicate or invalid device that was created anyway is still the kernel's to destroy: the case tracks it by name.
    return { next: r.ok && !s.dev ? withNewDevice(s, c, config) : s, findings };
  }
  const id = 'vduse.create.device-type';
  if (r.ok) {
    const note = c.deviceId === VIRTIO_ID_BLOCK ? passed(id, 'valid blk device created') : f(id, 'INFORMATIONAL', `device id ${c.deviceId} allowed by this kernel`, ['ok or EINVAL (version-dependent)']);
    return { next: withNewDevice(s, c, config), findings: [note] };
  }
  if (mayBeRefused(c, pageSize)) return { next: s, findings: [f(id, 'INFORMATIONAL', `refused (${r.errno}) a config with an unusual but legal value (vq_align ${c.vqAlign}, vq_num ${c.vqNum}, config_size ${c.configSize})`, ['ok', 'EINVAL (stricter validation)'])] };
  if (c.deviceId === VIRTIO_ID_BLOCK) return { next: s, findings: [broke(id, `a valid blk device was refused: ${r.errno}`, ['ok'])] };
  // net needs CAP_NET_ADMIN (EPERM) where allowed at all; fs only on the newest kernels.
  return { next: s, findings: [f(id, 'INFORMATIONAL', `device id ${c.deviceId} refused by this kernel (${r.errno})`, ['ok, EINVAL or EPERM (version-dependent)'])] };
}

function withNewDevice(s: VduseState, c: CreateConfig, config: readonly number[]): VduseState {
  const vqNum = Math.min(c.vqNum, VDUSE_VQ_NUM_MAX);
  return {
    ...s,
    dev: {
      deviceId: c.deviceId, features: c.features, vqNum, config, vqMax: new Array<number>(vqNum).fill(0),
      fdOpen: false, attached: false, vdpaOpen: false, broken: false, status: 0, driverFeatures: 0n, vhostFeatures: 0n, featuresCleared: true,
      vqs: new Array(vqNum).fill(null).map(() => blankVq()), configCall: false, driverMaps: [], deviceMaps: [], stale: [],
    },
  };
}

/** A 256-byte name with no NUL: the kernel keeps its first 255 bytes (vduse_ioctl: config.name[VDUSE_NAME_MAX - 1] = '\0'). */
export function judgeLongName(create: Res, nodeFound: boolean, destroyed: Res): Finding[] {
  const id = 'vduse.create.name';
  if (!create.ok) return [broke(id, `a 256-byte name was refused (${create.errno}) instead of cut to 255 bytes`, ['ok, node named by the first 255 bytes'])];
  if (!nodeFound) return [broke(id, 'no /dev/vduse node carries the first 255 bytes of a 256-byte name', ['node named by the first 255 bytes'])];
  if (!destroyed.ok) return [broke(id, `DESTROY_DEV of the 255-byte name failed: ${destroyed.errno}`, ['ok'])];
  return [passed(id, 'a 256-byte name is cut to 255 bytes')];
}

export function judgeDestroy(s: VduseState, known: boolean, r: Res): Judged {
  const d = s.dev;
  if (!known || !d) return { next: s, findings: [mustFail('vduse.destroy.busy', r, 'EINVAL', 'no device of that name')] };
  if (d.attached || d.fdOpen) {
    const why = d.attached ? 'the device is attached to the vDPA bus' : '/dev/vduse/$NAME is open';
    // Freeing a device the vDPA bus or an open fd still uses is a use-after-free in waiting.
    return { next: r.ok ? { ...s, dev: null } : s, findings: [mustFail('vduse.destroy.busy', r, 'EBUSY', why, 'memory-safety')] };
  }
  if (r.ok) return { next: { ...s, dev: null }, findings: [passed('vduse.destroy.sequence', 'detached and closed device destroyed')] };
  return { next: s, findings: [broke('vduse.destroy.sequence', `DESTROY_DEV of a detached, closed device failed: ${r.errno}`, ['ok'])] };
}

// ------------------------------------------------------------- device node

export function judgeOpenDev(s: VduseState, r: Res): Judged {
  const d = s.dev;
  if (!d) return { next: s, findings: r.ok ? [f('vduse.dev.single-open', 'INFORMATIONAL', 'a device node opened with no device', ['ENOENT'])] : [] };
  if (d.fdOpen) return { next: s, findings: [mustFail('vduse.dev.single-open', r, 'EBUSY', 'the node is already open')] };
  if (!r.ok) return { next: s, findings: [broke('vduse.create.sequence', `opening /dev/vduse/$NAME failed: ${r.errno}`, ['ok'])] };
  return { next: withDev(s, { fdOpen: true }), findings: [passed('vduse.dev.single-open', 'first open succeeds')] };
}

export function closeDev(s: VduseState): VduseState {
  return s.dev ? withDev(s, { fdOpen: false }) : s;
}

/** Device ioctls on a broken device fail with EPERM before anything else (vduse_dev_ioctl). */
function brokenIoctl(s: VduseState, what: string, r: Res<unknown>): Judged | null {
  if (!s.dev?.broken) return null;
  return { next: s, findings: [mustFail('vduse.msg.timeout-broken', r, 'EPERM', `${what} on a device marked broken`)] };
}

export interface VqSetupArgs {
  readonly index: number;
  readonly maxSize: number;
  readonly reserved: boolean;
}

export function judgeVqSetup(s: VduseState, a: VqSetupArgs, r: Res): Judged {
  const d = s.dev!;
  const b = brokenIoctl(s, 'VQ_SETUP', r);
  if (b) return b;
  const id = 'vduse.vq.setup';
  if (a.index >= d.vqNum) return { next: s, findings: [mustFail(id, r, 'EINVAL', `index ${a.index} >= vq_num ${d.vqNum}`, 'memory-safety')] };
  const set = (): VduseState => withDev(s, { vqMax: d.vqMax.map((m, i) => (i === a.index ? a.maxSize : m)) });
  if (a.reserved) {
    if (!r.ok) return { next: s, findings: [mustFail(id, r, 'EINVAL', 'reserved field non-zero')] };
    // The first vduse_dev.c (6243e3c7) did not look at the reserved words.
    return { next: set(), findings: [f(id, 'INFORMATIONAL', 'VQ_SETUP with a non-zero reserved field accepted (kernels before the reserved check)', ['EINVAL', 'ok on old kernels'])] };
  }
  // Re-setup while attached: every version stores it; refusing is stricter than the code and allowed.
  if (d.attached) return { next: r.ok ? set() : s, findings: [r.ok ? passed(id, 'VQ_SETUP while attached stored') : f(id, 'INFORMATIONAL', `VQ_SETUP while attached refused: ${r.errno}`, ['ok', 'an error'])] };
  if (!r.ok) return { next: s, findings: [broke(id, `a valid VQ_SETUP failed: ${r.errno}`, ['ok'])] };
  return { next: set(), findings: [passed(id, `vq ${a.index} max_size ${a.maxSize}`)] };
}

export function judgeVqGetInfo(s: VduseState, index: number, r: Res<VqInfo>): Judged {
  const d = s.dev!;
  const b = brokenIoctl(s, 'VQ_GET_INFO', r);
  if (b) return b;
  if (index >= d.vqNum) return { next: s, findings: [mustFail('vduse.vq.get-info', r, 'EINVAL', `index ${index} >= vq_num ${d.vqNum}`, 'memory-safety')] };
  const want = d.vqs[index]!;
  const id = want.cleared ? 'vduse.reset.clears' : 'vduse.vq.get-info';
  const expected = [`num ${want.num} desc ${hex(want.desc)} driver ${hex(want.driver)} device ${hex(want.device)} avail ${want.avail} ready ${want.ready}`];
  if (!r.ok) return { next: s, findings: [broke('vduse.vq.get-info', `VQ_GET_INFO(${index}) failed: ${r.errno}`, expected)] };
  const v = r.value;
  const diffs: string[] = [];
  if (v.num !== want.num) diffs.push(`num ${v.num}`);
  if (v.desc !== want.desc) diffs.push(`desc ${hex(v.desc)}`);
  if (v.driver !== want.driver) diffs.push(`driver ${hex(v.driver)}`);
  if (v.device !== want.device) diffs.push(`device ${hex(v.device)}`);
  if (v.avail !== want.avail) diffs.push(`avail ${v.avail}`);
  if (v.ready !== want.ready) diffs.push(`ready ${v.ready}`);
  if (diffs.length) return { next: s, findings: [broke(id, `VQ_GET_INFO(${index}) reports ${diffs.join(', ')}`, expected)] };
  return { next: s, findings: [passed(id, `vq ${index} as the driver set it`, expected)] };
}

export function judgeSetConfig(s: VduseState, offset: number, bytes: readonly number[], r: Res): Judged {
  const d = s.dev!;
  const b = brokenIoctl(s, 'DEV_SET_CONFIG', r);
  if (b) return b;
  const id = 'vduse.config.set-bounds';
  const size = d.config.length;
  if (bytes.length === 0) return { next: s, findings: [mustFail(id, r, 'EINVAL', 'length 0')] };
  if (offset > size || bytes.length > size - offset) return { next: s, findings: [mustFail(id, r, 'EINVAL', `offset ${offset} + length ${bytes.length} beyond config_size ${size}`, 'memory-safety')] };
  if (!r.ok) return { next: s, findings: [broke(id, `an in-bounds DEV_SET_CONFIG failed: ${r.errno}`, ['ok'])] };
  const config = d.config.map((x, i) => (i >= offset && i < offset + bytes.length ? bytes[i - offset]! : x));
  return { next: withDev(s, { config }), findings: [passed(id, `config [${offset}, +${bytes.length}) written`)] };
}

/** INJECT_CONFIG_IRQ; `signalled`: the driver's config eventfd fired (null when not watched). */
export function judgeInjectConfigIrq(s: VduseState, r: Res, signalled: boolean | null): Judged {
  const d = s.dev!;
  const b = brokenIoctl(s, 'DEV_INJECT_CONFIG_IRQ', r);
  if (b) return b;
  const id = 'vduse.config.inject-irq';
  if (!(d.status & VIRTIO_CONFIG_S_DRIVER_OK)) {
    if (!r.ok) return { next: s, findings: [mustFail(id, r, 'EINVAL', 'before DRIVER_OK')] };
    // 6243e3c7 queued the work unconditionally; the DRIVER_OK check came later (vduse_dev_queue_irq_work).
    return { next: s, findings: [f(id, 'INFORMATIONAL', 'INJECT_CONFIG_IRQ before DRIVER_OK accepted (kernels before the DRIVER_OK check)', ['EINVAL', 'ok on old kernels'])] };
  }
  if (!r.ok) return { next: s, findings: [broke(id, `INJECT_CONFIG_IRQ after DRIVER_OK failed: ${r.errno}`, ['ok'])] };
  if (d.configCall && signalled === false) return { next: s, findings: [broke(id, 'INJECT_CONFIG_IRQ returned 0 but the driver\'s config eventfd never fired', ['config eventfd signalled'])] };
  return { next: s, findings: [passed(id, d.configCall ? 'config interrupt delivered' : 'accepted after DRIVER_OK')] };
}

/** VQ_INJECT_IRQ; `signalled`: the driver's call eventfd for that vq fired within the wait (null when none is installed). */
export function judgeVqInjectIrq(s: VduseState, index: number, r: Res, signalled: boolean | null): Judged {
  const d = s.dev!;
  const b = brokenIoctl(s, 'VQ_INJECT_IRQ', r);
  if (b) return b;
  const id = 'vduse.vq.inject-irq';
  if (index >= d.vqNum) return { next: s, findings: [mustFail(id, r, 'EINVAL', `index ${index} >= vq_num ${d.vqNum}`, 'memory-safety')] };
  const vq = d.vqs[index]!;
  if (!vq.ready) {
    if (signalled) return { next: s, findings: [broke(id, `vq ${index} is not ready, yet its call eventfd fired`, ['no notification'])] };
    return { next: s, findings: [passed(id, `no notification for not-ready vq ${index} (${show(r)})`)] };
  }
  if (!(d.status & VIRTIO_CONFIG_S_DRIVER_OK)) {
    // Before DRIVER_OK: newer kernels refuse (EINVAL) unless an irqfd trigger is set (vduse_vq_signal_irqfd signals on ready alone); old ones queue it.
    return { next: s, findings: [passed(id, `before DRIVER_OK: ${show(r)}${signalled ? ', signalled' : ''}`)] };
  }
  if (!r.ok) return { next: s, findings: [broke(id, `VQ_INJECT_IRQ(${index}) on a ready vq after DRIVER_OK failed: ${r.errno}`, ['ok'])] };
  if (vq.call && signalled === false) return { next: s, findings: [broke(id, `VQ_INJECT_IRQ(${index}) returned 0 but the driver's call eventfd never fired`, ['call eventfd signalled'])] };
  return { next: s, findings: [passed(id, `vq ${index} interrupt ${vq.call ? 'delivered' : 'accepted'}`)] };
}

export type KickfdArg = 'eventfd' | 'deassign' | 'not-an-eventfd' | 'negative';

/** VQ_SETUP_KICKFD; `signalled`: the new eventfd fired right away (null when not watched). */
export function judgeSetupKickfd(s: VduseState, index: number, arg: KickfdArg, r: Res, signalled: boolean | null): Judged {
  const d = s.dev!;
  const b = brokenIoctl(s, 'VQ_SETUP_KICKFD', r);
  if (b) return b;
  const id = 'vduse.vq.kickfd';
  if (index >= d.vqNum) return { next: s, findings: [mustFail(id, r, 'EINVAL', `index ${index} >= vq_num ${d.vqNum}`, 'memory-safety')] };
  const vq = d.vqs[index]!;
  const setVq = (v: Partial<VqView>) => withDev(s, { vqs: d.vqs.map((q, i) => (i === index ? { ...q, ...v } : q)) });
  switch (arg) {
    case 'not-an-eventfd':
      return { next: s, findings: [r.ok ? broke(id, 'a file that is no eventfd was installed as kickfd', ['EINVAL or EBADF']) : passed(id, `non-eventfd refused: ${r.errno}`)] };
    case 'negative':
      // vduse_kickfd_setup(): a negative fd other than -1 changes nothing and returns 0.
      return { next: s, findings: [passed(id, `fd -2: ${show(r)}`)] };
    case 'deassign':
      if (!r.ok) return { next: s, findings: [broke(id, `de-assigning the kickfd failed: ${r.errno}`, ['ok'])] };
      return { next: setVq({ kickfd: false }), findings: [passed(id, 'kickfd removed')] };
    case 'eventfd': {
      if (!r.ok) return { next: s, findings: [broke(id, `installing an eventfd failed: ${r.errno}`, ['ok'])] };
      const next = setVq({ kickfd: true, kickPending: false });
      if (vq.kickPending && vq.ready) {
        const k = 'vduse.vq.kick-pending';
        return { next, findings: [signalled === false ? broke(k, `a kick that arrived with no kickfd was not signalled when vq ${index}'s kickfd was installed`, ['kickfd signalled at once'], 'hang') : passed(k, 'remembered kick signalled on install')] };
      }
      return { next, findings: [passed(id, `kickfd installed on vq ${index}`)] };
    }
  }
}

export function judgeGetFeatures(s: VduseState, r: Res<bigint>): Judged {
  const d = s.dev!;
  const b = brokenIoctl(s, 'DEV_GET_FEATURES', r);
  if (b) return b;
  if (!r.ok) return { next: s, findings: [broke('vduse.features.get', `DEV_GET_FEATURES failed: ${r.errno}`, ['ok'])] };
  if (d.featuresCleared) {
    const id = 'vduse.reset.clears';
    return { next: s, findings: [r.value === 0n ? passed(id, 'driver features 0 after reset') : broke(id, `driver features ${hex(r.value)} after a reset`, ['0'])] };
  }
  // Valid only once FEATURES_OK is set (vduse.h); before it the kernel mirrors whatever the driver wrote, which anything may be.
  if (!(d.status & VIRTIO_CONFIG_S_FEATURES_OK)) return { next: s, findings: [] };
  const id = 'vduse.features.get';
  const expected = [hex(d.driverFeatures)];
  if (r.value !== d.driverFeatures) return { next: s, findings: [broke(id, `DEV_GET_FEATURES ${hex(r.value)}, the driver negotiated ${hex(d.driverFeatures)}`, expected)] };
  if (r.value & ~d.features) return { next: s, findings: [broke(id, `negotiated features ${hex(r.value)} exceed the offered ${hex(d.features)}`, expected)] };
  return { next: s, findings: [passed(id, `features ${hex(r.value)}`, expected)] };
}

export interface GetFdResult {
  readonly offset: bigint;
  readonly start: bigint;
  readonly last: bigint;
  readonly perm: number;
  /** mmap(PROT_READ) and mmap(PROT_READ|PROT_WRITE), MAP_SHARED, of the returned fd. */
  readonly mapRead: boolean;
  readonly mapWrite: boolean;
  /** The first bytes of the region read through the device's mapping equal what the driver wrote there (null: not read). */
  readonly dataMatches: boolean | null;
  /** Bytes the device wrote through its mapping reached the driver's memory (null: not tried). */
  readonly writeArrived: boolean | null;
}

function firstOverlap(maps: readonly Mapping[], start: bigint, last: bigint): Mapping | undefined {
  return maps.find((m) => m.start <= last && m.last >= start);
}

export function judgeIotlbGetFd(s: VduseState, start: bigint, last: bigint, r: Res<GetFdResult>): Judged {
  const d = s.dev!;
  const b = brokenIoctl(s, 'IOTLB_GET_FD', r);
  if (b) return b;
  if (start > last) return { next: s, findings: [mustFail('vduse.iotlb.get-fd-range', r, 'EINVAL', 'start > last')] };
  const id = 'vduse.iotlb.get-fd';
  if (!d.attached || d.deviceMaps === null) {
    if (!r.ok) return { next: s, findings: [passed(id, `${r.errno} (no domain, or the mapping is unknown)`)] };
    const hit = d.stale.find((m) => m.start === r.value.start && m.last === r.value.last);
    const note = hit ? [f(id, 'INFORMATIONAL', `[${hex(hit.start)}, ${hex(hit.last)}] is still reachable through IOTLB_GET_FD after the driver closed vhost-vdpa without an UPDATE_IOTLB for it`, ['EINVAL, or the range until the next set_map'])] : [];
    return { next: s, findings: note };
  }
  const m = firstOverlap(d.deviceMaps, start, last);
  if (!m) return { next: s, findings: [mustFail(id, r, 'EINVAL', `no region overlaps [${hex(start)}, ${hex(last)}]`)] };
  const expected = [`offset ${hex(m.offset)} [${hex(m.start)}, ${hex(m.last)}] perm ${m.perm}`];
  if (!r.ok) return { next: s, findings: [broke(id, `IOTLB_GET_FD failed (${r.errno}) though [${hex(m.start)}, ${hex(m.last)}] is mapped`, expected)] };
  const v = r.value;
  const findings: Finding[] = [];
  if (v.start !== m.start || v.last !== m.last || v.offset !== m.offset || v.perm !== m.perm) {
    findings.push(broke(id, `IOTLB_GET_FD gave offset ${hex(v.offset)} [${hex(v.start)}, ${hex(v.last)}] perm ${v.perm}`, expected));
  } else if (v.dataMatches === false || v.writeArrived === false) {
    findings.push(broke(id, v.dataMatches === false ? 'the device reads other bytes than the driver wrote at that IOVA' : 'bytes the device wrote through its mapping did not reach the driver\'s memory', ['the same memory on both sides'], 'corruption'));
  } else findings.push(passed(id, `region ${expected[0]}${v.dataMatches ? ', same bytes on both sides' : ''}`, expected));
  const p = 'vduse.iotlb.get-fd-perm';
  const wantRead = (m.perm & 1) !== 0;
  const wantWrite = m.perm === 3;
  if (v.mapRead !== wantRead || v.mapWrite !== wantWrite) findings.push(broke(p, `perm ${m.perm}: mmap read ${v.mapRead}, read-write ${v.mapWrite}`, [`read ${wantRead}, read-write ${wantWrite}`], v.mapWrite && !wantWrite ? 'memory-safety' : 'deviation'));
  else findings.push(passed(p, `fd mode matches perm ${m.perm}`));
  return { next: s, findings };
}

export function judgeIotlbGetInfo(s: VduseState, start: bigint, last: bigint, reserved: boolean, r: Res<{ start: bigint; last: bigint }>): Judged {
  const d = s.dev!;
  const b = brokenIoctl(s, 'IOTLB_GET_INFO', r);
  if (b) return b;
  const id = 'vduse.iotlb.get-info';
  if (start > last) return { next: s, findings: [mustFail(id, r, 'EINVAL', 'start > last')] };
  if (reserved) return { next: s, findings: [mustFail(id, r, 'EINVAL', 'reserved field non-zero')] };
  if (!d.attached || d.deviceMaps === null) return { next: s, findings: [] };
  const m = firstOverlap(d.deviceMaps, start, last);
  if (!m) return { next: s, findings: [mustFail(id, r, 'EINVAL', `no region overlaps [${hex(start)}, ${hex(last)}]`)] };
  if (!r.ok) return { next: s, findings: [broke(id, `IOTLB_GET_INFO failed: ${r.errno}`, ['ok'])] };
  const ok = r.value.start === m.start && r.value.last === m.last;
  return { next: s, findings: [ok ? passed(id, `region [${hex(m.start)}, ${hex(m.last)}]`) : broke(id, `IOTLB_GET_INFO gave [${hex(r.value.start)}, ${hex(r.value.last)}]`, [`[${hex(m.start)}, ${hex(m.last)}]`])] };
}

export type UmemFault = 'iova' | 'size' | 'unaligned' | 'reserved';

/** REG_UMEM with one invalid argument: EINVAL in every version (vduse_dev_reg_umem; the reserved check in vduse_dev_ioctl). */
export function judgeRegUmem(s: VduseState, fault: UmemFault, r: Res): Judged {
  const b = brokenIoctl(s, 'IOTLB_REG_UMEM', r);
  if (b) return b;
  return { next: s, findings: [mustFail('vduse.iotlb.reg-umem', r, 'EINVAL', `invalid ${fault}`, 'memory-safety')] };
}

export function judgeShortRead(len: number, r: Res<number>): Finding {
  return mustFail('vduse.msg.read-size', r, 'EINVAL', `read buffer ${len} < ${VDUSE_MSG_SIZE}`);
}

/** A full-size O_NONBLOCK read with nothing queued. `r.value` is the request type when one was there. */
export function judgeEmptyRead(r: Res<number>): Finding {
  if (r.ok) return f('vduse.msg.read-size', 'INFORMATIONAL', `an unsolicited request (type ${r.value}) was queued`, ['EAGAIN']);
  // EAGAIN and EWOULDBLOCK are one number on Linux; Node names it either way.
  return r.errno === 'EAGAIN' || r.errno === 'EWOULDBLOCK' ? passed('vduse.msg.read-size', 'EAGAIN on an empty O_NONBLOCK queue') : broke('vduse.msg.read-size', `${r.errno} on an empty O_NONBLOCK queue`, ['EAGAIN']);
}

export type BadResponse = 'short' | 'reserved' | 'unknown-id';

export function judgeBadResponse(kind: BadResponse, r: Res<number>): Finding {
  const id = 'vduse.msg.write-checked';
  switch (kind) {
    case 'short':
      return mustFail(id, r, 'EINVAL', 'response shorter than struct vduse_dev_response');
    case 'reserved':
      return mustFail(id, r, 'EINVAL', 'response reserved field non-zero');
    case 'unknown-id':
      return mustFail(id, r, 'ENOENT', 'no request with that id is waiting');
  }
}

// -------------------------------------------------------------- driver side

/** vdpa dev add: every vq needs a max_size first (vdpa_dev_add → vduse_dev_is_ready). */
export function judgeAttach(s: VduseState, ok: boolean, detail: string): Judged {
  const d = s.dev;
  if (!d) return { next: s, findings: [] };
  if (d.attached) return { next: s, findings: ok ? [f('vduse.create.sequence', 'INFORMATIONAL', 'a second vdpa dev add of an attached device succeeded', ['refused'])] : [] };
  const unset = d.vqMax.findIndex((m) => m === 0);
  if (unset >= 0) {
    const id = 'vduse.create.attach-needs-vq-setup';
    return { next: ok ? withDev(s, { attached: true }) : s, findings: [ok ? broke(id, `attached although vq ${unset} has no max_size`, ['refused']) : passed(id, `attach refused: vq ${unset} not set up`)] };
  }
  // A device with no vq at all passes vduse_validate_config(), but what the vDPA bus and vhost-vdpa make of it is theirs to decide.
  if (!ok && d.vqNum === 0) return { next: s, findings: [f('vduse.create.sequence', 'INFORMATIONAL', `a device with vq_num 0 could not be attached: ${detail}`, ['ok', 'refused'])] };
  if (!ok) return { next: s, findings: [broke('vduse.create.sequence', `attach after CREATE_DEV and VQ_SETUP of every vq failed: ${detail}`, ['ok'])] };
  return { next: withDev(s, { attached: true, deviceMaps: [] }), findings: [passed('vduse.create.sequence', 'attached after every vq was set up')] };
}

/** vdpa dev del: the device leaves the bus; its IOTLB domain lives until DESTROY_DEV (vduse_destroy_dev). */
export function detach(s: VduseState): VduseState {
  return s.dev ? withDev(reset0(s), { attached: false, vdpaOpen: false, vhostFeatures: 0n, deviceMaps: null }) : s;
}

/** Opening /dev/vhost-vdpa-N resets the device (vhost_vdpa_open → vhost_vdpa_reset). */
export function vdpaOpened(s: VduseState): VduseState {
  return { ...s, dev: { ...reset(s.dev!), vdpaOpen: true, vhostFeatures: 0n } };
}

/**
 * Closing it resets the device and empties the driver's IOTLB (vhost_vdpa_release → vhost_vdpa_cleanup). Unless the
 * device was sent an UPDATE_IOTLB covering what it had mapped, its domain may still hold those ranges: what
 * IOTLB_GET_FD then finds is unknown, and a hit on a dropped range is recorded (vhost_vdpa_remove_as unmaps the
 * driver's IOTLB without set_map; only the next set_map, vduse_domain_set_map, clears the domain).
 */
export function vdpaClosed(s: VduseState, updates: readonly (readonly [bigint, bigint])[]): VduseState {
  const d = s.dev!;
  const held = d.deviceMaps ?? d.driverMaps;
  const told = held.every((m) => updates.some(([a, b]) => a <= m.start && b >= m.last));
  return { ...s, dev: { ...reset(d), vdpaOpen: false, vhostFeatures: 0n, driverMaps: [], deviceMaps: told ? [] : null, stale: told ? d.stale : [...d.stale, ...held] } };
}

function reset0(s: VduseState): VduseState {
  return { ...s, dev: reset(s.dev!) };
}

/** A reset the device answered (SET_STATUS 0), the vhost-vdpa node staying open. */
export function afterReset(s: VduseState): VduseState {
  return reset0(s);
}

/** A request went unanswered past msg_timeout: vduse_dev_msg_sync() marked the device broken. */
export function markBroken(s: VduseState): VduseState {
  return s.dev ? withDev(s, { broken: true }) : s;
}

/** What the suite, as the device, answered to a message: per vduse.rst it may refuse FEATURES_OK it cannot accept. */
export type Answer = 'ok' | 'failed' | 'late' | 'garbled' | 'none';

/** The device's rule (vduse.msg.set-status): FEATURES_OK with features it never offered is refused. */
export function deviceRefusesStatus(d: DeviceState, status: number): boolean {
  return (status & VIRTIO_CONFIG_S_FEATURES_OK) !== 0 && !(d.status & VIRTIO_CONFIG_S_FEATURES_OK) && (d.driverFeatures & ~d.features) !== 0n;
}

export interface SetStatusObserved {
  readonly ioctl: Res;
  /** SET_STATUS requests the device read while the ioctl ran, in order. */
  readonly messages: readonly number[];
  /** VHOST_VDPA_GET_STATUS afterwards. */
  readonly after: Res<number>;
  /** Results of the malformed responses written first (garbled answers only). */
  readonly badWrites: readonly { readonly kind: BadResponse; readonly r: Res<number> }[];
  /** The correct response's write; null when none was written. */
  readonly goodWrite: Res<number> | null;
}

/** VHOST_VDPA_SET_STATUS through vhost-vdpa while the suite answers as the device. `answer` is what it actually answered. */
export function judgeSetStatus(s: VduseState, status: number, answer: Answer, o: SetStatusObserved): Judged {
  const d = s.dev!;
  const findings: Finding[] = o.badWrites.map((b) => judgeBadResponse(b.kind, b.r));
  if (o.goodWrite) findings.push(o.goodWrite.ok && o.goodWrite.value === VDUSE_MSG_SIZE ? passed('vduse.msg.response-id', 'a response with the request\'s id was taken') : broke('vduse.msg.response-id', `a well-formed response to a waiting request was refused: ${show(o.goodWrite)}`, [`${VDUSE_MSG_SIZE}`]));
  // vhost_vdpa_set_status() refuses to clear bits other than by reset, before VDUSE hears of it.
  const clearsBits = status !== 0 && (d.status & ~status) !== 0;
  if (clearsBits && !o.ioctl.ok) return { next: s, findings: o.messages.length ? [...findings, f('vduse.msg.set-status', 'INFORMATIONAL', `refused status ${status} still reached the device`, ['no message'])] : findings };
  if (d.broken) {
    const id = 'vduse.msg.timeout-broken';
    findings.push(o.messages.length ? broke(id, 'a broken device was sent another request', ['no request (EIO at once)']) : passed(id, 'no request sent to a broken device'));
    return { next: status === 0 ? reset0(s) : s, findings };
  }
  const sid = 'vduse.msg.set-status';
  if (o.messages.length !== 1 || o.messages[0] !== status) findings.push(broke(sid, `the device was sent SET_STATUS [${o.messages.join(', ')}] for a driver status ${status}`, [`[${status}]`]));
  else findings.push(passed(sid, `SET_STATUS(${status}) delivered`));
  if (answer === 'none') return judgeTimeout(s, status, o, findings);
  const refused = answer === 'failed';
  let next: VduseState;
  let want: number;
  if (status === 0) {
    // vduse_vdpa_reset() resets whatever the device answered.
    next = reset0(s);
    want = 0;
    if (refused && o.ioctl.ok) findings.push(f('vduse.msg.result', 'INFORMATIONAL', 'a reset the device answered FAILED returned 0 to the driver', ['EIO', 'ok']));
  } else {
    want = refused ? d.status : status;
    next = withDev(s, { status: want, featuresCleared: d.featuresCleared && !(want & VIRTIO_CONFIG_S_FEATURES_OK) ? d.featuresCleared : false });
  }
  if (!o.after.ok) findings.push(broke(sid, `GET_STATUS failed: ${o.after.errno}`, [`${want}`]));
  else if (o.after.value !== want) {
    const id = refused && status !== 0 ? 'vduse.msg.set-status-failed' : status === 0 ? 'vduse.reset.clears' : sid;
    findings.push(broke(id, `status reads ${o.after.value} after the device answered ${refused ? 'FAILED' : 'OK'} to ${status}`, [`${want}`]));
  } else if (refused && status !== 0) findings.push(passed('vduse.msg.set-status-failed', `status stays ${want}`));
  return { next, findings };
}

function judgeTimeout(s: VduseState, status: number, o: SetStatusObserved, findings: Finding[]): Judged {
  const d = s.dev!;
  const id = 'vduse.msg.timeout-broken';
  // vduse_dev_msg_sync(): the wait ends at msg_timeout with FAILED and the device is marked broken.
  const want = status === 0 ? 0 : d.status;
  if (o.after.ok && o.after.value !== want) findings.push(broke(id, `status ${o.after.value} after an unanswered SET_STATUS(${status})`, [`${want}`]));
  const next = status === 0 ? reset0(s) : s;
  return { next: { ...next, dev: { ...next.dev!, broken: true } }, findings };
}

/** After an unanswered request: the device ioctl and poll must show the broken state (vduse_dev_ioctl EPERM, vduse_dev_poll EPOLLERR). */
export function judgeBrokenAfterTimeout(ioctl: Res<unknown>, pollErr: boolean): Finding[] {
  const id = 'vduse.msg.timeout-broken';
  return [mustFail(id, ioctl, 'EPERM', 'device ioctl after a request timed out'), pollErr ? passed(id, 'poll reports an error') : broke(id, 'poll shows no error on a broken device', ['EPOLLERR'])];
}

export function judgeSetFeatures(s: VduseState, features: bigint, r: Res): Judged {
  // vhost_vdpa_set_features() refuses after FEATURES_OK (EBUSY) and may refuse others: vhost-vdpa's rules, not VDUSE's.
  if (!r.ok) return { next: s, findings: [] };
  return { next: withDev(s, { driverFeatures: features, vhostFeatures: features, featuresCleared: false }), findings: [] };
}

export interface VringSetup {
  readonly index: number;
  readonly num: number;
  readonly desc: bigint;
  readonly driver: bigint;
  readonly device: bigint;
  readonly base: number;
}

/** VHOST_SET_VRING_NUM / _ADDR / _BASE through vhost-vdpa: each one that succeeded reaches the VDUSE vq (vduse_vdpa_set_vq_*). */
export function vringSet(s: VduseState, v: VringSetup, num: Res, addr: Res, base: Res): VduseState {
  const d = s.dev!;
  if (v.index >= d.vqNum) return s;
  const q = d.vqs[v.index]!;
  const nq: VqView = {
    ...q,
    num: num.ok ? v.num : q.num,
    ...(addr.ok ? { desc: v.desc, driver: v.driver, device: v.device } : {}),
    avail: base.ok ? v.base : q.avail,
    cleared: q.cleared && !num.ok && !addr.ok && !base.ok,
  };
  return withDev(s, { vqs: d.vqs.map((x, i) => (i === v.index ? nq : x)) });
}

export function vringEnabled(s: VduseState, index: number, ready: boolean, r: Res): VduseState {
  const d = s.dev!;
  if (!r.ok || index >= d.vqNum) return s;
  return withDev(s, { vqs: d.vqs.map((q, i) => (i === index ? { ...q, ready, cleared: q.cleared && !ready } : q)) });
}

export function callsSet(s: VduseState, vqCalls: readonly boolean[], config: boolean): VduseState {
  const d = s.dev!;
  return withDev(s, { vqs: d.vqs.map((q, i) => ({ ...q, call: vqCalls[i] ?? q.call })), configCall: config || d.configCall });
}

/** A driver kick; `signalled`: the VDUSE kickfd fired (null when none is installed). */
export function judgeKick(s: VduseState, index: number, signalled: boolean | null): Judged {
  const d = s.dev!;
  if (index >= d.vqNum) return { next: s, findings: [] };
  const vq = d.vqs[index]!;
  if (!vq.ready) return { next: s, findings: [] };
  if (!vq.kickfd) return { next: withDev(s, { vqs: d.vqs.map((q, i) => (i === index ? { ...q, kickPending: true } : q)) }), findings: [] };
  const id = 'vduse.vq.kickfd';
  return { next: s, findings: [signalled === false ? broke(id, `a driver kick on ready vq ${index} never reached its kickfd`, ['kickfd signalled']) : passed(id, `kick on vq ${index} reached the kickfd`)] };
}

export interface VqStateAnswer {
  readonly result: 'ok' | 'failed';
  readonly avail: number;
}

/** VHOST_GET_VRING_BASE: a GET_VQ_STATE request to the device, whose answer becomes the driver's value. */
export function judgeGetVringBase(s: VduseState, index: number, a: VqStateAnswer, messages: readonly number[], r: Res<number>): Judged {
  const d = s.dev!;
  // A split answer means nothing on a packed vq (judgeGetVringBasePacked covers it); nor when vhost-vdpa still reads
  // the state as packed after a reset cleared VDUSE's driver features (its acked features outlive the reset).
  if (index >= d.vqNum || (d.driverFeatures | d.vhostFeatures) & bit(VIRTIO_F_RING_PACKED)) return { next: s, findings: [] };
  if (d.broken) return { next: s, findings: [messages.length ? broke('vduse.msg.timeout-broken', 'a broken device was sent GET_VQ_STATE', ['EIO at once']) : passed('vduse.msg.timeout-broken', 'no GET_VQ_STATE to a broken device')] };
  const findings: Finding[] = [];
  const sid = 'vduse.msg.get-vq-state';
  if (messages.length !== 1 || messages[0] !== index) findings.push(broke(sid, `GET_VQ_STATE requests for vqs [${messages.join(', ')}], expected [${index}]`, [`[${index}]`]));
  if (a.result === 'failed') findings.push(mustFailAny('vduse.msg.result', r, 'the device answered GET_VQ_STATE with FAILED'));
  else if (!r.ok) findings.push(broke(sid, `GET_VRING_BASE failed (${r.errno}) though the device answered`, [`${a.avail}`]));
  else if (r.value !== a.avail) findings.push(broke(sid, `GET_VRING_BASE gave ${r.value}, the device answered ${a.avail}`, [`${a.avail}`]));
  else findings.push(passed(sid, `avail index ${a.avail} relayed`));
  return { next: s, findings };
}

/** A packed vq's state as the device answered it: [last_avail_counter, last_avail_idx, last_used_counter, last_used_idx]. */
export type PackedState = readonly [number, number, number, number];

/**
 * VHOST_GET_VRING_BASE on a packed vq: vduse_dev_get_vq_state_packed() masks the counters to 1 bit and the indices
 * to 15 before vhost-vdpa packs them (drivers/vhost/vdpa.c: idx | counter << 15; vhost.c: avail | used << 16).
 * vhost-vdpa before its packed fix (6.4) returned the split view, i.e. the masked avail counter alone.
 */
export function judgeGetVringBasePacked(s: VduseState, index: number, a: PackedState, r: Res<number>): Judged {
  const d = s.dev!;
  if (index >= d.vqNum || d.broken) return { next: s, findings: [] };
  const id = 'vduse.msg.get-vq-state-masked';
  const [ac, ai, uc, ui] = a;
  const avail = (ai & 0x7fff) | ((ac & 1) << 15);
  const used = (ui & 0x7fff) | ((uc & 1) << 15);
  const want = (avail | (used << 16)) >>> 0;
  if (!r.ok) return { next: s, findings: [broke(id, `GET_VRING_BASE on a packed vq failed: ${r.errno}`, [hex(want)])] };
  if (r.value === want) return { next: s, findings: [passed(id, `packed state masked to ${hex(want)}`, [hex(want)])] };
  if (r.value === (ac & 1)) return { next: s, findings: [f(id, 'INFORMATIONAL', 'vhost-vdpa returned the split view of a packed vq (before its packed GET_VRING_BASE)', [hex(want)])] };
  return { next: s, findings: [broke(id, `GET_VRING_BASE gave ${hex(r.value)} for the answer [${a.map(hex).join(', ')}]`, [hex(want)])] };
}

export interface IotlbUpdateObserved {
  readonly write: Res<number>;
  /** UPDATE_IOTLB requests seen while the write ran, as [start, last]. */
  readonly messages: readonly (readonly [bigint, bigint])[];
}

function insertSorted(maps: readonly Mapping[], m: Mapping): Mapping[] {
  return [...maps, m].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
}

/** VHOST_IOTLB_UPDATE on vhost-vdpa: vduse_vdpa_set_map() must tell the device (UPDATE_IOTLB) about a range covering it. */
export function judgeIotlbUpdate(s: VduseState, m: Mapping, answer: 'ok' | 'failed', o: IotlbUpdateObserved): Judged {
  const d = s.dev!;
  const overlaps = d.driverMaps.some((x) => x.start <= m.last && x.last >= m.start);
  // vhost_vdpa_process_iotlb_update(): an overlapping range is EEXIST before the parent is asked.
  if (overlaps) return { next: s, findings: [] };
  const findings: Finding[] = [];
  const id = 'vduse.msg.update-iotlb';
  if (d.broken) {
    findings.push(o.messages.length ? broke('vduse.msg.timeout-broken', 'a broken device was sent UPDATE_IOTLB', ['no request']) : passed('vduse.msg.timeout-broken', 'no UPDATE_IOTLB to a broken device'));
    return { next: o.write.ok ? withDev(s, { driverMaps: insertSorted(d.driverMaps, m), deviceMaps: null }) : s, findings };
  }
  const covered = o.messages.some(([a, b]) => a <= m.start && b >= m.last);
  findings.push(covered ? passed(id, 'UPDATE_IOTLB covers the new mapping') : broke(id, `no UPDATE_IOTLB covered [${hex(m.start)}, ${hex(m.last)}] (the driver's write: ${show(o.write)}): got ${o.messages.map(([a, b]) => `[${hex(a)}, ${hex(b)}]`).join(' ') || 'none'}`, ['a covering UPDATE_IOTLB']));
  if (answer === 'failed') {
    findings.push(mustFailAny('vduse.msg.result', o.write, 'the device answered UPDATE_IOTLB with FAILED'));
    // vduse_vdpa_set_map() then clears the domain (vduse_domain_clear_map) while vhost-vdpa keeps its other ranges: the device's view is unknown.
    return { next: withDev(s, { deviceMaps: null }), findings };
  }
  if (!o.write.ok) return { next: s, findings };
  const driverMaps = insertSorted(d.driverMaps, m);
  return { next: withDev(s, { driverMaps, deviceMaps: driverMaps, stale: [] }), findings };
}

/** VHOST_IOTLB_INVALIDATE: vhost_vdpa_unmap() drops every overlapping range and tells the device. */
export function judgeIotlbInvalidate(s: VduseState, start: bigint, last: bigint, answer: 'ok' | 'failed', o: IotlbUpdateObserved): Judged {
  const d = s.dev!;
  const driverMaps = d.driverMaps.filter((x) => !(x.start <= last && x.last >= start));
  // Nothing dropped: vhost_vdpa_unmap() still calls set_map (outside a batch); a FAILED answer to the UPDATE_IOTLB
  // that follows makes vduse_vdpa_set_map() clear the whole domain (vduse_domain_clear_map).
  if (driverMaps.length === d.driverMaps.length) return { next: answer === 'failed' && o.messages.length ? withDev(s, { deviceMaps: null }) : s, findings: [] };
  const id = 'vduse.msg.update-iotlb';
  if (d.broken) return { next: withDev(s, { driverMaps, deviceMaps: null }), findings: [] };
  const covered = o.messages.some(([a, b]) => a <= start && b >= last);
  const findings = [covered ? passed(id, 'UPDATE_IOTLB covers the invalidated range') : broke(id, `no UPDATE_IOTLB covered the invalidated [${hex(start)}, ${hex(last)}]`, ['a covering UPDATE_IOTLB'])];
  return { next: withDev(s, { driverMaps, deviceMaps: answer === 'ok' ? driverMaps : null, stale: answer === 'ok' ? [] : d.stale }), findings };
}

/** VHOST_VDPA_SET_CONFIG then GET_CONFIG: VDUSE's config space is read-only to the driver (vduse_vdpa_set_config). */
export function judgeDriverConfigWrite(s: VduseState, offset: number, readBack: Res<readonly number[]>): Judged {
  const d = s.dev!;
  const id = 'vduse.config.read-only';
  if (!readBack.ok) return { next: s, findings: [] };
  const want = d.config.slice(offset, offset + readBack.value.length);
  const same = want.length === readBack.value.length && want.every((x, i) => x === readBack.value[i]);
  return { next: s, findings: [same ? passed(id, 'driver write left the config unchanged') : broke(id, `config reads [${readBack.value.join(',')}] after a driver write, the device set [${want.join(',')}]`, [`[${want.join(',')}]`], 'corruption')] };
}

/** VHOST_VDPA_GET_CONFIG: what the device set (creation, DEV_SET_CONFIG) is what the driver reads. */
export function judgeDriverConfigRead(s: VduseState, offset: number, r: Res<readonly number[]>): Judged {
  const d = s.dev!;
  if (!r.ok) return { next: s, findings: [] };
  const want = d.config.slice(offset, offset + r.value.length);
  const same = want.length === r.value.length && want.every((x, i) => x === r.value[i]);
  const id = 'vduse.config.set-bounds';
  return { next: s, findings: [same ? passed(id, `driver reads the device's config at ${offset}`) : broke(id, `driver reads [${r.value.join(',')}] at ${offset}, the device set [${want.join(',')}]`, [`[${want.join(',')}]`], 'corruption')] };
}

/** A request read, the device fd closed and reopened: the request must come back (vduse_dev_release moves recv_list to send_list). */
export function judgeReconnect(first: { id: number; type: number } | null, again: { id: number; type: number } | null, completed: boolean): Finding[] {
  const id = 'vduse.dev.reconnect-replays';
  if (!first) return [];
  if (!again) return [broke(id, `request ${first.id} read before the close was not delivered after reopening`, ['the same request again'], completed ? 'deviation' : 'hang')];
  if (again.id !== first.id || again.type !== first.type) return [broke(id, `after reopening the device read request ${again.id} (type ${again.type}), not ${first.id} (type ${first.type})`, [`request ${first.id}`])];
  return [passed(id, `request ${first.id} delivered again after reopening`)];
}

export function hex(v: bigint | number): string {
  return `0x${v.toString(16)}`;
}

/** One blk request carried end to end: the driver posts it in its memory, the device serves it through VDUSE. */
export interface RoundTripObserved {
  /** The VDUSE kickfd fired after the driver's kick. */
  readonly kicked: boolean;
  /** The device read, through its IOTLB_GET_FD mapping, the bytes the driver wrote (null: not reached). */
  readonly deviceSaw: boolean | null;
  /** VQ_INJECT_IRQ's result and whether the driver's call eventfd fired (null: not reached). */
  readonly inject: Res | null;
  readonly irq: boolean | null;
  /** The driver read, in its own memory, the used entry, status and data the device wrote (null: not reached). */
  readonly driverSaw: boolean | null;
  readonly detail: string;
}

/** Only for a ready vq 0 with a kickfd and a call after DRIVER_OK; the device's processing is the suite's own. */
export function judgeRoundTrip(s: VduseState, o: RoundTripObserved): Judged {
  const findings: Finding[] = [];
  findings.push(o.kicked ? passed('vduse.vq.kickfd', 'the request\'s kick reached the kickfd') : broke('vduse.vq.kickfd', `a driver kick on ready vq 0 never reached its kickfd (${o.detail})`, ['kickfd signalled'], 'hang'));
  const id = 'vduse.iotlb.get-fd';
  if (o.deviceSaw === false) findings.push(broke(id, `the device read other bytes than the driver posted (${o.detail})`, ['the same bytes on both sides'], 'corruption'));
  if (o.inject) {
    if (!o.inject.ok) findings.push(broke('vduse.vq.inject-irq', `VQ_INJECT_IRQ(0) after DRIVER_OK failed: ${o.inject.errno}`, ['ok']));
    else findings.push(o.irq === false ? broke('vduse.vq.inject-irq', 'the used buffer\'s interrupt never reached the driver\'s call eventfd', ['call eventfd signalled']) : passed('vduse.vq.inject-irq', 'used buffer notified'));
  }
  if (o.driverSaw === false) findings.push(broke(id, `the driver read other bytes than the device completed (${o.detail})`, ['the same bytes on both sides'], 'corruption'));
  if (o.deviceSaw && o.driverSaw) findings.push(passed(id, `blk request carried both ways (${o.detail})`));
  return { next: s, findings };
}

/** What `vdpa dev config show` printed for a net device (keys absent when the kernel or tool did not report them). */
export interface NetConfigShown {
  readonly link?: string;
  readonly mtu?: number;
}

/**
 * The kernel reads a whole struct virtio_net_config for `vdpa dev config show` (vdpa.c vdpa_dev_net_config_fill),
 * past a shorter config space: vduse_vdpa_get_config() must zero-fill what lies beyond config_size, so status
 * (bytes 6-7) and mtu (10-11) read as the device's bytes where it has them and 0 past the end, never stale memory.
 */
export function judgeNetConfigShow(config: readonly number[], shown: NetConfigShown | null): Finding[] {
  if (!shown) return [];
  const byte = (i: number) => config[i] ?? 0;
  const id = 'vduse.config.zero-fill';
  const findings: Finding[] = [];
  if (shown.link !== undefined) {
    const want = byte(6) & 1 ? 'up' : 'down';
    findings.push(shown.link === want ? passed(id, `link ${want} from a ${config.length}-byte config`) : broke(id, `link ${shown.link} from a ${config.length}-byte config whose status reads ${want}`, [want], 'memory-safety'));
  }
  if (shown.mtu !== undefined) {
    const want = byte(10) | (byte(11) << 8);
    findings.push(shown.mtu === want ? passed(id, `mtu ${want} from a ${config.length}-byte config`) : broke(id, `mtu ${shown.mtu} from a ${config.length}-byte config (expected ${want}: zero past config_size)`, [`${want}`], 'memory-safety'));
  }
  return findings;
}

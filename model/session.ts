// Control-plane semantics of one vhost-user session (vhost-user.rst "Ring
// states", "Communication", message list) together with the device status
// and feature rules of virtio 1.2 §2.1, §2.2, §3.1. Pure: no I/O, no clock.
import { LOG_AREA_MAX, type Reply, type VhostRequest } from '../spec/requests.ts';
import { hasFeature, VIRTIO_F_ACCESS_PLATFORM, VIRTIO_F_RING_PACKED, VIRTIO_F_VERSION_1 } from '../spec/virtio/features.ts';
import {
  VIRTIO_CONFIG_S_ACKNOWLEDGE, VIRTIO_CONFIG_S_DRIVER, VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_CONFIG_S_FEATURES_OK, VIRTIO_CONFIG_S_NEEDS_RESET,
} from '../spec/virtio/status.ts';
import { VIRTQ_MAX_SIZE } from '../spec/virtio/ring.ts';
import { writableConfigFields } from '../spec/virtio/configAccess.ts';
import { VHOST_SET_CONFIG_TYPE_FRONTEND, VHOST_USER_MAX_CONFIG_SIZE } from '../spec/vhostUser/payloads.ts';
import {
  hasProtocolFeature, VHOST_USER_F_PROTOCOL_FEATURES, VHOST_USER_PROTOCOL_F_CONFIG, VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS, VHOST_USER_PROTOCOL_F_LOG_SHMFD, VHOST_USER_PROTOCOL_F_MQ,
  VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD, VHOST_USER_PROTOCOL_F_REPLY_ACK, VHOST_USER_PROTOCOL_F_RESET_DEVICE, VHOST_USER_PROTOCOL_F_STATUS,
} from '../spec/vhostUser/protocolFeatures.ts';
import * as M from '../spec/vhostUser/messages.ts';
import { VHOST_F_LOG_ALL } from '../spec/vhost/types.ts';
import { anyOf, type Harm, type Outcome, type StepResult, violation } from './outcome.ts';
import type { Profile } from './profile.ts';
import { iotlbInvalidate, iotlbUpdate, iotlbUpdateRefusal, type IotlbEntry, lastOf, memTableValid } from './memory.ts';
import { INFLIGHT_REQ, type InflightHeld, setInflightRequirement, stepGetInflightFd, stepSetInflightFd } from './inflight.ts';
import type { MemRegionDesc } from '../spec/requests.ts';

export interface VringModel {
  readonly num: number | null;
  readonly desc: bigint | null;
  readonly avail: bigint | null;
  readonly used: bigint | null;
  /** Next available index the device will read (vhost "last_avail_idx"). */
  readonly lastAvail: number;
  readonly kick: boolean;
  readonly call: 'none' | 'valid' | 'invalid';
  readonly enabled: boolean;
  readonly started: boolean;
  /** The device may have declared this queue broken after hostile input (until reset). */
  readonly maybeBroken: boolean;
  /** Untouched since a reset: a non-zero base then means the reset did not clear it. */
  readonly pristine: boolean;
  /**
   * False when the base was set while the ring layout (split or packed) was
   * not yet negotiated, or the layout changed since: its meaning is then undefined.
   */
  readonly baseKnown: boolean;
  /**
   * Chains an asynchronous device may have taken beyond lastAvail without the driver having seen them
   * used yet: GET_VRING_BASE may report up to this many more (split rings).
   */
  readonly availSlack?: number;
}

export interface SessionModel {
  readonly owner: boolean;
  readonly acked: bigint | null;
  readonly protocol: bigint | null;
  readonly memTable: readonly MemRegionDesc[] | null;
  readonly iotlb: readonly IotlbEntry[];
  /** The dirty log last accepted by SET_LOG_BASE (vhost-user.rst "Migration"), or null. */
  readonly log: { readonly size: bigint } | null;
  /** The inflight buffer the front-end holds from its last answered GET_INFLIGHT_FD, or null (kept across resets, as QEMU keeps it). */
  readonly inflight: InflightHeld | null;
  readonly status: number;
  readonly vrings: readonly VringModel[];
  /**
   * A RESET_DEVICE sent before its protocol feature was negotiated may have been acted on in full (resetDevice
   * below): the device then holds no acked features, else it still holds `acked`. Either, until the next SET_FEATURES it takes.
   */
  readonly ackedMaybeNone?: boolean;
  /** Likewise for the device status: `status`, or 0, until the next SET_STATUS it takes. */
  readonly statusMaybeZero?: boolean;
}

const INITIAL_VRING: VringModel = {
  num: null, desc: null, avail: null, used: null, lastAvail: 0, kick: false, call: 'none', enabled: false, started: false, maybeBroken: false, pristine: true, baseKnown: true,
};

export function initialSession(profile: Profile): SessionModel {
  return { owner: false, acked: null, protocol: null, memTable: null, iotlb: [], log: null, inflight: null, status: 0, vrings: Array.from({ length: profile.queues }, () => INITIAL_VRING) };
}

/** Requirement ids the control-plane rules are checked against. */
const SESSION_REQ = {
  getFeatures: 'vhost-user.features.get-features-stable',
  unofferedFeatures: 'virtio.status.features-ok-refusal',
  vringIndex: 'vhost-user.robust.vring-index-range',
  getVringBase: 'vhost-user.ring.get-vring-base-stops',
  reset: 'virtio.status.reset-clears',
  config: 'vhost-user.config.get-config',
  setConfig: 'vhost-user.config.set-config-readonly',
  status: 'vhost-user.status.get-status',
  memTable: 'vhost-user.robust.mem-region-overflow',
  iotlbZero: 'vhost.iotlb.update-zero-size-rejected',
  iotlbUaddr: 'vhost.iotlb.update-uaddr-checked',
  reply: 'vhost-user.reply.required',
  queueNum: 'vhost-user.reply.required',
  maxMemSlots: 'vhost-user.mem.max-mem-slots',
  addMemReg: 'vhost-user.mem.add-reg-maps',
  remMemReg: 'vhost-user.mem.rem-reg-unmaps',
  logBase: 'vhost-user.log.set-log-base',
  logFd: 'vhost-user.log.set-log-fd',
  logBaseOverflow: 'vhost-user.robust.log-base-overflow',
} as const;

/** True when the ring may process buffers (vhost-user.rst "Ring states": started and enabled). */
export function ringActive(v: VringModel): boolean {
  return v.started && v.enabled && v.num !== null && v.desc !== null;
}

/** The features the device holds for sure: none when an un-negotiated reset may have cleared them. */
function ackedForSure(s: SessionModel): bigint {
  return s.ackedMaybeNone ? 0n : s.acked ?? 0n;
}

function withVring(s: SessionModel, i: number, f: (v: VringModel) => VringModel): SessionModel {
  const vrings = s.vrings.slice();
  if (Number.isInteger(i) && i >= 0 && i < vrings.length) vrings[i] = f(vrings[i]);
  return { ...s, vrings };
}

function ok<S>(next: S, requirement: string, note: string, check?: (r: Reply) => string | null): Outcome<S> {
  return { kind: 'ok', verdict: 'PASS', requirement, next, note, check };
}

/**
 * A vring index outside the driven queues: refused, or (within GET_QUEUE_NUM's bound) either way.
 * Beyond it, "Multiple queue support" ("The max number of queues the back-end supports can be queried
 * with message VHOST_USER_GET_QUEUE_NUM") gives the back-end no such vring; acting on it anyway is an
 * access past its vring array (bug-catalog D4), the memory-safety outcome of a DE_FACTO rule.
 */
function badIndex(s: SessionModel, p: Profile, index: number, visible: boolean): StepResult<SessionModel> {
  if (!vringIndexPlausible(p, index)) return mustRefuse(s, visible, SESSION_REQ.vringIndex, `vring index ${index} ≥ ${p.vringLimit}`, 'memory-safety');
  const note = `vring index ${index}: not driven, but within the ${p.vringLimit} queues the back-end reports`;
  return anyOf(s, s, SESSION_REQ.vringIndex, note);
}

/** Message code of each request (vhost-user.rst "Front-end message types"; numbers from spec/vhostUser/messages.ts). */
const MESSAGE_CODE: Readonly<Record<VhostRequest['op'], number>> = {
  getFeatures: M.VHOST_USER_GET_FEATURES, setFeatures: M.VHOST_USER_SET_FEATURES, getProtocolFeatures: M.VHOST_USER_GET_PROTOCOL_FEATURES,
  setProtocolFeatures: M.VHOST_USER_SET_PROTOCOL_FEATURES, setOwner: M.VHOST_USER_SET_OWNER, resetDevice: M.VHOST_USER_RESET_DEVICE,
  getQueueNum: M.VHOST_USER_GET_QUEUE_NUM, setMemTable: M.VHOST_USER_SET_MEM_TABLE, setVringNum: M.VHOST_USER_SET_VRING_NUM,
  setVringAddr: M.VHOST_USER_SET_VRING_ADDR, setVringBase: M.VHOST_USER_SET_VRING_BASE, getVringBase: M.VHOST_USER_GET_VRING_BASE,
  setVringKick: M.VHOST_USER_SET_VRING_KICK, setVringCall: M.VHOST_USER_SET_VRING_CALL, setVringErr: M.VHOST_USER_SET_VRING_ERR,
  setVringEnable: M.VHOST_USER_SET_VRING_ENABLE, getConfig: M.VHOST_USER_GET_CONFIG, setConfig: M.VHOST_USER_SET_CONFIG,
  setStatus: M.VHOST_USER_SET_STATUS, getStatus: M.VHOST_USER_GET_STATUS, iotlbUpdate: M.VHOST_USER_IOTLB_MSG, iotlbInvalidate: M.VHOST_USER_IOTLB_MSG,
  getMaxMemSlots: M.VHOST_USER_GET_MAX_MEM_SLOTS, addMemReg: M.VHOST_USER_ADD_MEM_REG, remMemReg: M.VHOST_USER_REM_MEM_REG,
  setLogBase: M.VHOST_USER_SET_LOG_BASE, setLogFd: M.VHOST_USER_SET_LOG_FD, getInflightFd: M.VHOST_USER_GET_INFLIGHT_FD, setInflightFd: M.VHOST_USER_SET_INFLIGHT_FD,
};

const MESSAGES = new Map(M.FRONTEND_MESSAGES.map((m) => [m.code, m]));

/**
 * The message solicits a reply by itself ("Communication"; an entry naming a reply payload), given the
 * protocol features negotiated (SET_LOG_BASE replies only with LOG_SHMFD). IOTLB_MSG names a u64 reply,
 * yet back-ends send it only for need_reply (DPDK answers it through its generic REPLY_ACK path) and the
 * front-end (implementations/vhost-user/frontEnd.ts #set) waits for it only under REPLY_ACK: a refusal
 * is seen there exactly when REPLY_ACK is negotiated.
 */
function hasOwnReply(s: SessionModel, req: VhostRequest): boolean {
  const code = req.op === 'resetDevice' && !hasFeature(s.protocol ?? 0n, VHOST_USER_PROTOCOL_F_RESET_DEVICE) ? M.VHOST_USER_RESET_OWNER : MESSAGE_CODE[req.op];
  const m = MESSAGES.get(code);
  if (m === undefined || code === M.VHOST_USER_IOTLB_MSG) return false;
  const reply = m.ifFeature && hasProtocolFeature(s.protocol ?? 0n, m.ifFeature.feature) ? m.ifFeature.reply : m.reply;
  return reply.when === 'always';
}

/**
 * Whether the front-end can see the back-end refuse `req`. Over vhost-user "Most of the requests don't
 * require replies" ("Communication"): a refusal shows only in the message's own reply, or in the ack
 * that "VHOST_USER_PROTOCOL_F_REPLY_ACK" makes the back-end send ("the back-end MUST respond with a
 * Payload VhostUserMsg indicating success or failure"); the front-end sets need_reply on every message
 * once REPLY_ACK is negotiated (implementations/vhost-user/frontEnd.ts #set). In process and over
 * ioctls every request returns its result.
 */
export function refusalVisible(s: SessionModel, p: Profile, req: VhostRequest): boolean {
  if (p.transport !== 'vhost-user') return true;
  return hasOwnReply(s, req) || hasFeature(s.protocol ?? 0n, VHOST_USER_PROTOCOL_F_REPLY_ACK);
}

/**
 * A request the device must refuse: an error or a closed connection ("If back-end detects some error
 * ... it may also close the connection", "Communication") pass. Where the refusal is visible an `ok`
 * breaks `requirement` (the caller cites the sentence), weighed by `harm` (`violation`); where it is not,
 * `ok` passes and the harness checks that the back-end is still alive.
 */
function mustRefuse(s: SessionModel, visible: boolean, requirement: string, note: string, harm: Harm): StepResult<SessionModel> {
  const outcomes: Outcome<SessionModel>[] = [
    { kind: 'error', verdict: 'PASS', requirement, next: s, note },
    { kind: 'closed', verdict: 'PASS', requirement, next: s, note: 'back-end may drop the connection' },
  ];
  if (!visible) outcomes.push({ kind: 'ok', verdict: 'PASS', requirement, next: s, note: 'refusal not visible: no reply, and no REPLY_ACK' });
  return { outcomes, otherwise: { verdict: violation(requirement, harm), requirement } };
}

/**
 * A valid request of a negotiated feature, sent once, in the order the doc describes: its entry says what
 * the back-end does with it ("Set the size of the queue", "Sets the memory map regions", ...) and "Ring
 * states" obliges the back-end to process rings thus set up ("The back-end must start ring upon receiving
 * a kick"), so refusing it or dropping the session breaks `requirement`. Duplicates, re-configuration,
 * unusual order and unnegotiated messages never come here (stepSession): the text leaves those open.
 */
function accept(next: SessionModel, prev: SessionModel, requirement: string, note: string, check?: (r: Reply) => string | null): StepResult<SessionModel> {
  const verdict = violation(requirement);
  return { outcomes: [ok(next, requirement, note, check), { kind: 'error', verdict, requirement, next: prev, note: 'valid request refused' }], otherwise: { verdict, requirement } };
}

/** The text leaves the answer open: the back-end may take the request (`okNext`) or refuse it (state unchanged). */
function mayRefuse(next: SessionModel, prev: SessionModel, requirement: string, note: string, check?: (r: Reply) => string | null): StepResult<SessionModel> {
  const r = anyOf(prev, next, requirement, note);
  return check ? { ...r, outcomes: r.outcomes.map((o) => (o.kind === 'ok' ? { ...o, check } : o)) } : r;
}

function valueIs(expected: bigint | number, what: string): (r: Reply) => string | null {
  return (r) => {
    const v = 'ok' in r && r.ok ? r.value : undefined;
    if (v === undefined || typeof v === 'object') return `${what}: no value`;
    return BigInt(v) === BigInt(expected) ? null : `${what}: expected ${fmt(expected)}, got ${fmt(v)}`;
  };
}

/**
 * SET_VRING_KICK / CALL / ERR carry the index in a u64 whose "Bits (0-7) ... contain the vring index. Bit 8 is
 * the invalid FD flag": an index above 255 reaches the back-end as its low 8 bits, with bits the doc leaves
 * undefined set above bit 8 (implementations/vhost-user/frontEnd.ts vringFileWord). When those low bits name
 * a driven vring, a back-end that reads bits 0-7 acts on it and one that minds the undefined bits refuses: the
 * text allows both.
 */
function undefinedIndexBits(s: SessionModel, p: Profile, req: Extract<VhostRequest, { op: 'setVringKick' | 'setVringCall' | 'setVringErr' }>): StepResult<SessionModel> | null {
  const wire = req.index & 0xff;
  if (!vringIndexValid(p, wire)) return null;
  const acted = stepNegotiated(s, p, { ...req, index: wire }).outcomes.find((o) => o.kind === 'ok')?.next ?? s;
  return anyOf(s, acted, SESSION_REQ.vringIndex, `vring index ${req.index}: bits 0-7 name vring ${wire}, the bits above bit 8 are undefined`);
}

function fmt(v: bigint | number): string {
  return typeof v === 'bigint' ? `0x${v.toString(16)}` : String(v);
}

function vringIndexValid(p: Profile, index: number): boolean {
  return Number.isInteger(index) && index >= 0 && index < p.queues;
}

/** An index the back-end may support although the suite does not drive it. */
function vringIndexPlausible(p: Profile, index: number): boolean {
  return Number.isInteger(index) && index >= p.queues && index < p.vringLimit;
}

/**
 * GET_VRING_BASE value check. For packed rings only the low half (avail
 * index | wrap << 15) is defined by both Linux vhost and DPDK; the high half
 * (used index) is an extension of Linux vhost, so it is not compared.
 */
function baseIs(expected: number, packed: boolean, slack: number): (r: Reply) => string | null {
  return (r) => {
    const v = 'ok' in r && r.ok && typeof r.value === 'number' ? r.value : null;
    if (v === null) return 'vring base: no value';
    const got = packed ? v & 0xffff : v;
    const want = packed ? expected & 0xffff : expected;
    if (!packed && ((got - want) & 0xffff) <= slack && got <= 0xffff) return null;
    if (got === want) return null;
    return slack > 0 ? `vring base: expected 0x${want.toString(16)} to 0x${((want + slack) & 0xffff).toString(16)}, got 0x${got.toString(16)}` : `vring base: expected 0x${want.toString(16)}, got 0x${got.toString(16)}`;
  };
}

/** Messages a front-end may send only after negotiating a protocol feature (vhost-user.rst message list). */
const GATED: Partial<Record<VhostRequest['op'], { bit: number; requirement: string | ((p: Profile, req: VhostRequest) => string) }>> = {
  getStatus: { bit: VHOST_USER_PROTOCOL_F_STATUS, requirement: SESSION_REQ.status },
  setStatus: { bit: VHOST_USER_PROTOCOL_F_STATUS, requirement: SESSION_REQ.status },
  getConfig: { bit: VHOST_USER_PROTOCOL_F_CONFIG, requirement: SESSION_REQ.config },
  setConfig: { bit: VHOST_USER_PROTOCOL_F_CONFIG, requirement: SESSION_REQ.setConfig },
  getQueueNum: { bit: VHOST_USER_PROTOCOL_F_MQ, requirement: SESSION_REQ.queueNum },
  getMaxMemSlots: { bit: VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS, requirement: SESSION_REQ.maxMemSlots },
  addMemReg: { bit: VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS, requirement: SESSION_REQ.addMemReg },
  remMemReg: { bit: VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS, requirement: SESSION_REQ.remMemReg },
  // Without LOG_SHMFD a vhost-user back-end has no way to receive the log ("Migration").
  setLogBase: { bit: VHOST_USER_PROTOCOL_F_LOG_SHMFD, requirement: SESSION_REQ.logBase },
  getInflightFd: { bit: VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD, requirement: INFLIGHT_REQ.get },
  // An out-of-range num_queues is judged as such even unnegotiated: a back-end that acts on it anyway must not index past its queues.
  setInflightFd: { bit: VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD, requirement: (p, req) => (req.op === 'setInflightFd' ? setInflightRequirement(p, req.numQueues) : INFLIGHT_REQ.set) },
};

/**
 * VHOST_USER_SET_VRING_ENABLE "should be sent only when VHOST_USER_F_PROTOCOL_FEATURES has been
 * negotiated"; GET/SET_PROTOCOL_FEATURES are "Only legal if feature bit VHOST_USER_F_PROTOCOL_FEATURES is
 * present in VHOST_USER_GET_FEATURES"; IOTLB messages need ACCESS_PLATFORM. Outside those conditions the
 * back-end may refuse them.
 */
function outsideItsFeature(s: SessionModel, p: Profile, req: VhostRequest): boolean {
  // Over ioctls (vhost-vdpa's VHOST_VDPA_SET_VRING_ENABLE) the same request needs no vhost-user feature.
  if (p.transport === 'ioctl') return false;
  if (req.op === 'setVringEnable') return !hasFeature(ackedForSure(s), VHOST_USER_F_PROTOCOL_FEATURES);
  if (req.op === 'getProtocolFeatures' || req.op === 'setProtocolFeatures') return !hasFeature(p.offeredFeatures, VHOST_USER_F_PROTOCOL_FEATURES);
  // "VHOST_USER_IOTLB_MSG": "This request should be send only when VIRTIO_F_IOMMU_PLATFORM feature has been successfully negotiated."
  if (req.op === 'iotlbUpdate' || req.op === 'iotlbInvalidate') return !hasFeature(ackedForSure(s), VIRTIO_F_ACCESS_PLATFORM);
  return false;
}

export function stepSession(s: SessionModel, p: Profile, req: VhostRequest): StepResult<SessionModel> {
  const gate = GATED[req.op];
  // A message of a protocol feature not negotiated is one the back-end may not know, over a socket or in process (the
  // simulated device is a vhost-user back-end); over ioctls the same request is a plain call that needs no negotiation.
  const gated = gate && !hasFeature(s.protocol ?? 0n, gate.bit) && p.transport !== 'ioctl';
  if (gated || outsideItsFeature(s, p, req)) {
    const requirement = gate === undefined ? SESSION_REQ.reply : typeof gate.requirement === 'string' ? gate.requirement : gate.requirement(p, req);
    // The front-end broke the protocol on purpose: refusing or closing is right; answering anyway is
    // left open, and a device that answered has also acted on the message.
    const acted = stepNegotiated(s, p, req).outcomes.find((o) => o.kind === 'ok')?.next ?? s;
    return {
      outcomes: [
        { kind: 'error', verdict: 'PASS', requirement, next: s, note: 'message of a feature not negotiated refused' },
        { kind: 'closed', verdict: 'PASS', requirement, next: s, note: 'message of a feature not negotiated: connection closed' },
        { kind: 'ok', verdict: 'INFORMATIONAL', requirement, next: acted, note: 'answered although its feature was not negotiated' },
      ],
      otherwise: { verdict: violation(requirement, 'hang'), requirement },
    };
  }
  return stepNegotiated(s, p, req);
}

/** virtio 1.2 §3.1.1 "Driver Requirements: Device Initialization": ACKNOWLEDGE, DRIVER, FEATURES_OK (after the features), DRIVER_OK, in that order; 0 resets. */
function statusInOrder(s: SessionModel, status: number): boolean {
  // After an un-negotiated reset the device may hold status 0 and no features: the order must hold from either.
  if (s.statusMaybeZero && !statusInOrder({ ...s, status: 0, statusMaybeZero: false }, status)) return false;
  if (status === 0) return true;
  // "The driver MUST NOT clear a device status bit" (§2.1.2); the field is 8 bits.
  return status <= 0xff && (s.status & ~status) === 0
    && setAfter(status, VIRTIO_CONFIG_S_DRIVER, VIRTIO_CONFIG_S_ACKNOWLEDGE)
    && setAfter(status, VIRTIO_CONFIG_S_FEATURES_OK, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER) && (!(status & VIRTIO_CONFIG_S_FEATURES_OK) || (s.acked !== null && !s.ackedMaybeNone))
    && setAfter(status, VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_CONFIG_S_FEATURES_OK);
}

/** `bit` is clear in `status`, or set together with every bit of `prerequisite`. */
function setAfter(status: number, bit: number, prerequisite: number): boolean {
  return !(status & bit) || (status & prerequisite) === prerequisite;
}

function stepNegotiated(s: SessionModel, p: Profile, req: VhostRequest): StepResult<SessionModel> {
  const R = SESSION_REQ;
  const visible = refusalVisible(s, p, req);
  // A vring message for a started ring re-configures it while it runs: "the back-end must support changing
  // some configuration aspects on the fly" ("Ring states") does not say which, so it may refuse.
  const running = 'index' in req && vringIndexValid(p, req.index) && s.vrings[req.index].started;
  switch (req.op) {
    case 'getFeatures':
      // "VHOST_USER_GET_FEATURES": "Get from the underlying vhost implementation the features bitmask" — its own, every time.
      return accept(s, s, R.getFeatures, 'returns the offered features', valueIs(p.offeredFeatures, 'features'));
    case 'setFeatures': {
      // virtio 1.2 §2.2.2 (devicenormative:Basic Facilities of a Virtio Device / Feature Bits): a feature set the
      // device does not accept makes it "fail to set the FEATURES_OK device status bit"; bits it never offered are such a set.
      if ((req.features & ~p.offeredFeatures) !== 0n) return mustRefuse(s, visible, R.unofferedFeatures, 'features not offered', 'deviation');
      // vhost-user.rst "Ring states": without PROTOCOL_FEATURES rings are initialised enabled.
      const enabled = !hasFeature(req.features, VHOST_USER_F_PROTOCOL_FEATURES);
      const layoutChanged = s.acked === null || hasFeature(s.acked, VIRTIO_F_RING_PACKED) !== hasFeature(req.features, VIRTIO_F_RING_PACKED);
      const vrings = s.vrings.map((v) => ({ ...v, enabled, baseKnown: v.baseKnown && (v.pristine || !layoutChanged) }));
      const next = { ...s, acked: req.features, vrings, ackedMaybeNone: false };
      // After an un-negotiated reset the device holds either no features (this is a first SET_FEATURES, to be taken)
      // or the earlier ones (a re-negotiation, left open): the weaker of the two rules applies.
      if (s.ackedMaybeNone) return mayRefuse(next, s, R.reply, 'features set after a reset that may or may not have cleared them');
      if (s.acked !== null) {
        // "Migration": the front-end "may send messages VHOST_USER_SET_FEATURES with VHOST_F_LOG_ALL" to start and
        // stop logging: that change must be taken. Any other second SET_FEATURES (a repeat, other bits) is a
        // re-negotiation the doc does not describe: taken or refused (DPDK refuses changes while running).
        const logOnly = ((s.acked ^ req.features) & ~(1n << BigInt(VHOST_F_LOG_ALL))) === 0n && s.acked !== req.features;
        if (!logOnly) return mayRefuse({ ...s, acked: req.features, vrings: s.vrings.map((v) => ({ ...v, baseKnown: v.baseKnown && (v.pristine || !layoutChanged) })) }, s, R.reply, 'features set again');
        return accept({ ...s, acked: req.features }, s, R.reply, 'dirty logging switched by VHOST_F_LOG_ALL');
      }
      if (hasFeature(p.offeredFeatures, VIRTIO_F_VERSION_1) && !hasFeature(req.features, VIRTIO_F_VERSION_1)) {
        // virtio 1.2 §6.1: "A device MAY fail to operate further if VIRTIO_F_VERSION_1 is not accepted."
        const requirement = 'virtio.features.version-1-may-fail';
        return {
          outcomes: [
            ok(next, R.reply, 'features acked without VERSION_1'),
            { kind: 'error', verdict: 'PASS', requirement, next: s, note: 'refused: VERSION_1 not accepted' },
            { kind: 'closed', verdict: 'PASS', requirement, next: s, note: 'stopped operating: VERSION_1 not accepted' },
          ],
          otherwise: { verdict: violation(R.reply, 'hang'), requirement: R.reply },
        };
      }
      return accept(next, s, R.reply, 'features acked');
    }
    case 'getProtocolFeatures':
      // "VHOST_USER_GET_PROTOCOL_FEATURES": "Get the protocol feature bitmask from the underlying vhost implementation".
      return accept(s, s, R.getFeatures, 'returns the offered protocol features', valueIs(p.offeredProtocolFeatures, 'protocol features'));
    case 'setProtocolFeatures':
      // No sentence says what a back-end does with bits it did not offer, nor with a second SET_PROTOCOL_FEATURES
      // (the front-end sends it once, after GET_PROTOCOL_FEATURES): either answer. Taken, the front-end acts on the bits sent.
      if ((req.features & ~p.offeredProtocolFeatures) !== 0n) return mayRefuse({ ...s, protocol: req.features }, s, R.reply, 'protocol features not offered');
      if (s.protocol !== null) return mayRefuse({ ...s, protocol: req.features }, s, R.reply, 'protocol features set again');
      // "Enable protocol features in the underlying vhost implementation."
      return accept({ ...s, protocol: req.features }, s, R.reply, 'protocol features acked');
    case 'setOwner':
      // "Issued when a new connection is established": a second one in the session (and after RESET_DEVICE, where "The
      // back-end retains ownership of the device") is a duplicate the doc does not describe: taken, refused or closed.
      if (s.owner) return mayRefuse(s, s, R.reply, 'SET_OWNER again: already the owner');
      return accept({ ...s, owner: true }, s, R.reply, 'owner set');
    case 'resetDevice': {
      // Without RESET_DEVICE a vhost-user front-end can only send the deprecated RESET_OWNER: "It is recommended that
      // back-ends either ignore this message, or use it to disable all rings", and "some back-ends interpreted it to also
      // discard connection state" (a recommendation against, no rule). In process the request is RESET_DEVICE itself,
      // "Only valid if the VHOST_USER_PROTOCOL_F_RESET_DEVICE protocol feature is set", which leaves an early one open.
      // So it may be refused, ignored, or acted on up to "reset all internal device state to the initial state": ring
      // state, acked features and status are then unknown (either value). Over ioctls a reset is always exact.
      const exact = p.transport === 'ioctl' || hasFeature(s.protocol ?? 0n, VHOST_USER_PROTOCOL_F_RESET_DEVICE);
      if (!exact) {
        const next: SessionModel = {
          ...s, ackedMaybeNone: s.acked !== null, statusMaybeZero: s.status !== 0,
          vrings: s.vrings.map((v) => ({ ...v, pristine: false, baseKnown: false, maybeBroken: true })),
        };
        return mayRefuse(next, s, R.reply, 'un-negotiated reset: refused, ignored, rings disabled, or device reset');
      }
      // "VHOST_USER_RESET_DEVICE": "disable all rings and reset all internal device state to the initial state".
      return accept({ ...s, acked: null, status: 0, iotlb: [], vrings: s.vrings.map(() => INITIAL_VRING), ackedMaybeNone: false, statusMaybeZero: false }, s, R.reset, 'device reset');
    }
    case 'getQueueNum':
      // "VHOST_USER_GET_QUEUE_NUM": "Query how many queues the back-end supports" — one number for the back-end.
      return accept(s, s, R.queueNum, 'returns the queue count', valueIs(p.queueNum ?? p.queues, 'queue num'));
    case 'setMemTable':
      // DE_FACTO (Memory regions description; DPDK vhost_user_mmap_region): a wrapping region is mapped short, so
      // translations through it land outside the mapping: a memory-safety outcome.
      if (!memTableValid(req.regions)) return mustRefuse(s, visible, R.memTable, 'region overflows 64 bits or too many regions', 'memory-safety');
      // Regions that overlap one another (in guest or user addresses) make translation ambiguous; the doc says nothing of them: either answer.
      if (req.regions.some((a, i) => req.regions.some((b, j) => j > i && (overlaps(a, b) || overlaps({ ...a, gpa: a.uaddr }, { ...b, gpa: b.uaddr }))))) {
        return mayRefuse({ ...s, memTable: req.regions }, s, R.reply, 'regions overlapping one another');
      }
      // "VHOST_USER_SET_MEM_TABLE": "Sets the memory map regions on the back-end so it can translate the vring addresses".
      return accept({ ...s, memTable: req.regions }, s, R.reply, 'memory table replaced');
    case 'setVringNum': {
      if (!vringIndexValid(p, req.index)) return badIndex(s, p, req.index, visible);
      const next = withVring(s, req.index, (v) => ({ ...v, num: req.num }));
      if (req.num === 0 || req.num > Math.min(p.maxQueueSize, VIRTQ_MAX_SIZE)) {
        // Size validation may be deferred to ring start; refusing now is the stricter choice.
        return mayRefuse(next, s, R.reply, 'bad queue size: refused now or checked at start');
      }
      if (running) return mayRefuse(next, s, R.reply, 'queue size of a started ring changed');
      return accept(next, s, R.reply, 'queue size set');
    }
    case 'setVringAddr': {
      if (!vringIndexValid(p, req.index)) return badIndex(s, p, req.index, visible);
      const next = withVring(s, req.index, (v) => ({ ...v, desc: req.desc, avail: req.avail, used: req.used }));
      const v = s.vrings[req.index];
      // "Migration": the front-end sends SET_VRING_ADDR with VHOST_VRING_F_LOG to start or stop logging a running ring: same addresses, must be taken.
      const sameAddrs = v.desc === req.desc && v.avail === req.avail && v.used === req.used;
      if (running && !sameAddrs) return mayRefuse(next, s, R.reply, 'addresses of a started ring changed');
      return accept(next, s, R.reply, 'ring addresses set');
    }
    case 'setVringBase': {
      if (!vringIndexValid(p, req.index)) return badIndex(s, p, req.index, visible);
      const next = withVring(s, req.index, (v) => ({ ...v, lastAvail: req.base, pristine: false, baseKnown: s.acked !== null && !s.ackedMaybeNone }));
      if (running) return mayRefuse(next, s, R.reply, 'base of a started ring changed');
      return accept(next, s, R.reply, 'ring base set');
    }
    case 'getVringBase': {
      if (!vringIndexValid(p, req.index)) return badIndex(s, p, req.index, visible);
      const v = s.vrings[req.index];
      // vhost-user.rst GET_VRING_BASE: stops the ring and returns the next index to process. Some
      // back-ends (libvhost-user) also drop the call fd then, so notifications are unknown until SET_VRING_CALL.
      // Over ioctls (vhost-vdpa) it only reads the index: vhost_vdpa_vring_ioctl() asks ops->get_vq_state, the ring runs on.
      const next = p.transport === 'ioctl'
        ? withVring(s, req.index, (x) => ({ ...x, availSlack: 0 }))
        : withVring(s, req.index, (x) => ({ ...x, started: false, kick: false, call: 'none', availSlack: 0 }));
      const requirement = v.pristine ? R.reset : R.getVringBase;
      const packed = s.acked !== null && hasFeature(s.acked, VIRTIO_F_RING_PACKED);
      // A pristine packed ring's avail wrap counter is 1 (virtio 1.2 §2.8.1): its base reads 0x8000.
      const expected = v.pristine && packed ? 0x8000 : v.lastAvail;
      // A packed ring's base after chains taken early is not predictable from here (descriptor counts and wrap): unchecked.
      const slack = v.availSlack ?? 0;
      const unknown = v.maybeBroken || !v.baseKnown || (packed && slack > 0);
      const check = unknown ? undefined : baseIs(expected, packed, slack);
      // A ring never set up (no size since the reset) has nothing to stop: the doc is silent, so a refusal passes; an answer must still be right.
      if (v.num === null) return mayRefuse(next, s, requirement, 'base of a ring never set up', check);
      return accept(next, s, requirement, 'ring stopped, base returned', check);
    }
    case 'setVringKick':
      if (req.index > 0xff) return undefinedIndexBits(s, p, req) ?? badIndex(s, p, req.index, visible);
      if (!vringIndexValid(p, req.index)) return badIndex(s, p, req.index, visible);
      return accept(withVring(s, req.index, (v) => ({ ...v, kick: true, started: true })), s, R.reply, 'kick installed, ring started');
    case 'setVringErr':
      // "VHOST_USER_SET_VRING_ERR": bit 8 means no fd; either way the ring state is untouched.
      if (req.index > 0xff) return undefinedIndexBits(s, p, req) ?? badIndex(s, p, req.index, visible);
      if (!vringIndexValid(p, req.index)) return badIndex(s, p, req.index, visible);
      return accept(s, s, req.invalid ? 'vhost-user.vring.err-invalid-fd' : R.reply, req.invalid ? 'error notifier removed' : 'error notifier installed');
    case 'setVringCall':
      if (req.index > 0xff) return undefinedIndexBits(s, p, req) ?? badIndex(s, p, req.index, visible);
      if (!vringIndexValid(p, req.index)) return badIndex(s, p, req.index, visible);
      return accept(withVring(s, req.index, (v) => ({ ...v, call: req.invalid ? 'invalid' : 'valid' })), s, R.reply, 'call installed');
    case 'setVringEnable':
      // "Rings can be enabled or disabled by VHOST_USER_SET_VRING_ENABLE."
      if (!vringIndexValid(p, req.index)) return badIndex(s, p, req.index, visible);
      return accept(withVring(s, req.index, (v) => ({ ...v, enabled: req.enable })), s, R.reply, req.enable ? 'ring enabled' : 'ring disabled');
    case 'getConfig':
      return stepGetConfig(s, p, req.offset, req.size);
    case 'setConfig':
      return stepSetConfig(s, p, req.offset, req.data.length, req.flags, visible);
    case 'setStatus':
      // "VHOST_USER_SET_STATUS": "notify the back-end with updated device status as defined in the Virtio
      // specification". A status out of the §3.1.1 order is one the virtio text gives the device no duty to take.
      if (!statusInOrder(s, req.status)) return mayRefuse({ ...s, status: req.status, statusMaybeZero: false }, s, R.status, `status 0x${req.status.toString(16)} out of the initialisation order`);
      return accept({ ...s, status: req.status, statusMaybeZero: false }, s, R.status, 'status stored');
    case 'getStatus':
      // "VHOST_USER_GET_STATUS": "query the back-end for its device status as defined in the Virtio specification".
      return accept(s, s, R.status, 'returns the status last set', statusCheck(s));
    case 'iotlbUpdate': {
      // Without ACCESS_PLATFORM negotiated the message never gets here (outsideItsFeature).
      const refusal = iotlbUpdateRefusal(req.iova, req.size, req.uaddr, req.perm);
      if (p.transport === 'ioctl' && refusal !== 'iova-range' && refusal !== 'uaddr-range') {
        const kernel = stepKernelIotlbUpdate(s, p, req);
        if (kernel) return kernel;
      }
      const requirement = refusal === 'uaddr-range' ? R.iotlbUaddr : R.iotlbZero;
      if (refusal === 'perm') {
        // "An IOTLB message": permissions 0 is "No access", a listed value, and values above 3 are undefined: taken
        // (as an entry that may or may not grant access) or refused.
        return mayRefuse({ ...s, iotlb: [...s.iotlb, { iova: req.iova, last: req.iova + req.size - 1n, uaddr: req.uaddr, perm: req.perm & 3, maybe: true }] }, s, requirement, 'no or unknown access permission');
      }
      // DE_FACTO (Linux vhost_chr_write_iter, umem_access_ok; bug-catalog L9): an empty or wrapping range taken as a
      // mapping covers the wrong addresses (size 0 at iova 0 maps the whole space): a memory-safety outcome.
      if (refusal !== null) return mustRefuse(s, visible, requirement, refusal === 'uaddr-range' ? 'uaddr + size wraps 64 bits' : 'empty or wrapping IOVA range', 'memory-safety');
      const entries = iotlbUpdate(s.iotlb, req.iova, req.size, req.uaddr, req.perm)!;
      // "IOMMU support": "the front-end sends IOTLB entries update ... On success, the back-end is expected to reply with a zero payload".
      return accept({ ...s, iotlb: entries }, s, R.reply, 'mapping added');
    }
    case 'iotlbInvalidate':
      // vhost_vdpa_process_iotlb_msg(): an INVALIDATE before any UPDATE finds no IOTLB for the ASID (asid_to_iotlb() is NULL
      // until vhost_vdpa_find_alloc_as()) and is EINVAL; with nothing mapped the model cannot tell whether one came before.
      if (p.transport === 'ioctl' && s.iotlb.length === 0) return mayRefuse(s, s, 'vhost-vdpa.iotlb.invalidate', 'invalidation with nothing mapped: no IOTLB for the ASID yet, or an empty one');
      // An empty range invalidates nothing the doc names: older kernels refuse it, newer ones take it (vhost.iotlb.invalidate-zero-size).
      if (req.size === 0n) return mayRefuse({ ...s, iotlb: iotlbInvalidate(s.iotlb, req.iova, req.size) }, s, R.reply, 'empty invalidation');
      return accept({ ...s, iotlb: iotlbInvalidate(s.iotlb, req.iova, req.size) }, s, R.reply, 'mappings removed');
    case 'getMaxMemSlots':
      // "VHOST_USER_GET_MAX_MEM_SLOTS": "The back-end should return the message with a u64 payload containing the maximum number of memory slots" (a SHOULD).
      return accept(s, s, R.maxMemSlots, 'returns the slot limit', (r) => ('ok' in r && r.ok && typeof r.value === 'number' && r.value >= 1 ? null : 'max mem slots: no positive count'));
    case 'addMemReg':
      return stepAddMemReg(s, req.region, visible);
    case 'remMemReg':
      return stepRemMemReg(s, req.region);
    case 'setLogBase':
      // De facto (DPDK vhost_user_set_log_base, bug-catalog D3): an area whose offset + size wraps 64 bits is refused; taken, the
      // first logged write is a stray store (memory safety). An empty one is refused too, but taking it harms nothing by itself.
      if (req.size === 0n || lastOf(req.offset, req.size) === null) return mustRefuse(s, visible, R.logBaseOverflow, 'log offset + size wraps 64 bits, or size 0', req.size === 0n ? 'deviation' : 'memory-safety');
      if (req.offset + req.size > LOG_AREA_MAX) {
        // The adapter then shares one page (spec/requests.ts): mapping past the end of a file is the back-end's
        // call (refused, or mapped and never touched); touching it would show up as a crash.
        return anyOf(s, s, R.logBaseOverflow, 'log area larger than the memfd behind it');
      }
      // "Migration": "The log memory fd is provided in the ancillary data of VHOST_USER_SET_LOG_BASE message when the back-end has
      // VHOST_USER_PROTOCOL_F_LOG_SHMFD"; a second one replaces the first (the front-end resizes the log as memory grows).
      return accept({ ...s, log: { size: req.size } }, s, R.logBase, 'log area set');
    case 'setLogFd':
      // "VHOST_USER_SET_LOG_FD is an optional message": taken or refused. Closing over it is allowed only "in exceptional
      // circumstances" ("Communication", a should): NON_STRICT.
      return {
        outcomes: [
          ok(s, R.logFd, 'optional log notifier taken'),
          { kind: 'error', verdict: 'PASS', requirement: R.logFd, next: s, note: 'optional log notifier refused' },
          { kind: 'closed', verdict: 'NON_STRICT', requirement: R.logFd, next: s, note: 'session dropped over an optional message' },
        ],
        otherwise: { verdict: violation(R.logFd, 'hang'), requirement: R.logFd },
      };
    case 'getInflightFd': {
      const packed = s.acked !== null && hasFeature(s.acked, VIRTIO_F_RING_PACKED);
      const get = (layout: boolean) => stepGetInflightFd(s, p, s.inflight, req.numQueues, req.queueSize, layout, (inflight) => ({ ...s, inflight }));
      const r = get(packed);
      // A device that may have dropped its features (ackedMaybeNone) may size the buffer for split rings ("Inflight I/O tracking").
      if (!packed || !s.ackedMaybeNone) return r;
      return { ...r, outcomes: [...r.outcomes, ...get(false).outcomes.filter((o) => o.kind === 'ok')] };
    }
    case 'setInflightFd': {
      const packed = s.acked !== null && hasFeature(s.acked, VIRTIO_F_RING_PACKED);
      const started = s.vrings.some((v) => v.started);
      return stepSetInflightFd(s, p, s.inflight, { numQueues: req.numQueues, queueSize: req.queueSize, packed }, req.withFd, started, (requirement, note, harm) => mustRefuse(s, visible, requirement, note, harm));
    }
  }
}

/**
 * An IOTLB UPDATE over ioctls that the kernel judges by what it overlaps or where its uaddr points, or null for one it
 * must take. vhost_vdpa_process_iotlb_update(): a range overlapping a mapping of the ASID is -EEXIST
 * (vhost-vdpa.iotlb.overlap-rejected); the uaddr is resolved in the owner's mm (vhost_vdpa_va_map() find_vma, -EINVAL
 * where nothing is mapped; vhost_vdpa_pa_map() pin_user_pages), so only the front-end's own memory must be mappable.
 * Only a mapping the model knows is there makes an overlap certain. A "maybe" entry may hold nothing:
 * vhost_vdpa_va_map() skips (goto next) every VMA that is not a shared file mapping and still returns 0, and an
 * INVALIDATE drops whole mappings (vhost_vdpa_iotlb_unmap), not just the range; overlapping only such entries, the
 * UPDATE may be taken or refused.
 */
function stepKernelIotlbUpdate(s: SessionModel, p: Profile, req: Extract<VhostRequest, { op: 'iotlbUpdate' }>): StepResult<SessionModel> | null {
  const last = req.iova + req.size - 1n;
  const own = (p.frontEndMemory ?? []).some((m) => req.uaddr >= m.uaddr && req.uaddr + req.size <= m.uaddr + m.size);
  const entry = { iova: req.iova, last, uaddr: req.uaddr, perm: req.perm & 3, ...(own ? {} : { maybe: true }) };
  const overlapped = s.iotlb.filter((e) => e.iova <= last && req.iova <= e.last);
  const requirement = 'vhost-vdpa.iotlb.overlap-rejected';
  if (overlapped.some((e) => !e.maybe)) {
    return {
      outcomes: [
        { kind: 'error', verdict: 'PASS', requirement, next: s, note: 'update overlapping a mapping refused' },
        // Taken anyway, it may have replaced the old mapping or not: both survive as "maybe".
        { kind: 'ok', verdict: violation(requirement), requirement, next: { ...s, iotlb: [...s.iotlb.map((e) => ({ ...e, maybe: true })), { ...entry, maybe: true }] }, note: 'update overlapping a mapping taken' },
      ],
      otherwise: { verdict: violation(requirement, 'hang'), requirement },
    };
  }
  // Taken, the kernel found nothing in the range (vhost_iotlb_itree_first() was NULL): the possible entries there are gone.
  const taken = { ...s, iotlb: [...iotlbInvalidate(s.iotlb, req.iova, req.size), entry] };
  if (overlapped.length > 0) return mayRefuse(taken, s, requirement, 'update overlapping only a mapping that may not be there');
  if (!own) return mayRefuse(taken, s, 'vhost-vdpa.iotlb.update-range', 'uaddr outside the front-end\'s own memory: the kernel maps what it finds there, or refuses');
  return null;
}

function sameRegion(a: MemRegionDesc, b: MemRegionDesc): boolean {
  return a.gpa === b.gpa && a.size === b.size && a.uaddr === b.uaddr;
}

function overlaps(a: MemRegionDesc, b: MemRegionDesc): boolean {
  return a.gpa < b.gpa + b.size && b.gpa < a.gpa + a.size;
}

/**
 * "VHOST_USER_ADD_MEM_REG": "describing a region of guest memory which the back-end device must map in". A
 * wrapping region is refused (DE_FACTO, as for SET_MEM_TABLE: memory safety); one overlapping a region already
 * there, or beyond the slots the back-end reported, is left to the back-end.
 */
function stepAddMemReg(s: SessionModel, region: MemRegionDesc, visible: boolean): StepResult<SessionModel> {
  if (!memTableValid([region])) return mustRefuse(s, visible, SESSION_REQ.memTable, 'region overflows 64 bits', 'memory-safety');
  const table = s.memTable ?? [];
  const next = { ...s, memTable: [...table, region] };
  if (!table.some((m) => overlaps(m, region))) return accept(next, s, SESSION_REQ.addMemReg, 'region added');
  return anyOf(s, next, SESSION_REQ.addMemReg, 'region overlapping one already mapped: the doc leaves the answer open');
}

/** "VHOST_USER_REM_MEM_REG": the region matching gpa, uaddr and size leaves the table; removing one that is not there is left open. */
function stepRemMemReg(s: SessionModel, region: MemRegionDesc): StepResult<SessionModel> {
  const table = s.memTable ?? [];
  const i = table.findIndex((m) => sameRegion(m, region));
  if (i >= 0) return accept({ ...s, memTable: table.filter((_, j) => j !== i) }, s, SESSION_REQ.remMemReg, 'region removed');
  return anyOf(s, s, SESSION_REQ.remMemReg, 'no such region: the doc does not say how to answer');
}

function statusCheck(s: SessionModel): (r: Reply) => string | null {
  // After an un-negotiated reset the device may read back 0 (statusMaybeZero).
  if (s.statusMaybeZero) {
    const asSet = statusCheck({ ...s, statusMaybeZero: false });
    const asReset = statusCheck({ ...s, status: 0, statusMaybeZero: false });
    return (r) => (asReset(r) === null ? null : asSet(r));
  }
  return (r) => {
    const v = 'ok' in r && r.ok && typeof r.value === 'number' ? r.value : null;
    if (v === null) return 'status: no value';
    // The device may clear FEATURES_OK (refusal, §2.2) and may add NEEDS_RESET (§2.1.1) after an error.
    const tolerated = VIRTIO_CONFIG_S_FEATURES_OK | (s.vrings.some((x) => x.maybeBroken) ? VIRTIO_CONFIG_S_NEEDS_RESET : 0);
    const extra = v & ~s.status & ~VIRTIO_CONFIG_S_NEEDS_RESET;
    if (extra !== 0 || ((s.status ^ v) & ~tolerated) !== 0) return `status: set 0x${s.status.toString(16)}, read 0x${v.toString(16)}`;
    if (v & VIRTIO_CONFIG_S_NEEDS_RESET && !(tolerated & VIRTIO_CONFIG_S_NEEDS_RESET)) return 'status: NEEDS_RESET without any error';
    return null;
  };
}

/**
 * vhost-user SET_CONFIG ("VHOST_USER_SET_CONFIG"): with flags 0 a write that touches a read-only field
 * must not be accepted; whether it was is seen in the reply under REPLY_ACK, and in the config space
 * read back after it (properties/harness.ts setConfig step). A live-migration write, or one past the
 * config space, is left to the back-end.
 */
function stepSetConfig(s: SessionModel, p: Profile, offset: number, size: number, flags: number, visible: boolean): StepResult<SessionModel> {
  const requirement = SESSION_REQ.setConfig;
  const within = size > 0 && size <= VHOST_USER_MAX_CONFIG_SIZE && offset + size <= p.configSize;
  if (flags !== VHOST_SET_CONFIG_TYPE_FRONTEND || !within) {
    const note = within ? 'live-migration write: the back-end may take read-only fields' : 'write outside the config space';
    return anyOf(s, s, requirement, note);
  }
  // A device that may hold no features (ackedMaybeNone) may treat as writable the fields writable without them.
  const writable = [...writableConfigFields(p.deviceType, s.acked ?? 0n), ...(s.ackedMaybeNone ? writableConfigFields(p.deviceType, 0n) : [])];
  const onlyWritable = writable.some((f) => offset >= f.offset && offset + size <= f.offset + f.size);
  // A writable field may still refuse a value it does not support (the device-type sections say which values mean what).
  if (onlyWritable) return mayRefuse(s, s, requirement, 'writable field written, or the value refused');
  // "back-ends MUST NOT accept SET_CONFIG for read-only configuration space fields unless the live migration bit is set".
  return mustRefuse(s, visible, requirement, `bytes ${offset}..${offset + size - 1} include a read-only field`, 'deviation');
}

/** vhost-user GET_CONFIG: bytes within the config space; beyond it an error, or zeros (never stale memory: bug-catalog L15). */
function stepGetConfig(s: SessionModel, p: Profile, offset: number, size: number): StepResult<SessionModel> {
  const req = SESSION_REQ.config;
  const within = size > 0 && size <= 256 && offset + size <= p.configSize;
  const lengthAndZeros = (r: Reply): string | null => {
    const v = 'ok' in r && r.ok ? r.value : undefined;
    if (!(v instanceof Uint8Array)) return 'config: no bytes';
    if (v.length !== size) return `config: asked ${size} bytes, got ${v.length}`;
    // Bytes inside the space must be the config space at that offset (a device ignoring `offset` is caught here).
    for (let i = 0; i < v.length && offset + i < p.config.length; i++) {
      if (v[i] !== p.config[offset + i]) return `config: byte ${offset + i} is 0x${v[i].toString(16)}, but the config space holds 0x${p.config[offset + i].toString(16)} there`;
    }
    for (let i = Math.max(0, p.configSize - offset); i < v.length; i++) if (v[i] !== 0) return `config: byte ${offset + i} beyond the ${p.configSize}-byte space is 0x${v[i].toString(16)}, not 0`;
    return null;
  };
  // "VHOST_USER_GET_CONFIG": "fetch the contents of the virtio device configuration space, vhost-user back-end's payload size MUST
  // match the front-end's request".
  if (within) return accept(s, s, req, 'config bytes returned', lengthAndZeros);
  // Beyond the space: refused, closed, or answered, but never with stale memory (bug-catalog L15: the bytes must be the space's, then zeros).
  return mayRefuse(s, s, req, 'out-of-range config access: refused, or zero-filled beyond the config space', lengthAndZeros);
}

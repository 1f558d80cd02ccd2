// Control-plane semantics of one vhost-user session (vhost-user.rst "Ring
// states", "Communication", message list) together with the device status
// and feature rules of virtio 1.2 §2.1, §2.2, §3.1. Pure: no I/O, no clock.
import { LOG_AREA_MAX, type Reply, type VhostRequest } from '../spec/requests.ts';
import { hasFeature, VIRTIO_F_ACCESS_PLATFORM, VIRTIO_F_RING_PACKED, VIRTIO_F_VERSION_1 } from '../spec/virtio/features.ts';
import { VIRTIO_CONFIG_S_FEATURES_OK, VIRTIO_CONFIG_S_NEEDS_RESET } from '../spec/virtio/status.ts';
import { VIRTQ_MAX_SIZE } from '../spec/virtio/ring.ts';
import { writableConfigFields } from '../spec/virtio/configAccess.ts';
import { VHOST_SET_CONFIG_TYPE_FRONTEND, VHOST_USER_MAX_CONFIG_SIZE } from '../spec/vhostUser/payloads.ts';
import {
  VHOST_USER_F_PROTOCOL_FEATURES, VHOST_USER_PROTOCOL_F_CONFIG, VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS, VHOST_USER_PROTOCOL_F_LOG_SHMFD, VHOST_USER_PROTOCOL_F_MQ,
  VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD, VHOST_USER_PROTOCOL_F_RESET_DEVICE, VHOST_USER_PROTOCOL_F_STATUS,
} from '../spec/vhostUser/protocolFeatures.ts';
import { anyOf, type Outcome, type StepResult } from './outcome.ts';
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

function withVring(s: SessionModel, i: number, f: (v: VringModel) => VringModel): SessionModel {
  return { ...s, vrings: s.vrings.map((v, j) => (j === i ? f(v) : v)) };
}

function ok<S>(next: S, requirement: string, note: string, check?: (r: Reply) => string | null): Outcome<S> {
  return { kind: 'ok', verdict: 'PASS', requirement, next, note, check };
}

/** A vring index outside the driven queues: refused, or (within GET_QUEUE_NUM's bound) either way. */
function badIndex(s: SessionModel, p: Profile, index: number): StepResult<SessionModel> {
  if (!vringIndexPlausible(p, index)) return mustRefuse(s, p, SESSION_REQ.vringIndex, `vring index ${index} ≥ ${p.vringLimit}`);
  const note = `vring index ${index}: not driven, but within the ${p.vringLimit} queues the back-end reports`;
  return anyOf(s, s, SESSION_REQ.vringIndex, note);
}

/** A request the device must refuse: error or a closed connection pass; `ok` is FAIL when errors are visible. */
function mustRefuse(s: SessionModel, p: Profile, requirement: string, note: string): StepResult<SessionModel> {
  const outcomes: Outcome<SessionModel>[] = [
    { kind: 'error', verdict: 'PASS', requirement, next: s, note },
    { kind: 'closed', verdict: 'PASS', requirement, next: s, note: 'back-end may drop the connection' },
  ];
  if (!p.errorsAlwaysVisible) outcomes.push({ kind: 'ok', verdict: 'PASS', requirement, next: s, note: 'refusal not visible without REPLY_ACK' });
  return { outcomes, otherwise: { verdict: 'FAIL', requirement } };
}

/** A request the device should accept; an error is tolerated but informational. */
function accept(next: SessionModel, prev: SessionModel, requirement: string, note: string, check?: (r: Reply) => string | null): StepResult<SessionModel> {
  return { outcomes: [ok(next, requirement, note, check), { kind: 'error', verdict: 'FAIL', requirement, next: prev, note: 'valid request refused' }], otherwise: { verdict: 'FAIL', requirement } };
}

function valueIs(expected: bigint | number, what: string): (r: Reply) => string | null {
  return (r) => {
    const v = 'ok' in r && r.ok ? r.value : undefined;
    if (v === undefined || typeof v === 'object') return `${what}: no value`;
    return BigInt(v) === BigInt(expected) ? null : `${what}: expected ${fmt(expected)}, got ${fmt(v)}`;
  };
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

export function stepSession(s: SessionModel, p: Profile, req: VhostRequest): StepResult<SessionModel> {
  const gate = GATED[req.op];
  if (gate && !hasFeature(s.protocol ?? 0n, gate.bit) && hasFeature(p.offeredFeatures, VHOST_USER_F_PROTOCOL_FEATURES)) {
    const requirement = typeof gate.requirement === 'string' ? gate.requirement : gate.requirement(p, req);
    // The front-end broke the protocol on purpose: refusing or closing is right; answering anyway is
    // left open, and a device that answered has also acted on the message.
    const acted = stepNegotiated(s, p, req).outcomes.find((o) => o.kind === 'ok')?.next ?? s;
    return {
      outcomes: [
        { kind: 'error', verdict: 'PASS', requirement, next: s, note: 'message of a protocol feature not negotiated refused' },
        { kind: 'closed', verdict: 'PASS', requirement, next: s, note: 'message of a protocol feature not negotiated: connection closed' },
        { kind: 'ok', verdict: 'INFORMATIONAL', requirement, next: acted, note: 'answered although its protocol feature was not negotiated' },
      ],
      otherwise: { verdict: 'FAIL', requirement },
    };
  }
  return stepNegotiated(s, p, req);
}

function stepNegotiated(s: SessionModel, p: Profile, req: VhostRequest): StepResult<SessionModel> {
  const R = SESSION_REQ;
  switch (req.op) {
    case 'getFeatures':
      return accept(s, s, R.getFeatures, 'returns the offered features', valueIs(p.offeredFeatures, 'features'));
    case 'setFeatures': {
      if ((req.features & ~p.offeredFeatures) !== 0n) return mustRefuse(s, p, R.unofferedFeatures, 'features not offered');
      // vhost-user.rst "Ring states": without PROTOCOL_FEATURES rings are initialised enabled.
      const enabled = !hasFeature(req.features, VHOST_USER_F_PROTOCOL_FEATURES);
      const layoutChanged = s.acked === null || hasFeature(s.acked, VIRTIO_F_RING_PACKED) !== hasFeature(req.features, VIRTIO_F_RING_PACKED);
      const vrings = s.vrings.map((v) => ({ ...v, enabled, baseKnown: v.baseKnown && (v.pristine || !layoutChanged) }));
      const next = { ...s, acked: req.features, vrings };
      if (hasFeature(p.offeredFeatures, VIRTIO_F_VERSION_1) && !hasFeature(req.features, VIRTIO_F_VERSION_1)) {
        // virtio 1.2 §6.1: "A device MAY fail to operate further if VIRTIO_F_VERSION_1 is not accepted."
        const requirement = 'virtio.features.version-1-may-fail';
        return {
          outcomes: [
            ok(next, R.reply, 'features acked without VERSION_1'),
            { kind: 'error', verdict: 'PASS', requirement, next: s, note: 'refused: VERSION_1 not accepted' },
            { kind: 'closed', verdict: 'PASS', requirement, next: s, note: 'stopped operating: VERSION_1 not accepted' },
          ],
          otherwise: { verdict: 'FAIL', requirement: R.reply },
        };
      }
      return accept(next, s, R.reply, 'features acked');
    }
    case 'getProtocolFeatures':
      return accept(s, s, R.getFeatures, 'returns the offered protocol features', valueIs(p.offeredProtocolFeatures, 'protocol features'));
    case 'setProtocolFeatures':
      if ((req.features & ~p.offeredProtocolFeatures) !== 0n) return mustRefuse(s, p, R.reply, 'protocol features not offered');
      return accept({ ...s, protocol: req.features }, s, R.reply, 'protocol features acked');
    case 'setOwner':
      return accept({ ...s, owner: true }, s, R.reply, 'owner set');
    case 'resetDevice': {
      // Without RESET_DEVICE a vhost-user front-end can only send the deprecated RESET_OWNER, which
      // back-ends "either ignore ... or use it to disable all rings" (vhost-user.rst): ring state is then unknown.
      const exact = p.errorsAlwaysVisible || hasFeature(s.protocol ?? 0n, VHOST_USER_PROTOCOL_F_RESET_DEVICE);
      if (!exact) return accept({ ...s, vrings: s.vrings.map((v) => ({ ...v, pristine: false, baseKnown: false, maybeBroken: true })) }, s, R.reply, 'RESET_OWNER: ignored or rings disabled');
      return accept({ ...s, acked: null, status: 0, iotlb: [], vrings: s.vrings.map(() => INITIAL_VRING) }, s, R.reset, 'device reset');
    }
    case 'getQueueNum':
      return accept(s, s, R.queueNum, 'returns the queue count', valueIs(p.queueNum ?? p.queues, 'queue num'));
    case 'setMemTable':
      if (!memTableValid(req.regions)) return mustRefuse(s, p, R.memTable, 'region overflows 64 bits or too many regions');
      return accept({ ...s, memTable: req.regions }, s, R.reply, 'memory table replaced');
    case 'setVringNum': {
      if (!vringIndexValid(p, req.index)) return badIndex(s, p, req.index);
      const next = withVring(s, req.index, (v) => ({ ...v, num: req.num }));
      if (req.num === 0 || req.num > Math.min(p.maxQueueSize, VIRTQ_MAX_SIZE)) {
        // Size validation may be deferred to ring start; refusing now is the stricter choice.
        return { outcomes: [{ kind: 'error', verdict: 'PASS', requirement: R.reply, next: s, note: 'bad queue size refused' }, ok(next, R.reply, 'bad size accepted, checked at start'), { kind: 'closed', verdict: 'PASS', requirement: R.reply, next: s, note: 'closed' }], otherwise: { verdict: 'FAIL', requirement: R.reply } };
      }
      return accept(next, s, R.reply, 'queue size set');
    }
    case 'setVringAddr':
      if (!vringIndexValid(p, req.index)) return badIndex(s, p, req.index);
      return accept(withVring(s, req.index, (v) => ({ ...v, desc: req.desc, avail: req.avail, used: req.used })), s, R.reply, 'ring addresses set');
    case 'setVringBase':
      if (!vringIndexValid(p, req.index)) return badIndex(s, p, req.index);
      return accept(withVring(s, req.index, (v) => ({ ...v, lastAvail: req.base, pristine: false, baseKnown: s.acked !== null })), s, R.reply, 'ring base set');
    case 'getVringBase': {
      if (!vringIndexValid(p, req.index)) return badIndex(s, p, req.index);
      const v = s.vrings[req.index];
      // vhost-user.rst GET_VRING_BASE: stops the ring and returns the next index to process. Some
      // back-ends (libvhost-user) also drop the call fd then, so notifications are unknown until SET_VRING_CALL.
      const next = withVring(s, req.index, (x) => ({ ...x, started: false, kick: false, call: 'none' }));
      const requirement = v.pristine ? R.reset : R.getVringBase;
      const packed = s.acked !== null && hasFeature(s.acked, VIRTIO_F_RING_PACKED);
      // A pristine packed ring's avail wrap counter is 1 (virtio 1.2 §2.8.1): its base reads 0x8000.
      const expected = v.pristine && packed ? 0x8000 : v.lastAvail;
      // A packed ring's base after chains taken early is not predictable from here (descriptor counts and wrap): unchecked.
      const slack = v.availSlack ?? 0;
      const unknown = v.maybeBroken || !v.baseKnown || (packed && slack > 0);
      return accept({ ...next, vrings: next.vrings.map((x, i) => (i === req.index ? { ...x, availSlack: 0 } : x)) }, s, requirement, 'ring stopped, base returned', unknown ? undefined : baseIs(expected, packed, slack));
    }
    case 'setVringKick':
      if (!vringIndexValid(p, req.index)) return badIndex(s, p, req.index);
      return accept(withVring(s, req.index, (v) => ({ ...v, kick: true, started: true })), s, R.reply, 'kick installed, ring started');
    case 'setVringErr':
      // "VHOST_USER_SET_VRING_ERR": bit 8 means no fd; either way the ring state is untouched.
      if (!vringIndexValid(p, req.index)) return badIndex(s, p, req.index);
      return accept(s, s, req.invalid ? 'vhost-user.vring.err-invalid-fd' : R.reply, req.invalid ? 'error notifier removed' : 'error notifier installed');
    case 'setVringCall':
      if (!vringIndexValid(p, req.index)) return badIndex(s, p, req.index);
      return accept(withVring(s, req.index, (v) => ({ ...v, call: req.invalid ? 'invalid' : 'valid' })), s, R.reply, 'call installed');
    case 'setVringEnable':
      if (!vringIndexValid(p, req.index)) return badIndex(s, p, req.index);
      return accept(withVring(s, req.index, (v) => ({ ...v, enabled: req.enable })), s, R.reply, req.enable ? 'ring enabled' : 'ring disabled');
    case 'getConfig':
      return stepGetConfig(s, p, req.offset, req.size);
    case 'setConfig':
      return stepSetConfig(s, p, req.offset, req.data.length, req.flags);
    case 'setStatus':
      return accept({ ...s, status: req.status }, s, R.status, 'status stored');
    case 'getStatus':
      return accept(s, s, R.status, 'returns the status last set', statusCheck(s));
    case 'iotlbUpdate': {
      const platform = s.acked !== null && hasFeature(s.acked, VIRTIO_F_ACCESS_PLATFORM);
      const refusal = iotlbUpdateRefusal(req.iova, req.size, req.uaddr, req.perm);
      const requirement = refusal === 'uaddr-range' ? R.iotlbUaddr : R.iotlbZero;
      if (refusal !== null && !platform) return informational(s, requirement);
      if (refusal !== null) return mustRefuse(s, p, requirement, refusal === 'uaddr-range' ? 'uaddr + size wraps 64 bits' : refusal === 'perm' ? 'no access permission' : 'empty or wrapping IOVA range');
      const entries = iotlbUpdate(s.iotlb, req.iova, req.size, req.uaddr, req.perm)!;
      return accept({ ...s, iotlb: entries }, s, R.reply, 'mapping added');
    }
    case 'iotlbInvalidate':
      return accept({ ...s, iotlb: iotlbInvalidate(s.iotlb, req.iova, req.size) }, s, R.reply, 'mappings removed');
    case 'getMaxMemSlots':
      return accept(s, s, R.maxMemSlots, 'returns the slot limit', (r) => ('ok' in r && r.ok && typeof r.value === 'number' && r.value >= 1 ? null : 'max mem slots: no positive count'));
    case 'addMemReg':
      return stepAddMemReg(s, p, req.region);
    case 'remMemReg':
      return stepRemMemReg(s, req.region);
    case 'setLogBase':
      // De facto (DPDK vhost_user_set_log_base, bug-catalog D3): an area whose offset + size wraps 64 bits, or is empty, is refused.
      if (req.size === 0n || lastOf(req.offset, req.size) === null) return mustRefuse(s, p, R.logBaseOverflow, 'log offset + size wraps 64 bits, or size 0');
      if (req.offset + req.size > LOG_AREA_MAX) {
        // The adapter then shares one page (spec/requests.ts): mapping past the end of a file is the back-end's
        // call (refused, or mapped and never touched); touching it would show up as a crash.
        return anyOf(s, s, R.logBaseOverflow, 'log area larger than the memfd behind it');
      }
      return accept({ ...s, log: { size: req.size } }, s, R.logBase, 'log area set');
    case 'setLogFd':
      // An optional message: taken or refused, but answered, and the session goes on.
      return anyOf(s, s, R.logFd, 'optional log notifier taken or refused', ['ok', 'error']);
    case 'getInflightFd': {
      const packed = s.acked !== null && hasFeature(s.acked, VIRTIO_F_RING_PACKED);
      return stepGetInflightFd(s, p, s.inflight, req.numQueues, req.queueSize, packed, (inflight) => ({ ...s, inflight }));
    }
    case 'setInflightFd':
      return stepSetInflightFd(s, p, s.inflight, req.numQueues, req.queueSize, req.withFd, (requirement, note) => mustRefuse(s, p, requirement, note));
  }
}

function sameRegion(a: MemRegionDesc, b: MemRegionDesc): boolean {
  return a.gpa === b.gpa && a.size === b.size && a.uaddr === b.uaddr;
}

function overlaps(a: MemRegionDesc, b: MemRegionDesc): boolean {
  return a.gpa < b.gpa + b.size && b.gpa < a.gpa + a.size;
}

/** "VHOST_USER_ADD_MEM_REG": the region joins the table; a region overlapping one already there is left to the back-end. */
function stepAddMemReg(s: SessionModel, p: Profile, region: MemRegionDesc): StepResult<SessionModel> {
  if (!memTableValid([region])) return mustRefuse(s, p, SESSION_REQ.memTable, 'region overflows 64 bits');
  const table = s.memTable ?? [];
  const next = { ...s, memTable: [...table, region] };
  if (!table.some((m) => overlaps(m, region))) return accept(next, s, SESSION_REQ.addMemReg, 'region added');
  const note = 'region overlapping one already mapped: the doc leaves the answer open';
  return {
    outcomes: [ok(next, SESSION_REQ.addMemReg, note), { kind: 'error', verdict: 'PASS', requirement: SESSION_REQ.addMemReg, next: s, note }, { kind: 'closed', verdict: 'PASS', requirement: SESSION_REQ.addMemReg, next: s, note }],
    otherwise: { verdict: 'FAIL', requirement: SESSION_REQ.addMemReg },
  };
}

/** "VHOST_USER_REM_MEM_REG": the region matching gpa, uaddr and size leaves the table; removing one that is not there is left open. */
function stepRemMemReg(s: SessionModel, region: MemRegionDesc): StepResult<SessionModel> {
  const table = s.memTable ?? [];
  const i = table.findIndex((m) => sameRegion(m, region));
  if (i >= 0) return accept({ ...s, memTable: table.filter((_, j) => j !== i) }, s, SESSION_REQ.remMemReg, 'region removed');
  return anyOf(s, s, SESSION_REQ.remMemReg, 'no such region: the doc does not say how to answer');
}

function informational(s: SessionModel, requirement: string): StepResult<SessionModel> {
  return {
    outcomes: [
      { kind: 'ok', verdict: 'PASS', requirement, next: s, note: 'no IOTLB without ACCESS_PLATFORM: either answer is fine' },
      { kind: 'error', verdict: 'PASS', requirement, next: s, note: 'no IOTLB without ACCESS_PLATFORM' },
      { kind: 'closed', verdict: 'PASS', requirement, next: s, note: 'closed' },
    ],
    otherwise: { verdict: 'FAIL', requirement },
  };
}

function statusCheck(s: SessionModel): (r: Reply) => string | null {
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
function stepSetConfig(s: SessionModel, p: Profile, offset: number, size: number, flags: number): StepResult<SessionModel> {
  const requirement = SESSION_REQ.setConfig;
  const within = size > 0 && size <= VHOST_USER_MAX_CONFIG_SIZE && offset + size <= p.configSize;
  if (flags !== VHOST_SET_CONFIG_TYPE_FRONTEND || !within) {
    const note = within ? 'live-migration write: the back-end may take read-only fields' : 'write outside the config space';
    return anyOf(s, s, requirement, note);
  }
  const writable = writableConfigFields(p.deviceType, s.acked ?? 0n);
  const onlyWritable = writable.some((f) => offset >= f.offset && offset + size <= f.offset + f.size);
  if (onlyWritable) return { outcomes: [ok(s, requirement, 'writable field written'), { kind: 'error', verdict: 'PASS', requirement, next: s, note: 'value refused' }], otherwise: { verdict: 'FAIL', requirement } };
  return mustRefuse(s, p, requirement, `bytes ${offset}..${offset + size - 1} include a read-only field`);
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
  if (within) return accept(s, s, req, 'config bytes returned', lengthAndZeros);
  return {
    outcomes: [
      { kind: 'error', verdict: 'PASS', requirement: req, next: s, note: 'out-of-range config access refused' },
      { kind: 'ok', verdict: 'PASS', requirement: req, next: s, note: 'zero-filled beyond the config space', check: lengthAndZeros },
      { kind: 'closed', verdict: 'PASS', requirement: req, next: s, note: 'closed' },
    ],
    otherwise: { verdict: 'FAIL', requirement: req },
  };
}

// Runs steps against a target and the reference model side by side and
// applies every oracle after every step. A failing verdict throws a
// CheckFailure, which is what fast-check shrinks on.
import { crashed, lastLogNote, type Target } from '../implementations/target.ts';
import { addWriteCandidate, applyWrite, type BlkExpectation, type Disk, expectBlk, readCandidates, type SectorCandidates, type WriteInFlight } from '../model/blk.ts';
import { type BufferShape, type ChainClass, type ChainShape, classifyChain, classifyChainWith, DEFECT_REQUIREMENT } from '../model/chain.ts';
import { invalidateLast, iotlbMap, memTableMap, translateRange } from '../model/memory.ts';
import { type NotifyRule, packedNotifyRule, splitNotifyRule } from '../model/notify.ts';
import { describeOutcomes, judge } from '../model/outcome.ts';
import { replyRequirement } from '../spec/requirements/vhostUser.ts';
import type { Profile } from '../model/profile.ts';
import { initialSession, refusalVisible, ringActive, type SessionModel, stepSession, type VringModel } from '../model/session.ts';
import { encode } from '../spec/codec.ts';
import { formatReply, outcomeKind, type Reply, type VhostRequest } from '../spec/requests.ts';
import type { Verdict } from '../spec/verdicts.ts';
import { VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_OK, VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, virtio_blk_outhdr } from '../spec/virtio/blk.ts';
import { bit, hasFeature, VIRTIO_F_ACCESS_PLATFORM, VIRTIO_F_IN_ORDER, VIRTIO_F_RING_PACKED, VIRTIO_F_VERSION_1, VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC } from '../spec/virtio/features.ts';
import { NET_RX_QUEUE, NET_TX_QUEUE, netHeaderSize, virtio_net_hdr_v1 } from '../spec/virtio/net.ts';
import { splitRingOffsets, VRING_AVAIL_F_NO_INTERRUPT, VRING_PACKED_EVENT_FLAG_DESC, VRING_PACKED_EVENT_FLAG_DISABLE } from '../spec/virtio/ring.ts';
import { STATUS_INIT_SEQUENCE } from '../spec/virtio/status.ts';
import { VHOST_F_LOG_ALL, VHOST_VRING_F_LOG } from '../spec/vhost/types.ts';
import { VHOST_SET_CONFIG_TYPE_FRONTEND } from '../spec/vhostUser/payloads.ts';
import { writableConfigFields } from '../spec/virtio/configAccess.ts';
import { VHOST_USER_F_PROTOCOL_FEATURES, VHOST_USER_PROTOCOL_F_CONFIG, VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS, VHOST_USER_PROTOCOL_F_LOG_SHMFD, VHOST_USER_PROTOCOL_F_STATUS } from '../spec/vhostUser/protocolFeatures.ts';
import type { MemRegionDesc } from '../spec/requests.ts';
import { fillGpa, gpaToUaddr, readGpa, writeGpa } from './driver/guestAccess.ts';
import { Latency } from './driver/latency.ts';
import { FRONT_END_PROTOCOL_FEATURES } from './driver/protocolFeatures.ts';
import { PackedRingDriver, type PackedUsedElem } from './driver/packedRing.ts';
import { SplitRingDriver, type UsedElem } from './driver/splitRing.ts';
import { checkLogged, clearPages, LOG_MARK_DIRTY, LOG_USED_RING, type LogExpectation, pagesOf, writtenPages } from './oracles/dirtyLog.ts';
import { checkConfigUnchanged } from './oracles/config.ts';
import { checkOfferedDependencies } from './oracles/features.ts';
import { checkBlk, checkLoopback, checkNumBuffers } from './oracles/integrity.ts';
import { checkGuards, checkUnchanged, WRITE_BOUND } from './oracles/memory.ts';
import { checkNotification } from './oracles/notify.ts';
import { checkFdGrowth, NO_LEAK_ON_REPEAT } from './oracles/resources.ts';
import { ChargedObservation, fail, lazyObservation, type Observation, pass } from './oracles/observation.ts';
import { checkUsedId, checkUsedLen, PACKED_USED, SPLIT_USED } from './oracles/used.ts';
import { onIoctl } from './ioctlRequirements.ts';
import type { LayoutSpec, SetupStep, Step } from './steps.ts';
import { formatStep } from './steps.ts';

const REGION_BOUNDARY = 0x10_0000n;
const DATA_START = 0x8_0000n;
const SLOT = 0x2000n;
const GAP = 16;
const GAP_BYTE = 0x5a;
const RING_AREA = 0x1_8000n;
const PACKED_INITIAL_BASE = 0x8000_8000;
/** Every data slot in address order: a session's (and a reset's) free list starts as a copy. */
const DATA_SLOTS: readonly bigint[] = Array.from({ length: Number((0x20_0000n - DATA_START) / SLOT) }, (_, i) => DATA_START + BigInt(i) * SLOT);
/** Queues whose ring areas fit below the data slots: the most the suite drives at once. */
export const MAX_DRIVEN_QUEUES = Number((DATA_START - 0x1000n) / RING_AREA);
/** Requirement checked when a ring that must not run processes buffers anyway. */
const RING_INACTIVE = 'vhost-user.ring.stopped-no-processing';
/** Requirement checked when a ring that must run leaves a valid buffer unprocessed. */
const RING_ACTIVE = 'vhost-user.ring.start-on-kick.buffers-used';
/** Requirement checked when a back-end drops the session although every chain it could see was valid. */
const SESSION_KEPT = 'vhost-user.ring.start-on-kick.session-kept';
/** A crash or hang after a kick with only valid chains in sight; with an invalid one, that chain's rule takes it. */
const SURVIVES_VALID = 'virtio.robust.survives.valid-chains';
/** A crash found after the last step, in chains a polling device took without a kick. */
const SURVIVES_POLLED = 'virtio.robust.survives.polled';
const ZERO_LEN = 'virtio.robust.zero-len-desc';
const REPLY_REQUIRED = 'vhost-user.reply.required';
const SET_CONFIG_READONLY = 'vhost-user.config.set-config-readonly';
/** Outcome kinds of the verdicts that are not judged replies (trigger `<step>/<outcome>`). */
const OUTCOME_OF_VERDICT: Partial<Record<Verdict, string>> = { CRASH: 'crash', TIMEOUT: 'hang', NON_STRICT: 'non-strict' };
const RUNAWAY = 'virtio.robust.avail-idx-runaway';
const DRIVER_AREAS = 'virtio.split.desc.no-write-readable';
/** How long a back-end process that closed its socket gets to be reaped before the close counts as deliberate. */
const EXIT_REAP_MS = 300;
/** A notification caused by a batch arrives with it; waiting longer only slows every kick down. */
const NOTIFY_WAIT_MS = 50;
/** Used-ring polling interval when no call notifier can wake the driver. */
const POLL_INTERVAL_MS = 2;
/** Wall time one churn step may take: a fast back-end does every replacement within it. */
const CHURN_BUDGET_MS = 3000;
/** How long one wait for a call lasts before the used ring is read again while collecting. */
const USED_POLL_MS = 5;
/** How long a device that answered synchronously so far gets to finish a kick it left work from. */
const SYNC_GRACE_MS = 20;
/** How long a suppressed notification gets to show up anyway. */
const SUPPRESSED_WAIT_MS = 10;
/** The dirty log the set-up shares: one page of bitmap (128 MiB of guest memory) at a page offset into its memfd, so a back-end that ignores mmap_offset is seen. */
const LOG_SIZE = 0x1000n;
const LOG_OFFSET = 0x1000n;
/** An asynchronous back-end may mark the log after it publishes used idx (DPDK syncs its log cache last): how long the marks get. */
const LOG_GRACE_MS = 100;
/** Requirement a chain in memory that REM_MEM_REG took back is judged against. */
const REM_REG_UNMAPS = 'vhost-user.mem.rem-reg-unmaps';
/** Requirement a refused buffer is judged against when only an acknowledged IOTLB invalidate unmapped it. */
const IOTLB_INVALIDATE_REMOVES = 'vhost-user.iotlb.invalidate-removes';

/**
 * The rule a crash or hang after a kick breaks: the first invalid chain in sight's own; else, with a
 * zero-length descriptor in sight, the zero-length rule (virtio.robust.zero-len-desc, bug-catalog L12,
 * Q3: the classic infinite loop); else the valid-chains rule.
 */
function crashCharge(visible: readonly Pending[]): string {
  for (const p of visible) if (!p.cls.valid) return p.cls.requirement;
  if (visible.some((p) => p.shape.buffers.some((b) => b.len === 0))) return ZERO_LEN;
  return SURVIVES_VALID;
}

/**
 * The ring size set-up uses: the one asked for, within what the device takes. A split ring's "Queue Size
 * value is always a power of 2" (virtio 1.0 §2.4); a packed ring's may be any up to 2^15 (virtio 1.1 §2.7).
 */
export function ringSize(wanted: number, packed: boolean, maxQueueSize: number): number {
  const size = Math.min(Math.max(1, wanted), Math.max(1, maxQueueSize));
  // A size meant for a packed ring (setupArb gives 3, 5, 13) on a device that offered none is cut to a power of 2.
  return packed ? size : 2 ** Math.floor(Math.log2(size));
}

/** A chain valid at one kick and refused at another: an asynchronous device may do either. */
function mergeClasses(before: ChainClass, now: ChainClass): ChainClass {
  if (before.valid === now.valid) return now.valid && before.valid && before.mayRefuse && !now.mayRefuse ? before : now;
  const valid = before.valid ? before : now;
  const refused = before.valid ? now : before;
  return valid.valid && !refused.valid ? { ...valid, mayRefuse: refused.requirement } : now;
}

/** What virtio 1.2 §5.1.6.3.1 says a driver without MRG_RXBUF SHOULD give every receive buffer: room for the header and a 1514-byte frame. */
const RX_BUFFER_SHOULD = 1526;

/**
 * The device filled an RX buffer smaller than RX_BUFFER_SHOULD with the start of a frame that did not fit. The driver
 * broke its SHOULD; what a device does with a packet larger than the buffer is not said (dropping it, as the simulated
 * device does, or cutting it, as vdpasim_net_work() does through vringh_iov_push_iotlb()). Writing past the buffer
 * would still be judged (virtio.robust.write-bound).
 */
function cutToBuffer(hdr: number, frame: Uint8Array, received: Uint8Array, len: number, writable: number): boolean {
  if (writable >= RX_BUFFER_SHOULD || writable >= hdr + frame.length || len !== writable || len < hdr) return false;
  return received.subarray(hdr, len).every((b, i) => b === frame[i]);
}

function cutFrame(frame: Uint8Array, got: number): Observation {
  return {
    requirement: 'virtio.net.loopback-integrity', verdict: 'INFORMATIONAL',
    detail: `a ${frame.length}-byte frame arrived cut to ${got} bytes in an RX buffer smaller than the ${RX_BUFFER_SHOULD} bytes a driver without MRG_RXBUF should supply (virtio 1.2 §5.1.6.3.1): the text leaves that open`,
  };
}

function min(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

export class CheckFailure extends Error {
  constructor(
    readonly observation: Observation,
    readonly expected: readonly string[],
    readonly actual: string,
    readonly stepIndex: number,
  ) {
    super(`${observation.requirement}: ${observation.detail}`);
    this.name = 'CheckFailure';
  }
}

interface Pending {
  readonly kind: 'blk' | 'netTx' | 'netRx' | 'hostile';
  /** Order in which the driver made it available. */
  readonly seq: number;
  readonly shape: ChainShape;
  /** Classified when the device can process it: at the kick, against the mappings in force then. */
  cls: ChainClass;
  /** A kick has already let the device see it. */
  kicked?: boolean;
  /**
   * An asynchronous device saw it on an active ring at some moment (it polls, or a kick reached it
   * late): it may have been taken before a later stop or disable, so its use then is no violation.
   */
  mayRunEarly?: boolean;
  /**
   * The driver changed how it is notified (suppression, or the call notifier itself) while an asynchronous
   * device could already have used this buffer: the batch that returns it may have been used under either
   * setting (§2.7.10, §2.8.10; vhost-user.rst "VHOST_USER_SET_VRING_CALL").
   */
  notifyChanged?: boolean;
  /** Its frame already arrived on RX before the device returned this TX buffer. */
  looped?: boolean;
  readonly descs: readonly number[];
  readonly slot: bigint | null;
  /** Readable bytes and canary gaps as the driver wrote them. */
  readonly fixed: readonly { gpa: bigint; bytes: Uint8Array }[];
  readonly writable: readonly BufferShape[];
  readonly blk?: { exp: BlkExpectation; type: number; write: WriteInFlight | null; read: SectorCandidates[] | null };
  readonly frame?: Uint8Array;
}

interface QueueSnapshot {
  readonly q: number;
  readonly qs: QueueState;
  readonly vr: VringModel;
  readonly active: boolean;
  readonly oldUsed: number;
  readonly availFlags: number;
  readonly usedEvent: number;
  readonly driverEvent: { offWrap: number; flags: number } | null;
  readonly driverAreas: readonly { gpa: bigint; bytes: Uint8Array }[];
}

interface QueueState {
  readonly driver: SplitRingDriver | PackedRingDriver;
  readonly outstanding: Map<number, Pending>;
}

export interface HarnessOptions {
  /** How long to wait for a device to finish a kick (0 for in-process targets, which finish synchronously). */
  readonly settleMs: number;
  /** Whether a verdict ends the run (FAIL always; NON_STRICT under --strict). Requirements already known to fail may be ignored. */
  readonly failsRun: (o: Observation) => boolean;
}

export class Harness {
  session: SessionModel;
  private disk: Disk = new Map();
  private readonly queues = new Map<number, QueueState>();
  /**
   * Frames sent and not yet received, in order. null stands for a malformed TX chain the device took
   * anyway: what it transmits then is the device's choice, so its arrival can be matched, not judged.
   */
  private pendingFrames: (Uint8Array | null)[] = [];
  /** The order the TX chains of `pendingFrames` were made available in: the order a device transmits them. */
  private pendingSeqs: number[] = [];
  /** Writes dropped by a reset before completing: their data may or may not be on the disk. */
  private ghostWrites: WriteInFlight[] = [];
  private setup: SetupStep | null = null;
  private freeSlots: bigint[] = [];
  /** IOVA ranges of acknowledged IOTLB invalidates this session (relabel refusals they caused). */
  private invalidatedIova: { start: bigint; last: bigint }[] = [];
  private sessionOver = false;
  /** How quickly this target answers: what every wait for it is scaled from. */
  private readonly latency = new Latency();
  /**
   * The last control message sent, and whether the GET_FEATURES sent behind it to see it survived went unanswered:
   * what a TIMEOUT names. Formatted only then (lastSentText): formatting every message cost a twentieth of a run.
   */
  private lastSent: { readonly req: VhostRequest; readonly barrier: boolean } | undefined;
  private postSeq = 0;
  private stepIndex = -1;
  readonly observations: ChargedObservation[] = [];
  /** The control message being sent and judged, if any: what its observations are charged to. */
  private controlOp: VhostRequest['op'] | null = null;
  readonly executed: Step[] = [];

  readonly profile: Profile;

  constructor(readonly target: Target, profile: Profile, private readonly opts: HarnessOptions) {
    // A kernel resolves IOTLB uaddrs in the front-end's own address space: the model needs to know what that holds (Profile.frontEndMemory).
    this.profile = profile.transport === 'ioctl' ? { ...profile, frontEndMemory: target.memory.regions.map((r) => ({ uaddr: r.uaddr, size: BigInt(r.bytes.length) })) } : profile;
    this.session = initialSession(profile);
    this.resetSlots();
  }

  private resetSlots(): void {
    this.freeSlots = DATA_SLOTS.slice();
  }

  get acked(): bigint {
    return this.session.acked ?? 0n;
  }

  get isSetUp(): boolean {
    return this.setup !== null;
  }

  queueCount(): number {
    return this.profile.queues;
  }

  dataQueues(): number[] {
    if (this.profile.deviceType === 'net') return [NET_RX_QUEUE, NET_TX_QUEUE];
    return Array.from({ length: this.profile.queues }, (_, i) => i);
  }

  freeDescriptors(q: number): number {
    return this.queues.get(q)?.driver.freeCount ?? 0;
  }

  outstandingCount(q: number): number {
    return this.queues.get(q)?.outstanding.size ?? 0;
  }

  /**
   * `expected` and `actual` may be thunks: the model's outcome list and the reply are formatted only for a failure that stops the run.
   * `outcome` is the kind of what happened (a reply kind for a control message); by default the verdict's.
   */
  private record(observed: Observation, expected: readonly string[] | (() => readonly string[]) = [], actual: string | (() => string) = '', outcome?: string): void {
    let o = observed;
    // vhost-user rules do not apply over ioctls: the kernel's own rule takes the observation, or nothing does (ioctlRequirements.ts).
    if (this.profile.transport === 'ioctl') {
      const mapped = onIoctl(o.requirement, o.verdict);
      if (mapped === null) return;
      if (mapped.requirement !== o.requirement || mapped.verdict !== o.verdict) o = { ...mapped, trigger: observed.trigger, get detail() { return observed.detail; } };
    }
    const trigger = o.trigger ?? `${this.triggerStep()}/${outcome ?? OUTCOME_OF_VERDICT[o.verdict] ?? o.verdict.toLowerCase()}`;
    const stored = new ChargedObservation(o, this.stepIndex, trigger);
    this.observations.push(stored);
    if (this.opts.failsRun(stored)) throw new CheckFailure(stored, typeof expected === 'function' ? expected() : expected, (typeof actual === 'function' ? actual() : actual) || o.detail, this.stepIndex);
  }

  /** The step an observation is charged to: the control message being judged, else the step being run. */
  private triggerStep(): string {
    if (this.controlOp !== null) return `control:${this.controlOp}`;
    return this.executed[this.stepIndex]?.t ?? 'finish';
  }

  async exec(step: Step): Promise<void> {
    // After the back-end legitimately closed the session, nothing more can be observed in it.
    if (this.sessionOver) return;
    this.executed.push(step);
    this.stepIndex = this.executed.length - 1;
    switch (step.t) {
      case 'setup': return this.doSetup(step);
      case 'control': { await (step.req.op === 'setConfig' ? this.setConfig(step.req) : this.control(step.req)); return; }
      case 'blk': return this.postBlk(step.queue, step.type, step.sector, step.data, step.readLen, step.layout);
      case 'netTx': return this.postNetTx(step.frame, step.layout);
      case 'netRx': return this.postNetRx(step.size, step.layout);
      case 'hostile': return this.postHostile(step);
      case 'kick': return this.kickAndCollect(step.queue);
      case 'notifyMode': return this.setNotifyMode(step.queue, step.suppress, step.eventOffset);
      case 'runaway': return this.runaway(step.queue, step.extra);
      // vhost-user ring states. Over ioctls (vhost-vdpa) GET_VRING_BASE does not stop a ring (vhost_vdpa_vring_ioctl() only
      // reads ops->get_vq_state), so there is nothing to restart; and a driver does not disable a queue it set up ("The
      // driver MUST NOT write a 0 to queue_enable", virtio 1.2 §4.1.4.3.2) nor enable one after DRIVER_OK unless
      // VHOST_BACKEND_F_ENABLE_AFTER_DRIVER_OK says it may (vhost-vdpa.frontend.enable-before-driver-ok): these steps are not sent.
      case 'stopRing': { if (this.ringStates) await this.control({ op: 'getVringBase', index: step.queue }); return; }
      case 'restartRing': return this.ringStates ? this.restartRing(step.queue) : undefined;
      case 'enableRing': { if (this.ringStates) await this.control({ op: 'setVringEnable', index: step.queue, enable: step.enable }); return; }
      case 'reset': return this.resetAndSetup();
      case 'churn': return this.churn(step.queue, step.count);
      case 'repeatGetInflight': return this.repeatGetInflight(step.numQueues, step.queueSize, step.count);
      case 'raw': throw new Error('a raw step runs on sessions of its own (runner/engine.ts runSteps), not inside a harness session');
      case 'unmapIotlb': return this.unmapIotlb(step.region);
      case 'remapIotlb': return this.iotlbRegion(step.region, step.perm);
      case 'memSlot': return this.memSlot(step.region, step.add);
    }
  }

  /** The transport has vhost-user ring states (stop by GET_VRING_BASE, SET_VRING_ENABLE at any time): not over ioctls. */
  private get ringStates(): boolean {
    return this.profile.transport !== 'ioctl';
  }

  /** Sends one request to the target and judges the reply against the model. */
  async control(req: VhostRequest): Promise<Reply> {
    // A closed session answers nothing more; one close is one observation, not one per later message.
    if (this.sessionOver) return { closed: true };
    // What this message causes (a refusal, a crash, a dropped session) is charged to it: the trigger of its observations.
    const outer = this.controlOp;
    this.controlOp = req.op;
    try {
      return await this.controlJudged(req);
    } finally {
      this.controlOp = outer;
    }
  }

  private async controlJudged(req: VhostRequest): Promise<Reply> {
    const stopped = req.op === 'getVringBase' ? req.index : -1;
    const early = stopped >= 0 ? this.takenEarly(stopped) : 0;
    if (early > 0) this.session = { ...this.session, vrings: this.session.vrings.map((v, i) => (i === stopped ? { ...v, availSlack: early } : v)) };
    const result = stepSession(this.session, this.profile, req);
    if (req.op === 'setVringCall' && this.asynchronous) for (const p of this.queues.get(req.index)?.outstanding.values() ?? []) p.notifyChanged = true;
    this.lastSent = { req, barrier: false };
    const sentAt = performance.now();
    let reply = await this.target.send(req);
    if ('ok' in reply) this.latency.observe(performance.now() - sentAt);
    // Over a socket a message without a reply is "ok" as soon as it is sent; a cheap request
    // behind it shows whether the back-end survived it, so a crash is charged to this message.
    if (!refusalVisible(this.session, this.profile, req) && 'ok' in reply && reply.ok && reply.value === undefined) {
      const barrier = await this.target.send({ op: 'getFeatures' });
      if (!('ok' in barrier)) reply = barrier;
      if ('timeout' in barrier) this.lastSent = { req, barrier: true };
    }
    // libvhost-user acknowledges a message it refuses (REPLY_ACK 0 from vu_dispatch) and then drops the session
    // (vu_panic): when this message may be refused by closing, a cheap request behind the ack shows whether the
    // session survived it, so the close is charged here and not to the next message. The ack itself is still judged.
    const closingAllowed = this.profile.transport === 'vhost-user' && result.outcomes.some((o) => o.kind === 'closed' && o.verdict === 'PASS');
    const endedAfterAck = closingAllowed && 'ok' in reply && reply.ok && reply.value === undefined && refusalVisible(this.session, this.profile, req) && 'closed' in (await this.target.send({ op: 'getFeatures' }));
    const judged = judge(result, reply, this.session);
    // The generic reply rule is judged per message (spec/requirements/vhostUser.ts REPLY_PER_MESSAGE).
    const j = judged.requirement === REPLY_REQUIRED ? { ...judged, requirement: replyRequirement(req.op) } : judged;
    // An asynchronous device may still be working through an earlier kick when this message arrives
    // (qsd handles kicks and messages in one loop, in either order): a session it drops now may be its
    // answer to a chain it found then, not to this message, and is judged as such — a death too, which
    // is charged to those chains (DPDK dies in its polling thread at whatever message comes next).
    const seen = 'closed' in reply && j.verdict !== 'PASS' ? this.chainsSeenEarly() : [];
    await this.checkAlive(seen.length > 0 ? crashCharge(seen) : j.requirement, reply, seen.length > 0 ? 'kick' : undefined);
    if (seen.length > 0) {
      this.sessionOver = true;
      this.judgeSessionDrop(seen, `while ${formatStep({ t: 'control', req })} was sent`);
      return reply;
    }
    if (req.op === 'setVringCall' && req.invalid && 'ok' in reply && reply.ok) await this.drainReplacedCall(req.index);
    if (req.op === 'iotlbInvalidate' && 'ok' in reply && reply.ok) this.invalidatedIova.push({ start: req.iova, last: invalidateLast(req.iova, req.size) });
    // A reset empties the IOTLB: what is unmapped afterwards was not invalidated.
    if (req.op === 'resetDevice' && j.next.iotlb.length === 0) this.invalidatedIova = [];
    this.session = j.next;
    this.record(
      lazyObservation(j.requirement, j.verdict, () => `${formatStep({ t: 'control', req })} → ${formatReply(reply)}: ${j.reason}`),
      () => describeOutcomes(result),
      () => formatReply(reply),
      outcomeKind(reply),
    );
    if (endedAfterAck) await this.checkAlive(j.requirement, { closed: true });
    if ('closed' in reply || endedAfterAck) this.sessionOver = true;
    // The base an asynchronous device reports counts the chains it took early (checked within availSlack): restart from it.
    if (early > 0 && 'ok' in reply && reply.ok && typeof reply.value === 'number' && this.queues.get(stopped)?.driver instanceof SplitRingDriver) {
      const base = reply.value & 0xffff;
      this.session = { ...this.session, vrings: this.session.vrings.map((v, i) => (i === stopped ? { ...v, lastAvail: base } : v)) };
    }
    this.noteActiveRings();
    return reply;
  }

  /**
   * SET_CONFIG between two reads of the same bytes: a back-end that took a write to a read-only field
   * shows it in the second read even when no REPLY_ACK reported the outcome (oracles/config.ts).
   * The reads are the suite's own probes, not steps the model judges: GET_CONFIG changes nothing.
   */
  private async setConfig(req: Extract<VhostRequest, { op: 'setConfig' }>): Promise<void> {
    const size = req.data.length;
    const read = async (): Promise<Uint8Array | null> => {
      const r = await this.target.send({ op: 'getConfig', offset: req.offset, size });
      return 'ok' in r && r.ok && r.value instanceof Uint8Array && r.value.length === size ? Uint8Array.from(r.value) : null;
    };
    const judged = req.flags === VHOST_SET_CONFIG_TYPE_FRONTEND && size > 0 && req.offset + size <= this.profile.configSize && hasFeature(this.session.protocol ?? 0n, VHOST_USER_PROTOCOL_F_CONFIG);
    const before = judged && !this.sessionOver ? await read() : null;
    const reply = await this.control(req);
    if (before === null || this.sessionOver || !('ok' in reply)) return;
    const writable = writableConfigFields(this.profile.deviceType, this.acked);
    const readBack = await this.target.send({ op: 'getConfig', offset: req.offset, size });
    // A write the device must refuse, answered by closing the session once the reply was sent (libvhost-user
    // vu_set_config calls vu_panic when the device's set_config fails, and REPLY_ACK has already said 0): the
    // session ended at this message, which is judged on its reply; the next message or the chains outstanding did not end it.
    if ('closed' in readBack && !writable.some((f) => req.offset >= f.offset && req.offset + size <= f.offset + f.size)) {
      await this.checkAlive(SET_CONFIG_READONLY, readBack, 'control:setConfig');
      this.sessionOver = true;
      return;
    }
    const after = 'ok' in readBack && readBack.ok && readBack.value instanceof Uint8Array && readBack.value.length === size ? Uint8Array.from(readBack.value) : null;
    if (after !== null) this.record(checkConfigUnchanged(req.offset, before, after, writable));
  }

  /** Outstanding chains of queue `q` an asynchronous device may already have taken. */
  private takenEarly(q: number): number {
    const qs = this.queues.get(q);
    if (!qs || !this.asynchronous) return 0;
    return [...qs.outstanding.values()].filter((p) => p.mayRunEarly).length;
  }

  /** Every chain outstanding on an active ring may be taken by an asynchronous device from now on. */
  private noteActiveRings(): void {
    if (!this.asynchronous) return;
    for (const [q, qs] of this.queues) {
      const v = this.session.vrings[q];
      if (v === undefined || !ringActive(v)) continue;
      for (const p of qs.outstanding.values()) p.mayRunEarly = true;
    }
  }

  /**
   * A dead or hung target is CRASH / TIMEOUT, whatever the step. A process
   * that closed the connection may not be reaped yet, so a closed reply waits
   * a moment for the exit before it counts as a deliberate close.
   */
  /** `step`: the step kind a death is charged to, when not the one running (its trigger). */
  private async checkAlive(requirement: string, reply?: Reply, step?: string): Promise<void> {
    let h = await this.target.health();
    for (let waited = 0; h.state === 'alive' && reply && 'closed' in reply && this.profile.transport === 'vhost-user' && waited < this.latency.scale(EXIT_REAP_MS); waited += 20) {
      await new Promise((r) => setTimeout(r, 20));
      h = await this.target.health();
    }
    if (crashed(h, this.target.info)) this.record({ requirement, verdict: 'CRASH', detail: `target exited (code ${h.code}, signal ${h.signal})${lastLogNote(h)}`, ...(step !== undefined && { trigger: `${step}/crash` }) });
    if (h.state === 'exited' && reply && !('closed' in reply) && !crashed(h, this.target.info)) this.sessionOver = true;
    if (h.state === 'hung' || (reply && 'timeout' in reply)) {
      // A back-end that stopped answering cannot be judged further in this session: one TIMEOUT, not one per later message.
      this.sessionOver = true;
      const lastSent = this.lastSentText();
      this.record({ requirement, verdict: 'TIMEOUT', detail: reply && 'timeout' in reply && lastSent ? `target stopped answering: ${lastSent} went unanswered` : 'target stopped answering' });
    }
  }

  private lastSentText(): string | undefined {
    if (this.lastSent === undefined) return undefined;
    const sent = formatStep({ t: 'control', req: this.lastSent.req });
    return this.lastSent.barrier ? `getFeatures() sent after ${sent} to see it was survived` : sent;
  }

  private wantedFeatures(s: SetupStep): bigint {
    const offered = this.profile.offeredFeatures;
    let f = offered & (bit(VIRTIO_F_VERSION_1) | bit(VHOST_USER_F_PROTOCOL_FEATURES));
    const opt = (on: boolean, b: number) => { if (on) f |= offered & bit(b); };
    opt(s.packed, VIRTIO_F_RING_PACKED);
    opt(s.eventIdx, VIRTIO_RING_F_EVENT_IDX);
    opt(s.indirect, VIRTIO_RING_F_INDIRECT_DESC);
    opt(s.inOrder, VIRTIO_F_IN_ORDER);
    // vhost-vdpa parents translate every address through the IOTLB: vdpa_sim refuses features without ACCESS_PLATFORM
    // (drivers/vdpa/vdpa_sim/vdpa_sim.c vdpasim_set_driver_features()), so over ioctls it is taken whenever offered.
    opt(s.platform || this.profile.transport === 'ioctl', VIRTIO_F_ACCESS_PLATFORM);
    opt(s.log === true, VHOST_F_LOG_ALL);
    return f;
  }

  private ringAddrs(q: number): { desc: bigint; avail: bigint; used: bigint; indirect: bigint } {
    const base = 0x1000n + BigInt(q) * RING_AREA;
    return { desc: base, avail: base + 0x4000n, used: base + 0x5000n, indirect: base + 0x8000n };
  }

  /** The address the device is given for a ring: an IOVA (= GPA here) with ACCESS_PLATFORM, else a front-end virtual address. */
  private ringAddr(gpa: bigint): bigint {
    return hasFeature(this.acked, VIRTIO_F_ACCESS_PLATFORM) ? gpa : gpaToUaddr(this.target.memory, gpa);
  }

  private async doSetup(s: SetupStep): Promise<void> {
    this.setup = s;
    const mem = this.target.memory;
    const features = this.wantedFeatures(s);
    // SET_OWNER is "issued when a new connection is established" (vhost-user.rst): once per session, not again after a reset.
    if (!this.session.owner) await this.control({ op: 'setOwner' });
    const offer = await this.control({ op: 'getFeatures' });
    if ('ok' in offer && offer.ok && typeof offer.value === 'bigint') for (const o of checkOfferedDependencies(offer.value, this.profile.deviceType)) this.record({ ...o, trigger: `control:getFeatures/${o.verdict.toLowerCase()}` });
    // Over ioctls the driver drives the virtio status itself (VHOST_VDPA_SET_STATUS), in the order of virtio 1.2 §3.1.1:
    // ACKNOWLEDGE, DRIVER, features, FEATURES_OK and its read-back; DRIVER_OK once the rings are set up, when vhost-vdpa starts the device.
    const [acknowledge, driver, featuresOk, driverOk] = STATUS_INIT_SEQUENCE;
    const ioctl = this.profile.transport === 'ioctl';
    if (ioctl) for (const st of [acknowledge, driver]) await this.control({ op: 'setStatus', status: st });
    if (hasFeature(this.profile.offeredFeatures, VHOST_USER_F_PROTOCOL_FEATURES)) {
      await this.control({ op: 'getProtocolFeatures' });
      await this.control({ op: 'setProtocolFeatures', features: this.profile.offeredProtocolFeatures & FRONT_END_PROTOCOL_FEATURES });
    }
    await this.control({ op: 'setFeatures', features });
    if (ioctl) {
      await this.control({ op: 'setStatus', status: featuresOk });
      await this.control({ op: 'getStatus' });
    }
    const protocol = this.session.protocol ?? 0n;
    if (s.memSlots && hasFeature(protocol, VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS)) {
      await this.control({ op: 'getMaxMemSlots' });
      for (let i = 0; i < mem.regions.length; i++) await this.control({ op: 'addMemReg', region: this.regionDesc(i) });
    } else {
      await this.control({ op: 'setMemTable', regions: mem.regions.map((_, i) => this.regionDesc(i)) });
    }
    const logging = s.log === true && hasFeature(this.acked, VHOST_F_LOG_ALL) && hasFeature(protocol, VHOST_USER_PROTOCOL_F_LOG_SHMFD) && this.target.dirtyLog !== undefined;
    if (logging) {
      await this.control({ op: 'setLogBase', size: LOG_SIZE, offset: LOG_OFFSET });
      // As a migrating front-end may: an eventfd for "the log has been modified" (vhost-user.rst "Migration").
      await this.control({ op: 'setLogFd' });
    }
    if (hasFeature(this.acked, VIRTIO_F_ACCESS_PLATFORM)) {
      for (let i = 0; i < mem.regions.length; i++) await this.iotlbRegion(i, 3);
    }
    const usePacked = hasFeature(this.acked, VIRTIO_F_RING_PACKED);
    const num = ringSize(s.num, usePacked, this.profile.maxQueueSize);
    for (const q of this.dataQueues()) {
      const addrs = this.ringAddrs(q);
      // A split ring may start at any index: near 256 and 65536 the 16-bit arithmetic is exercised early.
      const base = usePacked ? 0 : s.base ?? 0;
      const driver = usePacked ? new PackedRingDriver(mem, addrs, num, hasFeature(this.acked, VIRTIO_F_IN_ORDER)) : new SplitRingDriver(mem, addrs, num, base);
      this.queues.set(q, { driver, outstanding: new Map() });
      await this.control({ op: 'setVringNum', index: q, num });
      // Packed wrap counters start at 1 (virtio 1.2 §2.8.1): avail index 0 | wrap << 15 in the low half,
      // the used index and wrap likewise in the high half (Linux vhost VHOST_SET_VRING_BASE).
      await this.control({ op: 'setVringBase', index: q, base: usePacked ? PACKED_INITIAL_BASE : base });
      // vhost-user.rst "Migration": with VHOST_VRING_F_LOG the used ring is logged at log_guest_addr, its guest-physical address.
      const ringLog = logging && this.session.log !== null;
      await this.control({ op: 'setVringAddr', index: q, flags: ringLog ? 1 << VHOST_VRING_F_LOG : 0, desc: this.ringAddr(addrs.desc), used: this.ringAddr(addrs.used), avail: this.ringAddr(addrs.avail), log: ringLog ? addrs.used : 0n });
      await this.control({ op: 'setVringKick', index: q });
      await this.control({ op: 'setVringCall', index: q });
      // With PROTOCOL_FEATURES the rings start disabled; a set-up may leave them so, and later steps enable them. A
      // vhost-vdpa queue is enabled before DRIVER_OK, always (vhost-vdpa.frontend.enable-before-driver-ok).
      if ((hasFeature(this.acked, VHOST_USER_F_PROTOCOL_FEATURES) && s.enableRings !== false) || ioctl) await this.control({ op: 'setVringEnable', index: q, enable: true });
    }
    if (ioctl) await this.control({ op: 'setStatus', status: driverOk });
    else if ((this.session.protocol ?? 0n) & bit(VHOST_USER_PROTOCOL_F_STATUS)) {
      for (const st of STATUS_INIT_SEQUENCE) await this.control({ op: 'setStatus', status: st });
    }
    // Some back-ends signal a call notifier when it is installed (vhost-user.rst allows it);
    // consume those so a later notification check sees only calls caused by used buffers.
    for (const q of this.dataQueues()) await this.target.waitCall(q, 0);
  }

  /**
   * Replaces a ring's call and kick notifiers many times over: each replacement must release the
   * previous fd (bug-catalog D2), so the back-end neither runs out of fds nor slows down.
   */
  private async churn(q: number, count: number): Promise<void> {
    const v = this.session.vrings[q];
    if (!v || this.sessionOver) return;
    // A slow back-end (tens of ms a message) gets as many replacements as fit in CHURN_BUDGET_MS, not a minute of them.
    const end = Date.now() + CHURN_BUDGET_MS;
    for (let i = 0; i < count && !this.sessionOver && Date.now() < end; i++) {
      await this.control({ op: 'setVringCall', index: q });
      if (v.started) await this.control({ op: 'setVringKick', index: q });
    }
  }

  /**
   * GET_INFLIGHT_FD over and over: a back-end that keeps every buffer runs out of fds or memory (bug-catalog D7).
   * Where the back-end's fds can be counted (a spawned peer) their growth is judged too, so a leak shows before it kills.
   */
  private async repeatGetInflight(numQueues: number, queueSize: number, count: number): Promise<void> {
    const before = this.target.backEndFds?.() ?? null;
    for (let i = 0; i < count && !this.sessionOver; i++) await this.control({ op: 'getInflightFd', numQueues, queueSize });
    if (this.sessionOver) return;
    // Every answer was judged (a closed session is vhost-user.robust.no-leak-on-repeat's FAIL); surviving them all is its pass.
    const after = this.target.backEndFds?.() ?? null;
    this.record(before !== null && after !== null ? checkFdGrowth('GET_INFLIGHT_FD', count, before, after) : pass(NO_LEAK_ON_REPEAT));
  }

  private async resetAndSetup(): Promise<void> {
    // Writes outstanding at the reset may or may not have reached the disk.
    this.ghostWrites.push(...this.blkInFlight().writes);
    await this.control({ op: 'resetDevice' });
    // Every ring must be back at its initial state (virtio.status.reset-clears) before set-up runs again.
    for (const q of this.dataQueues()) await this.control({ op: 'getVringBase', index: q });
    this.queues.clear();
    // Frames the device holds are dropped only by a reset it certainly took. A device may refuse a reset it
    // did not negotiate (vhost-user.rst RESET_DEVICE: "Only valid if … set by the back-end"), and then still
    // loops them back; the loopback check tolerates frames that never arrive.
    if (this.session.acked === null && !this.session.ackedMaybeNone) {
      this.pendingFrames = [];
      this.pendingSeqs = [];
    }
    this.resetSlots();
    if (this.setup) await this.doSetup(this.setup);
  }

  private async unmapIotlb(which: number | 'all' | 'span' | 'all-but-rings'): Promise<void> {
    if (typeof which === 'number') return this.iotlbRegion(which, 0);
    const [r0, r1] = this.target.memory.regions;
    const half = BigInt(r0.bytes.length / 2);
    if (which === 'span') return void (await this.control({ op: 'iotlbInvalidate', iova: r0.gpa + half, size: 2n * half }));
    await this.control({ op: 'iotlbInvalidate', iova: r0.gpa, size: r1.gpa + BigInt(r1.bytes.length) - r0.gpa });
    // A driver flushing the whole domain and mapping back only the rings still in use: the rings keep
    // running, so buffers in the other region show whether its mapping really went (bug-catalog D15).
    if (which === 'all-but-rings') await this.control({ op: 'iotlbUpdate', iova: r0.gpa, size: DATA_START - r0.gpa, uaddr: r0.uaddr, perm: 3 });
  }

  private async iotlbRegion(i: number, perm: number): Promise<void> {
    const r = this.target.memory.regions[i];
    if (!r) return;
    // A remap replaces the region's mapping: invalidate first, so no two mappings ever overlap.
    await this.control({ op: 'iotlbInvalidate', iova: r.gpa, size: BigInt(r.bytes.length) });
    if (perm !== 0) await this.control({ op: 'iotlbUpdate', iova: r.gpa, size: BigInt(r.bytes.length), uaddr: r.uaddr, perm });
  }

  /** Guest memory region `i` as set-up announces it. */
  private regionDesc(i: number): MemRegionDesc {
    const r = this.target.memory.regions[i];
    return { gpa: r.gpa, size: BigInt(r.bytes.length), uaddr: r.uaddr };
  }

  private async memSlot(region: number, add: boolean): Promise<void> {
    if (!this.setup?.memSlots || !hasFeature(this.session.protocol ?? 0n, VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS) || !this.target.memory.regions[region]) return;
    const desc = this.regionDesc(region);
    const present = (this.session.memTable ?? []).some((m) => m.gpa === desc.gpa && m.size === desc.size && m.uaddr === desc.uaddr);
    // Only what a front-end does: remove a region that is there, add back one that is not.
    if (present === add) return;
    await this.control(add ? { op: 'addMemReg', region: desc } : { op: 'remMemReg', region: desc });
  }

  /** The dirty log in force: VHOST_F_LOG_ALL acked, a log accepted, and the target shows it. */
  private dirtyLog(): Uint8Array | null {
    if (!hasFeature(this.acked, VHOST_F_LOG_ALL) || this.session.log === null) return null;
    return this.target.dirtyLog?.() ?? null;
  }

  private readonly logExpected: LogExpectation[] = [];

  /** Judges the marks the device owes for what it just wrote; an asynchronous device gets LOG_GRACE_MS (scaled) to set them. */
  private async checkDirtyLog(): Promise<void> {
    const log = this.dirtyLog();
    const expected = this.logExpected.splice(0);
    if (log === null || expected.length === 0) return;
    let obs = checkLogged(log, expected);
    const deadline = Date.now() + (this.asynchronous ? this.latency.scale(LOG_GRACE_MS) : 0);
    while (obs.some((o) => o.verdict !== 'PASS') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, POLL_INTERVAL_MS));
      obs = checkLogged(log, expected);
    }
    for (const o of obs) this.record(o);
  }

  private translationMap(lenient = false) {
    return hasFeature(this.acked, VIRTIO_F_ACCESS_PLATFORM) ? iotlbMap(this.session.iotlb, lenient) : memTableMap(this.session.memTable ?? []);
  }

  private classify(shape: ChainShape): ChainClass {
    const cls = classifyChainWith(shape, this.translationMap(), this.translationMap(true));
    if (cls.valid || cls.requirement !== DEFECT_REQUIREMENT.unmapped) return cls;
    // A buffer in guest memory the front-end took back with REM_MEM_REG: the device must no longer reach it.
    if (this.inRemovedRegion(shape)) return { ...cls, requirement: REM_REG_UNMAPS };
    // IOVA the front-end invalidated: a device still reaching it kept a stale mapping (bug-catalog D15).
    if (this.onlyInvalidated(shape)) return { ...cls, requirement: IOTLB_INVALIDATE_REMOVES };
    return cls;
  }

  /** Every unmapped byte of the chain lies in a range an acknowledged IOTLB invalidate removed. */
  private onlyInvalidated(shape: ChainShape): boolean {
    if (this.invalidatedIova.length === 0 || !hasFeature(this.acked, VIRTIO_F_ACCESS_PLATFORM)) return false;
    // Current mappings first, so a permission refusal inside a mapping stays what it is.
    const widened = [...this.translationMap(true), ...this.invalidatedIova.map((r) => ({ ...r, to: 0n, perm: 3 }))];
    return classifyChain(shape, widened).valid;
  }

  private inRemovedRegion(shape: ChainShape): boolean {
    const table = this.session.memTable ?? [];
    const removed = this.target.memory.regions.filter((r) => !table.some((m) => m.gpa === r.gpa));
    return shape.buffers.some((b) => b.len > 0 && removed.some((r) => b.addr < r.gpa + BigInt(r.bytes.length) && r.gpa < b.addr + BigInt(b.len)));
  }

  private takeSlot(layout: LayoutSpec): bigint | null {
    if (layout.crossRegion || layout.atRegionEnd) {
      // The slot straddling the boundary and the slot ending at the top of memory are special-purpose.
      const want = layout.crossRegion ? REGION_BOUNDARY - SLOT / 2n : 0x20_0000n - SLOT;
      // The free slots holding the first and the last byte (a slot at `a` holds a..a+SLOT-1), compared without a bigint sum per slot.
      const last = want + SLOT - 1n;
      const [wantAfter, lastAfter] = [want - SLOT, last - SLOT];
      const i = this.freeSlots.findIndex((a) => a <= want && wantAfter < a);
      const j = this.freeSlots.findIndex((a) => a <= last && lastAfter < a);
      if (i < 0 || j < 0) return null;
      const taken = [this.freeSlots[i], this.freeSlots[j]];
      this.freeSlots = this.freeSlots.filter((a) => !taken.includes(a));
      this.slotOwners.set(want, taken);
      return want;
    }
    const a = this.freeSlots.shift();
    if (a === undefined) return null;
    this.slotOwners.set(a, [a]);
    return a;
  }

  private readonly slotOwners = new Map<bigint, bigint[]>();

  private releaseSlot(slot: bigint | null): void {
    if (slot === null) return;
    for (const a of this.slotOwners.get(slot) ?? []) this.freeSlots.push(a);
    this.slotOwners.delete(slot);
  }

  /**
   * Lays out `readable` then `writable` bytes in a slot, split at the cut
   * points, each buffer followed by a canary gap. Returns the buffer shapes.
   */
  private layOut(slot: bigint, readable: Uint8Array, writableLen: number, layout: LayoutSpec): { buffers: BufferShape[]; fixed: { gpa: bigint; bytes: Uint8Array }[] } {
    const mem = this.target.memory;
    const total = readable.length + writableLen;
    const cuts = [...new Set(layout.cuts.filter((c) => c > 0 && c < total)), readable.length].filter((c) => c > 0 && c < total).sort((a, b) => a - b);
    const bounds = [0, ...new Set(cuts), total];
    const pieces = bounds.length - 1;
    const span = BigInt(total + pieces * GAP);
    // Cross-region data is centred on the boundary, so some buffer really spans both regions.
    let at = layout.crossRegion ? REGION_BOUNDARY - span / 2n : layout.atRegionEnd ? slot + SLOT - span + BigInt(GAP) : layout.straddlePage ? slot + SLOT / 2n - span / 2n : slot;
    // The driver hands this memory to the device afresh: earlier marks on its pages must not count for it.
    const log = this.dirtyLog();
    if (log !== null) clearPages(log, at, Number(span));
    const buffers: BufferShape[] = [];
    const fixed: { gpa: bigint; bytes: Uint8Array }[] = [];
    for (let k = 0; k < pieces; k++) {
      const from = bounds[k];
      const to = bounds[k + 1];
      const write = from >= readable.length;
      const len = to - from;
      if (!write) {
        const bytes = readable.subarray(from, to);
        writeGpa(mem, at, bytes);
        fixed.push({ gpa: at, bytes: Uint8Array.from(bytes) });
      } else fillGpa(mem, at, len, 0);
      buffers.push({ addr: at, len, write });
      at += BigInt(len);
      if (k < pieces - 1 || !layout.atRegionEnd) {
        fillGpa(mem, at, GAP, GAP_BYTE);
        fixed.push({ gpa: at, bytes: new Uint8Array(GAP).fill(GAP_BYTE) });
        at += BigInt(GAP);
      }
    }
    return { buffers, fixed };
  }

  private useIndirect(layout: LayoutSpec): boolean {
    return layout.indirect && hasFeature(this.acked, VIRTIO_RING_F_INDIRECT_DESC);
  }

  private post(q: number, shape: ChainShape, pending: Omit<Pending, 'descs' | 'cls' | 'shape' | 'seq'>, cls: ChainClass): boolean {
    const qs = this.queues.get(q);
    if (!qs) return false;
    // With nothing outstanding the device has no used entry to write here: clear the used ring's marks so
    // the entries for what is posted now must mark them afresh.
    const log = this.dirtyLog();
    if (log !== null && qs.outstanding.size === 0 && qs.driver instanceof SplitRingDriver) clearPages(log, qs.driver.addrs.used, 4 + 8 * qs.driver.num + 2);
    const placed = qs.driver.addChain(shape);
    if (!placed) {
      this.releaseSlot(pending.slot);
      return false;
    }
    qs.driver.publish();
    // An asynchronous device (one that polls, or still works through an earlier kick) may take a chain
    // as soon as it is published: its classification now already counts.
    qs.outstanding.set(placed.head, { ...pending, shape, descs: placed.descs, cls, seq: this.postSeq++, kicked: this.asynchronous });
    this.noteActiveRings();
    return true;
  }

  private async postBlk(q: number, type: number, sector: bigint, data: Uint8Array, readLen: number, layout: LayoutSpec): Promise<void> {
    const capacity = this.profile.blkCapacitySectors;
    // Without a known capacity a read or write cannot be judged (a replayed case from a fuller profile): not sent.
    if (capacity === null && (type === VIRTIO_BLK_T_IN || type === VIRTIO_BLK_T_OUT)) return;
    const slot = this.takeSlot(layout);
    if (slot === null) return;
    const hdr = encode(virtio_blk_outhdr, { type, ioprio: 0, sector });
    const readable = Buffer.concat([hdr, data]);
    const writableLen = (type === VIRTIO_BLK_T_OUT || type === VIRTIO_BLK_T_FLUSH ? 0 : readLen) + 1;
    const { buffers, fixed } = this.layOut(slot, readable, writableLen, layout);
    const shape: ChainShape = { buffers, indirect: this.useIndirect(layout) };
    const cls = this.classify(shape);
    const exp = expectBlk({ type, sector, data, readLen }, { capacitySectors: capacity ?? 0n, readOnly: false, initiallyZero: this.profile.blkFreshDisk });
    const write = type === VIRTIO_BLK_T_OUT && exp.statuses.includes(VIRTIO_BLK_S_OK) ? { sector, data } : null;
    const inFlight = this.blkInFlight();
    const read = type === VIRTIO_BLK_T_IN && exp.statuses.includes(VIRTIO_BLK_S_OK) ? readCandidates(this.disk, inFlight.writes, sector, readLen, this.profile.blkFreshDisk) : null;
    // Outstanding reads may be served after this write lands (no ordering between in-flight requests).
    if (write) for (const r of inFlight.reads) addWriteCandidate(r, write);
    if (write) this.noteConcurrent(write, inFlight.writes);
    this.post(q, shape, { kind: 'blk', slot, fixed, writable: buffers.filter((b) => b.write), blk: { exp, type, write, read } }, cls);
  }

  /** Writes and reads the device may still be working on, across all queues. */
  private blkInFlight(): { writes: WriteInFlight[]; reads: SectorCandidates[][] } {
    const writes: WriteInFlight[] = [...this.ghostWrites];
    const reads: SectorCandidates[][] = [];
    for (const qs of this.queues.values()) {
      for (const p of qs.outstanding.values()) {
        if (p.blk?.write) writes.push(p.blk.write);
        if (p.blk?.read) reads.push(p.blk.read);
      }
    }
    return { writes, reads };
  }

  /**
   * Writes in flight together are not ordered (§5.2.6 orders no outstanding requests): the device may put
   * their data on the disk in one order and return them in another (an asynchronous device completing out
   * of order). Each remembers the others it overlapped in time.
   */
  private noteConcurrent(w: WriteInFlight, inFlight: readonly WriteInFlight[]): void {
    const mine = new Set<WriteInFlight>();
    for (const other of inFlight) {
      if (other === w || this.ghostWrites.includes(other)) continue;
      mine.add(other);
      this.concurrentWrites.get(other)?.add(w);
    }
    this.concurrentWrites.set(w, mine);
  }

  /** Writes in flight at the same time as a write, while it was in flight (noteConcurrent). */
  private readonly concurrentWrites = new WeakMap<WriteInFlight, Set<WriteInFlight>>();
  /** Writes whose completion the harness has seen. */
  private readonly settledWrites = new WeakSet<WriteInFlight>();

  /**
   * A completed write settles its sectors; a ghost of an older write no longer applies there. A write it
   * overlapped in time that was returned before it may still have landed after it: that one stays a
   * candidate (a ghost) for its sectors.
   */
  private settleWrite(w: WriteInFlight): void {
    this.disk = applyWrite(this.disk, w);
    this.settledWrites.add(w);
    const first = w.sector;
    const last = w.sector + BigInt(w.data.length / 512) - 1n;
    this.ghostWrites = this.ghostWrites.flatMap((g) => {
      const gLast = g.sector + BigInt(g.data.length / 512) - 1n;
      const keep: WriteInFlight[] = [];
      if (g.sector < first) keep.push({ sector: g.sector, data: g.data.subarray(0, Number(min(first - 1n, gLast) - g.sector + 1n) * 512) });
      if (gLast > last) {
        const from = max(last + 1n, g.sector);
        keep.push({ sector: from, data: g.data.subarray(Number(from - g.sector) * 512) });
      }
      return keep;
    });
    for (const c of this.concurrentWrites.get(w) ?? []) if (this.settledWrites.has(c)) this.ghostWrites.push(c);
    this.concurrentWrites.delete(w);
  }

  private async postNetTx(frame: Uint8Array, layout: LayoutSpec): Promise<void> {
    const slot = this.takeSlot(layout);
    if (slot === null) return;
    const hdrSize = netHeaderSize(this.acked);
    const hdr = encode(virtio_net_hdr_v1, { flags: 0, gso_type: 0, hdr_len: 0, gso_size: 0, csum_start: 0, csum_offset: 0, num_buffers: 0 }).subarray(0, hdrSize);
    const { buffers, fixed } = this.layOut(slot, Buffer.concat([hdr, frame]), 0, layout);
    const shape: ChainShape = { buffers, indirect: this.useIndirect(layout) };
    this.post(NET_TX_QUEUE, shape, { kind: 'netTx', slot, fixed, writable: [], frame }, this.classify(shape));
  }

  private async postNetRx(size: number, layout: LayoutSpec): Promise<void> {
    const slot = this.takeSlot(layout);
    if (slot === null) return;
    const { buffers, fixed } = this.layOut(slot, new Uint8Array(0), size, layout);
    const shape: ChainShape = { buffers, indirect: this.useIndirect(layout) };
    this.post(NET_RX_QUEUE, shape, { kind: 'netRx', slot, fixed, writable: buffers }, this.classify(shape));
  }

  /**
   * A hostile chain is a well-formed request with one thing wrong, so a device
   * that misses the flaw visibly processes it: blk = [header R][data W][status W],
   * net TX = [virtio-net header R][frame R]. Buffer 1 is the one the address
   * defects damage.
   */
  private async postHostile(step: Extract<Step, { t: 'hostile' }>): Promise<void> {
    const layout: LayoutSpec = { cuts: [], indirect: false, crossRegion: false };
    const slot = this.takeSlot(layout);
    if (slot === null) return;
    const blk = this.profile.deviceType === 'blk';
    const readable = blk ? encode(virtio_blk_outhdr, { type: VIRTIO_BLK_T_IN, ioprio: 0, sector: 0n }) : new Uint8Array(netHeaderSize(this.acked) + 60).fill(0x11, netHeaderSize(this.acked));
    const cuts = blk ? [16, 16 + 512] : [netHeaderSize(this.acked)];
    const base = this.layOut(slot, readable, blk ? 513 : 0, { ...layout, cuts });
    let buffers = base.buffers;
    const bad = buffers[1];
    const top = 0x20_0000n;
    if (step.addr === 'unmapped') buffers = buffers.map((b) => (b === bad ? { ...b, addr: top + 0x20_0000n + b.addr } : b));
    if (step.addr === 'tail-unmapped') buffers = buffers.map((b) => (b === bad ? { ...b, addr: top - 32n } : b));
    if (step.addr === 'overflow') buffers = buffers.map((b) => (b === bad ? { ...b, addr: 0xffff_ffff_ffff_ff00n, len: 0x200 } : b));
    if (step.zeroLen) buffers = [buffers[0], { addr: bad.addr, len: 0, write: bad.write }, ...buffers.slice(1)];
    if (step.outAfterIn) buffers = [...buffers, { addr: base.fixed[0].gpa, len: 8, write: false }];
    if (step.outAfterIn && !blk) buffers = [buffers[0], { addr: bad.addr, len: 8, write: true }, ...buffers.slice(1, -1)];
    const indirectDefect = step.defect === 'nested-indirect' || step.defect === 'indirect-len-invalid' || step.defect === 'indirect-loop';
    const canIndirect = hasFeature(this.acked, VIRTIO_RING_F_INDIRECT_DESC);
    // Index and loop defects live in the ring's own table, indirect ones in an indirect table.
    const indirect = step.defect ? indirectDefect && canIndirect : step.indirect && canIndirect;
    const packed = hasFeature(this.acked, VIRTIO_F_RING_PACKED);
    // Index and indirect-loop defects exist only in split rings, whose descriptors link by index;
    // a packed indirect table is walked in order and bounded by its length (virtio 1.2 §2.8.7).
    const notApplicable = (indirectDefect && !indirect) || (packed && (step.defect === 'head-out-of-range' || step.defect === 'next-out-of-range' || step.defect === 'indirect-loop'));
    const shape: ChainShape = { buffers, indirect, defect: step.defect };
    const qs = this.queues.get(step.queue);
    if (notApplicable || !qs || qs.driver.freeCount < qs.driver.descriptorsNeeded(shape)) {
      this.releaseSlot(slot);
      return;
    }
    // On net TX the chain is a frame: if it turns out valid (a zero-length descriptor is allowed) it loops back.
    const frame = blk ? undefined : readable.subarray(netHeaderSize(this.acked));
    this.post(step.queue, shape, { kind: 'hostile', slot, fixed: base.fixed, writable: buffers.filter((b) => b.write && b.len > 0 && b !== bad), frame }, this.classify(shape));
  }

  private async setNotifyMode(q: number, suppress: boolean, eventOffset: number): Promise<void> {
    const qs = this.queues.get(q);
    if (!qs) return;
    // An asynchronous device may use a published buffer at any moment (§2.7 "Updating idx": "The device MAY access
    // the descriptor chains ... immediately"), so one outstanding now may be used under the old setting.
    if (this.asynchronous) for (const p of qs.outstanding.values()) p.notifyChanged = true;
    const eventIdx = hasFeature(this.acked, VIRTIO_RING_F_EVENT_IDX);
    if (qs.driver instanceof SplitRingDriver) {
      if (eventIdx) qs.driver.setUsedEvent(qs.driver.lastSeenUsed + eventOffset);
      else qs.driver.setAvailFlags(suppress ? VRING_AVAIL_F_NO_INTERRUPT : 0);
    } else {
      const d = qs.driver;
      if (eventIdx && !suppress) {
        // An event `eventOffset` slots ahead, across the wrap when the ring is short: wrap-counter bugs show there.
        d.setDriverEvent(d.usedEventAhead(eventOffset), VRING_PACKED_EVENT_FLAG_DESC);
      } else d.setDriverEvent(0, suppress ? VRING_PACKED_EVENT_FLAG_DISABLE : 0);
    }
  }

  private async runaway(q: number, extra: number): Promise<void> {
    const qs = this.queues.get(q);
    if (!qs || !(qs.driver instanceof SplitRingDriver)) return;
    qs.driver.publishRunaway(qs.driver.num + extra);
    this.runawayQueues.add(q);
  }

  private readonly runawayQueues = new Set<number>();
  /**
   * Queues whose device took a runaway avail idx (it used ids never made available): its used ids no longer say which
   * chain it walked, so refused-chain and notification verdicts on the queue are its consequence, not evidence. A device
   * that refused the runaway keeps being judged on every later chain.
   */
  private readonly runawayTaken = new Set<number>();
  /** TX buffers used now are discarded, not looped back (disabled TX ring). */
  private discarding = false;
  /** Calls consumed while waiting for the device to finish count for the notification check. */
  private readonly calledWhileCollecting = new Set<number>();
  /** Queues with a signal consumed while used buffers were waiting to be collected (judgeNotification). */
  private readonly carriedCalls = new Set<number>();

  private async restartRing(q: number): Promise<void> {
    const qs = this.queues.get(q);
    const v = this.session.vrings[q];
    if (!qs || !v || v.started) return;
    // As QEMU does when it starts a ring: base, call and kick again (a back-end may have dropped the call fd at the stop).
    await this.control({ op: 'setVringBase', index: q, base: v.lastAvail });
    await this.control({ op: 'setVringCall', index: q });
    await this.control({ op: 'setVringKick', index: q });
  }

  private markBroken(q: number): void {
    this.session = { ...this.session, vrings: this.session.vrings.map((v, i) => (i === q ? { ...v, maybeBroken: true } : v)) };
  }

  /**
   * The queues whose used rings are read after a kick. Net loopback fills RX while it drains TX,
   * and a busy-polling back-end (DPDK) drains TX without any kick: for net, both, TX first.
   */
  private touchedBy(q: number): number[] {
    return this.profile.deviceType === 'net' && this.queues.has(NET_RX_QUEUE) && this.queues.has(NET_TX_QUEUE) ? [NET_TX_QUEUE, NET_RX_QUEUE] : [q];
  }

  /** What the notification and ring-state rules of a queue depend on, taken just before the kick. */
  private snapshot(i: number): QueueSnapshot {
    const qs = this.queues.get(i)!;
    const vr = this.session.vrings[i];
    const d = qs.driver;
    return {
      q: i, qs, vr, active: ringActive(vr),
      oldUsed: d instanceof SplitRingDriver ? d.lastSeenUsed : 0,
      availFlags: d instanceof SplitRingDriver ? d.availFlags : 0,
      usedEvent: d instanceof SplitRingDriver ? d.usedEvent : 0,
      driverEvent: d instanceof PackedRingDriver ? d.driverEvent : null,
      driverAreas: d.driverOwnedAreas().map((a) => ({ gpa: a.gpa, bytes: readGpa(this.target.memory, a.gpa, a.len) })),
    };
  }

  /** Kicks the queue, waits for the device, then checks everything the device wrote on every queue it could touch. */
  private async kickAndCollect(q: number): Promise<void> {
    const qs = this.queues.get(q);
    if (!qs || !this.session.vrings[q]) return;
    const map = this.translationMap();
    // Chains are judged against the mappings in force when the device can process them: now. An
    // asynchronous device may have taken a chain at any moment since it was kicked, so a chain whose
    // verdict changed meanwhile may be processed or refused.
    for (const other of this.queues.values()) {
      for (const p of other.outstanding.values()) {
        const now = this.classify(p.shape);
        p.cls = this.asynchronous && p.kicked ? mergeClasses(p.cls, now) : now;
        p.kicked = true;
      }
    }
    const touched = this.touchedBy(q);
    // With ACCESS_PLATFORM the rings themselves are reached through the IOTLB: unmapped rings cannot make progress.
    if (hasFeature(this.acked, VIRTIO_F_ACCESS_PLATFORM)) for (const i of touched) if (!this.ringMapped(this.queues.get(i)!, map)) this.markBroken(i);
    const snaps = touched.map((i) => this.snapshot(i));
    // What the device could see at this kick, for judging a session it drops in response.
    const visible = touched.flatMap((i) => [...(this.queues.get(i)?.outstanding.values() ?? [])]);
    const kickedAt = performance.now();
    await this.target.kick(q);
    if (q === NET_TX_QUEUE && this.profile.deviceType === 'net') await this.target.kick(NET_RX_QUEUE);
    this.calledWhileCollecting.clear();
    const kickedSnap = snaps.find((sn) => sn.q === q)!;
    const used = await this.collect(kickedSnap, kickedAt);
    // The other rings and the guards are read with no wait in front: a mirrored memory is brought up to date first.
    await this.target.sync?.();
    for (const sn of snaps) if (sn !== kickedSnap) used.set(sn.q, sn.qs.driver.takeUsed());
    await this.checkAlive(crashCharge(visible));
    this.record(checkGuards(this.target.memory));
    const eitherSetting = new Set(snaps.filter((sn) => (used.get(sn.q) ?? []).some((u) => sn.qs.outstanding.get(u.id)?.notifyChanged)).map((sn) => sn.q));
    // TX before RX: a looped-back frame is known as sent before its arrival is checked.
    for (const sn of snaps) this.judgeQueue(sn, used.get(sn.q) ?? [], sn.q === q);
    await this.checkDirtyLog();
    if (this.profile.transport === 'vhost-user') await this.checkSessionAfterKick(visible);
    for (const [i, other] of this.queues) this.updateLastAvail(i, other);
    for (const sn of snaps) await this.judgeNotification(sn, used.get(sn.q) ?? [], eitherSetting.has(sn.q));
  }

  /**
   * After the last step. A device that takes published chains without a kick (DPDK polls its rings; a hardware
   * vDPA parent runs its rings on its own from DRIVER_OK) may die on one after every step has returned: probed
   * now, the death is charged to this session, whose chains it held, rather than to the next session's set-up.
   * Only a session that left chains on active rings of an asynchronous device is probed, on every transport
   * (VHOST_GET_FEATURES answers at any time over ioctls too); one that still answers passes.
   */
  async finish(): Promise<void> {
    if (this.sessionOver || !this.asynchronous) return;
    const held = [...this.queues.entries()].reduce((n, [q, qs]) => n + (this.session.vrings[q] !== undefined && ringActive(this.session.vrings[q]) ? qs.outstanding.size : 0), 0);
    if (held === 0) return;
    const probe = await this.target.send({ op: 'getFeatures' });
    const before = this.observations.length;
    await this.checkAlive(SURVIVES_POLLED, probe, 'finish');
    if (this.observations.length === before && 'ok' in probe && probe.ok) this.record(pass(SURVIVES_POLLED, `${held} chain(s) left on active rings after the last step, and the device still answers`));
  }

  /**
   * A back-end may drop the whole session over what it found in the rings (libvhost-user's vu_panic).
   * Over a socket nothing answers a kick, so a cheap request shows it at once, charged to this kick
   * rather than to whatever message comes next: a refusal of a chain the device had to refuse, but a
   * failure to process when every chain it could see was valid.
   */
  private async checkSessionAfterKick(pending: readonly Pending[]): Promise<void> {
    const probe = await this.target.send({ op: 'getFeatures' });
    if (!('closed' in probe)) return;
    await this.checkAlive(crashCharge(pending), probe);
    this.sessionOver = true;
    this.judgeSessionDrop(pending, 'after a kick');
  }

  /** A refusal of a chain the device had to refuse, but a failure to process when every chain it could see was valid. */
  private judgeSessionDrop(pending: readonly Pending[], when: string): void {
    const refusable = pending.filter((p) => !p.cls.valid || p.cls.mayRefuse);
    if (refusable.length > 0) {
      for (const p of refusable) this.record(pass(p.cls.valid ? p.cls.mayRefuse! : p.cls.requirement, 'refused by closing the session'));
    } else {
      this.record(fail(SESSION_KEPT, `the back-end closed the session ${when} although every chain it could see (${pending.length}) was valid`), [], '', 'closed');
    }
  }

  /** Outstanding chains an asynchronous device may have found on an active ring by now. */
  private chainsSeenEarly(): Pending[] {
    return [...this.queues.values()].flatMap((qs) => [...qs.outstanding.values()].filter((p) => p.mayRunEarly));
  }

  private judgeQueue(sn: QueueSnapshot, used: readonly (UsedElem | PackedUsedElem)[], kicked: boolean): void {
    const { q, qs, vr, active } = sn;
    const split = qs.driver instanceof SplitRingDriver;
    this.record(checkUnchanged(this.target.memory, sn.driverAreas, DRIVER_AREAS, 'descriptor table / driver area'));
    if (qs.driver instanceof SplitRingDriver) {
      const runaway = qs.driver.usedRunaway();
      if (runaway > 0) this.record(fail(SPLIT_USED.idRequirement, `used idx moved ${runaway} entries beyond the ring size`));
    }
    // vhost-user.rst "Ring states": a started but disabled ring is processed without side effects —
    // a net back-end must process and discard TX packets and must not supply RX packets.
    const net = this.profile.deviceType === 'net';
    const discardTx = !active && vr.started && !vr.enabled && net && q === NET_TX_QUEUE;
    const disabledRx = !active && vr.started && !vr.enabled && net && q === NET_RX_QUEUE;
    if (!active && !discardTx && !disabledRx) {
      const req = vr.started ? 'vhost-user.ring.disabled-with-protocol-features' : RING_INACTIVE;
      // A chain an asynchronous device may have taken while the ring was still active is no violation.
      const late = used.filter((u) => !qs.outstanding.get(u.id)?.mayRunEarly).length;
      this.record(late === 0 ? pass(req) : fail(req, `${late} buffer(s) used while the ring was ${vr.started ? 'disabled' : 'stopped'}`));
    }
    this.discarding = discardTx;
    if (discardTx && used.length > 0) this.record(pass('vhost-user.ring.disabled-discards-tx'));
    // After an index runaway, a correct device refuses the batch or stops the queue.
    if (this.runawayQueues.has(q)) this.markBroken(q);
    const ids = split ? SPLIT_USED : PACKED_USED;
    if (split && this.dirtyLog() !== null && this.ringLogged(q)) {
      const usedAddr = qs.driver.addrs.used;
      for (const u of used as UsedElem[]) {
        if (u.slot === undefined) continue;
        this.logExpected.push({ requirement: LOG_USED_RING, pages: [...pagesOf(usedAddr + BigInt(splitRingOffsets.usedRing(u.slot)), 8), ...pagesOf(usedAddr + 2n, 2)], what: `used ring entry ${u.slot} of queue ${q}` });
      }
    }
    const lastUsedSeq = Math.max(-1, ...used.map((u) => qs.outstanding.get(u.id)?.seq ?? -1));
    // The device took the runaway: it used an id the driver has not made available, or more buffers than are outstanding
    // (stale avail slots read as heads).
    if (this.runawayQueues.has(q) && (used.length > qs.outstanding.size || used.some((u) => !qs.outstanding.has(u.id)))) this.runawayTaken.add(q);
    for (const u of used) this.checkUsed(qs, u, ids, this.runawayTaken.has(q));
    this.discarding = false;
    // A refused chain left unused means the device may have stopped the queue (Linux vhost vq_err): allowed.
    // But devices take buffers in ring order (§2.7.13, §2.8 "MUST start processing driver descriptors in
    // the order in which they appear"): if a later buffer was used, the refused one was skipped and lost.
    for (const p of qs.outstanding.values()) {
      if (!p.cls.valid && p.seq < lastUsedSeq && !this.runawayTaken.has(q)) this.record(fail(p.cls.requirement, `refused chain (${p.cls.reason}) was neither returned nor did the queue stop: a later buffer was used, so this one is lost to the driver`));
    }
    if ([...qs.outstanding.values()].some((p) => !p.cls.valid || p.cls.mayRefuse)) this.markBroken(q);
    if (!kicked) return;
    // RX buffers wait for frames, so only request buffers must be used after a kick.
    const stillValid = [...qs.outstanding.values()].filter((p) => p.cls.valid && p.kind !== 'netRx');
    if (active && !this.session.vrings[q].maybeBroken && stillValid.length > 0) {
      this.record(fail(RING_ACTIVE, `${stillValid.length} valid buffer(s) not used after a kick on a started, enabled ring`));
    } else if (active && stillValid.length === 0 && used.length > 0) this.record(pass(RING_ACTIVE));
    if (this.runawayQueues.has(q)) this.record(pass(RUNAWAY));
  }

  /**
   * The front-end has just declared vring `q`'s call notifier invalid, and the reply (or the barrier behind it) shows
   * the back-end has processed that. A signal pending now was sent on an earlier notifier, before the declaration
   * took effect: libvhost-user signals every notifier as SET_VRING_CALL installs it ("in case of I/O hang after
   * reconnecting", vu_set_vring_call_exec). It is no signal on the invalid one (vhost-user.rst
   * "VHOST_USER_SET_VRING_CALL": bit 8 says there is no fd to signal); it may be the notification of buffers
   * already used, so it is carried to the batch that collects them.
   */
  private async drainReplacedCall(q: number): Promise<void> {
    const qs = this.queues.get(q);
    if ((await this.target.waitCall(q, 0)) && qs?.driver.hasNewUsed) this.carriedCalls.add(q);
  }

  /** `eitherSetting`: the batch may have been used before the driver's last change of suppression (no rule applies). */
  private async judgeNotification(sn: QueueSnapshot, used: readonly (UsedElem | PackedUsedElem)[], eitherSetting: boolean): Promise<void> {
    // Nothing used: drain a stray signal so it is not taken for the next batch's notification. But an
    // asynchronous device may have used buffers since the used ring was read: a signal found while
    // they wait to be collected may be theirs, and counts for the batch that collects them. A batch that
    // may have been used before the driver changed its notification settings (the call notifier too:
    // the signal may have gone to the one replaced) is judged by no rule.
    // After a runaway avail idx (a runaway step on this queue) a device that took it completes stale heads and moves used
    // idx past the ring (judged as virtio.split.used.id-is-head): the used positions the notification rules are stated
    // in no longer say which entries this batch added, so the queue's notifications are drained and not judged.
    if (used.length === 0 || eitherSetting || this.runawayTaken.has(sn.q)) {
      if (eitherSetting) this.carriedCalls.delete(sn.q);
      await this.consumeCall(sn, 0);
      return;
    }
    const eventIdx = hasFeature(this.acked, VIRTIO_RING_F_EVENT_IDX);
    const d = sn.qs.driver;
    const rule: NotifyRule = d instanceof SplitRingDriver
      ? splitNotifyRule(eventIdx, sn.availFlags, sn.usedEvent, sn.oldUsed, d.lastSeenUsed)
      : packedNotifyRule(eventIdx, sn.driverEvent!.flags, sn.driverEvent!.offWrap, (used as PackedUsedElem[]).flatMap((u) => u.slots));
    // A required call is waited for (the wait ends when it comes); a suppressed one gets a short window to
    // show up wrongly; one already consumed while collecting needs no wait at all.
    // A carried signal only ever satisfies a required notification: it never makes a suppressed batch look notified.
    const carried = this.carriedCalls.delete(sn.q) && rule.kind === 'must';
    const earlier = this.calledWhileCollecting.has(sn.q) || carried;
    const window = earlier || !this.asynchronous ? 0 : rule.kind === 'must' ? this.latency.scale(NOTIFY_WAIT_MS) : rule.kind === 'should-not' ? SUPPRESSED_WAIT_MS : 0;
    const signalled = await this.consumeCall(sn, window);
    // With the notifier declared invalid, a signal carried or taken while collecting predates the declaration (drainReplacedCall).
    for (const o of checkNotification(rule, signalled || (earlier && sn.vr.call !== 'invalid'), sn.vr.call)) this.record(o);
  }

  /**
   * Waits up to `window` for a call and consumes it. One eventfd read consumes every signal so far: if the
   * device had already used more buffers when it was read, the signal may be their notification too, so it
   * is carried to the batch that collects them.
   */
  private async consumeCall(sn: QueueSnapshot, window: number): Promise<boolean> {
    let ahead = sn.qs.driver.hasNewUsed;
    const signalled = await this.target.waitCall(sn.q, window);
    // The device signals after it publishes the used entry (§2.7.7.2 "after adding a used entry"): one used while the
    // signal was awaited shows in the ring once a mirrored memory is brought up to date, and the signal is its.
    if (signalled && !ahead) {
      await this.target.sync?.();
      ahead = sn.qs.driver.hasNewUsed;
    }
    if (signalled && ahead) this.carriedCalls.add(sn.q);
    return signalled;
  }

  private ringMapped(qs: QueueState, map: ReturnType<Harness['translationMap']>): boolean {
    const a = qs.driver.addrs;
    return translateRange(a.desc, 16 * qs.driver.num, map, 'read') !== null && translateRange(a.avail, 4, map, 'read') !== null && translateRange(a.used, 4, map, 'write') !== null;
  }

  private updateLastAvail(q: number, qs: QueueState): void {
    const d = qs.driver;
    const consumed = d instanceof SplitRingDriver ? (d.publishedIdx - qs.outstanding.size) & 0xffff : null;
    const packedBase = d instanceof PackedRingDriver && qs.outstanding.size === 0 ? d.availState.idx | (d.availState.wrap ? 0x8000 : 0) : null;
    const base = consumed ?? packedBase;
    this.session = {
      ...this.session,
      vrings: this.session.vrings.map((v, i) => (i === q ? (base === null ? { ...v, maybeBroken: true } : { ...v, lastAvail: base, pristine: false }) : v)),
    };
  }

  /**
   * Used elements of the kicked queue, waiting (bounded) for an asynchronous device to finish. A device
   * taken for synchronous that leaves work after a kick gets SYNC_GRACE_MS: if it completes then, its
   * latency is measured and it is treated as asynchronous from then on.
   */
  private async collect(sn: QueueSnapshot, kickedAt: number): Promise<Map<number, (UsedElem | PackedUsedElem)[]>> {
    const { q, qs } = sn;
    const settle = this.asynchronous ? this.latency.scale(this.opts.settleMs) : SYNC_GRACE_MS;
    // An asynchronous device gets time to show it wrongly processes an inactive ring too: only a chance to
    // catch a bug, so the target's own floor when it has one, not a multiple of its slowest answer.
    // A device that completes in kick() (Target.completesInKick) has done all it will: nothing to wait for.
    if (this.asynchronous && !sn.active && !this.target.completesInKick) await new Promise((r) => setTimeout(r, this.opts.settleMs || settle));
    await this.target.sync?.();
    const used: (UsedElem | PackedUsedElem)[] = [...qs.driver.takeUsed()];
    // A ring the device may have stopped (after a chain it refused) owes nothing: no wait for it; what it
    // still uses is collected at the next kick.
    if (sn.active && !sn.vr.maybeBroken) {
      const deadline = Date.now() + settle;
      while (Date.now() < deadline && [...qs.outstanding.values()].filter((p) => p.kind !== 'netRx').length > used.length) {
        // In slices: a device may complete without signalling (notification suppressed), and only the used ring shows it.
        const signalled = await this.target.waitCall(q, Math.max(1, Math.min(USED_POLL_MS, deadline - Date.now())));
        if (signalled) this.calledWhileCollecting.add(q);
        // A device that completes in kick() uses nothing later: this first look (which takes the call it signalled,
        // if any) is all the rest of the wait would see. A refused chain left outstanding made it wait SYNC_GRACE_MS.
        if (this.target.completesInKick) break;
        // Without a call notifier (none installed, or declared invalid) the wait returns at once: poll the
        // used ring with a real sleep instead of spinning, so I/O (and an in-process back-end) can run.
        if (!signalled) await new Promise((r) => setTimeout(r, POLL_INTERVAL_MS));
        const more = qs.driver.takeUsed();
        if (more.length > 0) this.latency.observe(performance.now() - kickedAt);
        used.push(...more);
      }
    }
    return new Map([[q, used]]);
  }

  /** The target works asynchronously: a socket or spawned back-end, or one whose answers take measurable time. */
  private get asynchronous(): boolean {
    return this.opts.settleMs > 0 || this.latency.asynchronous;
  }

  /**
   * `afterRunaway`: the driver moved this queue's avail idx past the ring and the device took it (runawayTaken). It reads
   * stale avail slots as heads, so a used id no longer says which chain the device walked: what comes back for, or past,
   * a refused chain is the runaway's consequence (judged as virtio.split.used.id-is-head / virtio.robust.avail-idx-runaway),
   * not evidence about that chain's own rule.
   */
  private checkUsed(qs: QueueState, u: { id: number; len: number }, ids: typeof SPLIT_USED, afterRunaway: boolean): void {
    const outstandingIds = new Set(qs.outstanding.keys());
    this.record(checkUsedId(ids, u.id, outstandingIds));
    const p = qs.outstanding.get(u.id);
    // An id the driver never made available (already recorded): there is no buffer to check.
    if (!p) return;
    qs.outstanding.delete(u.id);
    // A chain holding a zero-length descriptor came back, and the device answered the liveness check after this kick
    // (kickAndCollect: checkAlive before judgeQueue): it caused no hang or fault (virtio.robust.zero-len-desc). Its len
    // and the bytes around it are judged below like any chain's. A crash or hang is charged by crashCharge.
    if (p.shape.buffers.some((b) => b.len === 0) && !this.sessionOver) this.record(pass(ZERO_LEN, 'a chain with a zero-length descriptor was used, and the device still answers'));
    const mem = this.target.memory;
    this.record(checkUnchanged(mem, p.fixed, WRITE_BOUND, 'readable buffer or canary gap'));
    // Memory that may or may not be mapped: a refusal (len 0) is as right as processing it.
    if (p.cls.valid && p.cls.mayRefuse && u.len === 0 && p.kind !== 'netTx' && !(p.kind === 'hostile' && p.frame)) {
      this.record(pass(p.cls.mayRefuse));
      if (qs.driver instanceof SplitRingDriver) qs.driver.release(p.descs);
      this.releaseSlot(p.slot);
      return;
    }
    if (this.refusedWithIoerr(p, u.len)) {
      this.record(pass(p.cls.valid ? p.cls.mayRefuse! : p.cls.requirement, 'blk request with an unusable buffer completed as VIRTIO_BLK_S_IOERR, only the status byte written'));
      if (qs.driver instanceof SplitRingDriver) qs.driver.release(p.descs);
      this.releaseSlot(p.slot);
      return;
    }
    let expectedLen: number | null = null;
    if (p.cls.valid && p.blk) {
      const written = Buffer.concat(p.writable.map((b) => readGpa(mem, b.addr, b.len)));
      const status = written[written.length - 1];
      const known = [VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID].includes(p.blk.type);
      for (const o of checkBlk(p.blk.exp, status, written.subarray(0, written.length - 1), known, p.blk.read)) this.record(o);
      if (status === VIRTIO_BLK_S_OK) {
        if (p.blk.write) this.settleWrite(p.blk.write);
        expectedLen = p.blk.exp.usedLen;
      }
      // The last writable byte holds the status: it is always written, so len ≥ 1 (§5.2.6).
      if (u.len < 1) this.record(fail('virtio.blk.status-byte', `used len ${u.len}: the status byte was not counted as written`));
    }
    if (!p.cls.valid && p.kind === 'hostile' && p.frame && (!this.discarding || p.mayRunEarly)) this.addFrame(p.seq, null);
    if (p.cls.valid && (p.kind === 'netTx' || (p.kind === 'hostile' && p.frame))) {
      // A frame taken early, while TX was still enabled, may loop back: the loopback oracle tolerates lost frames, not unknown ones.
      if (p.frame && !p.looped && (!this.discarding || p.mayRunEarly)) this.addFrame(p.seq, p.frame);
      qs.driver instanceof SplitRingDriver ? qs.driver.release(p.descs) : undefined;
      this.releaseSlot(p.slot);
      // Split ring (§2.7.8.2): "The device MUST write at least len bytes to descriptor, beginning at the first
      // device-writable buffer": a chain with none can only be returned with len 0. A packed used descriptor's
      // length is "reserved for used descriptors without the VIRTQ_DESC_F_WRITE flag" (§2.8.4): not judged there.
      for (const o of checkUsedLen(ids, p.cls, u.len, ids === SPLIT_USED ? 0 : null)) this.record(o);
      return;
    }
    if (p.cls.valid && p.kind === 'netRx') {
      if (!this.session.vrings[NET_RX_QUEUE]?.enabled && !p.mayRunEarly) this.record(fail('vhost-user.ring.disabled-no-rx', `an RX buffer was filled (len ${u.len}) while the RX ring was disabled`));
      const received = Buffer.concat(p.writable.map((b) => readGpa(mem, b.addr, b.len)));
      const hdr = netHeaderSize(this.acked);
      // The header is judged on its own (a used len short of it says the device wrote none).
      if (u.len >= hdr) for (const o of checkNumBuffers(hdr, received)) this.record(o);
      // Net is lossy: frames before the one received may have been dropped, never reordered or altered.
      const exact = this.pendingFrames.findIndex((f) => f !== null && checkLoopback(hdr, f, received, u.len).verdict === 'PASS');
      const writable = p.cls.writable;
      const cut = exact >= 0 ? -1 : this.pendingFrames.findIndex((f) => f !== null && cutToBuffer(hdr, f, received, u.len, writable));
      const k = exact >= 0 ? exact : cut >= 0 ? cut : this.pendingFrames.indexOf(null);
      const first = this.pendingFrames.find((f) => f !== null);
      // An asynchronous device may deliver a frame before it returns the TX buffer that carried it.
      const early = exact >= 0 || cut >= 0 || !this.asynchronous ? undefined : this.outstandingFrames().find((t) => checkLoopback(hdr, t.frame!, received, u.len).verdict === 'PASS' || cutToBuffer(hdr, t.frame!, received, u.len, writable));
      if (early) {
        early.looped = true;
        this.record(cutToBuffer(hdr, early.frame!, received, u.len, writable) ? cutFrame(early.frame!, u.len - hdr) : checkLoopback(hdr, early.frame!, received, u.len));
      } else if (k >= 0) {
        if (exact >= 0) this.record(checkLoopback(hdr, this.pendingFrames[exact]!, received, u.len));
        else if (cut >= 0) this.record(cutFrame(this.pendingFrames[cut]!, u.len - hdr));
        // Frames before it were dropped: but an asynchronous device may return RX buffers out of the order it
        // filled them (no IN_ORDER), so there an earlier frame may still arrive and only this one is taken.
        const from = this.asynchronous ? k : 0;
        this.pendingFrames.splice(from, k + 1 - from);
        this.pendingSeqs.splice(from, k + 1 - from);
      } else if (first) {
        this.record(checkLoopback(hdr, first, received, u.len));
      } else this.record(fail('virtio.net.loopback-integrity', `an RX buffer was used (len ${u.len}) although no frame was sent`));
    }
    if (p.cls.valid || !afterRunaway) for (const o of checkUsedLen(ids, p.cls, u.len, expectedLen)) this.record(o);
    // Request and RX buffers only: their writable buffers are exactly the chain's, in order.
    if (p.cls.valid && u.len > 0 && (p.kind === 'blk' || p.kind === 'netRx') && this.dirtyLog() !== null) {
      const pages = writtenPages(p.writable, Math.min(u.len, p.cls.writable));
      if (pages.length > 0) this.logExpected.push({ requirement: LOG_MARK_DIRTY, pages, what: `${p.kind} buffer written (used len ${u.len})` });
    }
    if (qs.driver instanceof SplitRingDriver) qs.driver.release(p.descs);
    this.releaseSlot(p.slot);
  }

  /**
   * A blk request the device could not carry out because a buffer is unmapped or wraps, completed as a failed request:
   * used len 1 and VIRTIO_BLK_S_IOERR in the status byte, the last writable byte, which is mapped for writing. That is
   * a refusal, not processing: IOERR is the status "for device or driver error" (virtio 1.2 §5.2.6), and len 1 says
   * nothing but the status was written (§2.7.8). vdpa_sim_blk does exactly this (vdpasim_blk_handle_req(): IOERR when
   * vringh_iov_push/pull_iotlb() fails, then vringh_kiov_advance() to the status byte).
   */
  private refusedWithIoerr(p: Pending, len: number): boolean {
    const addressDefect = !p.cls.valid ? p.cls.requirement === DEFECT_REQUIREMENT.unmapped || p.cls.requirement === DEFECT_REQUIREMENT.overflow || p.cls.requirement === IOTLB_INVALIDATE_REMOVES : p.cls.mayRefuse !== undefined;
    if (this.profile.deviceType !== 'blk' || !addressDefect || len !== 1 || p.shape.defect) return false;
    const status = p.writable.at(-1);
    if (!status || status.len < 1) return false;
    const at = status.addr + BigInt(status.len - 1);
    if (translateRange(at, 1, this.translationMap(), 'write') === null) return false;
    return readGpa(this.target.memory, at, 1)[0] === VIRTIO_BLK_S_IOERR;
  }

  /**
   * A frame the device returned the TX buffer of. Devices take buffers in ring order (§2.7.13, §2.8), so
   * they transmit in that order whatever order an asynchronous device returns them in: kept in ring order.
   */
  private addFrame(seq: number, frame: Uint8Array | null): void {
    let i = this.pendingSeqs.length;
    while (i > 0 && this.pendingSeqs[i - 1] > seq) i--;
    this.pendingSeqs.splice(i, 0, seq);
    this.pendingFrames.splice(i, 0, frame);
  }

  /** TX chains carrying a frame that the device has not returned yet, in the order they were made available. */
  private outstandingFrames(): Pending[] {
    const tx = this.queues.get(NET_TX_QUEUE);
    return tx ? [...tx.outstanding.values()].filter((p) => p.frame !== undefined && p.cls.valid && !p.looped).sort((a, b) => a.seq - b.seq) : [];
  }

  /** Whether set-up gave ring `q` VHOST_VRING_F_LOG (it does whenever the session has a log). */
  private ringLogged(q: number): boolean {
    return this.queues.has(q) && this.session.log !== null;
  }

}

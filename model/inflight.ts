// Inflight I/O tracking (QEMU docs/interop/vhost-user.rst "Inflight I/O
// tracking", "Inflight description", VHOST_USER_GET_INFLIGHT_FD (id 31) and
// VHOST_USER_SET_INFLIGHT_FD (id 32)). Pure: judges the description and the
// bytes of the buffer the front-end mapped, never touches an fd.
import type { InflightArea, Reply } from '../spec/requests.ts';
import { inflightAreaSize } from '../spec/vhostUser/inflight.ts';
import { anyOf, type Harm, type StepResult, violation } from './outcome.ts';
import type { Profile } from './profile.ts';

export const INFLIGHT_REQ = {
  get: 'vhost-user.inflight.get-fd',
  set: 'vhost-user.inflight.set-fd',
  numQueues: 'vhost-user.robust.inflight-num-queues',
  repeat: 'vhost-user.robust.no-leak-on-repeat',
  fdCount: 'vhost-user.robust.fd-count',
} as const;

/** The buffer the front-end holds after a GET_INFLIGHT_FD was answered: what its next SET sends back. */
export interface InflightHeld {
  readonly numQueues: number;
  readonly queueSize: number;
  /** The ring layout negotiated when the buffer was asked for: split and packed queue regions differ ("Inflight I/O tracking"). */
  readonly packed: boolean;
}

/** A virtqueue size the device could have: 1 to its largest queue size. */
function queueSizeValid(p: Profile, queueSize: number): boolean {
  return queueSize >= 1 && queueSize <= p.maxQueueSize;
}

/**
 * What a GET_INFLIGHT_FD answer must hold: one fd ("Communication": sent with ancillary data), a
 * buffer of the doc's layout for `numQueues` regions of `queueSize` descriptor states, mappable at
 * mmap_offset, and, for split rings, all zero: "version ... Zero value indicates an uninitialized
 * buffer", so a fresh buffer with stale bytes would be resubmitted from garbage after a reconnect.
 * Packed regions are not compared: DPDK links the free list (desc[j].next = j + 1) and sets the
 * wrap counters to 1 in a fresh buffer, which the layout allows.
 */
export function inflightAreaCheck(numQueues: number, queueSize: number, packed: boolean): (r: Reply) => string | null {
  const need = inflightAreaSize(numQueues, queueSize, packed);
  return (r) => {
    const a = 'ok' in r && r.ok && typeof r.value === 'object' && !(r.value instanceof Uint8Array) ? (r.value as InflightArea) : null;
    if (a === null) return 'inflight: no description in the reply';
    if (!a.fd) return 'inflight: the reply carries no fd';
    if (a.mmapSize < BigInt(need)) return `inflight: mmap_size 0x${a.mmapSize.toString(16)} is smaller than ${numQueues} queue region(s) of ${queueSize} descriptors (0x${need.toString(16)} bytes)`;
    if (a.bytes === null) return `inflight: the buffer cannot be mapped: ${a.problem ?? 'unknown'}`;
    if (packed) return null;
    const at = a.bytes.findIndex((b) => b !== 0);
    return at < 0 ? null : `inflight: byte ${at} of a fresh buffer is 0x${a.bytes[at].toString(16)}, not 0`;
  };
}

/**
 * "VHOST_USER_GET_INFLIGHT_FD": "this message is submitted by the front-end to get a shared buffer from
 * back-end", and "Communication" lists it (with INFLIGHT_SHMFD) among the requests that require a reply:
 * the first valid one must be served. A request naming no queue, an empty queue, or more than the device
 * has is left open by the doc (refused, or served). A repeated GET while a buffer is held is a duplicate
 * the doc does not describe (it asks for a new one only "when vm reset"): refusing it passes. It is also
 * judged by vhost-user.robust.no-leak-on-repeat (DE_FACTO): the back-end must release the previous buffer;
 * one that runs out of fds and dies is a crash (the harness records it), one that only drops the session
 * is a deviation.
 */
export function stepGetInflightFd<S>(s: S, p: Profile, held: InflightHeld | null, numQueues: number, queueSize: number, packed: boolean, withHeld: (h: InflightHeld) => S): StepResult<S> {
  const next = withHeld({ numQueues, queueSize, packed });
  if (numQueues < 1 || numQueues > p.queues || !queueSizeValid(p, queueSize)) {
    return anyOf(s, next, INFLIGHT_REQ.get, 'inflight buffer for no queue, an empty queue or more queues than the device has: left open');
  }
  const requirement = held === null ? INFLIGHT_REQ.get : INFLIGHT_REQ.repeat;
  return {
    outcomes: [
      { kind: 'ok', verdict: 'PASS', requirement: INFLIGHT_REQ.get, next, note: 'inflight buffer returned', check: inflightAreaCheck(numQueues, queueSize, packed) },
      held === null
        ? { kind: 'error', verdict: violation(INFLIGHT_REQ.get), requirement, next: s, note: 'valid request refused' }
        : { kind: 'error', verdict: 'PASS', requirement, next: s, note: 'a second buffer refused while one is held' },
    ],
    otherwise: { verdict: violation(requirement), requirement },
  };
}

/**
 * DPDK lib/vhost/vhost.h VHOST_MAX_VRING: vhost_user_check_and_alloc_queue_pair() refuses a SET_INFLIGHT_FD
 * whose num_queues - 1 reaches it (the D9 fix, 6442c329b9) and allocates the queues below it on demand.
 */
const DE_FACTO_MAX_VRINGS = 0x100;

/**
 * Requirement a SET_INFLIGHT_FD is judged by: num_queues beyond both what the back-end reports
 * (GET_QUEUE_NUM) and what DPDK allocates on demand is the D9 case, which must be refused.
 */
export function setInflightRequirement(p: Profile, numQueues: number): string {
  return numQueues > p.queues && numQueues > Math.max(p.vringLimit, DE_FACTO_MAX_VRINGS) ? INFLIGHT_REQ.numQueues : INFLIGHT_REQ.set;
}

/**
 * "VHOST_USER_SET_INFLIGHT_FD": "send the shared inflight buffer back to the back-end so that the back-end
 * could get inflight I/O after a crash or restart"; the back-end maps it. The fd is required (DE_FACTO: DPDK
 * validate_msg_fds and libvhost-user vu_set_inflight_fd refuse fd_num != 1; taking it without one harms
 * nothing by itself); num_queues past setInflightRequirement's bound must be refused (bug-catalog D9, DE_FACTO
 * DPDK: walked, it indexes past the vring array, a memory-safety outcome); between the queues driven and that
 * bound either answer is fine. Left open as well: a description that does not match the buffer the front-end
 * holds (other sizes than its GET, or a ring layout changed since: a split buffer is too small for packed
 * regions), and a SET once rings are started (QEMU sends it before starting them).
 */
export function stepSetInflightFd<S>(
  s: S, p: Profile, held: InflightHeld | null, desc: InflightHeld, withFd: boolean, ringsStarted: boolean,
  mustRefuse: (requirement: string, note: string, harm: Harm) => StepResult<S>,
): StepResult<S> {
  const { numQueues, queueSize } = desc;
  if (!withFd) return mustRefuse(INFLIGHT_REQ.fdCount, 'SET_INFLIGHT_FD without its fd', 'deviation');
  const requirement = setInflightRequirement(p, numQueues);
  if (requirement === INFLIGHT_REQ.numQueues) return mustRefuse(requirement, `num_queues ${numQueues}: more than the ${p.vringLimit} queues the back-end reports and than any back-end allocates`, 'memory-safety');
  const matches = held === null || (held.numQueues === numQueues && held.queueSize === queueSize && held.packed === desc.packed);
  if (numQueues < 1 || numQueues > p.queues || !queueSizeValid(p, queueSize) || !matches || ringsStarted) {
    return anyOf(s, s, INFLIGHT_REQ.set, 'description for no queue, an empty queue, queues not driven, not the buffer held, or rings already started: left open');
  }
  const verdict = violation(requirement);
  return {
    outcomes: [
      { kind: 'ok', verdict: 'PASS', requirement, next: s, note: 'inflight buffer taken back' },
      { kind: 'error', verdict, requirement, next: s, note: 'valid buffer refused' },
    ],
    otherwise: { verdict, requirement },
  };
}

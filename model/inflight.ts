// Inflight I/O tracking (QEMU docs/interop/vhost-user.rst "Inflight I/O
// tracking", "Inflight description", VHOST_USER_GET_INFLIGHT_FD (id 31) and
// VHOST_USER_SET_INFLIGHT_FD (id 32)). Pure: judges the description and the
// bytes of the buffer the front-end mapped, never touches an fd.
import type { InflightArea, Reply } from '../spec/requests.ts';
import { inflightAreaSize } from '../spec/vhostUser/inflight.ts';
import { anyOf, type StepResult } from './outcome.ts';
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
 * "VHOST_USER_GET_INFLIGHT_FD": the back-end allocates a shared buffer for `numQueues` queues of
 * `queueSize` and returns it. A request naming no queue, an empty queue, or more than the device
 * has is left open by the doc (refused, or served). A repeated GET, once a buffer is held, is also
 * judged by vhost-user.robust.no-leak-on-repeat: the back-end must release the previous buffer, and
 * one that runs out of fds or memory instead shows up as a closed connection or a crash.
 */
export function stepGetInflightFd<S>(s: S, p: Profile, held: InflightHeld | null, numQueues: number, queueSize: number, packed: boolean, withHeld: (h: InflightHeld) => S): StepResult<S> {
  const next = withHeld({ numQueues, queueSize });
  if (numQueues < 1 || numQueues > p.queues || !queueSizeValid(p, queueSize)) {
    return anyOf(s, next, INFLIGHT_REQ.get, 'inflight buffer for no queue, an empty queue or more queues than the device has: left open');
  }
  return {
    outcomes: [
      { kind: 'ok', verdict: 'PASS', requirement: INFLIGHT_REQ.get, next, note: 'inflight buffer returned', check: inflightAreaCheck(numQueues, queueSize, packed) },
      { kind: 'error', verdict: 'FAIL', requirement: INFLIGHT_REQ.get, next: s, note: 'valid request refused' },
    ],
    otherwise: { verdict: 'FAIL', requirement: held === null ? INFLIGHT_REQ.get : INFLIGHT_REQ.repeat },
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
 * "VHOST_USER_SET_INFLIGHT_FD": the front-end sends the buffer back; the back-end maps it. The fd is
 * required (de facto: DPDK validate_msg_fds and libvhost-user vu_set_inflight_fd refuse fd_num != 1);
 * num_queues past setInflightRequirement's bound must be refused (bug-catalog D9, de facto DPDK); between
 * the queues driven and that bound either answer is fine. A description that does not match the buffer
 * the front-end holds (other sizes than its GET) is left open.
 */
export function stepSetInflightFd<S>(s: S, p: Profile, held: InflightHeld | null, numQueues: number, queueSize: number, withFd: boolean, mustRefuse: (requirement: string, note: string) => StepResult<S>): StepResult<S> {
  if (!withFd) return mustRefuse(INFLIGHT_REQ.fdCount, 'SET_INFLIGHT_FD without its fd');
  const requirement = setInflightRequirement(p, numQueues);
  if (requirement === INFLIGHT_REQ.numQueues) return mustRefuse(requirement, `num_queues ${numQueues}: more than the ${p.vringLimit} queues the back-end reports and than any back-end allocates`);
  const matches = held === null || (held.numQueues === numQueues && held.queueSize === queueSize);
  if (numQueues < 1 || numQueues > p.queues || !queueSizeValid(p, queueSize) || !matches) {
    return anyOf(s, s, INFLIGHT_REQ.set, 'description for no queue, an empty queue, queues not driven, or not the buffer held: left open');
  }
  return {
    outcomes: [
      { kind: 'ok', verdict: 'PASS', requirement, next: s, note: 'inflight buffer taken back' },
      { kind: 'error', verdict: 'FAIL', requirement, next: s, note: 'valid buffer refused' },
    ],
    otherwise: { verdict: 'FAIL', requirement },
  };
}

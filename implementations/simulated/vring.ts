// Per-vring state of the back-end, as set by the SET_VRING_* messages.

/** A kick or call notifier: none received, an eventfd, or the "invalid fd" form (vhost-user flag bit 8). */
export type NotifierState = 'none' | 'fd' | 'nofd';

export interface VringAddr {
  readonly desc: bigint;
  readonly avail: bigint;
  readonly used: bigint;
  readonly log: bigint;
  readonly flags: number;
}

export interface Vring {
  num: number;
  addr: VringAddr | null;
  /** Split: free-running 16-bit next avail index. Packed: next avail slot (< num). */
  lastAvail: number;
  /** Packed Driver Ring Wrap Counter as the device tracks it (§2.8.1); starts at 1. */
  availWrap: boolean;
  /** Split: free-running 16-bit used idx. Packed: next used slot (< num). */
  usedIdx: number;
  /** Packed Device Ring Wrap Counter (§2.8.1); starts at 1. */
  usedWrap: boolean;
  /** vhost-user.rst "Ring states": started by SET_VRING_KICK, stopped by GET_VRING_BASE. */
  started: boolean;
  enabled: boolean;
  kick: NotifierState;
  call: NotifierState;
  /** The driver broke the ring contract; nothing is processed until reset (§2.1.2 DEVICE_NEEDS_RESET). */
  broken: boolean;
  /** The call eventfd was written and not yet consumed by waitCall. */
  callPending: boolean;
  /** The avail idx read at the previous kick (only the torn-read mutant uses it). */
  availIdxSeen: number;
  /** VRING_AVAIL_F_NO_INTERRUPT was ever seen set (only the no-interrupt-sticky mutant uses it). */
  noInterruptSeen: boolean;
}

export function freshVring(): Vring {
  return {
    num: 0,
    addr: null,
    lastAvail: 0,
    availWrap: true,
    usedIdx: 0,
    usedWrap: true,
    started: false,
    enabled: false,
    kick: 'none',
    call: 'none',
    broken: false,
    callPending: false,
    availIdxSeen: 0,
    noInterruptSeen: false,
  };
}

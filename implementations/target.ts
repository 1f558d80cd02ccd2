// The one interface every implementation adapter provides (DESIGN.md
// "implementations/ — the Target interface"). The suite, acting as the virtio
// driver and the vhost front-end, talks to a Target only through this.
import type { Reply, VhostRequest } from '../spec/requests.ts';

/** One region of guest memory that the suite shares with the device. */
export interface GuestRegion {
  /** Guest physical address: what descriptors carry. */
  readonly gpa: bigint;
  /** Front-end virtual address: what SET_VRING_ADDR and IOTLB uaddr carry. */
  readonly uaddr: bigint;
  /** The shared mapping itself (memfd-backed for socket and kernel targets): a view into `GuestMemory.backing`. */
  readonly bytes: Buffer;
  /** Where `bytes` starts inside `GuestMemory.backing` (also the mmap offset into the memfd). */
  readonly backingOffset: number;
}

export interface GuestMemory {
  readonly regions: readonly GuestRegion[];
  /** The whole shared area: regions plus the guard bytes around them (see guestMemory.ts). */
  readonly backing: Buffer;
  /** Byte ranges of `backing` that belong to no region; the canary oracle watches them. */
  readonly guards: readonly { readonly start: number; readonly end: number }[];
}

export type TargetKind = 'simulated' | 'socket' | 'kernel';
export type DeviceType = 'net' | 'blk' | 'fs';

export interface TargetInfo {
  /** e.g. `simulated`, `simulated:mutant=split-no-desc-bound`, `qemu-storage-daemon`. */
  readonly name: string;
  readonly kind: TargetKind;
  readonly version: string;
  readonly deviceType: DeviceType;
  /** Number of virtqueues the device exposes. */
  readonly queues: number;
  /** Largest queue size the device accepts. */
  readonly maxQueueSize: number;
  /**
   * The back-end process serves one session and then exits (QEMU's virtiofsd): an exit with a
   * status code is its way of ending a session, and only death by a signal is a crash.
   */
  readonly processPerSession?: boolean;
  /** A blk device whose disk starts zeroed in every session (a RAM disk created per session), not an image that persists. */
  readonly freshDisk?: boolean;
}

/** Whether a health report means the back-end crashed, rather than ended a session the way it always does. */
export function crashed(h: Health, info: TargetInfo): h is Extract<Health, { state: 'exited' }> {
  if (h.state !== 'exited') return false;
  if (h.signal !== null) return true;
  return h.code !== null && !info.processPerSession;
}

/** The back-end's last log line as a suffix for a CRASH detail ('' when it printed nothing). */
export function lastLogNote(h: Extract<Health, { state: 'exited' }>): string {
  return h.lastLog ? `; its last log line: ${JSON.stringify(h.lastLog)}` : '';
}

/** A raw transport frame for fuzzing: bytes plus how many fresh fds to attach. */
export interface RawFrame {
  readonly bytes: Uint8Array;
  readonly fds?: number;
}

export type Health =
  | { readonly state: 'alive' }
  /** `lastLog`: the last line a spawned back-end printed (qsd's "vu_panic: …"), which often names the cause. */
  | { readonly state: 'exited'; readonly code: number | null; readonly signal: string | null; readonly lastLog?: string }
  | { readonly state: 'hung' };

export interface Target {
  readonly info: TargetInfo;
  readonly memory: GuestMemory;
  send(req: VhostRequest): Promise<Reply>;
  sendRaw?(frame: RawFrame): Promise<Reply>;
  /** Signal the kick notifier of `vq` (eventfd write, or the in-process equivalent). */
  kick(vq: number): Promise<void>;
  /** True if the device signalled `vq`'s call notifier within `timeoutMs`; consumes the signal. */
  waitCall(vq: number, timeoutMs: number): Promise<boolean>;
  health(): Promise<Health>;
  /**
   * Makes memory coherent between the suite and a device that does not share it directly (a kernel device in the
   * QEMU guest sees a mirror of `memory`, implementations/guest/memoryMirror.ts): the driver's writes reach the device
   * and the device's writes appear in `memory`. Such a target pushes by itself in kick() (before signalling) and
   * pulls the waited ring's used entries in waitCall() (after the wait); the harness calls this before it reads
   * anything else the device wrote (buffers, other rings, the canary guards). Targets that share memory leave it out.
   */
  sync?(): Promise<void>;
  /**
   * The dirty log bitmap the device was given by the last accepted setLogBase (vhost-user.rst
   * "Migration": bit page%8 of byte page/8 for guest page addr/0x1000), or null before one. A
   * target without dirty logging does not implement it.
   */
  dirtyLog?(): Uint8Array | null;
  /**
   * Open fds of the back-end process (a spawned peer's /proc/PID/fd), or null when not known: what a
   * leak check compares before and after repeated messages (vhost-user.robust.no-leak-on-repeat).
   */
  backEndFds?(): number | null;
  /**
   * True for a device that does all the work a kick causes before kick() resolves and nothing between calls (the
   * in-process simulated device without a clock): after a kick has returned, waiting shows no further used buffer,
   * call or log mark, so the suite looks once instead of waiting for a late completion that cannot come.
   */
  readonly completesInKick?: boolean;
  /** Releases every fd, mapping and child process. Idempotent. */
  close(): Promise<void>;
}

// A vhost-user front-end behind the Target interface (DESIGN.md
// "implementations/ — the Target interface"). The suite plays QEMU's role:
// it owns guest memory (one memfd, shared by SET_MEM_TABLE), the kick and
// call eventfds, and speaks the protocol of QEMU docs/interop/vhost-user.rst
// over a UNIX stream socket. Transport trouble is never thrown: it becomes
// `{ closed: true }` or `{ timeout: true }` so the model can judge it.
import { fstatSync } from 'node:fs';
import { INFLIGHT_AREA_MAX, type InflightArea, LOG_AREA_MAX, type Reply, type VhostRequest } from '../../spec/requests.ts';
import { inflightAreaSize } from '../../spec/vhostUser/inflight.ts';
import { VHOST_IOTLB_INVALIDATE, VHOST_IOTLB_UPDATE } from '../../spec/vhost/types.ts';
import {
  decodeHeader,
  decodePayload,
  encodeFrame,
  VHOST_USER_HEADER,
  VHOST_USER_NEED_REPLY_MASK,
  VHOST_USER_REPLY_MASK,
  VHOST_USER_VERSION,
} from '../../spec/vhostUser/frame.ts';
import * as M from '../../spec/vhostUser/messages.ts';
import { encodePayload, VHOST_USER_VRING_IDX_MASK, VHOST_USER_VRING_NOFD_MASK, type Payload } from '../../spec/vhostUser/payloads.ts';
import { hasProtocolFeature } from '../../spec/vhostUser/protocolFeatures.ts';
import { close as closeFd, EventFd, isErrnoError, type OwnedFd, sendmsg, SharedMemory, UnixSocket, type RecvIntoResult } from '../../native/index.ts';
import { backingSize, layOutGuestMemory } from '../guestMemory.ts';
import type { DeviceType, GuestMemory, Health, RawFrame, Target, TargetInfo } from '../target.ts';
import { ReceiveBuffer } from './receiveBuffer.ts';

/** What a spawned back-end contributes to a session: its process status, and what to do when the session closes. */
export interface VhostUserPeer {
  health(): Health;
  /** Open fds of the back-end process, or null when not known (Target.backEndFds). */
  openFds?(): number | null;
  /** Called once, by close(), after the connection is released. */
  release(): Promise<void>;
}

export interface VhostUserOptions {
  readonly socketPath: string;
  readonly deviceType: DeviceType;
  readonly name?: string;
  readonly version?: string;
  /** Virtqueues the device exposes (default 1). */
  readonly queues?: number;
  /** Largest queue size the back-end accepts (default 1024, libvhost-user's VIRTQUEUE_MAX_SIZE). */
  readonly maxQueueSize?: number;
  /** How long to keep retrying connect() while the socket is absent or refusing (default 2000 ms). */
  readonly connectTimeoutMs?: number;
  /** Bound on every wait for a reply (default 2000 ms). */
  readonly replyTimeoutMs?: number;
  /** How long sendRaw waits for a reply that may never come (default 200 ms). */
  readonly rawReplyTimeoutMs?: number;
  /**
   * How long a wait for the back-end may block before it yields to the event loop (default 1 ms): a
   * reply in recvmsg on the socket, whose receive and send timeouts are set to it (SO_RCVTIMEO and
   * SO_SNDTIMEO, counted by the kernel in clock ticks, so a wait may run over by up to one tick); a
   * call in poll(2). A back-end in another process answers a control message within tens of
   * microseconds, and waking through the event loop costs about as much again (bench/roundTrips.ts).
   * It must be 0 for a back-end served by this process's own event loop, which cannot answer while
   * the loop is blocked: the socket is then non-blocking.
   */
  readonly blockingWaitMs?: number;
  readonly peer?: VhostUserPeer;
  /** The peer process ends with each session (TargetInfo.processPerSession). */
  readonly processPerSession?: boolean;
}

type Failure = { readonly closed: true } | { readonly timeout: true };
interface Frame {
  readonly request: number;
  readonly flags: number;
  readonly payload: Uint8Array;
  readonly raw: Uint8Array;
}

const CLOSED: Failure = { closed: true };
const TIMEOUT: Failure = { timeout: true };
const NO_PAYLOAD: Payload = { type: 'none' };

/** A result that is there at once when no wait was needed, or comes when the wait on the event loop ends. */
type Pending<T> = T | Promise<T>;
type Transacted = Failure | { ok: true } | { payload: Uint8Array; decoded: Payload };

/** `next(value)`, at once when `value` is already there: the round trip's common case costs no promise. */
function whenSettled<T, U>(value: Pending<T>, next: (v: T) => Pending<U>): Pending<U> {
  return value instanceof Promise ? value.then(next) : next(value);
}
const RECV_BYTES = 4096;
// No front-end message we send solicits fds except GET_INFLIGHT_FD (one) and
// GET_SHARED_OBJECT (zero or one); room for a few more so a misbehaving peer
// does not make recvmsg drop the bytes (MSG_CTRUNC).
const RECV_FDS = 8;
// The native sendmsg caps SCM_RIGHTS at 16 fds; a SET_MEM_TABLE with more
// regions than that is invalid anyway ("Multiple Memory regions
// description": at most 8), so the surplus regions go without an fd.
const MAX_SEND_FDS = 16;

/** Replaced call notifiers watched per vring at most; beyond that the oldest is read and closed. */
const MAX_RETIRED_CALLS = 8;
/** How often a wait for a call also looks at the notifiers being replaced. */
const RETIRED_POLL_MS = 5;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// EBADF also covers OwnedFd's own "fd already closed" error (a code without
// an errno): close() racing a request in flight.
function isTransportErrno(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && ['EPIPE', 'ECONNRESET', 'ENOTCONN', 'EBADF', 'ECANCELED', 'ECONNREFUSED'].includes(code);
}

/**
 * Bits 0-7 of the SET_VRING_KICK/CALL word carry the index and bit 8 the
 * no-fd flag ("VHOST_USER_SET_VRING_KICK"). An index above 255 cannot be
 * expressed; its higher bits are sent above bit 8 (bits the doc leaves
 * undefined) so a hostile index still reaches the back-end, while bit 8
 * always tells the truth about the ancillary data.
 */
function vringFileWord(index: number, noFd: boolean): bigint {
  const i = BigInt(index >>> 0);
  return (i & BigInt(VHOST_USER_VRING_IDX_MASK)) | ((i >> 8n) << 9n) | (noFd ? BigInt(VHOST_USER_VRING_NOFD_MASK) : 0n);
}

export class VhostUserTarget implements Target {
  readonly info: TargetInfo;
  readonly memory: GuestMemory;
  /** Why the last reply was rejected as malformed (the session was then closed), or undefined. */
  lastProtocolError: string | undefined;

  readonly #sock: UnixSocket;
  readonly #shm: SharedMemory;
  readonly #kick = new Map<number, EventFd>();
  readonly #call = new Map<number, EventFd>();
  readonly #err = new Map<number, EventFd>();
  /**
   * Call notifiers replaced while the back-end may still signal them, per vring, with the number of
   * replies received before the replacement was sent (see #retireCall).
   */
  readonly #retiredCall = new Map<number, { readonly fd: EventFd; readonly replies: number }[]>();
  /** Vrings with a signal found on a call notifier as it was closed: the next waitCall reports it. */
  readonly #carriedCall = new Set<number>();
  /** Replies received so far: one after a replacement shows the back-end has processed it (messages are handled in order). */
  #replies = 0;
  #log: { readonly shm: SharedMemory; readonly offset: number; readonly size: number } | undefined;
  /** The eventfd of the last SET_LOG_FD (the back-end holds its own duplicate). */
  #logFd: EventFd | undefined;
  /** The inflight buffer of the last answered GET_INFLIGHT_FD: its fd's mapping and the description's size and offset. */
  #inflight: { readonly shm: SharedMemory; readonly offset: bigint; readonly size: bigint } | undefined;
  /** While a GET_INFLIGHT_FD waits for its reply, the fds #recv takes; otherwise undefined and #recv closes them. */
  #replyFds: number[] | undefined;
  readonly #replyTimeoutMs: number;
  readonly #rawReplyTimeoutMs: number;
  readonly #blockingWaitMs: number;
  readonly #peer: VhostUserPeer | undefined;
  readonly #rx = new ReceiveBuffer(2 * RECV_BYTES);
  #protocolFeatures = 0n;
  #peerClosed = false;
  #released = false;
  // A request that timed out may still be answered later; those bytes must
  // not be taken for the reply to the next request.
  #stale = false;
  /** Settles once the last queued request has finished (#exclusive). */
  #lock: Promise<unknown> = Promise.resolve();
  /** Requests queued or running on the event loop. */
  #inFlight = 0;

  private constructor(sock: UnixSocket, shm: SharedMemory, opts: VhostUserOptions) {
    this.#sock = sock;
    this.#shm = shm;
    this.#replyTimeoutMs = opts.replyTimeoutMs ?? 2000;
    this.#rawReplyTimeoutMs = opts.rawReplyTimeoutMs ?? 200;
    this.#blockingWaitMs = opts.blockingWaitMs ?? 1;
    this.#peer = opts.peer;
    this.memory = layOutGuestMemory(Buffer.from(shm.buffer, 0, shm.size));
    this.info = {
      name: opts.name ?? 'vhost-user',
      kind: 'socket',
      version: opts.version ?? 'unknown',
      deviceType: opts.deviceType,
      queues: opts.queues ?? 1,
      maxQueueSize: opts.maxQueueSize ?? 1024,
      ...(opts.processPerSession && { processPerSession: true }),
    };
  }

  /** Connects (retrying while the socket is absent or refusing, up to connectTimeoutMs) and creates guest memory. Throws if no connection could be made. */
  static async open(opts: VhostUserOptions): Promise<VhostUserTarget> {
    const deadline = Date.now() + (opts.connectTimeoutMs ?? 2000);
    let sock: UnixSocket;
    for (;;) {
      try {
        sock = UnixSocket.connect(opts.socketPath);
        break;
      } catch (e) {
        const retry = isErrnoError(e) && ['ENOENT', 'ECONNREFUSED', 'EAGAIN'].includes(e.code);
        if (!retry || Date.now() >= deadline) throw e;
        await sleep(10);
      }
    }
    try {
      const blockingWaitMs = opts.blockingWaitMs ?? 1;
      // One blocking recvmsg waits for a reply where poll + a non-blocking recvmsg took two syscalls.
      if (blockingWaitMs > 0) sock.setIoTimeout(blockingWaitMs);
      else sock.setNonblocking(true);
      const shm = SharedMemory.create('vhostcheck-guest', backingSize());
      return new VhostUserTarget(sock, shm, opts);
    } catch (e) {
      sock.close();
      throw e;
    }
  }

  /** The protocol feature word last sent with SET_PROTOCOL_FEATURES: what this front-end considers negotiated. */
  get protocolFeatures(): bigint {
    return this.#protocolFeatures;
  }

  send(req: VhostRequest): Promise<Reply> {
    return this.#exclusive(() => this.#send(req));
  }

  sendRaw(frame: RawFrame): Promise<Reply> {
    return this.#exclusive(async () => {
      if (this.#isClosed()) return CLOSED;
      this.#drainStale();
      const fds = Array.from({ length: frame.fds ?? 0 }, () => EventFd.create());
      try {
        const sent = await this.#write(frame.bytes, fds.map((f) => f.fd), Date.now() + this.#replyTimeoutMs);
        if (sent) return sent;
      } finally {
        // The receiver holds its own copies (SCM_RIGHTS duplicates them).
        for (const f of fds) f.close();
      }
      const r = await this.#readFrame(Date.now() + this.#rawReplyTimeoutMs);
      if ('timeout' in r) return { ok: true };
      if ('closed' in r) return r;
      return { ok: true, value: r.raw };
    });
  }

  async kick(vq: number): Promise<void> {
    // Without a kick fd (bit 8 sent) "polling should be used instead of
    // waiting for the kick" (VHOST_USER_SET_VRING_KICK): nothing to signal.
    const fd = this.#kick.get(vq);
    if (fd && !fd.closed) fd.signal(1n);
  }

  async waitCall(vq: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    try {
      for (;;) {
        // A signal on a notifier being replaced is a signal for this vring too: the back-end used the one it had.
        const earlier = this.#carriedCall.delete(vq) || this.#sweepRetired(vq);
        const fd = this.#call.get(vq);
        const now = fd !== undefined && !fd.closed && fd.read() !== null;
        if (earlier || now) return true;
        const left = deadline - Date.now();
        if (fd === undefined || fd.closed || left <= 0) return false;
        // While an old notifier is still watched, wake now and then to look at it too.
        const slice = this.#retiredCall.has(vq) ? Math.min(left, RETIRED_POLL_MS) : left;
        if ((await this.#waitReadable(fd, slice)) && fd.read() !== null) return true;
      }
    } catch (e) {
      if (isErrnoError(e)) return false;
      throw e;
    }
  }

  /**
   * Keeps a replaced call notifier open: until the back-end has processed the replacement, it may use
   * the old one (vhost-user.rst "VHOST_USER_SET_VRING_CALL": the fd to "signal when buffers are used"
   * is the one it holds). Closing it unread would lose that signal, and with it a required notification.
   */
  #retireCall(vq: number, fd: EventFd, replies: number): void {
    const list = this.#retiredCall.get(vq) ?? [];
    list.push({ fd, replies });
    // A long churn without replies (no REPLY_ACK) would hold an fd per replacement: the oldest are read, then closed.
    while (list.length > MAX_RETIRED_CALLS) this.#drainClose(vq, list.shift()!.fd);
    this.#retiredCall.set(vq, list);
  }

  /** Reads every retired notifier of `vq`, closing those the back-end no longer uses; whether any was signalled. */
  #sweepRetired(vq: number): boolean {
    const list = this.#retiredCall.get(vq);
    if (!list) return false;
    let signalled = false;
    const keep = list.filter((r) => {
      if (r.fd.read() !== null) signalled = true;
      if (this.#replies <= r.replies) return true;
      r.fd.close();
      return false;
    });
    if (keep.length > 0) this.#retiredCall.set(vq, keep);
    else this.#retiredCall.delete(vq);
    return signalled;
  }

  #drainClose(vq: number, fd: EventFd): void {
    if (!fd.closed && fd.read() !== null) this.#carriedCall.add(vq);
    fd.close();
  }

  async health(): Promise<Health> {
    if (this.#peer) return this.#peer.health();
    if (!this.#isClosed()) this.#notice();
    return this.#isClosed() ? { state: 'exited', code: null, signal: null } : { state: 'alive' };
  }

  async close(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    // Closing the socket cancels a pending pollAsync (it rejects ECANCELED),
    // so a request in flight ends as { closed: true } instead of waiting out its timeout.
    this.#sock.close();
    for (const fd of [...this.#kick.values(), ...this.#call.values(), ...this.#err.values(), ...[...this.#retiredCall.values()].flat().map((r) => r.fd)]) fd.close();
    this.#retiredCall.clear();
    this.#kick.clear();
    this.#call.clear();
    this.#err.clear();
    this.#shm.close();
    this.#log?.shm.close();
    this.#log = undefined;
    this.#logFd?.close();
    this.#logFd = undefined;
    this.#inflight?.shm.close();
    this.#inflight = undefined;
    await this.#lock;
    await this.#peer?.release();
  }

  #isClosed(): boolean {
    return this.#released || this.#peerClosed;
  }

  /**
   * Runs `fn` once every request sent before it has finished (one request on the stream at a time).
   * With none queued or running it runs at once, and a request that needs no wait completes without
   * entering the queue at all.
   */
  #exclusive<T>(fn: () => Pending<T>): Promise<T> {
    if (this.#inFlight === 0) {
      let now: Pending<T>;
      try {
        now = fn();
      } catch (e) {
        return Promise.reject(e);
      }
      return now instanceof Promise ? this.#queue(now) : Promise.resolve(now);
    }
    return this.#queue(this.#lock.then(fn, fn));
  }

  /** Holds back later requests until `run` settles. */
  #queue<T>(run: Promise<T>): Promise<T> {
    this.#inFlight++;
    this.#lock = run.then(this.#dequeue, this.#dequeue);
    return run;
  }

  readonly #dequeue = (): void => {
    this.#inFlight--;
  };

  #send(req: VhostRequest): Pending<Reply> {
    switch (req.op) {
      case 'getFeatures':
        return this.#get(M.VHOST_USER_GET_FEATURES, (p) => (p.type === 'u64' ? p.value.u64 : undefined));
      case 'getProtocolFeatures':
        return this.#get(M.VHOST_USER_GET_PROTOCOL_FEATURES, (p) => (p.type === 'u64' ? p.value.u64 : undefined));
      case 'getQueueNum':
        return this.#get(M.VHOST_USER_GET_QUEUE_NUM, (p) => (p.type === 'u64' ? Number(p.value.u64) : undefined));
      case 'getStatus':
        return this.#get(M.VHOST_USER_GET_STATUS, (p) => (p.type === 'u64' ? Number(p.value.u64) : undefined));
      case 'getVringBase':
        return this.#get(
          M.VHOST_USER_GET_VRING_BASE,
          (p) => (p.type === 'vringDescIndex' ? p.value.num : undefined),
          { type: 'vringState', value: { index: req.index >>> 0, num: 0 } },
        );
      case 'getConfig':
        // "VHOST_USER_GET_CONFIG": the front-end sends the header with `size`
        // bytes of room; flags 0 is VHOST_SET_CONFIG_TYPE_FRONTEND.
        return this.#get(M.VHOST_USER_GET_CONFIG, (p) => (p.type === 'config' ? p.value.data : undefined), {
          type: 'config',
          value: { offset: req.offset >>> 0, size: req.size >>> 0, flags: 0, data: new Uint8Array(req.size >>> 0) },
        });
      case 'setConfig':
        // "VHOST_USER_SET_CONFIG": the same config payload, `size` bytes of data; no reply payload.
        return this.#set(M.VHOST_USER_SET_CONFIG, {
          type: 'config',
          value: { offset: req.offset >>> 0, size: req.data.length, flags: req.flags >>> 0, data: req.data },
        });
      case 'setFeatures':
        return this.#set(M.VHOST_USER_SET_FEATURES, { type: 'u64', value: { u64: req.features } });
      case 'setProtocolFeatures':
        return whenSettled(this.#set(M.VHOST_USER_SET_PROTOCOL_FEATURES, { type: 'u64', value: { u64: req.features } }), (r) => {
          if ('ok' in r && r.ok) this.#protocolFeatures = req.features;
          return r;
        });
      case 'setOwner':
        return this.#set(M.VHOST_USER_SET_OWNER, { type: 'none' });
      case 'resetDevice':
        // RESET_OWNER is deprecated in favour of RESET_DEVICE, which exists
        // only with VHOST_USER_PROTOCOL_F_RESET_DEVICE ("VHOST_USER_RESET_DEVICE").
        return this.#set(
          hasProtocolFeature(this.#protocolFeatures, 'RESET_DEVICE') ? M.VHOST_USER_RESET_DEVICE : M.VHOST_USER_RESET_OWNER,
          { type: 'none' },
        );
      case 'setMemTable':
        return this.#setMemTable(req.regions);
      case 'setVringNum':
        return this.#set(M.VHOST_USER_SET_VRING_NUM, { type: 'vringState', value: { index: req.index >>> 0, num: req.num >>> 0 } });
      case 'setVringBase':
        return this.#set(M.VHOST_USER_SET_VRING_BASE, { type: 'vringDescIndex', value: { index: req.index >>> 0, num: req.base >>> 0 } });
      case 'setVringAddr':
        return this.#set(M.VHOST_USER_SET_VRING_ADDR, {
          type: 'vringAddr',
          value: {
            index: req.index >>> 0,
            flags: req.flags >>> 0,
            desc_user_addr: req.desc,
            used_user_addr: req.used,
            avail_user_addr: req.avail,
            log_guest_addr: req.log,
          },
        });
      case 'setVringKick':
        return this.#setVringFile(M.VHOST_USER_SET_VRING_KICK, this.#kick, req.index, req.invalid ?? false);
      case 'setVringCall':
        return this.#setVringFile(M.VHOST_USER_SET_VRING_CALL, this.#call, req.index, req.invalid ?? false);
      case 'setVringErr':
        return this.#setVringFile(M.VHOST_USER_SET_VRING_ERR, this.#err, req.index, req.invalid ?? false);
      case 'setVringEnable':
        return this.#set(M.VHOST_USER_SET_VRING_ENABLE, { type: 'vringState', value: { index: req.index >>> 0, num: req.enable ? 1 : 0 } });
      case 'setStatus':
        return this.#set(M.VHOST_USER_SET_STATUS, { type: 'u64', value: { u64: BigInt(req.status >>> 0) } });
      case 'iotlbUpdate':
        return this.#status(M.VHOST_USER_IOTLB_MSG, {
          type: 'iotlb',
          value: { iova: req.iova, size: req.size, uaddr: req.uaddr, perm: req.perm & 0xff, type: VHOST_IOTLB_UPDATE },
        });
      case 'iotlbInvalidate':
        return this.#status(M.VHOST_USER_IOTLB_MSG, {
          type: 'iotlb',
          value: { iova: req.iova, size: req.size, uaddr: 0n, perm: 0, type: VHOST_IOTLB_INVALIDATE },
        });
      case 'getMaxMemSlots':
        return this.#get(M.VHOST_USER_GET_MAX_MEM_SLOTS, (p) => (p.type === 'u64' ? Number(p.value.u64) : undefined));
      case 'addMemReg':
        // "VHOST_USER_ADD_MEM_REG": one region and exactly one fd (vhost-user.mem.add-reg-one-fd).
        return this.#set(M.VHOST_USER_ADD_MEM_REG, { type: 'singleMemoryRegion', value: { padding: 0n, ...this.#regionEntry(req.region, 0) } }, [this.#shm.fd]);
      case 'remMemReg':
        // "VHOST_USER_REM_MEM_REG": no fd (vhost-user.mem.rem-reg-no-fd); the back-end matches gpa, uaddr and size.
        return this.#set(M.VHOST_USER_REM_MEM_REG, { type: 'singleMemoryRegion', value: { padding: 0n, ...this.#regionEntry(req.region, 0) } });
      case 'setLogBase':
        return this.#setLogBase(req.size, req.offset);
      case 'setLogFd': {
        // "VHOST_USER_SET_LOG_FD": no payload, the eventfd as ancillary data; "an optional message ... used
        // to inform the front-end that the log has been modified" (Migration).
        const fd = EventFd.create();
        return whenSettled(this.#set(M.VHOST_USER_SET_LOG_FD, { type: 'none' }, [fd.fd]), (r) => {
          this.#logFd?.close();
          this.#logFd = fd;
          return r;
        });
      }
      case 'getInflightFd':
        return this.#getInflightFd(req.numQueues, req.queueSize);
      case 'setInflightFd':
        return this.#setInflightFd(req.numQueues, req.queueSize, req.withFd);
    }
  }

  /**
   * "VHOST_USER_GET_INFLIGHT_FD": the request carries num_queues and queue_size; the reply, which
   * "Communication" requires with INFLIGHT_SHMFD, carries the description and the buffer's fd. The
   * fd is the one a reply may bring, so #recv keeps it for this transaction only. The buffer is
   * mapped from 0 to mmap_offset + mmap_size (any offset then works) once fstat shows the file is
   * that large: touching a mapping past the end of its file would be SIGBUS here. mmap_size 0 means no
   * buffer (QEMU's vhost_user_get_inflight_fd() then carries on without one): a refusal here.
   */
  async #getInflightFd(numQueues: number, queueSize: number): Promise<Reply> {
    const payload: Payload = { type: 'inflight', value: { mmap_size: 0n, mmap_offset: 0n, num_queues: numQueues & 0xffff, queue_size: queueSize & 0xffff } };
    this.#drainStale();
    this.#replyFds = [];
    let fds: number[] = [];
    let r: Transacted;
    try {
      r = await this.#transact(M.VHOST_USER_GET_INFLIGHT_FD, 0, payload, [], true);
    } finally {
      fds = this.#replyFds ?? [];
      this.#replyFds = undefined;
    }
    const [fd, ...surplus] = fds;
    surplus.forEach(closeFd);
    if (!('payload' in r) || r.decoded.type !== 'inflight' || r.decoded.value.mmap_size === 0n) {
      if (fd !== undefined) closeFd(fd);
      return 'payload' in r ? { ok: false, errno: 'EIO' } : r;
    }
    const { mmap_size: size, mmap_offset: offset } = r.decoded.value;
    const described = { mmapSize: size, mmapOffset: offset };
    if (fd === undefined) return { ok: true, value: { ...described, fd: false, bytes: null } satisfies InflightArea };
    const end = offset + size;
    const fileSize = BigInt(fstatSync(fd).size);
    const problem = end > BigInt(INFLIGHT_AREA_MAX) ? `mmap_offset + mmap_size 0x${end.toString(16)} is more than the suite maps` : end > fileSize ? `mmap_offset + mmap_size 0x${end.toString(16)} runs past the ${fileSize}-byte file` : undefined;
    if (problem !== undefined) {
      closeFd(fd);
      return { ok: true, value: { ...described, fd: true, bytes: null, problem } satisfies InflightArea };
    }
    let shm: SharedMemory;
    try {
      shm = SharedMemory.adopt(fd, Number(end));
    } catch (e) {
      // adopt() closed the fd; a file that fstat sizes but mmap refuses (not a memfd) is the back-end's fault.
      if (!isErrnoError(e)) throw e;
      return { ok: true, value: { ...described, fd: true, bytes: null, problem: `mmap failed: ${e.code}` } satisfies InflightArea };
    }
    this.#inflight?.shm.close();
    this.#inflight = { shm, offset, size };
    return { ok: true, value: { ...described, fd: true, bytes: shm.bytes.subarray(Number(offset), Number(end)) } satisfies InflightArea };
  }

  /**
   * "VHOST_USER_SET_INFLIGHT_FD": the buffer goes back with its fd as ancillary data ("Communication").
   * It is the one the last GET_INFLIGHT_FD returned; without one, a fresh zeroed memfd sized for the
   * packed layout (the larger), or one page when that is empty or too large, as a buggy front-end's.
   */
  async #setInflightFd(numQueues: number, queueSize: number, withFd: boolean): Promise<Reply> {
    const held = this.#inflight;
    const want = inflightAreaSize(numQueues, queueSize, true);
    const fresh = held ? undefined : SharedMemory.create('vhostcheck-inflight', want > 0 && want <= INFLIGHT_AREA_MAX ? want : 4096);
    try {
      const payload: Payload = {
        type: 'inflight',
        value: { mmap_size: held?.size ?? BigInt(fresh!.size), mmap_offset: held?.offset ?? 0n, num_queues: numQueues & 0xffff, queue_size: queueSize & 0xffff },
      };
      return await this.#set(M.VHOST_USER_SET_INFLIGHT_FD, payload, withFd ? [(held?.shm ?? fresh!).fd] : []);
    } finally {
      // The back-end holds its own duplicate of a fresh buffer's fd; a held buffer stays for the next SET.
      fresh?.close();
    }
  }

  backEndFds(): number | null {
    return this.#peer?.openFds?.() ?? null;
  }

  /** The dirty log bitmap the back-end was given, as the front-end maps it (vhost-user.rst "Migration"). */
  dirtyLog(): Uint8Array | null {
    const l = this.#log;
    if (!l || l.shm.closed) return null;
    return new Uint8Array(l.shm.buffer, l.offset, l.size);
  }

  /**
   * "VHOST_USER_SET_LOG_BASE": with LOG_SHMFD the log memfd travels as ancillary data, its size and
   * offset in the payload, and the back-end replies (vhost-user.log.set-log-base). The area is
   * `offset + size` bytes of a fresh memfd; a pair no area could have (LOG_AREA_MAX) is sent as is
   * over a one-page memfd, as a buggy front-end would, and is never shown as the log.
   */
  async #setLogBase(size: bigint, offset: bigint): Promise<Reply> {
    const sane = size > 0n && offset >= 0n && size + offset <= LOG_AREA_MAX;
    const shm = SharedMemory.create('vhostcheck-log', sane ? Number(size + offset) : 4096);
    const shmfd = hasProtocolFeature(this.#protocolFeatures, 'LOG_SHMFD');
    try {
      const payload: Payload = { type: 'log', value: { mmap_size: BigInt.asUintN(64, size), mmap_offset: BigInt.asUintN(64, offset) } };
      const code = M.VHOST_USER_SET_LOG_BASE;
      const r = shmfd ? await this.#getAck(code, payload, [shm.fd]) : await this.#set(code, payload, [shm.fd]);
      if (sane && 'ok' in r && r.ok) {
        this.#log?.shm.close();
        this.#log = { shm, offset: Number(offset), size: Number(size) };
        return r;
      }
      shm.close();
      return r;
    } catch (e) {
      shm.close();
      throw e;
    }
  }

  /**
   * A message that always gets a reply whose layout the doc leaves open (SET_LOG_BASE with
   * LOG_SHMFD): the reply itself is the acknowledgement. Back-ends differ in what they put in it
   * (libvhost-user echoes the first u64 of the request, DPDK sends none), so its bytes mean nothing.
   */
  async #getAck(code: number, payload: Payload, fds: readonly number[]): Promise<Reply> {
    const r = await this.#transact(code, 0, payload, fds, true);
    return 'payload' in r ? { ok: true } : r;
  }

  /** A region as the memory table entries carry it: its memfd offset is where its uaddr falls in the backing. */
  #regionEntry(r: { gpa: bigint; size: bigint; uaddr: bigint }, index: number) {
    // A uaddr outside every region is taken relative to the region of the same index (mod 2^64):
    // hostile tables then carry hostile offsets, as a buggy front-end's would.
    const mine = this.memory.regions;
    const home = mine.find((m) => r.uaddr >= m.uaddr && r.uaddr < m.uaddr + BigInt(m.bytes.length)) ?? mine[index % mine.length];
    const mmap_offset = BigInt.asUintN(64, BigInt(home.backingOffset) + (r.uaddr - home.uaddr));
    return { guest_phys_addr: r.gpa, memory_size: r.size, userspace_addr: r.uaddr, mmap_offset };
  }

  #setMemTable(regions: readonly { gpa: bigint; size: bigint; uaddr: bigint }[]): Pending<Reply> {
    // "VHOST_USER_SET_MEM_TABLE": one fd per region in the ancillary data;
    // the back-end maps that fd and finds the region at mmap_offset. Every
    // region lives in the one memfd, so its offset is where the region's
    // uaddr falls inside the backing. A uaddr outside every region is taken
    // relative to the region of the same index (#regionEntry).
    const table = regions.map((r, i) => this.#regionEntry(r, i));
    const fds = table.slice(0, MAX_SEND_FDS).map(() => this.#shm.fd);
    return this.#set(M.VHOST_USER_SET_MEM_TABLE, { type: 'memoryTable', value: { nregions: table.length, padding: 0, regions: table } }, fds);
  }

  async #setVringFile(code: number, fds: Map<number, EventFd>, index: number, invalid: boolean): Promise<Reply> {
    const word = vringFileWord(index, invalid);
    const replies = this.#replies;
    const fd = invalid ? undefined : EventFd.create();
    const r = await this.#set(code, { type: 'vringFile', value: { u64: word } }, fd ? [fd.fd] : []);
    // A refusal leaves the back-end with the notifier it had: so does this front-end.
    if ('ok' in r && !r.ok) {
      fd?.close();
      return r;
    }
    // The back-end now holds its own duplicate; ours replaces the previous one, for the vring bits 0-7 name
    // (an index above 255 reaches the back-end as those bits, see vringFileWord).
    const vring = index & VHOST_USER_VRING_IDX_MASK;
    const old = fds.get(vring);
    if (fd) fds.set(vring, fd);
    else fds.delete(vring);
    if (old && fds === this.#call) this.#retireCall(vring, old, replies);
    else old?.close();
    return r;
  }

  /** A message whose entry names a reply payload: the reply is the answer. */
  #get(code: number, pick: (p: Payload) => bigint | number | Uint8Array | undefined, payload: Payload = NO_PAYLOAD): Pending<Reply> {
    return whenSettled(this.#transact(code, 0, payload, [], true), (r) => {
      if (!('payload' in r)) return r;
      // "VHOST_USER_GET_CONFIG": an empty payload reports an error.
      if (r.decoded.type === 'none') return { ok: false, errno: 'EIO' };
      const value = pick(r.decoded);
      return value === undefined ? { ok: true } : { ok: true, value };
    });
  }

  /**
   * A message whose own reply is a u64 status, REPLY_ACK or not ("VHOST_USER_IOTLB_MSG": "The back-end has
   * to acknowledge the request with sending zero as u64 payload for success, non-zero otherwise"). Left
   * unread, that reply would be taken for the next message's.
   */
  #status(code: number, payload: Payload): Pending<Reply> {
    return whenSettled(this.#transact(code, 0, payload, [], true), (r) => {
      if (!('payload' in r)) return r;
      return r.decoded.type === 'u64' && r.decoded.value.u64 === 0n ? { ok: true } : { ok: false, errno: 'EIO' };
    });
  }

  /**
   * A message without a natural reply. "REPLY_ACK": once negotiated, the
   * front-end may set need_reply on any request and the back-end must answer
   * with a u64, zero for success; anything else is reported as EIO, since
   * the doc gives the non-zero values no meaning.
   */
  #set(code: number, payload: Payload, fds: readonly number[] = []): Pending<Reply> {
    const ack = hasProtocolFeature(this.#protocolFeatures, 'REPLY_ACK');
    return whenSettled(this.#transact(code, ack ? VHOST_USER_NEED_REPLY_MASK : 0, payload, fds, ack), (r) => {
      if (!('payload' in r)) return r;
      if (r.decoded.type === 'u64' && r.decoded.value.u64 !== 0n) return { ok: false, errno: 'EIO' };
      return { ok: true };
    });
  }

  /**
   * One request and, when one is expected, its reply. Synchronous while the socket is ready (the
   * frame goes out in one sendmsg, the reply arrives within the blocking wait), so a round trip
   * costs no event-loop turn and no promise of its own; the event loop is used only when a wait
   * outlasts blockingWaitMs. Every wait is still bounded by the same deadline.
   */
  #transact(code: number, extraFlags: number, payload: Payload, fds: readonly number[], expectReply: boolean): Pending<Transacted> {
    if (this.#isClosed()) return CLOSED;
    this.#drainStale();
    const xenMmap = hasProtocolFeature(this.#protocolFeatures, 'XEN_MMAP');
    // "Header": flags carry version 0x1 in bits 0-1; header, payload and fds
    // go out in one sendmsg so the back-end reads them as one message.
    const bytes = encodeFrame(code, VHOST_USER_VERSION | extraFlags, encodePayload(payload, { xenMmap }));
    const deadline = Date.now() + this.#replyTimeoutMs;
    return whenSettled(this.#write(bytes, fds, deadline), (sent) => {
      if (sent) return sent;
      if (!expectReply) return { ok: true };
      return whenSettled(this.#readFrame(deadline), (f) => this.#judgeReply(code, f));
    });
  }

  #judgeReply(code: number, f: Failure | Frame): Transacted {
    if (!('raw' in f)) {
      if ('timeout' in f) this.#stale = true;
      return f;
    }
    // "Header": a reply has the reply flag (bit 2), version 1 and the
    // request code of the message it answers.
    if ((f.flags & VHOST_USER_REPLY_MASK) === 0) return this.#protocolError(`reply to request ${code} lacks the REPLY flag (flags 0x${f.flags.toString(16)})`);
    if (f.request !== code) return this.#protocolError(`reply carries request ${f.request}, expected ${code}`);
    try {
      const decoded = decodePayload(code, 'frontend', f.payload, { reply: true, protocolFeatures: this.#protocolFeatures });
      return { payload: f.payload, decoded };
    } catch (e) {
      return this.#protocolError(`reply to request ${code}: ${(e as Error).message}`);
    }
  }

  #protocolError(message: string): Failure {
    // A stream whose framing can no longer be trusted cannot carry another
    // request: the session ends here, as QEMU ends it.
    this.lastProtocolError = message;
    this.#peerClosed = true;
    try {
      this.#sock.shutdown('both');
    } catch {
      // Already disconnected: nothing left to shut down.
    }
    return CLOSED;
  }

  /**
   * Sends `bytes` from `off` on (fds with the first chunk that goes out); a Failure, or undefined once
   * everything is out. Synchronous unless the socket is full: then it waits on the event loop.
   */
  #write(bytes: Uint8Array, fds: readonly number[], deadline: number, off = 0): Pending<Failure | undefined> {
    // An empty frame sends nothing: sendmsg needs a data byte to carry fds.
    let unsent = fds;
    while (off < bytes.length) {
      try {
        off += sendmsg(this.#sock.fd, off === 0 ? bytes : bytes.subarray(off), unsent);
        unsent = [];
      } catch (e) {
        if (isErrnoError(e, 'EAGAIN')) return this.#writeWhenWritable(bytes, unsent, deadline, off);
        if (isTransportErrno(e)) return this.#markClosed();
        throw e;
      }
    }
    return undefined;
  }

  async #writeWhenWritable(bytes: Uint8Array, fds: readonly number[], deadline: number, off: number): Promise<Failure | undefined> {
    const left = deadline - Date.now();
    if (left <= 0) {
      this.#stale = true;
      return TIMEOUT;
    }
    try {
      await this.#sock.wait('out', left);
    } catch (pe) {
      if (isTransportErrno(pe)) return this.#markClosed();
      throw pe;
    }
    return this.#write(bytes, fds, deadline, off);
  }

  /**
   * Readiness of `fd` within `timeoutMs`: first a blocking poll of at most blockingWaitMs (answered
   * synchronously when it sees the fd ready), then the event loop for the rest.
   */
  #waitReadable(fd: OwnedFd, timeoutMs: number): Pending<boolean> {
    const blocking = Math.min(this.#blockingWaitMs, timeoutMs);
    if (blocking > 0 && fd.waitSync('in', blocking)) return true;
    return fd.wait('in', Math.max(0, timeoutMs - blocking));
  }

  #markClosed(): Failure {
    this.#peerClosed = true;
    return CLOSED;
  }

  /**
   * One whole frame from the stream, or why none came before the deadline. Synchronous while the
   * blocking receive suffices; then the event loop waits for the rest of the time.
   */
  #readFrame(deadline: number): Pending<Failure | Frame> {
    for (;;) {
      const f = this.#takeFrame();
      if (f) return f;
      let left = deadline - Date.now();
      if (left <= 0) return TIMEOUT;
      if (this.#blockingWaitMs > 0) {
        const got = this.#receiveBlocking(Math.min(this.#blockingWaitMs, left));
        if (got === 'closed') return CLOSED;
        if (got === 'data') continue;
        left = deadline - Date.now();
        if (left <= 0) return TIMEOUT;
      }
      let ready: Promise<boolean>;
      try {
        ready = this.#sock.wait('in', left);
      } catch (e) {
        if (isTransportErrno(e)) return this.#markClosed();
        throw e;
      }
      return this.#readFrameWhenReadable(ready, deadline);
    }
  }

  /**
   * Blocking receives (the socket's receive timeout bounds each) until bytes come or `ms` has passed:
   * the kernel counts that timeout in clock ticks, so one receive may give up before `ms`.
   */
  #receiveBlocking(ms: number): 'closed' | 'data' | 'empty' {
    const until = performance.now() + ms;
    for (;;) {
      const got = this.#recv(false);
      if (got !== 'empty' || performance.now() >= until) return got;
    }
  }

  async #readFrameWhenReadable(ready: Promise<boolean>, deadline: number): Promise<Failure | Frame> {
    let r: boolean;
    try {
      r = await ready;
    } catch (e) {
      if (isTransportErrno(e)) return this.#markClosed();
      throw e;
    }
    return this.#receiveReady(r) ?? this.#readFrame(deadline);
  }

  /** After a wait: why reading stops (nothing came, or the peer closed), or undefined once more bytes are in. */
  #receiveReady(ready: boolean): Failure | undefined {
    if (!ready) return TIMEOUT;
    return this.#recv() === 'closed' ? CLOSED : undefined;
  }

  /** The first whole frame in the buffer (taken out of it), a Failure when its header is malformed, or undefined when it is not all in yet. */
  #takeFrame(): Failure | Frame | undefined {
    if (this.#rx.length < VHOST_USER_HEADER.size) return undefined;
    const held = this.#rx.held();
    let size: number;
    try {
      size = decodeHeader(held).size;
    } catch (e) {
      return this.#protocolError(`malformed reply header ${held.subarray(0, VHOST_USER_HEADER.size).toString('hex')}: ${(e as Error).message}`);
    }
    const end = VHOST_USER_HEADER.size + size;
    if (held.length < end) return undefined;
    const raw = this.#rx.take(end);
    this.#replies++;
    return { request: raw.readUInt32LE(0), flags: raw.readUInt32LE(4), payload: raw.subarray(VHOST_USER_HEADER.size), raw };
  }

  /**
   * One recvmsg into the buffer: non-blocking, or with `dontwait` false, blocking for at most the
   * socket's receive timeout. Fds a reply carries are closed unless a GET_INFLIGHT_FD is collecting
   * them (#replyFds).
   */
  #recv(dontwait = true): 'closed' | 'data' | 'empty' {
    let r: RecvIntoResult | null;
    try {
      r = this.#sock.recvInto(this.#rx.room(RECV_BYTES), RECV_FDS, { dontwait });
    } catch (e) {
      if (isTransportErrno(e)) {
        this.#markClosed();
        return 'closed';
      }
      throw e;
    }
    if (r === null) return 'empty';
    for (const fd of r.fds) {
      if (this.#replyFds) this.#replyFds.push(fd);
      else closeFd(fd);
    }
    if (r.closed) {
      this.#markClosed();
      return 'closed';
    }
    this.#rx.filled(r.bytes);
    return 'data';
  }

  /** Notices a peer that hung up while no request was waiting. */
  #notice(): void {
    while (this.#recv() === 'data');
  }

  #drainStale(): void {
    if (!this.#stale) return;
    this.#stale = false;
    this.#notice();
    this.#rx.clear();
  }
}


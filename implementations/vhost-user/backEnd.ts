// A vhost-user back-end over a UNIX socket that serves a device behind the
// Target interface (the simulated device, `vhostcheck serve`). It speaks QEMU
// docs/interop/vhost-user.rst from the other side of frontEnd.ts: it reads
// front-end messages, maps each to a VhostRequest for the device, maps guest
// memory from the fds of SET_MEM_TABLE, turns kick eventfds into
// device.kick() and pending calls into writes on the call eventfds.
//
// Like libvhost-user it serves one connection at a time; each connection gets
// a fresh device, as a back-end process restarted per session would. A device
// that faults ends its connection (a crashed back-end's socket closes); one
// that hangs stops answering but keeps the connection open until the
// front-end hangs up.
import { fstatSync, lstatSync, unlinkSync } from 'node:fs';
import type { InflightArea, Reply, ReplyValue, VhostRequest } from '../../spec/requests.ts';
import { VHOST_IOTLB_INVALIDATE, VHOST_IOTLB_UPDATE } from '../../spec/vhost/types.ts';
import { decodeHeader, decodePayload, encodeFrame, VHOST_USER_HEADER, VHOST_USER_NEED_REPLY_MASK, VHOST_USER_REPLY_MASK, VHOST_USER_VERSION } from '../../spec/vhostUser/frame.ts';
import * as M from '../../spec/vhostUser/messages.ts';
import { effectiveRules, fdCountRange, messageSpec } from '../../spec/vhostUser/messages.ts';
import { encodePayload, splitNoFdWord, type MemoryTable, type Payload, type SingleMemoryRegion } from '../../spec/vhostUser/payloads.ts';
import { hasProtocolFeature } from '../../spec/vhostUser/protocolFeatures.ts';
import { close as closeFd, eventfdRead, eventfdWrite, isErrnoError, pollAsync, SharedMemory, UnixListener, UnixSocket } from '../../native/index.ts';
import type { InflightShare } from '../simulated/inflight.ts';
import type { GuestMemory, GuestRegion, Target } from '../target.ts';

/**
 * Builds the device one connection talks to; it must read guest memory through `memory` (see
 * LiveMemory), take its dirty log area from `logArea` (the mapping of SET_LOG_BASE's fd) and its
 * inflight buffers from `inflight` (memfds this back-end shares, and the mapping of SET_INFLIGHT_FD's fd).
 */
type DeviceFactory = (memory: GuestMemory, logArea: (size: bigint, offset: bigint) => Uint8Array, inflight: InflightShare) => Target;

// The largest frame decodeHeader accepts is a few hundred bytes; SET_MEM_TABLE
// carries at most VHOST_MEMORY_BASELINE_NREGIONS (8) fds. Room for more, so a
// hostile front-end's surplus fds are received (and closed) rather than
// truncated away with MSG_CTRUNC.
const RECV_FDS = 16;
/** How often idle waits wake to notice an abort they were not cancelled by. */
const IDLE_POLL_MS = 1000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Listens on `listenPath` and serves connections one after another until
 * `signal` aborts; then closes the listener, the connection, every received fd
 * and mapping, and removes the socket file. Rejects only if it cannot listen.
 */
export async function serveVhostUser(listenPath: string, makeDevice: DeviceFactory, signal: AbortSignal): Promise<void> {
  removeStaleSocket(listenPath);
  const listener = UnixListener.listen(listenPath);
  let session: Session | undefined;
  const stop = () => {
    listener.close();
    session?.close();
  };
  signal.addEventListener('abort', stop, { once: true });
  try {
    listener.setNonblocking(true);
    while (!signal.aborted) {
      let ready: boolean;
      try {
        ready = await listener.wait('in', IDLE_POLL_MS);
      } catch (e) {
        if (signal.aborted) break;
        throw e;
      }
      if (!ready) continue;
      const sock = listener.accept();
      if (sock === null) continue;
      session = new Session(sock, makeDevice);
      await session.run();
      session = undefined;
    }
  } finally {
    signal.removeEventListener('abort', stop);
    stop();
    try {
      unlinkSync(listenPath);
    } catch {
      // Already gone (removed by someone else): nothing to clean up.
    }
  }
}

/** A socket file left by a back-end that died is replaced; one that still answers is not. */
function removeStaleSocket(path: string): void {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return;
  }
  if (!isSocket) return; // listen() then fails with EADDRINUSE, which names the problem.
  try {
    UnixSocket.connect(path).close();
    throw Object.assign(new Error(`${path}: another back-end is listening there`), { code: 'EADDRINUSE' });
  } catch (e) {
    if (isErrnoError(e, 'ECONNREFUSED')) unlinkSync(path);
    else throw e;
  }
}

/**
 * The device's guest memory: a GuestMemory whose contents SET_MEM_TABLE
 * replaces. The simulated device reads `regions` when it accepts a table and
 * `backing` on every access, so swapping `current` before forwarding the
 * table (and back if the device refuses it) keeps the two in step.
 */
class LiveMemory implements GuestMemory {
  current: GuestMemory = { regions: [], backing: Buffer.alloc(0), guards: [] };
  get regions(): readonly GuestRegion[] {
    return this.current.regions;
  }
  get backing(): Buffer {
    return this.current.backing;
  }
  get guards(): GuestMemory['guards'] {
    return this.current.guards;
  }
}

/** Why a connection ends early: the framing cannot be trusted, or the device died. */
class Hangup extends Error {}

interface Message {
  readonly request: number;
  readonly flags: number;
  readonly payload: Uint8Array;
  readonly fds: number[];
}

/** The one fd a message carries, or undefined; any surplus is closed unused. */
function soleFd(fds: readonly number[]): number | undefined {
  const [fd, ...surplus] = fds;
  surplus.forEach(closeFd);
  return fd;
}

/** What a handler answers: a payload to send back, an ack status, or nothing. */
type Answer = { readonly payload: Payload; readonly fds?: readonly number[] } | { readonly ack: boolean } | { readonly hung: true };

class Session {
  readonly #sock: UnixSocket;
  readonly #memory = new LiveMemory();
  readonly #device: Target;
  #mapping: SharedMemory | undefined;
  /** The file behind #mapping: every later region must come from it (the device has one backing). */
  #mappingFile: { dev: number; ino: number } | undefined;
  /** The log mapping of the SET_LOG_BASE being handled, then of the last one the device accepted. */
  #logPending: SharedMemory | undefined;
  #log: SharedMemory | undefined;
  /** The eventfd of the last SET_LOG_FD; the device never signals it (it logs no changes to report). */
  #logFd: number | undefined;
  /** The memfd the device allocated while a GET_INFLIGHT_FD is handled, then the last one handed out (kept, as libvhost-user keeps it). */
  #inflightPending: SharedMemory | undefined;
  #inflightGiven: SharedMemory | undefined;
  /** The mapping of the SET_INFLIGHT_FD being handled, then of the last one the device accepted. */
  #inflightReceived: { readonly shm: SharedMemory; readonly bytes: Uint8Array } | undefined;
  #inflightTaken: SharedMemory | undefined;
  readonly #kick = new Map<number, number>();
  readonly #call = new Map<number, number>();
  readonly #err = new Map<number, number>();
  #protocolFeatures = 0n;
  #closed = false;
  #hung = false;

  constructor(sock: UnixSocket, makeDevice: DeviceFactory) {
    this.#sock = sock;
    this.#device = makeDevice(this.#memory, () => this.#logPending?.bytes ?? new Uint8Array(0), {
      allocate: (size) => {
        this.#inflightPending?.close();
        this.#inflightPending = SharedMemory.create('vhostcheck-serve-inflight', size);
        return this.#inflightPending.bytes;
      },
      received: () => this.#inflightReceived?.bytes ?? null,
    });
  }

  /** Serves messages until the front-end hangs up, the framing breaks or the device dies. */
  async run(): Promise<void> {
    try {
      this.#sock.setNonblocking(true);
      for (;;) {
        const msg = await this.#readMessage();
        if (msg === null) return;
        if (this.#hung) {
          // A hung back-end reads nothing more; what arrives is dropped unanswered.
          msg.fds.forEach(closeFd);
          continue;
        }
        await this.#dispatch(msg);
        await this.#signalCalls();
      }
    } catch (e) {
      if (!(e instanceof Hangup) && !this.#closed && !isTransport(e)) throw e;
    } finally {
      this.close();
    }
  }

  /** Releases the connection, every fd received and the mapping. Idempotent; safe while run() is waiting. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#sock.close();
    for (const m of [this.#kick, this.#call, this.#err]) {
      for (const fd of m.values()) closeFd(fd);
      m.clear();
    }
    this.#mapping?.close();
    this.#mapping = undefined;
    this.#log?.close();
    this.#log = undefined;
    if (this.#logFd !== undefined) closeFd(this.#logFd);
    this.#logFd = undefined;
    for (const m of [this.#inflightPending, this.#inflightGiven, this.#inflightReceived?.shm, this.#inflightTaken]) m?.close();
    this.#inflightPending = this.#inflightGiven = this.#inflightReceived = this.#inflightTaken = undefined;
    this.#memory.current = { regions: [], backing: Buffer.alloc(0), guards: [] };
    void this.#device.close();
  }

  // --- reading ---------------------------------------------------------

  #rx: Buffer = Buffer.alloc(0);

  /**
   * One message: the 12-byte header, then exactly `size` payload bytes, never
   * more, so fds (which travel with a message's first byte, "Message
   * Specification") are attributed to the message they came with.
   * Null when the front-end hung up between messages.
   */
  async #readMessage(): Promise<Message | null> {
    const fds: number[] = [];
    try {
      if (!(await this.#fill(VHOST_USER_HEADER.size, fds, true))) return null;
      let size: number;
      try {
        size = decodeHeader(this.#rx).size;
      } catch {
        // "Header": version other than 0x1 or an impossible size: nothing after it can be framed.
        throw new Hangup('malformed header');
      }
      if (!(await this.#fill(VHOST_USER_HEADER.size + size, fds, false))) throw new Hangup('truncated message');
      const raw = this.#rx;
      this.#rx = Buffer.alloc(0);
      return { request: raw.readUInt32LE(0), flags: raw.readUInt32LE(4), payload: raw.subarray(VHOST_USER_HEADER.size), fds };
    } catch (e) {
      fds.forEach(closeFd);
      throw e;
    }
  }

  /** Reads until #rx holds `want` bytes; false if the peer hung up first. */
  async #fill(want: number, fds: number[], atBoundary: boolean): Promise<boolean> {
    while (this.#rx.length < want) {
      const r = this.#sock.recv(want - this.#rx.length, RECV_FDS, { dontwait: true });
      if (r === null) {
        if (this.#closed) return false;
        await this.#sock.wait('in', IDLE_POLL_MS);
        continue;
      }
      fds.push(...r.fds);
      if (r.closed) {
        if (!atBoundary || this.#rx.length > 0) throw new Hangup('front-end hung up mid-message');
        return false;
      }
      this.#rx = this.#rx.length ? Buffer.concat([this.#rx, r.data]) : r.data;
    }
    return true;
  }

  // --- dispatch ---------------------------------------------------------

  /**
   * Decodes and handles one message, then replies as vhost-user.rst
   * "Communication" and "REPLY_ACK" require: a message with a reply payload
   * always gets one; any other gets a u64 ack (0 = success) when REPLY_ACK
   * is negotiated and need_reply is set. A failure with no way to report it
   * (no ack due, or a reply payload with no error form) ends the connection,
   * as libvhost-user's vu_panic does.
   */
  async #dispatch(msg: Message): Promise<void> {
    const spec = messageSpec('frontend', msg.request);
    const ackDue = (msg.flags & VHOST_USER_NEED_REPLY_MASK) !== 0 && hasProtocolFeature(this.#protocolFeatures, 'REPLY_ACK');
    let payload: Payload;
    try {
      // Throws for an unknown code as well as for a payload of the wrong size.
      payload = decodePayload(msg.request, 'frontend', msg.payload, { protocolFeatures: this.#protocolFeatures });
    } catch {
      msg.fds.forEach(closeFd);
      return this.#fail(msg.request, spec, ackDue, 'undecodable');
    }
    if (spec === undefined) throw new Error(`back-end: decoded request ${msg.request} has no message spec`);
    const { fds: rule, reply } = effectiveRules(spec, { protocolFeatures: this.#protocolFeatures });
    const range = fdCountRange(rule, payload);
    if (msg.fds.length < range.min || msg.fds.length > range.max) {
      msg.fds.forEach(closeFd);
      return this.#fail(msg.request, spec, ackDue, 'wrong fd count');
    }
    const answer = await this.#handle(msg.request, payload, msg.fds);
    if ('hung' in answer) {
      this.#hung = true;
      return;
    }
    if ('payload' in answer) return this.#send(msg.request, answer.payload, answer.fds);
    // A message whose own reply is a u64 status (IOTLB_MSG: "zero for success, non-zero otherwise") always gets it.
    if (reply.when === 'always' && reply.payload === 'u64') return this.#sendAck(msg.request, answer.ack);
    if (!answer.ack && (reply.when === 'always' || !ackDue)) return this.#fail(msg.request, spec, ackDue, 'refused');
    if (reply.when === 'always') throw new Error(`back-end: handler for request ${msg.request} produced no reply payload`);
    if (ackDue) this.#sendAck(msg.request, answer.ack);
  }

  #fail(request: number, spec: M.MessageSpec | undefined, ackDue: boolean, why: string): void {
    // GET_CONFIG: "zero length of payload to indicate an error".
    if (spec?.reply.emptyOnError) return this.#send(request, { type: 'none' });
    if (ackDue && (spec === undefined || spec.reply.when === 'reply-ack-only')) return this.#sendAck(request, false);
    throw new Hangup(`request ${request}: ${why}`);
  }

  #sendAck(request: number, ok: boolean): void {
    this.#send(request, { type: 'u64', value: { u64: ok ? 0n : 1n } });
  }

  /** "Header": every reply carries the request code, version 1 and the reply flag; fds ride with its first byte. */
  #send(request: number, payload: Payload, fds: readonly number[] = []): void {
    const bytes = encodeFrame(request, VHOST_USER_VERSION | VHOST_USER_REPLY_MASK, encodePayload(payload));
    // Replies are small; a front-end that stops reading long enough to fill
    // the socket buffer gets EAGAIN here, which ends the connection.
    this.#sock.send(bytes, fds);
  }

  /** Runs `req` on the device; a device that died ends the connection, one that hung stops the session answering. */
  async #ask(req: VhostRequest): Promise<Reply | 'hung'> {
    const r = await this.#device.send(req);
    if ('closed' in r) throw new Hangup('device died');
    if ('timeout' in r) return 'hung';
    return r;
  }

  async #handle(request: number, p: Payload, fds: number[]): Promise<Answer> {
    const ack = async (req: VhostRequest): Promise<Answer> => {
      const r = await this.#ask(req);
      return r === 'hung' ? { hung: true } : { ack: 'ok' in r && r.ok };
    };
    type Value = ReplyValue | undefined;
    const value = async (req: VhostRequest): Promise<{ hung: true } | { ok: false } | { ok: true; value: Value }> => {
      const r = await this.#ask(req);
      if (r === 'hung') return { hung: true };
      return 'ok' in r && r.ok ? { ok: true, value: r.value } : { ok: false };
    };
    const u64 = async (req: VhostRequest): Promise<Answer> => {
      const r = await value(req);
      if ('hung' in r) return r;
      if (!r.ok) return { ack: false };
      const v = r.value;
      return { payload: { type: 'u64', value: { u64: typeof v === 'bigint' ? v : BigInt(typeof v === 'number' ? v : 0) } } };
    };
    switch (request) {
      case M.VHOST_USER_GET_FEATURES:
        return u64({ op: 'getFeatures' });
      case M.VHOST_USER_GET_PROTOCOL_FEATURES:
        return u64({ op: 'getProtocolFeatures' });
      case M.VHOST_USER_GET_QUEUE_NUM:
        return u64({ op: 'getQueueNum' });
      case M.VHOST_USER_GET_STATUS:
        return u64({ op: 'getStatus' });
      case M.VHOST_USER_SET_FEATURES:
        return p.type === 'u64' ? ack({ op: 'setFeatures', features: p.value.u64 }) : { ack: false };
      case M.VHOST_USER_SET_PROTOCOL_FEATURES: {
        if (p.type !== 'u64') return { ack: false };
        const a = await ack({ op: 'setProtocolFeatures', features: p.value.u64 });
        // REPLY_ACK and the other protocol features apply from the next message on.
        if ('ack' in a && a.ack) this.#protocolFeatures = p.value.u64;
        return a;
      }
      case M.VHOST_USER_SET_OWNER:
        return ack({ op: 'setOwner' });
      // RESET_OWNER is the deprecated spelling of RESET_DEVICE ("VHOST_USER_RESET_DEVICE").
      case M.VHOST_USER_RESET_OWNER:
      case M.VHOST_USER_RESET_DEVICE:
        return ack({ op: 'resetDevice' });
      case M.VHOST_USER_SET_STATUS:
        // Only bits 0-7 are a status; a larger word is passed through as an invalid status, not truncated.
        return p.type === 'u64' ? ack({ op: 'setStatus', status: p.value.u64 > 0xffn ? -1 : Number(p.value.u64) }) : { ack: false };
      case M.VHOST_USER_SET_MEM_TABLE:
        return p.type === 'memoryTable' ? this.#setMemTable(p.value, fds) : { ack: false };
      case M.VHOST_USER_SET_VRING_NUM:
        return p.type === 'vringState' ? ack({ op: 'setVringNum', index: p.value.index, num: p.value.num }) : { ack: false };
      case M.VHOST_USER_SET_VRING_ADDR: {
        if (p.type !== 'vringAddr') return { ack: false };
        const v = p.value;
        return ack({ op: 'setVringAddr', index: v.index, flags: v.flags, desc: v.desc_user_addr, used: v.used_user_addr, avail: v.avail_user_addr, log: v.log_guest_addr });
      }
      case M.VHOST_USER_SET_VRING_BASE:
        return p.type === 'vringDescIndex' ? ack({ op: 'setVringBase', index: p.value.index, base: p.value.num }) : { ack: false };
      case M.VHOST_USER_GET_VRING_BASE: {
        if (p.type !== 'vringState') return { ack: false };
        const r = await value({ op: 'getVringBase', index: p.value.index });
        if ('hung' in r) return r;
        if (!r.ok) return { ack: false };
        return { payload: { type: 'vringDescIndex', value: { index: p.value.index, num: Number(r.value ?? 0) >>> 0 } } };
      }
      case M.VHOST_USER_SET_VRING_ENABLE:
        // "num" is 1 to enable, 0 to disable; anything else is neither.
        if (p.type !== 'vringState' || p.value.num > 1) return { ack: false };
        return ack({ op: 'setVringEnable', index: p.value.index, enable: p.value.num === 1 });
      case M.VHOST_USER_SET_VRING_KICK:
      case M.VHOST_USER_SET_VRING_CALL:
      case M.VHOST_USER_SET_VRING_ERR:
        return p.type === 'vringFile' ? this.#setVringFile(request, p.value.u64, fds) : { ack: false };
      case M.VHOST_USER_GET_CONFIG: {
        if (p.type !== 'config') return { ack: false };
        const r = await value({ op: 'getConfig', offset: p.value.offset, size: p.value.size });
        if ('hung' in r) return r;
        const data = r.ok && r.value instanceof Uint8Array ? r.value : undefined;
        if (data === undefined) return { ack: false };
        return { payload: { type: 'config', value: { offset: p.value.offset, size: data.length, flags: p.value.flags, data } } };
      }
      case M.VHOST_USER_SET_CONFIG:
        if (p.type !== 'config' || p.value.size !== p.value.data.length) return { ack: false };
        return ack({ op: 'setConfig', offset: p.value.offset, data: p.value.data, flags: p.value.flags });
      case M.VHOST_USER_IOTLB_MSG: {
        if (p.type !== 'iotlb') return { ack: false };
        const v = p.value;
        if (v.type === VHOST_IOTLB_UPDATE) return ack({ op: 'iotlbUpdate', iova: v.iova, size: v.size, uaddr: v.uaddr, perm: v.perm });
        if (v.type === VHOST_IOTLB_INVALIDATE) return ack({ op: 'iotlbInvalidate', iova: v.iova, size: v.size });
        return { ack: false };
      }
      case M.VHOST_USER_GET_MAX_MEM_SLOTS:
        return u64({ op: 'getMaxMemSlots' });
      case M.VHOST_USER_ADD_MEM_REG:
        return p.type === 'singleMemoryRegion' ? this.#addMemReg(p.value, fds) : { ack: false };
      case M.VHOST_USER_REM_MEM_REG: {
        // "VHOST_USER_REM_MEM_REG": an fd sent for compatibility is closed unused (vhost-user.mem.rem-reg-fd-closed).
        fds.forEach(closeFd);
        if (p.type !== 'singleMemoryRegion') return { ack: false };
        return ack({ op: 'remMemReg', region: { gpa: p.value.guest_phys_addr, size: p.value.memory_size, uaddr: p.value.userspace_addr } });
      }
      case M.VHOST_USER_SET_LOG_BASE:
        return p.type === 'log' ? this.#setLogBase(p.value.mmap_size, p.value.mmap_offset, fds) : { ack: false };
      case M.VHOST_USER_SET_LOG_FD: {
        // "VHOST_USER_SET_LOG_FD": one fd, which replaces the previous one; without it there is nothing to take.
        const fd = soleFd(fds);
        if (fd === undefined) return { ack: false };
        const r = await ack({ op: 'setLogFd' });
        if (!('ack' in r) || !r.ack) {
          closeFd(fd);
          return r;
        }
        if (this.#logFd !== undefined) closeFd(this.#logFd);
        this.#logFd = fd;
        return r;
      }
      case M.VHOST_USER_GET_INFLIGHT_FD:
        fds.forEach(closeFd);
        return p.type === 'inflight' ? this.#getInflightFd(p.value.num_queues, p.value.queue_size) : { ack: false };
      case M.VHOST_USER_SET_INFLIGHT_FD:
        return p.type === 'inflight' ? this.#setInflightFd(p.value, fds) : { ack: false };
      default:
        // A message the device has no request for (SET_LOG_FD, ...): refused.
        fds.forEach(closeFd);
        return { ack: false };
    }
  }

  /**
   * "VHOST_USER_SET_MEM_TABLE": each region's fd is mmapped and the region
   * found at mmap_offset in it. The front-end's regions all live in one memfd
   * (frontEnd.ts), so the file is mapped once, whole, and every region is a
   * view of that mapping; the device translates against it. Regions in more
   * than one file are refused: the device's DMA works on one backing buffer.
   * A region running past the end of its file is refused too (touching it
   * would be SIGBUS, not a translation error).
   */
  async #setMemTable(table: MemoryTable, fds: number[]): Promise<Answer> {
    let mapping: SharedMemory | undefined;
    let fds0: { dev: number; ino: number } | undefined;
    try {
      if (fds.length > 0) {
        const stats = fds.map((fd) => fstatSync(fd));
        fds0 = { dev: stats[0].dev, ino: stats[0].ino };
        if (stats.some((s) => s.dev !== stats[0].dev || s.ino !== stats[0].ino)) return { ack: false };
        const size = stats[0].size;
        if (size <= 0 || !Number.isSafeInteger(size)) return { ack: false };
        for (const r of table.regions) if (r.mmap_offset + r.memory_size > BigInt(size)) return { ack: false };
        mapping = SharedMemory.adopt(fds.shift()!, size);
      }
      const backing = mapping ? Buffer.from(mapping.buffer) : Buffer.alloc(0);
      const regions: GuestRegion[] = table.regions.map((r) => {
        const off = Number(r.mmap_offset);
        return { gpa: r.guest_phys_addr, uaddr: r.userspace_addr, bytes: backing.subarray(off, off + Number(r.memory_size)), backingOffset: off };
      });
      const previous = this.#memory.current;
      this.#memory.current = { regions, backing, guards: [] };
      const r = await this.#ask({
        op: 'setMemTable',
        regions: table.regions.map((m) => ({ gpa: m.guest_phys_addr, size: m.memory_size, uaddr: m.userspace_addr })),
      });
      const ok = r !== 'hung' && 'ok' in r && r.ok;
      if (!ok) {
        // "On failure the old table stays" (addressSpace.ts): so does its memory.
        this.#memory.current = previous;
        return r === 'hung' ? { hung: true } : { ack: false };
      }
      this.#mapping?.close();
      this.#mapping = mapping;
      this.#mappingFile = fds0;
      mapping = undefined;
      return { ack: true };
    } finally {
      mapping?.close();
      fds.forEach(closeFd);
    }
  }

  /**
   * "VHOST_USER_SET_LOG_BASE": the log fd is mapped whole (its file size) and offered to the device,
   * which checks size and offset against it; the mapping is kept while the device uses the log.
   */
  async #setLogBase(size: bigint, offset: bigint, fds: number[]): Promise<Answer> {
    const fd = soleFd(fds);
    if (fd === undefined) return { ack: false };
    try {
      const fileSize = fstatSync(fd).size;
      if (fileSize <= 0 || !Number.isSafeInteger(fileSize)) {
        closeFd(fd);
        return { ack: false };
      }
      this.#logPending = SharedMemory.adopt(fd, fileSize);
      const r = await this.#ask({ op: 'setLogBase', size, offset });
      if (r === 'hung') return { hung: true };
      if (!('ok' in r && r.ok)) return { ack: false };
      this.#log?.close();
      this.#log = this.#logPending;
      this.#logPending = undefined;
      // With LOG_SHMFD the message always gets a reply, whose layout the doc leaves open: a zero u64.
      return hasProtocolFeature(this.#protocolFeatures, 'LOG_SHMFD') ? { payload: { type: 'u64', value: { u64: 0n } } } : { ack: true };
    } finally {
      this.#logPending?.close();
      this.#logPending = undefined;
    }
  }

  /**
   * "VHOST_USER_GET_INFLIGHT_FD": the device allocates the buffer through the session's memfd share;
   * the reply carries its description and the memfd. A refusal is mmap_size 0 without an fd, the form
   * libvhost-user answers with and QEMU's vhost_user_get_inflight_fd() takes for "no buffer".
   */
  async #getInflightFd(numQueues: number, queueSize: number): Promise<Answer> {
    const refused: Answer = { payload: { type: 'inflight', value: { mmap_size: 0n, mmap_offset: 0n, num_queues: numQueues, queue_size: queueSize } } };
    try {
      const r = await this.#ask({ op: 'getInflightFd', numQueues, queueSize });
      if (r === 'hung') return { hung: true };
      const given = this.#inflightPending;
      if (!('ok' in r && r.ok) || given === undefined) return refused;
      const a = r.value as InflightArea;
      this.#inflightGiven?.close();
      this.#inflightGiven = given;
      this.#inflightPending = undefined;
      return { payload: { type: 'inflight', value: { mmap_size: a.mmapSize, mmap_offset: a.mmapOffset, num_queues: numQueues, queue_size: queueSize } }, fds: [given.fd] };
    } finally {
      this.#inflightPending?.close();
      this.#inflightPending = undefined;
    }
  }

  /**
   * "VHOST_USER_SET_INFLIGHT_FD": the fd is mapped from 0 to mmap_offset + mmap_size once fstat shows
   * the file is that large (a shorter file would be SIGBUS, not an error), and the device gets the
   * mmap_size bytes at mmap_offset; the mapping is kept while the device tracks into it.
   */
  async #setInflightFd(d: { mmap_size: bigint; mmap_offset: bigint; num_queues: number; queue_size: number }, fds: number[]): Promise<Answer> {
    const fd = soleFd(fds);
    if (fd === undefined) return { ack: false };
    try {
      const end = d.mmap_offset + d.mmap_size;
      if (d.mmap_size === 0n || end > BigInt(fstatSync(fd).size)) {
        closeFd(fd);
        return { ack: false };
      }
      const shm = SharedMemory.adopt(fd, Number(end));
      this.#inflightReceived = { shm, bytes: shm.bytes.subarray(Number(d.mmap_offset), Number(end)) };
      const r = await this.#ask({ op: 'setInflightFd', numQueues: d.num_queues, queueSize: d.queue_size, withFd: true });
      if (r === 'hung') return { hung: true };
      if (!('ok' in r && r.ok)) return { ack: false };
      this.#inflightTaken?.close();
      this.#inflightTaken = shm;
      this.#inflightReceived = undefined;
      return { ack: true };
    } finally {
      this.#inflightReceived?.shm.close();
      this.#inflightReceived = undefined;
    }
  }

  /**
   * "VHOST_USER_ADD_MEM_REG": the region's fd is mapped (or found to be the file already mapped) and
   * the region joins the device's memory as a view of it, then the device decides.
   */
  async #addMemReg(r: SingleMemoryRegion, fds: number[]): Promise<Answer> {
    try {
      const fd = fds[0];
      const st = fstatSync(fd);
      if (st.size <= 0 || !Number.isSafeInteger(st.size) || r.mmap_offset + r.memory_size > BigInt(st.size)) return { ack: false };
      if (this.#mappingFile && (this.#mappingFile.dev !== st.dev || this.#mappingFile.ino !== st.ino)) return { ack: false };
      if (!this.#mapping) {
        this.#mapping = SharedMemory.adopt(fds.shift()!, st.size);
        this.#mappingFile = { dev: st.dev, ino: st.ino };
        this.#memory.current = { regions: [], backing: Buffer.from(this.#mapping.buffer), guards: [] };
      }
      const cur = this.#memory.current;
      const off = Number(r.mmap_offset);
      const region: GuestRegion = { gpa: r.guest_phys_addr, uaddr: r.userspace_addr, bytes: cur.backing.subarray(off, off + Number(r.memory_size)), backingOffset: off };
      this.#memory.current = { ...cur, regions: [...cur.regions, region] };
      const a = await this.#ask({ op: 'addMemReg', region: { gpa: r.guest_phys_addr, size: r.memory_size, uaddr: r.userspace_addr } });
      if (a === 'hung') return { hung: true };
      if (!('ok' in a && a.ok)) {
        this.#memory.current = cur;
        return { ack: false };
      }
      return { ack: true };
    } finally {
      fds.forEach(closeFd);
    }
  }

  /**
   * SET_VRING_KICK/CALL/ERR: "Bits (0-7) of the payload contain the vring
   * index. Bit 8 is the invalid FD flag". Bits above 8 are not defined;
   * frontEnd.ts carries the high bits of an index above 255 there, so they
   * are put back and the device judges the whole index, as in-process.
   * The fd replaces the previous one only if the device accepts.
   */
  async #setVringFile(request: number, word: bigint, fds: number[]): Promise<Answer> {
    const { low, noFd, rest } = splitNoFdWord(word);
    const index = rest > 0xff_ffffn ? -1 : low | (Number(rest) << 8);
    const fd = fds[0];
    const table = request === M.VHOST_USER_SET_VRING_KICK ? this.#kick : request === M.VHOST_USER_SET_VRING_CALL ? this.#call : this.#err;
    let accepted: boolean;
    if (request === M.VHOST_USER_SET_VRING_ERR) {
      // The device reports no ring errors: the fd is only held (and closed when replaced).
      accepted = index >= 0 && index < this.#device.info.queues;
    } else {
      const op = request === M.VHOST_USER_SET_VRING_KICK ? 'setVringKick' : 'setVringCall';
      const r = await this.#ask({ op, index, invalid: noFd });
      if (r === 'hung') {
        if (fd !== undefined) closeFd(fd);
        return { hung: true };
      }
      accepted = 'ok' in r && r.ok;
    }
    if (!accepted) {
      if (fd !== undefined) closeFd(fd);
      return { ack: false };
    }
    const old = table.get(index);
    if (old !== undefined) closeFd(old);
    table.delete(index);
    if (fd !== undefined) {
      table.set(index, fd);
      if (request === M.VHOST_USER_SET_VRING_KICK) void this.#watchKick(index, fd);
    }
    return { ack: true };
  }

  // --- data path ----------------------------------------------------------

  /** Polls one kick eventfd until it is replaced or the session ends; each kick runs the device on that queue. */
  async #watchKick(q: number, fd: number): Promise<void> {
    while (!this.#closed && !this.#hung && this.#kick.get(q) === fd) {
      let ready: boolean;
      try {
        ready = await pollAsync(fd, 'in', IDLE_POLL_MS);
      } catch {
        return; // closed (ECANCELED) when replaced or at the end of the session
      }
      if (!ready || this.#kick.get(q) !== fd || this.#closed || this.#hung) continue;
      try {
        if (eventfdRead(fd) === null) continue;
      } catch {
        // Not an eventfd (a hostile front-end's fd): it can never kick.
        return;
      }
      await this.#device.kick(q);
      const h = await this.#device.health();
      if (h.state === 'hung') {
        this.#hung = true;
        return;
      }
      if (h.state !== 'alive') {
        this.close();
        return;
      }
      await this.#signalCalls();
      // A kick that keeps the fd readable (a non-eventfd) must not starve the message loop.
      await sleep(0);
    }
  }

  /** "VHOST_USER_SET_VRING_CALL": a used buffer notification is a write to the queue's call eventfd. */
  async #signalCalls(): Promise<void> {
    for (const [q, fd] of this.#call) {
      if (!(await this.#device.waitCall(q, 0))) continue;
      try {
        eventfdWrite(fd, 1n);
      } catch {
        // A call fd that is not an eventfd cannot be signalled; the front-end sent it.
      }
    }
  }
}

function isTransport(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && ['EPIPE', 'ECONNRESET', 'ENOTCONN', 'EBADF', 'ECANCELED', 'EAGAIN'].includes(code);
}

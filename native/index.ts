/**
 * Typed wrapper over the vhostcheck N-API addon (native/vhostcheck_native.c).
 *
 * The addon is loaded lazily, on the first call, so importing this module never
 * fails: the simulated target works without it. When the addon is not built,
 * every function throws "native addon not built: run `npm run build:native`".
 *
 * Conventions: fds are plain integers. System call failures throw an
 * {@link ErrnoError} (`code` = errno name such as 'EAGAIN', `errno` = positive
 * errno number, `syscall` = the failing call). Calls that would block on a
 * non-blocking fd return `null` instead of throwing (eventfdRead, recvmsg,
 * read, unixAccept). Every fd created here is close-on-exec.
 *
 * Always close fds with {@link close} (or the classes' close()): it first
 * cancels a pending {@link pollAsync} on that fd (which then rejects with
 * ECANCELED); closing such an fd by other means would leave libuv's epoll
 * registration dangling.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export type PollEvents = 'in' | 'out';
export type EventFdFlag = 'nonblock' | 'semaphore';
export type OpenFlags = 'rdwr' | 'rdonly';
export type ShutdownHow = 'read' | 'write' | 'both';

/** Result of {@link recvmsg}. */
export interface RecvResult {
  /** The bytes received (a copy). Empty with `closed` when the peer closed. */
  data: Buffer;
  /** Received fds (close-on-exec), owned by the caller. */
  fds: number[];
  /** MSG_TRUNC: datagram longer than maxBytes (never set on stream sockets). */
  truncated: boolean;
  /** MSG_CTRUNC: more fds were sent than maxFds; every received fd was closed
   *  and `fds` is empty. The data bytes were still consumed. */
  fdsTruncated: boolean;
  /** Orderly shutdown by the peer (zero bytes, no fds). */
  closed: boolean;
}

/** The shape of errors thrown by the addon for failed system calls. */
export interface ErrnoError extends Error {
  code: string;
  errno: number;
  syscall: string;
}

/** Raw addon surface, exactly as exported by vhostcheck_native.c. */
interface Binding {
  memfdCreate(name: string, size: number): number;
  mmapShared(fd: number, size: number, offset?: number): ArrayBuffer;
  munmap(ab: ArrayBuffer): boolean;
  liveMappings(): number;
  eventfdCreate(initval: number, flags?: readonly EventFdFlag[]): number;
  eventfdRead(fd: number): bigint | null;
  eventfdWrite(fd: number, value: bigint): void;
  close(fd: number): void;
  pollSync(fd: number, events: PollEvents, timeoutMs: number): boolean;
  pollAsync(fd: number, events: PollEvents, timeoutMs: number): Promise<boolean>;
  unixConnect(path: string): number;
  unixListen(path: string, backlog: number): number;
  unixAccept(fd: number): number | null;
  socketpair(): [number, number];
  sendmsg(fd: number, data: ArrayBufferView, fds?: readonly number[]): number;
  /** Fills out: [flags (1 trunc, 2 ctrunc, 4 closed), fd count, ...fds]. */
  recvmsg(fd: number, maxBytes: number, maxFds: number, dontwait: boolean, out: Int32Array): Buffer | null;
  /** Like recvmsg, into `target`; returns the byte count. */
  recvmsgInto(fd: number, target: ArrayBufferView, maxFds: number, dontwait: boolean, out: Int32Array): number | null;
  setNonblocking(fd: number, on: boolean): void;
  setIoTimeout(fd: number, timeoutMs: number): void;
  shutdown(fd: number, how?: ShutdownHow): void;
  ioctl(fd: number, request: number, arg?: ArrayBufferView | number): number;
  openFile(path: string, flags: OpenFlags): number;
  read(fd: number, len: number): Buffer | null;
  write(fd: number, data: ArrayBufferView): number;
  fdCount(): number;
}

export const NOT_BUILT_MESSAGE = 'native addon not built: run `npm run build:native`';
const DEFAULT_ADDON_PATH = new URL('./build/Release/vhostcheck_native.node', import.meta.url);

let addonPath: URL | string = DEFAULT_ADDON_PATH;
let binding: Binding | undefined;
let loadFailure: Error | undefined;

function load(): Binding {
  if (binding) return binding;
  if (!loadFailure) {
    try {
      const require = createRequire(import.meta.url);
      const p = typeof addonPath === 'string' ? addonPath : fileURLToPath(addonPath);
      binding = require(p) as Binding;
      return binding;
    } catch (cause) {
      const code = (cause as { code?: unknown }).code;
      loadFailure =
        code === 'MODULE_NOT_FOUND'
          ? new Error(NOT_BUILT_MESSAGE, { cause })
          : new Error(`native addon failed to load (${(cause as Error).message}): run \`npm run build:native\``, {
              cause,
            });
    }
  }
  throw new Error(loadFailure!.message, { cause: loadFailure!.cause });
}

/** True when the addon is built and loads. Never throws. */
export function isNativeAvailable(): boolean {
  try {
    load();
    return true;
  } catch {
    return false;
  }
}

/** Why the addon is unavailable, or undefined when it loads. */
export function nativeUnavailableReason(): string | undefined {
  return isNativeAvailable() ? undefined : loadFailure?.message;
}

/** @internal For tests only: load the addon from another path (resets the cache). */
export function __setAddonPathForTests(path?: string): void {
  addonPath = path ?? DEFAULT_ADDON_PATH;
  binding = undefined;
  loadFailure = undefined;
}

/** Type guard for the addon's system-call errors, optionally of one errno. */
export function isErrnoError(e: unknown, code?: string): e is ErrnoError {
  return (
    e instanceof Error &&
    typeof (e as Partial<ErrnoError>).code === 'string' &&
    typeof (e as Partial<ErrnoError>).errno === 'number' &&
    (code === undefined || (e as ErrnoError).code === code)
  );
}

// ---------------------------------------------------------------------------
// Functions (thin, typed)

/** memfd_create(MFD_CLOEXEC|MFD_ALLOW_SEALING) + ftruncate(size). */
export const memfdCreate = (name: string, size: number): number => load().memfdCreate(name, size);
/** mmap(MAP_SHARED, PROT_READ|PROT_WRITE) as an external ArrayBuffer; unmapped
 *  by {@link munmap} or, failing that, when the ArrayBuffer is collected.
 *  Accessing bytes beyond the end of the file raises SIGBUS: size it first. */
export const mmapShared = (fd: number, size: number, offset = 0): ArrayBuffer => load().mmapShared(fd, size, offset);
/** Unmaps now and detaches the ArrayBuffer (its views become empty). Returns
 *  false if it was already released. */
export const munmap = (ab: ArrayBuffer): boolean => load().munmap(ab);
/** Mappings made by {@link mmapShared} and not yet unmapped (process-wide). */
export const liveMappings = (): number => load().liveMappings();

export const eventfdCreate = (initval = 0, flags: readonly EventFdFlag[] = []): number =>
  load().eventfdCreate(initval, flags);
/** Reads the counter; null if it is zero on a non-blocking eventfd. */
export const eventfdRead = (fd: number): bigint | null => load().eventfdRead(fd);
export const eventfdWrite = (fd: number, value: bigint): void => load().eventfdWrite(fd, value);

/** close(2), after cancelling any pending pollAsync on fd. */
export const close = (fd: number): void => load().close(fd);

/** Blocking poll for a short wait (blocks the event loop). Readiness includes
 *  POLLHUP/POLLERR: the next call will not block. */
export const pollSync = (fd: number, events: PollEvents, timeoutMs: number): boolean =>
  load().pollSync(fd, events, wholeMs(timeoutMs));
/** Waits on the event loop (uv_poll + timer, no thread): true when ready,
 *  false on timeout. One pending wait per fd (a second rejects with EBUSY);
 *  rejects with ECANCELED if the fd is closed through {@link close}. */
export const pollAsync = (fd: number, events: PollEvents, timeoutMs: number): Promise<boolean> =>
  load().pollAsync(fd, events, wholeMs(timeoutMs));

/** poll(2) counts whole milliseconds; waits computed from measured latencies are fractional, and rounding up never cuts one short. */
function wholeMs(timeoutMs: number): number {
  return Math.max(0, Math.ceil(timeoutMs));
}

/** Blocking connect to a UNIX stream socket (abstract if path starts with "\0"). */
export const unixConnect = (path: string): number => load().unixConnect(path);
export const unixListen = (path: string, backlog = 16): number => load().unixListen(path, backlog);
/** accept4(SOCK_CLOEXEC); null when a non-blocking listener has no connection. */
export const unixAccept = (fd: number): number | null => load().unixAccept(fd);
/** AF_UNIX SOCK_STREAM pair, close-on-exec. */
export const socketpair = (): [number, number] => load().socketpair();
/** One sendmsg(MSG_NOSIGNAL) with up to 16 fds as SCM_RIGHTS; returns bytes
 *  sent (may be short). fds require at least one data byte. */
export const sendmsg = (fd: number, data: ArrayBufferView, fds: readonly number[] = []): number =>
  load().sendmsg(fd, data, fds);
/** One recvmsg(MSG_CMSG_CLOEXEC); null on EAGAIN. maxBytes ≥ 1, maxFds ≤ 253. */
export function recvmsg(fd: number, maxBytes: number, maxFds: number, flags?: 'dontwait'): RecvResult | null {
  const data = load().recvmsg(fd, maxBytes, maxFds, dontwait('recvmsg', flags), recvOut);
  return data === null ? null : { data, ...recvOutcome() };
}
/**
 * One recvmsg(MSG_CMSG_CLOEXEC) into `target` (at least one byte long): `bytes` of it were filled.
 * null on EAGAIN. For a reader that reuses one buffer: nothing is allocated for the data.
 */
export function recvmsgInto(fd: number, target: Uint8Array, maxFds: number, flags?: 'dontwait'): RecvIntoResult | null {
  const bytes = load().recvmsgInto(fd, target, maxFds, dontwait('recvmsgInto', flags), recvOut);
  return bytes === null ? null : { bytes, ...recvOutcome() };
}
/** Result of {@link recvmsgInto}: the fields of {@link RecvResult}, with the byte count for the data. */
export interface RecvIntoResult extends Omit<RecvResult, 'data'> {
  bytes: number;
}
function dontwait(fn: string, flags: 'dontwait' | undefined): boolean {
  if (flags !== undefined && flags !== 'dontwait') throw new TypeError(`${fn}: flags must be 'dontwait' or undefined`);
  return flags === 'dontwait';
}
/** What the last recvmsg/recvmsgInto left in recvOut, besides the bytes. */
function recvOutcome(): Omit<RecvResult, 'data'> {
  const bits = recvOut[0];
  const nfds = recvOut[1];
  const fds: number[] = [];
  for (let i = 0; i < nfds; i++) fds.push(recvOut[2 + i]);
  return { fds, truncated: (bits & 1) !== 0, fdsTruncated: (bits & 2) !== 0, closed: (bits & 4) !== 0 };
}
/** Scratch for recvmsg's non-data results (calls are synchronous, so one suffices). */
const recvOut = new Int32Array(2 + 253);
export const setNonblocking = (fd: number, on: boolean): void => load().setNonblocking(fd, on);
/** SO_RCVTIMEO and SO_SNDTIMEO: on a blocking socket, a recvmsg/sendmsg that would wait longer than
 *  timeoutMs (≥ 1; the kernel counts it in clock ticks, so it may end up to one tick early or late)
 *  gives up: recvmsg/recvmsgInto return null, sendmsg throws EAGAIN (or returns a short count). */
export const setIoTimeout = (fd: number, timeoutMs: number): void => load().setIoTimeout(fd, wholeMs(timeoutMs));
export const shutdown = (fd: number, how: ShutdownHow = 'both'): void => load().shutdown(fd, how);

/** ioctl(fd, request, arg): a Buffer is passed by pointer (in/out; it must be
 *  at least as large as the request's struct), a number by value. */
export const ioctl = (fd: number, request: number, arg: ArrayBufferView | number = 0): number =>
  load().ioctl(fd, request, arg);
/** open(path, O_CLOEXEC|O_NOCTTY|flags). */
export const openFile = (path: string, flags: OpenFlags): number => load().openFile(path, flags);
/** One read(2); null on EAGAIN, empty Buffer at end of file. */
export const read = (fd: number, len: number): Buffer | null => load().read(fd, len);
/** One write(2); returns bytes written. */
export const write = (fd: number, data: ArrayBufferView): number => load().write(fd, data);
/** Entries in /proc/self/fd (for leak checks). */
export const fdCount = (): number => load().fdCount();

// ---------------------------------------------------------------------------
// Ownership helpers: each owns its fd(s); close() is idempotent.

/** An owned fd. `fd` throws once closed, so a stale number is never reused. */
export class OwnedFd {
  #fd: number;
  constructor(fd: number) {
    if (!Number.isInteger(fd) || fd < 0) throw new RangeError(`invalid fd ${fd}`);
    this.#fd = fd;
  }
  get fd(): number {
    if (this.#fd < 0) throw Object.assign(new Error('fd already closed'), { code: 'EBADF' });
    return this.#fd;
  }
  get closed(): boolean {
    return this.#fd < 0;
  }
  /** Waits for readiness without blocking the event loop. */
  wait(events: PollEvents, timeoutMs: number): Promise<boolean> {
    return pollAsync(this.fd, events, timeoutMs);
  }
  waitSync(events: PollEvents, timeoutMs: number): boolean {
    return pollSync(this.fd, events, timeoutMs);
  }
  setNonblocking(on: boolean): void {
    setNonblocking(this.fd, on);
  }
  setIoTimeout(timeoutMs: number): void {
    setIoTimeout(this.fd, timeoutMs);
  }
  close(): void {
    const fd = this.#fd;
    if (fd < 0) return;
    this.#fd = -1;
    close(fd);
  }
}

/** An eventfd (kick / call / err notifier). */
export class EventFd extends OwnedFd {
  /** Non-blocking by default, as QEMU creates its kick/call notifiers. */
  static create(opts: { initval?: number; nonblock?: boolean; semaphore?: boolean } = {}): EventFd {
    const flags: EventFdFlag[] = [];
    if (opts.nonblock ?? true) flags.push('nonblock');
    if (opts.semaphore) flags.push('semaphore');
    return new EventFd(eventfdCreate(opts.initval ?? 0, flags));
  }
  /** Adds value to the counter (a kick/call). */
  signal(value = 1n): void {
    eventfdWrite(this.fd, value);
  }
  /** Reads and resets the counter; null if it was zero (non-blocking). */
  read(): bigint | null {
    return eventfdRead(this.fd);
  }
}

/** A device node (/dev/vhost-vdpa-N, /dev/vduse/*). */
export class DeviceFile extends OwnedFd {
  static open(path: string, flags: OpenFlags = 'rdwr'): DeviceFile {
    return new DeviceFile(openFile(path, flags));
  }
  ioctl(request: number, arg: ArrayBufferView | number = 0): number {
    return ioctl(this.fd, request, arg);
  }
  read(len: number): Buffer | null {
    return read(this.fd, len);
  }
  write(data: ArrayBufferView): number {
    return write(this.fd, data);
  }
}

/** A connected UNIX stream socket. */
export class UnixSocket extends OwnedFd {
  static connect(path: string): UnixSocket {
    return new UnixSocket(unixConnect(path));
  }
  static pair(): [UnixSocket, UnixSocket] {
    const [a, b] = socketpair();
    return [new UnixSocket(a), new UnixSocket(b)];
  }
  /** Sends all of data; fds travel with the first sendmsg. A non-blocking
   *  socket that fills up throws EAGAIN (possibly after a partial send). */
  send(data: Uint8Array, fds: readonly number[] = []): void {
    let off = sendmsg(this.fd, data, fds);
    while (off < data.byteLength) off += sendmsg(this.fd, data.subarray(off));
  }
  /** One recvmsg; null on EAGAIN (non-blocking socket or `dontwait`). */
  recv(maxBytes: number, maxFds = 0, opts: { dontwait?: boolean } = {}): RecvResult | null {
    return recvmsg(this.fd, maxBytes, maxFds, opts.dontwait ? 'dontwait' : undefined);
  }
  /** One recvmsg into `target`; null on EAGAIN (non-blocking socket or `dontwait`). */
  recvInto(target: Uint8Array, maxFds = 0, opts: { dontwait?: boolean } = {}): RecvIntoResult | null {
    return recvmsgInto(this.fd, target, maxFds, opts.dontwait ? 'dontwait' : undefined);
  }
  shutdown(how: ShutdownHow = 'both'): void {
    shutdown(this.fd, how);
  }
}

/** A listening UNIX stream socket. */
export class UnixListener extends OwnedFd {
  static listen(path: string, backlog = 16): UnixListener {
    return new UnixListener(unixListen(path, backlog));
  }
  /** Accepts one connection; null if none is pending on a non-blocking listener. */
  accept(): UnixSocket | null {
    const fd = unixAccept(this.fd);
    return fd === null ? null : new UnixSocket(fd);
  }
}

/** A memfd and one shared mapping of it (guest memory, shared logs). close()
 *  unmaps, then closes the fd. Send `fd` to a peer with sendmsg to share it. */
export class SharedMemory {
  #fd: OwnedFd;
  #buffer: ArrayBuffer | undefined;
  readonly size: number;
  readonly bytes: Uint8Array;

  private constructor(fd: OwnedFd, buffer: ArrayBuffer) {
    this.#fd = fd;
    this.#buffer = buffer;
    this.size = buffer.byteLength;
    this.bytes = new Uint8Array(buffer);
  }

  /** A new memfd of `size` bytes, mapped whole. */
  static create(name: string, size: number): SharedMemory {
    const fd = memfdCreate(name, size);
    return SharedMemory.adopt(fd, size, 0);
  }

  /** Maps an fd received from a peer and takes ownership of it (the fd is
   *  closed if mapping fails). */
  static adopt(fd: number, size: number, offset = 0): SharedMemory {
    const owned = new OwnedFd(fd);
    try {
      return new SharedMemory(owned, mmapShared(fd, size, offset));
    } catch (e) {
      owned.close();
      throw e;
    }
  }

  get fd(): number {
    return this.#fd.fd;
  }
  /** The mapping; throws once closed. */
  get buffer(): ArrayBuffer {
    if (!this.#buffer) throw Object.assign(new Error('shared memory already closed'), { code: 'EBADF' });
    return this.#buffer;
  }
  get closed(): boolean {
    return this.#buffer === undefined;
  }
  close(): void {
    const b = this.#buffer;
    if (b === undefined) return;
    this.#buffer = undefined;
    try {
      munmap(b);
    } finally {
      this.#fd.close();
    }
  }
}

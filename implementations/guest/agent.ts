// The host end of the agent protocol (protocol.ts): one connection to one
// agent, in a QEMU guest (qemu.ts) or in a process on this host for a device
// node the host has itself (implementations/vhost-vdpa/localAgent.ts).
// Every request has a timeout; a crash (kernel oops or panic, the agent
// ending, QEMU exiting) answers every pending and later request with the
// crash and its console excerpt.
import type { Socket } from 'node:net';
import { constants } from 'node:os';
import { body, encodeRequest, FLAG_CONCURRENT, Op, PROTOCOL_VERSION, ReplyReader, type ReplyFrame } from './protocol.ts';
import type { GuestCrash } from './qemu.ts';

/** Every request's default bound: the agent answers an ordinary syscall in well under a millisecond. */
const REQUEST_TIMEOUT_MS = 5_000;
/** How long agent.c lets an Op.forked child run (FORKED_TIMEOUT_MS). */
const FORKED_TIMEOUT_MS = 2_000;
/** Extra time granted above a request's own guest-side timeout (poll, eventfd wait, vdpa tool). */
const TIMEOUT_MARGIN_MS = 2_000;

export type AgentReply =
  | { readonly kind: 'ok'; readonly result: number; readonly body: Buffer }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'crash'; readonly crash: GuestCrash };

const ERRNO_NAMES = new Map(Object.entries(constants.errno).map(([name, n]) => [n, name]));

/** `-22` → `EINVAL`; an errno Node does not know is spelled `E<number>`. */
export function errnoName(result: number): string {
  return ERRNO_NAMES.get(-result) ?? `E${-result}`;
}

/** Guest-side constants the requests need (x86_64 Linux values: fcntl.h, mman.h, eventfd.h). */
export const GuestFlags = {
  O_RDWR: 0o2,
  PROT_READ: 1,
  PROT_WRITE: 2,
  MAP_SHARED: 1,
  EFD_NONBLOCK: 0o4000,
} as const;

export interface RequestOptions {
  readonly timeoutMs?: number;
  /** Run on a thread of its own in the agent (a syscall that may wait for this side, e.g. a VDUSE reset): see protocol.ts. */
  readonly concurrent?: boolean;
}

/** Where an agent runs: what the client needs of it to connect and to tell a crash from a slow answer. */
export interface AgentHost {
  /** performance.now() when the machine (QEMU, or the local agent process) was started. */
  readonly startedAt: number;
  /** How it died, once it has (a kernel oops, the agent's end, QEMU's exit). */
  readonly crash: GuestCrash | undefined;
  /** How its process ended, once it has. */
  readonly exitStatus: { readonly code: number | null; readonly signal: string | null } | undefined;
  /** Calls `fn` once when it crashes (at once when it already has). */
  onCrash(fn: (c: GuestCrash) => void): void;
  /** The last lines of its console (or the agent's stderr), joined for a one-line message. */
  consoleTail(lines: number): string;
  /** Opens the byte stream the agent serves. */
  connectChannel(): Promise<Socket>;
}

/** An AgentHost's first crash and who hears of it: each listener once, a late one at once. */
export class CrashLatch {
  #crash: GuestCrash | undefined;
  readonly #listeners = new Set<(c: GuestCrash) => void>();

  get crash(): GuestCrash | undefined {
    return this.#crash;
  }

  onCrash(fn: (c: GuestCrash) => void): void {
    if (this.#crash) fn(this.#crash);
    else this.#listeners.add(fn);
  }

  /** Records `crash` and tells the listeners, unless a crash is already recorded. */
  declare(crash: GuestCrash): void {
    if (this.#crash) return;
    this.#crash = crash;
    for (const fn of this.#listeners) fn(crash);
    this.#listeners.clear();
  }
}

/** The last `lines` non-blank lines of `text`, trimmed and joined with ' | ' for a one-line message. */
export function tailLines(text: string, lines: number): string {
  return text.split('\n').map((l) => l.trim()).filter(Boolean).slice(-lines).join(' | ');
}

class AgentError extends Error {
  override readonly name = 'AgentError';
}

export class AgentClient {
  readonly #socket: Socket;
  readonly #reader = new ReplyReader();
  readonly #pending = new Map<number, (r: AgentReply) => void>();
  #nextId = 1;
  #crash: GuestCrash | undefined;
  #closed = false;
  #timeouts = 0;
  #stuck = false;
  /** The agent's greeting: protocol version and the guest's `uname -r`. */
  hello = '';
  /** Milliseconds from QEMU's start to the agent's first answer. */
  bootMs = 0;

  private constructor(socket: Socket, readonly host: AgentHost) {
    this.#socket = socket;
    host.onCrash((c) => this.#fail(c));
  }

  /** Connects to the agent and waits (bounded) for it to announce itself. */
  static async connect(host: AgentHost, bootTimeoutMs: number): Promise<AgentClient> {
    const socket = await host.connectChannel();
    const client = new AgentClient(socket, host);
    const ready = new Promise<AgentReply>((resolve) => client.#pending.set(0, resolve));
    socket.on('data', (chunk: Buffer) => client.#onData(chunk));
    socket.on('error', () => {});
    socket.on('close', () => client.#onClose());
    const first = await withTimeout(ready, bootTimeoutMs);
    if (first.kind !== 'ok') {
      client.close();
      throw new AgentError(first.kind === 'crash' ? `${first.crash.summary}\n${first.crash.excerpt}` : `the agent did not start within ${bootTimeoutMs} ms: ${host.consoleTail(5)}`);
    }
    client.bootMs = Math.round(performance.now() - host.startedAt);
    const hello = await client.request(Op.hello, Buffer.alloc(0));
    if (hello.kind !== 'ok' || hello.result !== PROTOCOL_VERSION) {
      client.close();
      throw new AgentError(`the agent speaks protocol ${hello.kind === 'ok' ? hello.result : '?'}, the host ${PROTOCOL_VERSION} (rebuild it: vhostcheck guest build for a guest, npm run build:native for this host's agent)`);
    }
    client.hello = hello.body.toString();
    return client;
  }

  /** `uname -r` of the kernel the agent runs on, from its greeting ("vhostcheck-agent <protocol> <release>"). */
  get kernelRelease(): string {
    return this.hello.split(' ')[2] ?? '';
  }

  get crash(): GuestCrash | undefined {
    return this.#crash;
  }

  /** Requests that got no answer in time. */
  get timeouts(): number {
    return this.#timeouts;
  }

  /** A request timed out and the agent has answered nothing since: it is stuck in a syscall that does not return. */
  get stuck(): boolean {
    return this.#stuck;
  }

  #onData(chunk: Buffer): void {
    let frames: ReplyFrame[];
    try {
      frames = this.#reader.push(chunk);
    } catch (e) {
      this.#fail({ kind: 'agent', summary: `the agent sent garbage: ${(e as Error).message}`, excerpt: this.host.consoleTail(10) });
      return;
    }
    if (frames.length) this.#stuck = false;
    for (const f of frames) {
      const resolve = this.#pending.get(f.id);
      // Late answers to timed-out requests, and repeated announcements (id 0), have no one waiting.
      if (!resolve) continue;
      this.#pending.delete(f.id);
      resolve({ kind: 'ok', result: f.result, body: f.body });
    }
  }

  #onClose(): void {
    if (this.#closed) return;
    // The agent's end closed: only a dying guest or agent does that. Give its exit a moment to say why.
    setTimeout(() => this.#fail(this.host.crash ?? { kind: 'exit', summary: 'the agent closed its connection', excerpt: this.host.consoleTail(10) }), 500).unref();
  }

  #fail(crash: GuestCrash): void {
    this.#crash ??= crash;
    for (const resolve of this.#pending.values()) resolve({ kind: 'crash', crash: this.#crash });
    this.#pending.clear();
  }

  /** One request; resolves with the agent's answer, a timeout, or the guest's crash. Never rejects. */
  request(op: number, payload: Uint8Array, timeoutMs = REQUEST_TIMEOUT_MS, concurrent = false): Promise<AgentReply> {
    if (this.#crash) return Promise.resolve({ kind: 'crash', crash: this.#crash });
    if (this.#closed) return Promise.resolve({ kind: 'crash', crash: { kind: 'exit', summary: 'agent connection closed', excerpt: '' } });
    const id = this.#nextId;
    this.#nextId = this.#nextId >= 0xffffffff ? 1 : this.#nextId + 1;
    const answer = new Promise<AgentReply>((resolve) => this.#pending.set(id, resolve));
    this.#socket.write(encodeRequest(id, op, payload, concurrent ? FLAG_CONCURRENT : 0));
    return withTimeout(answer, timeoutMs).then((r) => {
      if (r.kind === 'timeout') {
        this.#pending.delete(id);
        this.#timeouts++;
        this.#stuck = true;
      }
      return r;
    });
  }

  // Typed helpers: each returns the agent's reply; callers read `result` (≥ 0 or -errno) and `body`.
  open(path: string, flags: number, opts: RequestOptions = {}): Promise<AgentReply> {
    return this.#with(opts, Op.open, body.open(path, flags));
  }
  closeFd(fd: number, opts: RequestOptions = {}): Promise<AgentReply> {
    return this.#with(opts, Op.close, body.fd(fd));
  }
  ioctl(fd: number, request: number, arg: bigint | Uint8Array, outLen = 0, opts: RequestOptions = {}): Promise<AgentReply> {
    return this.#with(opts, Op.ioctl, body.ioctl(fd, request, arg, outLen));
  }

  #with(opts: RequestOptions, op: number, payload: Uint8Array): Promise<AgentReply> {
    return this.request(op, payload, opts.timeoutMs, opts.concurrent);
  }
  read(fd: number, maxLen: number, timeoutMs: number): Promise<AgentReply> {
    return this.request(Op.read, body.read(fd, maxLen, timeoutMs), timeoutMs + TIMEOUT_MARGIN_MS);
  }
  write(fd: number, data: Uint8Array): Promise<AgentReply> {
    return this.request(Op.write, body.write(fd, data));
  }
  memfd(size: bigint): Promise<AgentReply> {
    return this.request(Op.memfd, body.memfd(size));
  }
  mmap(fd: number, length: bigint, opts: { prot?: number; flags?: number; offset?: bigint } = {}): Promise<AgentReply> {
    return this.request(Op.mmap, body.mmap(fd, opts.prot ?? GuestFlags.PROT_READ | GuestFlags.PROT_WRITE, opts.flags ?? GuestFlags.MAP_SHARED, length, opts.offset ?? 0n));
  }
  munmap(addr: bigint, length: bigint): Promise<AgentReply> {
    return this.request(Op.munmap, body.munmap(addr, length));
  }
  memRead(addr: bigint, length: number): Promise<AgentReply> {
    return this.request(Op.memRead, body.memRead(addr, length));
  }
  memWrite(addr: bigint, data: Uint8Array): Promise<AgentReply> {
    return this.request(Op.memWrite, body.memWrite(addr, data));
  }
  eventfd(initval = 0, flags = 0): Promise<AgentReply> {
    return this.request(Op.eventfd, body.eventfd(initval, flags));
  }
  eventfdSignal(fd: number, value = 1n): Promise<AgentReply> {
    return this.request(Op.eventfdSignal, body.eventfdSignal(fd, value));
  }
  eventfdWait(fd: number, timeoutMs: number): Promise<AgentReply> {
    return this.request(Op.eventfdWait, body.eventfdWait(fd, timeoutMs), timeoutMs + TIMEOUT_MARGIN_MS);
  }
  /**
   * Applies `writes` (runs: u32 offset, u32 length, bytes) to the agent mapping at `addr` and its shadow, and returns
   * the runs within `scan` the mapping changed since they were last scanned (agent.c mem_diff); `result` 1: more remain.
   */
  memDiff(addr: bigint, length: bigint, scan: readonly { offset: number; length: number }[] | 'all', writes: Uint8Array): Promise<AgentReply> {
    return this.request(Op.memDiff, body.memDiff(addr, length, scan, writes));
  }
  /** The names in a guest directory (sysfs, /dev), or the errno in `result`. */
  async readdir(path: string): Promise<AgentReply & { names?: string[] }> {
    const r = await this.request(Op.readdir, body.readdir(path));
    return r.kind === 'ok' && r.result >= 0 ? { ...r, names: r.body.toString().split('\0').filter(Boolean) } : r;
  }
  /** socket(2) in the guest; `result` is the fd. */
  socket(domain: number, type: number, protocol: number): Promise<AgentReply> {
    return this.request(Op.socket, body.socket(domain, type, protocol));
  }
  /** bind(2) of a guest socket to the sockaddr given as bytes. */
  bind(fd: number, address: Uint8Array): Promise<AgentReply> {
    return this.request(Op.bind, body.bind(fd, address));
  }
  /** Runs the guest's iproute2 `vdpa` tool; `result` is its exit status, `body` its output. */
  vdpa(args: readonly string[], opts: RequestOptions = {}): Promise<AgentReply> {
    const timeoutMs = opts.timeoutMs ?? REQUEST_TIMEOUT_MS;
    return this.request(Op.vdpa, body.vdpa(args, timeoutMs), timeoutMs + TIMEOUT_MARGIN_MS, opts.concurrent);
  }

  /**
   * One ioctl or write run by a forked child of the agent: a process with an mm of its own, never a vhost
   * device's owner. `result` is the child's syscall result or -errno (-ETIMEDOUT when the child was killed).
   */
  forked(kind: number, fd: number, request: number, integer: bigint, data: Uint8Array = new Uint8Array()): Promise<AgentReply> {
    return this.request(Op.forked, body.forked(kind, fd, request, integer, data), FORKED_TIMEOUT_MS + TIMEOUT_MARGIN_MS);
  }

  /** Drops the connection (the guest powers off when its agent sees it go). Idempotent. */
  close(): void {
    this.#closed = true;
    this.#socket.destroy();
    for (const resolve of this.#pending.values()) resolve({ kind: 'crash', crash: { kind: 'exit', summary: 'agent connection closed', excerpt: '' } });
    this.#pending.clear();
  }
}

function withTimeout(p: Promise<AgentReply>, ms: number): Promise<AgentReply> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<AgentReply>((resolve) => {
    timer = setTimeout(() => resolve({ kind: 'timeout' }), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

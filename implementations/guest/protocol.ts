// The host↔agent wire format (the agent is implementations/guest/agent/agent.c;
// both sides must change together, and PROTOCOL_VERSION with them). Pure:
// bytes in, frames out. All integers little-endian (the guest is x86_64).
//
// Request: u32 length of what follows, u32 id, u16 op, u16 flags, body.
// Reply:   u32 length of what follows, u32 id, s32 result, body.
// `result` is the syscall's value, or -errno when it failed. The agent
// announces itself with replies of id 0 (result = its protocol version) until
// the first request arrives: data sent to a virtio-serial port before the
// guest opens it is discarded by the guest's driver, so the host waits for
// that announcement before it sends anything.
//
// A request flagged CONCURRENT runs on a thread of its own in the agent, so a
// syscall that waits for the host (a VDUSE device's reply) does not stop the
// requests that would provide it; its reply may overtake later ones.

/** 2: memDiff (17), forked (18), readNow (19), socket (20) and bind (21) added to version 1's ops. */
export const PROTOCOL_VERSION = 2;

/** Request flag bits (agent.c FLAG_CONCURRENT). */
export const FLAG_CONCURRENT = 1;

/** memDiff's scan count for "the whole mapping" (agent.c SCAN_ALL). */
const SCAN_ALL = 0xffffffff;

/** The largest request or reply body either side accepts (agent.c MAX_FRAME). */
const MAX_BODY = 4 * 1024 * 1024 - 64;

export const Op = {
  hello: 1,
  open: 2,
  close: 3,
  ioctl: 4,
  read: 5,
  write: 6,
  memfd: 7,
  mmap: 8,
  munmap: 9,
  memRead: 10,
  memWrite: 11,
  eventfd: 12,
  eventfdSignal: 13,
  eventfdWait: 14,
  vdpa: 15,
  readdir: 16,
  memDiff: 17,
  socket: 20,
  bind: 21,
  /** One read(2) without a poll first, on an O_NONBLOCK fd only (EDEADLK otherwise): the syscall's own checks answer. */
  readNow: 19,
  forked: 18,
} as const;

/** What an Op.forked child runs (agent.c OP_FORKED). */
export const ForkedCall = { ioctlInteger: 0, ioctlBuffer: 1, write: 2 } as const;

export interface ReplyFrame {
  readonly id: number;
  readonly result: number;
  readonly body: Buffer;
}

export function encodeRequest(id: number, op: number, body: Uint8Array, flags = 0): Buffer {
  if (body.length > MAX_BODY) throw new RangeError(`agent request body of ${body.length} bytes exceeds ${MAX_BODY}`);
  const head = Buffer.alloc(12);
  head.writeUInt32LE(8 + body.length, 0);
  head.writeUInt32LE(id >>> 0, 4);
  head.writeUInt16LE(op, 8);
  head.writeUInt16LE(flags, 10);
  return Buffer.concat([head, body]);
}

/** Bodies of the requests, in the order agent.c reads their fields. */
export const body = {
  open: (path: string, flags: number) => Buffer.concat([u32(flags), Buffer.from(path)]),
  fd: (fd: number) => u32(fd),
  /** `arg` a number: passed by value; a buffer: passed by pointer, `outLen` bytes of it come back. */
  ioctl: (fd: number, request: number, arg: bigint | Uint8Array, outLen: number) =>
    typeof arg === 'bigint'
      ? Buffer.concat([u32(fd), u32(request), u32(0), u32(0), u64(arg)])
      : Buffer.concat([u32(fd), u32(request), u32(outLen), u32(1), u64(0n), arg]),
  read: (fd: number, maxLen: number, timeoutMs: number) => Buffer.concat([u32(fd), u32(maxLen), u32(timeoutMs)]),
  write: (fd: number, data: Uint8Array) => Buffer.concat([u32(fd), data]),
  memfd: (size: bigint) => u64(size),
  mmap: (fd: number, prot: number, flags: number, length: bigint, offset: bigint) => Buffer.concat([u32(fd), u32(prot), u32(flags), u32(0), u64(length), u64(offset)]),
  munmap: (addr: bigint, length: bigint) => Buffer.concat([u64(addr), u64(length)]),
  memRead: (addr: bigint, length: number) => Buffer.concat([u64(addr), u32(length)]),
  memWrite: (addr: bigint, data: Uint8Array) => Buffer.concat([u64(addr), data]),
  eventfd: (initval: number, flags: number) => Buffer.concat([u32(initval), u32(flags)]),
  eventfdSignal: (fd: number, value: bigint) => Buffer.concat([u32(fd), u64(value)]),
  eventfdWait: (fd: number, timeoutMs: number) => Buffer.concat([u32(fd), u32(timeoutMs)]),
  readdir: (path: string) => Buffer.from(path),
  /**
   * A whole agent mapping; the ranges to scan for changes (u32 offset, u32 length each), or all of it; then the host's
   * writes into it as runs (implementations/guest/memoryMirror.ts encodeRuns).
   */
  memDiff: (addr: bigint, length: bigint, scan: readonly { offset: number; length: number }[] | 'all', writes: Uint8Array) =>
    Buffer.concat([u64(addr), u64(length), u32(scan === 'all' ? SCAN_ALL : scan.length), ...(scan === 'all' ? [] : scan.flatMap((r) => [u32(r.offset), u32(r.length)])), writes]),
  socket: (domain: number, type: number, protocol: number) => Buffer.concat([u32(domain), u32(type), u32(protocol)]),
  /** `address`: the struct sockaddr's bytes, as the guest's bind(2) takes them. */
  bind: (fd: number, address: Uint8Array) => Buffer.concat([u32(fd), address]),
  readNow: (fd: number, maxLen: number) => Buffer.concat([u32(fd), u32(maxLen)]),
  /** Arguments of the guest's `vdpa` tool, each NUL-terminated. */
  vdpa: (args: readonly string[], timeoutMs: number) => Buffer.concat([u32(timeoutMs), ...args.map((a) => Buffer.from(`${a}\0`))]),
  /** One syscall in a forked child: `request` and `integer` are used by ioctls, `data` by a buffer ioctl or a write. */
  forked: (kind: number, fd: number, request: number, integer: bigint, data: Uint8Array) => Buffer.concat([u32(kind), u32(fd), u32(request), u32(0), u64(integer), data]),
} as const;

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
}

function u64(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt.asUintN(64, v));
  return b;
}

/** Collects a byte stream and cuts it into reply frames; a length no agent sends is a protocol error. */
export class ReplyReader {
  #pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): ReplyFrame[] {
    this.#pending = this.#pending.length ? Buffer.concat([this.#pending, chunk]) : chunk;
    const out: ReplyFrame[] = [];
    while (this.#pending.length >= 4) {
      const len = this.#pending.readUInt32LE(0);
      if (len < 8 || len - 8 > MAX_BODY + 64 * 1024) throw new RangeError(`agent reply length ${len} is not a frame length`);
      if (this.#pending.length < 4 + len) break;
      out.push({ id: this.#pending.readUInt32LE(4), result: this.#pending.readInt32LE(8), body: Buffer.from(this.#pending.subarray(12, 4 + len)) });
      this.#pending = this.#pending.subarray(4 + len);
    }
    return out;
  }
}

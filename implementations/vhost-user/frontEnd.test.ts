// The front-end against a scripted back-end on a real UNIX socket: what goes
// on the wire (codes, flags, payloads, fds) and how every kind of bad or
// missing reply comes back (vhost-user.rst "Header", "REPLY_ACK").
import { fstatSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { close as closeFd, eventfdRead, eventfdWrite, fdCount, liveMappings, memfdCreate, mmapShared, munmap, UnixListener, type UnixSocket } from '../../native/index.ts';
import type { InflightArea } from '../../spec/requests.ts';
import { inflightAreaSize } from '../../spec/vhostUser/inflight.ts';
import { encodePayload } from '../../spec/vhostUser/payloads.ts';
import { encodeFrame, VHOST_USER_NEED_REPLY_MASK, VHOST_USER_REPLY_MASK, VHOST_USER_VERSION } from '../../spec/vhostUser/frame.ts';
import * as M from '../../spec/vhostUser/messages.ts';
import { bit } from '../../spec/virtio/features.ts';
import { PROTOCOL_FEATURES } from '../../spec/vhostUser/protocolFeatures.ts';
import { VhostUserTarget } from './frontEnd.ts';

const REPLY = VHOST_USER_VERSION | VHOST_USER_REPLY_MASK;

interface Msg {
  readonly request: number;
  readonly flags: number;
  readonly payload: Buffer;
  readonly fds: number[];
}

/** A back-end that does exactly what each test tells it to. */
class ScriptedBackEnd {
  #rx = Buffer.alloc(0);
  #fds: number[] = [];
  constructor(readonly conn: UnixSocket) {}

  async next(timeoutMs = 1000): Promise<Msg> {
    for (;;) {
      if (this.#rx.length >= 12) {
        const size = this.#rx.readUInt32LE(8);
        if (this.#rx.length >= 12 + size) {
          const m = { request: this.#rx.readUInt32LE(0), flags: this.#rx.readUInt32LE(4), payload: this.#rx.subarray(12, 12 + size), fds: this.#fds };
          this.#rx = this.#rx.subarray(12 + size);
          this.#fds = [];
          return m;
        }
      }
      if (!(await this.conn.wait('in', timeoutMs))) throw new Error('back-end: nothing received');
      const r = this.conn.recv(4096, 16);
      if (!r || r.closed) throw new Error('back-end: front-end hung up');
      this.#rx = Buffer.concat([this.#rx, r.data]);
      this.#fds.push(...r.fds);
    }
  }

  reply(request: number, payload: Uint8Array, flags = REPLY): void {
    this.conn.send(encodeFrame(request, flags, payload));
  }

  replyU64(request: number, v: bigint): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(v);
    this.reply(request, b);
  }
}

let dir: string;
let listener: UnixListener;
let backEnd: ScriptedBackEnd;
let t: VhostUserTarget;

// The scripted back-end answers from this event loop, which a blocking reply wait would hold up.
async function connect(opts: { replyTimeoutMs?: number; blockingWaitMs?: number } = {}): Promise<void> {
  t = await VhostUserTarget.open({ socketPath: join(dir, 'be.sock'), deviceType: 'blk', replyTimeoutMs: opts.replyTimeoutMs ?? 300, blockingWaitMs: opts.blockingWaitMs ?? 0 });
  backEnd = new ScriptedBackEnd(listener.accept()!);
}

/** Sends `req` while the back-end answers the message with `answer`. */
async function exchange<T>(send: () => Promise<T>, answer: (m: Msg) => void): Promise<{ reply: T; msg: Msg }> {
  const pending = send();
  const msg = await backEnd.next();
  answer(msg);
  return { reply: await pending, msg };
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vhostcheck-fe-'));
  listener = UnixListener.listen(join(dir, 'be.sock'));
  await connect();
});

afterEach(async () => {
  await t.close();
  backEnd.conn.close();
  listener.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('VhostUserTarget wire format', () => {
  it('a blocking reply wait that sees no reply yields to the event loop, so a back-end on it still answers', async () => {
    await t.close();
    backEnd.conn.close();
    await connect({ blockingWaitMs: 20 });
    // The scripted back-end can only answer once the blocking wait gave up and the loop ran.
    const { reply } = await exchange(() => t.send({ op: 'getFeatures' }), (m) => backEnd.replyU64(m.request, 0x1_4000_0000n));
    expect(reply).toEqual({ ok: true, value: 0x1_4000_0000n });
    const silent = await t.send({ op: 'getProtocolFeatures' });
    expect(silent).toEqual({ timeout: true });
  });

  it('GET_FEATURES: header only, version 1, no NEED_REPLY; the u64 reply is the value', async () => {
    const { reply, msg } = await exchange(() => t.send({ op: 'getFeatures' }), (m) => backEnd.replyU64(m.request, 0x1_4000_0000n));
    expect(msg).toMatchObject({ request: M.VHOST_USER_GET_FEATURES, flags: VHOST_USER_VERSION, fds: [] });
    expect(msg.payload.length).toBe(0);
    expect(reply).toEqual({ ok: true, value: 0x1_4000_0000n });
  });

  it('sets NEED_REPLY once REPLY_ACK is negotiated and maps a non-zero ack to EIO', async () => {
    const pf = await t.send({ op: 'setProtocolFeatures', features: bit(PROTOCOL_FEATURES.REPLY_ACK.bit) });
    const sent = await backEnd.next();
    expect(sent).toMatchObject({ request: M.VHOST_USER_SET_PROTOCOL_FEATURES, flags: VHOST_USER_VERSION });
    expect(pf).toEqual({ ok: true });
    expect(t.protocolFeatures).toBe(bit(PROTOCOL_FEATURES.REPLY_ACK.bit));
    const bad = await exchange(() => t.send({ op: 'setOwner' }), (m) => backEnd.replyU64(m.request, 1n));
    expect(bad.msg.flags).toBe(VHOST_USER_VERSION | VHOST_USER_NEED_REPLY_MASK);
    expect(bad.reply).toEqual({ ok: false, errno: 'EIO' });
    const good = await exchange(() => t.send({ op: 'setVringNum', index: 0, num: 64 }), (m) => backEnd.replyU64(m.request, 0n));
    expect(good.reply).toEqual({ ok: true });
    expect([good.msg.payload.readUInt32LE(0), good.msg.payload.readUInt32LE(4)]).toEqual([0, 64]);
    // A message with a reply of its own never asks for an ack.
    const f = await exchange(() => t.send({ op: 'getFeatures' }), (m) => backEnd.replyU64(m.request, 7n));
    expect(f.msg.flags).toBe(VHOST_USER_VERSION);
  });

  it('SET_MEM_TABLE: one region per entry, the memfd once per region, mmap_offset pointing at the region in it', async () => {
    const regions = t.memory.regions.map((r) => ({ gpa: r.gpa, size: BigInt(r.bytes.length), uaddr: r.uaddr }));
    regions.push({ gpa: 0x10_0000_0000n, size: 0x1000n, uaddr: t.memory.regions[1].uaddr + 0x2000n });
    await t.send({ op: 'setMemTable', regions });
    const m = await backEnd.next();
    expect(m.request).toBe(M.VHOST_USER_SET_MEM_TABLE);
    expect(m.payload.readUInt32LE(0)).toBe(3);
    expect(m.fds.length).toBe(3);
    t.memory.regions[1].bytes.write('region one', 0x2000);
    for (let i = 0; i < 3; i++) {
      const e = m.payload.subarray(8 + 32 * i, 40 + 32 * i);
      expect(e.readBigUInt64LE(0)).toBe(regions[i].gpa);
      expect(e.readBigUInt64LE(8)).toBe(regions[i].size);
      expect(e.readBigUInt64LE(16)).toBe(regions[i].uaddr);
    }
    // The back-end's view: map the received fd and look where mmap_offset says.
    const off = Number(m.payload.readBigUInt64LE(8 + 64 + 24));
    expect(off).toBe(t.memory.regions[1].backingOffset + 0x2000);
    const ab = mmapShared(m.fds[2], off + 16);
    expect(Buffer.from(ab, off, 10).toString()).toBe('region one');
    munmap(ab);
    m.fds.forEach(closeFd);
  });

  it('SET_VRING_KICK/CALL attach a fresh eventfd, or set bit 8 and attach none when invalid; kick and waitCall use them', async () => {
    await t.send({ op: 'setVringKick', index: 1 });
    const k = await backEnd.next();
    expect(k.payload.readBigUInt64LE(0)).toBe(1n);
    expect(k.fds.length).toBe(1);
    await t.kick(1);
    expect(eventfdRead(k.fds[0])).toBe(1n);

    await t.send({ op: 'setVringCall', index: 1 });
    const c = await backEnd.next();
    expect(await t.waitCall(1, 10)).toBe(false);
    const before = Date.now();
    // The back-end's side of a call: a write on its duplicate of the eventfd.
    setTimeout(() => eventfdWrite(c.fds[0], 1n), 20);
    expect(await t.waitCall(1, 1000)).toBe(true);
    expect(Date.now() - before).toBeLessThan(900);
    expect(await t.waitCall(1, 10)).toBe(false);

    await t.send({ op: 'setVringCall', index: 2, invalid: true });
    const n = await backEnd.next();
    expect(n.payload.readBigUInt64LE(0)).toBe(0x102n);
    expect(n.fds).toEqual([]);
    expect(await t.waitCall(2, 10)).toBe(false);
    [...k.fds, ...c.fds].forEach(closeFd);
  });

  it('waitCall takes a timeout in fractional milliseconds (waits scaled from a measured latency)', async () => {
    await t.send({ op: 'setVringCall', index: 0 });
    const c = await backEnd.next();
    expect(await t.waitCall(0, 3.7)).toBe(false);
    c.fds.forEach(closeFd);
  });

  it('SET_VRING_CALL with an index above 255 replaces the notifier of the vring bits 0-7 name, as the back-end reads it', async () => {
    await t.send({ op: 'setVringCall', index: 0x101 });
    const c = await backEnd.next();
    expect(c.payload.readBigUInt64LE(0)).toBe(0x201n);
    eventfdWrite(c.fds[0], 1n);
    expect(await t.waitCall(1, 100)).toBe(true);
    c.fds.forEach(closeFd);
  });

  it('a call notifier being replaced is watched until drained: its signal counts for the vring', async () => {
    await t.send({ op: 'setVringCall', index: 0 });
    const first = await backEnd.next();
    // The back-end signals the notifier it holds just as the front-end replaces it...
    eventfdWrite(first.fds[0], 1n);
    await t.send({ op: 'setVringCall', index: 0 });
    const second = await backEnd.next();
    expect(await t.waitCall(0, 10)).toBe(true);
    // ...or after, before it has processed the replacement (no reply has come since).
    eventfdWrite(first.fds[0], 1n);
    expect(await t.waitCall(0, 50)).toBe(true);
    expect(await t.waitCall(0, 10)).toBe(false);
    // Once the back-end answered a later message, it uses the new notifier only: the old one is closed.
    await exchange(() => t.send({ op: 'getFeatures' }), (m) => backEnd.replyU64(m.request, 0n));
    const fds = fdCount();
    expect(await t.waitCall(0, 0)).toBe(false);
    expect(fdCount()).toBe(fds - 1);
    [...first.fds, ...second.fds].forEach(closeFd);
  });

  it('a long churn of call notifiers without replies holds a bounded number of fds and loses no signal', async () => {
    await t.send({ op: 'setVringCall', index: 0 });
    const held = [(await backEnd.next()).fds[0]];
    eventfdWrite(held[0], 1n);
    const fds = fdCount();
    for (let i = 0; i < 40; i++) {
      await t.send({ op: 'setVringCall', index: 0 });
      held.push((await backEnd.next()).fds[0]);
    }
    // 40 replacements: our side holds the current notifier and a few retired ones, plus the back-end's 40 copies here.
    expect(fdCount() - fds).toBeLessThanOrEqual(40 + 9);
    // The very first notifier, long since read and closed on our side, was signalled before it went: reported now.
    expect(await t.waitCall(0, 0)).toBe(true);
    expect(await t.waitCall(0, 0)).toBe(false);
    held.forEach(closeFd);
  });

  it('SET_LOG_FD: no payload and one fresh eventfd, which replaces the previous one', async () => {
    await t.send({ op: 'setLogFd' });
    const a = await backEnd.next();
    expect(a).toMatchObject({ request: M.VHOST_USER_SET_LOG_FD, flags: VHOST_USER_VERSION });
    expect(a.payload.length).toBe(0);
    expect(a.fds.length).toBe(1);
    await t.send({ op: 'setLogFd' });
    const b = await backEnd.next();
    expect(b.fds.length).toBe(1);
    // The back-end's duplicates are distinct eventfds: a write on the first is not seen on the second.
    eventfdWrite(a.fds[0], 1n);
    expect(eventfdRead(b.fds[0])).toBeNull();
    expect(eventfdRead(a.fds[0])).toBe(1n);
    [...a.fds, ...b.fds].forEach(closeFd);
  });

  it('resetDevice is RESET_OWNER unless RESET_DEVICE was negotiated; IOTLB and GET_CONFIG payloads', async () => {
    await t.send({ op: 'resetDevice' });
    expect((await backEnd.next()).request).toBe(M.VHOST_USER_RESET_OWNER);
    await t.send({ op: 'setProtocolFeatures', features: bit(PROTOCOL_FEATURES.RESET_DEVICE.bit) });
    await backEnd.next();
    await t.send({ op: 'resetDevice' });
    expect((await backEnd.next()).request).toBe(M.VHOST_USER_RESET_DEVICE);

    const { msg: u, reply: updated } = await exchange(() => t.send({ op: 'iotlbUpdate', iova: 0x1000n, size: 0x2000n, uaddr: 0x7f00_0000_0000n, perm: 3 }), (m) => backEnd.replyU64(m.request, 0n));
    expect(updated).toEqual({ ok: true });
    expect(u.request).toBe(M.VHOST_USER_IOTLB_MSG);
    expect(u.payload.length).toBe(32);
    expect([u.payload.readBigUInt64LE(0), u.payload.readBigUInt64LE(8), u.payload.readBigUInt64LE(16), u.payload[24], u.payload[25]]).toEqual([
      0x1000n, 0x2000n, 0x7f00_0000_0000n, 3, 2,
    ]);

    const cfg = await exchange(
      () => t.send({ op: 'getConfig', offset: 4, size: 2 }),
      (m) => backEnd.reply(m.request, Buffer.from([4, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0xab, 0xcd])),
    );
    expect([cfg.msg.payload.readUInt32LE(0), cfg.msg.payload.readUInt32LE(4), cfg.msg.payload.readUInt32LE(8), cfg.msg.payload.length]).toEqual([4, 2, 0, 14]);
    expect(cfg.reply).toEqual({ ok: true, value: new Uint8Array([0xab, 0xcd]) });
    const empty = await exchange(() => t.send({ op: 'getConfig', offset: 0, size: 2 }), (m) => backEnd.reply(m.request, new Uint8Array()));
    expect(empty.reply).toEqual({ ok: false, errno: 'EIO' });
  });
});

describe('VhostUserTarget messages with a u64 status reply of their own', () => {
  it('IOTLB_MSG without REPLY_ACK waits for its reply: 0 is ok, non-zero a refusal, and the next reply is not mistaken for it', async () => {
    const refused = await exchange(() => t.send({ op: 'iotlbInvalidate', iova: 0n, size: 0x1000n }), (m) => backEnd.replyU64(m.request, 1n));
    expect(refused.msg.flags).toBe(VHOST_USER_VERSION);
    expect(refused.reply).toEqual({ ok: false, errno: 'EIO' });
    const ok = await exchange(() => t.send({ op: 'iotlbInvalidate', iova: 0n, size: 0x1000n }), (m) => backEnd.replyU64(m.request, 0n));
    expect(ok.reply).toEqual({ ok: true });
    const features = await exchange(() => t.send({ op: 'getFeatures' }), (m) => backEnd.replyU64(m.request, 0x4000_0000n));
    expect(features.reply).toEqual({ ok: true, value: 0x4000_0000n });
  });
});

describe('VhostUserTarget failure handling', () => {
  it('a missing reply is a timeout within the bound, and a late reply is not taken for the next one', async () => {
    const started = Date.now();
    const pending = t.send({ op: 'getFeatures' });
    await backEnd.next();
    expect(await pending).toEqual({ timeout: true });
    expect(Date.now() - started).toBeLessThan(1000);
    backEnd.replyU64(M.VHOST_USER_GET_FEATURES, 1n);
    await new Promise((r) => setTimeout(r, 20));
    const { reply } = await exchange(() => t.send({ op: 'getProtocolFeatures' }), (m) => backEnd.replyU64(m.request, 0x8n));
    expect(reply).toEqual({ ok: true, value: 0x8n });
  });

  const malformed: [string, (m: Msg) => void, RegExp][] = [
    ['no REPLY flag', (m) => backEnd.reply(m.request, Buffer.alloc(8), VHOST_USER_VERSION), /REPLY flag/],
    ['another request code', (m) => backEnd.reply(m.request + 1, Buffer.alloc(8)), /expected 1/],
    ['version 2', (m) => backEnd.reply(m.request, Buffer.alloc(8), 2 | VHOST_USER_REPLY_MASK), /version 2/],
    ['a 4-byte u64', (m) => backEnd.reply(m.request, Buffer.alloc(4)), /u64/],
    ['an absurd size', (m) => backEnd.conn.send(encodeFrame(m.request, REPLY, new Uint8Array(), 0x7fff_ffff)), /exceeds/],
  ];
  for (const [what, answer, why] of malformed) {
    it(`a reply with ${what} closes the session and records a protocol error`, async () => {
      const { reply } = await exchange(() => t.send({ op: 'getFeatures' }), answer);
      expect(reply).toEqual({ closed: true });
      expect(t.lastProtocolError).toMatch(why);
      expect(await t.send({ op: 'getFeatures' })).toEqual({ closed: true });
      expect(await t.health()).toEqual({ state: 'exited', code: null, signal: null });
    });
  }

  it('a back-end that hangs up: closed, never a throw; health says exited', async () => {
    expect(await t.health()).toEqual({ state: 'alive' });
    const pending = t.send({ op: 'getFeatures' });
    await backEnd.next();
    backEnd.conn.close();
    expect(await pending).toEqual({ closed: true });
    expect(await t.send({ op: 'setOwner' })).toEqual({ closed: true });
    expect(await t.sendRaw({ bytes: new Uint8Array(12) })).toEqual({ closed: true });
    expect(await t.health()).toEqual({ state: 'exited', code: null, signal: null });
  });

  it('close() during a request in flight ends it as closed at once', async () => {
    await t.close();
    backEnd.conn.close();
    await connect({ replyTimeoutMs: 5000 });
    const started = Date.now();
    const pending = t.send({ op: 'getFeatures' });
    await backEnd.next();
    await t.close();
    expect(await pending).toEqual({ closed: true });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('sendRaw sends the bytes with fresh fds and returns one reply frame, or ok when none comes', async () => {
    const raw = encodeFrame(M.VHOST_USER_SET_VRING_KICK, VHOST_USER_VERSION, Buffer.alloc(8));
    const { reply, msg } = await exchange(() => t.sendRaw({ bytes: raw, fds: 2 }), (m) => backEnd.replyU64(m.request, 5n));
    expect(msg.fds.length).toBe(2);
    expect(reply).toMatchObject({ ok: true });
    expect(Buffer.from((reply as { value: Uint8Array }).value).toString('hex')).toBe(encodeFrame(M.VHOST_USER_SET_VRING_KICK, REPLY, Buffer.from([5, 0, 0, 0, 0, 0, 0, 0])).toString('hex'));
    msg.fds.forEach(closeFd);
    expect(await t.sendRaw({ bytes: raw })).toEqual({ ok: true });
  });

  it('close() is idempotent and 200 open/close cycles leave fds and mappings at baseline', async () => {
    await t.close();
    await t.close();
    backEnd.conn.close();
    const fds = fdCount();
    const maps = liveMappings();
    for (let i = 0; i < 200; i++) {
      await connect();
      await t.send({ op: 'setVringKick', index: 0 });
      await t.send({ op: 'setVringCall', index: 0 });
      (await backEnd.next()).fds.forEach(closeFd);
      (await backEnd.next()).fds.forEach(closeFd);
      await t.close();
      backEnd.conn.close();
    }
    expect(fdCount()).toBe(fds);
    expect(liveMappings()).toBe(maps);
    await connect();
  });
});

describe('VhostUserTarget inflight buffers (vhost-user.rst "Inflight I/O tracking")', () => {
  const inflight = (mmap_size: bigint, mmap_offset: bigint, num_queues = 1, queue_size = 8) =>
    encodePayload({ type: 'inflight', value: { mmap_size, mmap_offset, num_queues, queue_size } });
  const described = (m: Msg) => ({ mmapSize: m.payload.readBigUInt64LE(0), mmapOffset: m.payload.readBigUInt64LE(8), numQueues: m.payload.readUInt16LE(16), queueSize: m.payload.readUInt16LE(18) });

  it('GET_INFLIGHT_FD maps the fd of its reply at mmap_offset, SET_INFLIGHT_FD sends that file back, close() releases both', async () => {
    await t.close();
    backEnd.conn.close();
    const fds = fdCount();
    const maps = liveMappings();
    await connect();
    const fd = memfdCreate('be-inflight', 0x2000);
    const mine = mmapShared(fd, 0x2000);
    new Uint8Array(mine)[0x1000 + 5] = 7;
    const { reply, msg } = await exchange(() => t.send({ op: 'getInflightFd', numQueues: 1, queueSize: 8 }), (m) => backEnd.conn.send(encodeFrame(m.request, REPLY, inflight(0x100n, 0x1000n)), [fd]));
    expect(msg).toMatchObject({ request: M.VHOST_USER_GET_INFLIGHT_FD, flags: VHOST_USER_VERSION, fds: [] });
    expect(described(msg)).toEqual({ mmapSize: 0n, mmapOffset: 0n, numQueues: 1, queueSize: 8 });
    const area = (reply as { value: InflightArea }).value;
    expect(area).toMatchObject({ mmapSize: 0x100n, mmapOffset: 0x1000n, fd: true });
    expect(area.bytes?.length).toBe(0x100);
    expect(area.bytes?.[5]).toBe(7);
    const set = t.send({ op: 'setInflightFd', numQueues: 1, queueSize: 8, withFd: true });
    const m = await backEnd.next();
    expect(await set).toEqual({ ok: true });
    expect(m.request).toBe(M.VHOST_USER_SET_INFLIGHT_FD);
    expect(described(m)).toEqual({ mmapSize: 0x100n, mmapOffset: 0x1000n, numQueues: 1, queueSize: 8 });
    expect(m.fds).toHaveLength(1);
    expect(fstatSync(m.fds[0]).ino).toBe(fstatSync(fd).ino);
    m.fds.forEach(closeFd);
    munmap(mine);
    closeFd(fd);
    await t.close();
    backEnd.conn.close();
    expect(fdCount()).toBe(fds);
    expect(liveMappings()).toBe(maps);
    await connect();
  });

  it('a buffer said to run past the end of its file is not mapped (that would be SIGBUS) and its fd is closed', async () => {
    const fds = fdCount();
    const fd = memfdCreate('be-inflight-short', 0x1000);
    const { reply } = await exchange(() => t.send({ op: 'getInflightFd', numQueues: 1, queueSize: 8 }), (m) => backEnd.conn.send(encodeFrame(m.request, REPLY, inflight(0x1000n, 0x1000n)), [fd]));
    closeFd(fd);
    expect(reply).toMatchObject({ ok: true, value: { fd: true, bytes: null, problem: expect.stringContaining('past the 4096-byte file') } });
    expect(fdCount()).toBe(fds);
  });

  it('mmap_size 0 is a refusal; a reply without fd says so; fds on other replies are still closed', async () => {
    const fds = fdCount();
    expect((await exchange(() => t.send({ op: 'getInflightFd', numQueues: 0, queueSize: 8 }), (m) => backEnd.reply(m.request, inflight(0n, 0n)))).reply).toEqual({ ok: false, errno: 'EIO' });
    expect((await exchange(() => t.send({ op: 'getInflightFd', numQueues: 1, queueSize: 8 }), (m) => backEnd.reply(m.request, inflight(0x100n, 0n)))).reply).toEqual({
      ok: true, value: { mmapSize: 0x100n, mmapOffset: 0n, fd: false, bytes: null },
    });
    const efd = memfdCreate('stray', 0x1000);
    const { reply } = await exchange(() => t.send({ op: 'getFeatures' }), (m) => backEnd.conn.send(encodeFrame(m.request, REPLY, Buffer.alloc(8)), [efd]));
    closeFd(efd);
    expect(reply).toEqual({ ok: true, value: 0n });
    expect(fdCount()).toBe(fds);
  });

  it('SET_INFLIGHT_FD with no buffer held sends a fresh zeroed one sized for the packed layout, or no fd when told', async () => {
    const fresh = await exchange(() => t.send({ op: 'setInflightFd', numQueues: 2, queueSize: 8, withFd: true }), () => undefined);
    expect(fresh.reply).toEqual({ ok: true });
    expect(described(fresh.msg)).toEqual({ mmapSize: BigInt(inflightAreaSize(2, 8, true)), mmapOffset: 0n, numQueues: 2, queueSize: 8 });
    expect(fstatSync(fresh.msg.fds[0]).size).toBe(inflightAreaSize(2, 8, true));
    fresh.msg.fds.forEach(closeFd);
    const none = await exchange(() => t.send({ op: 'setInflightFd', numQueues: 1, queueSize: 8, withFd: false }), () => undefined);
    expect(none.msg.fds).toEqual([]);
  });
});

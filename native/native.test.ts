import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import * as n from './index.ts';
import { EventFd, SharedMemory, UnixListener, UnixSocket } from './index.ts';

const available = n.isNativeAvailable();
const reason = n.nativeUnavailableReason();
const ADDON = fileURLToPath(new URL('./build/Release/vhostcheck_native.node', import.meta.url));
const FIONREAD = 0x541b;

function errOf(fn: () => unknown): n.ErrnoError {
  try {
    fn();
  } catch (e) {
    return e as n.ErrnoError;
  }
  throw new Error('expected a throw');
}

describe('native wrapper without the addon', () => {
  it('loads lazily and every function throws a clear error', () => {
    n.__setAddonPathForTests('/nonexistent/vhostcheck_native.node');
    try {
      expect(n.isNativeAvailable()).toBe(false);
      expect(n.nativeUnavailableReason()).toBe(n.NOT_BUILT_MESSAGE);
      expect(() => n.memfdCreate('x', 1)).toThrow('native addon not built: run `npm run build:native`');
      expect(() => n.fdCount()).toThrow(n.NOT_BUILT_MESSAGE);
      expect(() => EventFd.create()).toThrow(n.NOT_BUILT_MESSAGE);
    } finally {
      n.__setAddonPathForTests();
    }
    expect(n.isNativeAvailable()).toBe(available);
  });
});

describe.skipIf(!available)(`native addon${available ? '' : ` (SKIPPED: ${reason})`}`, () => {
  const tmp = available ? mkdtempSync(join(tmpdir(), 'vhostcheck-native-')) : '';
  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('memfd: a write through one mapping is read through a second mapping of the same fd', () => {
    const live0 = n.liveMappings();
    const fd = n.memfdCreate('guest-ram', 2 * 4096);
    const a = n.mmapShared(fd, 2 * 4096);
    const b = n.mmapShared(fd, 4096, 4096); // second page only
    expect(n.liveMappings()).toBe(live0 + 2);
    new Uint8Array(a).set([1, 2, 3, 4], 4096 + 10);
    expect([...new Uint8Array(b, 10, 4)]).toEqual([1, 2, 3, 4]);
    new DataView(b).setUint32(0, 0xdeadbeef, true);
    expect(new DataView(a).getUint32(4096, true)).toBe(0xdeadbeef);

    expect(n.munmap(a)).toBe(true);
    expect(a.byteLength).toBe(0); // detached: JS can no longer touch unmapped memory
    expect(n.munmap(a)).toBe(false); // idempotent
    expect(n.munmap(b)).toBe(true);
    expect(n.liveMappings()).toBe(live0);
    expect(errOf(() => n.munmap(new ArrayBuffer(8))).code).toBe('EINVAL');
    expect(errOf(() => n.mmapShared(fd, 4096, 100)).code).toBe('EINVAL'); // unaligned offset
    n.close(fd);
    expect(errOf(() => n.close(fd)).code).toBe('EBADF');
  });

  it('SharedMemory owns the memfd and its mapping; close() is idempotent', () => {
    const fds0 = n.fdCount();
    const live0 = n.liveMappings();
    const m = SharedMemory.create('shm', 65536);
    expect(m.size).toBe(65536);
    m.bytes[100] = 7;
    const peer = SharedMemory.adopt(n.openFile(`/proc/self/fd/${m.fd}`, 'rdwr'), 65536);
    expect(peer.bytes[100]).toBe(7);
    m.close();
    m.close();
    peer.close();
    expect(m.closed).toBe(true);
    expect(m.bytes.length).toBe(0);
    expect(() => m.buffer).toThrow('already closed');
    expect(n.fdCount()).toBe(fds0);
    expect(n.liveMappings()).toBe(live0);
  });

  it('eventfd: write, read, EAGAIN -> null, semaphore mode', () => {
    const fd = n.eventfdCreate(0, ['nonblock']);
    expect(n.eventfdRead(fd)).toBeNull();
    n.eventfdWrite(fd, 3n);
    n.eventfdWrite(fd, 4n);
    expect(n.eventfdRead(fd)).toBe(7n);
    expect(n.eventfdRead(fd)).toBeNull();
    n.close(fd);

    const sem = EventFd.create({ initval: 2, semaphore: true });
    expect(sem.read()).toBe(1n);
    expect(sem.read()).toBe(1n);
    expect(sem.read()).toBeNull();
    sem.close();
    sem.close();
    expect(() => sem.fd).toThrow('already closed');
    expect(() => n.eventfdCreate(0, ['bogus' as n.EventFdFlag])).toThrow(TypeError);
  });

  it('pollAsync: false after the timeout, without blocking the event loop', async () => {
    const ev = EventFd.create();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const t0 = performance.now();
    const ready = await ev.wait('in', 120);
    const elapsed = performance.now() - t0;
    clearInterval(timer);
    expect(ready).toBe(false);
    expect(elapsed).toBeGreaterThanOrEqual(110);
    expect(ticks).toBeGreaterThanOrEqual(5); // timers kept firing during the wait
    ev.close();
  });

  it('pollAsync and pollSync take a fractional timeout (a wait scaled from a measured latency) and wait at least that long', async () => {
    const ev = EventFd.create();
    const t0 = performance.now();
    expect(await n.pollAsync(ev.fd, 'in', 11.332)).toBe(false);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(11);
    expect(n.pollSync(ev.fd, 'in', 0.5)).toBe(false);
    ev.close();
  });

  it('pollAsync: true after a write made from a setTimeout during the wait', async () => {
    const ev = EventFd.create();
    let fired = false;
    setTimeout(() => {
      fired = true;
      ev.signal(1n);
    }, 30);
    const t0 = performance.now();
    const ready = await ev.wait('in', 5000);
    expect(ready).toBe(true);
    expect(fired).toBe(true);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(ev.read()).toBe(1n);
    // already ready: resolves at once; 'out' on an eventfd is ready too
    ev.signal(1n);
    expect(await ev.wait('in', 0)).toBe(true);
    expect(await ev.wait('out', 1000)).toBe(true);
    ev.close();
  });

  it('pollAsync: one wait per fd (EBUSY); close() cancels a pending wait (ECANCELED); bad fd rejects', async () => {
    const ev = EventFd.create({ nonblock: false });
    const first = ev.wait('in', 10_000);
    await expect(ev.wait('in', 10)).rejects.toMatchObject({ code: 'EBUSY' });
    ev.close();
    await expect(first).rejects.toMatchObject({ code: 'ECANCELED' });
    await expect(n.pollAsync(100_000, 'in', 10)).rejects.toMatchObject({ code: 'EBADF' });
    // uv_poll_init sets O_NONBLOCK; the addon restores the caller's flags
    const blocking = n.eventfdCreate(0, []);
    await n.pollAsync(blocking, 'in', 20);
    n.eventfdWrite(blocking, 1n);
    expect(n.eventfdRead(blocking)).toBe(1n);
    const { readFileSync } = await import('node:fs');
    const flags = parseInt(/flags:\s+(\d+)/.exec(readFileSync(`/proc/self/fdinfo/${blocking}`, 'utf8'))![1], 8);
    expect(flags & 0o4000).toBe(0); // O_NONBLOCK still clear
    n.close(blocking);
  });

  it('pollSync: timeout, readiness, bad fd', () => {
    const [a, b] = UnixSocket.pair();
    expect(a.waitSync('in', 10)).toBe(false);
    expect(a.waitSync('out', 10)).toBe(true);
    b.send(Buffer.from('x'));
    expect(a.waitSync('in', 1000)).toBe(true);
    a.close();
    b.close();
    expect(errOf(() => n.pollSync(100_000, 'in', 0)).code).toBe('EBADF');
    expect(() => n.pollSync(0, 'sideways' as n.PollEvents, 0)).toThrow(TypeError);
  });

  it('sendmsg with 3 fds: recvmsg gets 3 new working fds', () => {
    const fds0 = n.fdCount();
    const [a, b] = n.socketpair();
    const kick = n.eventfdCreate(0, ['nonblock']);
    const call = n.eventfdCreate(0, ['nonblock']);
    const mem = n.memfdCreate('mem', 4096);
    const header = Buffer.from([1, 0, 0, 0, 2, 0, 0, 0, 8, 0, 0, 0]);
    expect(n.sendmsg(a, header, [kick, call, mem])).toBe(12);
    const r = n.recvmsg(b, 64, 8)!;
    expect(r).not.toBeNull();
    expect(r.data.equals(header)).toBe(true);
    expect(r.fds).toHaveLength(3);
    expect(r.truncated || r.fdsTruncated || r.closed).toBe(false);
    for (const fd of r.fds) expect([a, b, kick, call, mem]).not.toContain(fd);
    // the received fds refer to the same objects
    n.eventfdWrite(r.fds[0], 5n);
    expect(n.eventfdRead(kick)).toBe(5n);
    n.eventfdWrite(call, 9n);
    expect(n.eventfdRead(r.fds[1])).toBe(9n);
    const m1 = n.mmapShared(mem, 4096);
    const m2 = n.mmapShared(r.fds[2], 4096);
    new Uint8Array(m1)[0] = 0xab;
    expect(new Uint8Array(m2)[0]).toBe(0xab);
    n.munmap(m1);
    n.munmap(m2);
    // received fds are close-on-exec (MSG_CMSG_CLOEXEC)
    for (const fd of r.fds) expect(n.ioctl(fd, 0x5450 /* FIONCLEX */)).toBe(0);
    for (const fd of [...r.fds, a, b, kick, call, mem]) n.close(fd);
    expect(n.fdCount()).toBe(fds0);
  });

  it('MSG_CTRUNC: 5 fds sent, maxFds 2 -> fdsTruncated, no fd delivered, none leaked', () => {
    const fds0 = n.fdCount();
    const [a, b] = n.socketpair();
    const evs = Array.from({ length: 5 }, () => n.eventfdCreate(0, ['nonblock']));
    n.sendmsg(a, Buffer.from('hdr!'), evs);
    const r = n.recvmsg(b, 64, 2)!;
    expect(r.fdsTruncated).toBe(true);
    expect(r.fds).toEqual([]);
    expect(r.data.toString()).toBe('hdr!'); // the bytes are still delivered
    for (const fd of [...evs, a, b]) n.close(fd);
    expect(n.fdCount()).toBe(fds0);

    // maxFds 0: nothing may be received either
    const [c, d] = n.socketpair();
    const e = n.eventfdCreate(0, []);
    n.sendmsg(c, Buffer.from('x'), [e]);
    const r2 = n.recvmsg(d, 8, 0)!;
    expect(r2.fdsTruncated).toBe(true);
    for (const fd of [c, d, e]) n.close(fd);
    expect(n.fdCount()).toBe(fds0);
  });

  it('sendmsg limits: more than 16 fds, fds without data', () => {
    const [a, b] = n.socketpair();
    const e = n.eventfdCreate(0, []);
    expect(() => n.sendmsg(a, Buffer.from('x'), Array(17).fill(e))).toThrow(RangeError);
    expect(n.sendmsg(a, Buffer.from('x'), Array(16).fill(e))).toBe(1);
    const r = n.recvmsg(b, 8, 16)!;
    expect(r.fds).toHaveLength(16);
    r.fds.forEach((fd) => n.close(fd));
    expect(() => n.sendmsg(a, new Uint8Array(0), [e])).toThrow(RangeError);
    for (const fd of [a, b, e]) n.close(fd);
  });

  it('recvmsgInto: bytes land in the caller\'s buffer, fds and flags as recvmsg reports them', () => {
    const fds0 = n.fdCount();
    const [a, b] = UnixSocket.pair();
    const target = Buffer.alloc(16, 0xee);
    expect(b.recvInto(target, 4, { dontwait: true })).toBeNull();
    const ev = n.eventfdCreate(0, ['nonblock']);
    a.send(Buffer.from('hello'), [ev]);
    const r = b.recvInto(target.subarray(3), 4)!;
    expect(r).toMatchObject({ bytes: 5, truncated: false, fdsTruncated: false, closed: false });
    expect(r.fds).toHaveLength(1);
    expect(target.toString('latin1', 3, 8)).toBe('hello');
    expect(target[2]).toBe(0xee); // nothing written outside the view
    expect(target[8]).toBe(0xee);
    n.eventfdWrite(r.fds[0], 3n);
    expect(n.eventfdRead(ev)).toBe(3n);
    // A short target takes what fits; the rest stays queued on the stream.
    a.send(Buffer.from('abcdef'));
    expect(b.recvInto(target.subarray(0, 4))!.bytes).toBe(4);
    expect(b.recvInto(target)!.bytes).toBe(2);
    expect(target.toString('latin1', 0, 2)).toBe('ef');
    // More fds than room: CTRUNC, none delivered, none leaked.
    a.send(Buffer.from('x'), [ev, ev, ev]);
    expect(b.recvInto(target, 2)).toMatchObject({ bytes: 1, fds: [], fdsTruncated: true });
    a.close();
    expect(b.recvInto(target, 2)).toEqual({ bytes: 0, fds: [], truncated: false, fdsTruncated: false, closed: true });
    expect(() => b.recvInto(new Uint8Array(0))).toThrow(RangeError);
    expect(() => n.recvmsgInto(b.fd, target, 254)).toThrow(RangeError);
    for (const fd of [...r.fds, ev]) n.close(fd);
    b.close();
    expect(n.fdCount()).toBe(fds0);
  });

  it('setIoTimeout: a blocking receive gives up after the timeout, returns at once when bytes are there', () => {
    const [a, b] = UnixSocket.pair();
    b.setIoTimeout(20);
    const target = Buffer.alloc(8);
    const t0 = performance.now();
    expect(b.recvInto(target)).toBeNull(); // blocks: no dontwait, socket is blocking
    const waited = performance.now() - t0;
    // Counted in clock ticks (CONFIG_HZ ≥ 100: at most 10 ms each way).
    expect(waited).toBeGreaterThan(9);
    expect(waited).toBeLessThan(500);
    a.send(Buffer.from('hi'));
    expect(b.recvInto(target)!.bytes).toBe(2);
    // A send into a full socket also gives up: EAGAIN after a short count or none.
    a.setIoTimeout(20);
    const chunk = Buffer.alloc(65536);
    let sendErr: unknown;
    for (let i = 0; i < 1000 && sendErr === undefined; i++) {
      try {
        n.sendmsg(a.fd, chunk);
      } catch (e) {
        sendErr = e;
      }
    }
    expect((sendErr as n.ErrnoError).code).toBe('EAGAIN');
    expect(() => b.setIoTimeout(0)).toThrow(RangeError);
    a.close();
    b.close();
  });

  it('recvmsg: EAGAIN -> null, peer closed -> closed, EPIPE without SIGPIPE', async () => {
    const [a, b] = UnixSocket.pair();
    expect(a.recv(16, 0, { dontwait: true })).toBeNull();
    a.setNonblocking(true);
    expect(a.recv(16)).toBeNull();
    expect(n.read(a.fd, 16)).toBeNull();
    b.close();
    expect(await a.wait('in', 1000)).toBe(true); // hang-up wakes a waiter
    const r = a.recv(16, 4)!;
    expect(r).toEqual({ data: Buffer.alloc(0), fds: [], truncated: false, fdsTruncated: false, closed: true });
    expect(errOf(() => a.send(Buffer.from('x'))).code).toBe('EPIPE');
    a.close();
  });

  it('ioctl: invalid request throws with a string errno code; a Buffer arg is passed by pointer', () => {
    const ev = n.eventfdCreate(0, []);
    const err = errOf(() => n.ioctl(ev, 0x1234abcd, 0));
    expect(typeof err.code).toBe('string');
    expect(err.code).toMatch(/^E[A-Z0-9]+$/);
    expect(err.code).toBe('ENOTTY');
    expect(err.syscall).toBe('ioctl');
    expect(err.message).toContain('ioctl');
    expect(n.isErrnoError(err, 'ENOTTY')).toBe(true);
    n.close(ev);

    const [a, b] = n.socketpair();
    n.write(a, Buffer.from('0123456789'));
    const out = Buffer.alloc(4);
    expect(n.ioctl(b, FIONREAD, out)).toBe(0);
    expect(out.readInt32LE(0)).toBe(10);
    n.close(a);
    n.close(b);
  });

  it('UNIX listen/connect/accept (pathname and abstract)', async () => {
    const path = join(tmp, 'vu.sock');
    const l = UnixListener.listen(path, 4);
    l.setNonblocking(true);
    expect(l.accept()).toBeNull();
    const c = UnixSocket.connect(path);
    expect(await l.wait('in', 1000)).toBe(true);
    const s = l.accept()!;
    c.send(Buffer.from('ping'));
    expect(s.recv(16)!.data.toString()).toBe('ping');
    expect(errOf(() => n.unixListen(path, 1)).code).toBe('EADDRINUSE');
    expect(errOf(() => n.unixConnect(join(tmp, 'nope.sock'))).code).toBe('ENOENT');
    expect(errOf(() => n.unixConnect('/' + 'x'.repeat(200))).code).toBe('ENAMETOOLONG');
    for (const x of [c, s, l]) x.close();

    const name = `\0vhostcheck-test-${process.pid}`;
    const al = UnixListener.listen(name);
    const ac = UnixSocket.connect(name);
    const as = al.accept()!;
    as.send(Buffer.from('pong'));
    expect(ac.recv(16)!.data.toString()).toBe('pong');
    for (const x of [ac, as, al]) x.close();
  });

  it('openFile/read/write', () => {
    const mem = n.memfdCreate('file', 0);
    const fd = n.openFile(`/proc/self/fd/${mem}`, 'rdwr');
    expect(n.write(fd, Buffer.from('hello world'))).toBe(11);
    const ro = n.openFile(`/proc/self/fd/${mem}`, 'rdonly');
    expect(n.read(ro, 5)!.toString()).toBe('hello');
    expect(n.read(ro, 100)!.toString()).toBe(' world');
    expect(n.read(ro, 100)!.length).toBe(0); // end of file
    expect(errOf(() => n.write(ro, Buffer.from('x'))).code).toBe('EBADF');
    expect(errOf(() => n.openFile(join(tmp, 'missing'), 'rdonly')).code).toBe('ENOENT');
    for (const x of [mem, fd, ro]) n.close(x);
  });

  it('leak test: 2,000 iterations of memfd+mmap+eventfd+socketpair+sendmsg/recvmsg', () => {
    const fds0 = n.fdCount();
    const live0 = n.liveMappings();
    const header = new Uint8Array(12);
    for (let i = 0; i < 2000; i++) {
      const mem = n.memfdCreate(`leak-${i}`, 8192);
      const map = n.mmapShared(mem, 8192);
      new Uint8Array(map)[i % 8192] = i & 0xff;
      const ev = n.eventfdCreate(0, ['nonblock']);
      const [a, b] = n.socketpair();
      header[0] = i & 0xff;
      n.sendmsg(a, header, [mem, ev]);
      const r = n.recvmsg(b, 64, 4)!;
      if (r.fds.length !== 2 || r.data[0] !== (i & 0xff)) throw new Error(`iteration ${i}: bad recvmsg`);
      const map2 = n.mmapShared(r.fds[0], 8192);
      if (new Uint8Array(map2)[i % 8192] !== (i & 0xff)) throw new Error(`iteration ${i}: mapping mismatch`);
      n.eventfdWrite(r.fds[1], 1n);
      if (n.eventfdRead(ev) !== 1n) throw new Error(`iteration ${i}: eventfd mismatch`);
      if (i % 2 === 0) {
        // the MSG_CTRUNC path too, every other iteration
        n.sendmsg(b, header, [mem, ev, a]);
        if (!n.recvmsg(a, 64, 1)!.fdsTruncated) throw new Error(`iteration ${i}: expected CTRUNC`);
      }
      n.munmap(map);
      n.munmap(map2);
      for (const fd of [mem, ev, a, b, ...r.fds]) n.close(fd);
    }
    expect(n.fdCount()).toBe(fds0);
    expect(n.liveMappings()).toBe(live0);
  });

  it('a mapping never passed to munmap is unmapped by its finalizer; no double unmap after munmap', () => {
    const script = `
      const n = require(${JSON.stringify(ADDON)});
      const tick = () => new Promise((r) => setImmediate(r));
      (async () => {
        const fd = n.memfdCreate('gc', 1 << 20);
        for (let i = 0; i < 50; i++) n.mmapShared(fd, 1 << 20);       // dropped, never unmapped
        const kept = [];
        for (let i = 0; i < 50; i++) { const ab = n.mmapShared(fd, 1 << 20); n.munmap(ab); kept.push(ab); }
        const before = n.liveMappings();
        kept.length = 0;
        // new mappings likely reuse the addresses of the munmapped ones
        const fresh = []; for (let i = 0; i < 50; i++) fresh.push(n.mmapShared(fd, 1 << 20));
        for (let i = 0; i < 10; i++) { globalThis.gc(); await tick(); }
        // if a late finalizer had unmapped a fresh mapping, this would SIGSEGV
        let sum = 0; for (const ab of fresh) { const u = new Uint8Array(ab); u[12345] = 1; sum += u[12345]; }
        const afterGc = n.liveMappings();
        fresh.forEach((ab) => n.munmap(ab));
        n.close(fd);
        console.log(JSON.stringify({ before, afterGc, sum, end: n.liveMappings() }));
      })();`;
    const out = JSON.parse(execFileSync(process.execPath, ['--expose-gc', '-e', script], { encoding: 'utf8' }));
    expect(out).toEqual({ before: 50, afterGc: 50, sum: 50, end: 0 });
  });

  it('a worker exiting with a pending pollAsync tears down cleanly', async () => {
    const worker = new Worker(
      `const n = require(${JSON.stringify(ADDON)});
       const { parentPort } = require('node:worker_threads');
       const fd = n.eventfdCreate(0, ['nonblock']);
       n.pollAsync(fd, 'in', 60000);
       parentPort.postMessage('waiting');`,
      { eval: true },
    );
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
    });
    expect(await worker.terminate()).toBe(1);
  });

  it('rejects bad arguments with TypeError/RangeError', () => {
    expect(() => n.close(-1)).toThrow(RangeError);
    expect(() => n.close(1.5)).toThrow(RangeError);
    expect(() => n.close('3' as unknown as number)).toThrow(TypeError);
    expect(() => n.memfdCreate('a\0b', 1)).toThrow(TypeError);
    expect(() => n.mmapShared(0, 0)).toThrow(RangeError);
    expect(() => n.recvmsg(0, 0, 0)).toThrow(RangeError);
    expect(() => n.recvmsg(0, 1, 254)).toThrow(RangeError);
    expect(() => n.eventfdWrite(0, 1n << 64n)).toThrow(RangeError);
    expect(() => n.openFile('/dev/null', 'wronly' as n.OpenFlags)).toThrow(TypeError);
    expect(() => n.ioctl(0, 0x1234, 'x' as unknown as number)).toThrow(TypeError);
  });
});

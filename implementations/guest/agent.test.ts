// Against the real guest (skipped with a reason when it is not built): every
// request kind of the agent protocol, the timeout of a request the agent does
// not answer in time, and a forced kernel panic reported as a crash.
import { describe, expect, it } from 'vitest';
import { errnoName, GuestFlags } from './agent.ts';
import { Op, PROTOCOL_VERSION, body } from './protocol.ts';
import { builtGuest, sharedGuest } from './testGuest.ts';

const image = await builtGuest('guest agent tests');

describe.skipIf(!image)('guest agent (real QEMU guest)', () => {
  const guest = sharedGuest(image);

  it('greets with its protocol version and the kernel it runs', () => {
    expect(guest().agent.hello).toBe(`vhostcheck-agent ${PROTOCOL_VERSION} ${image!.manifest.kernelRelease}`);
    expect(guest().agent.bootMs).toBeGreaterThan(0);
  });

  it('opens, fails with the real errno, and closes', async () => {
    const missing = await guest().agent.open('/dev/no-such-device', GuestFlags.O_RDWR);
    expect(missing.kind === 'ok' && errnoName(missing.result)).toBe('ENOENT');
    const fd = await guest().agent.open('/dev/vhost-net', GuestFlags.O_RDWR);
    expect(fd.kind === 'ok' && fd.result).toBeGreaterThanOrEqual(0);
    const closed = await guest().agent.closeFd(fd.kind === 'ok' ? fd.result : -1);
    expect(closed.kind === 'ok' && closed.result).toBe(0);
    const again = await guest().agent.closeFd(fd.kind === 'ok' ? fd.result : -1);
    expect(again.kind === 'ok' && errnoName(again.result)).toBe('EBADF');
  });

  it('shares memfd memory through a mapping, and refuses addresses it did not map', async () => {
    const memfd = await guest().agent.memfd(0x10000n);
    if (memfd.kind !== 'ok') throw new Error(memfd.kind);
    const map = await guest().agent.mmap(memfd.result, 0x10000n);
    if (map.kind !== 'ok' || map.result !== 0) throw new Error('mmap failed');
    const addr = map.body.readBigUInt64LE(0);
    expect((await guest().agent.memWrite(addr + 0x100n, Buffer.from('vhostcheck'))).kind).toBe('ok');
    const back = await guest().agent.memRead(addr + 0xfcn, 16);
    expect(back.kind === 'ok' && back.body.toString('hex')).toBe(`00000000${Buffer.from('vhostcheck').toString('hex')}0000`);
    const outside = await guest().agent.memRead(addr + 0xfff0n, 32);
    expect(outside.kind === 'ok' && errnoName(outside.result)).toBe('EFAULT');
    expect((await guest().agent.munmap(addr, 0x10000n)).kind).toBe('ok');
    const gone = await guest().agent.memRead(addr, 4);
    expect(gone.kind === 'ok' && errnoName(gone.result)).toBe('EFAULT');
  });

  it('signals and waits on eventfds, with a timeout', async () => {
    const efd = await guest().agent.eventfd();
    if (efd.kind !== 'ok') throw new Error(efd.kind);
    const idle = await guest().agent.eventfdWait(efd.result, 20);
    expect(idle.kind === 'ok' && errnoName(idle.result)).toBe('ETIMEDOUT');
    await guest().agent.eventfdSignal(efd.result, 3n);
    const fired = await guest().agent.eventfdWait(efd.result, 1000);
    expect(fired.kind === 'ok' && fired.body.readBigUInt64LE(0)).toBe(3n);
  });

  it('passes an ioctl argument by pointer and answers with the kernel errno (FIONREAD on an eventfd is ENOTTY)', async () => {
    const efd = await guest().agent.eventfd();
    if (efd.kind !== 'ok') throw new Error(efd.kind);
    const FIONREAD = 0x541b;
    const r = await guest().agent.ioctl(efd.result, FIONREAD, new Uint8Array(4), 4);
    expect(r.kind === 'ok' && errnoName(r.result)).toBe('ENOTTY');
  });

  it("runs the vdpa tool: both simulators' management devices are there", async () => {
    const r = await guest().agent.vdpa(['mgmtdev', 'show']);
    if (r.kind !== 'ok') throw new Error(r.kind);
    expect(r.result).toBe(0);
    expect(r.body.toString()).toMatch(/vdpasim_net/);
    expect(r.body.toString()).toMatch(/vdpasim_blk/);
    const bad = await guest().agent.vdpa(['dev', 'del', 'no-such-dev']);
    expect(bad.kind === 'ok' && bad.result).not.toBe(0);
  });

  it('runs a CONCURRENT request on its own thread: a blocked eventfd wait does not hold up the next request', async () => {
    const agent = guest().agent;
    const efd = await agent.eventfd();
    if (efd.kind !== 'ok') throw new Error(efd.kind);
    const blocked = agent.request(Op.eventfdWait, body.eventfdWait(efd.result, 10_000), 15_000, true);
    const t0 = performance.now();
    const hello = await agent.request(Op.hello, Buffer.alloc(0), 2000);
    expect(hello.kind).toBe('ok');
    expect(performance.now() - t0).toBeLessThan(2000);
    await agent.eventfdSignal(efd.result, 7n);
    const woken = await blocked;
    expect(woken.kind === 'ok' && woken.body.readBigUInt64LE(0)).toBe(7n);
  });

  it('times out a request the agent does not answer in time, and keeps working after its late answer', async () => {
    const efd = await guest().agent.eventfd();
    if (efd.kind !== 'ok') throw new Error(efd.kind);
    // The agent waits 1.5 s on the eventfd; the host gives up after 200 ms.
    const slow = await guest().agent.request(Op.eventfdWait, body.eventfdWait(efd.result, 1500), 200);
    expect(slow.kind).toBe('timeout');
    expect(guest().agent.timeouts).toBe(1);
    expect(guest().agent.stuck).toBe(true);
    const next = await guest().agent.request(Op.hello, Buffer.alloc(0), 5000);
    expect(next.kind === 'ok' && next.result).toBe(PROTOCOL_VERSION);
    expect(guest().agent.stuck).toBe(false);
  });
});

describe.skipIf(!image)('guest crash (real QEMU guest)', () => {
  const guest = sharedGuest(image);
  it('reports a kernel panic as a crash with the console excerpt, answers pending requests with it, and QEMU is gone', async () => {
    const g = guest();
    const sysrq = await g.agent.open('/proc/sysrq-trigger', GuestFlags.O_RDWR);
    if (sysrq.kind !== 'ok' || sysrq.result < 0) throw new Error('no /proc/sysrq-trigger');
    const r = await g.agent.write(sysrq.result, Buffer.from('c'));
    expect(r.kind).toBe('crash');
    if (r.kind !== 'crash') return;
    expect(r.crash.kind).toBe('kernel');
    expect(r.crash.excerpt).toMatch(/sysrq|Kernel panic/);
    expect(g.qemu.crash).toBe(r.crash);
    const later = await g.agent.request(Op.hello, Buffer.alloc(0));
    expect(later.kind).toBe('crash');
    await new Promise((res) => setTimeout(res, 200));
    expect(g.qemu.exited).toBe(true);
  });
});

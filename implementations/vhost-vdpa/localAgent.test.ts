// The host's agent process (no guest needed): it speaks the agent protocol
// over its inherited socket, reaches this host's kernel, and never outlives
// its close(). A killed agent is a crash that answers every pending request.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { release } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { errnoName, GuestFlags } from '../guest/agent.ts';
import { ForkedCall, PROTOCOL_VERSION } from '../guest/protocol.ts';
import { processAlive } from '../guest/image/build.ts';
import { LocalAgentNotBuilt, startLocalMachine } from './localAgent.ts';

type Machine = Awaited<ReturnType<typeof startLocalMachine>>;
const started: Machine[] = [];
async function start(): Promise<Machine> {
  const m = await startLocalMachine();
  started.push(m);
  return m;
}

afterEach(async () => {
  for (const m of started.splice(0)) await m.close();
});

describe('the host agent process', () => {
  it('greets with the protocol version and this host kernel', async () => {
    const { agent } = await start();
    expect(agent.hello).toBe(`vhostcheck-agent ${PROTOCOL_VERSION} ${release()}`);
    expect(agent.kernelRelease).toBe(release());
  });

  it('opens nodes with the real errno, shares a memfd mapping, and signals eventfds', async () => {
    const { agent } = await start();
    const missing = await agent.open('/dev/vhost-vdpa-4095', GuestFlags.O_RDWR);
    expect(missing.kind === 'ok' && errnoName(missing.result)).toBe('ENOENT');
    const memfd = await agent.memfd(0x1000n);
    const map = memfd.kind === 'ok' ? await agent.mmap(memfd.result, 0x1000n) : memfd;
    if (map.kind !== 'ok' || map.result !== 0) throw new Error('mmap failed');
    const addr = map.body.readBigUInt64LE(0);
    await agent.memWrite(addr + 8n, Buffer.from('vdpa'));
    const back = await agent.memRead(addr + 8n, 4);
    expect(back.kind === 'ok' && back.body.toString()).toBe('vdpa');
    const efd = await agent.eventfd(0, GuestFlags.EFD_NONBLOCK);
    if (efd.kind !== 'ok') throw new Error(efd.kind);
    await agent.eventfdSignal(efd.result, 5n);
    const fired = await agent.eventfdWait(efd.result, 1000);
    expect(fired.kind === 'ok' && fired.body.readBigUInt64LE(0)).toBe(5n);
  });

  it('runs a call in a forked child, as the guest agent does (op 18)', async () => {
    const { agent } = await start();
    const efd = await agent.eventfd();
    if (efd.kind !== 'ok') throw new Error(efd.kind);
    const w = await agent.forked(ForkedCall.write, efd.result, 0, 0n, Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]));
    expect(w.kind === 'ok' && w.result).toBe(8);
    const fired = await agent.eventfdWait(efd.result, 1000);
    expect(fired.kind === 'ok' && fired.body.readBigUInt64LE(0)).toBe(1n);
  });

  it('a killed agent is a crash: pending and later requests get it, not a hang', async () => {
    const m = await start();
    const efd = await m.agent.eventfd();
    if (efd.kind !== 'ok') throw new Error(efd.kind);
    const waiting = m.agent.eventfdWait(efd.result, 4000);
    process.kill(m.process.pid!, 'SIGKILL');
    const r = await waiting;
    expect(r.kind).toBe('crash');
    expect(r.kind === 'crash' && r.crash.summary).toMatch(/host agent ended \(SIGKILL\)/);
    expect((await m.agent.eventfd()).kind).toBe('crash');
  });

  it('close() leaves no agent process behind', async () => {
    const m = await startLocalMachine();
    const pid = m.process.pid!;
    expect(processAlive(pid)).toBe(true);
    await m.close();
    expect(processAlive(pid)).toBe(false);
  });

  it('a missing binary is one clear error', async () => {
    await expect(startLocalMachine('/nonexistent/vhostcheck-agent')).rejects.toThrow(LocalAgentNotBuilt);
    await expect(startLocalMachine('/nonexistent/vhostcheck-agent')).rejects.toThrow(/is not built: run npm ci/);
  });
});

/** Starts the fixture (a process holding a host agent), waits for the agent's pid, sends `signal` to the fixture. */
async function holdAndSignal(signal: NodeJS.Signals): Promise<number> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'holdAgent.fixture.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const pid = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /ready (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', () => reject(new Error(`the fixture ended before its agent was ready: ${out}`)));
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await exited;
  return pid;
}

describe('no host agent outlives the process that started it', () => {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGKILL'] as const) {
    it(`${signal} of the parent: the agent is gone`, async () => {
      const pid = await holdAndSignal(signal);
      // The fixture has no signal handler: each signal ends it at once, without its exit hook. The agent goes by itself:
      // PR_SET_PDEATHSIG, and end of file on its channel.
      const deadline = Date.now() + 3_000;
      while (processAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(processAlive(pid), `agent ${pid}`).toBe(false);
    }, 20_000);
  }
});

// No QEMU outlives the process that started it (issue 12 "Done when"): on
// SIGINT and SIGTERM the guests are killed before the signal's default action
// (and their temp dirs removed); on SIGKILL, which nothing can hook, the guest
// notices its agent connection close and powers itself off (init.sh).
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtGuest, withGuestLock } from './testGuest.ts';

const image = await builtGuest('guest lifecycle tests');
const FIXTURE = join(import.meta.dirname, 'holdGuest.fixture.ts');

function processesNaming(text: string): string[] {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(text);
    } catch {
      return false;
    }
  });
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/** Starts the fixture, waits for its guest, sends `signal`; returns the socket path and how the child ended. */
async function holdAndSignal(signal: NodeJS.Signals): Promise<{ socket: string; exit: { code: number | null; signal: string | null } }> {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.once('exit', (code, sig) => resolve({ code, signal: sig })));
  try {
    if (!(await until(() => /^ready /m.test(out), 90_000))) throw new Error(`the fixture's guest did not come up: ${err.slice(-500)}`);
    const socket = /^ready (\S+)/m.exec(out)![1]!;
    expect(processesNaming(socket).length).toBe(1);
    child.kill(signal);
    return { socket, exit: await exited };
  } finally {
    child.kill('SIGKILL');
  }
}

describe.skipIf(!image)('guest lifecycle (real QEMU)', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal}: the process dies of it, its QEMU and temp dir are gone at once`, () =>
      withGuestLock(async () => {
        const { socket, exit } = await holdAndSignal(signal);
        expect(exit).toEqual({ code: null, signal });
        expect(await until(() => processesNaming(socket).length === 0, 2_000)).toBe(true);
        expect(existsSync(dirname(socket))).toBe(false);
      }), 120_000);
  }

  it('SIGKILL: the guest sees its agent connection close and powers off, so QEMU still ends', () =>
    withGuestLock(async () => {
      const { socket, exit } = await holdAndSignal('SIGKILL');
      expect(exit.signal).toBe('SIGKILL');
      expect(await until(() => processesNaming(socket).length === 0, 20_000)).toBe(true);
      // Nothing in the killed process could remove its temp dir; the test does.
      rmSync(dirname(socket), { recursive: true, force: true });
    }), 120_000);
});

// DESIGN.md "Reliability rules": a Ctrl-C stops every target within a second,
// and no child process, fd or temporary file
// outlives a run, also on SIGINT, and partial results are flushed. Checked for
// every spawned back-end: a fresh qsd per session, one long-lived testpmd, and
// a virtiofsd per session.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TESTPMD_PATH } from '../implementations/vhost-user/peers/dpdk.ts';
import { peerInstalled } from '../implementations/vhost-user/peers/peerInstalled.ts';
import { QSD_PATH } from '../implementations/vhost-user/peers/qsd.ts';
import { VIRTIOFSD_PATH } from '../implementations/vhost-user/peers/virtiofsd.ts';
import { builtGuest, withGuestLock } from '../implementations/guest/testGuest.ts';

const BIN = new URL('../bin/vhostcheck.js', import.meta.url).pathname;

/**
 * Starts vhostcheck in a process group of its own, as a shell puts a foreground job, so
 * `ctrlC` reaches it and everything it started in that group, the way a terminal's Ctrl-C does.
 */
function startRun(args: readonly string[]) {
  const child = spawn(process.execPath, [BIN, 'run', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: 'true' }, detached: true });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdout.resume();
  const exited = new Promise<{ code: number | null; at: number }>((resolve) => child.once('exit', (code) => resolve({ code, at: Date.now() })));
  return {
    exited,
    stderr: () => stderr,
    ctrlC: () => process.kill(-child.pid!, 'SIGINT'),
    pid: child.pid!,
    /** Leaves nothing running when an assertion failed first. */
    cleanUp: () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // ESRCH: it ended as it should.
      }
    },
  };
}

interface IndexJson {
  readonly interrupted: boolean;
  readonly results: readonly { readonly id: string; readonly verdict: string; readonly detail?: string; readonly unexpected: boolean }[];
}

describe('Ctrl-C during a run against the simulated target', () => {
  it('exits 130 within 1.5 s with partial reports marked interrupted', async () => {
    const out = await mkdtemp(join(tmpdir(), 'vhostcheck-sigint-'));
    let run: ReturnType<typeof startRun> | undefined;
    try {
      // 3000 runs per property take minutes: only the interrupt can end this run in time. The
      // split-ring suite never waits on a timer, so its handler runs only if the engine yields.
      run = startRun(['virtio.split', '--runs', '3000', '--report-dir', out, '--regression-dir', join(out, 'regs')]);
      await new Promise((r) => setTimeout(r, 2000));
      const sentAt = Date.now();
      run.ctrlC();
      const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 1500).unref());
      const ended = await Promise.race([run.exited, timer]);
      expect(ended, 'still running 1.5 s after SIGINT').not.toBe('timeout');
      const { code, at } = ended as { code: number | null; at: number };
      expect(code, run.stderr()).toBe(130);
      expect(at - sentAt).toBeLessThan(1500);
      const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')) as IndexJson;
      expect(index.interrupted).toBe(true);
    } finally {
      run?.cleanUp();
      await rm(out, { recursive: true, force: true });
    }
  }, 30_000);
});

const PEERS = [
  { peer: 'qsd-blk', installed: peerInstalled(QSD_PATH, 'qemu-system-common', 'Ctrl-C test against qsd'), prefix: 'vhostcheck-qsd-' },
  { peer: 'dpdk-net', installed: peerInstalled(TESTPMD_PATH, 'dpdk-dev', 'Ctrl-C test against testpmd'), prefix: 'vhostcheck-dpdk-' },
  { peer: 'virtiofsd', installed: peerInstalled(VIRTIOFSD_PATH, 'qemu-system-common', 'Ctrl-C test against virtiofsd'), prefix: 'vhostcheck-virtiofsd-' },
] as const;

/**
 * Back-ends started by the run whose pid is `parent`: their pids and the temp dirs their command
 * lines name. Other processes on the machine (another test run's back-ends) are not counted.
 */
function startedBy(parent: number, prefix: string): { pid: string; dirs: string[] }[] {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).flatMap((p) => {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (ppid !== parent || !cmd.includes(prefix)) return [];
      return [{ pid: p, dirs: [...new Set(cmd.match(new RegExp(`${tmpdir()}/${prefix}[A-Za-z0-9]+`, 'g')) ?? [])] }];
    } catch {
      return [];
    }
  });
}

describe('Ctrl-C (to the whole process group) during a run against a spawned back-end', () => {
  for (const { peer, installed, prefix } of PEERS) {
    it.skipIf(!installed)(`${peer}: exits 130, writes partial reports, and leaves no back-end process or temp dir behind`, async () => {
      const out = await mkdtemp(join(tmpdir(), 'vhostcheck-sigint-'));
      let run: ReturnType<typeof startRun> | undefined;
      try {
        run = startRun(['--target', `vhost-user:spawn=${peer}`, '--seed', '1', '--runs', '1000', '--report-dir', out, '--regression-dir', join(out, 'regs')]);
        // Note every back-end the run starts (qsd: one per session) until it is interrupted mid-run.
        const seen = new Map<string, string[]>();
        const note = () => {
          for (const p of startedBy(run!.pid, prefix)) seen.set(p.pid, p.dirs);
        };
        const deadline = Date.now() + 20_000;
        while (seen.size === 0 && Date.now() < deadline) {
          note();
          await new Promise((r) => setTimeout(r, 20));
        }
        expect(seen.size, `no ${peer} process appeared`).toBeGreaterThan(0);
        for (const until = Date.now() + 1500; Date.now() < until; await new Promise((r) => setTimeout(r, 20))) note();
        // The whole group, as a terminal does: the back-end must not receive it and die mid-case.
        run.ctrlC();
        note();
        const { code } = await run.exited;
        expect(code, run.stderr()).toBe(130);
        expect(existsSync(join(out, 'index.json')), run.stderr()).toBe(true);
        const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')) as IndexJson;
        expect(index.interrupted).toBe(true);
        // virtiofsd's listed crashes are real; one the expectations file does not list came from the interrupt.
        expect(index.results.filter((r) => r.verdict === 'CRASH' && r.unexpected), 'a CRASH caused by the interrupt').toEqual([]);
        expect(existsSync(join(out, 'junit.xml'))).toBe(true);
        // Give the kernel a moment to reap what the run stopped.
        await new Promise((r) => setTimeout(r, 300));
        const alive = [...seen.keys()].filter((pid) => existsSync(`/proc/${pid}`) && !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8')));
        expect(alive, 'back-ends left running').toEqual([]);
        expect([...seen.values()].flat().filter((d) => existsSync(d)), 'temp dirs left behind').toEqual([]);
      } finally {
        run?.cleanUp();
        await rm(out, { recursive: true, force: true });
      }
    }, 60_000);
  }
});

const guestImage = await builtGuest('Ctrl-C test against a guest: target');

describe.skipIf(!guestImage)('Ctrl-C (to the whole process group) during a run against a guest: target', () => {
  it('exits 130, writes partial reports, and leaves no QEMU behind', () =>
    withGuestLock(async () => {
      const out = await mkdtemp(join(tmpdir(), 'vhostcheck-sigint-'));
      let run: ReturnType<typeof startRun> | undefined;
      try {
        run = startRun(['--target', 'guest:vhost-net', '--seed', '1', '--runs', '1000', '--report-dir', out, '--regression-dir', join(out, 'regs')]);
        // Wait until the guest is up and a suite is running, then note QEMU's pid.
        const deadline = Date.now() + 60_000;
        while (!/vhost-control|vhost-iotlb/.test(run.stderr()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        const seen = startedBy(run.pid, 'qemu-system').map((p) => p.pid);
        expect(seen.length, `no QEMU appeared: ${run.stderr()}`).toBeGreaterThan(0);
        run.ctrlC();
        const { code } = await run.exited;
        expect(code, run.stderr()).toBe(130);
        const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')) as IndexJson;
        expect(index.interrupted).toBe(true);
        await new Promise((r) => setTimeout(r, 300));
        const alive = seen.filter((pid) => existsSync(`/proc/${pid}`) && !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8')));
        expect(alive, 'QEMU left running').toEqual([]);
      } finally {
        run?.cleanUp();
        await rm(out, { recursive: true, force: true });
      }
    }), 120_000);
});


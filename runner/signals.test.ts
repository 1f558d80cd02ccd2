// DESIGN.md "Reliability rules": no child process, fd or temporary file
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

const BIN = new URL('../bin/vhostcheck.js', import.meta.url).pathname;

const PEERS = [
  { peer: 'qsd-blk', installed: peerInstalled(QSD_PATH, 'qemu-system-common', 'Ctrl-C test against qsd'), prefix: 'vhostcheck-qsd-' },
  { peer: 'dpdk-net', installed: peerInstalled(TESTPMD_PATH, 'dpdk-dev', 'Ctrl-C test against testpmd'), prefix: 'vhostcheck-dpdk-' },
  { peer: 'virtiofsd', installed: peerInstalled(VIRTIOFSD_PATH, 'qemu-system-common', 'Ctrl-C test against virtiofsd'), prefix: 'vhostcheck-virtiofsd-' },
] as const;

/** Processes whose command line names one of our temp dirs with this prefix. */
function peerProcesses(prefix: string): string[] {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).flatMap((p) => {
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      return cmd.includes(prefix) ? [p] : [];
    } catch {
      return [];
    }
  });
}

const peerTempDirs = (prefix: string) => readdirSync(tmpdir()).filter((d) => d.startsWith(prefix));

describe('Ctrl-C during a run against a spawned back-end', () => {
  for (const { peer, installed, prefix } of PEERS) {
    it.skipIf(!installed)(`${peer}: exits 130, writes partial reports, and leaves no back-end process or temp dir behind`, async () => {
      const before = { procs: peerProcesses(prefix).length, dirs: peerTempDirs(prefix).length };
      const out = await mkdtemp(join(tmpdir(), 'vhostcheck-sigint-'));
      try {
        const child = spawn(process.execPath, [BIN, 'run', '--target', `vhost-user:spawn=${peer}`, '--seed', '1', '--runs', '1000', '--report-dir', out, '--regression-dir', join(out, 'regs')], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: 'true' } });
        let stderr = '';
        child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
        // Wait until a back-end is running, then interrupt mid-run.
        const deadline = Date.now() + 20_000;
        while (peerProcesses(prefix).length === before.procs && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        expect(peerProcesses(prefix).length, `no ${peer} process appeared`).toBeGreaterThan(before.procs);
        await new Promise((r) => setTimeout(r, 1500));
        child.kill('SIGINT');
        const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
        expect(code, stderr).toBe(130);
        const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')) as { interrupted: boolean };
        expect(index.interrupted).toBe(true);
        expect(existsSync(join(out, 'junit.xml'))).toBe(true);
        // Give the kernel a moment to reap what the run stopped.
        await new Promise((r) => setTimeout(r, 300));
        expect(peerProcesses(prefix).length).toBe(before.procs);
        expect(peerTempDirs(prefix).length).toBe(before.dirs);
      } finally {
        await rm(out, { recursive: true, force: true });
      }
    }, 60_000);
  }
});

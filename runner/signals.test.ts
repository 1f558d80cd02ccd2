// DESIGN.md "Reliability rules": no child process, fd or temporary file
// outlives a run, also on SIGINT, and partial results are flushed.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const QSD = '/usr/bin/qemu-storage-daemon';
const BIN = new URL('../bin/vhostcheck.js', import.meta.url).pathname;

/** Processes whose command line names one of our qsd temp dirs. */
function qsdProcesses(): string[] {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).flatMap((p) => {
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      return cmd.includes('vhostcheck-qsd-') ? [p] : [];
    } catch {
      return [];
    }
  });
}

const qsdTempDirs = () => readdirSync(tmpdir()).filter((d) => d.startsWith('vhostcheck-qsd-'));

describe.skipIf(!existsSync(QSD))('Ctrl-C during a run against a spawned back-end', () => {
  it('exits 130, writes partial reports, and leaves no daemon or temp dir behind', async () => {
    const before = { procs: qsdProcesses().length, dirs: qsdTempDirs().length };
    const out = await mkdtemp(join(tmpdir(), 'vhostcheck-sigint-'));
    try {
      const child = spawn(process.execPath, [BIN, 'run', '--target', 'vhost-user:spawn=qsd-blk', '--seed', '1', '--runs', '1000', '--report-dir', out, '--regression-dir', join(out, 'regs')], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: 'true' } });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      // Wait until daemons are being started, then interrupt mid-run.
      const deadline = Date.now() + 20_000;
      while (qsdProcesses().length === before.procs && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 1500));
      child.kill('SIGINT');
      const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
      expect(code, stderr).toBe(130);
      const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')) as { interrupted: boolean };
      expect(index.interrupted).toBe(true);
      expect(existsSync(join(out, 'junit.xml'))).toBe(true);
      // Give the kernel a moment to reap what the run stopped.
      await new Promise((r) => setTimeout(r, 300));
      expect(qsdProcesses().length).toBe(before.procs);
      expect(qsdTempDirs().length).toBe(before.dirs);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  }, 60_000);
});

// Hostrun mode against the real guest (skipped with a reason when it is not
// built): a script from this host runs chrooted into this host's root inside
// the guest, next to a vdpa_sim device, with this host's node; its status, its
// output and the files it writes come back, and no QEMU outlives a run.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type GuestImage, processAlive } from './image/build.ts';
import { type HostRunOptions, type HostRunResult, runOnGuestAsHost } from './hostRun.ts';
import { builtGuest, withGuestLock } from './testGuest.ts';

const image = await builtGuest('guest hostrun tests');
const TEST_MS = 150_000;

/** Runs one hostrun under the one-QEMU lock; the work dir is read by `inspect`, then removed. */
async function hostRun(opts: Omit<HostRunOptions, 'image'>, inspect: (r: HostRunResult) => void): Promise<void> {
  const r = await withGuestLock(() => runOnGuestAsHost({ image: image!, ...opts }));
  try {
    inspect(r);
  } finally {
    rmSync(r.workDir, { recursive: true, force: true });
  }
}

/** Processes running now whose command line names `path` (QEMU's names this run's work dir in its -virtfs). */
function processesNaming(path: string): number[] {
  return readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(Number).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes(path) && processAlive(pid);
    } catch {
      return false;
    }
  });
}

describe('hostrun: bad input', () => {
  it('is refused in one line before anything boots', async () => {
    const noImage = {} as GuestImage;
    await expect(runOnGuestAsHost({ image: noImage, deviceType: 'scsi' as 'net', script: '', timeoutMs: 60_000 })).rejects.toThrow("hostrun device type 'scsi': net or blk");
    await expect(runOnGuestAsHost({ image: noImage, deviceType: 'net', script: '', timeoutMs: 10 })).rejects.toThrow('hostrun timeout 10 ms: give at least 1000');
  });
});

describe.skipIf(!image)('hostrun: a host script inside the guest, against its vdpa_sim device (real guest)', () => {
  it("runs this host's node next to /dev/vhost-vdpa-0 and hands back status 0, output and files; host paths mean the same files, /tmp included", async () => {
    const lines: string[] = [];
    // A host file under /tmp, outside the work dir: a checkout there must be visible inside too.
    const elsewhere = mkdtempSync(join(tmpdir(), 'vhostcheck-hostrun-elsewhere-'));
    writeFileSync(join(elsewhere, 'marker'), 'seen');
    const script = [
      'set -e',
      'test -c /dev/vhost-vdpa-0',
      `cd ${JSON.stringify(process.cwd())}`,
      `${JSON.stringify(process.execPath)} -e 'require("fs").writeFileSync(require("path").join(require("os").tmpdir(), "out.txt"), "node " + process.version + " in " + process.cwd())'`,
      `cp ${JSON.stringify(join(elsewhere, 'marker'))} "$TMPDIR/marker"`,
      'echo script done',
    ].join('\n');
    await hostRun({ deviceType: 'net', script, timeoutMs: 120_000, onLine: (l) => lines.push(l) }, (r) => {
      rmSync(elsewhere, { recursive: true, force: true });
      expect(r.crash).toBeUndefined();
      expect(r.timedOut).toBe(false);
      expect(r.status).toBe(0);
      expect(readFileSync(join(r.workDir, 'out.txt'), 'utf8')).toBe(`node ${process.version} in ${process.cwd()}`);
      expect(readFileSync(join(r.workDir, 'marker'), 'utf8')).toBe('seen');
      expect(lines).toEqual(['script done']);
      expect(r.bootMs).toBeGreaterThan(0);
      expect(r.scriptMs).toBeGreaterThan(0);
      // The script's output stays off the console, where crashes are read.
      expect(r.console).not.toMatch(/script done/);
    });
  }, TEST_MS);

  it("reports a script's non-zero status as such (blk device)", async () => {
    const script = 'test -c /dev/vhost-vdpa-0 || exit 3\necho failing on purpose >&2\nexit 7\n';
    await hostRun({ deviceType: 'blk', script, timeoutMs: 60_000 }, (r) => {
      expect(r.crash).toBeUndefined();
      expect(r.status).toBe(7);
      expect(readFileSync(join(r.workDir, 'run.log'), 'utf8')).toBe('failing on purpose\n');
    });
  }, TEST_MS);

  it('a guest kernel panic during the script is a crash, not a status', async () => {
    await hostRun({ deviceType: 'net', script: 'echo c > /proc/sysrq-trigger\nsleep 60\n', timeoutMs: 60_000 }, (r) => {
      expect(r.status).toBeNull();
      expect(r.timedOut).toBe(false);
      expect(r.crash?.kind).toBe('kernel');
      expect(r.crash?.excerpt).toMatch(/sysrq|Kernel panic/);
    });
  }, TEST_MS);

  it('past its timeout, QEMU is killed and the run says so', async () => {
    let pid: number | undefined;
    await hostRun({ deviceType: 'net', script: 'sleep 600\n', timeoutMs: 1_000 }, (r) => {
      expect(r.timedOut).toBe(true);
      expect(r.status).toBeNull();
      expect(r.crash).toBeUndefined();
      expect(existsSync(join(r.workDir, 'run.sh'))).toBe(true);
      pid = processesNaming(r.workDir)[0];
    });
    expect(pid).toBeUndefined();
  }, TEST_MS);
});

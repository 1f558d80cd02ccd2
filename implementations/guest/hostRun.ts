// Runs a shell script on this host's own files inside the QEMU guest, next to a
// vdpa_sim device (init.sh "hostrun mode"): how the `vhost-vdpa:/dev/vhost-vdpa-N`
// host target, which needs a machine with a vDPA device node, is tested on a
// machine without one. The guest mounts this host's root read-only at its / (in a
// chroot) and a fresh work dir of this host writable at the work dir's own path, so
// the script sees every file (the checkout, node, node_modules) at its host path, and
// what it writes to $TMPDIR (outputs, node's and tsx's temp files) lands in the work
// dir, whose path it also gets as $TMPDIR and $HOME.
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { GuestImage } from './image/build.ts';
import { type GuestCrash, QemuGuest } from './qemu.ts';

/** What init.sh prints when the script ended; the number is its exit status. */
const EXITED = /vhostcheck-init: hostrun exited with status (\d+)/;
/** What init.sh prints when the script could not be started (a mount or the vdpa device failed). */
const NOT_STARTED = /vhostcheck-init: hostrun could not start: ([^\r\n]*)/;
/** What init.sh prints just before it runs the script: boot time ends here. */
const STARTING = /vhostcheck-init: hostrun starting/;
/** node with tsx needs about 1 GiB under TCG; the agent's 256 MiB default is far too small. */
const MEMORY_MB = 1536;
/** How often the script's output file is read for new lines. */
const LOG_POLL_MS = 200;

export interface HostRunOptions {
  readonly image: GuestImage;
  /** The vdpa_sim device added before the script runs: it is /dev/vhost-vdpa-0 inside. */
  readonly deviceType: 'net' | 'blk';
  /** The script, run by /bin/sh as root with cwd / (run.sh in the work dir); $TMPDIR is the work dir. */
  readonly script: string;
  /** For the whole run, boot included; QEMU is killed when it passes. */
  readonly timeoutMs: number;
  /** Each line of the script's output (stdout and stderr), as it comes. */
  readonly onLine?: (line: string) => void;
}

export interface HostRunResult {
  /** The script's exit status; null when it did not end by itself (timeout or crash). */
  readonly status: number | null;
  readonly timedOut: boolean;
  /** Set when the guest kernel crashed or QEMU ended without init's last line. */
  readonly crash?: GuestCrash;
  /** The guest's console (the kernel's and init's lines; the script's output is in run.log). */
  readonly console: string;
  /** The work dir: run.sh, run.log and whatever the script wrote to $TMPDIR. The caller removes it. */
  readonly workDir: string;
  /** QEMU start to the script's start, and the script's own run, in ms (null when it did not get that far). */
  readonly bootMs: number | null;
  readonly scriptMs: number | null;
}

/** Boots a guest in hostrun mode for `opts.script` and waits for it to end; QEMU never outlives this call. */
export async function runOnGuestAsHost(opts: HostRunOptions): Promise<HostRunResult> {
  if (!['net', 'blk'].includes(opts.deviceType)) throw new Error(`hostrun device type '${String(opts.deviceType)}': net or blk`);
  if (!Number.isFinite(opts.timeoutMs) || opts.timeoutMs < 1000) throw new Error(`hostrun timeout ${opts.timeoutMs} ms: give at least 1000`);
  const workDir = mkdtempSync(join(tmpdir(), 'vhostcheck-hostrun-'));
  // The path is a kernel command-line word (init.sh) and a QEMU -virtfs option value.
  if (/[\s,=]/.test(workDir)) {
    rmSync(workDir, { recursive: true, force: true });
    throw new Error(`hostrun work dir ${workDir}: a path without blanks, ',' or '=' is needed (set TMPDIR)`);
  }
  writeFileSync(join(workDir, 'run.sh'), opts.script);
  writeFileSync(join(workDir, 'run.log'), '');
  let qemu: QemuGuest;
  try {
    qemu = await QemuGuest.start({
      image: opts.image,
      memoryMb: MEMORY_MB,
      // The guest bounds the script by the same time, so a guest whose host was SIGKILLed still powers off.
      append: [`vhostcheck.hostrun=${opts.deviceType}`, `vhostcheck.hostrun_timeout=${Math.ceil(opts.timeoutMs / 1000)}`, `vhostcheck.hostrun_work=${workDir}`],
      shares: [
        { tag: 'hostroot', path: '/', readonly: true },
        { tag: 'work', path: workDir, readonly: false },
      ],
      endLine: new RegExp(`${EXITED.source}|${NOT_STARTED.source}`),
    });
  } catch (e) {
    rmSync(workDir, { recursive: true, force: true });
    throw e;
  }
  const log = opts.onLine ? followLines(join(workDir, 'run.log'), opts.onLine) : undefined;
  let startedAt: number | undefined;
  const watchStart = setInterval(() => {
    if (startedAt === undefined && STARTING.test(qemu.console)) startedAt = performance.now();
  }, 50);
  let timedOut: boolean;
  try {
    timedOut = !(await qemu.waitForExit(opts.timeoutMs));
  } finally {
    clearInterval(watchStart);
    await qemu.close();
    log?.stop();
  }
  const endedAt = performance.now();
  const consoleText = qemu.console;
  if (startedAt === undefined && STARTING.test(consoleText)) startedAt = endedAt;
  const notStarted = NOT_STARTED.exec(consoleText);
  if (notStarted && !qemu.crash) {
    rmSync(workDir, { recursive: true, force: true });
    throw new Error(`hostrun (${opts.deviceType}) could not start its script: ${notStarted[1]}`);
  }
  const exited = EXITED.exec(consoleText);
  return {
    status: exited && !timedOut ? Number(exited[1]) : null,
    timedOut,
    ...(qemu.crash ? { crash: qemu.crash } : {}),
    console: consoleText,
    workDir,
    bootMs: startedAt === undefined ? null : Math.round(startedAt - qemu.startedAt),
    scriptMs: startedAt === undefined || !exited ? null : Math.round(endedAt - startedAt),
  };
}

/** Calls `onLine` for each complete line appended to `file` (polled), and for the rest on stop(). */
function followLines(file: string, onLine: (line: string) => void): { stop(): void } {
  const fd = openSync(file, 'r');
  const decoder = new StringDecoder('utf8');
  const chunk = Buffer.alloc(64 * 1024);
  let partial = '';
  const poll = () => {
    for (let n; (n = readSync(fd, chunk, 0, chunk.length, null)) > 0; ) {
      const lines = (partial + decoder.write(chunk.subarray(0, n))).split('\n');
      partial = lines.pop()!;
      for (const l of lines) onLine(l);
    }
  };
  const timer = setInterval(poll, LOG_POLL_MS);
  return {
    stop() {
      clearInterval(timer);
      poll();
      const rest = partial + decoder.end();
      if (rest) onLine(rest);
      closeSync(fd);
    },
  };
}

// One QEMU guest (DESIGN.md "Kernel targets"): the kernel the guest builder
// extracted, booted directly (the vmlinux ELF has a PVH entry note) under TCG,
// its console on the serial port read for crashes, its agent reachable over a
// virtio-serial port backed by a UNIX socket in a private temp dir.
//
// No QEMU outlives a run: QEMU gets its own process group, which close()
// kills with SIGKILL; a process 'exit' hook kills whatever is left, and on
// SIGINT/SIGTERM with nobody else listening the guests are killed before the
// signal's default action. A guest whose host end of the socket goes away
// powers itself off (init.sh), the last line of defence.
//
// A guest panic is not an exit status: with `panic=-1 -no-reboot` the kernel
// reboots at once and QEMU exits with status 0. So a crash is recognised from
// the console text (the kernel's "Kernel panic", "Oops", "BUG:" lines) and
// from any exit that close() did not ask for — except one after the line init
// prints when it powers off on purpose (QemuOptions.endLine: hostrun mode).
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AgentHost, CrashLatch, tailLines } from './agent.ts';
import type { GuestImage } from './image/build.ts';

export const QEMU_BINARY = 'qemu-system-x86_64';

/** Whether QEMU can be started from this PATH (Debian package qemu-system-x86). */
export function qemuInstalled(): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => d && existsSync(join(d, QEMU_BINARY)));
}

/** The port the agent opens (agent.c PORT_NAME). */
const PORT_NAME = 'vhostcheck.0';
const CONSOLE_LIMIT = 64 * 1024;
const EXCERPT_LINES = 40;
/** How long after a panic line the rest of the report is awaited (QEMU usually exits first). */
const CRASH_SETTLE_MS = 300;

/** Console lines the kernel prints when it oopses or panics (lib/bug.c, kernel/panic.c, arch/x86/kernel/dumpstack.c). */
const KERNEL_CRASH = /Kernel panic|Oops|BUG:|general protection fault|kernel BUG at/;
/** What init.sh prints when the agent itself ended. */
const AGENT_EXIT = /vhostcheck-init: agent exited/;

export interface GuestCrash {
  /** `kernel` (panic or oops on the console), `agent` (the agent exited) or `exit` (QEMU ended unasked). */
  readonly kind: 'kernel' | 'agent' | 'exit';
  /** One line for a verdict's detail. */
  readonly summary: string;
  /** The console lines around the crash. */
  readonly excerpt: string;
}

export interface QemuOptions {
  readonly image: GuestImage;
  /** Guest RAM; vdpa_sim_blk's disks are small in this build, so 96 MiB is enough (default 256). */
  readonly memoryMb?: number;
  /** Extra kernel command-line words, e.g. `vdpa_sim.use_va=0` (init.sh hands MODULE.PARAM=VALUE to insmod). */
  readonly append?: readonly string[];
  /** Host directories the guest may mount with `mount -t 9p -o trans=virtio TAG DIR`. */
  readonly shares?: readonly HostShare[];
  /**
   * A console line init prints when it powers the guest off on purpose: QEMU's exit after
   * it is the guest's end, not a crash (a kernel oops or panic still is).
   */
  readonly endLine?: RegExp;
}

export interface HostShare {
  /** The 9p mount tag the guest names. */
  readonly tag: string;
  /** The host directory. */
  readonly path: string;
  readonly readonly: boolean;
}

/**
 * QEMU's -virtfs for one share. security_model=none: files are reached with QEMU's own
 * credentials, no ownership mapping; multidevs=remap: a share spanning several host
 * file systems (the whole root) gets inode numbers that do not collide in the guest.
 */
export function virtfsArg(share: HostShare): string {
  if (/[,=]/.test(share.tag) || share.path.includes(',')) throw new Error(`9p share ${share.tag}=${share.path}: a ',' or '=' cannot pass through QEMU's -virtfs`);
  return `local,path=${share.path},mount_tag=${share.tag},security_model=none,multidevs=remap${share.readonly ? ',readonly=on' : ''}`;
}

/** Every guest not yet closed, for the exit and signal hooks. */
const live = new Set<QemuGuest>();
let hooksInstalled = false;

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    for (const g of live) g.killNow();
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, function onSignal() {
      // Someone else (the CLI) handles the signal: it stops the run, disposes the guests (so in-flight
      // requests are not mistaken for a crash) and exits, and the 'exit' hook catches any left over.
      if (process.listenerCount(sig) > 1) return;
      for (const g of live) g.killNow();
      process.off(sig, onSignal);
      process.kill(process.pid, sig);
    });
  }
}

export class QemuGuest implements AgentHost {
  readonly socketPath: string;
  readonly startedAt: number;
  readonly #child: ChildProcess;
  /** QEMU's process id (also its process group's), so a test can check that nothing outlived a run. */
  get pid(): number | undefined {
    return this.#child.pid;
  }
  readonly #dir: string;
  #console = '';
  readonly #crashes = new CrashLatch();
  #crashTimer: NodeJS.Timeout | undefined;
  #closing = false;
  #ended = false;
  readonly #endLine: RegExp | undefined;
  #exitStatus: { readonly code: number | null; readonly signal: string | null } | undefined;
  readonly #exited: Promise<void>;

  private constructor(opts: QemuOptions) {
    const virtfs = (opts.shares ?? []).flatMap((share) => ['-virtfs', virtfsArg(share)]);
    this.#dir = mkdtempSync(join(tmpdir(), 'vhostcheck-guest-'));
    this.socketPath = join(this.#dir, 'agent.sock');
    this.#endLine = opts.endLine;
    const append = ['console=ttyS0', 'quiet', 'panic=-1', 'oops=panic', ...(opts.append ?? [])].join(' ');
    // -accel tcg -cpu max: /dev/kvm exists on these machines but is not usable for a guest (issue 12).
    const args = [
      '-accel', 'tcg', '-cpu', 'max', '-m', String(opts.memoryMb ?? 256), '-smp', '1',
      '-nodefaults', '-no-reboot', '-display', 'none', '-serial', 'stdio',
      '-kernel', opts.image.vmlinux, '-initrd', opts.image.initramfs, '-append', append,
      '-device', 'virtio-serial-pci',
      '-chardev', `socket,id=ctl,path=${this.socketPath},server=on,wait=off`,
      '-device', `virtserialport,chardev=ctl,name=${PORT_NAME}`,
      ...virtfs,
    ];
    installHooks();
    this.startedAt = performance.now();
    // detached: its own process group (setsid), so a kill reaches everything QEMU started too.
    this.#child = spawn(QEMU_BINARY, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(this);
    const keep = (chunk: Buffer) => this.#onConsole(chunk.toString('latin1'));
    this.#child.stdout!.on('data', keep);
    this.#child.stderr!.on('data', keep);
    this.#exited = new Promise((resolve) => {
      const done = (what: string) => {
        if (!this.#closing && !this.#ended) this.#declareCrash(what);
        resolve();
      };
      // 'close', not 'exit': by then the console pipes are drained, so an end line or a
      // panic printed just before QEMU exited has been read.
      this.#child.once('close', (code, signal) => {
        this.#exitStatus = { code, signal };
        done(`QEMU exited (${signal ?? `status ${code}`})`);
      });
      this.#child.once('error', (e) => done(`QEMU could not run: ${e.message}`));
    });
  }

  /** Starts QEMU and waits (bounded) for it to create the agent's socket. */
  static async start(opts: QemuOptions, socketTimeoutMs = 10_000): Promise<QemuGuest> {
    const g = new QemuGuest(opts);
    const deadline = Date.now() + socketTimeoutMs;
    while (!existsSync(g.socketPath)) {
      if (g.crash || Date.now() >= deadline) {
        const why = g.crash?.summary ?? `QEMU did not create its socket within ${socketTimeoutMs} ms`;
        await g.close();
        throw new Error(`${why}: ${g.consoleTail(5)}`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    return g;
  }

  get crash(): GuestCrash | undefined {
    return this.#crashes.crash;
  }

  /**
   * Connects to the agent's virtio-serial port. QEMU binds the socket before it listens: a refused
   * connection right after the file appears is retried briefly.
   */
  async connectChannel(withinMs = 3_000): Promise<Socket> {
    const deadline = Date.now() + withinMs;
    for (;;) {
      try {
        return await new Promise<Socket>((resolve, reject) => {
          const s = connect(this.socketPath);
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ECONNREFUSED' || Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  get exited(): boolean {
    return this.#child.exitCode !== null || this.#child.signalCode !== null;
  }

  /** How QEMU ended (status 0 after a guest panic, SIGKILL when this side killed a crashed guest), once it has. */
  get exitStatus(): { readonly code: number | null; readonly signal: string | null } | undefined {
    return this.#exitStatus;
  }

  /** Calls `fn` once when the guest crashes (at once when it already has). */
  onCrash(fn: (c: GuestCrash) => void): void {
    this.#crashes.onCrash(fn);
  }

  /** Waits (bounded) for QEMU to exit by itself; whether it did. */
  async waitForExit(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    try {
      return await Promise.race([this.#exited.then(() => true as const), timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The console so far (its last 64 KiB). */
  get console(): string {
    return this.#console;
  }

  /** The last `lines` console lines, joined with ' | ' for a one-line message. */
  consoleTail(lines: number): string {
    return tailLines(this.#console, lines);
  }

  #onConsole(text: string): void {
    this.#console = (this.#console + text).slice(-CONSOLE_LIMIT);
    if (!this.#ended && this.#endLine?.test(this.#console)) this.#ended = true;
    if (this.crash || this.#crashTimer || this.#closing) return;
    if (KERNEL_CRASH.test(this.#console) || AGENT_EXIT.test(this.#console)) {
      this.#crashTimer = setTimeout(() => this.#declareCrash('console'), CRASH_SETTLE_MS);
      this.#crashTimer.unref();
    }
  }

  #declareCrash(exitNote: string): void {
    if (this.crash) return;
    clearTimeout(this.#crashTimer);
    this.#crashes.declare(classifyCrash(this.#console, exitNote));
    // A panicking guest sometimes hangs instead of exiting: it is of no further use.
    killGroup(this.#child);
  }

  /** Kills QEMU's process group, waits for it, removes the temp dir. Idempotent. */
  async close(): Promise<void> {
    this.killNow();
    await this.#exited;
  }

  /** The synchronous part of close(), for the exit and signal hooks, which cannot wait. */
  killNow(): void {
    this.#closing = true;
    live.delete(this);
    clearTimeout(this.#crashTimer);
    killGroup(this.#child);
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** What a guest's console says about how it died (pure, for the tests). */
export function classifyCrash(consoleText: string, exitNote: string): GuestCrash {
  const lines = consoleText.split('\n').map((l) => l.replace(/\r$/, ''));
  const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
  const kernelAt = at(KERNEL_CRASH);
  if (kernelAt >= 0) {
    const excerpt = lines.slice(kernelAt, kernelAt + EXCERPT_LINES).join('\n');
    return { kind: 'kernel', summary: `guest kernel crashed: ${lines[kernelAt]!.replace(/^\[\s*[\d.]+\]\s*/, '').trim()}`, excerpt };
  }
  const agentAt = at(AGENT_EXIT);
  if (agentAt >= 0) {
    return { kind: 'agent', summary: `guest agent ended: ${lines[agentAt]!.trim()}`, excerpt: lines.slice(Math.max(0, agentAt - 10), agentAt + 1).join('\n') };
  }
  return { kind: 'exit', summary: `guest ended unexpectedly: ${exitNote}`, excerpt: lines.filter(Boolean).slice(-EXCERPT_LINES / 2).join('\n') };
}

// QEMU's virtiofsd as a vhost-user-fs back-end (DESIGN.md "implementations/":
// `peers/` starts and stops real third-party back-ends). Unlike
// qemu-storage-daemon, virtiofsd serves exactly one front-end and exits when
// it hangs up, so every session gets a fresh process on the same socket path
// and shared directory. Queues: 0 is hiprio, 1 the first request queue.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Health } from '../../target.ts';
import { VhostUserTarget } from '../frontEnd.ts';

export const VIRTIOFSD_PATH = '/usr/lib/qemu/virtiofsd';
const LOG_LIMIT = 64 * 1024;
// virtiofsd exits by itself within milliseconds of the front-end hanging up;
// only a process still there after this is signalled, so health() normally
// shows the daemon's own exit status rather than our SIGTERM.
const SELF_EXIT_MS = 500;

export interface VirtiofsdOptions {
  readonly binary?: string;
  /** Bound on waiting for each process's socket to appear (default 5000 ms). */
  readonly startTimeoutMs?: number;
  /** Grace between SIGTERM and SIGKILL (default 2000 ms). */
  readonly stopTimeoutMs?: number;
  readonly replyTimeoutMs?: number;
}

type Exit = { code: number | null; signal: string | null };

/** One virtiofsd process; it serves at most one session. */
class FsProcess {
  readonly child: ChildProcess;
  exit: Exit | undefined;
  readonly exited: Promise<void>;
  used = false;

  constructor(child: ChildProcess, keep: (chunk: Buffer) => void, onSpawnError: (e: Error) => void) {
    this.child = child;
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve();
      });
      child.once('error', (e) => {
        onSpawnError(e);
        this.exit ??= { code: null, signal: null };
        resolve();
      });
    });
  }

  health(): Health {
    return this.exit ? { state: 'exited', ...this.exit } : { state: 'alive' };
  }

  /** Waits up to `selfExitMs` for a voluntary exit, then SIGTERM, then SIGKILL after `graceMs`. */
  async stop(selfExitMs: number, graceMs: number): Promise<void> {
    const within = (ms: number) =>
      Promise.race([this.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref())]);
    if (this.exit || (await within(selfExitMs))) return;
    this.child.kill('SIGTERM');
    if (await within(graceMs)) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

export class VirtiofsdDaemon {
  readonly socketPath: string;
  /** The directory the daemon exports (empty at start). */
  readonly sharedDir: string;
  readonly version: string;
  readonly #dir: string;
  readonly #binary: string;
  readonly #opts: VirtiofsdOptions;
  #log = '';
  #proc: FsProcess | undefined;
  #session: VhostUserTarget | undefined;
  #stopped = false;

  private constructor(dir: string, binary: string, version: string, opts: VirtiofsdOptions) {
    this.#dir = dir;
    this.socketPath = join(dir, 'vhost-user-fs.sock');
    this.sharedDir = join(dir, 'share');
    this.#binary = binary;
    this.version = version;
    this.#opts = opts;
  }

  /** Starts the first process and waits (bounded) for its socket. Throws, with the daemon's log, if it does not come up. */
  static async start(opts: VirtiofsdOptions = {}): Promise<VirtiofsdDaemon> {
    const binary = opts.binary ?? VIRTIOFSD_PATH;
    const dir = mkdtempSync(join(tmpdir(), 'vhostcheck-virtiofsd-'));
    const d = new VirtiofsdDaemon(dir, binary, await virtiofsdVersion(binary), opts);
    mkdirSync(d.sharedDir);
    try {
      d.#proc = await d.#spawn();
    } catch (e) {
      await d.stop();
      throw e;
    }
    return d;
  }

  /** Everything the daemon's processes printed (last 64 KiB). */
  get log(): string {
    return this.#log;
  }

  /** The status of the newest process: after a session it has normally exited (code 0). */
  health(): Health {
    return this.#proc?.health() ?? { state: 'exited', code: null, signal: null };
  }

  /**
   * A new session on a fresh process (the first one start() made, if still unused).
   * Closing the session reaps its process, then calls `onRelease`.
   */
  async open(onRelease: () => Promise<void> = async () => undefined): Promise<VhostUserTarget> {
    if (this.#stopped) throw new Error('virtiofsd: open() after stop()');
    await this.#session?.close();
    this.#session = undefined;
    if (!this.#proc || this.#proc.used || this.#proc.exit) {
      await this.#proc?.stop(SELF_EXIT_MS, this.#opts.stopTimeoutMs ?? 2000);
      this.#proc = await this.#spawn();
    }
    const proc = this.#proc;
    proc.used = true;
    try {
      this.#session = await VhostUserTarget.open({
        socketPath: this.socketPath,
        deviceType: 'fs',
        name: 'virtiofsd',
        version: this.version,
        queues: 2,
        processPerSession: true,
        replyTimeoutMs: this.#opts.replyTimeoutMs,
        peer: {
          health: () => proc.health(),
          release: async () => {
            await proc.stop(SELF_EXIT_MS, this.#opts.stopTimeoutMs ?? 2000);
            await onRelease();
          },
        },
      });
    } catch (e) {
      await proc.stop(0, this.#opts.stopTimeoutMs ?? 2000);
      throw e;
    }
    return this.#session;
  }

  /** Stops the current process (SIGTERM, then SIGKILL) and removes the socket and shared directory. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#proc?.stop(0, this.#opts.stopTimeoutMs ?? 2000);
    rmSync(this.#dir, { recursive: true, force: true });
  }

  async #spawn(): Promise<FsProcess> {
    // A stale socket file from the previous process would make the wait below
    // succeed before the new process listens.
    rmSync(this.socketPath, { force: true });
    const child = spawn(
      this.#binary,
      // sandbox=chroot: the default namespace sandbox forks into a new PID
      // namespace, leaving a grandchild that outlives a SIGKILLed parent.
      [`--socket-path=${this.socketPath}`, '-o', `source=${this.sharedDir}`, '-o', 'cache=none', '-o', 'sandbox=chroot'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const keep = (chunk: Buffer) => {
      this.#log = (this.#log + chunk.toString()).slice(-LOG_LIMIT);
    };
    const p = new FsProcess(child, keep, (e) => (this.#log += `\nspawn error: ${e.message}`));
    const deadline = Date.now() + (this.#opts.startTimeoutMs ?? 5000);
    while (!existsSync(this.socketPath)) {
      if (p.exit || Date.now() >= deadline) {
        const why = p.exit ? `exited (code ${p.exit.code}, signal ${p.exit.signal})` : 'socket did not appear in time';
        await p.stop(0, this.#opts.stopTimeoutMs ?? 2000);
        throw new Error(`virtiofsd ${why}: ${this.#log}`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    return p;
  }
}

function virtiofsdVersion(binary: string): Promise<string> {
  return new Promise((resolve) => {
    const p = spawn(binary, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    p.stdout.on('data', (c: Buffer) => (out += c.toString()));
    p.once('error', () => resolve('unknown'));
    p.once('exit', () => resolve(/version (\S+)/.exec(out)?.[1] ?? 'unknown'));
  });
}

/** A Target on a fresh daemon; closing it also stops the daemon (`vhost-user:spawn=virtiofsd`). */
export async function spawnVirtiofsdTarget(opts: VirtiofsdOptions = {}): Promise<VhostUserTarget> {
  const d = await VirtiofsdDaemon.start(opts);
  try {
    return await d.open(() => d.stop());
  } catch (e) {
    await d.stop();
    throw e;
  }
}

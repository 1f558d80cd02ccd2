// QEMU's virtiofsd as a vhost-user-fs back-end (DESIGN.md "implementations/":
// `peers/` starts and stops real third-party back-ends). Unlike
// qemu-storage-daemon, virtiofsd serves exactly one front-end and exits when
// it hangs up, so every session gets a fresh process on the same socket path
// and shared directory. Queues: 0 is hiprio, 1 the first request queue.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Health } from '../../target.ts';
import { VhostUserTarget } from '../frontEnd.ts';
import { binaryVersion, PeerLog, PeerProcess, sessionOwningDaemon } from './peerProcess.ts';

export const VIRTIOFSD_PATH = '/usr/lib/qemu/virtiofsd';
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

export class VirtiofsdDaemon {
  readonly socketPath: string;
  /** The directory the daemon exports (empty at start). */
  readonly sharedDir: string;
  readonly version: string;
  readonly #dir: string;
  readonly #binary: string;
  readonly #opts: VirtiofsdOptions;
  readonly #log = new PeerLog();
  #proc: PeerProcess | undefined;
  /** The current process has served its one session. */
  #procUsed = false;
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
    const d = new VirtiofsdDaemon(dir, binary, await binaryVersion(binary, /version (\S+)/), opts);
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
    return this.#log.text;
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
    if (!this.#proc || this.#procUsed || this.#proc.exited) {
      await this.#proc?.stop(SELF_EXIT_MS, this.#opts.stopTimeoutMs ?? 2000);
      this.#proc = await this.#spawn();
    }
    const proc = this.#proc;
    this.#procUsed = true;
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

  async #spawn(): Promise<PeerProcess> {
    // A stale socket file from the previous process would make the wait below
    // succeed before the new process listens.
    rmSync(this.socketPath, { force: true });
    // sandbox=chroot: the default namespace sandbox forks into a new PID
    // namespace, leaving a grandchild that outlives a SIGKILLed parent.
    const p = new PeerProcess(
      this.#binary,
      [`--socket-path=${this.socketPath}`, '-o', `source=${this.sharedDir}`, '-o', 'cache=none', '-o', 'sandbox=chroot'],
      this.#log,
    );
    this.#procUsed = false;
    await p.waitForSocket(this.socketPath, this.#opts.startTimeoutMs ?? 5000, 'virtiofsd', this.#opts.stopTimeoutMs ?? 2000);
    return p;
  }
}

/** A Target on a fresh daemon; closing it also stops the daemon (`vhost-user:spawn=virtiofsd`). */
export function spawnVirtiofsdTarget(opts: VirtiofsdOptions = {}): Promise<VhostUserTarget> {
  return VirtiofsdDaemon.start(opts).then(sessionOwningDaemon);
}

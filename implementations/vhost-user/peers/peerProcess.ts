// What every launcher of a real back-end needs from its child process: the
// last 64 KiB of what it printed, its exit status as a Health, a bounded wait
// for its socket, and a stop that escalates SIGTERM → SIGKILL so no process
// outlives a run (DESIGN.md "Reliability rules").
//
// Each back-end runs in a process group of its own: a terminal's Ctrl-C goes to
// the whole foreground group, and a back-end that died of it mid-case would be
// judged a CRASH it never had. vhostcheck stops its back-ends itself, on close
// and, for a process exiting without cleanup (a second Ctrl-C), in an exit hook.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import type { Health } from '../../target.ts';
import type { VhostUserTarget } from '../frontEnd.ts';

const LOG_LIMIT = 64 * 1024;

/** The tail of everything a back-end printed; one buffer may collect several processes (virtiofsd). */
export class PeerLog {
  #text = '';

  append(chunk: string): void {
    this.#text = (this.#text + chunk).slice(-LOG_LIMIT);
  }

  get text(): string {
    return this.#text;
  }
}

/** Process groups of back-ends still running, killed if vhostcheck exits before stopping them. */
const liveGroups = new Set<number>();
let exitHookInstalled = false;

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous: SIGKILL is the only stop that needs no waiting.
  process.on('exit', () => {
    for (const pid of liveGroups) killGroup(pid, 'SIGKILL');
  });
}

export class PeerProcess {
  readonly child: ChildProcess;
  #exit: { code: number | null; signal: string | null } | undefined;
  readonly #exited: Promise<void>;

  constructor(binary: string, args: readonly string[], readonly log: PeerLog, stdio: StdioOptions = ['ignore', 'pipe', 'pipe']) {
    this.child = spawn(binary, args, { stdio, detached: true });
    const pid = this.child.pid;
    if (pid !== undefined) {
      installExitHook();
      liveGroups.add(pid);
    }
    const keep = (chunk: Buffer) => log.append(chunk.toString());
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.#exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        // The leader is gone; anything it forked into the group goes with it.
        if (pid !== undefined) {
          killGroup(pid, 'SIGKILL');
          liveGroups.delete(pid);
        }
        resolve();
      });
      this.child.once('error', (e) => {
        log.append(`\nspawn error: ${e.message}`);
        this.#exit ??= { code: null, signal: null };
        resolve();
      });
    });
  }

  get exited(): boolean {
    return this.#exit !== undefined;
  }

  health(): Health {
    if (!this.#exit) return { state: 'alive' };
    const lastLog = lastLine(this.log.text);
    return { state: 'exited', ...this.#exit, ...(lastLog && { lastLog }) };
  }

  /** Entries in the back-end's /proc/PID/fd (for leak checks), or null once it exited or when they cannot be read. */
  openFds(): number | null {
    if (this.#exit || this.child.pid === undefined) return null;
    try {
      return readdirSync(`/proc/${this.child.pid}/fd`).length;
    } catch {
      return null;
    }
  }

  /**
   * Waits (bounded) for the back-end to create its socket. If it exits or the
   * time runs out, stops it and throws with its log: `what` names the daemon.
   */
  async waitForSocket(path: string, timeoutMs: number, what: string, graceMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!existsSync(path)) {
      if (this.#exit || Date.now() >= deadline) {
        const why = this.#exit ? `exited (code ${this.#exit.code}, signal ${this.#exit.signal})` : 'socket did not appear in time';
        await this.stop(0, graceMs);
        throw new Error(`${what} ${why}: ${this.log.text}`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Waits up to `selfExitMs` for a voluntary exit, then SIGTERM, then SIGKILL after `graceMs`. Idempotent. */
  async stop(selfExitMs: number, graceMs: number): Promise<void> {
    const within = (ms: number) => Promise.race([this.#exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref())]);
    if (this.#exit || (selfExitMs > 0 && (await within(selfExitMs)))) return;
    const pid = this.child.pid;
    if (pid === undefined) return;
    killGroup(pid, 'SIGTERM');
    if (await within(graceMs)) return;
    killGroup(pid, 'SIGKILL');
    await this.#exited;
  }
}

/** The version a binary prints for `--version`, matched by `pattern`'s first group, or 'unknown'. */
export function binaryVersion(binary: string, pattern: RegExp): Promise<string> {
  return new Promise((resolve) => {
    const p = spawn(binary, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    p.stdout.on('data', (c: Buffer) => (out += c.toString()));
    p.once('error', () => resolve('unknown'));
    p.once('exit', () => resolve(pattern.exec(out)?.[1] ?? 'unknown'));
  });
}

/** A session on a freshly started daemon whose closing also stops the daemon (`vhost-user:spawn=…`). */
export async function sessionOwningDaemon(daemon: { open(onRelease: () => Promise<void>): Promise<VhostUserTarget>; stop(): Promise<void> }): Promise<VhostUserTarget> {
  try {
    return await daemon.open(() => daemon.stop());
  } catch (e) {
    await daemon.stop();
    throw e;
  }
}

const LAST_LINE_LIMIT = 200;

/** The last non-empty line of a log, cut to a length a one-line detail can carry. */
export function lastLine(text: string): string | undefined {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  const last = lines[lines.length - 1];
  return last === undefined ? undefined : last.slice(0, LAST_LINE_LIMIT);
}

// qemu-storage-daemon as a vhost-user-blk back-end (DESIGN.md "implementations/":
// `peers/` starts and stops real third-party back-ends). The daemon exports
// a 1 MiB raw image file, so the blk model's read-after-write holds. It serves
// one front-end at a time and keeps listening after a session ends, so one
// daemon serves every session: open() ends the previous session first.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Health } from '../../target.ts';
import { VhostUserTarget } from '../frontEnd.ts';

export const QSD_PATH = '/usr/bin/qemu-storage-daemon';
const QSD_IMAGE_BYTES = 1 << 20;
const LOG_LIMIT = 64 * 1024;

export interface QsdOptions {
  readonly binary?: string;
  /** Bound on waiting for the socket to appear (default 5000 ms). */
  readonly startTimeoutMs?: number;
  /** Grace between SIGTERM and SIGKILL (default 2000 ms). */
  readonly stopTimeoutMs?: number;
  readonly replyTimeoutMs?: number;
}

export class QsdDaemon {
  readonly socketPath: string;
  readonly imagePath: string;
  readonly version: string;
  readonly #dir: string;
  readonly #child: ChildProcess;
  readonly #opts: QsdOptions;
  #log = '';
  #exit: { code: number | null; signal: string | null } | undefined;
  readonly #exited: Promise<void>;
  #session: VhostUserTarget | undefined;

  private constructor(dir: string, child: ChildProcess, version: string, opts: QsdOptions) {
    this.#dir = dir;
    this.socketPath = join(dir, 'vhost-user-blk.sock');
    this.imagePath = join(dir, 'disk.img');
    this.#child = child;
    this.version = version;
    this.#opts = opts;
    const keep = (chunk: Buffer) => {
      this.#log = (this.#log + chunk.toString()).slice(-LOG_LIMIT);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.#exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        resolve();
      });
      child.once('error', (e) => {
        this.#log += `\nspawn error: ${e.message}`;
        this.#exit ??= { code: null, signal: null };
        resolve();
      });
    });
  }

  /** Starts the daemon and waits (bounded) for its socket. Throws, with the daemon's log, if it does not come up. */
  static async start(opts: QsdOptions = {}): Promise<QsdDaemon> {
    const binary = opts.binary ?? QSD_PATH;
    const dir = mkdtempSync(join(tmpdir(), 'vhostcheck-qsd-'));
    const sock = join(dir, 'vhost-user-blk.sock');
    const img = join(dir, 'disk.img');
    writeFileSync(img, Buffer.alloc(QSD_IMAGE_BYTES));
    const child = spawn(
      binary,
      [
        '--blockdev',
        `driver=file,filename=${img},node-name=disk0`,
        '--export',
        `type=vhost-user-blk,id=exp0,node-name=disk0,addr.type=unix,addr.path=${sock},writable=on`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const d = new QsdDaemon(dir, child, await qsdVersion(binary), opts);
    const deadline = Date.now() + (opts.startTimeoutMs ?? 5000);
    while (!existsSync(sock)) {
      if (d.#exit || Date.now() >= deadline) {
        const why = d.#exit ? `exited (code ${d.#exit.code}, signal ${d.#exit.signal})` : 'socket did not appear in time';
        const log = d.log;
        await d.stop();
        throw new Error(`qemu-storage-daemon ${why}: ${log}`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    return d;
  }

  /** Everything the daemon printed (last 64 KiB). */
  get log(): string {
    return this.#log;
  }

  health(): Health {
    return this.#exit ? { state: 'exited', ...this.#exit } : { state: 'alive' };
  }

  /** A new session; the previous one is closed first, since the daemon accepts the next front-end only after the current one leaves. */
  async open(onRelease: () => Promise<void> = async () => undefined): Promise<VhostUserTarget> {
    await this.#session?.close();
    this.#session = await VhostUserTarget.open({
      socketPath: this.socketPath,
      deviceType: 'blk',
      name: 'qemu-storage-daemon',
      version: this.version,
      queues: 1,
      replyTimeoutMs: this.#opts.replyTimeoutMs,
      peer: { health: () => this.health(), release: onRelease },
    });
    return this.#session;
  }

  /** SIGTERM, then SIGKILL after the grace period; removes the socket and image. Idempotent. */
  async stop(): Promise<void> {
    if (!this.#exit) {
      this.#child.kill('SIGTERM');
      const grace = new Promise<boolean>((r) => setTimeout(() => r(false), this.#opts.stopTimeoutMs ?? 2000).unref());
      if (!(await Promise.race([this.#exited.then(() => true), grace]))) {
        this.#child.kill('SIGKILL');
        await this.#exited;
      }
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

function qsdVersion(binary: string): Promise<string> {
  return new Promise((resolve) => {
    const p = spawn(binary, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    p.stdout.on('data', (c: Buffer) => (out += c.toString()));
    p.once('error', () => resolve('unknown'));
    p.once('exit', () => resolve(/version (\S+)/.exec(out)?.[1] ?? 'unknown'));
  });
}

/** A Target on a fresh daemon; closing it also stops the daemon (`vhost-user:spawn=qsd-blk`). */
export async function spawnQsdTarget(opts: QsdOptions = {}): Promise<VhostUserTarget> {
  const d = await QsdDaemon.start(opts);
  try {
    return await d.open(() => d.stop());
  } catch (e) {
    await d.stop();
    throw e;
  }
}

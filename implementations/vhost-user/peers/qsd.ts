// qemu-storage-daemon as a vhost-user-blk back-end (DESIGN.md "implementations/":
// `peers/` starts and stops real third-party back-ends). The daemon exports
// a 1 MiB raw image file, so the blk model's read-after-write holds. It serves
// one front-end at a time and keeps listening after a session ends, so one
// daemon serves every session: open() ends the previous session first.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Health } from '../../target.ts';
import { VhostUserTarget } from '../frontEnd.ts';
import { binaryVersion, PeerLog, PeerProcess, sessionOwningDaemon } from './peerProcess.ts';

export const QSD_PATH = '/usr/bin/qemu-storage-daemon';
const QSD_IMAGE_BYTES = 1 << 20;

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
  readonly #proc: PeerProcess;
  readonly #opts: QsdOptions;
  #session: VhostUserTarget | undefined;

  private constructor(dir: string, proc: PeerProcess, version: string, opts: QsdOptions) {
    this.#dir = dir;
    this.socketPath = join(dir, 'vhost-user-blk.sock');
    this.imagePath = join(dir, 'disk.img');
    this.#proc = proc;
    this.version = version;
    this.#opts = opts;
  }

  /** Starts the daemon and waits (bounded) for its socket. Throws, with the daemon's log, if it does not come up. */
  static async start(opts: QsdOptions = {}): Promise<QsdDaemon> {
    const binary = opts.binary ?? QSD_PATH;
    const dir = mkdtempSync(join(tmpdir(), 'vhostcheck-qsd-'));
    const sock = join(dir, 'vhost-user-blk.sock');
    const img = join(dir, 'disk.img');
    writeFileSync(img, Buffer.alloc(QSD_IMAGE_BYTES));
    const proc = new PeerProcess(binary, [
      '--blockdev',
      `driver=file,filename=${img},node-name=disk0`,
      '--export',
      `type=vhost-user-blk,id=exp0,node-name=disk0,addr.type=unix,addr.path=${sock},writable=on`,
    ], new PeerLog());
    const d = new QsdDaemon(dir, proc, await binaryVersion(binary, /version (\S+)/), opts);
    try {
      await proc.waitForSocket(sock, opts.startTimeoutMs ?? 5000, 'qemu-storage-daemon', opts.stopTimeoutMs ?? 2000);
    } catch (e) {
      await d.stop();
      throw e;
    }
    return d;
  }

  /** Everything the daemon printed (last 64 KiB). */
  get log(): string {
    return this.#proc.log.text;
  }

  health(): Health {
    return this.#proc.health();
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
      peer: { health: () => this.health(), release: onRelease, openFds: () => this.#proc.openFds() },
    });
    return this.#session;
  }

  /** SIGTERM, then SIGKILL after the grace period; removes the socket and image. Idempotent. */
  async stop(): Promise<void> {
    await this.#proc.stop(0, this.#opts.stopTimeoutMs ?? 2000);
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** A Target on a fresh daemon; closing it also stops the daemon (`vhost-user:spawn=qsd-blk`). */
export function spawnQsdTarget(opts: QsdOptions = {}): Promise<VhostUserTarget> {
  return QsdDaemon.start(opts).then(sessionOwningDaemon);
}

// DPDK testpmd with the vhost PMD as a vhost-user-net back-end (DESIGN.md
// "implementations/": `peers/` starts and stops real third-party back-ends).
// testpmd is the vhost-user server on its socket and in io forward mode with
// one port sends every frame the guest transmits (queue 1) straight back on
// the guest's receive queue (queue 0): the net model's loopback. It keeps
// listening after a session ends, so one process serves every session: open()
// ends the previous session first. It starts polling a ring only once every
// queue of the port has an address, kick and call and is enabled.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { Health } from '../../target.ts';
import { VhostUserTarget } from '../frontEnd.ts';
import { PeerLog, PeerProcess, sessionOwningDaemon } from './peerProcess.ts';

export const TESTPMD_PATH = '/usr/bin/dpdk-testpmd';
// EAL keeps a runtime directory here for root even with --no-shconf; each
// daemon gets its own --file-prefix so stop() can remove exactly its own.
const DPDK_RUNTIME_DIR = '/var/run/dpdk';

export interface DpdkOptions {
  readonly binary?: string;
  /** Bound on waiting for the socket to appear (default 10000 ms: EAL start-up takes ~0.3 s, more on a loaded CI host). */
  readonly startTimeoutMs?: number;
  /** Grace between SIGTERM and SIGKILL (default 2000 ms). */
  readonly stopTimeoutMs?: number;
  readonly replyTimeoutMs?: number;
}

export class DpdkTestpmd {
  readonly socketPath: string;
  readonly #dir: string;
  readonly #runtimeDir: string;
  readonly #proc: PeerProcess;
  readonly #opts: DpdkOptions;
  #version = 'unknown';
  #session: VhostUserTarget | undefined;

  private constructor(dir: string, runtimeDir: string, proc: PeerProcess, opts: DpdkOptions) {
    this.#dir = dir;
    this.#runtimeDir = runtimeDir;
    this.socketPath = join(dir, 'vhost-user-net.sock');
    this.#proc = proc;
    this.#opts = opts;
  }

  /** Starts testpmd and waits (bounded) for its socket. Throws, with testpmd's log, if it does not come up. */
  static async start(opts: DpdkOptions = {}): Promise<DpdkTestpmd> {
    const binary = opts.binary ?? TESTPMD_PATH;
    const dir = mkdtempSync(join(tmpdir(), 'vhostcheck-dpdk-'));
    const prefix = basename(dir);
    const sock = join(dir, 'vhost-user-net.sock');
    const proc = new PeerProcess(
      binary,
      [
        // -v prints the DPDK version into the log, where start() reads it.
        '-v',
        // Two lcores (main + one forwarding core), floating over the CPUs we
        // may use, so this also starts on a one-CPU or pinned CI runner.
        `--lcores=(0,1)@(${allowedCpus()})`,
        // No hugepages, no PCI scan, no shared config: plain malloc'd memory
        // (EAL then picks IOVA-as-VA itself, since it cannot see physical addresses).
        '--no-huge',
        '--no-pci',
        '--no-shconf',
        `--file-prefix=${prefix}`,
        '-m',
        '256',
        '--vdev',
        `net_vhost0,iface=${sock},queues=1,client=0`,
        '--',
        '--forward-mode=io',
        '--auto-start',
        '--nb-cores=1',
        // The default pool (~155k mbufs, 338 MB) does not fit in -m 256.
        '--total-num-mbufs=2048',
        // The vhost port's link is down until a front-end connects, so
        // testpmd's start-up link check could only wait in vain.
        '--disable-link-check',
      ],
      new PeerLog(),
      // stdin stays an open pipe: testpmd without -i waits for "enter" on
      // stdin and exits at EOF.
      ['pipe', 'pipe', 'pipe'],
    );
    const d = new DpdkTestpmd(dir, join(DPDK_RUNTIME_DIR, prefix), proc, opts);
    const deadline = Date.now() + (opts.startTimeoutMs ?? 10000);
    try {
      await proc.waitForSocket(sock, deadline - Date.now(), 'dpdk-testpmd', opts.stopTimeoutMs ?? 2000);
    } catch (e) {
      await d.stop();
      throw e;
    }
    d.#version = /RTE Version: 'DPDK ([^']+)'/.exec(d.log)?.[1] ?? 'unknown';
    // The socket exists before the vhost library watches it: its event thread
    // polls with a 1 s timeout and picks the listening fd up only on its next
    // round, so the first session's first reply can take ~1 s. One throwaway
    // GET_FEATURES, bounded by the start timeout, absorbs that here.
    try {
      await d.#awaitFirstReply(Math.max(0, deadline - Date.now()));
    } catch (e) {
      const log = d.log;
      await d.stop();
      throw new Error(`dpdk-testpmd did not answer GET_FEATURES: ${(e as Error).message}: ${log}`);
    }
    return d;
  }

  async #awaitFirstReply(timeoutMs: number): Promise<void> {
    const probe = await VhostUserTarget.open({ socketPath: this.socketPath, deviceType: 'net', replyTimeoutMs: timeoutMs });
    try {
      const r = await probe.send({ op: 'getFeatures' });
      if (!('ok' in r && r.ok)) throw new Error(JSON.stringify(r));
    } finally {
      await probe.close();
    }
  }

  /** The DPDK release, e.g. `22.11.11`. */
  get version(): string {
    return this.#version;
  }

  /** Everything testpmd printed (last 64 KiB). */
  get log(): string {
    return this.#proc.log.text;
  }

  health(): Health {
    return this.#proc.health();
  }

  /** A new session; the previous one is closed first, since the vhost PMD serves one front-end per socket. */
  async open(onRelease: () => Promise<void> = async () => undefined): Promise<VhostUserTarget> {
    await this.#session?.close();
    this.#session = await VhostUserTarget.open({
      socketPath: this.socketPath,
      deviceType: 'net',
      name: 'dpdk-testpmd',
      version: this.version,
      // The vdev has queues=1: one queue pair, rx 0 and tx 1.
      queues: 2,
      replyTimeoutMs: this.#opts.replyTimeoutMs,
      peer: { health: () => this.health(), release: onRelease },
    });
    return this.#session;
  }

  /** SIGTERM, then SIGKILL after the grace period; removes the socket and EAL's runtime directory. Idempotent. */
  async stop(): Promise<void> {
    await this.#proc.stop(0, this.#opts.stopTimeoutMs ?? 2000);
    // The stdin pipe is ours; the process is gone, so nothing reads it.
    this.#proc.child.stdin?.destroy();
    rmSync(this.#dir, { recursive: true, force: true });
    rmSync(this.#runtimeDir, { recursive: true, force: true });
  }
}

/** Cpus_allowed_list of this process (e.g. `0-1`), so both lcores float over CPUs we are allowed to use. */
function allowedCpus(): string {
  try {
    return /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0';
  } catch {
    return '0';
  }
}

/** A Target on a fresh testpmd; closing it also stops testpmd (`vhost-user:spawn=dpdk-net`). */
export function spawnDpdkTarget(opts: DpdkOptions = {}): Promise<VhostUserTarget> {
  return DpdkTestpmd.start(opts).then(sessionOwningDaemon);
}

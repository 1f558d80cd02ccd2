// Opens the Target a spec names. One factory per run: `open()` gives a fresh
// session for each property run; `dispose()` releases what the factory holds
// (a spawned back-end). A back-end that died is started again on the next
// open, so a CRASH costs one run, not the rest of the suite.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSimulatedTarget } from '../implementations/simulated/index.ts';
import type { DeviceType, Health, Target } from '../implementations/target.ts';
import { VhostUserTarget } from '../implementations/vhost-user/frontEnd.ts';
import { DpdkTestpmd } from '../implementations/vhost-user/peers/dpdk.ts';
import { serveVhostUser } from '../implementations/vhost-user/backEnd.ts';
import { QsdDaemon } from '../implementations/vhost-user/peers/qsd.ts';
import { VirtiofsdDaemon } from '../implementations/vhost-user/peers/virtiofsd.ts';
import { type TargetSpec, formatTargetSpec } from './targetSpec.ts';
import { UsageError } from './usageError.ts';

export interface TargetFactory {
  readonly spec: TargetSpec;
  open(): Promise<Target>;
  /** How long a kick may take to settle: in-process targets finish synchronously. */
  readonly settleMs: number;
  dispose(): Promise<void>;
}

/** A socket back-end answers within this; anything slower is a TIMEOUT, not a pass. */
const SOCKET_SETTLE_MS = 300;
/**
 * The served simulated device runs on this process's event loop and finishes a kick in the first turn
 * after it is signalled: it needs no room for another process's scheduling, only for the loop's own delay.
 */
const SERVED_SETTLE_MS = 50;

function socketDeviceType(): DeviceType {
  const t = process.env.VHOSTCHECK_DEVICE_TYPE;
  if (t === undefined || t === 'blk') return 'blk';
  if (t === 'net' || t === 'fs') return t;
  throw new UsageError(`VHOSTCHECK_DEVICE_TYPE must be blk, net or fs, not '${t}'`);
}

export function targetFactory(spec: TargetSpec): TargetFactory {
  switch (spec.kind) {
    case 'simulated': {
      const deviceType = spec.device ?? 'blk';
      // Construct once now so an unknown mutant name is exit 2 before any work.
      void createSimulatedTarget({ deviceType, mutant: spec.mutant }).close();
      return { spec, settleMs: 0, open: async () => createSimulatedTarget({ deviceType, mutant: spec.mutant }), dispose: async () => {} };
    }
    case 'vhost-user': {
      if (spec.via === 'socket') {
        const deviceType = socketDeviceType();
        return {
          spec,
          settleMs: SOCKET_SETTLE_MS,
          open: async () => {
            try {
              return await VhostUserTarget.open({ socketPath: spec.path, deviceType });
            } catch (e) {
              throw new UsageError(`cannot connect to vhost-user back-end at ${spec.path}: ${(e as Error).message}`);
            }
          },
          dispose: async () => {},
        };
      }
      switch (spec.peer) {
        case 'qsd-blk':
          // A fresh daemon per session (about 50 ms): qsd serves many sessions, and heap damage done in
          // one (e.g. by an out-of-range vring index) otherwise surfaces in a later, innocent one.
          return freshDaemonFactory(spec, 'qemu-storage-daemon (Debian package qemu-system-common)', () => QsdDaemon.start());
        case 'dpdk-net':
          return daemonFactory(spec, 'dpdk-testpmd (Debian package dpdk-dev)', () => DpdkTestpmd.start());
        case 'virtiofsd':
          return daemonFactory(spec, 'virtiofsd (Debian package qemu-system-common)', () => VirtiofsdDaemon.start());
        case 'simulated':
          return servedSimulatedFactory(spec, socketDeviceType());
      }
    }
    default:
      throw new UsageError(`target '${formatTargetSpec(spec)}' is not available in this version of vhostcheck`);
  }
}

/**
 * `vhost-user:spawn=simulated`: the simulated device behind `vhostcheck serve`, in this process on a
 * temporary socket, driven through the real socket front-end: the vhost-user adapter tested end to end.
 */
function servedSimulatedFactory(spec: TargetSpec, deviceType: 'blk' | 'net' | 'fs'): TargetFactory {
  if (deviceType === 'fs') throw new UsageError('vhost-user:spawn=simulated serves blk or net (VHOSTCHECK_DEVICE_TYPE)');
  let server: { dir: string; socketPath: string; stop: AbortController; done: Promise<void> } | undefined;
  return {
    spec,
    settleMs: SERVED_SETTLE_MS,
    open: async () => {
      if (!server) {
        const dir = mkdtempSync(join(tmpdir(), 'vhostcheck-serve-'));
        const socketPath = join(dir, 'simulated.sock');
        const stop = new AbortController();
        const done = serveVhostUser(socketPath, (memory, logArea, inflight) => createSimulatedTarget({ deviceType, memory, logArea, inflight }), stop.signal);
        server = { dir, socketPath, stop, done };
      }
      return VhostUserTarget.open({ socketPath: server.socketPath, deviceType, name: 'vhostcheck serve (simulated)', version: '0.1.0', queues: deviceType === 'net' ? 2 : 1, blockingWaitMs: 0 });
    },
    dispose: async () => {
      if (!server) return;
      server.stop.abort();
      await server.done.catch(() => {});
      rmSync(server.dir, { recursive: true, force: true });
      server = undefined;
    },
  };
}

/** A spawned back-end: started on first use, restarted after it died, stopped by dispose(). */
interface Daemon {
  health(): Health;
  open(onRelease?: () => Promise<void>): Promise<Target>;
  stop(): Promise<void>;
}

/** One daemon per session: every session starts from a clean process, and closing the session stops it. */
function freshDaemonFactory(spec: TargetSpec, what: string, start: () => Promise<Daemon>): TargetFactory {
  return {
    spec,
    settleMs: SOCKET_SETTLE_MS,
    open: async () => {
      let d: Daemon;
      try {
        d = await start();
      } catch (e) {
        throw new UsageError(`cannot start ${what}: ${(e as Error).message.split('\n')[0]}`);
      }
      try {
        return await d.open(() => d.stop());
      } catch (e) {
        await d.stop();
        throw e;
      }
    },
    dispose: async () => {},
  };
}

function daemonFactory(spec: TargetSpec, what: string, start: () => Promise<Daemon>): TargetFactory {
  let daemon: Daemon | undefined;
  const alive = () => daemon !== undefined && daemon.health().state === 'alive';
  return {
    spec,
    settleMs: SOCKET_SETTLE_MS,
    open: async () => {
      for (let attempt = 0; ; attempt++) {
        if (!alive()) {
          await daemon?.stop();
          try {
            daemon = await start();
          } catch (e) {
            throw new UsageError(`cannot start ${what}: ${(e as Error).message.split('\n')[0]}`);
          }
        }
        try {
          return await daemon!.open();
        } catch (e) {
          // A daemon that just crashed refuses connections before its exit is reaped: give the exit a moment, then restart it.
          await new Promise((r) => setTimeout(r, 100));
          if (attempt >= 2) throw e;
          if (alive()) {
            await daemon!.stop();
            daemon = undefined;
          }
        }
      }
    },
    dispose: async () => {
      await daemon?.stop();
      daemon = undefined;
    },
  };
}

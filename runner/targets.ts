// Opens the Target a spec names. One factory per run: `open()` gives a fresh
// session for each property run; `dispose()` releases what the factory holds
// (a spawned back-end). A back-end that died is started again on the next
// open, so a CRASH costs one run, not the rest of the suite.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSimulatedTarget } from '../implementations/simulated/index.ts';
import { findVariant } from '../implementations/simulated/variants/index.ts';
import type { Health, Target } from '../implementations/target.ts';
import { VhostUserTarget } from '../implementations/vhost-user/frontEnd.ts';
import { DpdkTestpmd } from '../implementations/vhost-user/peers/dpdk.ts';
import { serveVhostUser } from '../implementations/vhost-user/backEnd.ts';
import { QsdDaemon } from '../implementations/vhost-user/peers/qsd.ts';
import { VirtiofsdDaemon } from '../implementations/vhost-user/peers/virtiofsd.ts';
import { guestFactory } from './guestFactory.ts';
import type { KernelAccess } from './kernelFactory.ts';
import { type TargetSpec, formatTargetSpec } from './targetSpec.ts';
import { hostVdpaFactory, vdpaSimFactory } from './vdpaTargets.ts';
import { UsageError } from './usageError.ts';

export interface TargetFactory {
  readonly spec: TargetSpec;
  open(): Promise<Target>;
  /** How long a kick may take to settle: in-process targets finish synchronously. */
  readonly settleMs: number;
  /** A kernel target: its suites speak ioctls through an agent, in a guest or on this host (runner/kernelFactory.ts). */
  readonly kernel?: KernelAccess;
  dispose(): Promise<void>;
}

/** A socket back-end answers within this; anything slower is a TIMEOUT, not a pass. */
const SOCKET_SETTLE_MS = 300;
/**
 * The served simulated device runs on this process's event loop and finishes a kick in the first turn
 * after it is signalled: it needs no room for another process's scheduling, only for the loop's own delay.
 */
const SERVED_SETTLE_MS = 50;

/** The device type and variant of a simulated spec: a variant made for one type picks it when device= is not given. */
export function simulatedDevice(spec: { readonly device?: 'blk' | 'net'; readonly variant?: string }): { deviceType: 'blk' | 'net'; variant?: string } {
  const only = spec.variant === undefined ? undefined : findVariant(spec.variant)?.deviceType;
  return { deviceType: spec.device ?? only ?? 'blk', ...(spec.variant !== undefined && { variant: spec.variant }) };
}

/**
 * How long a kick of the simulated device may take to settle: nothing in process, the event loop's
 * delay when served. The slow variant's timers fire late on a loaded machine like another process's
 * would: it gets what a socket back-end gets, or more if its own slowest kick needs it.
 */
function simulatedSettleMs(variant: string | undefined, base: number): number {
  const slow = variant === undefined ? null : findVariant(variant)?.personality.slow ?? null;
  return slow === null ? base : Math.max(SOCKET_SETTLE_MS, 4 * (slow.kickMs + slow.requestMs[1])) + base;
}

/** How the suite talks to a target, as the user asked (run --reply-timeout). */
export interface FactoryOptions {
  /** Bound on the wait for one reply from a socket back-end (the front-end's default when absent). */
  readonly replyTimeoutMs?: number;
  /** Progress of work before the first case (a guest image build, a boot). */
  readonly note?: (line: string) => void;
}

export function targetFactory(spec: TargetSpec, opts: FactoryOptions = {}): TargetFactory {
  const { replyTimeoutMs } = opts;
  switch (spec.kind) {
    case 'simulated': {
      const device = { ...simulatedDevice(spec), mutant: spec.mutant };
      // Construct once now so an unknown mutant name (or one of another device type) is exit 2 before any work.
      try {
        void createSimulatedTarget(device).close();
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      return { spec, settleMs: simulatedSettleMs(device.variant, 0), open: async () => createSimulatedTarget(device), dispose: async () => {} };
    }
    case 'vhost-user': {
      if (spec.via === 'socket') {
        const deviceType = spec.device;
        return {
          spec,
          settleMs: SOCKET_SETTLE_MS,
          open: async () => {
            try {
              // A net device has at least one RX/TX pair (virtio 1.2 §5.1.2); the probe narrows the rest by negotiation.
              return await VhostUserTarget.open({ socketPath: spec.path, deviceType, queues: deviceType === 'net' ? 2 : 1, replyTimeoutMs });
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
          return freshDaemonFactory(spec, 'qemu-storage-daemon (Debian package qemu-system-common)', () => QsdDaemon.start({ replyTimeoutMs }));
        case 'dpdk-net':
          return daemonFactory(spec, 'dpdk-testpmd (Debian package dpdk-dev)', () => DpdkTestpmd.start({ replyTimeoutMs }));
        case 'virtiofsd':
          return daemonFactory(spec, 'virtiofsd (Debian package qemu-system-common)', () => VirtiofsdDaemon.start({ replyTimeoutMs }));
        case 'simulated':
          return servedSimulatedFactory(spec, simulatedDevice(spec), replyTimeoutMs);
      }
    }
    case 'guest':
      // On vdpa_sim the harness's driver steps run too; the other guest targets run their kernel suites only.
      if (spec.guest.target.startsWith('vdpa-sim-')) return vdpaSimFactory(spec, opts);
      return guestFactory(spec, { ...(opts.note && { note: opts.note }) });
    case 'vhost-vdpa':
      return hostVdpaFactory(spec, opts);
    default:
      throw new UsageError(`target '${formatTargetSpec(spec)}' is not available in this version of vhostcheck`);
  }
}

/**
 * `vhost-user:spawn=simulated`: the simulated device behind `vhostcheck serve`, in this process on a
 * temporary socket, driven through the real socket front-end: the vhost-user adapter tested end to end.
 */
function servedSimulatedFactory(spec: TargetSpec, device: { deviceType: 'blk' | 'net'; variant?: string }, replyTimeoutMs: number | undefined): TargetFactory {
  const { deviceType, variant } = device;
  // Built once now so a variant of another device type is exit 2 before any socket exists.
  let maxQueueSize: number;
  try {
    const probe = createSimulatedTarget(device);
    maxQueueSize = probe.info.maxQueueSize;
    void probe.close();
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  let server: { dir: string; socketPath: string; stop: AbortController; done: Promise<void> } | undefined;
  return {
    spec,
    settleMs: simulatedSettleMs(variant, SERVED_SETTLE_MS),
    open: async () => {
      if (!server) {
        const dir = mkdtempSync(join(tmpdir(), 'vhostcheck-serve-'));
        const socketPath = join(dir, 'simulated.sock');
        const stop = new AbortController();
        const done = serveVhostUser(socketPath, (memory, logArea, inflight) => createSimulatedTarget({ ...device, memory, logArea, inflight, awaitKicks: true }), stop.signal);
        server = { dir, socketPath, stop, done };
      }
      const name = variant === undefined ? 'vhostcheck serve (simulated)' : `vhostcheck serve (simulated:variant=${variant})`;
      return VhostUserTarget.open({ socketPath: server.socketPath, deviceType, name, version: '0.1.0', queues: deviceType === 'net' ? 2 : 1, maxQueueSize, blockingWaitMs: 0, replyTimeoutMs });
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

// Sessions on `guest:vdpa-sim-net` / `guest:vdpa-sim-blk` for the engine: each
// open() adds a fresh vdpa device in an already running guest and opens its
// vhost-vdpa node (GuestVdpaTarget), so no session sees another's state and a
// blk session starts with a zeroed disk. A device add and delete costs tens of
// milliseconds in the guest; the guest itself stays up across sessions.
import type { RunningGuest } from './boot.ts';
import type { GuestTargetSpec } from './spec.ts';
import { GuestVdpaTarget } from './vdpaTarget.ts';

/**
 * How long a kick may take to settle: vdpa_sim completes a kick in a kernel worker of a TCG guest, behind an agent
 * round trip (~0.2-0.3 ms) each way. The harness scales its waits from the latency it measures on top of this floor.
 */
const VDPA_SIM_SETTLE_MS = 300;

export interface VdpaSimFactory {
  readonly settleMs: number;
  open(): Promise<GuestVdpaTarget>;
  /** Closes every session still open; the guest is the caller's to stop. */
  dispose(): Promise<void>;
}

/** The module parameters the guest was booted with, as /sys/module/vdpa_sim/parameters shows them. */
async function moduleParam(guest: RunningGuest, name: string): Promise<string> {
  const fd = await guest.agent.open(`/sys/module/vdpa_sim/parameters/${name}`, 0);
  if (fd.kind !== 'ok' || fd.result < 0) throw new Error(`the guest has no vdpa_sim parameter ${name} (is vdpa_sim loaded?)`);
  try {
    const r = await guest.agent.read(fd.result, 16, 1000);
    if (r.kind !== 'ok' || r.result < 0) throw new Error(`reading vdpa_sim parameter ${name} failed in the guest`);
    return r.body.toString().trim();
  } finally {
    await guest.agent.closeFd(fd.result);
  }
}

/**
 * A session factory for a vdpa_sim target in `guest`, which must have been booted with the spec's module parameters
 * (guestKernelArgs(spec)): checked against the module once, at the first open, so a mismatch is one line, not wrong verdicts.
 */
export function openVdpaSimFactory(guest: RunningGuest, spec: GuestTargetSpec): VdpaSimFactory {
  const deviceType = spec.target === 'vdpa-sim-net' ? 'net' : spec.target === 'vdpa-sim-blk' ? 'blk' : null;
  if (deviceType === null) throw new Error(`openVdpaSimFactory: guest:${spec.target} is not a vdpa_sim target`);
  const open = new Set<GuestVdpaTarget>();
  let checked = false;
  return {
    settleMs: VDPA_SIM_SETTLE_MS,
    async open() {
      if (!checked) {
        for (const [param, want] of Object.entries(spec.vdpaSim ?? {})) {
          const got = await moduleParam(guest, param);
          // bool parameters read Y/N, int ones 0/1 (drivers/vdpa/vdpa_sim/vdpa_sim.c module_param).
          if ((got === 'Y' || got === '1') !== want) throw new Error(`the guest's vdpa_sim.${param} is ${got}, the target asks for ${want ? 1 : 0}: boot it with guestKernelArgs(spec)`);
        }
        checked = true;
      }
      for (const t of open) if (t.isClosed) open.delete(t);
      const t = await GuestVdpaTarget.open(guest, deviceType);
      open.add(t);
      return t;
    },
    async dispose() {
      for (const t of [...open]) await t.close();
    },
  };
}

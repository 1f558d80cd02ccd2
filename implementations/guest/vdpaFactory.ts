// Driver-step sessions on a vhost-vdpa device for the engine. On
// `guest:vdpa-sim-net` / `guest:vdpa-sim-blk` each open() adds a fresh vdpa
// device in an already running guest and opens its vhost-vdpa node
// (VhostVdpaTarget), so no session sees another's state and a blk session
// starts with a zeroed disk; a device add and delete costs tens of
// milliseconds, and the guest stays up across sessions. On a host's own node
// (`vhost-vdpa:/dev/vhost-vdpa-N`) each open() opens the node; closing it
// resets the device (drivers/vhost/vdpa.c vhost_vdpa_release()).
import type { KernelMachine } from './boot.ts';
import type { GuestTargetSpec } from './spec.ts';
import { type VdpaDeviceRef, VhostVdpaTarget } from './vdpaTarget.ts';

/**
 * How long a kick may take to settle: vdpa_sim completes a kick in a kernel worker of a TCG guest (a host's device in
 * its own worker or hardware), behind an agent round trip (~0.2-0.3 ms in a guest) each way. The harness scales its waits from the latency it measures on top of this floor.
 */
const VDPA_SETTLE_MS = 300;

export interface VdpaSessions {
  readonly settleMs: number;
  open(): Promise<VhostVdpaTarget>;
  /** Closes every session still open; the machine is the caller's to stop. */
  dispose(): Promise<void>;
}

/** The module parameters the guest was booted with, as /sys/module/vdpa_sim/parameters shows them. */
async function moduleParam(guest: KernelMachine, name: string): Promise<string> {
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
export function openVdpaSimFactory(guest: KernelMachine, spec: GuestTargetSpec): VdpaSessions {
  const deviceType = spec.target === 'vdpa-sim-net' ? 'net' : spec.target === 'vdpa-sim-blk' ? 'blk' : null;
  if (deviceType === null) throw new Error(`openVdpaSimFactory: guest:${spec.target} is not a vdpa_sim target`);
  return openVdpaSessions(guest, { deviceType }, async () => {
    for (const [param, want] of Object.entries(spec.vdpaSim ?? {})) {
      const got = await moduleParam(guest, param);
      // bool parameters read Y/N, int ones 0/1 (drivers/vdpa/vdpa_sim/vdpa_sim.c module_param).
      if ((got === 'Y' || got === '1') !== want) throw new Error(`the guest's vdpa_sim.${param} is ${got}, the target asks for ${want ? 1 : 0}: boot it with guestKernelArgs(spec)`);
    }
  });
}

/** Sessions on `device` in `machine`; `check` runs once, before the first session opens. */
export function openVdpaSessions(machine: KernelMachine, device: VdpaDeviceRef, check: () => Promise<void> = async () => {}): VdpaSessions {
  const open = new Set<VhostVdpaTarget>();
  let checked = false;
  return {
    settleMs: VDPA_SETTLE_MS,
    async open() {
      if (!checked) {
        await check();
        checked = true;
      }
      for (const t of open) if (t.isClosed) open.delete(t);
      const t = await VhostVdpaTarget.open(machine, device);
      open.add(t);
      return t;
    },
    async dispose() {
      for (const t of [...open]) await t.close();
    },
  };
}

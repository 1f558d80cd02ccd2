// The vhost-vdpa targets: `guest:vdpa-sim-net|blk` (vdpa_sim in a QEMU
// guest) and `vhost-vdpa:/dev/vhost-vdpa-N` (a vDPA device this host has,
// reached through the host's agent process, implementations/vhost-vdpa/
// localAgent.ts). Both run the vdpa kernel suites and the harness's driver
// steps, each driver-step session on the machine of the moment: a machine
// started again after a crash gets sessions of its own.
import type { KernelMachine } from '../implementations/guest/boot.ts';
import { errnoName, GuestFlags } from '../implementations/guest/agent.ts';
import { openVdpaSessions, openVdpaSimFactory, type VdpaSessions } from '../implementations/guest/vdpaFactory.ts';
import { openFailure } from '../implementations/guest/vdpaTarget.ts';
import { agentIoctl, ioctlInfo, scalarOut } from '../implementations/guest/vhostIoctl.ts';
import { LocalAgentNotBuilt, startLocalMachine } from '../implementations/vhost-vdpa/localAgent.ts';
import { VIRTIO_ID_BLOCK } from '../spec/virtio/blk.ts';
import { VIRTIO_ID_NET } from '../spec/virtio/net.ts';
import { vdpaDeviceOf } from '../properties/kernel/vdpa/probe.ts';
import type { HostVdpaTarget, KernelTarget } from '../properties/kernel/types.ts';
import { guestFactory, type GuestSpec } from './guestFactory.ts';
import { kernelFactory } from './kernelFactory.ts';
import type { FactoryOptions, TargetFactory } from './targets.ts';
import type { TargetSpec } from './targetSpec.ts';
import { UsageError } from './usageError.ts';

export type HostVdpaSpec = TargetSpec & { readonly kind: 'vhost-vdpa' };

/** Driver-step sessions per machine, and the release of all of them when the run ends. */
function sessionsPerMachine<M extends KernelMachine>(make: (machine: M, target: KernelTarget) => VdpaSessions) {
  const sessions = new Map<M, VdpaSessions>();
  return {
    openTarget: async (machine: M, target: KernelTarget) => {
      let s = sessions.get(machine);
      if (!s) sessions.set(machine, (s = make(machine, target)));
      return s.open();
    },
    disposeAll: async () => {
      for (const s of sessions.values()) await s.dispose().catch(() => undefined);
      sessions.clear();
    },
  };
}

function withSessions(factory: TargetFactory, disposeAll: () => Promise<void>): TargetFactory {
  return {
    ...factory,
    dispose: async () => {
      await disposeAll();
      await factory.dispose();
    },
  };
}

/** `guest:vdpa-sim-net|blk`: each driver-step session on a fresh vdpa_sim device (implementations/guest/vdpaFactory.ts). */
export function vdpaSimFactory(spec: GuestSpec, opts: FactoryOptions): TargetFactory {
  const { openTarget, disposeAll } = sessionsPerMachine((guest) => openVdpaSimFactory(guest, spec.guest));
  return withSessions(guestFactory(spec, { ...(opts.note && { note: opts.note }), openTarget: (guest) => openTarget(guest, spec.guest) }), disposeAll);
}

/**
 * What the node is: opened once, asked VHOST_VDPA_GET_DEVICE_ID, closed. A node that does not open, or a
 * device the suites do not drive, is the user's to fix: one line, exit 2.
 */
async function identifyNode(machine: KernelMachine, node: string): Promise<HostVdpaTarget> {
  const { agent } = machine;
  const opened = await agent.open(node, GuestFlags.O_RDWR);
  if (opened.kind !== 'ok') throw new Error(`the host agent did not answer opening ${node}: ${opened.kind}`);
  if (opened.result < 0) throw new UsageError(`cannot open ${node}: ${openFailure(opened.result)}`);
  try {
    const info = ioctlInfo('VHOST_VDPA_GET_DEVICE_ID');
    const o = await agentIoctl(agent, opened.result, info);
    if (o.kind === 'error') throw new UsageError(`${node} is not a vhost-vdpa device: VHOST_VDPA_GET_DEVICE_ID failed with ${o.errno}`);
    if (o.kind !== 'ok') throw new Error(`the host agent did not answer VHOST_VDPA_GET_DEVICE_ID on ${node}: ${o.kind}`);
    const id = Number(scalarOut(info, o.out));
    // virtio 1.2 §5 device ids: the suites drive net and blk devices.
    if (id === VIRTIO_ID_NET) return { target: 'host-vhost-vdpa', node, deviceType: 'net' };
    if (id === VIRTIO_ID_BLOCK) return { target: 'host-vhost-vdpa', node, deviceType: 'blk' };
    throw new UsageError(`${node} is a virtio device of id ${id}: vhostcheck drives net (${VIRTIO_ID_NET}) and blk (${VIRTIO_ID_BLOCK}) devices`);
  } finally {
    const closed = await agent.closeFd(opened.result);
    if (closed.kind === 'ok' && closed.result < 0) throw new Error(`closing ${node} failed: ${errnoName(closed.result)}`);
  }
}

/** `vhost-vdpa:/dev/vhost-vdpa-N`: the device node this host has, through the host's agent process. */
export function hostVdpaFactory(spec: HostVdpaSpec, opts: FactoryOptions): TargetFactory {
  const { openTarget, disposeAll } = sessionsPerMachine((machine, target) => openVdpaSessions(machine, vdpaDeviceOf(target)));
  const factory = kernelFactory(
    spec,
    {
      label: 'host agent',
      start: async () => {
        try {
          return await startLocalMachine();
        } catch (e) {
          if (e instanceof LocalAgentNotBuilt) throw new UsageError(e.message);
          throw e;
        }
      },
      target: (machine) => identifyNode(machine, spec.device),
    },
    { family: 'vhost-vdpa', ...(opts.note && { note: opts.note }), openTarget },
  );
  return withSessions(factory, disposeAll);
}

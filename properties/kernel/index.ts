// Every kernel suite, by family, with each family's probe and the rules it
// cannot judge from user space (and why). The engine takes all three from here.
import type { KernelMachine } from '../../implementations/guest/boot.ts';
import type { KernelFamily, KernelProfile, KernelSuite, KernelTarget } from './types.ts';
import { probeVdpa } from './vdpa/probe.ts';
import { VDPA_SUITES } from './vdpa/suites.ts';
import { UNJUDGEABLE as VDPA_UNJUDGEABLE } from './vdpa/unjudgeable.ts';
import { probeVduse } from './vduse/probe.ts';
import { VDUSE_SUITES } from './vduse/suites.ts';
import { UNJUDGEABLE as VDUSE_UNJUDGEABLE } from './vduse/unjudgeable.ts';
import { probeVhostNet } from './vhostNet/probe.ts';
import { VHOST_NET_SUITES } from './vhostNet/suites.ts';
import { UNJUDGEABLE as VHOST_NET_UNJUDGEABLE } from './vhostNet/unjudgeable.ts';

export const KERNEL_SUITES: readonly KernelSuite[] = [...VDPA_SUITES, ...VHOST_NET_SUITES, ...VDUSE_SUITES];

/** Asks the device what it offers. */
export const KERNEL_PROBES: Readonly<Record<KernelFamily, (machine: KernelMachine, target: KernelTarget) => Promise<KernelProfile>>> = {
  'vhost-vdpa': probeVdpa,
  'vhost-net': probeVhostNet,
  vduse: probeVduse,
};

/** Per family: requirement id → why no property can judge it from user space on that family's targets. */
export const UNJUDGEABLE: Readonly<Record<KernelFamily, Readonly<Record<string, string>>>> = {
  'vhost-vdpa': VDPA_UNJUDGEABLE,
  'vhost-net': VHOST_NET_UNJUDGEABLE,
  vduse: VDUSE_UNJUDGEABLE,
};

/** The kernel interface a target is reached through. */
export function familyOf(target: KernelTarget): KernelFamily {
  switch (target.target) {
    case 'vdpa-sim-net':
    case 'vdpa-sim-blk':
    case 'host-vhost-vdpa':
      return 'vhost-vdpa';
    case 'vhost-net':
      return 'vhost-net';
    case 'vduse-blk':
    case 'vduse-net':
      return 'vduse';
  }
}

/** The device type a target drives. */
export function deviceTypeOf(target: KernelTarget): 'net' | 'blk' {
  if (target.target === 'host-vhost-vdpa') return target.deviceType;
  return target.target.endsWith('-blk') ? 'blk' : 'net';
}

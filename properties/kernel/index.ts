// Every kernel suite, by family, with each family's probe and the rules it
// cannot judge from user space (and why). The engine takes all three from here.
import type { RunningGuest } from '../../implementations/guest/boot.ts';
import type { GuestTargetSpec } from '../../implementations/guest/spec.ts';
import type { KernelFamily, KernelProfile, KernelSuite } from './types.ts';

export const KERNEL_SUITES: readonly KernelSuite[] = [];

/** Asks the device what it offers; a family without a probe yet cannot be run. */
export const KERNEL_PROBES: Readonly<Partial<Record<KernelFamily, (guest: RunningGuest, target: GuestTargetSpec) => Promise<KernelProfile>>>> = {};

/** Requirement id → why no property can judge it from user space on that family's targets. */
export const UNJUDGEABLE: Readonly<Record<string, string>> = {};

/** The kernel interface a guest target is reached through. */
export function familyOf(target: GuestTargetSpec): KernelFamily {
  switch (target.target) {
    case 'vdpa-sim-net':
    case 'vdpa-sim-blk':
      return 'vhost-vdpa';
    case 'vhost-net':
      return 'vhost-net';
    case 'vduse-blk':
    case 'vduse-net':
      return 'vduse';
  }
}

/** The device type a guest target drives. */
export function deviceTypeOf(target: GuestTargetSpec): 'net' | 'blk' {
  return target.target.endsWith('-blk') ? 'blk' : 'net';
}

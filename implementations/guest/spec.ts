// The `guest:` target specs (issue 12): which kernel device the suite drives
// inside the QEMU guest. runner/targetSpec.ts hands everything after
// `guest:` to parseGuestTarget and prints specs back with formatGuestTarget.
//
//   guest:vdpa-sim-net[,use_va=0|1][,batch_mapping=0|1]
//   guest:vdpa-sim-blk[,…same…]
//   guest:vhost-net | guest:vduse-blk | guest:vduse-net
//
// use_va and batch_mapping are vdpa_sim module parameters
// (drivers/vdpa/vdpa_sim/vdpa_sim.c module_param) that select different
// kernel code paths; they reach the module through the guest's kernel
// command line (init.sh).

const GUEST_TARGETS = ['vdpa-sim-net', 'vdpa-sim-blk', 'vhost-net', 'vduse-blk', 'vduse-net'] as const;
type GuestTargetName = (typeof GUEST_TARGETS)[number];

const VDPA_SIM_PARAMS = ['use_va', 'batch_mapping'] as const;
type VdpaSimParam = (typeof VDPA_SIM_PARAMS)[number];

export interface GuestTargetSpec {
  readonly target: GuestTargetName;
  /** vdpa_sim module parameters; absent means the module's default (both on). */
  readonly vdpaSim?: Readonly<Partial<Record<VdpaSimParam, boolean>>>;
}

export function parseGuestTarget(text: string | undefined): GuestTargetSpec | { readonly problem: string } {
  const known = GUEST_TARGETS.join(', ');
  if (!text) return { problem: `guest needs the kernel device to drive, one of ${known}` };
  const [name, ...options] = text.split(',');
  if (!(GUEST_TARGETS as readonly string[]).includes(name!)) return { problem: `unknown guest target '${name}' (known: ${known})` };
  const target = name as GuestTargetName;
  const vdpaSim: Partial<Record<VdpaSimParam, boolean>> = {};
  for (const option of options) {
    const [key, value, extra] = option.split('=');
    if (!target.startsWith('vdpa-sim-')) return { problem: `guest:${target} takes no options` };
    if (!(VDPA_SIM_PARAMS as readonly string[]).includes(key!)) return { problem: `unknown vdpa_sim option '${key}' (known: ${VDPA_SIM_PARAMS.join(', ')})` };
    if (extra !== undefined || (value !== '0' && value !== '1')) return { problem: `${key} must be 0 or 1` };
    if (vdpaSim[key as VdpaSimParam] !== undefined) return { problem: `${key} given twice` };
    vdpaSim[key as VdpaSimParam] = value === '1';
  }
  return Object.keys(vdpaSim).length ? { target, vdpaSim } : { target };
}

/** The canonical spelling after `guest:`, options in a fixed order. */
export function formatGuestTarget(spec: GuestTargetSpec): string {
  const options = VDPA_SIM_PARAMS.filter((p) => spec.vdpaSim?.[p] !== undefined).map((p) => `${p}=${spec.vdpaSim![p] ? 1 : 0}`);
  return [spec.target, ...options].join(',');
}

/** Kernel command-line words that hand the options to the module (init.sh passes MODULE.PARAM=VALUE to insmod). */
export function guestKernelArgs(spec: GuestTargetSpec): string[] {
  return VDPA_SIM_PARAMS.filter((p) => spec.vdpaSim?.[p] !== undefined).map((p) => `vdpa_sim.${p}=${spec.vdpaSim![p] ? 1 : 0}`);
}

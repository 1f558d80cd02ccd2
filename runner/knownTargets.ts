// The targets this build of vhostcheck can run, in one place: the help shows
// this list, and `checkTarget` rejects, before any work, what the spelling
// allows but the build cannot give (an unknown mutant). A new kind of target
// (vhost-vdpa, VDUSE, a QEMU guest) joins the list when a suite can run on it.
import { type TargetSpec, formatTargetSpec } from './targetSpec.ts';
import { UsageError } from './usageError.ts';

/** Each target form as typed, with what it is, for `--help`. */
export const TARGET_FORMS: readonly (readonly [form: string, what: string])[] = [
  ['simulated[:device=net|blk][,mutant=NAME]', 'the built-in device (default); a mutant re-creates a known bug'],
  ['vhost-user:PATH,device=blk|net|fs', 'an already listening vhost-user back-end socket'],
  ['vhost-user:spawn=PEER', 'qsd-blk, dpdk-net, virtiofsd or simulated, started and stopped by vhostcheck'],
  ['vhost-vdpa:/dev/vhost-vdpa-N', "a vDPA device this host has (a vendor's driver), net or blk, as its device id says"],
  ['guest:vdpa-sim-net|vdpa-sim-blk[,use_va=0|1][,batch_mapping=0|1]', "Linux vhost-vdpa over vdpa_sim in a QEMU guest (built on first use)"],
  ['guest:vhost-net', 'Linux vhost-net with the device IOTLB, over a tap, in a QEMU guest'],
  ['guest:vduse-blk|vduse-net', 'Linux VDUSE: the suite plays the device and drives it through vhost-vdpa, in a QEMU guest'],
];

/** Throws a UsageError for a spec that parses but names something this build does not have. */
export async function checkTarget(spec: TargetSpec): Promise<void> {
  // Before the report directory or anything else is made: this is exit 2 in milliseconds.
  if (spec.kind !== 'simulated' || spec.mutant === undefined) return;
  // Imported here so `--help` does not load the device. It checks the name and whether the
  // mutant lives in this device type; built once, closed at once.
  const { createSimulatedTarget } = await import('../implementations/simulated/index.ts');
  try {
    void createSimulatedTarget({ deviceType: spec.device ?? 'blk', mutant: spec.mutant }).close();
  } catch (e) {
    // The device's message lists every mutant; one line with a pointer to the list reads better.
    const message = (e as Error).message.replace(/^simulated target: /, '').replace(/ \(known: [^)]*\)$/, '');
    throw new UsageError(`${message} (see 'vhostcheck mutants --list')`);
  }
}

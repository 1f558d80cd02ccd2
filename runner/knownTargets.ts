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
];

/**
 * Why a `guest:` target cannot be run: its devices work (the implementations/guest tests drive
 * them), but no suite can judge them yet, since the Target's memory is a host buffer the guest's
 * device never sees (implementations/guest/README.md). Said plainly rather than faked as a run.
 */
export function guestNotRunnable(spec: TargetSpec & { kind: 'guest' }): string {
  return `target '${formatTargetSpec(spec)}': the guest targets are built ('vhostcheck guest build') and smoke-tested, but no conformance suite runs against them yet`;
}

/** Throws a UsageError for a spec that parses but names something this build does not have. */
export async function checkTarget(spec: TargetSpec): Promise<void> {
  // Before the report directory or anything else is made: this is exit 2 in milliseconds.
  if (spec.kind === 'guest') throw new UsageError(guestNotRunnable(spec));
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

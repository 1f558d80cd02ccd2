// The machine behind `guest:` targets: builds the guest image on first use
// (cached; progress lines through `note`) and boots one QEMU guest for the
// run with the target's module parameters; runner/kernelFactory.ts boots it
// again when a case crashed or hung it. The QEMU hooks in
// implementations/guest/qemu.ts cover signals and exits on top.
import { bootGuest, type RunningGuest } from '../implementations/guest/boot.ts';
import { guestKernelArgs } from '../implementations/guest/spec.ts';
import { QEMU_BINARY, qemuInstalled } from '../implementations/guest/qemu.ts';
import type { Target } from '../implementations/target.ts';
import { familyOf } from '../properties/kernel/index.ts';
import type { KernelProfile } from '../properties/kernel/types.ts';
import { type KernelAccess, kernelFactory } from './kernelFactory.ts';
import type { TargetFactory } from './targets.ts';
import type { TargetSpec } from './targetSpec.ts';
import { UsageError } from './usageError.ts';

export type GuestSpec = TargetSpec & { readonly kind: 'guest' };

export interface GuestFactoryOptions {
  /** One line of progress (image build, boot), for the user's terminal. */
  readonly note?: (line: string) => void;
  /**
   * Opens the vhost driver-step Target (properties/harness.ts) on a running guest, for targets whose
   * device the harness can drive; absent when none can (the kernel suites still run).
   */
  readonly openTarget?: (guest: RunningGuest, spec: GuestSpec) => Promise<Target>;
  /** Asks the device what it offers (default: the family's probe in properties/kernel). */
  readonly probe?: (guest: RunningGuest, target: GuestSpec['guest']) => Promise<KernelProfile>;
}

export function guestFactory(spec: GuestSpec, opts: GuestFactoryOptions = {}): TargetFactory & { readonly kernel: KernelAccess } {
  const note = opts.note ?? (() => {});
  const image = async () => {
    const { ensureGuest, MissingPackageError } = await import('../implementations/guest/image/build.ts');
    try {
      return await ensureGuest((line) => note(`guest build: ${line}`));
    } catch (e) {
      if (e instanceof MissingPackageError) throw new UsageError(e.message);
      throw e;
    }
  };
  const { openTarget, probe } = opts;
  return kernelFactory<RunningGuest>(
    spec,
    {
      label: 'guest',
      start: async () => {
        if (!qemuInstalled()) throw new UsageError(`target 'guest:${spec.guest.target}' needs ${QEMU_BINARY} (Debian package qemu-system-x86), which is not on PATH`);
        const img = await image();
        const guest = await bootGuest({ image: img, append: guestKernelArgs(spec.guest) });
        note(`guest: ${img.manifest.kernelRelease} ready`);
        return guest;
      },
      target: async () => spec.guest,
    },
    {
      family: familyOf(spec.guest),
      note,
      ...(openTarget && { openTarget: (guest: RunningGuest) => openTarget(guest, spec) }),
      ...(probe && { probe: (guest: RunningGuest) => probe(guest, spec.guest) }),
    },
  );
}

// The factory behind `guest:` targets: builds the guest image on first use
// (cached; progress lines through `note`), boots one QEMU guest for the run,
// and boots it again when a case crashed or hung it, so one kernel oops costs
// one case, not the run. dispose() stops QEMU; the QEMU hooks in
// implementations/guest/qemu.ts cover signals and exits on top.
import { bootGuest, type RunningGuest } from '../implementations/guest/boot.ts';
import { guestKernelArgs } from '../implementations/guest/spec.ts';
import { QEMU_BINARY, qemuInstalled } from '../implementations/guest/qemu.ts';
import type { Target } from '../implementations/target.ts';
import { familyOf, KERNEL_PROBES } from '../properties/kernel/index.ts';
import type { KernelContext, KernelFamily, KernelProfile } from '../properties/kernel/types.ts';
import type { TargetFactory } from './targets.ts';
import type { TargetSpec } from './targetSpec.ts';
import { UsageError } from './usageError.ts';

export type GuestSpec = TargetSpec & { readonly kind: 'guest' };

/** What the engine needs of a kernel target besides (or instead of) a driver-step Target. */
export interface KernelAccess {
  readonly family: KernelFamily;
  /** The harness's driver steps can drive this target too (`open()` gives a Target), not only its kernel suites. */
  readonly drivesSteps: boolean;
  /** The device's own answers, asked once per run (the family's probe). */
  profile(): Promise<KernelProfile>;
  /** A running guest for one case: booted on first use, booted again after a crash or a hang. */
  context(): Promise<KernelContext>;
  /** How many times the guest was booted this run (a crash or hang forces another boot). */
  readonly boots: number;
}

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

/** A guest that panicked, exited or stopped answering cannot serve another case. */
function unusable(g: RunningGuest): boolean {
  return g.agent.crash !== undefined || g.qemu.crash !== undefined || g.agent.stuck;
}

export function guestFactory(spec: GuestSpec, opts: GuestFactoryOptions = {}): TargetFactory & { readonly kernel: KernelAccess } {
  const family = familyOf(spec.guest);
  const probe = opts.probe ?? KERNEL_PROBES[family];
  const note = opts.note ?? (() => {});
  let guest: RunningGuest | undefined;
  let booting: Promise<RunningGuest> | undefined;
  let profile: KernelProfile | undefined;
  let boots = 0;

  const image = async () => {
    const { ensureGuest, MissingPackageError } = await import('../implementations/guest/image/build.ts');
    try {
      return await ensureGuest((line) => note(`guest build: ${line}`));
    } catch (e) {
      if (e instanceof MissingPackageError) throw new UsageError(e.message);
      throw e;
    }
  };
  const running = async (): Promise<RunningGuest> => {
    if (guest && !unusable(guest)) return guest;
    if (booting) return booting;
    booting = (async () => {
      if (!qemuInstalled()) throw new UsageError(`target 'guest:${spec.guest.target}' needs ${QEMU_BINARY} (Debian package qemu-system-x86), which is not on PATH`);
      if (guest) {
        note(`guest: ${guest.agent.crash || guest.qemu.crash ? 'crashed' : 'stopped answering'}; booting a fresh one`);
        await guest.close();
        guest = undefined;
      }
      const img = await image();
      boots++;
      guest = await bootGuest({ image: img, append: guestKernelArgs(spec.guest) });
      note(`guest: ${img.manifest.kernelRelease} ready`);
      return guest;
    })();
    try {
      return await booting;
    } finally {
      booting = undefined;
    }
  };

  const kernel: KernelAccess = {
    family,
    drivesSteps: opts.openTarget !== undefined,
    get boots() {
      return boots;
    },
    profile: async () => {
      profile ??= await probe(await running(), spec.guest);
      return profile;
    },
    context: async () => {
      const g = await running();
      return { guest: g, agent: g.agent, target: spec.guest, profile: await kernel.profile() };
    },
  };

  return {
    spec,
    // A kernel device completes a kick on its own kernel thread, through the agent's channel: room for both under TCG.
    settleMs: 300,
    kernel,
    open: async () => {
      if (!opts.openTarget) throw new Error(`guest:${spec.guest.target} has no driver-step target: only its kernel suites run`);
      return opts.openTarget(await running(), spec);
    },
    dispose: async () => {
      await booting?.catch(() => undefined);
      await guest?.close();
      guest = undefined;
    },
  };
}

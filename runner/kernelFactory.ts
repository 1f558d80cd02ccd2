// The factory behind every kernel target: one machine with an agent for the
// run (a QEMU guest, runner/guestFactory.ts, or this host's agent process,
// runner/hostVdpaFactory.ts), started on first use and started again when a
// case crashed or hung it, so one oops costs one case, not the run.
// dispose() stops it.
import type { KernelMachine } from '../implementations/guest/boot.ts';
import type { Target } from '../implementations/target.ts';
import { KERNEL_PROBES } from '../properties/kernel/index.ts';
import type { KernelContext, KernelFamily, KernelProfile, KernelTarget } from '../properties/kernel/types.ts';
import type { TargetFactory } from './targets.ts';
import type { TargetSpec } from './targetSpec.ts';

/** What the engine needs of a kernel target besides (or instead of) a driver-step Target. */
export interface KernelAccess {
  readonly family: KernelFamily;
  /** The harness's driver steps can drive this target too (`open()` gives a Target), not only its kernel suites. */
  readonly drivesSteps: boolean;
  /** The device's own answers, asked once per run (the family's probe). */
  profile(): Promise<KernelProfile>;
  /** A running machine for one case: started on first use, started again after a crash or a hang. */
  context(): Promise<KernelContext>;
  /** How many times the machine was started this run (a crash or hang forces another start). */
  readonly boots: number;
}

/** Where a kernel target's machine comes from. */
export interface MachineSource<M extends KernelMachine> {
  /** What the progress lines call it ("guest", "host agent"). */
  readonly label: string;
  /** Starts a fresh machine. */
  start(): Promise<M>;
  /** The device the run drives, asked of the first machine started (later ones drive the same device). */
  target(machine: M): Promise<KernelTarget>;
}

export interface KernelFactoryOptions<M extends KernelMachine> {
  readonly family: KernelFamily;
  /** One line of progress (image build, boot, restart), for the user's terminal. */
  readonly note?: (line: string) => void;
  /** Opens the vhost driver-step Target on a running machine, for devices the harness can drive; absent when none can. */
  readonly openTarget?: (machine: M, target: KernelTarget) => Promise<Target>;
  /** Asks the device what it offers (default: the family's probe in properties/kernel). */
  readonly probe?: (machine: M, target: KernelTarget) => Promise<KernelProfile>;
}

/** A machine that panicked, exited or stopped answering cannot serve another case. */
function unusable(m: KernelMachine): boolean {
  return m.agent.crash !== undefined || m.agent.host.crash !== undefined || m.agent.stuck;
}

export function kernelFactory<M extends KernelMachine>(spec: TargetSpec, source: MachineSource<M>, opts: KernelFactoryOptions<M>): TargetFactory & { readonly kernel: KernelAccess } {
  const { family } = opts;
  const probe = opts.probe ?? KERNEL_PROBES[family];
  const note = opts.note ?? (() => {});
  let machine: M | undefined;
  let starting: Promise<M> | undefined;
  let target: KernelTarget | undefined;
  let profile: KernelProfile | undefined;
  let boots = 0;

  const running = async (): Promise<M> => {
    if (machine && !unusable(machine)) return machine;
    if (starting) return starting;
    starting = (async () => {
      if (machine) {
        note(`${source.label}: ${machine.agent.crash || machine.agent.host.crash ? 'crashed' : 'stopped answering'}; starting a fresh one`);
        await machine.close();
        machine = undefined;
      }
      boots++;
      const m = await source.start();
      try {
        target ??= await source.target(m);
      } catch (e) {
        await m.close();
        throw e;
      }
      machine = m;
      return m;
    })();
    try {
      return await starting;
    } finally {
      starting = undefined;
    }
  };

  const kernel: KernelAccess = {
    family,
    drivesSteps: opts.openTarget !== undefined,
    get boots() {
      return boots;
    },
    profile: async () => {
      const m = await running();
      profile ??= await probe(m, target!);
      return profile;
    },
    context: async () => {
      const m = await running();
      return { machine: m, target: target!, profile: await kernel.profile() };
    },
  };

  return {
    spec,
    // A kernel device completes a kick on its own kernel thread, through the agent's channel: room for both under TCG.
    settleMs: 300,
    kernel,
    open: async () => {
      if (!opts.openTarget) throw new Error(`${family} target has no driver-step target: only its kernel suites run`);
      const m = await running();
      return opts.openTarget(m, target!);
    },
    dispose: async () => {
      await starting?.catch(() => undefined);
      await machine?.close();
      machine = undefined;
    },
  };
}

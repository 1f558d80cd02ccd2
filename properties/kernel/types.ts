// The contract between the engine and the kernel suites (issue 12): suites
// that speak a kernel interface (vhost ioctls on /dev/vhost-net or
// /dev/vhost-vdpa-N, VDUSE's /dev/vduse/*) rather than the vhost-user driver
// steps of properties/steps.ts. Each suite owns its steps, its model and its
// oracles; the engine only generates, runs, shrinks, saves and replays them.
import type fc from 'fast-check';
import type { KernelMachine } from '../../implementations/guest/boot.ts';
import type { GuestTargetSpec } from '../../implementations/guest/spec.ts';
import type { Observation } from '../oracles/observation.ts';

/** Which kernel interface a suite speaks. */
export type KernelFamily = 'vhost-vdpa' | 'vhost-net' | 'vduse';

/**
 * One step of a kernel suite. Plain data (numbers, strings, booleans, bigints, Uint8Arrays, arrays and
 * objects of those) so it is saved in a regression file (properties/steps.ts stepsToJson) and replayed.
 * `op` names what the step does; the rest is the suite's own.
 */
export interface KernelStep {
  readonly t: 'kernel';
  readonly op: string;
  readonly [field: string]: unknown;
}

/** What the device itself said when the run began (never a list of implementations known to pass). */
export interface KernelProfile {
  readonly family: KernelFamily;
  readonly deviceType: 'net' | 'blk';
  /** `uname -r` of the kernel under test. */
  readonly kernelRelease: string;
  /**
   * Answers read from the device at probe time, by the name of what was asked
   * (e.g. `features`, `backendFeatures`, `vqsCount`, `vringNum`, `configSize`, `iovaFirst`).
   * A suite decides from these which of its requirements apply; absent means "not asked".
   */
  readonly facts: Readonly<Record<string, number | bigint | string | boolean>>;
}

/** A vhost-vdpa node this host has (`vhost-vdpa:/dev/vhost-vdpa-N`), with the device type its VHOST_VDPA_GET_DEVICE_ID gave. */
export interface HostVdpaTarget {
  readonly target: 'host-vhost-vdpa';
  readonly node: string;
  readonly deviceType: 'net' | 'blk';
}

/** The kernel device a run drives: one in a QEMU guest, or a node of this host's own. */
export type KernelTarget = GuestTargetSpec | HostVdpaTarget;

/** What one case runs against: a booted guest, or this host through its agent process. */
export interface KernelContext {
  /** Where the device is: its agent is `machine.agent`. */
  readonly machine: KernelMachine;
  readonly target: KernelTarget;
  readonly profile: KernelProfile;
}

/** An observation with what the model allowed, for the report's "expected" line. */
export interface KernelObservation extends Observation {
  readonly expected?: readonly string[];
}

/** One property run's session on the device. `close` releases every fd, mapping and vdpa device the case made. */
export interface KernelCase {
  exec(step: KernelStep): Promise<readonly KernelObservation[]>;
  /** Checks that can only be made at the end (the device still answers, nothing leaked). */
  finish(): Promise<readonly KernelObservation[]>;
  close(): Promise<void>;
}

export interface KernelSuite {
  readonly name: string;
  readonly description: string;
  /** Every requirement id the suite's oracles may record; each must be in spec/requirements. */
  readonly requirements: readonly string[];
  readonly families: readonly KernelFamily[];
  readonly deviceTypes: readonly ('net' | 'blk')[];
  readonly maxSteps: number;
  /**
   * The feature the device lacks for this suite to run (e.g. `VHOST_BACKEND_F_SUSPEND`), or null when it
   * can run: every requirement it judges is then UNSUPPORTED, naming the feature.
   */
  unsupported?(p: KernelProfile): string | null;
  /**
   * Requirements the suite lists that cannot apply to this device, each with why (a rule about parents
   * without SUSPEND, on a parent that has it): reported as not applicable instead of "never exercised".
   */
  notApplicable?(p: KernelProfile): Readonly<Record<string, string>>;
  scenario(p: KernelProfile): fc.Arbitrary<KernelStep[]>;
  open(ctx: KernelContext): Promise<KernelCase>;
  /** The requirement a crash, hang or error during `step` is charged to. */
  requirementOf(step: KernelStep): string;
  /** One line for the report's steps list. */
  formatStep(step: KernelStep): string;
}

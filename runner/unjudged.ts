// Why a selected requirement got no observation (DESIGN.md verdicts: UNSUPPORTED "say which",
// SKIP "say why", NOT_RUN "not reached"). Each answer carries its category and a reason, so a
// report never leaves a reader guessing whether a rule held, did not apply, or was never tried.
import type { TargetKind } from '../implementations/target.ts';
import type { Requirement } from '../spec/requirements/types.ts';
import type { RequirementResult } from './results.ts';
import { KERNEL_SUITES, UNJUDGEABLE } from '../properties/kernel/index.ts';
import type { KernelFamily } from '../properties/kernel/types.ts';
import { featuresNotOffered, type OfferedWords } from './offered.ts';

/** What became of one suite in this run. */
export type SuiteStatus =
  | { readonly state: 'complete'; readonly runs: number }
  /** Started, but the budget, a signal or --stop-at-first-failure ended it early. */
  | { readonly state: 'cut'; readonly runs: number; readonly why: string }
  | { readonly state: 'not-started'; readonly why: string }
  /** The target lacks what the suite needs: the feature names. */
  | { readonly state: 'unsupported'; readonly missing: readonly string[] }
  | { readonly state: 'wrong-device'; readonly deviceTypes: readonly string[] }
  /** A driver-step suite on a target reached only through a kernel interface the harness does not speak. */
  | { readonly state: 'wrong-transport'; readonly transport: string };

export interface CoverageSuite {
  readonly name: string;
  readonly requirements: readonly string[];
  readonly status: SuiteStatus;
}

/** Requirement families that only a kernel target (vhost, vhost-vdpa, VDUSE) can break. */
const KERNEL_FAMILIES = ['vhost', 'vhost-vdpa', 'vduse'];
/**
 * Which requirement families a kernel target is judged on. vhost-vdpa runs the generic vhost core's
 * ioctls and IOTLB writes (drivers/vhost/vdpa.c hands unknown ioctls to vhost_dev_ioctl and writes to
 * vhost_chr_write_iter), so its targets answer for both. A VDUSE target answers for the VDUSE interface:
 * its driver side is vhost-vdpa, whose rules the vdpa_sim targets judge with a parent of the kernel's own.
 */
const FAMILY_RULES: Readonly<Record<KernelFamily, readonly string[]>> = {
  'vhost-net': ['vhost'],
  'vhost-vdpa': ['vhost', 'vhost-vdpa'],
  vduse: ['vduse'],
};
const JUDGED_ON: Readonly<Record<string, string>> = { vhost: 'guest:vhost-net', 'vhost-vdpa': 'vhost-vdpa:/dev/vhost-vdpa-N, guest:vdpa-sim-net and guest:vdpa-sim-blk', vduse: 'guest:vduse-blk and guest:vduse-net' };
/** Device-specific families, by device type. */
const DEVICE_FAMILIES: readonly string[] = ['blk', 'net', 'fs'];

/** A suite lists a requirement itself or one of its ancestors (ids are hierarchical). */
export function covers(listed: readonly string[], id: string): boolean {
  return listed.some((l) => l === id || id.startsWith(`${l}.`));
}

type Unjudged = Pick<RequirementResult, 'verdict' | 'category' | 'detail'>;

/** `children`: ids in the catalogue below this one (a split catch-all judges through them). */
export function unjudged(req: Requirement, target: { kind: TargetKind; deviceType: string; family?: KernelFamily; offered?: OfferedWords }, suites: readonly CoverageSuite[], children: readonly string[] = []): Unjudged {
  const na = (detail: string): Unjudged => ({ verdict: 'SKIP', category: 'not-applicable', detail });
  if (req.role === 'driver' || req.role === 'frontend') return na(`a ${req.role} rule: the suite itself follows it; a ${target.kind} target is not judged against it`);
  if (target.kind !== 'kernel' && KERNEL_FAMILIES.some((f) => covers([f], req.id))) {
    return na(`a kernel-target rule (vhost / vhost-vdpa / VDUSE ioctls): not applicable to a ${target.kind === 'socket' ? 'vhost-user' : 'simulated'} target`);
  }
  if (target.family) {
    if (covers(['vhost-user'], req.id)) return na(`a vhost-user protocol rule: the target is reached through ${target.family} ioctls`);
    const own = FAMILY_RULES[target.family];
    if (KERNEL_FAMILIES.some((f) => covers([f], req.id)) && !covers(own, req.id)) {
      const family = req.id.split('.')[0]!;
      return na(`a ${family} rule: a ${target.family} target is judged on the ${FAMILY_RULES[target.family].join(' and ')} interface; ${family} rules are judged on ${JUDGED_ON[family]}`);
    }
    const why = UNJUDGEABLE[target.family][req.id];
    if (why !== undefined) return { verdict: 'SKIP', category: 'not-covered', detail: `cannot be judged from user space on this target: ${why}` };
  }
  // A rule for a feature the target reported it does not offer cannot apply to it (virtio 1.2 §2.2: features are offered, then negotiated).
  const notOffered = featuresNotOffered(req.features, target.offered ?? {});
  if (notOffered.length > 0) return { verdict: 'UNSUPPORTED', category: 'unsupported', detail: `the target does not offer ${notOffered.join(', ')}, which this rule needs` };
  const device = DEVICE_FAMILIES.find((d) => covers([`virtio.${d}`], req.id));
  if (device && device !== target.deviceType) return na(`a virtio-${device} rule: the target is a ${target.deviceType} device`);
  if (children.length > 0) return { verdict: 'SKIP', category: 'not-covered', detail: `judged through its more specific rules: ${children.join(', ')}` };
  const mine = suites.filter((s) => covers(s.requirements, req.id));
  if (mine.length === 0) {
    // A kernel rule another interface's suites judge: say where, so the gap on this target is not mistaken for none at all.
    const elsewhere = target.family ? [...new Set(KERNEL_SUITES.filter((k) => !k.families.includes(target.family!) && covers(k.requirements, req.id)).flatMap((k) => k.families))] : [];
    if (elsewhere.length > 0) return { verdict: 'SKIP', category: 'not-covered', detail: `judged on ${elsewhere.join(' and ')} targets; no ${target.family} suite checks it` };
    return { verdict: 'SKIP', category: 'not-covered', detail: 'no suite checks this requirement yet' };
  }
  const reachable = mine.filter((s) => s.status.state !== 'wrong-transport');
  if (reachable.length === 0) return na(`checked only by suites that drive vhost driver steps; the target is reached through ${mine[0]!.status.state === 'wrong-transport' ? mine[0]!.status.transport : 'another interface'}`);
  const forDevice = reachable.filter((s) => s.status.state !== 'wrong-device');
  if (forDevice.length === 0) return na(`checked only on ${[...new Set(mine.flatMap((s) => (s.status.state === 'wrong-device' ? s.status.deviceTypes : [])))].join('/')} devices; the target is a ${target.deviceType} device`);
  const pending = forDevice.filter((s) => s.status.state === 'cut' || s.status.state === 'not-started');
  if (pending.length > 0) {
    const parts = pending.map((s) => (s.status.state === 'cut' ? `${s.name} cut short after ${s.status.runs} runs (${s.status.why})` : `${s.name} not started (${s.status.state === 'not-started' ? s.status.why : ''})`));
    return { verdict: 'NOT_RUN', category: 'not-reached', detail: `not reached: ${parts.join('; ')}` };
  }
  const lacking = forDevice.filter((s) => s.status.state === 'unsupported');
  if (lacking.length === forDevice.length) {
    const names = [...new Set(lacking.flatMap((s) => (s.status.state === 'unsupported' ? s.status.missing : [])))];
    return { verdict: 'UNSUPPORTED', category: 'unsupported', detail: `the target does not offer ${names.join(', ')}, which ${lacking.map((s) => s.name).join(', ')} needs` };
  }
  const ran = forDevice.filter((s) => s.status.state === 'complete');
  return { verdict: 'SKIP', category: 'not-covered', detail: `${ran.map((s) => `${s.name} (${s.status.state === 'complete' ? s.status.runs : 0} runs)`).join(', ')} ran to the end, but no step exercised this requirement` };
}

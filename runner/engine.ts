// Runs suites against a target and folds every observation into one verdict
// per requirement. Each suite is a fast-check property over step sequences;
// a failure is shrunk, replayed once more to capture its evidence, saved as
// a regression, and the suite runs again with that requirement set aside so
// one bug does not hide the others.
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import type { Profile } from '../model/profile.ts';
import { CheckFailure, Harness } from '../properties/harness.ts';
import type { Observation } from '../properties/oracles/observation.ts';
import { runRawCase } from '../properties/raw/rawSuite.ts';
import { seedCases } from '../properties/raw/rawCases.ts';
import { formatStep, type Step } from '../properties/steps.ts';
import { type Suite, SUITES } from '../properties/suites/index.ts';
import { ALL_REQUIREMENTS, requirementById } from '../spec/requirements/index.ts';
import type { Requirement } from '../spec/requirements/types.ts';
import { hasFeature } from '../spec/virtio/features.ts';
import { type Verdict, worstVerdict } from '../spec/verdicts.ts';
import { summarize } from './expectations.ts';
import { probeTarget, profileRecord } from './profile.ts';
import { saveRegression, savedCasesFor } from './regressions.ts';
import { boundShrinking, OUT_OF_PROCESS_SHRINK_MS, OUT_OF_PROCESS_SHRINK_RUNS } from './shrinkBudget.ts';
import type { Deviation, Failure, RequirementResult, RunResult, SuiteRun } from './results.ts';
import { selectRequirements } from './selectors.ts';
import { formatTargetSpec, parseTargetSpec, targetName } from './targetSpec.ts';
import { type TargetFactory, targetFactory } from './targets.ts';
import type { TargetInfo } from '../implementations/target.ts';
import { KERNEL_SUITES } from '../properties/kernel/index.ts';
import { runKernelSteps } from '../properties/kernel/run.ts';
import type { OfferedWords } from './offered.ts';
import type { KernelProfile, KernelStep, KernelSuite } from '../properties/kernel/types.ts';
import { type CoverageSuite, covers, type SuiteStatus, unjudged } from './unjudged.ts';
import { FEATURES } from '../spec/features.ts';
import { VHOST_F_LOG_ALL } from '../spec/vhost/types.ts';
import { PROTOCOL_FEATURE_NAMES } from '../spec/vhostUser/protocolFeatures.ts';

export interface Progress {
  readonly suite: string;
  readonly requirement?: string;
  readonly done: number;
  readonly total: number;
  readonly failures: number;
  /** Requirements failing so far, so a caller holding expectations can tell new failures from known deviations. */
  readonly failing?: readonly string[];
  readonly elapsedMs: number;
}

export interface RunOptions {
  readonly targetSpec: string;
  readonly selectors: readonly string[];
  /** Run only the suites of these names (`run --suite`); default every suite the selectors reach. */
  readonly suites?: readonly string[];
  readonly seed: number;
  readonly runs: number;
  readonly timeBudgetS?: number;
  readonly strict: boolean;
  /** How long a socket back-end gets to answer one message (default: the front-end's, 2000 ms). */
  readonly replyTimeoutMs?: number;
  /** Where shrunk counterexamples are saved, and replayed from first. */
  readonly regressionDir: string;
  /** Saved cases replayed as well but never written to: the project's committed corpus. */
  readonly corpusDir?: string;
  /** Replay saved regressions for this target before generating (default true). */
  readonly replayRegressions?: boolean;
  /** Save new counterexamples (default true). */
  readonly saveRegressions?: boolean;
  /** End the run at the first captured failure (used to time mutant detection). */
  readonly stopAtFirstFailure?: boolean;
  /** End the run at the first captured failure under one of these ids or their descendants (a mutant's own requirements). */
  readonly stopAtFailureOn?: readonly string[];
  readonly onProgress?: (p: Progress) => void;
  /** One line about work that is not a suite (building or booting a guest), for the terminal. */
  readonly onNote?: (line: string) => void;
  readonly signal?: AbortSignal;
  /** The kernel suites a kernel target runs (default: every one in properties/kernel); tests give their own. */
  readonly kernelSuites?: readonly KernelSuite[];
}

export const TOOL_VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/**
 * Ends a property's runs (and its shrinking) once `signal` aborts. The simulated target answers
 * through already-resolved promises, so without a yield to the macrotask queue before each run
 * a SIGINT handler would not run until the whole suite was done.
 */
function stopOnAbort<T>(signal: AbortSignal | undefined): fc.Plugin<T> {
  return () => ({
    decorateRun: (nestedRun) => async (value) => {
      await new Promise((resolve) => setImmediate(resolve));
      if (signal?.aborted) return new fc.PreconditionFailure(true);
      return nestedRun(value);
    },
  });
}

/** At most this many distinct failing requirements are hunted per suite. */
const MAX_ROUNDS = 12;

/** Verdicts that are no deviation: nothing to fingerprint. */
const PASSING: ReadonlySet<Verdict> = new Set<Verdict>(['PASS', 'SKIP', 'UNSUPPORTED', 'NOT_RUN']);

function failing(v: Verdict, strict: boolean): boolean {
  return v === 'FAIL' || v === 'CRASH' || v === 'TIMEOUT' || v === 'ERROR' || (strict && v === 'NON_STRICT');
}

interface Tally {
  verdict: Verdict;
  detail?: string;
  suites: Set<string>;
  failure?: Failure;
  /** Distinct deviations by fingerprint (verdict and trigger), first detail kept. */
  deviations: Map<string, Deviation>;
}

/** A deviation's identity within its requirement: what an expectation entry matches (runner/expectations.ts). */
function fingerprint(o: Pick<Observation, 'requirement' | 'verdict' | 'trigger'>): string {
  return `${o.requirement}|${o.verdict}|${o.trigger ?? '?'}`;
}

/** Accumulates observations across suites, runs and replays. */
class Ledger {
  readonly byId = new Map<string, Tally>();
  add(o: Observation, suite: string): void {
    const t: Tally = this.byId.get(o.requirement) ?? { verdict: 'SKIP' as Verdict, suites: new Set<string>(), deviations: new Map() };
    const worse = worstVerdict(t.verdict, o.verdict);
    if (worse !== t.verdict) t.detail = o.detail;
    t.verdict = worse;
    t.suites.add(suite);
    if (!PASSING.has(o.verdict)) {
      const key = fingerprint(o);
      if (!t.deviations.has(key)) t.deviations.set(key, { verdict: o.verdict, trigger: o.trigger ?? '?', detail: o.detail });
    }
    this.byId.set(o.requirement, t);
  }
  setFailure(id: string, f: Failure): void {
    const t = this.byId.get(id);
    if (t && !t.failure) t.failure = f;
  }
}

export interface StepsOutcome {
  readonly observations: readonly Observation[];
  readonly failure?: CheckFailure;
}

/**
 * Runs concrete steps on a fresh target; stops at the first observation `failsRun` rejects. Kernel
 * steps are run by the kernel suite named `suite` (from `kernelSuites`, default every one).
 */
export async function runSteps(
  factory: TargetFactory,
  profile: Profile | undefined,
  steps: readonly Step[],
  failsRun: (o: Observation) => boolean,
  suite?: string,
  kernelSuites: readonly KernelSuite[] = KERNEL_SUITES,
): Promise<StepsOutcome> {
  if (steps.some((s) => s.t === 'kernel')) return runKernelCase(factory, steps, failsRun, suite, kernelSuites);
  if (steps.some((s) => s.t === 'raw')) return runRawSteps(factory, steps, failsRun);
  if (!profile) throw new Error(`${factory.spec.kind} target: no driver-step profile (only kernel suites run on it)`);
  const target = await factory.open();
  const h = new Harness(target, profile, { settleMs: factory.settleMs, failsRun });
  try {
    for (const s of steps) await h.exec(s);
    await h.finish();
    return { observations: h.observations };
  } catch (e) {
    if (e instanceof CheckFailure) return { observations: h.observations, failure: e };
    throw e;
  } finally {
    await target.close();
  }
}

/** A kernel suite's case, on the running guest the factory keeps (booted again after a crash or hang). */
async function runKernelCase(factory: TargetFactory, steps: readonly Step[], failsRun: (o: Observation) => boolean, name: string | undefined, kernelSuites: readonly KernelSuite[]): Promise<StepsOutcome> {
  if (!factory.kernel) throw new Error(`kernel steps cannot run on a ${factory.spec.kind} target`);
  const suite = kernelSuites.find((k) => k.name === name);
  if (!suite) throw new Error(`no kernel suite named '${name ?? '(none)'}' in this build`);
  if (!steps.every((s): s is KernelStep => s.t === 'kernel')) throw new Error('kernel steps cannot be mixed with driver steps');
  return runKernelSteps(suite, await factory.kernel.context(), steps, failsRun);
}

/** Raw frames each take sessions of their own: the frame's, then a fresh one proving the back-end survived. */
async function runRawSteps(factory: TargetFactory, steps: readonly Step[], failsRun: (o: Observation) => boolean): Promise<StepsOutcome> {
  const observations: Observation[] = [];
  for (const [i, s] of steps.entries()) {
    if (s.t !== 'raw') throw new Error('raw steps cannot be mixed with session steps');
    const r = await runRawCase(() => factory.open(), s.frame);
    for (const o of r.observations) {
      observations.push(o);
      if (failsRun(o)) return { observations, failure: new CheckFailure(o, ['error reply → PASS', 'connection closed → PASS', 'no reply (ignored) → PASS', 'success reply to a frame that must be refused → FAIL', 'back-end died → CRASH'], `${r.result.outcome}: ${o.detail}`, i) };
    }
  }
  return { observations };
}

function replayCommand(file: string | undefined, spec: string): string {
  return file ? `npx vhostcheck replay ${file}` : `npx vhostcheck run --target ${spec}`;
}

function toFailure(cf: CheckFailure, steps: readonly Step[], seed: number, path: string | undefined, spec: string, file?: string): Failure {
  return {
    requirementId: cf.observation.requirement,
    expected: cf.expected.length ? cf.expected : ['PASS'],
    actual: `${cf.observation.verdict}: ${cf.actual}`,
    steps: steps.slice(0, cf.stepIndex + 1).map((s, i) => `${i + 1}. ${formatStep(s)}`),
    replayCommand: replayCommand(file, spec),
    ...(file !== undefined && { regressionFile: file }),
    seed,
    ...(path !== undefined && { path }),
  };
}

interface SuiteContext {
  readonly factory: TargetFactory;
  /** The driver-step profile; absent on a kernel target only kernel suites can drive. */
  readonly profile: Profile | undefined;
  readonly kernelSuites: readonly KernelSuite[];
  readonly opts: RunOptions;
  readonly ledger: Ledger;
  /**
   * Fingerprints (requirement, verdict, trigger) with a captured failure: set aside so other bugs
   * surface, including another deviation under the same requirement.
   */
  readonly known: Set<string>;
  readonly deadline: number;
  readonly spec: string;
  readonly name: string;
  failures: number;
  readonly started: number;
  stop: boolean;
  /** The target did not answer the probe: nothing can be reached. */
  unprobed?: boolean;
  /** What became of each suite, for the reason a requirement without observations gets. */
  readonly status: Map<string, SuiteStatus>;
  /** The target stopped answering, in a fresh session too. */
  hung?: boolean;
  /** Shrink attempts allowed per failure (runner/shrinkBudget.ts); unbounded when absent (in process). */
  readonly shrinkRuns?: number;
}

/** Why the run is ending now, or null while it may go on. */
function stopReason(ctx: SuiteContext): string | null {
  if (ctx.opts.signal?.aborted) return 'interrupted';
  if (Date.now() >= ctx.deadline) return 'time budget exhausted';
  if (ctx.unprobed) return 'the target did not answer the probe';
  if (ctx.hung) return 'the target stopped answering, in a fresh session too';
  if (ctx.stop) return 'stopped at the first failure';
  return null;
}

/** What runSuite needs of a suite: its steps, and how to tell a hung target from a hung case. */
interface Runnable {
  readonly name: string;
  readonly requirements: readonly string[];
  readonly arbitrary: fc.Arbitrary<Step[]>;
  /** After a TIMEOUT: whether a fresh session (a fresh guest for a kernel target) still answers. */
  stillAnswers(): Promise<boolean>;
}

function driverRunnable(suite: Suite, profile: Profile, factory: TargetFactory): Runnable {
  return { name: suite.name, requirements: suite.requirements, arbitrary: suite.scenario(profile), stillAnswers: async () => !(await probeTarget(factory)).failure };
}

function kernelRunnable(suite: KernelSuite, kprofile: KernelProfile, factory: TargetFactory): Runnable {
  return {
    name: suite.name,
    requirements: suite.requirements,
    arbitrary: suite.scenario(kprofile),
    stillAnswers: async () => factory.kernel!.context().then(() => true, () => false),
  };
}

async function runSuite(suite: Runnable, ctx: SuiteContext, index: number, total: number): Promise<SuiteRun> {
  const t0 = Date.now();
  let runs = 0;
  let steps = 0;
  let cut: string | null = null;
  const failsRun = (o: Observation) => failing(o.verdict, ctx.opts.strict) && !ctx.known.has(fingerprint(o));
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const remaining = ctx.deadline - Date.now();
    cut = stopReason(ctx);
    if (cut) break;
    const property = fc.asyncProperty(suite.arbitrary, async (scenario) => {
      // Once the target has stopped answering, shrinking would only wait out one reply timeout per attempt.
      if (ctx.opts.signal?.aborted || ctx.hung) return;
      runs++;
      steps += scenario.length;
      const out = await runSteps(ctx.factory, ctx.profile, scenario, failsRun, suite.name, ctx.kernelSuites);
      // What a case saw after an abort began (a back-end being stopped) is not a verdict.
      if (ctx.opts.signal?.aborted) return;
      if (out.failure?.observation.verdict === 'TIMEOUT' && !(await suite.stillAnswers())) ctx.hung = true;
      // A failing observation enters the ledger only with its shrunk, replayed case (below);
      // shrink attempts may fail on other requirements, which later rounds then hunt properly.
      for (const o of out.observations) if (!failsRun(o)) ctx.ledger.add(o, suite.name);
      if (out.failure) throw out.failure;
    });
    const details = await fc.check(property, {
      seed: ctx.opts.seed + round,
      numRuns: ctx.opts.runs,
      interruptAfterTimeLimit: remaining,
      markInterruptAsFailure: false,
      plugins: [stopOnAbort(ctx.opts.signal), ...(ctx.shrinkRuns !== undefined ? [boundShrinking<[Step[]]>(ctx.shrinkRuns, OUT_OF_PROCESS_SHRINK_MS)] : [])],
    });
    const failingIds = [...ctx.ledger.byId].flatMap(([id, t]) => (failing(t.verdict, ctx.opts.strict) ? [id] : []));
    ctx.opts.onProgress?.({ suite: suite.name, done: index + 1, total, failures: ctx.failures, failing: failingIds, elapsedMs: Date.now() - ctx.started });
    // A counterexample shrunk while an abort was under way is not replayed, saved or judged.
    if (details.interrupted || ctx.opts.signal?.aborted) {
      cut = stopReason(ctx) ?? 'time budget exhausted';
      break;
    }
    if (!details.failed || !details.counterexample) break;
    if (ctx.opts.stopAtFirstFailure) ctx.stop = true;
    const scenario = details.counterexample[0];
    // Replay the shrunk case once more: deterministic, and it yields the evidence to print (a hung target has given it already).
    const again: Partial<StepsOutcome> = ctx.hung ? {} : await runSteps(ctx.factory, ctx.profile, scenario, failsRun, suite.name, ctx.kernelSuites);
    const cf = again.failure ?? (details.errorInstance instanceof CheckFailure ? details.errorInstance : undefined);
    if (!cf) {
      ctx.ledger.add({ requirement: suite.requirements[0], verdict: 'ERROR', detail: `suite error: ${String(details.errorInstance)}` }, suite.name);
      break;
    }
    const id = cf.observation.requirement;
    ctx.known.add(fingerprint(cf.observation));
    ctx.failures++;
    if (ctx.opts.stopAtFailureOn && covers(ctx.opts.stopAtFailureOn, id)) ctx.stop = true;
    let file: string | undefined;
    if (ctx.opts.saveRegressions !== false) {
      file = await saveRegression(ctx.opts.regressionDir, ctx.name, {
        format: 1, tool: `vhostcheck ${TOOL_VERSION}`, target: ctx.spec, suite: suite.name, requirement: id, seed: details.seed, path: details.counterexamplePath ?? undefined,
        createdAt: new Date().toISOString(),
        failure: { verdict: cf.observation.verdict, detail: cf.observation.detail, expected: cf.expected, actual: cf.actual },
        steps: scenario.slice(0, cf.stepIndex + 1),
      });
    }
    ctx.ledger.add(cf.observation, suite.name);
    ctx.ledger.setFailure(id, toFailure(cf, scenario, details.seed, details.counterexamplePath ?? undefined, ctx.spec, file));
    // A target that answers no fresh session either cannot be judged on anything else.
    if (ctx.hung) ctx.stop = true;
    if (ctx.stop) {
      cut = stopReason(ctx);
      break;
    }
  }
  ctx.status.set(suite.name, cut ? { state: 'cut', runs, why: cut } : { state: 'complete', runs });
  return { name: suite.name, runs, steps, durationMs: Date.now() - t0 };
}

/**
 * The raw-message robustness suite (socket targets): every hand-written hostile frame of
 * properties/raw, each on a fresh session, each failure saved and replayable like any other.
 */
async function runRawMessages(ctx: SuiteContext, queues: number, selected: ReadonlySet<string>): Promise<SuiteRun> {
  const t0 = Date.now();
  const cases = seedCases(queues).filter((c) => selected.has(c.requirement) || selected.has(RAW_SURVIVES));
  let runs = 0;
  let cut: string | null = null;
  for (const frame of cases) {
    cut = stopReason(ctx);
    if (cut) break;
    runs++;
    const steps: Step[] = [{ t: 'raw', frame }];
    const failsRun = (o: Observation) => failing(o.verdict, ctx.opts.strict);
    const out = await runSteps(ctx.factory, ctx.profile, steps, failsRun);
    if (ctx.opts.signal?.aborted) break;
    for (const o of out.observations) if (!failsRun(o)) ctx.ledger.add(o, 'raw-messages');
    if (!out.failure) continue;
    const cf = out.failure;
    const id = cf.observation.requirement;
    ctx.failures++;
    ctx.ledger.add(cf.observation, 'raw-messages');
    // One saved case per requirement: the first (seed order is deterministic), the rest are tallied.
    if (ctx.ledger.byId.get(id)?.failure) continue;
    const file = ctx.opts.saveRegressions === false ? undefined : await saveRegression(ctx.opts.regressionDir, ctx.name, {
      format: 1, tool: `vhostcheck ${TOOL_VERSION}`, target: ctx.spec, suite: 'raw-messages', requirement: id, seed: ctx.opts.seed, createdAt: new Date().toISOString(),
      failure: { verdict: cf.observation.verdict, detail: cf.observation.detail, expected: cf.expected, actual: cf.actual }, steps,
    });
    ctx.ledger.setFailure(id, toFailure(cf, steps, ctx.opts.seed, undefined, ctx.spec, file));
  }
  ctx.status.set(RAW_SUITE, cut ? { state: 'cut', runs, why: cut } : { state: 'complete', runs });
  return { name: RAW_SUITE, runs, steps: runs, durationMs: Date.now() - t0 };
}

/** Replays saved regressions for this target first (DESIGN.md "corpus/"). */
async function replaySaved(ctx: SuiteContext): Promise<void> {
  const dirs = [ctx.opts.regressionDir, ...(ctx.opts.corpusDir !== undefined ? [ctx.opts.corpusDir] : [])];
  for (const { file, r } of await savedCasesFor(dirs, ctx.spec)) {
    if (ctx.opts.signal?.aborted) break;
    // A case first runs to its own requirement's failure (or a crash or hang), so a deviation every
    // set-up shows (DPDK's feature offer) does not hide the one the file reproduces. Only when its own
    // failure is gone is the first other new failure on its steps captured instead.
    const stopsAt = (own: boolean) => (o: Observation) =>
      failing(o.verdict, ctx.opts.strict) && !ctx.known.has(fingerprint(o)) && (!own || covers([r.requirement], o.requirement) || (o.verdict !== 'FAIL' && o.verdict !== 'NON_STRICT'));
    let out = await runSteps(ctx.factory, ctx.profile, r.steps, stopsAt(true), r.suite, ctx.kernelSuites);
    if (!out.failure && out.observations.some(stopsAt(false))) out = await runSteps(ctx.factory, ctx.profile, r.steps, stopsAt(false), r.suite, ctx.kernelSuites);
    if (ctx.opts.signal?.aborted) break;
    for (const o of out.observations) ctx.ledger.add(o, `replay:${r.suite}`);
    if (out.failure) {
      const id = out.failure.observation.requirement;
      ctx.known.add(fingerprint(out.failure.observation));
      ctx.failures++;
      ctx.ledger.add(out.failure.observation, `replay:${r.suite}`);
      ctx.ledger.setFailure(id, toFailure(out.failure, r.steps, r.seed, r.path, ctx.spec, file));
    }
  }
}

/** A suite runs when any requirement it judges is selected, its ids' descendants included, and `run --suite` did not leave it out. */
function selectedSuites(selected: readonly Requirement[], names: readonly string[] | undefined): Suite[] {
  return SUITES.filter((s) => (names === undefined || names.includes(s.name)) && selected.some((r) => covers(s.requirements, r.id)));
}

function selectedKernelSuites(all: readonly KernelSuite[], selected: readonly Requirement[], names: readonly string[] | undefined): KernelSuite[] {
  return all.filter((s) => (names === undefined || names.includes(s.name)) && selected.some((r) => covers(s.requirements, r.id)));
}

const RAW_SUITE = 'raw-messages';
const RAW_SURVIVES = 'vhost-user.robust.survives';

/** Feature names for a suite's `needs` (virtio bits) and `needsProtocol` (vhost-user protocol bits) the target lacks. */
function missingFeatures(suite: Suite, profile: Profile): string[] {
  const virtio = (suite.needs ?? []).filter((b) => !hasFeature(profile.offeredFeatures, b)).map((b) => (b === VHOST_F_LOG_ALL ? 'VHOST_F_LOG_ALL' : `VIRTIO_F_${FEATURES.find((f) => f.bit === b)?.name ?? `bit ${b}`}`));
  const protocol = (suite.needsProtocol ?? []).filter((b) => !hasFeature(profile.offeredProtocolFeatures, b)).map((b) => `VHOST_USER_PROTOCOL_F_${PROTOCOL_FEATURE_NAMES[b] ?? `bit ${b}`}`);
  return [...virtio, ...protocol];
}

/**
 * A pass seen only by suites that were cut short, with no suite covering it run to the end: the run
 * did not judge it as asked, so it is NOT_RUN, and the gate stays red (DESIGN.md "a run cut short exits 1").
 */
function cutPass(t: Tally, id: string, status: ReadonlyMap<string, SuiteStatus>, coverage: readonly CoverageSuite[]): boolean {
  if (t.verdict !== 'PASS') return false;
  const seenBy = [...t.suites].map((n) => status.get(n));
  if (!seenBy.every((st) => st?.state === 'cut')) return false;
  return !coverage.some((s) => s.status.state === 'complete' && covers(s.requirements, id));
}

export async function executeRun(opts: RunOptions): Promise<RunResult> {
  const started = Date.now();
  const spec = parseTargetSpec(opts.targetSpec);
  const specText = formatTargetSpec(spec);
  const selected = selectRequirements(opts.selectors, ALL_REQUIREMENTS);
  const factory = targetFactory(spec, { replyTimeoutMs: opts.replyTimeoutMs, ...(opts.onNote && { note: opts.onNote }) });
  try {
    return await runWithFactory(opts, factory, selected, specText, targetName(spec), started);
  } finally {
    await factory.dispose();
  }
}

/** What the target said about itself: the driver-step profile where the harness can drive it, the kernel profile on a kernel target. */
export interface TargetProbe {
  readonly info: TargetInfo;
  readonly profile?: Profile;
  readonly kernelProfile?: KernelProfile;
  readonly failure?: Observation;
}

export async function probeForRun(factory: TargetFactory): Promise<TargetProbe> {
  const kernel = factory.kernel;
  if (!kernel) return probeTarget(factory);
  const kernelProfile = await kernel.profile();
  if (kernel.drivesSteps) return { ...(await probeTarget(factory)), kernelProfile };
  const info: TargetInfo = { name: kernelTargetName(factory), kind: 'kernel', version: kernelProfile.kernelRelease, deviceType: kernelProfile.deviceType, queues: 0, maxQueueSize: 0 };
  return { info, kernelProfile };
}

function kernelTargetName(factory: TargetFactory): string {
  return `linux ${factory.kernel!.family} (${formatTargetSpec(factory.spec)})`;
}

/** The feature words the target reported: the driver-step probe's, else the kernel probe's `features` and `backendFeatures`. */
function offeredWords(profile: Profile | undefined, kernel: KernelProfile | undefined): OfferedWords {
  const fact = (name: string) => (typeof kernel?.facts[name] === 'bigint' ? (kernel.facts[name] as bigint) : undefined);
  const features = profile?.offeredFeatures ?? fact('features');
  const backendFeatures = fact('backendFeatures');
  return { ...(features !== undefined && { features }), ...(backendFeatures !== undefined && { backendFeatures }) };
}

/** The kernel profile as the report records it: the family, the kernel, then every answer the probe got. */
function kernelProfileRecord(k: KernelProfile): Record<string, string | number | boolean> {
  const facts = Object.entries(k.facts).map(([key, v]) => [key, typeof v === 'bigint' ? `0x${v.toString(16)}` : v] as const);
  return { family: k.family, kernelRelease: k.kernelRelease, ...Object.fromEntries(facts) };
}

/** executeRun on a factory the caller made: a guest factory with a probe of its own, in the fault tests. */
export async function executeRunOn(opts: RunOptions, factory: TargetFactory): Promise<RunResult> {
  return runWithFactory(opts, factory, selectRequirements(opts.selectors, ALL_REQUIREMENTS), formatTargetSpec(factory.spec), targetName(factory.spec), Date.now());
}

async function runWithFactory(opts: RunOptions, factory: TargetFactory, selected: readonly Requirement[], specText: string, name: string, started: number): Promise<RunResult> {
  const { info, profile, kernelProfile, failure: probeFailure } = await probeForRun(factory);
  const kernelSuites = opts.kernelSuites ?? KERNEL_SUITES;
  const ledger = new Ledger();
  const ctx: SuiteContext = {
    factory, profile, kernelSuites, opts, ledger, known: new Set(), spec: specText, name, failures: 0, started, stop: false, status: new Map(),
    ...(info.kind !== 'simulated' && { shrinkRuns: OUT_OF_PROCESS_SHRINK_RUNS }),
    deadline: opts.timeBudgetS !== undefined ? started + opts.timeBudgetS * 1000 : Number.POSITIVE_INFINITY,
  };
  // A target that did not answer the probe is judged on that alone: nothing else can be reached.
  if (probeFailure) {
    ledger.add(probeFailure, 'probe');
    ctx.failures++;
    ctx.stop = true;
    ctx.unprobed = true;
  }
  if (opts.replayRegressions !== false && !ctx.stop) await replaySaved(ctx);
  const suites = selectedSuites(selected, opts.suites);
  const suiteRuns: SuiteRun[] = [];
  const ids = new Set(selected.map((r) => r.id));
  // Socket targets: the raw frames first. They are few and quick, and a time budget spent on generation must not skip them.
  // Out-of-range index cases start at the bound the back-end itself reports (profile.vringLimit).
  const rawRequirements = info.kind === 'socket' && profile ? [...new Set([...seedCases(profile.vringLimit).map((c) => c.requirement), RAW_SURVIVES])] : [];
  if (info.kind === 'socket' && profile) {
    const why = stopReason(ctx);
    if (why) ctx.status.set(RAW_SUITE, { state: 'not-started', why });
    else suiteRuns.push(await runRawMessages(ctx, profile.vringLimit, ids));
  }
  const kernels = kernelProfile ? selectedKernelSuites(kernelSuites, selected, opts.suites).filter((k) => k.families.includes(kernelProfile.family)) : [];
  const total = (profile ? suites.length : 0) + kernels.length;
  // A target the harness cannot drive (a kernel interface with no driver-step adapter) runs its kernel suites only.
  const driven = profile ? suites : [];
  for (const suite of suites) if (!profile) ctx.status.set(suite.name, { state: 'wrong-transport', transport: `${kernelProfile!.family} ioctls` });
  // Records in ctx.status why a suite does not start (true), checked in the same order for both kinds of suite.
  const heldBack = (name: string, transport: string | null, deviceTypes: readonly string[], deviceType: string, missing: readonly string[]): boolean => {
    const why = stopReason(ctx);
    const status: SuiteStatus | null =
      transport !== null ? { state: 'wrong-transport', transport }
      : !deviceTypes.includes(deviceType) ? { state: 'wrong-device', deviceTypes }
      : missing.length > 0 ? { state: 'unsupported', missing }
      : why ? { state: 'not-started', why }
      : null;
    if (status) ctx.status.set(name, status);
    return status !== null;
  };
  for (const [i, suite] of driven.entries()) {
    const transport = suite.transports.includes(profile!.transport) ? null : kernelProfile ? `${kernelProfile.family} ioctls` : profile!.transport;
    if (heldBack(suite.name, transport, suite.deviceTypes, profile!.deviceType, missingFeatures(suite, profile!))) continue;
    suiteRuns.push(await runSuite(driverRunnable(suite, profile!, ctx.factory), ctx, i, total));
  }
  for (const [i, suite] of kernels.entries()) {
    const missing = suite.unsupported?.(kernelProfile!) ?? null;
    if (heldBack(suite.name, null, suite.deviceTypes, kernelProfile!.deviceType, missing === null ? [] : [missing])) continue;
    suiteRuns.push(await runSuite(kernelRunnable(suite, kernelProfile!, ctx.factory), ctx, driven.length + i, total));
  }
  const coverage: CoverageSuite[] = [
    // Suites `run --suite` left out are out of this run like unselected requirements: not a run cut short.
    ...SUITES.filter((s) => opts.suites === undefined || opts.suites.includes(s.name)).map((s) => ({ name: s.name, requirements: s.requirements, status: ctx.status.get(s.name) ?? { state: 'not-started' as const, why: 'not selected' } })),
    ...(kernelProfile
      ? kernelSuites
          .filter((k) => k.families.includes(kernelProfile.family) && (opts.suites === undefined || opts.suites.includes(k.name)))
          .map((k) => ({ name: k.name, requirements: k.requirements, status: ctx.status.get(k.name) ?? { state: 'not-started' as const, why: 'not selected' } }))
      : []),
    ...(info.kind === 'socket' ? [{ name: RAW_SUITE, requirements: rawRequirements, status: ctx.status.get(RAW_SUITE)! }] : []),
  ];
  // What the kernel suites of this target say cannot apply to this device, with why.
  const inapplicable = new Map(kernels.flatMap((k) => Object.entries(k.notApplicable?.(kernelProfile!) ?? {})));
  const results: RequirementResult[] = [];
  for (const req of selected) {
    const t = ledger.byId.get(req.id);
    if (t && cutPass(t, req.id, ctx.status, coverage)) {
      results.push({ id: req.id, verdict: 'NOT_RUN', category: 'not-reached', suites: [...t.suites], detail: `not reached in full: every suite that judged it was cut short (${[...t.suites].join(', ')}); what it saw passed`, unexpected: false });
    } else if (t) {
      const deviations = [...t.deviations.values()].sort((a, b) => (worstVerdict(a.verdict, b.verdict) === a.verdict ? -1 : 1));
      results.push({ id: req.id, verdict: t.verdict, suites: [...t.suites], ...(t.detail && { detail: t.detail }), ...(deviations.length && { deviations }), ...(t.failure && { failure: t.failure }), unexpected: false });
    } else if (inapplicable.has(req.id)) {
      results.push({ id: req.id, verdict: 'SKIP', category: 'not-applicable', suites: [], detail: inapplicable.get(req.id)!, unexpected: false });
    } else {
      const children = ALL_REQUIREMENTS.filter((r) => r.id !== req.id && covers([req.id], r.id)).map((r) => r.id);
      results.push({ id: req.id, suites: [], ...unjudged(req, { kind: info.kind, deviceType: info.deviceType, offered: offeredWords(profile, kernelProfile), ...(kernelProfile && { family: kernelProfile.family }) }, coverage, children), unexpected: false });
    }
  }
  // An id the catalogue lacks is the suite's own fault: report it rather than lose the observation.
  for (const [id, t] of ledger.byId) {
    if (requirementById(id)) continue;
    results.push({ id, verdict: 'ERROR', suites: [...t.suites], detail: `suite bug: observation for requirement '${id}', which is not in the catalogue (${t.verdict}: ${t.detail ?? ''})`, unexpected: true });
  }
  const cutShort = [...ctx.status.values()].some((st) => st.state === 'cut' || (st.state === 'not-started' && st.why !== 'not selected'));
  return {
    schemaVersion: 1,
    tool: { name: 'vhostcheck', version: TOOL_VERSION },
    target: { spec: specText, name: info.name, kind: info.kind, version: info.version, deviceType: info.deviceType },
    profile: { ...(profile && profileRecord(profile)), ...(kernelProfile && kernelProfileRecord(kernelProfile)) },
    seed: opts.seed,
    runs: opts.runs,
    strict: opts.strict,
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    interrupted: cutShort,
    suites: suiteRuns,
    results,
    summary: summarize(results),
  };
}


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
import { listRegressions, loadRegression, saveRegression } from './regressions.ts';
import type { Failure, RequirementResult, RunResult, SuiteRun } from './results.ts';
import { selectRequirements } from './selectors.ts';
import { formatTargetSpec, parseTargetSpec, targetName } from './targetSpec.ts';
import { type TargetFactory, targetFactory } from './targets.ts';

export interface Progress {
  readonly suite: string;
  readonly requirement?: string;
  readonly done: number;
  readonly total: number;
  readonly failures: number;
  readonly elapsedMs: number;
}

export interface RunOptions {
  readonly targetSpec: string;
  readonly selectors: readonly string[];
  readonly seed: number;
  readonly runs: number;
  readonly timeBudgetS?: number;
  readonly strict: boolean;
  /** Where shrunk counterexamples are saved (default corpus/regressions). */
  readonly regressionDir: string;
  /** Replay saved regressions for this target before generating (default true). */
  readonly replayRegressions?: boolean;
  /** Save new counterexamples (default true). */
  readonly saveRegressions?: boolean;
  /** End the run at the first captured failure (used to time mutant detection). */
  readonly stopAtFirstFailure?: boolean;
  readonly onProgress?: (p: Progress) => void;
  readonly signal?: AbortSignal;
}

export const TOOL_VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** At most this many distinct failing requirements are hunted per suite. */
const MAX_ROUNDS = 12;

function failing(v: Verdict, strict: boolean): boolean {
  return v === 'FAIL' || v === 'CRASH' || v === 'TIMEOUT' || v === 'ERROR' || (strict && v === 'NON_STRICT');
}

interface Tally {
  verdict: Verdict;
  detail?: string;
  suites: Set<string>;
  failure?: Failure;
}

/** Accumulates observations across suites, runs and replays. */
class Ledger {
  readonly byId = new Map<string, Tally>();
  add(o: { requirement: string; verdict: Verdict; detail: string }, suite: string): void {
    const t = this.byId.get(o.requirement) ?? { verdict: 'SKIP' as Verdict, suites: new Set<string>() };
    const worse = worstVerdict(t.verdict, o.verdict);
    if (worse !== t.verdict) t.detail = o.detail;
    t.verdict = worse;
    t.suites.add(suite);
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

/** Runs concrete steps on a fresh target; stops at the first observation `failsRun` rejects. */
export async function runSteps(factory: TargetFactory, profile: Profile, steps: readonly Step[], failsRun: (o: Observation) => boolean): Promise<StepsOutcome> {
  if (steps.some((s) => s.t === 'raw')) return runRawSteps(factory, steps, failsRun);
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
  readonly profile: Profile;
  readonly opts: RunOptions;
  readonly ledger: Ledger;
  /** Requirements with a captured failure: set aside so other bugs surface. */
  readonly known: Set<string>;
  readonly deadline: number;
  readonly spec: string;
  readonly name: string;
  failures: number;
  readonly started: number;
  stop: boolean;
}

async function runSuite(suite: Suite, ctx: SuiteContext, index: number, total: number): Promise<SuiteRun> {
  const t0 = Date.now();
  let runs = 0;
  let steps = 0;
  const failsRun = (o: Observation) => failing(o.verdict, ctx.opts.strict) && !ctx.known.has(o.requirement);
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const remaining = ctx.deadline - Date.now();
    if (remaining <= 0 || ctx.opts.signal?.aborted) break;
    const property = fc.asyncProperty(suite.scenario(ctx.profile), async (scenario) => {
      if (ctx.opts.signal?.aborted) return;
      runs++;
      steps += scenario.length;
      const out = await runSteps(ctx.factory, ctx.profile, scenario, failsRun);
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
    });
    ctx.opts.onProgress?.({ suite: suite.name, done: index + 1, total, failures: ctx.failures, elapsedMs: Date.now() - ctx.started });
    if (!details.failed || !details.counterexample) break;
    if (ctx.opts.stopAtFirstFailure) ctx.stop = true;
    const scenario = details.counterexample[0];
    // Replay the shrunk case once more: deterministic, and it yields the evidence to print.
    const again = await runSteps(ctx.factory, ctx.profile, scenario, failsRun);
    const cf = again.failure ?? (details.errorInstance instanceof CheckFailure ? details.errorInstance : undefined);
    if (!cf) {
      ctx.ledger.add({ requirement: suite.requirements[0], verdict: 'ERROR', detail: `suite error: ${String(details.errorInstance)}` }, suite.name);
      break;
    }
    const id = cf.observation.requirement;
    ctx.known.add(id);
    ctx.failures++;
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
    if (ctx.stop) break;
  }
  return { name: suite.name, runs, steps, durationMs: Date.now() - t0 };
}

/**
 * The raw-message robustness suite (socket targets): every hand-written hostile frame of
 * properties/raw, each on a fresh session, each failure saved and replayable like any other.
 */
async function runRawMessages(ctx: SuiteContext, queues: number, selected: ReadonlySet<string>): Promise<SuiteRun> {
  const t0 = Date.now();
  const cases = seedCases(queues).filter((c) => selected.has(c.requirement) || selected.has('vhost-user.robust.survives'));
  let runs = 0;
  for (const frame of cases) {
    if (ctx.opts.signal?.aborted || Date.now() >= ctx.deadline) break;
    runs++;
    const steps: Step[] = [{ t: 'raw', frame }];
    const failsRun = (o: Observation) => failing(o.verdict, ctx.opts.strict);
    const out = await runSteps(ctx.factory, ctx.profile, steps, failsRun);
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
  return { name: 'raw-messages', runs, steps: runs, durationMs: Date.now() - t0 };
}

/** Replays saved regressions for this target first (DESIGN.md "corpus/"). */
async function replaySaved(ctx: SuiteContext): Promise<void> {
  const base = ctx.spec.replace(/(,)?mutant=[^,]*/, '').replace(/:$/, '');
  for (const file of await listRegressions(ctx.opts.regressionDir)) {
    const r = await loadRegression(file);
    if (r.target.replace(/(,)?mutant=[^,]*/, '').replace(/:$/, '') !== base) continue;
    // A case first runs to its own requirement's failure (or a crash or hang), so a deviation every
    // set-up shows (DPDK's feature offer) does not hide the one the file reproduces. Only when its own
    // failure is gone is the first other new failure on its steps captured instead.
    const stopsAt = (own: boolean) => (o: Observation) =>
      failing(o.verdict, ctx.opts.strict) && !ctx.known.has(o.requirement) && (!own || o.requirement === r.requirement || (o.verdict !== 'FAIL' && o.verdict !== 'NON_STRICT'));
    let out = await runSteps(ctx.factory, ctx.profile, r.steps, stopsAt(true));
    if (!out.failure && out.observations.some(stopsAt(false))) out = await runSteps(ctx.factory, ctx.profile, r.steps, stopsAt(false));
    for (const o of out.observations) ctx.ledger.add(o, `replay:${r.suite}`);
    if (out.failure) {
      const id = out.failure.observation.requirement;
      ctx.known.add(id);
      ctx.failures++;
      ctx.ledger.add(out.failure.observation, `replay:${r.suite}`);
      ctx.ledger.setFailure(id, toFailure(out.failure, r.steps, r.seed, r.path, ctx.spec, file));
    }
  }
}

function selectedSuites(selected: ReadonlySet<string>): Suite[] {
  return SUITES.filter((s) => s.requirements.some((id) => selected.has(id)));
}

export async function executeRun(opts: RunOptions): Promise<RunResult> {
  const started = Date.now();
  const spec = parseTargetSpec(opts.targetSpec);
  const specText = formatTargetSpec(spec);
  const selected = selectRequirements(opts.selectors, ALL_REQUIREMENTS);
  const factory = targetFactory(spec);
  try {
    return await runWithFactory(opts, factory, selected, specText, targetName(spec), started);
  } finally {
    await factory.dispose();
  }
}

async function runWithFactory(opts: RunOptions, factory: TargetFactory, selected: readonly Requirement[], specText: string, name: string, started: number): Promise<RunResult> {
  const { info, profile } = await probeTarget(factory);
  const ledger = new Ledger();
  const ctx: SuiteContext = {
    factory, profile, opts, ledger, known: new Set(), spec: specText, name, failures: 0, started, stop: false,
    deadline: opts.timeBudgetS !== undefined ? started + opts.timeBudgetS * 1000 : Number.POSITIVE_INFINITY,
  };
  if (opts.replayRegressions !== false) await replaySaved(ctx);
  const suites = selectedSuites(new Set(selected.map((r) => r.id)));
  const suiteRuns: SuiteRun[] = [];
  // Socket targets: the raw frames first. They are few and quick, and a time budget spent on generation must not skip them.
  // Out-of-range index cases start at the bound the back-end itself reports (profile.vringLimit).
  if (info.kind === 'socket' && !opts.signal?.aborted) suiteRuns.push(await runRawMessages(ctx, profile.vringLimit, new Set(selected.map((r) => r.id))));
  const unsupported = new Set<string>();
  for (const [i, suite] of suites.entries()) {
    if (opts.signal?.aborted || Date.now() >= ctx.deadline || ctx.stop) break;
    if (!suite.deviceTypes.includes(profile.deviceType)) continue;
    if (suite.needs?.some((b) => !hasFeature(profile.offeredFeatures, b)) || suite.needsProtocol?.some((b) => !hasFeature(profile.offeredProtocolFeatures, b))) {
      for (const id of suite.requirements) unsupported.add(id);
      continue;
    }
    suiteRuns.push(await runSuite(suite, ctx, i, suites.length));
  }
  const results: RequirementResult[] = [];
  for (const req of selected) {    const t = ledger.byId.get(req.id);
    if (t) {
      results.push({ id: req.id, verdict: t.verdict, suites: [...t.suites], ...(t.detail && { detail: t.detail }), ...(t.failure && { failure: t.failure }), unexpected: false });
    } else if (unsupported.has(req.id)) {
      results.push({ id: req.id, verdict: 'UNSUPPORTED', suites: [], detail: 'the target does not offer the feature this check needs', unexpected: false });
    } else {
      results.push({ id: req.id, verdict: 'SKIP', suites: [], detail: 'no suite exercised this requirement in this run', unexpected: false });
    }
  }
  // An id the catalogue lacks is the suite's own fault: report it rather than lose the observation.
  for (const [id, t] of ledger.byId) {
    if (requirementById(id)) continue;
    results.push({ id, verdict: 'ERROR', suites: [...t.suites], detail: `suite bug: observation for requirement '${id}', which is not in the catalogue (${t.verdict}: ${t.detail ?? ''})`, unexpected: true });
  }
  return {
    schemaVersion: 1,
    tool: { name: 'vhostcheck', version: TOOL_VERSION },
    target: { spec: specText, name: info.name, kind: info.kind, version: info.version, deviceType: info.deviceType },
    profile: profileRecord(profile),
    seed: opts.seed,
    runs: opts.runs,
    strict: opts.strict,
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    interrupted: Boolean(opts.signal?.aborted) || Date.now() >= ctx.deadline,
    suites: suiteRuns,
    results,
    summary: summarize(results),
  };
}


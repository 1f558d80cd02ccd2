// `vhostcheck replay FILE…`: runs saved counterexamples again, step by step,
// and answers the question the user asked of each file: does its failure
// still happen? "reproduced" is the same verdict on the same requirement;
// "reproduced differently" is another failure on these steps (named);
// "did not reproduce" is every check on these steps passing, which is what a
// fix looks like.
import type { Observation } from '../properties/oracles/observation.ts';
import { formatStep } from '../properties/steps.ts';
import { requirementById } from '../spec/requirements/index.ts';
import { type Verdict, worstVerdict } from '../spec/verdicts.ts';
import type { Progress } from './engine.ts';
import { probeForRun, runSteps } from './engine.ts';
import { loadRegression, type Regression } from './regressions.ts';
import { parseTargetSpec } from './targetSpec.ts';
import { type TargetFactory, targetFactory } from './targets.ts';
import { covers } from './unjudged.ts';
import { UsageError } from './usageError.ts';

export type ReplayOutcome = 'reproduced' | 'reproduced differently' | 'did not reproduce';

/** A failing observation on the replayed steps, as one line. */
export interface Seen {
  readonly requirement: string;
  readonly verdict: Verdict;
  readonly detail: string;
}

export interface ReplayedCase {
  readonly file: string;
  readonly requirement: string;
  /** The verdict and what the run that saved the case saw. */
  readonly recorded: { readonly verdict: string; readonly actual: string };
  readonly outcome: ReplayOutcome;
  /** This replay's failure of the case's own requirement (or of a finer id under it), if any. */
  readonly own?: Seen;
  /** This replay's failures of other requirements. */
  readonly others: readonly Seen[];
  /** The case's steps, numbered as in its report. */
  readonly steps: readonly string[];
}

export interface ReplayReport {
  readonly target: string;
  readonly cases: readonly ReplayedCase[];
  /** True when a signal stopped the replay before every file ran. */
  readonly interrupted: boolean;
}

/** Verdicts that mean the target did something wrong (a case is saved for one of these). */
const FAILING: ReadonlySet<Verdict> = new Set<Verdict>(['FAIL', 'NON_STRICT', 'CRASH', 'TIMEOUT', 'ERROR']);

export async function replayFiles(
  files: readonly string[],
  opts: { readonly targetSpec?: string; readonly signal: AbortSignal; readonly onProgress: (p: Progress) => void },
): Promise<ReplayReport> {
  const cases: { file: string; r: Regression }[] = [];
  for (const file of files) cases.push({ file, r: await loadRegression(file) });
  const specs = new Set(cases.map((c) => opts.targetSpec ?? c.r.target));
  if (specs.size > 1) throw new UsageError(`replay: the files record different targets (${[...specs].join(', ')}); give --target`);
  const spec = [...specs][0];
  const factory = targetFactory(parseTargetSpec(spec));
  try {
    return { target: spec, ...(await replayWith(factory, cases, opts)) };
  } finally {
    await factory.dispose();
  }
}

async function replayWith(
  factory: TargetFactory,
  cases: readonly { file: string; r: Regression }[],
  opts: { readonly signal: AbortSignal; readonly onProgress: (p: Progress) => void },
): Promise<Omit<ReplayReport, 'target'>> {
  const started = Date.now();
  const { profile } = await probeForRun(factory);
  const done: ReplayedCase[] = [];
  for (const { file, r } of cases) {
    if (opts.signal.aborted) break;
    // The case stops at its own requirement's failure (or a more specific rule split from it), or when the target died or hung. Another
    // requirement's FAIL is recorded and the steps go on, as in the run that saved the case (where
    // requirements already known to fail are set aside): a deviation found in every set-up
    // (DPDK's feature offer) must not hide the one the file reproduces.
    const out = await runSteps(factory, profile, r.steps, (o) => o.verdict === 'CRASH' || o.verdict === 'TIMEOUT' || o.verdict === 'ERROR' || (o.verdict === 'FAIL' && covers([r.requirement], o.requirement)), r.suite);
    // A case cut short by the interrupt says nothing about the bug.
    if (opts.signal.aborted) break;
    done.push(judge(file, r, out.observations));
    opts.onProgress({ suite: 'replay', done: done.length, total: cases.length, failures: done.filter((c) => c.outcome !== 'did not reproduce').length, elapsedMs: Date.now() - started });
  }
  return { cases: done, interrupted: done.length < cases.length };
}

/** Compares what the replay saw with what the file recorded. */
export function judge(file: string, r: Regression, observations: readonly Observation[]): ReplayedCase {
  const worst = new Map<string, Seen>();
  for (const o of observations) {
    if (!FAILING.has(o.verdict) || !requirementById(o.requirement)) continue;
    const before = worst.get(o.requirement);
    if (!before || worstVerdict(before.verdict, o.verdict) !== before.verdict) worst.set(o.requirement, { requirement: o.requirement, verdict: o.verdict, detail: o.detail });
  }
  // A file names the requirement it was saved for; a check on a finer id under it answers the same question.
  const mine = [...worst.values()].filter((s) => covers([r.requirement], s.requirement));
  const own = mine.find((s) => s.verdict === r.failure.verdict) ?? mine[0];
  const others = [...worst.values()].filter((s) => s !== own);
  const outcome: ReplayOutcome = own?.verdict === r.failure.verdict ? 'reproduced' : own || others.length ? 'reproduced differently' : 'did not reproduce';
  return {
    file,
    requirement: r.requirement,
    recorded: { verdict: r.failure.verdict, actual: r.failure.actual },
    outcome,
    ...(own && { own }),
    others,
    steps: r.steps.map((s, i) => `${i + 1}. ${formatStep(s)}`),
  };
}

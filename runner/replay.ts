// `vhostcheck replay FILE…`: runs saved counterexamples again, step by step,
// and reports each requirement's verdict. A fixed bug replays as PASS.
import { CheckFailure } from '../properties/harness.ts';
import { formatStep } from '../properties/steps.ts';
import { requirementById } from '../spec/requirements/index.ts';
import { type Verdict, worstVerdict } from '../spec/verdicts.ts';
import type { Progress } from './engine.ts';
import { runSteps, TOOL_VERSION } from './engine.ts';
import { summarize } from './expectations.ts';
import { probeTarget, profileRecord } from './profile.ts';
import { loadRegression, type Regression } from './regressions.ts';
import type { RequirementResult, RunResult } from './results.ts';
import { formatTargetSpec, parseTargetSpec } from './targetSpec.ts';
import { type TargetFactory, targetFactory } from './targets.ts';
import { UsageError } from './usageError.ts';

export async function replayFiles(
  files: readonly string[],
  opts: { readonly targetSpec?: string; readonly signal: AbortSignal; readonly onProgress: (p: Progress) => void },
): Promise<RunResult> {
  const started = Date.now();
  const cases = await Promise.all(files.map(async (f) => ({ file: f, r: await loadRegression(f) })));
  const specs = new Set(cases.map((c) => opts.targetSpec ?? c.r.target));
  if (specs.size > 1) throw new UsageError(`replay: the files record different targets (${[...specs].join(', ')}); give --target`);
  const spec = parseTargetSpec([...specs][0]);
  const factory = targetFactory(spec);
  try {
    return await replayWith(factory, cases, opts, started);
  } finally {
    await factory.dispose();
  }
}

async function replayWith(
  factory: TargetFactory,
  cases: readonly { file: string; r: Regression }[],
  opts: { readonly signal: AbortSignal; readonly onProgress: (p: Progress) => void },
  started: number,
): Promise<RunResult> {
  const spec = factory.spec;
  const { info, profile } = await probeTarget(factory);
  const verdicts = new Map<string, { verdict: Verdict; detail?: string; suites: Set<string>; failure?: RequirementResult['failure'] }>();
  for (const [i, { file, r }] of cases.entries()) {
    if (opts.signal.aborted) break;
    // The case stops at its own requirement's failure, or when the target died or hung. Another
    // requirement's FAIL is recorded and the steps go on, as in the run that saved the case (where
    // requirements already known to fail are set aside): a deviation found in every set-up
    // (DPDK's feature offer) must not hide the one the file reproduces.
    const out = await runSteps(factory, profile, r.steps, (o) => o.verdict === 'CRASH' || o.verdict === 'TIMEOUT' || o.verdict === 'ERROR' || (o.verdict === 'FAIL' && o.requirement === r.requirement));
    for (const o of out.observations) {
      if (!requirementById(o.requirement)) continue;
      const t = verdicts.get(o.requirement) ?? { verdict: 'SKIP' as Verdict, suites: new Set<string>() };
      const worse = worstVerdict(t.verdict, o.verdict);
      if (worse !== t.verdict) t.detail = o.detail;
      t.verdict = worse;
      t.suites.add(`replay:${r.suite}`);
      verdicts.set(o.requirement, t);
    }
    if (out.failure instanceof CheckFailure) {
      const cf = out.failure;
      const t = verdicts.get(cf.observation.requirement)!;
      t.failure = {
        requirementId: cf.observation.requirement,
        expected: cf.expected.length ? cf.expected : ['PASS'],
        actual: `${cf.observation.verdict}: ${cf.actual}`,
        steps: r.steps.slice(0, cf.stepIndex + 1).map((s, k) => `${k + 1}. ${formatStep(s)}`),
        replayCommand: `npx vhostcheck replay ${file}`,
        regressionFile: file,
        seed: r.seed,
        ...(r.path !== undefined && { path: r.path }),
      };
    }
    opts.onProgress({ suite: `replay ${file}`, done: i + 1, total: cases.length, failures: [...verdicts.values()].filter((v) => v.failure).length, elapsedMs: Date.now() - started });
  }
  const results: RequirementResult[] = [...verdicts.entries()].map(([id, t]) => ({
    id, verdict: t.verdict, suites: [...t.suites], ...(t.detail && { detail: t.detail }), ...(t.failure && { failure: t.failure }),
    unexpected: t.verdict !== 'PASS',
  }));
  return {
    schemaVersion: 1,
    tool: { name: 'vhostcheck', version: TOOL_VERSION },
    target: { spec: formatTargetSpec(spec), name: info.name, kind: info.kind, version: info.version, deviceType: info.deviceType },
    profile: profileRecord(profile),
    seed: cases[0]?.r.seed ?? 0,
    runs: cases.length,
    strict: false,
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    interrupted: opts.signal.aborted,
    suites: [],
    results,
    summary: summarize(results),
  };
}

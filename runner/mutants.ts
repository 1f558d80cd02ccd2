// `vhostcheck mutants`: the suite's own power. Every mutant of the simulated
// device re-creates a historical bug (implementations/simulated/mutants);
// the suite must catch each one, fast, with a short counterexample.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findMutant, MUTANTS } from '../implementations/simulated/mutants/index.ts';
import { executeRun, type Progress } from './engine.ts';

export interface MutantOutcome {
  readonly name: string;
  readonly catalogueRow: string;
  readonly detected: boolean;
  readonly seconds: number;
  /** Steps of the shrunk counterexample (null when undetected). */
  readonly steps: number | null;
  /** Requirement ids with a failing verdict. */
  readonly failed: readonly string[];
  /** Whether one of the ids the mutant names was among them. */
  readonly namedHit: boolean;
}

const DETECTING = new Set(['FAIL', 'NON_STRICT', 'CRASH', 'TIMEOUT']);

export async function measureMutant(name: string, opts: { seed: number; runs: number; timeBudgetS: number; signal?: AbortSignal }): Promise<MutantOutcome> {
  const m = findMutant(name);
  if (!m) throw new Error(`unknown mutant ${name}`);
  const named: readonly string[] = m.requirementIds;
  const dir = await mkdtemp(join(tmpdir(), 'vhostcheck-mutant-'));
  const t0 = performance.now();
  try {
    const run = await executeRun({
      targetSpec: `simulated:device=${m.deviceType ?? 'blk'},mutant=${m.name}`,
      selectors: [],
      seed: opts.seed,
      runs: opts.runs,
      timeBudgetS: opts.timeBudgetS,
      // Strict: a broken SHOULD (e.g. notifying although suppressed) is a detection, shrunk like a failure.
      strict: true,
      regressionDir: dir,
      replayRegressions: false,
      stopAtFirstFailure: true,
      ...(opts.signal && { signal: opts.signal }),
    });
    const seconds = (performance.now() - t0) / 1000;
    const failed = run.results.filter((r) => DETECTING.has(r.verdict)).map((r) => r.id);
    const withCase = run.results.find((r) => r.failure);
    return {
      name: m.name,
      catalogueRow: m.catalogueRow,
      detected: failed.length > 0,
      seconds,
      steps: withCase?.failure ? withCase.failure.steps.length : null,
      failed,
      namedHit: failed.some((id) => named.includes(id)),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export async function runMutants(opts: {
  readonly json: boolean;
  readonly seed: number;
  readonly runs: number;
  readonly signal: AbortSignal;
  readonly onProgress: (p: Progress) => void;
  readonly write: (text: string) => void;
}): Promise<number> {
  const started = Date.now();
  const outcomes: MutantOutcome[] = [];
  for (const [i, m] of MUTANTS.entries()) {
    if (opts.signal.aborted) break;
    outcomes.push(await measureMutant(m.name, { seed: opts.seed, runs: opts.runs, timeBudgetS: 30, signal: opts.signal }));
    opts.onProgress({ suite: `mutant ${m.name}`, done: i + 1, total: MUTANTS.length, failures: outcomes.filter((o) => !o.detected).length, elapsedMs: Date.now() - started });
  }
  const detected = outcomes.filter((o) => o.detected);
  const summary = {
    mutants: outcomes.length,
    detected: detected.length,
    score: outcomes.length ? detected.length / outcomes.length : 0,
    medianSecondsToDetect: median(detected.map((o) => o.seconds)),
    medianShrunkSteps: median(detected.map((o) => o.steps ?? 0)),
  };
  if (opts.json) {
    opts.write(`${JSON.stringify({ summary, outcomes }, null, 2)}\n`);
  } else {
    for (const o of outcomes) {
      opts.write(`${o.detected ? 'detected  ' : 'SURVIVED  '}${o.name.padEnd(34)} ${o.catalogueRow.padEnd(5)} ${o.seconds.toFixed(2).padStart(6)} s  ${String(o.steps ?? '-').padStart(3)} steps  ${o.failed.join(', ')}${o.detected && !o.namedHit ? '  (caught by another requirement)' : ''}\n`);
    }
    opts.write(`mutation score ${detected.length}/${outcomes.length}; median time to detect ${summary.medianSecondsToDetect.toFixed(2)} s; median shrunk case ${summary.medianShrunkSteps} steps\n`);
  }
  return detected.length === outcomes.length && !opts.signal.aborted ? 0 : 1;
}

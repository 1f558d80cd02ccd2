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
  /** Requirement ids with a verdict that fails the gate in this mode. */
  readonly failed: readonly string[];
  /** Whether one of the ids the mutant names was among them: the only way a mutant counts as detected. */
  readonly namedHit: boolean;
}

/**
 * Verdicts that fail a gate: FAIL, CRASH and TIMEOUT always, NON_STRICT only under --strict. A
 * broken SHOULD that a default run reports and passes has not caught anything (issue 10).
 */
export function catches(v: string, strict: boolean): boolean {
  return v === 'FAIL' || v === 'CRASH' || v === 'TIMEOUT' || (strict && v === 'NON_STRICT');
}

export async function measureMutant(name: string, opts: { seed: number; runs: number; timeBudgetS: number; strict?: boolean; signal?: AbortSignal }): Promise<MutantOutcome> {
  const m = findMutant(name);
  if (!m) throw new Error(`unknown mutant ${name}`);
  const named: readonly string[] = m.requirementIds;
  const strict = opts.strict ?? false;
  const dir = await mkdtemp(join(tmpdir(), 'vhostcheck-mutant-'));
  const t0 = performance.now();
  try {
    const run = await executeRun({
      targetSpec: `simulated:device=${m.deviceType ?? 'blk'},mutant=${m.name}`,
      // Every suite: the suite lists do not name every id their oracles emit.
      selectors: [],
      seed: opts.seed,
      runs: opts.runs,
      timeBudgetS: opts.timeBudgetS,
      strict,
      regressionDir: dir,
      replayRegressions: false,
      // Hunting goes on past failures at other requirements (each is set aside) until one of the mutant's own.
      stopAtFailureOn: named,
      ...(opts.signal && { signal: opts.signal }),
    });
    const seconds = (performance.now() - t0) / 1000;
    const failed = run.results.filter((r) => catches(r.verdict, strict)).map((r) => r.id);
    const namedHit = failed.some((id) => named.includes(id));
    const withCase = run.results.find((r) => r.failure && named.includes(r.id)) ?? run.results.find((r) => r.failure);
    return {
      name: m.name,
      catalogueRow: m.catalogueRow,
      detected: namedHit,
      seconds,
      steps: withCase?.failure ? withCase.failure.steps.length : null,
      failed,
      namedHit,
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
  /** NON_STRICT counts as caught: a separate figure from the default score. */
  readonly strict?: boolean;
  readonly signal: AbortSignal;
  readonly onProgress: (p: Progress) => void;
  readonly write: (text: string) => void;
}): Promise<number> {
  const started = Date.now();
  const outcomes: MutantOutcome[] = [];
  for (const [i, m] of MUTANTS.entries()) {
    if (opts.signal.aborted) break;
    outcomes.push(await measureMutant(m.name, { seed: opts.seed, runs: opts.runs, timeBudgetS: 30, strict: opts.strict ?? false, signal: opts.signal }));
    opts.onProgress({ suite: `mutant ${m.name}`, done: i + 1, total: MUTANTS.length, failures: outcomes.filter((o) => !o.detected).length, elapsedMs: Date.now() - started });
  }
  const detected = outcomes.filter((o) => o.detected);
  const summary = {
    strict: opts.strict ?? false,
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
      opts.write(`${o.detected ? 'detected  ' : 'SURVIVED  '}${o.name.padEnd(34)} ${o.catalogueRow.padEnd(5)} ${o.seconds.toFixed(2).padStart(6)} s  ${String(o.steps ?? '-').padStart(3)} steps  ${o.failed.join(', ')}${!o.namedHit && o.failed.length > 0 ? '  (caught only by other requirements: not counted)' : ''}\n`);
    }
    opts.write(`mutation score ${detected.length}/${outcomes.length} at the mutants' own requirements${opts.strict ? ' (--strict: NON_STRICT counts)' : ''}; median time to detect ${summary.medianSecondsToDetect.toFixed(2)} s; median shrunk case ${summary.medianShrunkSteps} steps\n`);
  }
  return detected.length === outcomes.length && !opts.signal.aborted ? 0 : 1;
}

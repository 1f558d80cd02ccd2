// The result of a run: what reporters write (index.json is this object,
// versioned) and what the expectations gate compares. DESIGN.md "runner/ and reports/".

import type { Verdict } from '../spec/verdicts.ts';

export { VERDICTS, type Verdict } from '../spec/verdicts.ts';

export const RESULT_SCHEMA_VERSION = 1;

/** A shrunk counterexample, as printed and as saved under corpus/regressions/. */
export interface Failure {
  readonly requirementId: string;
  /** Acceptable outcomes the model allowed, e.g. `error → PASS`. */
  readonly expected: readonly string[];
  readonly actual: string;
  /** Numbered concrete steps of the shrunk case, one line each. */
  readonly steps: readonly string[];
  /** Hex dumps of the last frames exchanged, when the transport has frames. */
  readonly frames?: readonly string[];
  readonly replayCommand: string;
  readonly regressionFile?: string;
  /** fast-check seed and path of the counterexample, for the record. */
  readonly seed: number;
  readonly path?: string;
}

/**
 * Why a requirement got no verdict of its own (DESIGN.md verdicts), on SKIP, UNSUPPORTED and NOT_RUN:
 * the rule is another role's or another device's (`not-applicable`), the target lacks a feature the
 * check needs (`unsupported`), no suite checks it (`not-covered`), or the run ended before it got
 * there (`not-reached`: time budget, interrupt). The reason is in `detail`.
 */
export type ResultCategory = 'not-applicable' | 'unsupported' | 'not-covered' | 'not-reached';

/** One distinct way a requirement was broken: what an expectation entry matches. */
export interface Deviation {
  readonly verdict: Verdict;
  /** Observation trigger (`control:setVringNum/crash`, `kick/fail`), `?` when the oracle gave none. */
  readonly trigger: string;
  readonly detail: string;
}

export interface RequirementResult {
  readonly id: string;
  readonly verdict: Verdict;
  /** Suites that checked it. */
  readonly suites: readonly string[];
  readonly detail?: string;
  readonly category?: ResultCategory;
  /** Every distinct fingerprint (verdict, trigger) of the deviations seen, worst first. */
  readonly deviations?: readonly Deviation[];
  readonly failure?: Failure;
  /** Verdict named by the target's expectations file, if any. */
  readonly expected?: Verdict;
  readonly expectationReason?: string;
  /** True when the verdict differs from what was expected (PASS is expected by default). */
  readonly unexpected: boolean;
}

export interface SuiteRun {
  readonly name: string;
  readonly runs: number;
  readonly steps: number;
  readonly durationMs: number;
}

export interface RunSummary {
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  /** Requirements selected and applicable that the run did not reach (NOT_RUN): any makes the gate red. */
  readonly notRun: number;
  readonly unexpected: number;
  /** Expected deviations: NON_STRICT, INFORMATIONAL and listed FAIL/CRASH/TIMEOUT/ERROR results that do not fail the run. */
  readonly known: number;
  readonly byVerdict: Readonly<Record<Verdict, number>>;
}

export interface RunResult {
  readonly schemaVersion: typeof RESULT_SCHEMA_VERSION;
  readonly tool: { readonly name: 'vhostcheck'; readonly version: string };
  readonly target: {
    readonly spec: string;
    readonly name: string;
    readonly kind: string;
    readonly version: string;
    readonly deviceType: string;
  };
  /** The profile the model was given, with feature words as hex strings. */
  readonly profile: Readonly<Record<string, string | number | boolean>>;
  readonly seed: number;
  readonly runs: number;
  readonly strict: boolean;
  readonly startedAt: string;
  readonly durationMs: number;
  /** True when the run was cut short (time budget or signal); results so far are kept. */
  readonly interrupted: boolean;
  readonly suites: readonly SuiteRun[];
  readonly results: readonly RequirementResult[];
  readonly summary: RunSummary;
}

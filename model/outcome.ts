// Acceptable outcomes of one step, each tagged with a verdict (DESIGN.md
// "model/"): the model never says "the answer is X", it says which answers
// are acceptable and what each one means.
import type { OutcomeKind, Reply } from '../spec/requests.ts';
import { outcomeKind } from '../spec/requests.ts';
import type { Verdict } from '../spec/verdicts.ts';

export interface Outcome<S> {
  readonly kind: OutcomeKind;
  readonly verdict: Verdict;
  readonly requirement: string;
  /** For `ok` outcomes: null if the value is acceptable, else why not. */
  readonly check?: (value: Reply) => string | null;
  /** The model state after this outcome: legitimate behaviours can lead to different states. */
  readonly next: S;
  readonly note: string;
}

export interface StepResult<S> {
  readonly outcomes: readonly Outcome<S>[];
  /** Verdict and requirement for an outcome of a kind no entry lists. */
  readonly otherwise: { readonly verdict: Verdict; readonly requirement: string };
}

/**
 * The doc leaves the answer open: each of `kinds` (by default ok, an error or a closed connection) passes,
 * anything else fails; an `ok` leads to `okNext`.
 */
export function anyOf<S>(s: S, okNext: S, requirement: string, note: string, kinds: readonly ('ok' | 'error' | 'closed')[] = ['ok', 'error', 'closed']): StepResult<S> {
  return {
    outcomes: kinds.map((kind): Outcome<S> => ({ kind, verdict: 'PASS', requirement, next: kind === 'ok' ? okNext : s, note })),
    otherwise: { verdict: 'FAIL', requirement },
  };
}

export interface Judgement<S> {
  readonly verdict: Verdict;
  readonly requirement: string;
  readonly next: S;
  readonly reason: string;
}

export function describeOutcomes<S>(r: StepResult<S>): string[] {
  const out = r.outcomes.map((o) => `${o.kind} → ${o.verdict} (${o.requirement}: ${o.note})`);
  out.push(`anything else → ${r.otherwise.verdict} (${r.otherwise.requirement})`);
  return out;
}

/**
 * Picks the first listed outcome that matches the actual reply. An `ok`
 * whose value fails every check is a FAIL of the first check's requirement;
 * an unlisted kind takes `otherwise`, and the state stays `fallback`.
 */
export function judge<S>(r: StepResult<S>, actual: Reply, fallback: S): Judgement<S> {
  const kind = outcomeKind(actual);
  let mismatch: { requirement: string; reason: string } | null = null;
  for (const o of r.outcomes) {
    if (o.kind !== kind) continue;
    const why = o.check ? o.check(actual) : null;
    if (why === null) return { verdict: o.verdict, requirement: o.requirement, next: o.next, reason: o.note };
    mismatch ??= { requirement: o.requirement, reason: why };
  }
  if (mismatch) return { verdict: 'FAIL', requirement: mismatch.requirement, next: fallback, reason: mismatch.reason };
  return { verdict: r.otherwise.verdict, requirement: r.otherwise.requirement, next: fallback, reason: `unexpected ${kind}` };
}

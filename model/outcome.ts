// Acceptable outcomes of one step, each tagged with a verdict (DESIGN.md
// "model/"): the model never says "the answer is X", it says which answers
// are acceptable and what each one means.
//
// How a verdict is chosen (DESIGN.md "Verdicts", "Generality"):
// - Where the text is silent, the model accepts. An outcome is FAIL only when a
//   sentence of the spec forbids it, and the outcome list cites that sentence
//   (section and label) in a comment. Duplicates, re-configuration, unusual
//   order, unknown flags and stricter-than-required validation are the
//   back-end's call: refusing them passes (PASS or INFORMATIONAL), never FAILs.
// - A broken rule is judged by its catalogue level, in one place (`violation`):
//   MUST / MUST_NOT → FAIL; SHOULD / SHOULD_NOT → NON_STRICT; a DE_FACTO rule
//   (only code defines it) → FAIL only when the outcome is a crash, a hang, a
//   memory-safety or a data-corruption outcome, NON_STRICT otherwise.
import type { OutcomeKind, Reply } from '../spec/requests.ts';
import { outcomeKind } from '../spec/requests.ts';
import { requirementById } from '../spec/requirements/index.ts';
import type { Verdict } from '../spec/verdicts.ts';

/**
 * What a rule-breaking outcome amounts to. `deviation` is everything else: an answer the rule
 * forbids that neither killed, hung nor corrupted anything by itself.
 */
export type Harm = 'crash' | 'hang' | 'memory-safety' | 'corruption' | 'deviation';

const SEVERE: ReadonlySet<Harm> = new Set(['crash', 'hang', 'memory-safety', 'corruption']);

/**
 * The verdict for an outcome that breaks `requirement`, read from its catalogue level. Unknown ids
 * are FAIL, so a typo never softens a verdict (spec/requirements tests check every id exists).
 */
export function violation(requirement: string, harm: Harm = 'deviation'): Verdict {
  const level = requirementById(requirement)?.level;
  if (level === 'SHOULD' || level === 'SHOULD_NOT') return 'NON_STRICT';
  if (level === 'DE_FACTO' && !SEVERE.has(harm)) return 'NON_STRICT';
  return 'FAIL';
}

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
 * The doc leaves the answer open: each of `kinds` (by default ok, an error or a closed connection) passes;
 * an `ok` leads to `okNext`. Anything else (no answer at all) is a hang: "Communication" and "REPLY_ACK"
 * oblige the back-end to answer what the front-end waits for.
 */
export function anyOf<S>(s: S, okNext: S, requirement: string, note: string, kinds: readonly ('ok' | 'error' | 'closed')[] = ['ok', 'error', 'closed']): StepResult<S> {
  return {
    outcomes: kinds.map((kind): Outcome<S> => ({ kind, verdict: 'PASS', requirement, next: kind === 'ok' ? okNext : s, note })),
    otherwise: { verdict: violation(requirement, 'hang'), requirement },
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
 * whose value fails every check breaks the first check's requirement (`violation`);
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
  // A wrong value is a deviation from the rule the check states; how much it weighs is the rule's level.
  if (mismatch) return { verdict: violation(mismatch.requirement), requirement: mismatch.requirement, next: fallback, reason: mismatch.reason };
  return { verdict: r.otherwise.verdict, requirement: r.otherwise.requirement, next: fallback, reason: `unexpected ${kind}` };
}

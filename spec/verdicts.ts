// The closed set of verdicts (DESIGN.md "runner/ and reports/"). The model
// tags each acceptable outcome with one; the runner aggregates them.
export const VERDICTS = ['PASS', 'FAIL', 'NON_STRICT', 'INFORMATIONAL', 'UNSUPPORTED', 'SKIP', 'NOT_RUN', 'ERROR', 'TIMEOUT', 'CRASH'] as const;
export type Verdict = (typeof VERDICTS)[number];

/** Severity order for folding many observations of one requirement into one verdict. */
const SEVERITY: Readonly<Record<Verdict, number>> = {
  // NOT_RUN is given by the runner to a requirement with no observation; it is never folded with one.
  NOT_RUN: 0, SKIP: 0, UNSUPPORTED: 1, PASS: 2, INFORMATIONAL: 3, NON_STRICT: 4, TIMEOUT: 5, FAIL: 6, CRASH: 7, ERROR: 8,
};

export function worstVerdict(a: Verdict, b: Verdict): Verdict {
  return SEVERITY[a] >= SEVERITY[b] ? a : b;
}

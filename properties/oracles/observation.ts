// What an oracle reports: one verdict for one requirement, with the evidence.
import type { Verdict } from '../../spec/verdicts.ts';

export interface Observation {
  readonly requirement: string;
  readonly verdict: Verdict;
  readonly detail: string;
}

export function pass(requirement: string, detail = ''): Observation {
  return { requirement, verdict: 'PASS', detail };
}

export function fail(requirement: string, detail: string): Observation {
  return { requirement, verdict: 'FAIL', detail };
}

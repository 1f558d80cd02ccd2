// What an oracle reports: one verdict for one requirement, with the evidence.
import type { Verdict } from '../../spec/verdicts.ts';

export interface Observation {
  readonly requirement: string;
  readonly verdict: Verdict;
  readonly detail: string;
  /**
   * What caused it, `<step kind or control op>/<outcome kind>` (e.g. `control:setVringNum/closed`,
   * `kick/crash`, `raw:region-overflow/success-ack`): with requirement and verdict, the fingerprint an
   * expectation matches, so a new deviation under a known requirement is still new.
   */
  readonly trigger?: string;
}

export function pass(requirement: string, detail = ''): Observation {
  return { requirement, verdict: 'PASS', detail };
}

/**
 * An observation whose detail is formatted when first read. Most observations are passes whose
 * detail nobody reads, and formatting every control step's request and reply was a tenth of the
 * suite's time against the simulated device (npm run bench, part 1).
 */
export function lazyObservation(requirement: string, verdict: Verdict, detail: () => string): Observation {
  let text: string | undefined;
  return {
    requirement,
    verdict,
    get detail() {
      return (text ??= detail());
    },
  };
}

export function fail(requirement: string, detail: string): Observation {
  return { requirement, verdict: 'FAIL', detail };
}

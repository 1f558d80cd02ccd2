// What an oracle reports: one verdict for one requirement, with the evidence.
import type { Verdict } from '../../spec/verdicts.ts';

/**
 * An observation may be a class instance whose `detail` is a prototype getter (formatted only when read: see
 * LazyObservation): copy its fields by name, never with `{ ...o }`, which drops the detail.
 */
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
 * suite's time against the simulated device (npm run bench, part 1). A class, not an object literal
 * with a getter: V8 builds such a literal on a slow path, about 0.5 µs each, twice per control message.
 */
class LazyObservation implements Observation {
  #format: (() => string) | null;
  #text = '';

  constructor(readonly requirement: string, readonly verdict: Verdict, format: () => string) {
    this.#format = format;
  }

  get detail(): string {
    if (this.#format !== null) {
      this.#text = this.#format();
      this.#format = null;
    }
    return this.#text;
  }
}

export function lazyObservation(requirement: string, verdict: Verdict, detail: () => string): Observation {
  return new LazyObservation(requirement, verdict, detail);
}

/** An observation as a harness keeps it: charged to a step and a trigger, its detail read from the source when asked, so a lazy one stays lazy. */
export class ChargedObservation implements Observation {
  readonly requirement: string;
  readonly verdict: Verdict;
  readonly #source: Observation;

  constructor(source: Observation, readonly step: number, readonly trigger: string) {
    this.requirement = source.requirement;
    this.verdict = source.verdict;
    this.#source = source;
  }

  get detail(): string {
    return this.#source.detail;
  }
}

export function fail(requirement: string, detail: string): Observation {
  return { requirement, verdict: 'FAIL', detail };
}

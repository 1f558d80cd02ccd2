// How long the suite waits for a target, scaled from what the target has shown in this session: the
// slowest reply to a message and the slowest kick-to-used time. A fixed window is too short for a slow
// back-end (a false FAIL) or wastes time on a fast one; a verdict that rests on "it did not happen in
// time" may only come after many times the slowest legal answer seen.

/** A reply or completion slower than this is a sign the target works asynchronously, whatever its kind. */
const ASYNC_MS = 5;
/** Signs needed before it counts: one slow answer may be this process descheduled on a loaded machine. */
const ASYNC_SIGNS = 3;
/** Waits cover this many times the slowest response seen (which already includes this machine's own stalls). */
const SAFETY_FACTOR = 5;
/** No wait grows past this: slower than it, a back-end is stalled, not slow. */
const CAP_MS = 1500;

export class Latency {
  #worst = 0;
  #slow = 0;

  /** One response took `ms` (a reply after its message, a used buffer after its kick). */
  observe(ms: number): void {
    if (ms > this.#worst) this.#worst = ms;
    if (ms >= ASYNC_MS) this.#slow++;
  }

  /** The target has shown, more than once, that its answers take measurable time. */
  get asynchronous(): boolean {
    return this.#slow >= ASYNC_SIGNS;
  }

  /** `floor`, or SAFETY_FACTOR × the slowest response seen when that is longer, at most CAP_MS (or `floor` if larger). */
  scale(floor: number): number {
    // Whole milliseconds: the waits end in poll(2), which takes no fraction.
    return Math.max(floor, Math.min(CAP_MS, Math.ceil(SAFETY_FACTOR * this.#worst)));
  }
}

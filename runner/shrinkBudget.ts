// How much shrinking one failure may cost. Against a target outside this process every shrink
// attempt is a fresh session there (a fresh daemon for qemu-storage-daemon), a few hundred ms on
// a loaded 2-core machine, and fast-check's shrinker may try hundreds of candidates: a run that
// finds several new deviations would spend most of its time shrinking. Past the budget the
// remaining candidates are skipped, never run, so the counterexample kept is the smallest failing
// one found within it; the verdicts do not change, only how short the saved steps are.
import fc from 'fast-check';

/** Shrink attempts per failure against targets outside this process (`vhostcheck run --help`). */
export const OUT_OF_PROCESS_SHRINK_RUNS = 100;
/**
 * And at most this long: a back-end that crashes on every attempt is restarted each time (DPDK testpmd
 * takes over a second to accept its first connection), so 100 attempts could take minutes.
 */
export const OUT_OF_PROCESS_SHRINK_MS = 20_000;

/**
 * A fast-check plugin: after the first failure of a check, at most `attempts` more runs and none started
 * `ms` or more after that failure (`now` is the clock; injectable for tests); the rest are skipped.
 */
export function boundShrinking<T>(attempts: number, ms = Number.POSITIVE_INFINITY, now: () => number = Date.now): fc.Plugin<T> {
  return () => {
    let failedAt: number | null = null;
    let tried = 0;
    return {
      decorateRun: (nestedRun) => async (value) => {
        if (failedAt !== null && (tried >= attempts || now() - failedAt >= ms)) return new fc.PreconditionFailure(false);
        if (failedAt !== null) tried++;
        const out = await nestedRun(value);
        // A failure is any result that is neither a pass (null) nor a precondition failure.
        if (failedAt === null && out !== null && !fc.PreconditionFailure.isFailure(out)) failedAt = now();
        return out;
      },
    };
  };
}

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { boundShrinking } from './shrinkBudget.ts';

// Fails on any array holding a number above 10: fast-check shrinks toward [11] through many candidates.
const failsAbove10 = (count: { runs: number }) =>
  fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 5 }), async (xs) => {
    count.runs++;
    return xs.every((x) => x <= 10);
  });

describe('boundShrinking', () => {
  it('runs at most the budget of shrink attempts after the first failure, and still reports the failure', async () => {
    const unbounded = { runs: 0 };
    const free = await fc.check(failsAbove10(unbounded), { seed: 3, numRuns: 50 });
    const bounded = { runs: 0 };
    const capped = await fc.check(failsAbove10(bounded), { seed: 3, numRuns: 50, plugins: [boundShrinking(5)] });
    expect(free.failed && capped.failed).toBe(true);
    // Without the budget the shrinker runs far more than 5 candidates; with it, the first failure plus 5.
    expect(unbounded.runs - (free.numRuns)).toBeGreaterThan(5);
    expect(bounded.runs - capped.numRuns).toBeLessThanOrEqual(5);
    expect(capped.counterexample?.[0].some((x) => x > 10)).toBe(true);
    expect(capped.interrupted).toBe(false);
  });

  it('stops shrinking once its time is up, whatever attempts are left', async () => {
    let clock = 0;
    const count = { runs: 0 };
    const property = fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 5 }), async (xs) => {
      count.runs++;
      clock += 10;
      return xs.every((x) => x <= 10);
    });
    const out = await fc.check(property, { seed: 3, numRuns: 50, plugins: [boundShrinking(1000, 30, () => clock)] });
    expect(out.failed).toBe(true);
    // Each run takes 10 ms of the fake clock: three shrink attempts fit in 30 ms.
    expect(count.runs - out.numRuns).toBe(3);
  });

  it('leaves a passing check alone', async () => {
    const count = { runs: 0 };
    const out = await fc.check(fc.asyncProperty(fc.nat(), async () => { count.runs++; return true; }), { seed: 1, numRuns: 30, plugins: [boundShrinking(0)] });
    expect(out.failed).toBe(false);
    expect(count.runs).toBe(30);
  });
});

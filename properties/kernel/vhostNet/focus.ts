// Focus blocks: a suite's free mix of steps reaches some requirement ids only
// rarely (a 65-region table, a size-0 UPDATE, an avail index run away), yet
// every id a suite lists must be judged in a run of the CLI's default 20
// cases. Each block is spliced in with probability 2/3 at a place of its own,
// so it misses a case with chance 1/3 and all 20 with 3^-20.
import fc from 'fast-check';

/**
 * `free` with each of `focus` spliced in (or not) between its steps, never into another block;
 * free steps are dropped from the end when the case would be longer than `maxSteps`.
 */
export function withFocus<T>(free: fc.Arbitrary<T[]>, focus: readonly fc.Arbitrary<T[]>[], maxSteps: number): fc.Arbitrary<T[]> {
  const picked = fc.tuple(...focus.map((f) => fc.option(f, { freq: 3, nil: null })));
  const places = fc.array(fc.nat(), { minLength: focus.length, maxLength: focus.length });
  return fc.tuple(free, picked, places).map(([all, blocks, at]) => {
    const focused = blocks.reduce((n, b) => n + (b?.length ?? 0), 0);
    const steps = all.slice(0, Math.max(0, maxSteps - focused));
    const before = steps.map((): T[] => []).concat([[]]);
    blocks.forEach((b, i) => {
      if (b) before[at[i]! % before.length]!.push(...b);
    });
    return before.flatMap((b, i) => (i < steps.length ? [...b, steps[i]!] : b));
  });
}

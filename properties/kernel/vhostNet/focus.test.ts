// withFocus: blocks land whole between free steps, about 2/3 of the time each,
// and a case never grows past its bound.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { withFocus } from './focus.ts';

describe('withFocus', () => {
  const free = fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 1, maxLength: 30, size: 'max' });
  const blocks = [fc.constant<number[]>([100, 101, 102]), fc.constant<number[]>([200])];
  const cases = fc.sample(withFocus(free, blocks, 20), { seed: 1, numRuns: 300 });

  it('keeps every block whole and the case within maxSteps', () => {
    for (const c of cases) {
      expect(c.length).toBeLessThanOrEqual(20);
      const at = c.indexOf(100);
      if (at >= 0) expect(c.slice(at, at + 3)).toEqual([100, 101, 102]);
      expect(c.filter((v) => v >= 100 && v < 200).length % 3).toBe(0);
    }
  });
  it('splices each block into about 2/3 of the cases, at varying places', () => {
    for (const marker of [100, 200]) {
      const n = cases.filter((c) => c.includes(marker)).length;
      expect(n).toBeGreaterThan(300 * 0.55);
      expect(n).toBeLessThan(300 * 0.78);
    }
    expect(new Set(cases.map((c) => c.indexOf(200)).filter((i) => i >= 0)).size).toBeGreaterThan(5);
  });
});

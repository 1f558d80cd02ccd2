// `run --suite NAME` runs only the named suites, and the requirements they share with the
// suites left out are judged by what ran, not reported as a run cut short (NOT_RUN exits 1).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { executeRun } from './engine.ts';

describe('run --suite', () => {
  it('runs only the named suite and reports nothing NOT_RUN for the suites left out', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vhostcheck-suite-'));
    try {
      const run = await executeRun({ targetSpec: 'simulated', selectors: [], suites: ['hostile-descriptors'], seed: 1, runs: 20, strict: false, regressionDir: dir, replayRegressions: false });
      expect(run.suites.map((s) => s.name)).toEqual(['hostile-descriptors']);
      expect(run.results.filter((r) => r.verdict === 'NOT_RUN').map((r) => r.id)).toEqual([]);
      expect(run.interrupted).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

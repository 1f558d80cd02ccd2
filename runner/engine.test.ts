// The suite's own soundness and power, with the fixed CI seed: the healthy
// simulated device raises no alarm, every mutant is caught, a saved case
// replays to the same verdict, and the same seed gives the same steps.
import fc from 'fast-check';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MUTANTS } from '../implementations/simulated/mutants/index.ts';
import { SUITES } from '../properties/suites/index.ts';
import { executeRun } from './engine.ts';
import { measureMutant } from './mutants.ts';
import { deriveProfile } from './profile.ts';
import { replayFiles } from './replay.ts';
import { targetFactory } from './targets.ts';
import { parseTargetSpec } from './targetSpec.ts';

const CI_SEED = 1;
const ALARMS = new Set(['FAIL', 'NON_STRICT', 'CRASH', 'TIMEOUT', 'ERROR']);
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vhostcheck-engine-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('healthy simulated device', () => {
  for (const device of ['blk', 'net'] as const) {
    it(`${device}: every suite passes under --strict (no false alarms)`, async () => {
      const run = await executeRun({ targetSpec: `simulated:device=${device}`, selectors: [], seed: CI_SEED, runs: 150, strict: true, regressionDir: dir, replayRegressions: false });
      const alarms = run.results.filter((r) => ALARMS.has(r.verdict)).map((r) => `${r.id} ${r.verdict}: ${r.detail}`);
      expect(alarms).toEqual([]);
      expect(run.results.filter((r) => r.verdict === 'PASS').length).toBeGreaterThan(25);
    }, 120_000);
  }
});

describe('mutation score', () => {
  // `vhostcheck mutants` defaults (seed 1, 100 runs): the score the README quotes is the one this test holds.
  it('every mutant is detected with the CI seed and the CLI default runs', async () => {
    const survivors: string[] = [];
    for (const m of MUTANTS) {
      const o = await measureMutant(m.name, { seed: CI_SEED, runs: 100, timeBudgetS: 30 });
      if (!o.detected) survivors.push(m.name);
    }
    expect(survivors).toEqual([]);
  }, 600_000);
});

describe('regressions', () => {
  it('a saved counterexample replays to the same failure', async () => {
    const regs = join(dir, 'replay');
    const run = await executeRun({ targetSpec: 'simulated:mutant=avail-idx-runaway', selectors: [], seed: CI_SEED, runs: 300, strict: true, regressionDir: regs, replayRegressions: false, stopAtFirstFailure: true });
    const failed = run.results.find((r) => r.failure?.regressionFile);
    expect(failed).toBeDefined();
    const files = (await readdir(regs)).map((f) => join(regs, f));
    expect(files).toHaveLength(1);
    const again = await replayFiles(files, { signal: new AbortController().signal, onProgress: () => {} });
    const same = again.results.find((r) => r.id === failed!.id);
    expect(same).toMatchObject({ verdict: failed!.verdict });
    expect(same?.failure?.steps).toEqual(failed!.failure!.steps);
    // The healthy device raises no alarm on the same steps: the case is about the bug, not the scenario.
    const healthy = await replayFiles(files, { targetSpec: 'simulated', signal: new AbortController().signal, onProgress: () => {} });
    expect(healthy.results.filter((r) => ALARMS.has(r.verdict))).toEqual([]);
    expect(healthy.results.length).toBeGreaterThan(0);
  }, 120_000);

  it('the same seed generates the same steps', async () => {
    const f = targetFactory(parseTargetSpec('simulated'));
    const t = await f.open();
    const p = await deriveProfile(t);
    await t.close();
    for (const s of SUITES) {
      const a = fc.sample(s.scenario(p), { seed: CI_SEED, numRuns: 20 });
      const b = fc.sample(s.scenario(p), { seed: CI_SEED, numRuns: 20 });
      expect(a).toEqual(b);
    }
  });
});

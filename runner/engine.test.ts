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
import { spawnSync } from 'node:child_process';
import { executeRun } from './engine.ts';
import { applyExpectations, updateExpectations } from './expectations.ts';
import { catches, measureMutant } from './mutants.ts';
import { deriveProfile } from './profile.ts';
import { replayFiles } from './replay.ts';
import { targetFactory } from './targets.ts';
import { parseTargetSpec } from './targetSpec.ts';

const CI_SEED = 1;
const BIN = new URL('../bin/vhostcheck.js', import.meta.url).pathname;
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
  // `vhostcheck mutants` defaults (seed 1, 100 runs, not strict): the score the README quotes is the one this
  // test holds. A mutant counts only when a verdict that fails a default gate lands on one of its own ids.
  it('every mutant is caught at one of its own requirements, in the default mode', async () => {
    const survivors: string[] = [];
    for (const m of MUTANTS) {
      const o = await measureMutant(m.name, { seed: CI_SEED, runs: 100, timeBudgetS: 30 });
      expect(o.detected).toBe(o.namedHit);
      if (!o.namedHit) survivors.push(`${m.name} (failed: ${o.failed.join(', ') || 'nothing'})`);
    }
    expect(survivors).toEqual([]);
  }, 600_000);

  it('only a verdict that fails a default gate is a catch; NON_STRICT only under --strict, ERROR (the suite\'s fault) never', () => {
    for (const v of ['FAIL', 'CRASH', 'TIMEOUT']) expect(catches(v, false), v).toBe(true);
    for (const v of ['NON_STRICT', 'INFORMATIONAL', 'ERROR', 'PASS', 'NOT_RUN']) expect(catches(v, false), v).toBe(false);
    expect(catches('NON_STRICT', true)).toBe(true);
    expect(catches('ERROR', true)).toBe(false);
  });
});

describe('an honest gate', () => {
  it('a run cut short by its time budget exits 1 and says how many requirements it did not reach', () => {
    const r = spawnSync(process.execPath, [BIN, 'run', '--target', 'simulated:mutant=avail-idx-runaway', '--time-budget', '0.3', '--report-dir', join(dir, 'cut'), '--regression-dir', join(dir, 'cut-regs')], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(1);
    const notRun = Number(/(\d+) not run/.exec(r.stdout)?.[1]);
    expect(notRun).toBeGreaterThan(0);
    expect(r.stdout).toContain('not reached:');
  }, 60_000);

  it('a recorded crash passes the gate; the same crash recorded at another message does not', async () => {
    const run = await executeRun({ targetSpec: 'simulated:mutant=vring-fd-leak', selectors: [], seed: CI_SEED, runs: 100, strict: false, regressionDir: join(dir, 'crash'), replayRegressions: false });
    const crash = run.results.find((r) => r.verdict === 'CRASH' && r.deviations?.some((d) => d.trigger.startsWith('control:')));
    expect(crash).toBeDefined();
    const recorded = updateExpectations(undefined, run, 'simulated');
    expect(applyExpectations(run, recorded).results.find((r) => r.id === crash!.id)).toMatchObject({ unexpected: false });
    // The file knows a crash under this requirement, but at another message: this one is new.
    const elsewhere = { ...recorded, expectations: { ...recorded.expectations, [crash!.id]: { verdict: 'CRASH' as const, trigger: 'control:getVringBase/crash', reason: 'a crash at another message' } } };
    const gated = applyExpectations(run, elsewhere);
    expect(gated.results.find((r) => r.id === crash!.id)).toMatchObject({ verdict: 'CRASH', unexpected: true });
    expect(gated.summary.unexpected).toBeGreaterThan(0);
  }, 120_000);

  it('keeps hunting a requirement after a captured deviation: another trigger under it is still found', async () => {
    const run = await executeRun({ targetSpec: 'simulated:mutant=vring-index-u16-truncation', selectors: ['vhost-user.robust.vring-index-range'], seed: CI_SEED, runs: 100, strict: false, regressionDir: join(dir, 'hunt'), replayRegressions: false });
    const r = run.results.find((x) => x.id === 'vhost-user.robust.vring-index-range');
    expect(new Set(r?.deviations?.map((d) => d.trigger)).size).toBeGreaterThan(1);
  }, 120_000);

  it('kernel-target requirements are not applicable to the simulated device, with the reason', async () => {
    const run = await executeRun({ targetSpec: 'simulated', selectors: ['vhost-vdpa', 'vduse'], seed: CI_SEED, runs: 1, strict: false, regressionDir: join(dir, 'na'), replayRegressions: false });
    expect(run.results.length).toBeGreaterThan(10);
    for (const r of run.results) expect(r, r.id).toMatchObject({ verdict: 'SKIP', category: 'not-applicable' });
  });
});

describe('regressions', () => {
  it('a saved counterexample replays to the same failure', async () => {
    const regs = join(dir, 'replay');
    const run = await executeRun({ targetSpec: 'simulated:mutant=avail-idx-runaway', selectors: [], seed: CI_SEED, runs: 300, strict: true, regressionDir: regs, replayRegressions: false, stopAtFirstFailure: true });
    const failed = run.results.find((r) => r.failure?.regressionFile);
    expect(failed).toBeDefined();
    const files = (await readdir(regs)).map((f) => join(regs, f));
    expect(files).toHaveLength(1);
    const [again] = (await replayFiles(files, { signal: new AbortController().signal, onProgress: () => {} })).cases;
    expect(again).toMatchObject({ requirement: failed!.id, outcome: 'reproduced' });
    expect(again.own).toMatchObject({ requirement: failed!.id, verdict: failed!.verdict });
    expect(again.steps).toEqual(failed!.failure!.steps);
    // The healthy device raises no alarm on the same steps: the case is about the bug, not the scenario.
    const [healthy] = (await replayFiles(files, { targetSpec: 'simulated', signal: new AbortController().signal, onProgress: () => {} })).cases;
    expect(healthy).toMatchObject({ outcome: 'did not reproduce', others: [] });
    expect(healthy.own).toBeUndefined();
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

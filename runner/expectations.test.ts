import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { finalLine } from './console.ts';
import {
  applyExpectations,
  defaultExpectationsPath,
  ExpectationsError,
  parseExpectations,
  PLACEHOLDER_REASON,
  readExpectations,
  serializeExpectations,
  updateExpectations,
  type ExpectationsFile,
  summarize,
} from './expectations.ts';
import type { RunResult } from './results.ts';
import { RUN, REQUIREMENTS } from './runResult.fixture.ts';
import { parseTargetSpec } from './targetSpec.ts';
import { UsageError } from './usageError.ts';

const known = (id: string) => REQUIREMENTS.some((r) => r.id === id);
const parse = (doc: unknown) => parseExpectations(typeof doc === 'string' ? doc : JSON.stringify(doc), 'x.json', known);
const byId = (run: RunResult, id: string) => run.results.find((r) => r.id === id)!;

describe('applyExpectations', () => {
  it('without a file, PASS, SKIP, UNSUPPORTED, INFORMATIONAL and (not strict) NON_STRICT are expected', () => {
    expect(RUN.strict).toBe(false);
    const run = applyExpectations(RUN, undefined);
    const byDefault = ['PASS', 'SKIP', 'UNSUPPORTED', 'INFORMATIONAL', 'NON_STRICT'];
    for (const r of run.results) expect(r.unexpected, r.id).toBe(!byDefault.includes(r.verdict));
    // The fixture's own marks say otherwise: the policy, not the engine, decides.
    expect(byId(RUN, 'virtio.status.needs-reset-set').unexpected).toBe(true);
    expect(byId(run, 'virtio.status.needs-reset-set')).toMatchObject({ verdict: 'NON_STRICT', unexpected: false });
    expect(byId(run, 'virtio.features.informational')).toMatchObject({ verdict: 'INFORMATIONAL', unexpected: false });
    // FAIL, CRASH, TIMEOUT and ERROR remain; still reported by verdict.
    expect(run.summary).toMatchObject({ passed: 1, failed: 4, skipped: 2, unexpected: 4, known: 2 });
    expect(run.summary.byVerdict).toMatchObject({ NON_STRICT: 1, INFORMATIONAL: 1 });
    // Expected deviations pass the gate but stay on the final line.
    expect(finalLine(run.summary)).toBe('1 passed, 4 failed, 2 skipped, 2 known deviations');
  });

  it('an expected FAIL this run did not reach (SKIP) is not unexpected; any verdict it did get must match', () => {
    const skipped = RUN.results.find((r) => r.verdict === 'SKIP')!;
    const file = { target: 'x', expectations: { [skipped.id]: { verdict: 'FAIL' as const, reason: 'known bug' } } };
    expect(byId(applyExpectations(RUN, file), skipped.id)).toMatchObject({ verdict: 'SKIP', expected: 'FAIL', unexpected: false });
    const crashed = { ...RUN, results: RUN.results.map((r) => (r.id === skipped.id ? { ...r, verdict: 'CRASH' as const } : r)) };
    expect(byId(applyExpectations(crashed, file), skipped.id)).toMatchObject({ verdict: 'CRASH', unexpected: true });
  });

  it('NON_STRICT is unexpected under --strict and expected otherwise', () => {
    const id = 'virtio.status.needs-reset-set';
    const lax = applyExpectations({ ...RUN, strict: false }, undefined);
    const strict = applyExpectations({ ...RUN, strict: true }, undefined);
    expect(byId(lax, id)).toMatchObject({ verdict: 'NON_STRICT', unexpected: false });
    expect(byId(strict, id)).toMatchObject({ verdict: 'NON_STRICT', unexpected: true });
    // --strict touches nothing but NON_STRICT.
    for (const r of strict.results) if (r.id !== id) expect(r.unexpected, r.id).toBe(byId(lax, r.id).unexpected);
    expect(byId(strict, 'virtio.features.informational').unexpected).toBe(false);
    // The extra unexpected result is a failure in the final line and the gate.
    expect(lax.summary).toMatchObject({ passed: 1, failed: 4, skipped: 2, unexpected: 4 });
    expect(strict.summary).toMatchObject({ passed: 1, failed: 5, skipped: 2, unexpected: 5 });
    expect(finalLine(strict.summary)).toBe('1 passed, 5 failed, 2 skipped, 1 known deviation');
    // A documented SHOULD deviation is still expected under --strict.
    const file = parse({ target: 'simulated', expectations: { [id]: { verdict: 'NON_STRICT', reason: 'design choice' } } });
    const listed = applyExpectations({ ...RUN, strict: true }, file);
    expect(byId(listed, id)).toMatchObject({ expected: 'NON_STRICT', expectationReason: 'design choice', unexpected: false });
    expect(listed.summary).toMatchObject({ failed: 4, unexpected: 4 });
  });

  it('INFORMATIONAL is expected by default, but an entry naming another verdict makes it unexpected', () => {
    const id = 'virtio.features.informational';
    expect(byId(applyExpectations(RUN, undefined), id).unexpected).toBe(false);
    for (const strict of [false, true]) {
      expect(byId(applyExpectations({ ...RUN, strict }, undefined), id).unexpected, `strict=${strict}`).toBe(false);
    }
    for (const verdict of ['PASS', 'FAIL'] as const) {
      const file = parse({ target: 'simulated', expectations: { [id]: { verdict, reason: 'pinned behaviour' } } });
      const run = applyExpectations(RUN, file);
      expect(byId(run, id), verdict).toMatchObject({ verdict: 'INFORMATIONAL', expected: verdict, expectationReason: 'pinned behaviour', unexpected: true });
      expect(run.summary, verdict).toMatchObject({ passed: 1, failed: 5, skipped: 2, unexpected: 5 });
      expect(finalLine(run.summary)).toBe('1 passed, 5 failed, 2 skipped, 1 known deviation');
    }
    // An entry naming INFORMATIONAL itself documents it and keeps it expected.
    const same = parse({ target: 'simulated', expectations: { [id]: { verdict: 'INFORMATIONAL', reason: 'spec leaves it open' } } });
    expect(byId(applyExpectations(RUN, same), id)).toMatchObject({ expected: 'INFORMATIONAL', unexpected: false });
  });

  it('a listed verdict is expected and carries its reason', () => {
    const file = parse({
      target: 'simulated',
      expectations: { 'virtio.split.used.len-before-idx': { verdict: 'FAIL', reason: 'known bug #12' } },
    });
    const r = byId(applyExpectations(RUN, file), 'virtio.split.used.len-before-idx');
    expect(r).toMatchObject({ expected: 'FAIL', expectationReason: 'known bug #12', unexpected: false });
  });

  it('an expected FAIL that now passes is an unexpected pass', () => {
    const file = parse({
      target: 'simulated',
      expectations: { 'virtio.split.used.id-was-available': { verdict: 'FAIL', reason: 'bug #7' } },
    });
    const run = applyExpectations(RUN, file);
    expect(byId(run, 'virtio.split.used.id-was-available')).toMatchObject({ verdict: 'PASS', expected: 'FAIL', unexpected: true });
    // Counted as a pass in the final line, but it still fails the gate.
    expect(run.summary.passed).toBe(1);
    expect(run.summary.failed).toBe(4);
    expect(run.summary.unexpected).toBe(5);
  });

  it('a listed verdict that changed (FAIL → CRASH) is unexpected', () => {
    const file = parse({
      target: 'simulated',
      expectations: { 'vhost-user.ring.get-vring-base-stops': { verdict: 'FAIL', reason: 'r' } },
    });
    expect(byId(applyExpectations(RUN, file), 'vhost-user.ring.get-vring-base-stops').unexpected).toBe(true);
  });
});

describe('parseExpectations', () => {
  it('rejects corrupt or mis-shaped files with an ExpectationsError naming the file', () => {
    const bad: unknown[] = [
      '{"target": "simulated", "expectations": {',
      [],
      { target: 'simulated' },
      { target: '', expectations: {} },
      { target: 'simulated', expectations: {}, extra: 1 },
      { target: 'simulated', expectations: { 'no.such.id': { verdict: 'FAIL', reason: 'r' } } },
      { target: 'simulated', expectations: { 'vduse.create.vq-num-limit': { verdict: 'BROKEN', reason: 'r' } } },
      { target: 'simulated', expectations: { 'vduse.create.vq-num-limit': { verdict: 'FAIL' } } },
      { target: 'simulated', expectations: { 'vduse.create.vq-num-limit': { verdict: 'FAIL', reason: 'two\nlines' } } },
      { target: 'simulated', expectations: { 'vduse.create.vq-num-limit': { verdict: 'FAIL', reason: 'r', why: 1 } } },
      { target: 'simulated', expectations: { 'vduse.create.vq-num-limit': 'FAIL' } },
    ];
    for (const doc of bad) {
      expect(() => parse(doc), JSON.stringify(doc)).toThrow(ExpectationsError);
      expect(() => parse(doc)).toThrow(/x\.json/);
    }
    expect(new ExpectationsError('x')).toBeInstanceOf(UsageError);
  });
});

describe('readExpectations', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vhostcheck-exp-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a missing default file means no expectations; a missing named file is an error', async () => {
    const path = join(dir, 'absent.json');
    await expect(readExpectations(path, known, false)).resolves.toBeUndefined();
    await expect(readExpectations(path, known, true)).rejects.toThrow(ExpectationsError);
  });

  it('reads and validates a file', async () => {
    const path = join(dir, 'simulated.json');
    await writeFile(path, '{ "target": "simulated", "expectations": { "bogus": { "verdict": "FAIL", "reason": "r" } } }');
    await expect(readExpectations(path, known, false)).rejects.toThrow(/'bogus' is not a requirement id/);
  });

  it('defaults to expectations/<target name>.json', () => {
    expect(defaultExpectationsPath(parseTargetSpec('vhost-user:spawn=qsd-blk'))).toBe(join('expectations', 'qsd-blk.json'));
    expect(defaultExpectationsPath(parseTargetSpec('simulated'))).toBe(join('expectations', 'simulated.json'));
  });
});

describe('updateExpectations', () => {
  it('records deviations, keeps reasons, drops fixed entries and leaves unrelated ones', () => {
    const previous: ExpectationsFile = {
      target: 'simulated',
      expectations: {
        'vhost-user.ring.get-vring-base-stops': { verdict: 'FAIL', reason: 'hand-written reason' },
        'virtio.split.used.id-was-available': { verdict: 'FAIL', reason: 'fixed since' },
        'vhost-vdpa.enable-after-driver-ok': { verdict: 'SKIP', reason: 'no vdpa in CI' },
      },
    };
    const selected: RunResult = { ...RUN, results: RUN.results.filter((r) => r.id !== 'vhost-vdpa.enable-after-driver-ok') };
    const next = updateExpectations(previous, selected, 'simulated');
    expect(next.expectations['vhost-user.ring.get-vring-base-stops']).toEqual({ verdict: 'CRASH', reason: 'hand-written reason' });
    expect(next.expectations['virtio.split.used.len-before-idx']).toEqual({ verdict: 'FAIL', reason: PLACEHOLDER_REASON });
    expect(next.expectations).not.toHaveProperty(['virtio.split.used.id-was-available']);
    expect(next.expectations['vhost-vdpa.enable-after-driver-ok']).toEqual({ verdict: 'SKIP', reason: 'no vdpa in CI' });
    // Expected by default in a non-strict run, so no entry for either.
    expect(next.expectations).not.toHaveProperty(['virtio.status.needs-reset-set']);
    expect(next.expectations).not.toHaveProperty(['virtio.features.informational']);
    expect(applyExpectations(selected, next).summary.unexpected).toBe(0);
    // Stable, sorted output for reviewable diffs; and it reads back.
    const text = serializeExpectations(next);
    expect(Object.keys(JSON.parse(text).expectations)).toEqual(Object.keys(next.expectations).sort());
    expect(parse(text)).toEqual(next);
  });

  it('records NON_STRICT only for a --strict run, and drops a stale entry on an INFORMATIONAL result', () => {
    const previous: ExpectationsFile = {
      target: 'simulated',
      expectations: { 'virtio.features.informational': { verdict: 'FAIL', reason: 'was a failure once' } },
    };
    const lax = updateExpectations(previous, RUN, 'simulated');
    expect(lax.expectations).not.toHaveProperty(['virtio.status.needs-reset-set']);
    expect(lax.expectations).not.toHaveProperty(['virtio.features.informational']);
    expect(Object.keys(lax.expectations)).toEqual([
      'vduse.create.vq-num-limit',
      'vhost-user.ring.get-vring-base-stops',
      'vhost-user.robust.survives',
      'virtio.split.used.len-before-idx',
    ]);
    expect(applyExpectations(RUN, lax).summary.unexpected).toBe(0);

    const strictRun: RunResult = { ...RUN, strict: true };
    const strict = updateExpectations(previous, strictRun, 'simulated');
    expect(strict.expectations['virtio.status.needs-reset-set']).toEqual({ verdict: 'NON_STRICT', reason: PLACEHOLDER_REASON });
    expect(strict.expectations).not.toHaveProperty(['virtio.features.informational']);
    expect(Object.keys(strict.expectations)).toHaveLength(5);
    expect(applyExpectations(strictRun, strict).summary.unexpected).toBe(0);
  });
});

describe('fingerprints (requirement, verdict, trigger)', () => {
  const ID = 'vhost-user.ring.get-vring-base-stops';
  const crashAt = (op: string) => ({ verdict: 'CRASH' as const, trigger: `control:${op}/crash`, detail: `SIGSEGV at ${op}` });
  const runWith = (...deviations: ReturnType<typeof crashAt>[]): RunResult => {
    const results = RUN.results.map((r) => (r.id === ID ? { ...r, verdict: 'CRASH' as const, deviations } : r));
    return { ...RUN, results, summary: summarize(results) };
  };
  const recorded: ExpectationsFile = { target: 'x', expectations: { [ID]: { verdict: 'CRASH', trigger: 'control:getVringBase/crash', reason: 'known SIGSEGV' } } };

  it('the recorded crash passes the gate; a new crash at a different message under the same requirement fails it', () => {
    const known = applyExpectations(runWith(crashAt('getVringBase')), recorded);
    expect(byId(known, ID)).toMatchObject({ verdict: 'CRASH', expected: 'CRASH', unexpected: false });
    const fresh = applyExpectations(runWith(crashAt('getVringBase'), crashAt('setVringNum')), recorded);
    expect(byId(fresh, ID)).toMatchObject({ verdict: 'CRASH', unexpected: true });
    expect(byId(fresh, ID).detail).toContain('new deviation CRASH at control:setVringNum/crash');
    expect(fresh.summary.unexpected).toBe(known.summary.unexpected + 1);
  });

  it('an entry without a trigger (first file format) still matches any trigger of its verdict', () => {
    const old: ExpectationsFile = { target: 'x', expectations: { [ID]: { verdict: 'CRASH', reason: 'old file' } } };
    expect(byId(applyExpectations(runWith(crashAt('getVringBase'), crashAt('setVringNum')), old), ID).unexpected).toBe(false);
  });

  it('a file lists several deviations of one requirement; --update-expectations writes one entry per fingerprint', () => {
    const run = runWith(crashAt('getVringBase'), crashAt('setVringNum'));
    const next = updateExpectations(recorded, run, 'x');
    expect(next.expectations[ID]).toEqual([
      { verdict: 'CRASH', trigger: 'control:getVringBase/crash', reason: 'known SIGSEGV' },
      { verdict: 'CRASH', trigger: 'control:setVringNum/crash', reason: PLACEHOLDER_REASON },
    ]);
    expect(parse(serializeExpectations(next))).toEqual(next);
    expect(byId(applyExpectations(run, next), ID).unexpected).toBe(false);
    expect(() => parse({ target: 'x', expectations: { [ID]: { verdict: 'CRASH', trigger: 'no slash', reason: 'r' } } })).toThrow(ExpectationsError);
  });

  it('NOT_RUN is never expected: a run cut short is red whatever the file lists', () => {
    const results = RUN.results.map((r) => (r.id === ID ? { ...r, verdict: 'NOT_RUN' as const, category: 'not-reached' as const, detail: 'not reached: time budget' } : r));
    const cut = applyExpectations({ ...RUN, results, summary: summarize(results) }, recorded);
    expect(byId(cut, ID)).toMatchObject({ verdict: 'NOT_RUN', unexpected: true });
    expect(cut.summary.notRun).toBe(1);
    expect(finalLine(cut.summary)).toContain('1 not run');
  });
});

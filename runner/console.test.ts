import { describe, expect, it } from 'vitest';
import { describeResult, finalLine, ProgressPrinter, renderProblems } from './console.ts';
import { applyExpectations } from './expectations.ts';
import { lookup, REPLAY, RUN } from './runResult.fixture.ts';

function sink(isTTY: boolean, columns?: number) {
  const chunks: string[] = [];
  return { chunks, stream: { isTTY, columns, write: (c: string) => chunks.push(c) } };
}
const progress = (done: number) => ({ suite: 'split-ring', done, total: 10, failures: 1, elapsedMs: 1500 });

describe('ProgressPrinter', () => {
  it('redraws one status line on a terminal, cut to its width, and clears it at the end', () => {
    const { chunks, stream } = sink(true, 20);
    const p = new ProgressPrinter(stream);
    p.update(progress(1));
    p.update(progress(2));
    p.finish();
    expect(chunks.every((c) => c.startsWith('\r\x1b[2K') && !c.includes('\n'))).toBe(true);
    expect(chunks[1].length).toBeLessThanOrEqual('\r\x1b[2K'.length + 19);
    expect(chunks.at(-1)).toBe('\r\x1b[2K');
  });

  it('prints plain lines at most every 5 s when not a terminal', () => {
    const { chunks, stream } = sink(false);
    let now = 0;
    const p = new ProgressPrinter(stream, () => now);
    p.update(progress(1));
    now = 4999;
    p.update(progress(2));
    now = 5000;
    p.update(progress(3));
    p.finish();
    expect(chunks).toEqual(['vhostcheck: split-ring 1/10, 1 failure, 1.5s\n', 'vhostcheck: split-ring 3/10, 1 failure, 1.5s\n']);
  });
});

describe('a result that was not judged', () => {
  it('says why, with its category', () => {
    const r = { id: 'virtio.split.used.len-before-idx', verdict: 'NOT_RUN' as const, category: 'not-reached' as const, detail: 'split-ring cut short', suites: [], unexpected: true };
    expect(describeResult(r, lookup)).toContain('  detail: not-reached: split-ring cut short');
  });
});

describe('ProgressPrinter counts', () => {
  it('counts new failures and known deviations apart', () => {
    const { chunks, stream } = sink(false);
    const p = new ProgressPrinter(stream, () => 0, (id) => id === 'known.a' || id === 'known.b');
    p.update({ suite: 'raw', done: 1, total: 3, failures: 5, failing: ['new.x', 'known.a', 'known.b'], elapsedMs: 0 });
    expect(chunks).toEqual(['vhostcheck: raw 1/3, 1 new failure, 2 known deviations, 0.0s\n']);
  });
});

describe('failure output', () => {
  it('spells out requirement, source, expected, actual, numbered steps, frames and replay', () => {
    const text = describeResult(RUN.results[0], lookup).join('\n');
    expect(text).toContain('FAIL virtio.split.used.len-before-idx (MUST, device)');
    expect(text).toContain('source: virtio-1.2 §2.7.8 The Virtqueue Used Ring [devicenormative:used]');
    expect(text).toContain('- used.len written before used.idx → PASS');
    expect(text).toMatch(/1\. SET_FEATURES[^\n]*\n {4}2\. ADD_BUF[^\n]*\n {4}3\. KICK/);
    expect(text).toContain('01 00 00 00 01 00 00 00 08 00 00 00');
    expect(text).toContain(`replay: ${REPLAY}`);
  });

  it('lists unexpected non-passes and unexpected passes, nothing else', () => {
    const run = applyExpectations(RUN, {
      target: 'simulated',
      expectations: {
        'virtio.split.used.id-was-available': { verdict: 'FAIL', reason: 'bug #7' },
        'vduse.create.vq-num-limit': { verdict: 'ERROR', reason: 'known' },
      },
    });
    const text = renderProblems(run, lookup);
    expect(text).toContain('CRASH vhost-user.ring.get-vring-base-stops');
    expect(text).not.toContain('ERROR vduse.create.vq-num-limit');
    expect(text).not.toContain('virtio.packed.wrap-counter');
    expect(text).toContain('virtio.split.used.id-was-available: listed as FAIL (bug #7)');
  });

  it('ends with the exact summary line', () => {
    expect(finalLine(RUN.summary)).toBe('1 passed, 6 failed, 2 skipped');
  });
});

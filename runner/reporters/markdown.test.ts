import { describe, expect, it } from 'vitest';
import { lookup, REPLAY, RUN } from '../runResult.fixture.ts';
import { applyExpectations } from '../expectations.ts';
import { renderMarkdown } from './markdown.ts';

describe('Markdown reporter', () => {
  const md = renderMarkdown(
    applyExpectations(RUN, {
      target: 'simulated',
      expectations: { 'vduse.create.vq-num-limit': { verdict: 'ERROR', reason: 'needs | a fix' } },
    }),
    lookup,
  );

  it('has the run header and summary', () => {
    expect(md).toMatch(/^# vhostcheck report: simulated\n/);
    expect(md).toContain('| Seed | 1 |');
    expect(md).toContain('| Duration | 1.2 s |');
    // FAIL, CRASH and TIMEOUT; the ERROR is listed, NON_STRICT and INFORMATIONAL are expected by default.
    expect(md).toContain('**1 passed, 3 failed, 2 skipped** — 3 unexpected.');
    expect(md).toContain('| NON_STRICT | 1 |');
    expect(md).toContain('| INFORMATIONAL | 1 |');
    expect(md).toContain('`0x130000000`');
  });

  it('has one table row per requirement, with the expected verdict and an escaped reason', () => {
    for (const r of RUN.results) expect(md).toContain(`| \`${r.id}\` |`);
    expect(md).toContain('| `vduse.create.vq-num-limit` | MUST | ERROR | ERROR | needs \\| a fix |');
    expect(md).toContain('| `virtio.split.used.len-before-idx` | MUST | **FAIL** (unexpected) |  |  |');
    expect(md).toContain('| `virtio.status.needs-reset-set` | SHOULD | NON_STRICT |  |  |');
    expect(md).toContain('| `virtio.features.informational` | MAY | INFORMATIONAL |  |  |');
  });

  it('marks NON_STRICT unexpected, with a section, only in a --strict run', () => {
    expect(md).toContain('| Strict | no |');
    expect(md).not.toContain('### NON_STRICT');
    expect(md).not.toContain('### INFORMATIONAL');
    const strict = renderMarkdown(applyExpectations({ ...RUN, strict: true }, undefined), lookup);
    expect(strict).toContain('| Strict | yes |');
    expect(strict).toContain('**1 passed, 5 failed, 2 skipped** — 5 unexpected.');
    expect(strict).toContain('| `virtio.status.needs-reset-set` | SHOULD | **NON_STRICT** (unexpected) |  |  |');
    expect(strict).toContain('### NON_STRICT `virtio.status.needs-reset-set`\n\n> A broken device sets DEVICE_NEEDS_RESET.');
    expect(strict).toContain('| `virtio.features.informational` | MAY | INFORMATIONAL |  |  |');
    expect(strict).not.toContain('### INFORMATIONAL');
  });

  it('marks INFORMATIONAL unexpected when the expectations file names another verdict', () => {
    const text = renderMarkdown(
      applyExpectations(RUN, {
        target: 'simulated',
        expectations: { 'virtio.features.informational': { verdict: 'PASS', reason: 'pinned' } },
      }),
      lookup,
    );
    expect(text).toContain('**1 passed, 5 failed, 2 skipped** — 5 unexpected.');
    expect(text).toContain('| `virtio.features.informational` | MAY | **INFORMATIONAL** (unexpected) | PASS | pinned |');
    expect(text).toContain('### INFORMATIONAL `virtio.features.informational`\n');
    expect(text).toContain('Expectations file: PASS — pinned');
  });

  it('gives each failure a section with source, outcomes, numbered steps and the replay command', () => {
    const section = md.slice(md.indexOf('### FAIL `virtio.split.used.len-before-idx`'));
    expect(section).toContain('> The device writes used len before it publishes used idx.');
    expect(section).toContain('virtio-1.2 §2.7.8 The Virtqueue Used Ring');
    expect(section).toContain('**Actual:** `used.idx published first <tag a="1" b=\'2\'> & \\x01\\x1b end`');
    expect(section).toMatch(/\*\*Steps\*\*\n\n```\n1\. SET_FEATURES 0x100000000\n2\. ADD_BUF vq=0 \[r:16\]\n3\. KICK/);
    expect(section).toContain(`\`\`\`sh\n${REPLAY}\n\`\`\``);
    // A known deviation with no counterexample has nothing beyond its table row.
    expect(md).not.toContain('### ERROR');
    expect(md).not.toContain('### UNSUPPORTED');
    expect(md).toContain('### CRASH `vhost-user.ring.get-vring-base-stops`\n\n> GET_VRING_BASE stops the ring.');
  });

  it('keeps the section of a known deviation that has a counterexample, marked expected', () => {
    const run = applyExpectations(RUN, {
      target: 'simulated',
      expectations: { 'virtio.split.used.len-before-idx': { verdict: 'FAIL', reason: 'bug #12' } },
    });
    const text = renderMarkdown(run, lookup);
    expect(text).toContain('### FAIL `virtio.split.used.len-before-idx` (expected)');
    expect(text).toContain('Expectations file: FAIL — bug #12');
  });
});

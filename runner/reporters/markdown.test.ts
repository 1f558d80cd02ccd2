import { describe, expect, it } from 'vitest';
import { applyExpectations } from '../expectations.ts';
import type { RequirementResult, RunResult } from '../results.ts';
import { lookup, REPLAY, RUN } from '../runResult.fixture.ts';
import { renderMarkdown } from './markdown.ts';

const CONTEXT = { commandLine: 'vhostcheck run --seed 1', hostKernel: 'Linux 6.1.0-test', nodeVersion: 'v20.0.0' };

describe('Markdown reporter', () => {
  const md = renderMarkdown(
    applyExpectations(RUN, {
      target: 'simulated',
      expectations: { 'vduse.create.vq-num-limit': { verdict: 'ERROR', reason: 'needs | a fix' } },
    }),
    lookup,
    CONTEXT,
  );
  const at = (text: string) => {
    const i = md.indexOf(text);
    expect(i, text).toBeGreaterThanOrEqual(0);
    return i;
  };

  it('starts with how the run was made: command, tool, target and profile, host kernel and Node, then the summary', () => {
    expect(md).toMatch(/^# vhostcheck report: simulated\n/);
    const order = ['| Command | `vhostcheck run --seed 1` |', '| Tool | vhostcheck 0.1.0', '| Target | `simulated` — simulated 0.1.0', '| Profile | eventIdx=true, queues=2', '| Host | Linux 6.1.0-test, Node v20.0.0 |', '## Summary'].map(at);
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(md).toContain('| Seed | 1 |');
    expect(md).toContain('| Duration | 1.2 s |');
  });

  it('states the summary in the words of the console line, known deviations included', () => {
    // FAIL, CRASH and TIMEOUT are new; the listed ERROR, NON_STRICT and INFORMATIONAL are known.
    expect(md).toContain('**1 passed, 3 failed, 2 skipped, 3 known deviations** — 3 unexpected.');
    expect(md).toContain('| NON_STRICT | 1 |');
    expect(md).toContain('| INFORMATIONAL | 1 |');
  });

  it('puts deviations, new ones first, before the full matrix, which follows catalogue order', () => {
    const sections = ['## Deviations', '### FAIL `virtio.split.used.len-before-idx`', '### CRASH `vhost-user.ring.get-vring-base-stops`', '### ERROR `vduse.create.vq-num-limit` (known deviation)', '### NON_STRICT `virtio.status.needs-reset-set` (known deviation)', '## Results'].map(at);
    expect(sections).toEqual([...sections].sort((a, b) => a - b));
    const rows = RUN.results.map((r) => at(`| \`${r.id}\` |`));
    expect(rows).toEqual([...rows].sort((a, b) => a - b));
    expect(rows[0]).toBeGreaterThan(at('## Results'));
  });

  it('describes a deviation by expected and actual behaviour, with the exchange of the shrunk case and the replay command', () => {
    const section = md.slice(at('### FAIL `virtio.split.used.len-before-idx`'), at('### CRASH'));
    expect(section).toContain('> The device writes used len before it publishes used idx.');
    expect(section).toContain('virtio-1.2 §2.7.8 The Virtqueue Used Ring');
    expect(section).toContain('**Expected behaviour** (any of these outcomes):\n\n- used.len written before used.idx → PASS');
    expect(section).toContain('**Actual behaviour:** used.idx published first &lt;tag a="1" b=\'2\'&gt; &amp; \\x01\\x1b end');
    expect(section).toMatch(/\*\*Exchange\*\* \(the shrunk case, 3 steps\):\n\n```\n1\. SET_FEATURES 0x100000000\n2\. ADD_BUF vq=0 \[r:16\]\n3\. KICK/);
    expect(section).toContain(`\`\`\`sh\n${REPLAY}\n\`\`\``);
    expect(md).toContain('Expectations file: ERROR — needs | a fix');
  });

  it('has one matrix row per requirement, with the expected verdict and an escaped reason', () => {
    expect(md).toContain('| `vduse.create.vq-num-limit` | MUST | ERROR | ERROR | needs \\| a fix |');
    expect(md).toContain('| `virtio.split.used.len-before-idx` | MUST | **FAIL** (unexpected) |  |  |');
    expect(md).toContain('| `virtio.status.needs-reset-set` | SHOULD | NON_STRICT |  |  |');
  });

  it('gives every SKIP, UNSUPPORTED and NOT_RUN its category and reason', () => {
    const results: RequirementResult[] = RUN.results.map((r) =>
      r.id === 'vhost-vdpa.enable-after-driver-ok' ? ({ ...r, category: 'not-applicable', detail: 'a driver-side rule' } as RequirementResult)
      : r.id === 'virtio.packed.wrap-counter' ? ({ ...r, category: 'unsupported', detail: 'the target does not offer VIRTIO_F_RING_PACKED' } as RequirementResult)
      : r.id === 'virtio.split.used.id-was-available' ? ({ ...r, verdict: 'NOT_RUN', category: 'not-reached', detail: 'time budget' } as unknown as RequirementResult)
      : r,
    );
    const text = renderMarkdown(applyExpectations({ ...RUN, results } as RunResult, undefined), lookup, CONTEXT);
    expect(text).toContain('| `vhost-vdpa.enable-after-driver-ok` | SHOULD | SKIP |  | not-applicable: a driver-side rule |');
    expect(text).toContain('| `virtio.packed.wrap-counter` | MUST | UNSUPPORTED |  | unsupported: the target does not offer VIRTIO_F_RING_PACKED |');
    expect(text).toContain('| not-reached: time budget |');
  });

  it('marks NON_STRICT unexpected only in a --strict run', () => {
    expect(md).toContain('| Strict | no |');
    const strict = renderMarkdown(applyExpectations({ ...RUN, strict: true }, undefined), lookup, CONTEXT);
    expect(strict).toContain('| Strict | yes |');
    expect(strict).toContain('| `virtio.status.needs-reset-set` | SHOULD | **NON_STRICT** (unexpected) |  |  |');
    expect(strict).toContain('### NON_STRICT `virtio.status.needs-reset-set`\n\n> A broken device sets DEVICE_NEEDS_RESET.');
  });

  it('lists an unexpected pass with the entry to remove', () => {
    const text = renderMarkdown(
      applyExpectations(RUN, { target: 'simulated', expectations: { 'virtio.split.used.id-was-available': { verdict: 'FAIL', reason: 'bug #7' } } }),
      lookup,
      CONTEXT,
    );
    expect(text).toContain('### PASS `virtio.split.used.id-was-available` (unexpected pass)');
    expect(text).toContain('Expectations file: FAIL — bug #7; the deviation no longer happens, remove the entry.');
  });
});

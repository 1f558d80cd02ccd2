// report.md (DESIGN.md "runner/ and reports/"): the human-readable matrix,
// requirement × verdict, that reports/ publishes per implementation and that a
// CI job can attach. Every failure gets its own section with the exact replay
// command, so a reader can go from the table to a reproduction in one step.
import { formatSource, visible, type RequirementLookup } from '../console.ts';
import type { RequirementResult, RunResult } from '../results.ts';
import { suiteOf } from './junit.ts';

export function renderMarkdown(run: RunResult, lookup: RequirementLookup): string {
  const out: string[] = [];
  const t = run.target;
  out.push(`# vhostcheck report: ${inline(t.name)}`, '');
  out.push('| | |', '|---|---|');
  out.push(`| Target | ${code(t.spec)} — ${cell(`${t.name} ${t.version}, ${t.kind}, ${t.deviceType}`)} |`);
  out.push(`| Seed | ${run.seed} |`, `| Runs per property | ${run.runs} |`, `| Strict | ${run.strict ? 'yes' : 'no'} |`);
  out.push(`| Started | ${cell(run.startedAt)} |`, `| Duration | ${(run.durationMs / 1000).toFixed(1)} s |`);
  out.push(`| Tool | ${cell(`${run.tool.name} ${run.tool.version}`)}, schema ${run.schemaVersion} |`);
  if (run.interrupted) out.push('| Interrupted | **yes — partial results** |');
  out.push('');

  const profile = Object.entries(run.profile);
  if (profile.length) {
    out.push('## Profile', '', '| Setting | Value |', '|---|---|');
    for (const [key, value] of profile) out.push(`| ${cell(key)} | ${code(String(value))} |`);
    out.push('');
  }

  const s = run.summary;
  out.push('## Summary', '', `**${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped** — ${s.unexpected} unexpected.`, '');
  out.push('| Verdict | Count |', '|---|---:|');
  for (const [verdict, n] of Object.entries(s.byVerdict)) if (n > 0) out.push(`| ${verdict} | ${n} |`);
  out.push('');

  out.push('## Results', '', '| Requirement | Level | Verdict | Expected | Reason |', '|---|---|---|---|---|');
  let area = '';
  for (const r of run.results) {
    // A bold row per spec area keeps a long matrix scannable.
    if (suiteOf(r.id) !== area) {
      area = suiteOf(r.id);
      out.push(`| **${cell(area)}** | | | | |`);
    }
    const verdict = r.unexpected ? `**${r.verdict}** (unexpected)` : r.verdict;
    out.push(`| ${code(r.id)} | ${lookup(r.id)?.level ?? ''} | ${verdict} | ${r.expected ?? ''} | ${cell(r.expectationReason ?? '')} |`);
  }
  out.push('');

  const detailed = run.results.filter((r) => r.verdict !== 'PASS' && (r.failure || r.unexpected));
  if (detailed.length) {
    out.push('## Failures', '');
    for (const r of detailed) out.push(...failureSection(r, lookup));
  }
  return `${visible(out.join('\n')).trimEnd()}\n`;
}

function failureSection(r: RequirementResult, lookup: RequirementLookup): string[] {
  const req = lookup(r.id);
  const out = [`### ${r.verdict} ${code(r.id)}${r.unexpected ? '' : ' (expected)'}`, ''];
  if (req) out.push(`> ${inline(req.summary)}`, '', `${req.level}, ${req.role} — ${inline(formatSource(req.source))}`, '');
  if (r.expected) out.push(`Expectations file: ${r.expected} — ${inline(r.expectationReason ?? '')}`, '');
  if (r.detail) out.push(`Detail: ${inline(r.detail)}`, '');
  const f = r.failure;
  if (!f) return out;
  out.push('**Expected outcomes**', '', ...f.expected.map((e) => `- ${code(e)}`), '');
  out.push(`**Actual:** ${code(f.actual)}`, '');
  // Steps arrive numbered; a code block keeps them verbatim and copyable.
  if (f.steps.length) out.push('**Steps**', '', ...fence(f.steps.join('\n'), ''), '');
  if (f.frames?.length) out.push('**Last frames**', '', ...fence(f.frames.join('\n'), ''), '');
  out.push('**Replay**', '', ...fence(f.replayCommand, 'sh'), '');
  return out;
}

/** A code span that survives backticks inside it (CommonMark: use a longer backtick run). */
function code(s: string): string {
  const flat = s.replace(/[\r\n]+/g, ' ').replace(/\|/g, '\\|');
  const ticks = '`'.repeat(longestRun(flat, '`') + 1);
  const pad = flat.startsWith('`') || flat.endsWith('`') ? ' ' : '';
  return `${ticks}${pad}${flat}${pad}${ticks}`;
}

function fence(body: string, lang: string): string[] {
  const ticks = '`'.repeat(Math.max(3, longestRun(body, '`') + 1));
  return [`${ticks}${lang}`, body, ticks];
}

function longestRun(s: string, ch: string): number {
  let best = 0;
  let run = 0;
  for (const c of s) {
    run = c === ch ? run + 1 : 0;
    best = Math.max(best, run);
  }
  return best;
}

/** Text in a paragraph: no raw HTML, no line breaks. */
function inline(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').replace(/[<>&]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;' })[c] ?? c);
}

/** Text in a table cell: as inline, and `|` would end the cell. */
function cell(s: string): string {
  return inline(s).replace(/\|/g, '\\|');
}

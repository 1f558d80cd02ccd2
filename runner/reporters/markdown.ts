// report.md (DESIGN.md "runner/ and reports/"), written for the vendor whose
// implementation was tested: first how the run was made (command, versions,
// host), then the summary, then each deviation in words with the exchange of
// its shrunk case and the exact replay command, and last the full matrix,
// requirement × verdict, in catalogue order.
import { finalLine, formatSource, notJudged, notJudgedReason, visible, type RequirementLookup } from '../console.ts';
import type { RequirementResult, RunResult } from '../results.ts';
import { suiteOf } from './junit.ts';

/** Facts about the run the RunResult does not hold: how it was started and on what host. */
export interface ReportContext {
  readonly commandLine: string;
  /** `os.type() os.release()`, e.g. `Linux 6.1.0-18-amd64`. */
  readonly hostKernel: string;
  readonly nodeVersion: string;
}

export function renderMarkdown(run: RunResult, lookup: RequirementLookup, context: ReportContext): string {
  const out: string[] = [];
  const t = run.target;
  out.push(`# vhostcheck report: ${inline(t.name)}`, '');
  out.push('| | |', '|---|---|');
  out.push(`| Command | ${code(context.commandLine)} |`);
  out.push(`| Tool | ${cell(`${run.tool.name} ${run.tool.version}`)}, report schema ${run.schemaVersion} |`);
  out.push(`| Target | ${code(t.spec)} — ${cell(`${t.name} ${t.version}, ${t.kind}, ${t.deviceType}`)} |`);
  out.push(`| Profile | ${cell(profileSummary(run.profile))} (full profile at the end) |`);
  out.push(`| Host | ${cell(context.hostKernel)}, Node ${cell(context.nodeVersion)} |`);
  out.push(`| Seed | ${run.seed} |`, `| Runs per property | ${run.runs} |`, `| Strict | ${run.strict ? 'yes' : 'no'} |`);
  out.push(`| Started | ${cell(run.startedAt)} |`, `| Duration | ${(run.durationMs / 1000).toFixed(1)} s |`);
  if (run.interrupted) out.push('| Interrupted | **yes — partial results** |');
  out.push('');
  const s = run.summary;
  // The same sentence the console ends with, so the two can be compared at a glance.
  out.push('## Summary', '', `**${finalLine(s)}** — ${s.unexpected} unexpected.`, '');
  out.push('Every verdict, known deviations included:', '', '| Verdict | Count |', '|---|---:|');
  for (const [verdict, n] of Object.entries(s.byVerdict)) if (n > 0) out.push(`| ${verdict} | ${n} |`);
  out.push('');
  const deviations = run.results.filter((r) => r.verdict !== 'PASS' && !notJudged(r.verdict));
  const passes = run.results.filter((r) => r.unexpected && r.verdict === 'PASS');
  if (deviations.length || passes.length) {
    out.push('## Deviations', '');
    out.push('One section per requirement: new failures first, then known deviations.', '');
    const ordered = [...deviations.filter((r) => r.unexpected), ...deviations.filter((r) => !r.unexpected)];
    for (const r of ordered) out.push(...deviationSection(r, lookup));
    for (const r of passes) {
      out.push(`### PASS ${code(r.id)} (unexpected pass)`, '', `Expectations file: ${r.expected} — ${inline(r.expectationReason ?? '')}; the deviation no longer happens, remove the entry.`, '');
    }
  }
  out.push('## Results', '', 'Every selected requirement, in catalogue order.', '');
  out.push('| Requirement | Level | Verdict | Expected | Reason |', '|---|---|---|---|---|');
  let area = '';
  for (const r of run.results) {
    // A bold row per spec area keeps a long matrix scannable.
    if (suiteOf(r.id) !== area) {
      area = suiteOf(r.id);
      out.push(`| **${cell(area)}** | | | | |`);
    }
    const verdict = r.unexpected ? `**${r.verdict}** (unexpected)` : r.verdict;
    const reason = r.expectationReason ?? (notJudged(r.verdict) ? notJudgedReason(r) : undefined) ?? '';
    out.push(`| ${code(r.id)} | ${lookup(r.id)?.level ?? ''} | ${verdict} | ${r.expected ?? ''} | ${cell(reason)} |`);
  }
  out.push('');
  const profile = Object.entries(run.profile);
  if (profile.length) {
    out.push('## Profile', '', 'What the target offered, as the model was told.', '', '| Setting | Value |', '|---|---|');
    for (const [key, value] of profile) out.push(`| ${cell(key)} | ${code(String(value))} |`);
    out.push('');
  }
  return `${visible(out.join('\n')).trimEnd()}\n`;
}

/** The profile in one line for the header: the settings that are not feature words. */
function profileSummary(profile: RunResult['profile']): string {
  const short = Object.entries(profile).filter(([, v]) => typeof v !== 'string' || !/^0x[0-9a-f]{9,}$/i.test(v));
  return short.map(([k, v]) => `${k}=${String(v)}`).join(', ') || 'none';
}

/** A deviation in the words of the requirement: what the spec expects, what the target did, and the exchange that showed it. */
function deviationSection(r: RequirementResult, lookup: RequirementLookup): string[] {
  const req = lookup(r.id);
  const out = [`### ${r.verdict} ${code(r.id)}${r.unexpected ? '' : ' (known deviation)'}`, ''];
  if (req) out.push(`> ${inline(req.summary)}`, '', `${req.level}, ${req.role} — ${inline(formatSource(req.source))}`, '');
  if (r.expected) out.push(`Expectations file: ${r.expected} — ${inline(r.expectationReason ?? '')}`, '');
  const f = r.failure;
  if (!f) {
    if (r.detail) out.push(`**Actual behaviour:** ${inline(r.detail)}`, '');
    return out;
  }
  // An oracle's check has no outcome list: what it expects is the requirement's own sentence.
  const plainRule = f.expected.length === 1 && f.expected[0] === 'PASS';
  if (plainRule) out.push('**Expected behaviour:** what the requirement above says.', '');
  else out.push('**Expected behaviour** (any of these outcomes):', '', ...f.expected.map((e) => `- ${inline(e)}`), '');
  out.push(`**Actual behaviour:** ${inline(f.actual)}`, '');
  if (r.detail && !f.actual.endsWith(r.detail)) out.push(`Detail: ${inline(r.detail)}`, '');
  // Steps arrive numbered; a code block keeps them verbatim and copyable.
  if (f.steps.length) out.push(`**Exchange** (the shrunk case, ${f.steps.length} steps):`, '', ...fence(f.steps.join('\n'), ''), '');
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

// Console output of a run (DESIGN.md "runner/ and reports/"): a live status
// line on a terminal, plain periodic lines in CI logs (where `\r` redraws turn
// into thousands of lines), each failure spelled out so it can be acted on
// without opening a report, and the final line `N passed, N failed, N skipped[, N known deviations]`
// that scripts and humans look for.
import type { Progress } from './engine.ts';
import type { ReplayOutcome, ReplayReport } from './replay.ts';
import type { RequirementResult, RunResult, RunSummary } from './results.ts';
import type { Requirement, RequirementSource } from '../spec/requirements/types.ts';

export type RequirementLookup = (id: string) => Requirement | undefined;

export interface StatusStream {
  write(chunk: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** CI logs get a line at most this often: enough to show life, little enough to read. */
const PLAIN_INTERVAL_MS = 5000;
const CLEAR_LINE = '\r\x1b[2K';

export class ProgressPrinter {
  private lastPlainAt = -Infinity;
  private drawn = false;

  /** `isKnown(id)`: the expectations file lists this requirement's deviation, so it is not a new failure. */
  constructor(
    private readonly stream: StatusStream,
    private readonly now: () => number = Date.now,
    private readonly isKnown: (id: string) => boolean = () => false,
  ) {}

  update(p: Progress): void {
    const text = `${p.suite} ${p.done}/${p.total}, ${this.failureCounts(p)}, ${(p.elapsedMs / 1000).toFixed(1)}s`;
    if (this.stream.isTTY) {
      // One column short of the width: writing the last column wraps on some terminals.
      this.stream.write(CLEAR_LINE + truncate(text, (this.stream.columns || 80) - 1));
      this.drawn = true;
      return;
    }
    const t = this.now();
    if (t - this.lastPlainAt < PLAIN_INTERVAL_MS) return;
    this.lastPlainAt = t;
    this.stream.write(`vhostcheck: ${text}\n`);
  }

  /** New failures and known deviations apart: a gate with 11 listed deviations is not "11 failures" in the making. */
  private failureCounts(p: Progress): string {
    if (!p.failing) return plural(p.failures, 'failure');
    const known = p.failing.filter((id) => this.isKnown(id)).length;
    const fresh = plural(p.failing.length - known, 'new failure');
    return known ? `${fresh}, ${plural(known, 'known deviation')}` : fresh;
  }

  /** Removes the status line so what follows starts on a clean line. */
  finish(): void {
    if (this.drawn) this.stream.write(CLEAR_LINE);
    this.drawn = false;
  }
}

// Replies and frames are shaped by the target, which may be hostile or broken:
// a raw ESC or CR in them would rewrite the user's terminal, and XML cannot
// carry most controls at all. Everything but tab and newline outside the
// printable range (plus lone surrogates and the non-characters U+FFFE/U+FFFF)
// is shown as an escape instead.
const NOT_SHOWABLE = /[^\t\n\x20-\x7e\xa0-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

export function visible(s: string): string {
  return s.replace(NOT_SHOWABLE, (c) => {
    const cp = c.codePointAt(0) ?? 0;
    return cp < 0x100 ? `\\x${cp.toString(16).padStart(2, '0')}` : `\\u${cp.toString(16).padStart(4, '0')}`;
  });
}

export function formatSource(source: RequirementSource): string {
  // linux-code sections are a file and a function, not a numbered section.
  const where = source.doc === 'linux-code' ? `${source.doc} ${source.section}` : `${source.doc} §${source.section}`;
  return source.label ? `${where} [${source.label}]` : where;
}

/**
 * A result that needs attention, as plain lines: shared by the console and the
 * JUnit failure bodies so both say the same thing.
 */
export function describeResult(r: RequirementResult, lookup: RequirementLookup): string[] {
  const req = lookup(r.id);
  const lines = [`${r.verdict} ${r.id}${req ? ` (${req.level}, ${req.role})` : ''}`];
  if (req) lines.push(`  ${req.summary}`, `  source: ${formatSource(req.source)}`);
  if (r.expected) lines.push(`  expectations file: ${r.expected} (${r.expectationReason ?? 'no reason'})`);
  // A result that was not judged says why, by category (not reached, not covered, …) and reason.
  const detail = notJudged(r.verdict) ? notJudgedReason(r) : r.detail;
  if (detail) lines.push(`  detail: ${detail}`);
  const f = r.failure;
  if (f) {
    lines.push('  expected outcomes:', ...f.expected.map((e) => `    - ${e}`));
    lines.push(`  actual: ${f.actual}`);
    // The engine numbers the steps itself, so they read the same in a regression file.
    if (f.steps.length) lines.push('  steps:', ...f.steps.map((s) => `    ${s}`));
    if (f.frames?.length) lines.push('  last frames:', ...f.frames.flatMap((fr) => fr.split('\n')).map((l) => `    ${l}`));
    lines.push(`  replay: ${f.replayCommand}`);
  }
  return lines.map(visible);
}

/** Every unexpected result spelled out, unexpected passes last; empty when all went as expected. */
export function renderProblems(run: RunResult, lookup: RequirementLookup): string {
  const blocks: string[] = [];
  for (const r of run.results) {
    if (r.unexpected && r.verdict !== 'PASS') blocks.push(describeResult(r, lookup).join('\n'));
  }
  const passes = run.results.filter((r) => r.unexpected && r.verdict === 'PASS');
  if (passes.length) {
    blocks.push(
      [
        'unexpected passes (a listed deviation no longer happens; remove it from the expectations file):',
        ...passes.map((r) => `  ${r.id}: listed as ${r.expected} (${r.expectationReason ?? 'no reason'})`),
      ].join('\n'),
    );
  }
  return visible(blocks.map((b) => `${b}\n`).join('\n'));
}

/**
 * The one summary sentence: the console's last line, report.md's summary and (as counts) the
 * JUnit totals all come from it. `failed` is unexpected results other than passes; `known`
 * deviations are expected non-passes (listed, NON_STRICT, INFORMATIONAL); results not run are
 * counted apart from skipped ones, since a gate did not judge them.
 */
export function finalLine(summary: RunSummary): string {
  const parts = [`${summary.passed} passed`, `${summary.failed} failed`, `${summary.skipped} skipped`];
  if (summary.notRun > 0) parts.push(`${summary.notRun} not run`);
  if (summary.known > 0) parts.push(plural(summary.known, 'known deviation'));
  return parts.join(', ');
}

/** Verdicts that are no judgement of the target: each carries a category and a reason instead. */
export function notJudged(verdict: RequirementResult['verdict']): boolean {
  return verdict === 'SKIP' || verdict === 'UNSUPPORTED' || verdict === 'NOT_RUN';
}

/**
 * Why a requirement was not judged, with its category when the engine gave one
 * (not applicable to this role, target lacks a feature, no suite covers it, not reached).
 */
export function notJudgedReason(r: RequirementResult): string | undefined {
  if (r.category === undefined) return r.detail;
  return r.detail ? `${r.category}: ${r.detail}` : r.category;
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function truncate(text: string, width: number): string {
  if (width < 1) return '';
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}

/** Per file: what the run that saved it saw, what this replay saw, and the steps; then the tally. */
export function renderReplay(report: ReplayReport): string {
  const blocks = report.cases.map((c) => {
    const lines = [c.file, `  recorded: ${c.recorded.verdict} ${c.requirement}: ${c.recorded.actual}`];
    const own = c.own;
    const others = c.others.map((s) => `    ${s.verdict} ${s.requirement}: ${s.detail}`);
    if (c.outcome === 'reproduced' && own) {
      lines.push(`  reproduced: ${own.verdict} ${own.requirement}: ${own.detail}`);
      if (others.length) lines.push('  also failing on these steps:', ...others);
    } else if (c.outcome === 'reproduced differently') {
      lines.push(`  reproduced differently: ${own ? `${own.verdict} instead of ${c.recorded.verdict} on ${own.requirement}: ${own.detail}` : `${c.requirement} no longer fails, but other checks do`}`);
      if (others.length) lines.push(...others);
    } else {
      lines.push(`  did not reproduce: every check on these steps passed against ${report.target}`);
    }
    lines.push('  steps:', ...c.steps.map((s) => `    ${s}`));
    return lines.map(visible).join('\n');
  });
  const count = (o: ReplayOutcome) => report.cases.filter((c) => c.outcome === o).length;
  const tally = `${count('reproduced')} reproduced, ${count('reproduced differently')} reproduced differently, ${count('did not reproduce')} did not reproduce`;
  return `${blocks.map((b) => `${b}\n`).join('\n')}${blocks.length ? '\n' : ''}${tally}\n`;
}

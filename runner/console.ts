// Console output of a run (DESIGN.md "runner/ and reports/"): a live status
// line on a terminal, plain periodic lines in CI logs (where `\r` redraws turn
// into thousands of lines), each failure spelled out so it can be acted on
// without opening a report, and the final line `N passed, N failed, N skipped[, N known deviations]`
// that scripts and humans look for.
import type { Progress } from './engine.ts';
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

  constructor(
    private readonly stream: StatusStream,
    private readonly now: () => number = Date.now,
  ) {}

  update(p: Progress): void {
    const text = `${p.suite} ${p.done}/${p.total}, ${plural(p.failures, 'failure')}, ${(p.elapsedMs / 1000).toFixed(1)}s`;
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
  if (r.detail) lines.push(`  detail: ${r.detail}`);
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

export function finalLine(summary: RunSummary): string {
  const line = `${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped`;
  return summary.known > 0 ? `${line}, ${plural(summary.known, 'known deviation')}` : line;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function truncate(text: string, width: number): string {
  if (width < 1) return '';
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}

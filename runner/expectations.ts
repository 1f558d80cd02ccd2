// Per-implementation expectations (DESIGN.md "runner/ and reports/"): known
// deviations live outside the suite, in `expectations/<target>.json`, so a CI
// gate can pass on a backend with documented bugs and still fail on anything
// new — including a known bug that was fixed (an unexpected pass), which
// otherwise would leave a stale entry hiding a later regression.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { VERDICTS, type RequirementResult, type RunResult, type RunSummary, type Verdict } from './results.ts';
import { targetName, type TargetSpec } from './targetSpec.ts';
import { UsageError } from './usageError.ts';

interface Expectation {
  readonly verdict: Verdict;
  /** One line: why this implementation behaves so (a bug link, a design choice). */
  readonly reason: string;
}

export interface ExpectationsFile {
  readonly target: string;
  readonly expectations: Readonly<Record<string, Expectation>>;
}

export class ExpectationsError extends UsageError {
  override readonly name: string = 'ExpectationsError';
}

/** Verdicts that need no entry: the target did what the spec asks, or the rule did not apply. */
// INFORMATIONAL is behaviour the spec leaves open, and a broken SHOULD
// (NON_STRICT) fails the gate only under --strict (DESIGN.md verdicts): both
// are reported, neither is a failure by default.
const EXPECTED_BY_DEFAULT: ReadonlySet<Verdict> = new Set<Verdict>(['PASS', 'SKIP', 'UNSUPPORTED', 'INFORMATIONAL']);

function expectedByDefault(v: Verdict, strict: boolean): boolean {
  return EXPECTED_BY_DEFAULT.has(v) || (v === 'NON_STRICT' && !strict);
}

export const PLACEHOLDER_REASON = 'recorded by --update-expectations; explain';

export function defaultExpectationsPath(spec: TargetSpec): string {
  return join('expectations', `${targetName(spec)}.json`);
}

/** Validates the whole shape, so a typo fails loudly instead of silently expecting nothing. */
export function parseExpectations(text: string, file: string, isKnownId: (id: string) => boolean): ExpectationsFile {
  const fail = (problem: string): never => {
    throw new ExpectationsError(`expectations file ${file}: ${problem}`);
  };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return fail(`not valid JSON (${(err as Error).message})`);
  }
  if (!isPlainObject(doc)) return fail('expected an object { "target": …, "expectations": { … } }');
  for (const key of Object.keys(doc)) {
    if (key !== 'target' && key !== 'expectations') fail(`unknown key '${key}'`);
  }
  if (typeof doc.target !== 'string' || doc.target === '') fail('"target" must be a non-empty string');
  if (!isPlainObject(doc.expectations)) return fail('"expectations" must be an object of requirement id → { verdict, reason }');
  const entries: [string, Expectation][] = [];
  for (const [id, entry] of Object.entries(doc.expectations)) {
    if (!isKnownId(id)) fail(`'${id}' is not a requirement id in the catalogue`);
    if (!isPlainObject(entry)) return fail(`entry '${id}' must be an object { "verdict", "reason" }`);
    for (const key of Object.keys(entry)) {
      if (key !== 'verdict' && key !== 'reason') fail(`entry '${id}': unknown key '${key}'`);
    }
    const { verdict, reason } = entry;
    if (typeof verdict !== 'string' || !(VERDICTS as readonly string[]).includes(verdict)) {
      fail(`entry '${id}': verdict must be one of ${VERDICTS.join(', ')}`);
    }
    if (typeof reason !== 'string' || reason.trim() === '' || /[\r\n]/.test(reason)) {
      fail(`entry '${id}': reason must be one non-empty line`);
    }
    entries.push([id, { verdict: verdict as Verdict, reason: reason as string }]);
  }
  return { target: doc.target as string, expectations: Object.fromEntries(entries) };
}

/**
 * Reads an expectations file. A missing file means "no known deviations"
 * unless the user named it (`required`), in which case it is a mistake.
 */
export async function readExpectations(
  file: string,
  isKnownId: (id: string) => boolean,
  required: boolean,
): Promise<ExpectationsFile | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !required) return undefined;
    throw new ExpectationsError(`cannot read expectations file ${file}: ${code ?? (err as Error).message}`);
  }
  return parseExpectations(text, file, isKnownId);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Marks each result expected or not and recomputes the summary from the marks. */
export function applyExpectations(run: RunResult, file: ExpectationsFile | undefined): RunResult {
  const results = run.results.map((r): RequirementResult => {
    // Drop marks the engine may have set, so the file is the only authority.
    const { expected: _e, expectationReason: _r, ...bare } = r;
    const entry = file && Object.hasOwn(file.expectations, r.id) ? file.expectations[r.id] : undefined;
    if (!entry) return { ...bare, unexpected: !expectedByDefault(r.verdict, run.strict) };
    // A requirement this run never reached (SKIP: other selectors, or the time budget ran out) says
    // nothing against its expectation; any verdict it did get must match.
    return { ...bare, expected: entry.verdict, expectationReason: entry.reason, unexpected: r.verdict !== entry.verdict && r.verdict !== 'SKIP' };
  });
  return { ...run, results, summary: summarize(results) };
}

/**
 * The counts of the final console line: `failed` is every unexpected result
 * that is not a pass (an unexpected pass is a pass, reported on its own);
 * `skipped` is the expected SKIP and UNSUPPORTED results; `known` the
 * expected deviations, which must stay visible although they pass the gate.
 */
export function summarize(results: readonly RequirementResult[]): RunSummary {
  const byVerdict = Object.fromEntries(VERDICTS.map((v) => [v, 0])) as Record<Verdict, number>;
  let failed = 0;
  let skipped = 0;
  let unexpected = 0;
  let known = 0;
  for (const r of results) {
    byVerdict[r.verdict] += 1;
    if (r.unexpected) unexpected += 1;
    if (r.unexpected && r.verdict !== 'PASS') failed += 1;
    if (!r.unexpected && (r.verdict === 'SKIP' || r.verdict === 'UNSUPPORTED')) skipped += 1;
    if (!r.unexpected && r.verdict !== 'PASS' && r.verdict !== 'SKIP' && r.verdict !== 'UNSUPPORTED') known += 1;
  }
  return { passed: byVerdict.PASS, failed, skipped, unexpected, known, byVerdict };
}

/**
 * The file `--update-expectations` writes: every result of this run that needs
 * an entry gets one, keeping the reason a human already wrote; entries for
 * requirements this run did not check (other selectors) are left alone.
 */
export function updateExpectations(previous: ExpectationsFile | undefined, run: RunResult, target: string): ExpectationsFile {
  const entries = new Map(Object.entries(previous?.expectations ?? {}));
  for (const r of run.results) {
    const old = entries.get(r.id);
    if (expectedByDefault(r.verdict, run.strict)) {
      // An entry naming this very verdict documents it (why SKIP here); keep it.
      if (old && old.verdict !== r.verdict) entries.delete(r.id);
    } else {
      entries.set(r.id, { verdict: r.verdict, reason: old?.reason ?? PLACEHOLDER_REASON });
    }
  }
  const sorted = [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return { target: previous?.target ?? target, expectations: Object.fromEntries(sorted) };
}

export function serializeExpectations(file: ExpectationsFile): string {
  return `${JSON.stringify(file, null, 2)}\n`;
}

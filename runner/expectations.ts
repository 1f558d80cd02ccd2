// Per-implementation expectations (DESIGN.md "runner/ and reports/"): known
// deviations live outside the suite, in `expectations/<target>.json`, so a CI
// gate can pass on a backend with documented bugs and still fail on anything
// new — including a known bug that was fixed (an unexpected pass), which
// otherwise would leave a stale entry hiding a later regression.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Deviation, VERDICTS, type RequirementResult, type RunResult, type RunSummary, type Verdict } from './results.ts';
import { targetName, type TargetSpec } from './targetSpec.ts';
import { UsageError } from './usageError.ts';

/**
 * One known deviation, matched by its fingerprint: requirement (the key), verdict and trigger. An
 * entry without a trigger (the first file format) matches any trigger of its verdict; files written
 * now always carry one, so a new crash under a known requirement is not hidden by an old one.
 */
export interface Expectation {
  readonly verdict: Verdict;
  /** Observation trigger, `<step kind or control op>/<outcome kind>` (properties/oracles/observation.ts). */
  readonly trigger?: string;
  /** One line: why this implementation behaves so (a bug link, a design choice). */
  readonly reason: string;
}

export interface ExpectationsFile {
  readonly target: string;
  /** Requirement id → its known deviation, or a list of them when the requirement has several. */
  readonly expectations: Readonly<Record<string, Expectation | readonly Expectation[]>>;
}

function listOf(e: Expectation | readonly Expectation[] | undefined): readonly Expectation[] {
  return e === undefined ? [] : Array.isArray(e) ? e : [e as Expectation];
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
  const entries: [string, Expectation | Expectation[]][] = [];
  for (const [id, value] of Object.entries(doc.expectations)) {
    if (!isKnownId(id)) fail(`'${id}' is not a requirement id in the catalogue`);
    const list = Array.isArray(value) ? value : [value];
    if (list.length === 0) fail(`entry '${id}': an empty list; remove the entry`);
    const parsed = list.map((entry) => parseEntry(entry, id, fail));
    entries.push([id, parsed.length === 1 ? parsed[0] : parsed]);
  }
  return { target: doc.target as string, expectations: Object.fromEntries(entries) };
}

function parseEntry(entry: unknown, id: string, fail: (problem: string) => never): Expectation {
  if (!isPlainObject(entry)) return fail(`entry '${id}' must be an object { "verdict", "trigger", "reason" } or a list of them`);
  for (const key of Object.keys(entry)) {
    if (key !== 'verdict' && key !== 'reason' && key !== 'trigger') fail(`entry '${id}': unknown key '${key}'`);
  }
  const { verdict, reason, trigger } = entry;
  if (typeof verdict !== 'string' || !(VERDICTS as readonly string[]).includes(verdict)) {
    fail(`entry '${id}': verdict must be one of ${VERDICTS.join(', ')}`);
  }
  if (typeof reason !== 'string' || reason.trim() === '' || /[\r\n]/.test(reason)) {
    fail(`entry '${id}': reason must be one non-empty line`);
  }
  if (trigger !== undefined && (typeof trigger !== 'string' || !/^[^\s/]+\/[^\s/]+$/.test(trigger))) {
    fail(`entry '${id}': trigger must look like 'control:setVringNum/crash' or 'kick/fail'`);
  }
  return { verdict: verdict as Verdict, reason: reason as string, ...(trigger !== undefined && { trigger: trigger as string }) };
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

/** The distinct deviations of a result; a result from before fingerprints counts as one, trigger unknown. */
function deviationsOf(r: RequirementResult): readonly Deviation[] {
  return r.deviations ?? [{ verdict: r.verdict, trigger: '?', detail: r.detail ?? '' }];
}

function matches(e: Expectation, d: Deviation): boolean {
  return e.verdict === d.verdict && (e.trigger === undefined || e.trigger === d.trigger);
}

/** Marks each result expected or not and recomputes the summary from the marks. */
export function applyExpectations(run: RunResult, file: ExpectationsFile | undefined): RunResult {
  const results = run.results.map((r): RequirementResult => {
    // Drop marks the engine may have set, so the file is the only authority.
    const { expected: _e, expectationReason: _r, ...bare } = r;
    const entries = listOf(file && Object.hasOwn(file.expectations, r.id) ? file.expectations[r.id] : undefined);
    // A run cut short is red whatever the file says: NOT_RUN is never expected.
    const judged = deviationsOf(r).filter((d) => !expectedByDefault(d.verdict, run.strict) && d.verdict !== 'NOT_RUN');
    const fresh = judged.filter((d) => !entries.some((e) => matches(e, d)));
    if (entries.length === 0) return { ...bare, unexpected: !expectedByDefault(r.verdict, run.strict) };
    const used = entries.filter((e) => judged.some((d) => matches(e, d)));
    const shown = used[0] ?? entries[0];
    const marks = { expected: shown.verdict, expectationReason: (used.length ? used : [shown]).map((e) => e.reason).join('; ') };
    if (r.verdict === 'NOT_RUN') return { ...bare, ...marks, unexpected: true };
    // A requirement this run did not judge (SKIP: not applicable here, or no suite covers it) says
    // nothing against its expectation.
    if (r.verdict === 'SKIP') return { ...bare, ...marks, unexpected: false };
    if (fresh.length > 0) {
      const d = fresh[0];
      return { ...bare, ...marks, detail: `new deviation ${d.verdict} at ${d.trigger} (the expectations list ${entries.map(fingerprintText).join(', ')}): ${d.detail}`, unexpected: true };
    }
    // Nothing this run needed an entry for: a listed deviation that no longer shows is an unexpected pass,
    // unless the entry documents the very verdict the run got (why SKIP here).
    if (judged.length === 0) return { ...bare, ...marks, unexpected: !entries.some((e) => e.verdict === r.verdict) };
    return { ...bare, ...marks, unexpected: false };
  });
  return { ...run, results, summary: summarize(results) };
}

function fingerprintText(e: Expectation): string {
  return `${e.verdict} at ${e.trigger ?? 'any trigger'}`;
}

/**
 * The counts of the final console line: `failed` is every unexpected result
 * that is not a pass (an unexpected pass is a pass, reported on its own) and
 * was reached; `notRun` the requirements the run did not reach;
 * `skipped` is the expected SKIP and UNSUPPORTED results; `known` the
 * expected deviations, which must stay visible although they pass the gate.
 */
export function summarize(results: readonly RequirementResult[]): RunSummary {
  const byVerdict = Object.fromEntries(VERDICTS.map((v) => [v, 0])) as Record<Verdict, number>;
  let failed = 0;
  let skipped = 0;
  let notRun = 0;
  let unexpected = 0;
  let known = 0;
  for (const r of results) {
    byVerdict[r.verdict] += 1;
    if (r.unexpected) unexpected += 1;
    if (r.verdict === 'NOT_RUN') notRun += 1;
    else if (r.unexpected && r.verdict !== 'PASS') failed += 1;
    if (!r.unexpected && (r.verdict === 'SKIP' || r.verdict === 'UNSUPPORTED')) skipped += 1;
    if (!r.unexpected && r.verdict !== 'PASS' && r.verdict !== 'SKIP' && r.verdict !== 'UNSUPPORTED' && r.verdict !== 'NOT_RUN') known += 1;
  }
  return { passed: byVerdict.PASS, failed, skipped, notRun, unexpected, known, byVerdict };
}

/**
 * The file `--update-expectations` writes: every deviation of this run that needs an entry gets one,
 * with its trigger, keeping the reason a human already wrote for that fingerprint (or, migrating an
 * entry without a trigger, for that verdict); entries for requirements this run did not check (other
 * selectors, not reached) are left alone, and so are fingerprints of a requirement this run did not hit.
 */
export function updateExpectations(previous: ExpectationsFile | undefined, run: RunResult, target: string): ExpectationsFile {
  const entries = new Map<string, Expectation | readonly Expectation[]>(Object.entries(previous?.expectations ?? {}));
  for (const r of run.results) {
    if (r.verdict === 'NOT_RUN') continue;
    const old = listOf(entries.get(r.id));
    const judged = deviationsOf(r).filter((d) => !expectedByDefault(d.verdict, run.strict));
    if (judged.length === 0) {
      // An entry naming this very verdict documents it (why SKIP here); keep it.
      const kept = old.filter((e) => e.verdict === r.verdict);
      if (kept.length) entries.set(r.id, kept.length === 1 ? kept[0] : kept);
      else entries.delete(r.id);
      continue;
    }
    const next = old.filter((e) => e.trigger !== undefined && !judged.some((d) => matches(e, d)) && !expectedByDefault(e.verdict, run.strict));
    for (const d of judged) {
      const reason = old.find((e) => e.verdict === d.verdict && e.trigger === d.trigger)?.reason ?? old.find((e) => matches(e, d))?.reason
        // Migrating a first-format file (one entry, no trigger): its reason still explains the requirement's bug.
        ?? (old.length === 1 && old[0].trigger === undefined ? old[0].reason : PLACEHOLDER_REASON);
      // A result without fingerprints (no trigger known) records the verdict alone: any trigger.
      next.push(d.trigger === '?' ? { verdict: d.verdict, reason } : { verdict: d.verdict, trigger: d.trigger, reason });
    }
    entries.set(r.id, next.length === 1 ? next[0] : next);
  }
  const sorted = [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return { target: previous?.target ?? target, expectations: Object.fromEntries(sorted) };
}

/** One entry object where a requirement has one known deviation, a list where it has several. */
export function serializeExpectations(file: ExpectationsFile): string {
  const expectations = Object.fromEntries(Object.entries(file.expectations).map(([id, e]) => [id, listOf(e).length === 1 ? listOf(e)[0] : e]));
  return `${JSON.stringify({ target: file.target, expectations }, null, 2)}\n`;
}

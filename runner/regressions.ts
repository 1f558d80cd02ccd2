// Shrunk counterexamples as files (DESIGN.md "corpus/"): the concrete steps
// plus seed, path, versions, target and the failure, so a case replays
// after generators change.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type Step, stepsFromJson, stepsToJson } from '../properties/steps.ts';
import { requirementById } from '../spec/requirements/index.ts';
import { VERDICTS } from '../spec/verdicts.ts';
import { writeFileAtomic } from './atomicWrite.ts';
import { checkTarget } from './knownTargets.ts';
import { stepsProblem } from './regressionSchema.ts';
import { parseTargetSpec } from './targetSpec.ts';
import { UsageError } from './usageError.ts';

const REGRESSION_FORMAT = 1;

export interface Regression {
  readonly format: typeof REGRESSION_FORMAT;
  readonly tool: string;
  readonly target: string;
  readonly suite: string;
  readonly requirement: string;
  readonly seed: number;
  readonly path?: string;
  readonly createdAt: string;
  readonly failure: { readonly verdict: string; readonly detail: string; readonly expected: readonly string[]; readonly actual: string };
  readonly steps: readonly Step[];
}

/** Saves a regression under `dir`; the name is stable for identical steps, so a re-found bug is not saved twice. */
export async function saveRegression(dir: string, targetName: string, r: Regression): Promise<string> {
  const steps = stepsToJson(r.steps);
  const hash = createHash('sha256').update(JSON.stringify([r.target, r.requirement, steps])).digest('hex').slice(0, 10);
  const file = join(dir, `${targetName}--${r.requirement}--${hash}.json`);
  await writeFileAtomic(file, `${JSON.stringify({ ...r, steps }, null, 2)}\n`);
  return file;
}

/** Reads and checks a saved case: every field typed, its steps against the schema, its target one this build has. */
export async function loadRegression(file: string): Promise<Regression> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`${file}: not a readable regression file (${(e as Error).message.split('\n')[0]})`);
  }
  const problem = regressionProblem(json);
  if (problem) throw new UsageError(`${file}: ${problem}`);
  const r = json as Regression;
  try {
    await checkTarget(parseTargetSpec(r.target));
  } catch (e) {
    throw new UsageError(`${file}: ${(e as Error).message}`);
  }
  return { ...r, steps: stepsFromJson(r.steps) };
}

/** What is wrong with a parsed regression file, or undefined. */
function regressionProblem(json: unknown): string | undefined {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return 'not a vhostcheck regression file (a JSON object)';
  const r = json as Record<string, unknown>;
  if (typeof r.format !== 'number') return `not a vhostcheck regression file (no "format"; this version reads format ${REGRESSION_FORMAT})`;
  if (r.format > REGRESSION_FORMAT) return `format ${r.format} was written by a newer vhostcheck; this version reads format ${REGRESSION_FORMAT}`;
  if (r.format !== REGRESSION_FORMAT) return `format ${r.format} is not one this version reads (format ${REGRESSION_FORMAT})`;
  for (const key of ['tool', 'target', 'suite', 'requirement', 'createdAt'] as const) {
    if (typeof r[key] !== 'string') return `"${key}" must be a string`;
  }
  if (!requirementById(r.requirement as string)) return `"requirement" '${String(r.requirement)}' is not in the catalogue`;
  if (!Number.isSafeInteger(r.seed)) return '"seed" must be an integer';
  if (r.path !== undefined && typeof r.path !== 'string') return '"path" must be a string';
  const f = r.failure;
  if (typeof f !== 'object' || f === null) return '"failure" must be an object {verdict, detail, expected, actual}';
  const { verdict, detail, expected, actual } = f as Record<string, unknown>;
  if (!(VERDICTS as readonly unknown[]).includes(verdict)) return `"failure.verdict" must be one of ${VERDICTS.join(', ')}`;
  if (typeof detail !== 'string' || typeof actual !== 'string') return '"failure.detail" and "failure.actual" must be strings';
  if (!Array.isArray(expected) || !expected.every((e) => typeof e === 'string')) return '"failure.expected" must be a list of strings';
  const steps = stepsProblem(r.steps);
  return steps && `corrupt steps: ${steps}`;
}

async function listRegressions(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((f) => f.endsWith('.json')).sort().map((f) => join(dir, f));
  } catch {
    return [];
  }
}

/** A case saved against a mutant is replayed against the same device without it too: that is the fix being checked. */
const withoutMutant = (spec: string) => spec.replace(/(,)?mutant=[^,]*/, '').replace(/:$/, '');

/** The saved cases in `dirs` (each directory once) recorded against the target `spec` names, in file-name order. */
export async function savedCasesFor(dirs: readonly string[], spec: string): Promise<{ readonly file: string; readonly r: Regression }[]> {
  const seen = new Set<string>();
  const cases: { file: string; r: Regression }[] = [];
  for (const dir of dirs) {
    if (seen.has(resolve(dir))) continue;
    seen.add(resolve(dir));
    for (const file of await listRegressions(dir)) {
      const r = await loadRegression(file);
      if (withoutMutant(r.target) === withoutMutant(spec)) cases.push({ file, r });
    }
  }
  return cases;
}

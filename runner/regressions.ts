// Shrunk counterexamples as files (DESIGN.md "corpus/"): the concrete steps
// plus seed, path, versions, target and the failure, so a case replays
// after generators change.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Step, stepsFromJson, stepsToJson } from '../properties/steps.ts';
import { writeFileAtomic } from './atomicWrite.ts';
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

export async function loadRegression(file: string): Promise<Regression> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`${file}: not a readable regression file (${(e as Error).message.split('\n')[0]})`);
  }
  const r = json as Partial<Regression> & { steps?: unknown };
  if (!r || typeof r !== 'object' || r.format !== REGRESSION_FORMAT || typeof r.target !== 'string' || typeof r.suite !== 'string' || typeof r.requirement !== 'string' || !Array.isArray(r.steps)) {
    throw new UsageError(`${file}: not a vhostcheck regression file (format ${REGRESSION_FORMAT} with target, suite, requirement and steps)`);
  }
  let steps: Step[];
  try {
    steps = stepsFromJson(r.steps);
  } catch (e) {
    throw new UsageError(`${file}: corrupt steps (${(e as Error).message})`);
  }
  return { ...(r as Regression), steps };
}

export async function listRegressions(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((f) => f.endsWith('.json')).sort().map((f) => join(dir, f));
  } catch {
    return [];
  }
}

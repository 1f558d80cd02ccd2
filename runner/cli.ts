// The `vhostcheck` command line (DESIGN.md "runner/ and reports/"). It only
// parses, validates and presents: running suites is the engine's job. All
// heavy modules are imported lazily, so `--help`, `list` and input errors stay
// fast and keep working while a command's module is unfinished or broken.
import { readFileSync } from 'node:fs';
import { access, constants, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from './atomicWrite.ts';
import { finalLine, ProgressPrinter, renderProblems, truncate, type RequirementLookup, type StatusStream } from './console.ts';
import type { Progress, RunOptions } from './engine.ts';
import {
  applyExpectations,
  defaultExpectationsPath,
  readExpectations,
  serializeExpectations,
  updateExpectations,
} from './expectations.ts';
import { renderJson } from './reporters/json.ts';
import { renderJunit } from './reporters/junit.ts';
import { renderMarkdown } from './reporters/markdown.ts';
import type { RunResult } from './results.ts';
import { selectRequirements } from './selectors.ts';
import { formatTargetSpec, parseTargetSpec, targetName } from './targetSpec.ts';
import { UsageError } from './usageError.ts';
import { LEVELS, ROLES, type Requirement } from '../spec/requirements/types.ts';

const EXIT = { ok: 0, unexpected: 1, usage: 2, internal: 3 } as const;
/** 128 + signal number, what a shell reports for a process killed by it. */
const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;
type TrappedSignal = keyof typeof SIGNAL_EXIT;

const DEFAULTS = { target: 'simulated', seed: 1, runs: 100, reportDir: 'vhostcheck-report', regressionDir: join('corpus', 'regressions') } as const;
const REPORT_FILES = { json: 'index.json', junit: 'junit.xml', markdown: 'report.md' } as const;

const HELP = `vhostcheck — property-based conformance suite for virtio, vhost, vhost-user, vhost-vdpa and VDUSE

Usage:
  vhostcheck list [SELECTOR…] [--level L] [--role R] [--json]
  vhostcheck run [SELECTOR…] [--target SPEC] [--seed N] [--runs N] [--time-budget S]
                 [--strict] [--report-dir D] [--regression-dir D]
                 [--expectations FILE] [--update-expectations]
  vhostcheck replay FILE… [--target SPEC]
  vhostcheck mutants [--json] [--seed N] [--runs N]
  vhostcheck serve --socket PATH [--target simulated[:…]]
  vhostcheck --help | --version

Selectors pick requirements by id: an exact id, an id prefix ending at a dot
(virtio.split), or a glob where * matches anything (vhost-user.ring.*, *.robust).
No selector means every requirement. A selector matching nothing is an error.

list options:
  --level L            MUST, MUST_NOT, SHOULD, SHOULD_NOT, MAY, DE_FACTO (repeatable)
  --role R             device, driver, backend, frontend (repeatable)
  --json               print the requirements as a JSON array

run options:
  --target SPEC        what to test (default ${DEFAULTS.target}):
                         simulated[:device=net|blk][,mutant=NAME]
                         vhost-user:PATH            an already listening back-end socket
                         vhost-user:spawn=PEER      qsd-blk, dpdk-net, virtiofsd, simulated
                         vhost-vdpa:/dev/vhost-vdpa-N
                         vduse
                         guest:vduse | guest:vhost-vdpa:/dev/vhost-vdpa-N   (inside a QEMU guest)
  --seed N             fast-check seed; same seed, same target, same steps (default ${DEFAULTS.seed})
  --runs N             generated cases per property (default ${DEFAULTS.runs})
  --time-budget S      stop starting new work after S seconds; results so far are reported
  --strict             SHOULD violations count as FAIL instead of NON_STRICT
  --report-dir D       where index.json, junit.xml and report.md go (default ${DEFAULTS.reportDir})
  --regression-dir D   where shrunk counterexamples are saved, and replayed from first
                       (default ${DEFAULTS.regressionDir})
  --expectations FILE  known deviations (default expectations/<target name>.json, if present)
  --update-expectations
                       rewrite the expectations file so this run's results are the expected ones

replay options:
  --target SPEC        replay against this target instead of the one recorded in FILE

mutants options:
  --json               print the mutation report as JSON

serve options:
  --socket PATH        listen there as a vhost-user back-end serving the simulated device
  --target SPEC        which simulated device (default simulated)

Exit codes:
  0    every result was expected: PASS, SKIP, UNSUPPORTED, INFORMATIONAL, NON_STRICT
       (unless --strict), or the verdict listed for it in the expectations file
  1    at least one unexpected result, including an unexpected pass
  2    bad input: unknown command or option, bad selector, target spec, number or expectations file
  3    internal error in vhostcheck (set VHOSTCHECK_DEBUG=1 for the stack)
  130  interrupted by SIGINT, 143 by SIGTERM (partial reports are still written)
`;

// The lead's command modules; their shapes are the contract this file relies on.
interface EngineModule {
  executeRun(opts: RunOptions): Promise<RunResult>;
}
interface ReplayModule {
  replayFiles(
    files: readonly string[],
    opts: { readonly targetSpec?: string; readonly signal: AbortSignal; readonly onProgress: (p: Progress) => void },
  ): Promise<RunResult>;
}
interface MutantsModule {
  /** Prints through `write`; resolves to the exit code (0 when every mutant is detected). */
  runMutants(opts: {
    readonly json: boolean;
    readonly seed: number;
    readonly runs: number;
    readonly signal: AbortSignal;
    readonly onProgress: (p: Progress) => void;
    readonly write: (text: string) => void;
  }): Promise<number>;
}
interface ServeModule {
  /** Serves until `signal` aborts. */
  serve(opts: { readonly socketPath: string; readonly targetSpec: string; readonly signal: AbortSignal }): Promise<void>;
}

/** Everything main touches outside itself, so tests can run it in-process with fakes. */
export interface CliDeps {
  readonly stdout: StatusStream;
  readonly stderr: StatusStream;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly signals: { on(sig: TrappedSignal, fn: () => void): unknown; off(sig: TrappedSignal, fn: () => void): unknown };
  /** Called on a second signal, when the user no longer wants to wait for cleanup. */
  readonly exit: (code: number) => void;
  readonly catalogue: () => Promise<readonly Requirement[]>;
  readonly engine: () => Promise<EngineModule>;
  readonly replay: () => Promise<ReplayModule>;
  readonly mutants: () => Promise<MutantsModule>;
  readonly serve: () => Promise<ServeModule>;
}

// Specifiers are built at run time so tsc does not require modules the lead
// has not written yet; the shape check below turns a stub into a clear message.
async function lazy<T>(file: string, exportName: string): Promise<T> {
  const mod = (await import(new URL(file, import.meta.url).href)) as Record<string, unknown>;
  if (typeof mod[exportName] !== 'function') throw new Error(`${file} does not export ${exportName}() yet`);
  return mod as T;
}

function defaultDeps(): CliDeps {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    signals: process,
    exit: (code) => process.exit(code),
    catalogue: async () => (await import('../spec/requirements/index.ts')).ALL_REQUIREMENTS,
    engine: () => lazy<EngineModule>('./engine.ts', 'executeRun'),
    replay: () => lazy<ReplayModule>('./replay.ts', 'replayFiles'),
    mutants: () => lazy<MutantsModule>('./mutants.ts', 'runMutants'),
    serve: () => lazy<ServeModule>('./serve.ts', 'serve'),
  };
}

export async function main(argv: string[], deps: CliDeps = defaultDeps()): Promise<number> {
  try {
    return await dispatch(argv, deps);
  } catch (err) {
    if (err instanceof Interrupted) {
      deps.stderr.write(`vhostcheck: ${err.message}\n`);
      return SIGNAL_EXIT[err.signal];
    }
    if (err instanceof UsageError) {
      deps.stderr.write(`vhostcheck: ${oneLine(err.message)}\n`);
      return EXIT.usage;
    }
    const message = err instanceof Error ? err.message : String(err);
    deps.stderr.write(`vhostcheck: internal error: ${oneLine(message)}\n`);
    if (deps.env.VHOSTCHECK_DEBUG === '1' && err instanceof Error && err.stack) deps.stderr.write(`${err.stack}\n`);
    return EXIT.internal;
  }
}

function oneLine(s: string): string {
  return s.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

async function dispatch(argv: string[], deps: CliDeps): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
      throw new UsageError("no command given (try 'vhostcheck --help')");
    case '-h':
    case '--help':
    case 'help':
      return help(deps);
    case '--version': {
      const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
      deps.stdout.write(`${pkg.version}\n`);
      return EXIT.ok;
    }
    case 'list':
      return list(rest, deps);
    case 'run':
      return run(rest, deps);
    case 'replay':
      return replay(rest, deps);
    case 'mutants':
      return mutants(rest, deps);
    case 'serve':
      return serve(rest, deps);
    default:
      throw new UsageError(
        command.startsWith('-') ? `unknown option '${command}' (try 'vhostcheck --help')` : `unknown command '${command}' (try 'vhostcheck --help')`,
      );
  }
}

type OptionSpec = Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }>;

/** node:util.parseArgs in strict mode, with its errors turned into usage errors. */
function parse<O extends OptionSpec>(command: string, args: string[], options: O, positionals: boolean) {
  try {
    return parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: positionals });
  } catch (err) {
    // parseArgs appends advice about `--` to some messages; the first sentence names the problem.
    if ((err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      throw new UsageError(`${command}: ${(err as Error).message.split(/\.\s/)[0]} (try 'vhostcheck --help')`);
    }
    throw err;
  }
}

function integer(option: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const n = /^-?\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`--${option} must be an integer from ${min} to ${max}, got '${text}'`);
  return n;
}

function options(values: string[] | undefined): string[] {
  return (values ?? []).flatMap((v) => v.split(',')).map((v) => v.trim());
}

async function list(args: string[], deps: CliDeps): Promise<number> {
  const { values, positionals } = parse('list', args, { level: { type: 'string', multiple: true }, role: { type: 'string', multiple: true }, json: { type: 'boolean' } }, true);
  if (values.help) return help(deps);
  // Case and `-` are forgiven: `--level must-not` is what people type.
  const levels = options(values.level).map((l) => l.toUpperCase().replace(/-/g, '_'));
  for (const l of levels) if (!(LEVELS as readonly string[]).includes(l)) throw new UsageError(`unknown level '${l}' (known: ${LEVELS.join(', ')})`);
  const roles = options(values.role).map((r) => r.toLowerCase());
  for (const r of roles) if (!(ROLES as readonly string[]).includes(r)) throw new UsageError(`unknown role '${r}' (known: ${ROLES.join(', ')})`);

  const all = await deps.catalogue();
  const selected = selectRequirements(positionals, all).filter(
    (r) => (levels.length === 0 || levels.includes(r.level)) && (roles.length === 0 || roles.includes(r.role)),
  );
  if (values.json) {
    deps.stdout.write(`${JSON.stringify(selected, null, 2)}\n`);
    return EXIT.ok;
  }
  const tty = deps.stdout.isTTY === true;
  // On a terminal a long linux-code source would push the summary off screen;
  // piped output stays complete for grep.
  const rows = selected.map((r) => [r.id, r.level, r.role, tty ? truncate(sourceCell(r), 40) : sourceCell(r), r.summary]);
  const widths = [0, 1, 2, 3].map((i) => Math.max(0, ...rows.map((row) => row[i].length)));
  const width = tty ? (deps.stdout.columns || 80) - 1 : Infinity;
  for (const row of rows) {
    const line = row.map((c, i) => (i < 4 ? c.padEnd(widths[i]) : c)).join('  ');
    deps.stdout.write(`${Number.isFinite(width) ? truncate(line, width) : line}\n`);
  }
  deps.stdout.write(`${selected.length} of ${all.length} requirements\n`);
  return EXIT.ok;
}

function sourceCell(r: Requirement): string {
  return r.source.doc === 'linux-code' ? `${r.source.doc} ${r.source.section}` : `${r.source.doc} §${r.source.section}`;
}

function help(deps: CliDeps): number {
  deps.stdout.write(HELP);
  return EXIT.ok;
}

async function run(args: string[], deps: CliDeps): Promise<number> {
  const { values, positionals } = parse(
    'run',
    args,
    {
      target: { type: 'string' },
      seed: { type: 'string' },
      runs: { type: 'string' },
      'time-budget': { type: 'string' },
      strict: { type: 'boolean' },
      'report-dir': { type: 'string' },
      'regression-dir': { type: 'string' },
      expectations: { type: 'string' },
      'update-expectations': { type: 'boolean' },
    },
    true,
  );
  if (values.help) return help(deps);

  // Everything the user typed is checked before the target is touched, so a
  // typo costs milliseconds, not a run.
  const spec = parseTargetSpec(values.target ?? DEFAULTS.target);
  // fast-check seeds are 32-bit; accept both the signed and unsigned spelling.
  const seed = integer('seed', values.seed, DEFAULTS.seed, -(2 ** 31), 2 ** 32 - 1);
  const runs = integer('runs', values.runs, DEFAULTS.runs, 1, 1_000_000_000);
  const budget = values['time-budget'];
  let timeBudgetS: number | undefined;
  if (budget !== undefined) {
    timeBudgetS = /^\d+(\.\d+)?$/.test(budget) ? Number(budget) : NaN;
    if (!(timeBudgetS > 0)) throw new UsageError(`--time-budget must be a positive number of seconds, got '${budget}'`);
  }
  const catalogue = await deps.catalogue();
  selectRequirements(positionals, catalogue);
  const known = new Set(catalogue.map((r) => r.id));
  const update = values['update-expectations'] ?? false;
  const expectationsPath = values.expectations ?? defaultExpectationsPath(spec);
  // A named file must exist, except when the run is about to create it.
  const expectations = await readExpectations(expectationsPath, (id) => known.has(id), values.expectations !== undefined && !update);
  const reportDir = values['report-dir'] ?? DEFAULTS.reportDir;
  await mkdir(reportDir, { recursive: true }).catch((err: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot create report directory ${reportDir}: ${err.code ?? err.message}`);
  });

  const engine = await deps.engine();
  const raw = await withSignals(deps, (signal, onProgress) =>
    engine.executeRun({
      targetSpec: formatTargetSpec(spec),
      selectors: positionals,
      seed,
      runs,
      ...(timeBudgetS !== undefined && { timeBudgetS }),
      strict: values.strict ?? false,
      regressionDir: values['regression-dir'] ?? DEFAULTS.regressionDir,
      onProgress,
      signal,
    }),
  );
  const result = raw.value;
  let checked = applyExpectations(result, expectations);
  const notes: string[] = [];
  // A run that used up its --time-budget ended as asked and may record expectations; a signal may not.
  if (update && raw.signal) {
    notes.push(`expectations not updated: the run was interrupted (${expectationsPath} unchanged)`);
  } else if (update) {
    const next = updateExpectations(expectations, result, targetName(spec));
    await writeFileAtomic(expectationsPath, serializeExpectations(next));
    checked = applyExpectations(result, next);
    notes.push(`expectations updated: ${expectationsPath} (${Object.keys(next.expectations).length} entries)`);
  }

  const lookup = await lookupFrom(deps);
  const written = await writeReports(reportDir, checked, lookup);
  const deviations = checked.results.filter((r) => r.expected !== undefined && !r.unexpected).length;
  if (deviations) notes.push(`${deviations} known deviations, as listed in ${expectationsPath}`);
  notes.push(`reports: ${written.join(', ')}`);
  if (raw.signal) notes.push(`interrupted by ${raw.signal}: partial results`);
  else if (result.interrupted) notes.push('time budget exhausted: partial results');
  printOutcome(deps, checked, lookup, notes);
  if (raw.signal) return SIGNAL_EXIT[raw.signal];
  return checked.summary.unexpected > 0 ? EXIT.unexpected : EXIT.ok;
}

async function replay(args: string[], deps: CliDeps): Promise<number> {
  const { values, positionals } = parse('replay', args, { target: { type: 'string' } }, true);
  if (values.help) return help(deps);
  if (positionals.length === 0) throw new UsageError('replay: give at least one regression file');
  const targetSpec = values.target === undefined ? undefined : formatTargetSpec(parseTargetSpec(values.target));
  for (const file of positionals) {
    await access(file, constants.R_OK).catch((err: NodeJS.ErrnoException) => {
      throw new UsageError(`cannot read ${file}: ${err.code ?? err.message}`);
    });
  }
  const mod = await deps.replay();
  const raw = await withSignals(deps, (signal, onProgress) =>
    mod.replayFiles(positionals, { ...(targetSpec !== undefined && { targetSpec }), signal, onProgress }),
  );
  // A regression is fixed when it passes; no expectations file applies to replays.
  const checked = applyExpectations(raw.value, undefined);
  printOutcome(deps, checked, await lookupFrom(deps), raw.signal ? [`interrupted by ${raw.signal}: partial results`] : []);
  if (raw.signal) return SIGNAL_EXIT[raw.signal];
  return checked.summary.unexpected > 0 ? EXIT.unexpected : EXIT.ok;
}

async function mutants(args: string[], deps: CliDeps): Promise<number> {
  const { values } = parse('mutants', args, { json: { type: 'boolean' }, seed: { type: 'string' }, runs: { type: 'string' } }, false);
  if (values.help) return help(deps);
  const seed = integer('seed', values.seed, DEFAULTS.seed, -(2 ** 31), 2 ** 32 - 1);
  const runs = integer('runs', values.runs, DEFAULTS.runs, 1, 1_000_000_000);
  const mod = await deps.mutants();
  const json = values.json ?? false;
  const raw = await withSignals(deps, (signal, onProgress) =>
    mod.runMutants({ json, seed, runs, signal, onProgress, write: (t) => deps.stdout.write(t) }),
  );
  return raw.signal ? SIGNAL_EXIT[raw.signal] : raw.value;
}

async function serve(args: string[], deps: CliDeps): Promise<number> {
  const { values } = parse('serve', args, { socket: { type: 'string' }, target: { type: 'string' } }, false);
  if (values.help) return help(deps);
  if (!values.socket) throw new UsageError('serve: --socket PATH is required');
  const spec = parseTargetSpec(values.target ?? DEFAULTS.target);
  if (spec.kind !== 'simulated') throw new UsageError(`serve: only simulated targets can be served, got '${values.target}'`);
  const socketPath = values.socket;
  const mod = await deps.serve();
  // Stopping a server with a signal is its normal end, not a failure.
  await withSignals(deps, (signal) => mod.serve({ socketPath, targetSpec: formatTargetSpec(spec), signal }));
  return EXIT.ok;
}

/**
 * Runs `work` with SIGINT/SIGTERM turned into an abort, so the engine can stop,
 * clean up and return partial results; a second signal exits at once for a
 * user who will not wait. Progress goes to stderr, keeping stdout for results.
 */
async function withSignals<T>(
  deps: CliDeps,
  work: (signal: AbortSignal, onProgress: (p: Progress) => void) => Promise<T>,
): Promise<{ value: T; signal?: TrappedSignal }> {
  const controller = new AbortController();
  let received: TrappedSignal | undefined;
  const printer = new ProgressPrinter(deps.stderr);
  const handlers = (['SIGINT', 'SIGTERM'] as const).map((sig) => {
    const handler = () => {
      if (received) {
        printer.finish();
        deps.stderr.write(`vhostcheck: ${sig} again, exiting without cleanup\n`);
        deps.exit(SIGNAL_EXIT[sig]);
        return;
      }
      received = sig;
      controller.abort(new Error(`interrupted by ${sig}`));
    };
    deps.signals.on(sig, handler);
    return [sig, handler] as const;
  });
  try {
    const value = await work(controller.signal, (p) => printer.update(p));
    return received ? { value, signal: received } : { value };
  } catch (err) {
    // Aborted before there was anything to report: say so, not "internal error".
    if (received) throw new Interrupted(received);
    throw err;
  } finally {
    printer.finish();
    for (const [sig, handler] of handlers) deps.signals.off(sig, handler);
  }
}

/** The work was aborted by a signal before it produced anything to report. */
class Interrupted extends Error {
  constructor(readonly signal: TrappedSignal) {
    super(`interrupted by ${signal} before any result`);
  }
}

async function lookupFrom(deps: CliDeps): Promise<RequirementLookup> {
  const byId = new Map((await deps.catalogue()).map((r) => [r.id, r]));
  return (id) => byId.get(id);
}

async function writeReports(dir: string, run: RunResult, lookup: RequirementLookup): Promise<string[]> {
  const files: [string, string][] = [
    [REPORT_FILES.json, renderJson(run)],
    [REPORT_FILES.junit, renderJunit(run, lookup)],
    [REPORT_FILES.markdown, renderMarkdown(run, lookup)],
  ];
  const written: string[] = [];
  for (const [name, content] of files) {
    const path = join(dir, name);
    await writeFileAtomic(path, content);
    written.push(path);
  }
  return written;
}

function printOutcome(deps: CliDeps, run: RunResult, lookup: RequirementLookup, notes: readonly string[]): void {
  const problems = renderProblems(run, lookup);
  if (problems) deps.stdout.write(`${problems}\n`);
  for (const note of notes) deps.stdout.write(`${note}\n`);
  deps.stdout.write(`${finalLine(run.summary)}\n`);
}

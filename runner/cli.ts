// The `vhostcheck` command line (DESIGN.md "runner/ and reports/"). It only
// parses, validates and presents: running suites is the engine's job. All
// heavy modules are imported lazily, so `--help`, `list` and input errors stay
// fast and keep working while a command's module is unfinished or broken.
import { readFileSync } from 'node:fs';
import { access, constants } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from './atomicWrite.ts';
import { finalLine, plural, ProgressPrinter, renderProblems, renderReplay, truncate, type RequirementLookup, type StatusStream } from './console.ts';
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
import { COMMAND_HELP, DEFAULTS, EXIT_CODES, HELP, OUT_OF_PROCESS_RUNS } from './help.ts';
import { checkTarget } from './knownTargets.ts';
import type { ReplayReport } from './replay.ts';
import { renderMarkdown, type ReportContext } from './reporters/markdown.ts';
import type { RequirementResult, RunResult } from './results.ts';
import { selectRequirements } from './selectors.ts';
import { formatTargetSpec, parseTargetSpec, targetName } from './targetSpec.ts';
import { checkDirectory, checkSocketPath, ensureDirectory } from './userPaths.ts';
import { UsageError } from './usageError.ts';
import { LEVELS, ROLES, type Requirement } from '../spec/requirements/types.ts';

const EXIT = { ok: 0, unexpected: 1, usage: 2, internal: 3 } as const;
/** 128 + signal number, what a shell reports for a process killed by it. */
const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;
type TrappedSignal = keyof typeof SIGNAL_EXIT;
/** A second signal this soon after the first is taken as the same one delivered twice. */
const DUPLICATE_SIGNAL_MS = 1000;

/** The project's committed saved cases, in the package: replayed for the targets they match, never written. */
const CORPUS_DIR = fileURLToPath(new URL('../corpus/regressions', import.meta.url));
const REPORT_FILES = { json: 'index.json', junit: 'junit.xml', markdown: 'report.md' } as const;

// The command modules; their shapes are the contract this file relies on.
interface EngineModule {
  executeRun(opts: RunOptions): Promise<RunResult>;
}
interface ReplayModule {
  replayFiles(
    files: readonly string[],
    opts: { readonly targetSpec?: string; readonly signal: AbortSignal; readonly onProgress: (p: Progress) => void },
  ): Promise<ReplayReport>;
}
interface MutantsModule {
  /** Prints through `write`; resolves to the exit code (0 when every mutant is detected). */
  runMutants(opts: {
    readonly json: boolean;
    readonly seed: number;
    readonly runs: number;
    readonly strict: boolean;
    readonly signal: AbortSignal;
    readonly onProgress: (p: Progress) => void;
    readonly write: (text: string) => void;
  }): Promise<number>;
}
interface ServeModule {
  /** Serves until `signal` aborts, saying through `write` where it listens and when sessions come and go. */
  serve(opts: { readonly socketPath: string; readonly targetSpec: string; readonly signal: AbortSignal; readonly write: (line: string) => void }): Promise<void>;
}
/** What `suites` and `--suite` need of a suite. */
interface SuiteInfo {
  readonly name: string;
  readonly description: string;
  readonly requirements: readonly string[];
  readonly deviceTypes: readonly string[];
}
/** What `mutants --list` shows of a mutant. */
interface MutantListing {
  readonly name: string;
  readonly description: string;
  readonly deviceType?: string;
  readonly requirementIds: readonly string[];
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
  readonly suites: () => Promise<readonly SuiteInfo[]>;
  readonly mutantList: () => Promise<readonly MutantListing[]>;
  /** The project's committed saved cases, replayed along with the user's. */
  readonly corpusDir: string;
  readonly engine: () => Promise<EngineModule>;
  readonly replay: () => Promise<ReplayModule>;
  readonly mutants: () => Promise<MutantsModule>;
  readonly serve: () => Promise<ServeModule>;
}

// Specifiers are built at run time so a command's module loads only when that command runs;
// the shape check turns a module that lost its export into a clear message.
async function lazy<T>(file: string, exportName: string): Promise<T> {
  const mod = (await import(new URL(file, import.meta.url).href)) as Record<string, unknown>;
  if (typeof mod[exportName] !== 'function') throw new Error(`${file} does not export ${exportName}()`);
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
    suites: async () => {
      const { KERNEL_SUITES } = await import('../properties/kernel/index.ts');
      // A kernel suite's device column names the kernel interface too: its suites run only on those targets.
      const kernel = KERNEL_SUITES.map((k) => ({ ...k, deviceTypes: k.deviceTypes.map((d) => `${k.families.join('|')}:${d}`) }));
      return [...(await import('../properties/suites/index.ts')).SUITES, ...kernel];
    },
    mutantList: async () => (await import('../implementations/simulated/mutants/index.ts')).MUTANTS,
    corpusDir: CORPUS_DIR,
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
      deps.stdout.write(HELP);
      return EXIT.ok;
    case '--version':
      deps.stdout.write(`${toolVersion()}\n`);
      return EXIT.ok;
    case 'list':
      return list(rest, deps);
    case 'run':
      return run(rest, deps, argv);
    case 'replay':
      return replay(rest, deps);
    case 'suites':
      return suites(rest, deps);
    case 'mutants':
      return mutants(rest, deps);
    case 'serve':
      return serve(rest, deps);
    case 'guest':
      return guest(rest, deps);
    default:
      throw new UsageError(
        command.startsWith('-') ? `unknown option '${command}' (try 'vhostcheck --help')` : `unknown command '${command}' (try 'vhostcheck --help')`,
      );
  }
}

async function guest(args: string[], deps: CliDeps): Promise<number> {
  const { positionals } = parse('guest', args, {}, true);
  if (positionals.length !== 1 || positionals[0] !== 'build') throw new UsageError("guest: the only subcommand is 'guest build'");
  const { ensureGuest, MissingPackageError } = await import('../implementations/guest/image/build.ts');
  try {
    const image = await ensureGuest((line) => deps.stderr.write(`guest build: ${line}\n`));
    deps.stdout.write(`${image.dir}\n`);
    return EXIT.ok;
  } catch (err) {
    if (err instanceof MissingPackageError) throw new UsageError(err.message);
    throw err;
  }
}

function toolVersion(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

type OptionSpec = Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }>;

/**
 * node:util.parseArgs in strict mode, with its errors turned into usage errors. A value that
 * looks like an option (`--runs -1`) is joined to its option first, so the number check, not
 * parseArgs' "ambiguous argument", reports it.
 */
function parse<O extends OptionSpec>(command: string, args: string[], options: O, positionals: boolean) {
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const name = args[i].startsWith('--') ? args[i].slice(2) : undefined;
    if (name !== undefined && options[name]?.type === 'string' && /^-\d/.test(args[i + 1] ?? '')) {
      joined.push(`${args[i]}=${args[i + 1]}`);
      i++;
    } else {
      joined.push(args[i]);
    }
  }
  try {
    return parseArgs({ args: joined, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: positionals });
  } catch (err) {
    // parseArgs appends advice about `--` to some messages; the first sentence names the problem.
    if ((err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      throw new UsageError(`${command}: ${(err as Error).message.split(/\.\s/)[0]} (try 'vhostcheck ${command} --help')`);
    }
    throw err;
  }
}

function commandHelp(command: string, deps: CliDeps): number {
  deps.stdout.write(`Usage: ${COMMAND_HELP[command]}`);
  if (command === 'run' || command === 'replay') deps.stdout.write(`\n${EXIT_CODES}`);
  return EXIT.ok;
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
  if (values.help) return commandHelp('list', deps);
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
  printTable(deps, rows);
  deps.stdout.write(`${selected.length} of ${all.length} requirements\n`);
  return EXIT.ok;
}

/** Columns padded to their widest cell, the last one free; cut to the terminal's width on a terminal. */
function printTable(deps: CliDeps, rows: readonly (readonly string[])[]): void {
  const columns = Math.max(0, ...rows.map((r) => r.length)) - 1;
  const widths = Array.from({ length: columns }, (_, i) => Math.max(0, ...rows.map((row) => row[i].length)));
  const width = deps.stdout.isTTY === true ? (deps.stdout.columns || 80) - 1 : Infinity;
  for (const row of rows) {
    const line = row.map((c, i) => (i < columns ? c.padEnd(widths[i]) : c)).join('  ');
    deps.stdout.write(`${Number.isFinite(width) ? truncate(line, width) : line}\n`);
  }
}

function sourceCell(r: Requirement): string {
  return r.source.doc === 'linux-code' ? `${r.source.doc} ${r.source.section}` : `${r.source.doc} §${r.source.section}`;
}

async function suites(args: string[], deps: CliDeps): Promise<number> {
  const { values } = parse('suites', args, {}, false);
  if (values.help) return commandHelp('suites', deps);
  const all = await deps.suites();
  printTable(deps, all.map((s) => [s.name, s.deviceTypes.join('/'), `${s.requirements.length} requirements`, s.description]));
  return EXIT.ok;
}

/** The requirement ids the named suites cover; an unknown name is a usage error listing the known ones. */
async function suiteRequirements(names: readonly string[], deps: CliDeps): Promise<Set<string>> {
  const all = await deps.suites();
  const ids = new Set<string>();
  for (const name of names) {
    const suite = all.find((s) => s.name === name);
    if (!suite) throw new UsageError(`unknown suite '${name}' (known: ${all.map((s) => s.name).join(', ')})`);
    for (const id of suite.requirements) ids.add(id);
  }
  return ids;
}

/** A command line as a shell would take it back: arguments with anything unusual single-quoted. */
function shellLine(argv: readonly string[]): string {
  return ['vhostcheck', ...argv].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

async function run(args: string[], deps: CliDeps, argv: readonly string[]): Promise<number> {
  const { values, positionals } = parse(
    'run',
    args,
    {
      target: { type: 'string' },
      suite: { type: 'string', multiple: true },
      seed: { type: 'string' },
      runs: { type: 'string' },
      'time-budget': { type: 'string' },
      strict: { type: 'boolean' },
      'reply-timeout': { type: 'string' },
      'report-dir': { type: 'string' },
      'regression-dir': { type: 'string' },
      expectations: { type: 'string' },
      'update-expectations': { type: 'boolean' },
      json: { type: 'boolean' },
    },
    true,
  );
  if (values.help) return commandHelp('run', deps);

  // Everything the user typed is checked before the target is touched, so a
  // typo costs milliseconds, not a run.
  const spec = parseTargetSpec(values.target ?? DEFAULTS.target);
  await checkTarget(spec);
  const specText = formatTargetSpec(spec);
  // fast-check seeds are 32-bit; accept both the signed and unsigned spelling.
  const seed = integer('seed', values.seed, DEFAULTS.seed, -(2 ** 31), 2 ** 32 - 1);
  const runs = integer('runs', values.runs, spec.kind === 'simulated' ? DEFAULTS.runs : OUT_OF_PROCESS_RUNS, 1, 1_000_000_000);
  const budget = values['time-budget'];
  let timeBudgetS: number | undefined;
  if (budget !== undefined) {
    timeBudgetS = /^\d+(\.\d+)?$/.test(budget) ? Number(budget) : NaN;
    if (!(timeBudgetS > 0)) throw new UsageError(`--time-budget must be a positive number of seconds, got '${budget}'`);
  }
  const replyTimeoutMs = values['reply-timeout'] === undefined ? undefined : integer('reply-timeout', values['reply-timeout'], 0, 1, 600_000);
  const catalogue = await deps.catalogue();
  let selectors: readonly string[] = positionals;
  const suiteNames = options(values.suite);
  if (suiteNames.length) {
    // A suite is picked by the requirements it covers; selectors, if any, narrow those.
    const covered = await suiteRequirements(suiteNames, deps);
    const picked = selectRequirements(positionals, catalogue).filter((r) => covered.has(r.id)).map((r) => r.id);
    if (picked.length === 0) throw new UsageError(`the selectors pick no requirement that suite ${suiteNames.join(', ')} covers`);
    selectors = picked;
  } else {
    selectRequirements(positionals, catalogue);
  }
  const known = new Set(catalogue.map((r) => r.id));
  const update = values['update-expectations'] ?? false;
  const expectationsPath = values.expectations ?? defaultExpectationsPath(spec);
  // A named file must exist, except when the run is about to create it.
  const expectations = await readExpectations(expectationsPath, (id) => known.has(id), values.expectations !== undefined && !update);
  // Checked before the report directory is created, so a bad value leaves nothing behind.
  const regressionDir = values['regression-dir'] ?? DEFAULTS.regressionDir;
  await checkDirectory(regressionDir, 'saved-case directory');
  const reportDir = values['report-dir'] ?? DEFAULTS.reportDir;
  await ensureDirectory(reportDir, 'report directory');
  const json = values.json ?? false;
  // Under --json, stdout carries the JSON only; everything for people goes to stderr.
  const human = json ? deps.stderr : deps.stdout;

  const { savedCasesFor } = await import('./regressions.ts');
  const saved = await savedCasesFor([regressionDir, deps.corpusDir], specText);
  if (saved.length) {
    const mine = saved.filter((c) => resolve(dirname(c.file)) === resolve(regressionDir)).length;
    const parts = [mine && `${mine} from ${regressionDir} (clear with: rm -r ${regressionDir})`, saved.length - mine && `${saved.length - mine} from the project's corpus`].filter(Boolean);
    deps.stderr.write(`vhostcheck: replaying ${plural(saved.length, 'saved case')} first: ${parts.join(', ')}\n`);
  }

  const isListed = (id: string) => expectations !== undefined && Object.hasOwn(expectations.expectations, id);
  const engine = await deps.engine();
  const raw = await withSignals(
    deps,
    (signal, onProgress) =>
      engine.executeRun({
        targetSpec: specText,
        selectors,
        ...(suiteNames.length > 0 && { suites: suiteNames }),
        seed,
        runs,
        ...(timeBudgetS !== undefined && { timeBudgetS }),
        ...(replyTimeoutMs !== undefined && { replyTimeoutMs }),
        strict: values.strict ?? false,
        regressionDir,
        corpusDir: deps.corpusDir,
        onProgress,
        onNote: (line) => deps.stderr.write(`vhostcheck: ${line}\n`),
        signal,
      }),
    isListed,
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
  const context: ReportContext = { commandLine: shellLine(argv), hostKernel: `${os.type()} ${os.release()}`, nodeVersion: process.version };
  const written = await writeReports(reportDir, checked, lookup, context);
  const knownNote = knownDeviationsNote(checked, expectationsPath);
  if (knownNote) notes.push(knownNote);
  notes.push(`reports: ${Object.values(written).join(', ')}`);
  if (raw.signal) notes.push(`interrupted by ${raw.signal}: partial results`);
  else if (result.interrupted) notes.push('time budget exhausted: partial results');
  printOutcome(human, checked, lookup, notes);
  const code = raw.signal ? SIGNAL_EXIT[raw.signal] : checked.summary.unexpected > 0 ? EXIT.unexpected : EXIT.ok;
  if (json) deps.stdout.write(`${JSON.stringify(jsonSummary(checked, written, code), null, 2)}\n`);
  return code;
}

/** An expected result that is not a pass and was judged: what the final line counts as a known deviation. */
function isKnownDeviation(r: RequirementResult): boolean {
  return !r.unexpected && !['PASS', 'SKIP', 'UNSUPPORTED', 'NOT_RUN'].includes(r.verdict);
}

/** The known deviations of the final line, split by where their being expected comes from; the parts add up to it. */
function knownDeviationsNote(run: RunResult, expectationsPath: string): string | undefined {
  if (run.summary.known === 0) return undefined;
  const listed = run.results.filter((r) => isKnownDeviation(r) && r.expected !== undefined).length;
  const parts = [listed && `${listed} listed in ${expectationsPath}`, run.summary.known - listed && `${run.summary.known - listed} NON_STRICT or INFORMATIONAL, expected without an entry`];
  return `${plural(run.summary.known, 'known deviation')}: ${parts.filter(Boolean).join(', ')}`;
}

/** What `run --json` prints: the summary a script gates on, the ids behind it, and where the reports are. */
function jsonSummary(run: RunResult, reports: Readonly<Record<string, string>>, exitCode: number) {
  const ids = (keep: (r: RequirementResult) => boolean) => run.results.filter(keep).map((r) => r.id);
  return {
    schemaVersion: run.schemaVersion,
    target: run.target,
    exitCode,
    interrupted: run.interrupted,
    summary: run.summary,
    line: finalLine(run.summary),
    newFailures: ids((r) => r.unexpected && r.verdict !== 'PASS'),
    unexpectedPasses: ids((r) => r.unexpected && r.verdict === 'PASS'),
    knownDeviations: ids(isKnownDeviation),
    reports,
  };
}

async function replay(args: string[], deps: CliDeps): Promise<number> {
  const { values, positionals } = parse('replay', args, { target: { type: 'string' }, 'expect-pass': { type: 'boolean' } }, true);
  if (values.help) return commandHelp('replay', deps);
  if (positionals.length === 0) throw new UsageError('replay: give at least one saved-case file');
  let targetSpec: string | undefined;
  if (values.target !== undefined) {
    const spec = parseTargetSpec(values.target);
    await checkTarget(spec);
    targetSpec = formatTargetSpec(spec);
  }
  for (const file of positionals) {
    await access(file, constants.R_OK).catch((err: NodeJS.ErrnoException) => {
      throw new UsageError(`cannot read ${file}: ${err.code ?? err.message}`);
    });
  }
  const mod = await deps.replay();
  const raw = await withSignals(deps, (signal, onProgress) => mod.replayFiles(positionals, { ...(targetSpec !== undefined && { targetSpec }), signal, onProgress }));
  const report = raw.value;
  deps.stdout.write(renderReplay(report));
  if (raw.signal) {
    deps.stdout.write(`interrupted by ${raw.signal}: ${report.cases.length} of ${positionals.length} files replayed\n`);
    return SIGNAL_EXIT[raw.signal];
  }
  const wanted = values['expect-pass'] ? 'did not reproduce' : 'reproduced';
  return report.cases.every((c) => c.outcome === wanted) ? EXIT.ok : EXIT.unexpected;
}

async function mutants(args: string[], deps: CliDeps): Promise<number> {
  const { values } = parse('mutants', args, { list: { type: 'boolean' }, json: { type: 'boolean' }, strict: { type: 'boolean' }, seed: { type: 'string' }, runs: { type: 'string' } }, false);
  if (values.help) return commandHelp('mutants', deps);
  const json = values.json ?? false;
  if (values.list) {
    const all = await deps.mutantList();
    if (json) deps.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
    else printTable(deps, all.map((m) => [m.name, m.deviceType ?? 'blk/net', m.requirementIds.join(','), m.description]));
    return EXIT.ok;
  }
  const seed = integer('seed', values.seed, DEFAULTS.seed, -(2 ** 31), 2 ** 32 - 1);
  const runs = integer('runs', values.runs, DEFAULTS.runs, 1, 1_000_000_000);
  const mod = await deps.mutants();
  const raw = await withSignals(deps, (signal, onProgress) => mod.runMutants({ json, seed, runs, strict: values.strict ?? false, signal, onProgress, write: (t) => deps.stdout.write(t) }));
  return raw.signal ? SIGNAL_EXIT[raw.signal] : raw.value;
}

async function serve(args: string[], deps: CliDeps): Promise<number> {
  const { values } = parse('serve', args, { socket: { type: 'string' }, target: { type: 'string' } }, false);
  if (values.help) return commandHelp('serve', deps);
  if (!values.socket) throw new UsageError('serve: --socket PATH is required');
  const spec = parseTargetSpec(values.target ?? DEFAULTS.target);
  if (spec.kind !== 'simulated') throw new UsageError(`serve: only simulated targets can be served, got '${values.target}'`);
  await checkTarget(spec);
  const socketPath = values.socket;
  await checkSocketPath(socketPath);
  const mod = await deps.serve();
  // Stopping a server with a signal is its normal end, not a failure.
  await withSignals(deps, (signal) => mod.serve({ socketPath, targetSpec: formatTargetSpec(spec), signal, write: (line) => deps.stdout.write(`${line}\n`) }));
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
  isKnown?: (id: string) => boolean,
): Promise<{ value: T; signal?: TrappedSignal }> {
  const controller = new AbortController();
  let received: TrappedSignal | undefined;
  let receivedAt = 0;
  const printer = new ProgressPrinter(deps.stderr, Date.now, isKnown);
  const handlers = (['SIGINT', 'SIGTERM'] as const).map((sig) => {
    const handler = () => {
      // GNU timeout signals the child and then its whole process group, so one timeout arrives
      // twice; a repeat that soon is the same request, not an impatient user.
      if (received === sig && Date.now() - receivedAt < DUPLICATE_SIGNAL_MS) return;
      if (received) {
        printer.finish();
        deps.stderr.write(`vhostcheck: ${sig} again, exiting without cleanup\n`);
        deps.exit(SIGNAL_EXIT[sig]);
        return;
      }
      received = sig;
      receivedAt = Date.now();
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

async function writeReports(dir: string, run: RunResult, lookup: RequirementLookup, context: ReportContext): Promise<Record<keyof typeof REPORT_FILES, string>> {
  const contents: Record<keyof typeof REPORT_FILES, string> = {
    json: renderJson(run),
    junit: renderJunit(run, lookup),
    markdown: renderMarkdown(run, lookup, context),
  };
  const written = {} as Record<keyof typeof REPORT_FILES, string>;
  for (const key of Object.keys(REPORT_FILES) as (keyof typeof REPORT_FILES)[]) {
    const path = join(dir, REPORT_FILES[key]);
    await writeFileAtomic(path, contents[key]);
    written[key] = path;
  }
  return written;
}

function printOutcome(out: StatusStream, run: RunResult, lookup: RequirementLookup, notes: readonly string[]): void {
  const problems = renderProblems(run, lookup);
  if (problems) out.write(`${problems}\n`);
  for (const note of notes) out.write(`${note}\n`);
  out.write(`${finalLine(run.summary)}\n`);
}

import { execFile } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main, type CliDeps } from './cli.ts';
import { DEFAULTS, OUT_OF_PROCESS_RUNS } from './help.ts';
import type { RunOptions } from './engine.ts';
import { summarize } from './expectations.ts';
import type { ReplayReport } from './replay.ts';
import type { RunResult } from './results.ts';
import { REQUIREMENTS, RUN } from './runResult.fixture.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin', 'vhostcheck.js');
const VERSION = (JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

function spawnCli(args: string[], cwd = ROOT): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // A hang (mkdir -p under /proc once spun forever) is killed and reported as such.
    execFile(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, VHOSTCHECK_DEBUG: '' }, timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.killed ? -1 : Number(err.code)) : 0, stdout, stderr });
    });
  });
}

describe('bin/vhostcheck.js', () => {
  it.concurrent('--help documents commands and exit codes', async () => {
    const r = await spawnCli(['--help']);
    expect(r.code).toBe(0);
    for (const word of ['list', 'run', 'replay', 'mutants', 'serve', 'Exit codes', '130']) expect(r.stdout).toContain(word);
    // The gate policy: what exit 0 tolerates without an expectations entry.
    expect(r.stdout).toMatch(/0 +every result was expected: PASS, SKIP, UNSUPPORTED, INFORMATIONAL, NON_STRICT\s+\(unless --strict\)/);
  });

  it.concurrent('--help lists only targets this build can run', async () => {
    const r = await spawnCli(['--help']);
    expect(r.stdout).toContain('vhost-user:spawn=PEER');
    for (const form of ['vhost-vdpa:/dev/vhost-vdpa-N', 'guest:vdpa-sim-net', 'guest:vhost-net', 'guest:vduse-blk']) expect(r.stdout).toContain(form);
    // A VDUSE device on the host has no target yet: not listed.
    expect(r.stdout).not.toMatch(/^\s*vduse\s/m);
  });

  for (const command of ['list', 'run', 'replay', 'suites', 'mutants', 'serve']) {
    it.concurrent(`${command} --help prints that command's help, not the global one`, async () => {
      const r = await spawnCli([command, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: vhostcheck ${command}\\b`));
      expect(r.stdout).not.toContain('Selectors pick requirements');
      for (const other of ['list', 'run', 'replay', 'suites', 'mutants', 'serve'].filter((c) => c !== command)) expect(r.stdout).not.toContain(`vhostcheck ${other} `);
    });
  }

  it.concurrent('suites lists every suite with what it covers', async () => {
    const r = await spawnCli(['suites']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^control-plane\s+blk\/net\/fs\s+\d+ requirements\s+\S/m);
    expect(r.stdout.trimEnd().split('\n').length).toBeGreaterThanOrEqual(10);
  });

  it.concurrent('mutants --list lists the mutants without running them', async () => {
    const r = await spawnCli(['mutants', '--list']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^avail-idx-runaway\s+\S+\s+\S*virtio\.\S+\s+\S/m);
  });

  it.concurrent('--version prints the package version, from any working directory', async () => {
    expect(await spawnCli(['--version'])).toMatchObject({ code: 0, stdout: `${VERSION}\n` });
    expect(await spawnCli(['--version'], tmpdir())).toMatchObject({ code: 0, stdout: `${VERSION}\n` });
  });

  it.concurrent('list prints the catalogue and filters it', async () => {
    const all = await spawnCli(['list']);
    expect(all.code).toBe(0);
    const [, shown, total] = /^(\d+) of (\d+) requirements$/m.exec(all.stdout)!.map(Number);
    expect(shown).toBeGreaterThan(0);
    expect(shown).toBe(total);
    const some = await spawnCli(['list', 'virtio.split', '--level', 'must']);
    const lines = some.stdout.trimEnd().split('\n');
    const [, count] = /^(\d+) of/.exec(lines.at(-1)!)!.map(Number);
    expect(count).toBeGreaterThan(0);
    expect(count).toBeLessThan(total);
    expect(lines.slice(0, -1).every((l) => /^virtio\.split\.\S+\s+MUST\s/.test(l))).toBe(true);
  });

  it.concurrent('list --json prints an array of the selected requirements', async () => {
    const r = await spawnCli(['list', '--json', '*.robust.*']);
    const list = JSON.parse(r.stdout) as { id: string; summary: string }[];
    expect(list.length).toBeGreaterThan(0);
    expect(list.every((x) => x.id.includes('.robust.') && typeof x.summary === 'string')).toBe(true);
  });

  const badInputs: [string, string[], RegExp][] = [
    ['no command', [], /no command/],
    ['an unknown command', ['frobnicate'], /unknown command 'frobnicate'/],
    ['an unknown option', ['list', '--colour'], /Unknown option '--colour'/],
    ['a missing option value', ['run', '--seed'], /--seed/],
    ['an unknown selector', ['list', 'virtio.nope'], /unknown selector 'virtio\.nope'/],
    ['a malformed selector', ['run', 'virtio..split'], /invalid selector/],
    ['a bad target spec', ['run', '--target', 'qemu:whatever'], /malformed target spec 'qemu:whatever'/],
    ['a bad seed', ['run', '--seed', '1.5'], /--seed must be an integer/],
    ['a bad run count', ['run', '--runs', '0'], /--runs must be an integer/],
    ['a negative budget', ['run', '--time-budget=-3'], /--time-budget must be a positive number/],
    ['a zero reply timeout', ['run', '--reply-timeout', '0'], /--reply-timeout must be an integer from 1/],
    ['a bad level', ['list', '--level', 'OFTEN'], /unknown level 'OFTEN'/],
    ['a missing replay file', ['replay', '/nonexistent/regression.json'], /cannot read \/nonexistent\/regression\.json/],
    ['serve without a socket', ['serve'], /--socket PATH is required/],
    ['an unknown mutant', ['run', '--target', 'simulated:mutant=nope'], /unknown mutant 'nope' \(see 'vhostcheck mutants --list'\)/],
    ['a saved-case directory under a file', ['run', '--regression-dir', '/etc/passwd/x'], /saved-case directory \/etc\/passwd\/x: \/etc\/passwd is not a directory/],
    ['a report directory that cannot be created', ['run', '--report-dir', '/proc/nope'], /cannot create report directory \/proc\/nope/],
    ['a negative run count', ['run', '--runs', '-1'], /--runs must be an integer from 1 to \d+, got '-1'/],
    ['an unknown suite', ['run', '--suite', 'nope'], /unknown suite 'nope' \(known: control-plane, /],
    ['serve on a file that is not a socket', ['serve', '--socket', '/etc/passwd'], /cannot listen on \/etc\/passwd: it exists and is not a socket/],
    ['serve in a directory that does not exist', ['serve', '--socket', '/nonexistent/dir/x.sock'], /cannot listen on \/nonexistent\/dir\/x\.sock: directory \/nonexistent\/dir does not exist/],
    ['serve of an unknown mutant', ['serve', '--socket', '/tmp/x.sock', '--target', 'simulated:mutant=nope'], /unknown mutant 'nope'/],
    ...savedCaseInputs(),
  ];
  for (const [what, args, message] of badInputs) {
    it.concurrent(`${what} is one stderr line and exit 2`, async () => {
      const r = await spawnCli(args);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^vhostcheck: [^\n]+\n$/);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\bat \S+ \(|at file:/);
    });
  }
});

/** A saved case that replays: its fields altered one at a time make the broken files below. */
const GOOD_CASE = {
  format: 1,
  tool: 'vhostcheck 0.1.0',
  target: 'simulated',
  suite: 'split-datapath',
  requirement: 'virtio.split.used.id-is-head',
  seed: 1,
  createdAt: '2026-01-01T00:00:00.000Z',
  failure: { verdict: 'FAIL', detail: 'used id 0 is not an outstanding buffer', expected: [], actual: 'FAIL: used id 0' },
  steps: [{ t: 'setup', packed: false, eventIdx: false, indirect: false, inOrder: false, platform: false, num: 4 }, { t: 'kick', queue: 0 }],
};
const CASES_DIR = mkdtempSync(join(tmpdir(), 'vhostcheck-cli-cases-'));
afterAll(() => rmSync(CASES_DIR, { recursive: true, force: true }));

/** Replay files with one thing wrong each: all exit 2 with a line naming the problem, before any target work. */
function savedCaseInputs(): [string, string[], RegExp][] {
  const broken: [string, object, RegExp][] = [
    ['naming an unknown mutant', { ...GOOD_CASE, target: 'simulated:mutant=nope' }, /unknown mutant 'nope'/],
    ['with a step of an unknown kind', { ...GOOD_CASE, steps: [{ t: 'nonsense' }] }, /step 1: unknown step kind 'nonsense'/],
    ['with a field of the wrong type', { ...GOOD_CASE, steps: [{ t: 'kick', queue: '0' }] }, /step 1 \(kick\): 'queue' must be an integer/],
    ['with a request field of the wrong type', { ...GOOD_CASE, steps: [{ t: 'control', req: { op: 'setVringNum', index: 0, num: true } }] }, /'req' \(setVringNum\): 'num' must be an integer/],
    ['from a newer format', { ...GOOD_CASE, format: 2 }, /format 2 was written by a newer vhostcheck; this version reads format 1/],
    ['without steps', { ...GOOD_CASE, steps: undefined }, /steps must be an array/],
    ['naming a requirement not in the catalogue', { ...GOOD_CASE, requirement: 'virtio.nope' }, /"requirement" 'virtio\.nope' is not in the catalogue/],
  ];
  return broken.map(([what, content, message], i) => {
    const file = join(CASES_DIR, `case-${i}.json`);
    writeFileSync(file, JSON.stringify(content));
    return [`a replay file ${what}`, ['replay', file], message];
  });
}

// In-process: the real engine is not involved; a fake stands in.
class Sink {
  text = '';
  constructor(readonly isTTY = false) {}
  write(chunk: string) {
    this.text += chunk;
    return true;
  }
}

interface Harness {
  deps: CliDeps;
  stdout: Sink;
  stderr: Sink;
  signals: EventEmitter;
  calls: RunOptions[];
}

function harness(engine: (opts: RunOptions) => Promise<RunResult>, env: Record<string, string> = {}): Harness {
  const stdout = new Sink();
  const stderr = new Sink();
  const signals = new EventEmitter();
  const calls: RunOptions[] = [];
  const deps: CliDeps = {
    stdout,
    stderr,
    env,
    signals,
    exit: (code) => {
      throw new Error(`exit(${code}) must not be called here`);
    },
    catalogue: async () => REQUIREMENTS,
    suites: async () => SUITES,
    mutantList: async () => [{ name: 'avail-idx-runaway', description: 'claims more heads than the ring holds', requirementIds: ['virtio.split.used.id-was-available'] }],
    corpusDir: CORPUS,
    engine: async () => ({
      executeRun: (opts) => {
        calls.push(opts);
        return engine(opts);
      },
    }),
    replay: async () => ({ replayFiles: async () => replayReport }),
    mutants: async () => ({
      runMutants: async (opts) => {
        opts.write(opts.json ? '{"score":1}\n' : 'score 100%\n');
        return 0;
      },
    }),
    serve: async () => ({ serve: (opts) => new Promise<void>((resolve) => opts.signal.addEventListener('abort', () => resolve())) }),
  };
  return { deps, stdout, stderr, signals, calls };
}

/** Two suites of the fixture's catalogue, for `suites` and `--suite`. */
const SUITES = [
  { name: 'split-ring', description: 'split rings', deviceTypes: ['blk', 'net'], requirements: ['virtio.split.used.len-before-idx', 'virtio.split.used.id-was-available'] },
  { name: 'vhost-user-ring', description: 'ring states', deviceTypes: ['blk'], requirements: ['vhost-user.ring.get-vring-base-stops'] },
];
/** A project corpus that holds nothing: each test's saved cases are its own. */
const CORPUS = join(tmpdir(), 'vhostcheck-cli-test-no-corpus');
let replayReport: ReplayReport = { target: 'simulated', cases: [], interrupted: false };

const allPass: RunResult = (() => {
  const results = RUN.results.map((r) => ({ id: r.id, verdict: 'PASS' as const, suites: r.suites, unexpected: false }));
  return { ...RUN, results, summary: summarize(results) };
})();

describe('main', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vhostcheck-cli-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const runArgs = (...extra: string[]) => ['run', '--report-dir', join(dir, 'report'), '--regression-dir', join(dir, 'saved'), '--expectations', join(dir, 'exp.json'), ...extra];

  it('runs fewer cases per property by default against a target outside this process; --runs still wins', async () => {
    const h = harness(async () => RUN);
    await main(['run', '--report-dir', join(dir, 'report'), '--target', 'vhost-user:spawn=simulated'], h.deps);
    await main(['run', '--report-dir', join(dir, 'report'), '--target', 'vhost-user:spawn=simulated', '--runs', '7'], h.deps);
    await main(['run', '--report-dir', join(dir, 'report')], h.deps);
    expect(h.calls.map((c) => c.runs)).toEqual([OUT_OF_PROCESS_RUNS, 7, DEFAULTS.runs]);
    expect(OUT_OF_PROCESS_RUNS).toBeLessThan(DEFAULTS.runs);
  });

  it('passes --reply-timeout to the engine in milliseconds', async () => {
    const h = harness(async () => RUN);
    await main(['run', '--report-dir', join(dir, 'report'), '--reply-timeout', '750'], h.deps);
    expect(h.calls[0]).toMatchObject({ replyTimeoutMs: 750 });
  });

  it('passes validated options to the engine, writes the three reports and ends with the summary line', async () => {
    const h = harness(async () => RUN);
    const code = await main(['run', '--report-dir', join(dir, 'report'), '--target', 'simulated:mutant=avail-idx-runaway,device=blk', '--seed', '7', 'virtio.split'], h.deps);
    expect(code).toBe(1);
    expect(h.calls[0]).toMatchObject({
      targetSpec: 'simulated:device=blk,mutant=avail-idx-runaway',
      selectors: ['virtio.split'],
      seed: 7,
      runs: 100,
      strict: false,
      // A user's saved cases go under the current directory; the project's corpus is only read.
      regressionDir: join('.vhostcheck', 'regressions'),
      corpusDir: CORPUS,
    });
    // Written atomically: no temporary file is left beside the reports.
    expect((await readdir(join(dir, 'report'))).sort()).toEqual(['index.json', 'junit.xml', 'report.md']);
    const index = JSON.parse(await readFile(join(dir, 'report', 'index.json'), 'utf8')) as RunResult;
    // FAIL, CRASH, TIMEOUT and ERROR; NON_STRICT and INFORMATIONAL are expected in a non-strict run.
    expect(index.summary.unexpected).toBe(4);
    expect(index.results.filter((r) => r.unexpected).map((r) => r.verdict)).toEqual(['FAIL', 'CRASH', 'TIMEOUT', 'ERROR']);
    expect(await readFile(join(dir, 'report', 'junit.xml'), 'utf8')).toContain('<testsuites');
    expect(await readFile(join(dir, 'report', 'report.md'), 'utf8')).toContain('vhostcheck replay');
    expect(h.stdout.text).toContain('replay: vhostcheck replay');
    expect(h.stdout.text.endsWith('\n1 passed, 4 failed, 2 skipped, 2 known deviations\n')).toBe(true);
    expect(h.stderr.text).toBe('');
  });

  it('--strict makes NON_STRICT unexpected; INFORMATIONAL stays expected', async () => {
    // The engine records --strict in the result, which is what the gate reads.
    const h = harness(async (opts) => ({ ...RUN, strict: opts.strict }));
    await writeFile(join(dir, 'exp.json'), '{"target": "simulated", "expectations": {}}');
    expect(await main(runArgs('--strict'), h.deps)).toBe(1);
    expect(h.calls[0].strict).toBe(true);
    const index = JSON.parse(await readFile(join(dir, 'report', 'index.json'), 'utf8')) as RunResult;
    expect(index.strict).toBe(true);
    expect(index.summary.unexpected).toBe(5);
    expect(index.results.find((r) => r.verdict === 'NON_STRICT')!.unexpected).toBe(true);
    expect(index.results.find((r) => r.verdict === 'INFORMATIONAL')!.unexpected).toBe(false);
    expect(h.stdout.text).toContain('NON_STRICT virtio.status.needs-reset-set');
    expect(h.stdout.text.endsWith('\n1 passed, 5 failed, 2 skipped, 1 known deviation\n')).toBe(true);
  });

  it('gates NON_STRICT only under --strict, and INFORMATIONAL only against an entry naming another verdict', async () => {
    const soft = new Set(['virtio.status.needs-reset-set', 'virtio.features.informational']);
    const results = RUN.results
      .filter((r) => soft.has(r.id) || r.verdict === 'PASS')
      .map(({ id, verdict, suites }) => ({ id, verdict, suites, unexpected: false }));
    const engine = async (opts: RunOptions): Promise<RunResult> => ({ ...RUN, strict: opts.strict ?? false, results, summary: summarize(results) });
    await writeFile(join(dir, 'exp.json'), '{"target": "simulated", "expectations": {}}');
    const lax = harness(engine);
    expect(await main(runArgs(), lax.deps)).toBe(0);
    expect(lax.stdout.text).not.toContain('NON_STRICT virtio.status.needs-reset-set');
    // Passing the gate is not silence: both still count on the final line.
    expect(lax.stdout.text.endsWith('\n1 passed, 0 failed, 0 skipped, 2 known deviations\n')).toBe(true);
    const strict = harness(engine);
    expect(await main(runArgs('--strict'), strict.deps)).toBe(1);
    expect(strict.stdout.text.endsWith('\n1 passed, 1 failed, 0 skipped, 1 known deviation\n')).toBe(true);
    await writeFile(
      join(dir, 'exp.json'),
      '{"target": "simulated", "expectations": {"virtio.features.informational": {"verdict": "PASS", "reason": "pinned"}}}',
    );
    const pinned = harness(engine);
    expect(await main(runArgs(), pinned.deps)).toBe(1);
    expect(pinned.stdout.text).toContain('INFORMATIONAL virtio.features.informational');
    expect(pinned.stdout.text.endsWith('\n1 passed, 1 failed, 0 skipped, 1 known deviation\n')).toBe(true);
  });

  it('exits 0 when every result is expected', async () => {
    const h = harness(async () => allPass);
    await writeFile(join(dir, 'exp.json'), '{"target": "simulated", "expectations": {}}');
    expect(await main(runArgs(), h.deps)).toBe(0);
    expect(h.stdout.text.endsWith('9 passed, 0 failed, 0 skipped\n')).toBe(true);
  });

  it('--update-expectations records the run so the same run is then expected', async () => {
    const h = harness(async () => RUN);
    expect(await main(runArgs('--update-expectations'), h.deps)).toBe(0);
    const file = JSON.parse(await readFile(join(dir, 'exp.json'), 'utf8'));
    // Only what the gate would fail on: not NON_STRICT (no --strict) nor INFORMATIONAL.
    expect(Object.keys(file.expectations)).toEqual([
      'vduse.create.vq-num-limit',
      'vhost-user.ring.get-vring-base-stops',
      'vhost-user.robust.survives',
      'virtio.split.used.len-before-idx',
    ]);
    expect(await main(runArgs(), harness(async () => RUN).deps)).toBe(0);
    // The bug got fixed: its entry now hides nothing, and says so.
    const fixed = harness(async () => allPass);
    expect(await main(runArgs(), fixed.deps)).toBe(1);
    expect(fixed.stdout.text).toContain('unexpected passes');
  });

  it('a corrupt expectations file is exit 2 before the target is touched', async () => {
    await writeFile(join(dir, 'exp.json'), '{"target": "simulated", "expectations": [}');
    const h = harness(async () => RUN);
    expect(await main(runArgs(), h.deps)).toBe(2);
    expect(h.calls).toHaveLength(0);
    expect(h.stderr.text).toMatch(/^vhostcheck: expectations file .*exp\.json: not valid JSON[^\n]*\n$/);
  });

  it('a named expectations file that does not exist is exit 2', async () => {
    const h = harness(async () => RUN);
    expect(await main(runArgs(), h.deps)).toBe(2);
    expect(h.stderr.text).toContain('ENOENT');
  });

  for (const [signal, exit] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    it(`${signal} aborts the engine, writes partial reports and exits ${exit}`, async () => {
      const h = harness(
        (opts) =>
          new Promise((resolve) => {
            opts.signal!.addEventListener('abort', () => resolve({ ...allPass, interrupted: true, results: allPass.results.slice(0, 2) }));
            // Twice, as GNU timeout delivers it (to the child, then to the group): still one clean stop.
            queueMicrotask(() => {
              h.signals.emit(signal);
              h.signals.emit(signal);
            });
          }),
      );
      await writeFile(join(dir, 'exp.json'), '{"target": "simulated", "expectations": {}}');
      expect(await main(runArgs(), h.deps)).toBe(exit);
      const index = JSON.parse(await readFile(join(dir, 'report', 'index.json'), 'utf8')) as RunResult;
      expect(index.interrupted).toBe(true);
      expect(index.results).toHaveLength(2);
      expect(h.stdout.text).toContain(`interrupted by ${signal}`);
      expect(h.signals.listenerCount(signal)).toBe(0);
    });
  }

  it('an unexpected exception is exit 3 with one line, and the stack only under VHOSTCHECK_DEBUG=1', async () => {
    const boom = async (): Promise<RunResult> => {
      throw new Error('engine exploded');
    };
    const quiet = harness(boom);
    await writeFile(join(dir, 'exp.json'), '{"target": "simulated", "expectations": {}}');
    expect(await main(runArgs(), quiet.deps)).toBe(3);
    expect(quiet.stderr.text).toBe('vhostcheck: internal error: engine exploded\n');
    const debug = harness(boom, { VHOSTCHECK_DEBUG: '1' });
    expect(await main(runArgs(), debug.deps)).toBe(3);
    expect(debug.stderr.text).toMatch(/^vhostcheck: internal error: engine exploded\nError: engine exploded\n\s+at /);
  });

  const replayed = (outcome: ReplayReport['cases'][number]['outcome']): ReplayReport['cases'][number] => ({
    file: `${outcome}.json`,
    requirement: 'virtio.split.used.len-before-idx',
    recorded: { verdict: 'FAIL', actual: 'FAIL: used.idx first' },
    outcome,
    ...(outcome === 'reproduced' && { own: { requirement: 'virtio.split.used.len-before-idx', verdict: 'FAIL' as const, detail: 'seen now' } }),
    others: outcome === 'reproduced differently' ? [{ requirement: 'vhost-user.robust.survives', verdict: 'CRASH' as const, detail: 'seen now' }] : [],
    steps: ['1. setup(split, num=4)', '2. kick(queue=0)'],
  });

  it('replay says per file whether it reproduced, with the steps, and exits 0 only if every file did', async () => {
    const file = join(dir, 'r.json');
    await writeFile(file, '{}');
    const cases = (...o: Parameters<typeof replayed>[0][]) => ({ target: 'simulated', cases: o.map(replayed), interrupted: false });
    replayReport = cases('reproduced', 'reproduced');
    let h = harness(async () => RUN);
    expect(await main(['replay', file, file], h.deps)).toBe(0);
    expect(h.stdout.text).toContain('reproduced.json\n  recorded: FAIL virtio.split.used.len-before-idx: FAIL: used.idx first\n  reproduced: FAIL virtio.split.used.len-before-idx: seen now\n  steps:\n    1. setup(split, num=4)\n    2. kick(queue=0)\n');
    expect(h.stdout.text.endsWith('2 reproduced, 0 reproduced differently, 0 did not reproduce\n')).toBe(true);
    replayReport = cases('reproduced', 'reproduced differently');
    h = harness(async () => RUN);
    expect(await main(['replay', file, file], h.deps)).toBe(1);
    expect(h.stdout.text).toContain('  reproduced differently: virtio.split.used.len-before-idx no longer fails, but other checks do\n    CRASH vhost-user.robust.survives: seen now\n');
    replayReport = cases('did not reproduce');
    h = harness(async () => RUN);
    expect(await main(['replay', file], h.deps)).toBe(1);
    expect(h.stdout.text).toContain('  did not reproduce: every check on these steps passed against simulated\n');
    // Checking a fix: success is that nothing reproduces, not even differently.
    h = harness(async () => RUN);
    expect(await main(['replay', '--expect-pass', file], h.deps)).toBe(0);
    replayReport = cases('did not reproduce', 'reproduced differently');
    h = harness(async () => RUN);
    expect(await main(['replay', '--expect-pass', file, file], h.deps)).toBe(1);
  });

  it('stdout, report.md, index.json and junit.xml give the same numbers', async () => {
    await writeFile(join(dir, 'exp.json'), '{"target": "simulated", "expectations": {"vduse.create.vq-num-limit": {"verdict": "ERROR", "reason": "known"}}}');
    const h = harness(async () => RUN);
    expect(await main(runArgs(), h.deps)).toBe(1);
    const line = h.stdout.text.trimEnd().split('\n').at(-1)!;
    expect(line).toBe('1 passed, 3 failed, 2 skipped, 3 known deviations');
    const [passed, failed, skipped, known] = line.match(/\d+/g)!.map(Number);
    // The note on known deviations splits the same number, never a different one.
    expect(h.stdout.text).toContain(`3 known deviations: 1 listed in ${join(dir, 'exp.json')}, 2 NON_STRICT or INFORMATIONAL, expected without an entry\n`);
    const md = await readFile(join(dir, 'report', 'report.md'), 'utf8');
    expect(md).toContain(`**${line}**`);
    const index = JSON.parse(await readFile(join(dir, 'report', 'index.json'), 'utf8')) as RunResult;
    expect(index.summary).toMatchObject({ passed, failed, skipped, known });
    const junit = await readFile(join(dir, 'report', 'junit.xml'), 'utf8');
    const [tests, failures, errors, junitSkipped] = /<testsuites [^>]*tests="(\d+)" failures="(\d+)" errors="(\d+)" skipped="(\d+)"/.exec(junit)!.slice(1).map(Number);
    // JUnit has no "known deviation": those are reported as skipped, with their reason.
    expect({ tests, failed: failures + errors, skipped: junitSkipped }).toEqual({ tests: passed + failed + skipped + known, failed, skipped: skipped + known });
  });

  it('run --json prints the summary on stdout and everything for people on stderr', async () => {
    await writeFile(join(dir, 'exp.json'), '{"target": "simulated", "expectations": {}}');
    const h = harness(async () => RUN);
    expect(await main(runArgs('--json'), h.deps)).toBe(1);
    const out = JSON.parse(h.stdout.text) as { exitCode: number; line: string; summary: RunResult['summary']; newFailures: string[]; reports: Record<string, string> };
    const index = JSON.parse(await readFile(join(dir, 'report', 'index.json'), 'utf8')) as RunResult;
    expect(out.summary).toEqual(index.summary);
    expect(out).toMatchObject({ exitCode: 1, line: '1 passed, 4 failed, 2 skipped, 2 known deviations', reports: { json: join(dir, 'report', 'index.json') } });
    expect(out.newFailures).toEqual(['virtio.split.used.len-before-idx', 'vhost-user.ring.get-vring-base-stops', 'vhost-user.robust.survives', 'vduse.create.vq-num-limit']);
    expect(h.stderr.text).toContain('replay: vhostcheck replay');
    expect(h.stderr.text.endsWith('1 passed, 4 failed, 2 skipped, 2 known deviations\n')).toBe(true);
  });

  it('--suite runs the requirements of the named suites, narrowed by selectors; an unknown suite is exit 2', async () => {
    await writeFile(join(dir, 'exp.json'), '{"target": "simulated", "expectations": {}}');
    let h = harness(async () => allPass);
    expect(await main(runArgs('--suite', 'split-ring,vhost-user-ring'), h.deps)).toBe(0);
    expect(h.calls[0]).toMatchObject({ suites: ['split-ring', 'vhost-user-ring'], selectors: ['virtio.split.used.len-before-idx', 'virtio.split.used.id-was-available', 'vhost-user.ring.get-vring-base-stops'] });
    h = harness(async () => allPass);
    expect(await main(runArgs('--suite', 'split-ring', 'virtio.split.used.id-was-available'), h.deps)).toBe(0);
    expect(h.calls[0].selectors).toEqual(['virtio.split.used.id-was-available']);
    h = harness(async () => allPass);
    expect(await main(runArgs('--suite', 'vhost-user-ring', 'virtio.split'), h.deps)).toBe(2);
    expect(await main(runArgs('--suite', 'nope'), h.deps)).toBe(2);
    expect(h.calls).toHaveLength(0);
    expect(h.stderr.text).toContain("unknown suite 'nope' (known: split-ring, vhost-user-ring)");
  });

  it('suites and mutants --list print what there is without running anything', async () => {
    const h = harness(async () => RUN);
    expect(await main(['suites'], h.deps)).toBe(0);
    expect(h.stdout.text).toBe('split-ring       blk/net  2 requirements  split rings\nvhost-user-ring  blk      1 requirements  ring states\n');
    const m = harness(async () => RUN);
    expect(await main(['mutants', '--list'], m.deps)).toBe(0);
    expect(m.stdout.text).toBe('avail-idx-runaway  blk/net  virtio.split.used.id-was-available  claims more heads than the ring holds\n');
    expect(m.calls).toHaveLength(0);
  });

  it('run says how many saved cases it replays first and how to clear them; a broken one is exit 2 before the target', async () => {
    await writeFile(join(dir, 'exp.json'), '{"target": "simulated", "expectations": {}}');
    const saved = join(dir, 'saved');
    await mkdir(saved);
    await writeFile(join(saved, 'a.json'), JSON.stringify(GOOD_CASE));
    await writeFile(join(saved, 'other-target.json'), JSON.stringify({ ...GOOD_CASE, target: 'vhost-user:spawn=qsd-blk' }));
    const h = harness(async () => allPass);
    expect(await main(runArgs(), h.deps)).toBe(0);
    expect(h.stderr.text).toBe(`vhostcheck: replaying 1 saved case first: 1 from ${saved} (clear with: rm -r ${saved})\n`);
    await writeFile(join(saved, 'b.json'), JSON.stringify({ ...GOOD_CASE, steps: [{ t: 'nonsense' }] }));
    const broken = harness(async () => allPass);
    expect(await main(runArgs(), broken.deps)).toBe(2);
    expect(broken.calls).toHaveLength(0);
    expect(broken.stderr.text).toMatch(/b\.json: corrupt steps: step 1: unknown step kind 'nonsense'/);
  });

  it('mutants hands over --json and its exit code; serve stops cleanly on a signal', async () => {
    const h = harness(async () => RUN);
    expect(await main(['mutants', '--json'], h.deps)).toBe(0);
    expect(h.stdout.text).toBe('{"score":1}\n');
    const served = main(['serve', '--socket', join(dir, 's.sock')], h.deps);
    await new Promise((r) => setTimeout(r, 10));
    h.signals.emit('SIGTERM');
    expect(await served).toBe(0);
    expect(await main(['serve', '--socket', 'x', '--target', 'vduse'], h.deps)).toBe(2);
  });
});

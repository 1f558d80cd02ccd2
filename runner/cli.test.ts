import { execFile } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main, type CliDeps } from './cli.ts';
import type { RunOptions } from './engine.ts';
import { summarize } from './expectations.ts';
import type { RunResult } from './results.ts';
import { REQUIREMENTS, RUN } from './runResult.fixture.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin', 'vhostcheck.js');
const VERSION = (JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

function spawnCli(args: string[], cwd = ROOT): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, VHOSTCHECK_DEBUG: '' } }, (err, stdout, stderr) => {
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
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
    ['a bad level', ['list', '--level', 'OFTEN'], /unknown level 'OFTEN'/],
    ['a missing replay file', ['replay', '/nonexistent/regression.json'], /cannot read \/nonexistent\/regression\.json/],
    ['serve without a socket', ['serve'], /--socket PATH is required/],
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
    engine: async () => ({
      executeRun: (opts) => {
        calls.push(opts);
        return engine(opts);
      },
    }),
    replay: async () => ({ replayFiles: async () => RUN }),
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
  const runArgs = (...extra: string[]) => ['run', '--report-dir', join(dir, 'report'), '--expectations', join(dir, 'exp.json'), ...extra];

  it('passes validated options to the engine, writes the three reports and ends with the summary line', async () => {
    const h = harness(async () => RUN);
    const code = await main(['run', '--report-dir', join(dir, 'report'), '--target', 'simulated:mutant=m1,device=blk', '--seed', '7', 'virtio.split'], h.deps);
    expect(code).toBe(1);
    expect(h.calls[0]).toMatchObject({
      targetSpec: 'simulated:device=blk,mutant=m1',
      selectors: ['virtio.split'],
      seed: 7,
      runs: 100,
      strict: false,
      regressionDir: join('corpus', 'regressions'),
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
            queueMicrotask(() => h.signals.emit(signal));
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

  it('replay runs the given files and gates like run', async () => {
    const file = join(dir, 'r.json');
    await writeFile(file, '{}');
    const h = harness(async () => RUN);
    expect(await main(['replay', file], h.deps)).toBe(1);
    expect(h.stdout.text.endsWith('1 passed, 4 failed, 2 skipped, 2 known deviations\n')).toBe(true);
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

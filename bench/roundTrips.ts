// Part 3: vhost-user control round trips against a real qemu-storage-daemon,
// our front-end versus a minimal C client (bench/rtt_client.c, compiled at
// bench time into a temp dir), plus blk 512-byte reads through the data path.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { QSD_PATH, QsdDaemon } from '../implementations/vhost-user/peers/qsd.ts';
import type { Step } from '../properties/steps.ts';
import { runSteps } from '../runner/engine.ts';
import { probeTarget } from '../runner/profile.ts';
import { parseTargetSpec } from '../runner/targetSpec.ts';
import { targetFactory } from '../runner/targets.ts';
import { onAbort, quantile } from './common.ts';
import { median } from '../runner/mutants.ts';
import { type Counters, countingFactory, failsRun } from './modelSteps.ts';

const run = promisify(execFile);

export interface RttSample {
  readonly who: 'c' | 'ours';
  readonly round: number;
  readonly n: number;
  readonly medianUs: number;
  readonly p99Us: number | null;
  /** Round trips per second over the timed loop (n / wall time). */
  readonly rate: number;
}

export interface RoundTripResult {
  readonly skipped?: string;
  readonly qsdVersion?: string;
  readonly samples?: readonly RttSample[];
  readonly c?: { readonly medianUs: number; readonly rate: number };
  readonly ours?: { readonly medianUs: number; readonly rate: number };
  /** ours.rate / c.rate */
  readonly ratio?: number;
  readonly blkReads?: BlkReadResult;
}

export interface BlkReadResult {
  readonly reads: number;
  readonly wallMs: number;
  readonly readsPerSecond: number;
  readonly controlRequests: number;
  readonly kicks: number;
  readonly failure?: string;
  readonly error?: string;
}

async function compileClient(dir: string): Promise<string> {
  const exe = join(dir, 'rtt_client');
  await run('cc', ['-O2', '-Wall', '-o', exe, new URL('./rtt_client.c', import.meta.url).pathname], { timeout: 60_000 });
  return exe;
}

async function cClient(exe: string, socket: string, n: number, warm: number, round: number): Promise<RttSample> {
  const { stdout } = await run(exe, [socket, String(n), String(warm)], { timeout: 60_000, killSignal: 'SIGKILL' });
  const m = /median_us=([\d.]+) rate=([\d.]+) n=(\d+)/.exec(stdout);
  if (!m) throw new Error(`rtt_client printed no result: ${stdout.trim()}`);
  return { who: 'c', round, n: Number(m[3]), medianUs: Number(m[1]), p99Us: null, rate: Number(m[2]) };
}

async function ourClient(daemon: QsdDaemon, n: number, warm: number, round: number): Promise<RttSample> {
  const target = await daemon.open();
  try {
    const once = async () => {
      const r = await target.send({ op: 'getFeatures' });
      if (!('ok' in r) || !r.ok || typeof r.value !== 'bigint') throw new Error(`GET_FEATURES failed: ${JSON.stringify(r, (_, v) => (typeof v === 'bigint' ? v.toString() : v))}`);
    };
    for (let i = 0; i < warm; i++) await once();
    const samples = new Float64Array(n);
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const t0 = process.hrtime.bigint();
      await once();
      samples[i] = Number(process.hrtime.bigint() - t0);
    }
    const totalNs = Number(process.hrtime.bigint() - start);
    samples.sort();
    return { who: 'ours', round, n, medianUs: median([...samples]) / 1000, p99Us: quantile(samples, 0.99) / 1000, rate: n / (totalNs / 1e9) };
  } finally {
    await target.close();
  }
}

const READ_STEP: Step = { t: 'blk', type: 0, sector: 0n, readLen: 512, data: new Uint8Array(0), queue: 0, layout: { cuts: [], indirect: false, crossRegion: false } };
const KICK_STEP: Step = { t: 'kick', queue: 0 };
const CALIBRATION_READS = 20;
const SETUP_STEP: Step = { t: 'setup', packed: false, eventIdx: false, indirect: false, inOrder: false, platform: false, num: 16 };

function readScenario(reads: number): Step[] {
  const steps: Step[] = [SETUP_STEP];
  for (let i = 0; i < reads; i++) steps.push(READ_STEP, KICK_STEP);
  return steps;
}

async function blkReads(minSeconds: number): Promise<BlkReadResult> {
  const factory = targetFactory(parseTargetSpec('vhost-user:spawn=qsd-blk'));
  const unregister = onAbort(() => factory.dispose());
  try {
    const { profile } = await probeTarget(factory);
    // Calibrate on a short run (also the warm-up), then size the measured run to last ≥ minSeconds.
    const c0 = performance.now();
    const cal = await runSteps(factory, profile, readScenario(CALIBRATION_READS), failsRun);
    const calRate = CALIBRATION_READS / ((performance.now() - c0) / 1000);
    if (cal.failure) return { reads: 0, wallMs: 0, readsPerSecond: 0, controlRequests: 0, kicks: 0, failure: `${cal.failure.observation.requirement}: ${cal.failure.observation.detail}` };
    const reads = Math.max(50, Math.min(200_000, Math.ceil(calRate * minSeconds * 1.15)));
    const counters: Counters = { requests: 0, kicks: 0 };
    const t0 = performance.now();
    const out = await runSteps(countingFactory(factory, counters), profile, readScenario(reads), failsRun);
    const wallMs = performance.now() - t0;
    // With a failure the run stopped early: count only the reads whose kick was executed.
    const done = out.failure ? Math.floor(out.failure.stepIndex / 2) : reads;
    return {
      reads: done, wallMs, readsPerSecond: done / (wallMs / 1000), controlRequests: counters.requests, kicks: counters.kicks,
      ...(out.failure && { failure: `${out.failure.observation.requirement}: ${out.failure.observation.detail}` }),
    };
  } finally {
    unregister();
    await factory.dispose();
  }
}

export async function measureRoundTrips(opts: { n: number; warm: number; rounds: number; blkReadSeconds: number; log: (s: string) => void }): Promise<RoundTripResult> {
  if (!existsSync(QSD_PATH)) return { skipped: `${QSD_PATH} is absent (Debian package qemu-system-common); vhost-user round trips not measured` };
  const dir = mkdtempSync(join(tmpdir(), 'vhostcheck-bench-'));
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  const unregisterDir = onAbort(removeDir);
  let daemon: QsdDaemon | undefined;
  const unregisterDaemon = onAbort(() => daemon?.stop());
  try {
    let exe: string;
    try {
      exe = await compileClient(dir);
    } catch (e) {
      return { skipped: `cannot compile bench/rtt_client.c with cc -O2: ${(e as Error).message.split('\n')[0]}` };
    }
    daemon = await QsdDaemon.start();
    const samples: RttSample[] = [];
    for (let round = 1; round <= opts.rounds; round++) {
      const c = await cClient(exe, daemon.socketPath, opts.n, opts.warm, round);
      opts.log(`  round ${round}  C     median ${c.medianUs.toFixed(2)} µs  ${Math.round(c.rate).toLocaleString('en-US')} rt/s`);
      samples.push(c);
      const o = await ourClient(daemon, opts.n, opts.warm, round);
      opts.log(`  round ${round}  ours  median ${o.medianUs.toFixed(2)} µs  ${Math.round(o.rate).toLocaleString('en-US')} rt/s`);
      samples.push(o);
    }
    const qsdVersion = daemon.version;
    await daemon.stop();
    daemon = undefined;
    const pick = (who: 'c' | 'ours') => {
      const s = samples.filter((x) => x.who === who);
      return { medianUs: median(s.map((x) => x.medianUs)), rate: median(s.map((x) => x.rate)) };
    };
    const c = pick('c');
    const ours = pick('ours');
    let blk: BlkReadResult;
    try {
      blk = await blkReads(opts.blkReadSeconds);
    } catch (e) {
      blk = { reads: 0, wallMs: 0, readsPerSecond: 0, controlRequests: 0, kicks: 0, error: (e as Error).message.split('\n')[0] };
    }
    return { qsdVersion, samples, c, ours, ratio: ours.rate / c.rate, blkReads: blk };
  } finally {
    await daemon?.stop();
    unregisterDaemon();
    removeDir();
    unregisterDir();
  }
}

// The QEMU guest the kernel targets run in (issue 12 item 7), measured on this
// machine: boot-to-ready (QEMU started → the agent answers, i.e. every module
// loaded), the time to open guest:vdpa-sim-net on a ready guest, agent round
// trips per second, GET_FEATURES per second through VhostVdpaTarget, and the
// suite steps per second of a whole `vhostcheck run --target guest:vdpa-sim-net`
// (every suite, the engine as the CLI runs it, seed 1), and, for comparison, the
// round trip to the host's own agent process that `vhost-vdpa:/dev/vhost-vdpa-N`
// pays per request. One QEMU at a time,
// each closed before the next starts. Skipped, with the reason, when the guest
// is not built.
//
// `npm run bench` runs this as its part 4; `npx tsx bench/guest.ts` runs it
// alone and updates the `guest` entry of bench/results.json.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bootGuest, type RunningGuest } from '../implementations/guest/boot.ts';
import { findGuest, type GuestImage } from '../implementations/guest/image/build.ts';
import { Op } from '../implementations/guest/protocol.ts';
import { QEMU_BINARY } from '../implementations/guest/qemu.ts';
import { VhostVdpaTarget } from '../implementations/guest/vdpaTarget.ts';
import { startLocalMachine } from '../implementations/vhost-vdpa/localAgent.ts';
import { writeFileAtomic } from '../runner/atomicWrite.ts';
import { median } from '../runner/mutants.ts';
import { fmtInt, installSignalCleanup, machineFacts, onAbort, quantile, table } from './common.ts';

interface RateSample {
  readonly n: number;
  readonly wallMs: number;
  readonly perSecond: number;
  readonly medianUs: number;
  readonly p99Us: number;
}

interface GuestBenchResult {
  readonly skipped?: string;
  readonly qemu?: string;
  readonly kernelRelease?: string;
  readonly guestMemoryMb?: number;
  /** One entry per boot, in order. */
  readonly boots?: readonly { readonly bootToReadyMs: number; readonly agentFirstAnswerMs: number; readonly openTargetMs: number }[];
  readonly bootToReadyMedianMs?: number;
  readonly openTargetMedianMs?: number;
  /** Sequential agent `hello` requests, one in flight: the channel's own round trip. */
  readonly agentRoundTrips?: RateSample;
  /** The same, to the host's agent process (vhost-vdpa:/dev/vhost-vdpa-N): a host target's cost per request. */
  readonly hostAgentRoundTrips?: RateSample;
  /** Sequential VhostVdpaTarget.send({ op: 'getFeatures' }): agent round trip plus VHOST_GET_FEATURES on /dev/vhost-vdpa-N. */
  readonly getFeatures?: RateSample;
  /** Steps per second of each suite of a run on guest:vdpa-sim-net (seed 1, `suiteRuns` cases per property), and overall. */
  readonly suiteSteps?: { readonly runsPerProperty: number; readonly wallS: number; readonly steps: number; readonly perSecond: number; readonly suites: readonly { readonly name: string; readonly steps: number; readonly perSecond: number }[] };
  /** The 1-minute load average before and after: other work on the machine slows a TCG guest. */
  readonly loadAverage?: { readonly before: number; readonly after: number };
}

const MEMORY_MB = 256;

function qemuVersion(): string | undefined {
  try {
    return execFileSync(QEMU_BINARY, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')[0]!.trim();
  } catch {
    return undefined;
  }
}

/** Runs `once` back to back for at least `minSeconds` after `warm` unmeasured calls. */
async function rate(once: () => Promise<void>, warm: number, minSeconds: number): Promise<RateSample> {
  for (let i = 0; i < warm; i++) await once();
  const latencies: number[] = [];
  const start = performance.now();
  let now = start;
  while (now - start < minSeconds * 1000) {
    await once();
    const t = performance.now();
    latencies.push(t - now);
    now = t;
  }
  const wallMs = now - start;
  const sorted = Float64Array.from(latencies).sort();
  return { n: latencies.length, wallMs, perSecond: latencies.length / (wallMs / 1000), medianUs: median(latencies) * 1000, p99Us: quantile(sorted, 0.99) * 1000 };
}

async function withGuest<T>(image: GuestImage, work: (g: RunningGuest, bootMs: number) => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const g = await bootGuest({ image, memoryMb: MEMORY_MB });
  const bootMs = performance.now() - t0;
  const forget = onAbort(() => g.close());
  try {
    return await work(g, bootMs);
  } finally {
    forget();
    await g.close();
  }
}

export async function measureGuest(opts: { readonly boots: number; readonly minSeconds: number; readonly log: (s: string) => void }): Promise<GuestBenchResult> {
  const qemu = qemuVersion();
  if (!qemu) return { skipped: `${QEMU_BINARY} not installed (Debian package qemu-system-x86)` };
  const image = await findGuest();
  if (!image) return { skipped: "the guest is not built (run 'npx vhostcheck guest build')" };
  const before = loadavg()[0]!;
  const boots: { bootToReadyMs: number; agentFirstAnswerMs: number; openTargetMs: number }[] = [];
  let agentRoundTrips: RateSample | undefined;
  let getFeatures: RateSample | undefined;
  for (let i = 0; i < opts.boots; i++) {
    const last = i === opts.boots - 1;
    await withGuest(image, async (g, bootMs) => {
      const t0 = performance.now();
      const target = await VhostVdpaTarget.open(g, { deviceType: 'net' });
      const openTargetMs = performance.now() - t0;
      boots.push({ bootToReadyMs: bootMs, agentFirstAnswerMs: g.agent.bootMs, openTargetMs });
      opts.log(`  boot ${i + 1}/${opts.boots}: ready in ${(bootMs / 1000).toFixed(2)} s, guest:vdpa-sim-net open in ${openTargetMs.toFixed(0)} ms`);
      try {
        // The rates are taken on the last guest only: one figure each, with the guest warm.
        if (!last) return;
        agentRoundTrips = await rate(
          async () => {
            const r = await g.agent.request(Op.hello, new Uint8Array(0));
            if (r.kind !== 'ok') throw new Error(`agent hello: ${r.kind}`);
          },
          200,
          opts.minSeconds,
        );
        opts.log(`  agent round trips: ${fmtInt(agentRoundTrips.perSecond)}/s`);
        getFeatures = await rate(
          async () => {
            const r = await target.send({ op: 'getFeatures' });
            if (!('ok' in r) || !r.ok) throw new Error(`VHOST_GET_FEATURES: ${JSON.stringify(r)}`);
          },
          200,
          opts.minSeconds,
        );
        opts.log(`  GET_FEATURES: ${fmtInt(getFeatures.perSecond)}/s`);
      } finally {
        await target.close();
      }
    });
  }
  const host = await startLocalMachine();
  let hostAgentRoundTrips: RateSample;
  try {
    hostAgentRoundTrips = await rate(async () => {
      const r = await host.agent.request(Op.hello, new Uint8Array(0));
      if (r.kind !== 'ok') throw new Error(`host agent hello: ${r.kind}`);
    }, 200, opts.minSeconds);
  } finally {
    await host.close();
  }
  opts.log(`  host agent round trips: ${fmtInt(hostAgentRoundTrips.perSecond)}/s`);
  const suiteSteps = await measureSuiteSteps(SUITE_RUNS, opts.log);
  return {
    qemu,
    kernelRelease: image.manifest.kernelRelease,
    suiteSteps,
    guestMemoryMb: MEMORY_MB,
    boots,
    bootToReadyMedianMs: median(boots.map((b) => b.bootToReadyMs)),
    openTargetMedianMs: median(boots.map((b) => b.openTargetMs)),
    agentRoundTrips,
    hostAgentRoundTrips,
    getFeatures,
    loadAverage: { before, after: loadavg()[0]! },
  };
}

/** Cases per property in the suite-steps run: the CLI's default outside this process. */
const SUITE_RUNS = 20;

/** A whole run on guest:vdpa-sim-net as the CLI makes it (its own guest), timed per suite by the engine. */
async function measureSuiteSteps(runs: number, log: (s: string) => void): Promise<NonNullable<GuestBenchResult['suiteSteps']>> {
  const { executeRun } = await import('../runner/engine.ts');
  const dir = mkdtempSync(join(tmpdir(), 'vhostcheck-bench-guest-'));
  try {
    const t0 = performance.now();
    const run = await executeRun({ targetSpec: 'guest:vdpa-sim-net', selectors: [], seed: 1, runs, strict: false, regressionDir: dir, replayRegressions: false, saveRegressions: false });
    const wallS = (performance.now() - t0) / 1000;
    const suites = run.suites.map((x) => ({ name: x.name, steps: x.steps, perSecond: x.steps / (x.durationMs / 1000) }));
    const steps = suites.reduce((n, x) => n + x.steps, 0);
    const busyS = run.suites.reduce((n, x) => n + x.durationMs, 0) / 1000;
    log(`  suite steps on guest:vdpa-sim-net: ${fmtInt(steps / busyS)}/s over ${run.suites.length} suites (${wallS.toFixed(1)} s)`);
    return { runsPerProperty: runs, wallS, steps, perSecond: steps / busyS, suites };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The lines `npm run bench` and `npx tsx bench/guest.ts` print for this part. */
export function guestReport(r: GuestBenchResult): string[] {
  if (r.skipped) return [`   SKIPPED: ${r.skipped}`];
  const lines = [`   ${r.qemu}, TCG, -m ${r.guestMemoryMb}, guest kernel ${r.kernelRelease}; load average ${r.loadAverage!.before.toFixed(2)} before, ${r.loadAverage!.after.toFixed(2)} after`];
  lines.push(
    table(
      ['boot', 'boot-to-ready s', 'agent first answer s', 'open guest:vdpa-sim-net ms'],
      r.boots!.map((b, i) => [i + 1, (b.bootToReadyMs / 1000).toFixed(2), (b.agentFirstAnswerMs / 1000).toFixed(2), b.openTargetMs.toFixed(0)]),
    ),
  );
  lines.push(`   boot-to-ready median ${(r.bootToReadyMedianMs! / 1000).toFixed(2)} s over ${r.boots!.length} boots (QEMU start → agent answers: modules loaded); opening the target median ${r.openTargetMedianMs!.toFixed(0)} ms`);
  lines.push(
    table(
      ['one request in flight', 'n', 'wall s', 'per second', 'median µs', 'p99 µs'],
      ([['agent round trip (hello)', r.agentRoundTrips!], ['GET_FEATURES via VhostVdpaTarget', r.getFeatures!], ['host agent round trip (hello)', r.hostAgentRoundTrips!]] as const).map(([what, s]) => [
        what,
        fmtInt(s.n),
        (s.wallMs / 1000).toFixed(2),
        fmtInt(s.perSecond),
        s.medianUs.toFixed(0),
        s.p99Us.toFixed(0),
      ]),
    ),
  );
  const st = r.suiteSteps!;
  lines.push(`   a whole run on guest:vdpa-sim-net (seed 1, ${st.runsPerProperty} cases per property): ${fmtInt(st.perSecond)} suite steps/s, ${st.steps} steps in ${st.wallS.toFixed(1)} s`);
  lines.push(table(['suite', 'steps', 'steps/s'], st.suites.map((x) => [x.name, fmtInt(x.steps), fmtInt(x.perSecond)])));
  return lines;
}

const RESULTS = fileURLToPath(new URL('./results.json', import.meta.url));

async function main(): Promise<void> {
  installSignalCleanup();
  const minSeconds = Number(process.env.BENCH_MIN_SECONDS ?? 3);
  const machine = machineFacts();
  process.stdout.write(`vhostcheck bench, guest part — ${machine.date}\n`);
  const r = await measureGuest({ boots: 3, minSeconds, log: (s) => process.stderr.write(`${s}\n`) });
  process.stdout.write(`${['Guest (guest:vdpa-sim-net)', ...guestReport(r)].join('\n')}\n`);
  if (r.skipped) return;
  // Alone, this part replaces only its own entry: the other parts' figures stay as their last run left them.
  let previous: Record<string, unknown> = {};
  try {
    previous = JSON.parse(readFileSync(RESULTS, 'utf8')) as Record<string, unknown>;
  } catch {
    // no earlier results: this entry is the file
  }
  await writeFileAtomic(RESULTS, `${JSON.stringify({ ...previous, guest: { machine, minSecondsPerRate: minSeconds, ...r } }, null, 2)}\n`);
  process.stdout.write('results in bench/results.json (guest)\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e: unknown) => {
    process.stderr.write(`bench guest failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  });
}

// `npm run bench`: measures the performance budgets of DESIGN.md
// ("Performance budgets") on this machine and writes bench/results.json.
// Every figure printed is measured in this run; nothing is hard-coded.
//   1. model steps/s against the simulated target (blk and net), per suite
//   2. time to detect and shrunk size for every mutant
//   3. vhost-user GET_FEATURES round trips: our front-end vs a minimal C client,
//      against a real qemu-storage-daemon; and blk 512-byte reads/s
//   4. the kernel targets' QEMU guest (bench/guest.ts), when it is built
import { MUTANTS } from '../implementations/simulated/mutants/index.ts';
import { measureMutant, type MutantOutcome } from '../runner/mutants.ts';
import { writeFileAtomic } from '../runner/atomicWrite.ts';
import { fmtInt, installSignalCleanup, machineFacts, table } from './common.ts';
import { guestReport, measureGuest } from './guest.ts';
import { median } from '../runner/mutants.ts';
import { measureModelSteps, measureOpenClose, type SuiteMeasurement } from './modelSteps.ts';
import { measureRoundTrips } from './roundTrips.ts';

const BUDGET = { stepsPerSecond: 50_000, medianDetectS: 2, medianShrunkSteps: 6, rttRatio: 0.7 } as const;
const MIN_SECONDS = Number(process.env.BENCH_MIN_SECONDS ?? 3);
const RESULTS = new URL('./results.json', import.meta.url).pathname;

const log = (s: string) => process.stderr.write(`${s}\n`);
const out = (s = '') => process.stdout.write(`${s}\n`);
const verdict = (ok: boolean) => (ok ? 'MET' : 'NOT MET');

function aggregate(ms: readonly SuiteMeasurement[]) {
  const steps = ms.reduce((a, m) => a + m.steps, 0);
  const wallMs = ms.reduce((a, m) => a + m.wallMs, 0);
  const cpuMs = ms.reduce((a, m) => a + m.cpuMs, 0);
  const deviceRequests = ms.reduce((a, m) => a + m.deviceRequests, 0);
  const scenariosRun = ms.reduce((a, m) => a + m.scenariosRun, 0);
  const failures = ms.reduce((a, m) => a + m.failures, 0);
  return { steps, wallMs, cpuMs, deviceRequests, scenariosRun, failures, stepsPerSecond: steps / (wallMs / 1000), deviceRequestsPerSecond: deviceRequests / (wallMs / 1000) };
}

async function main(): Promise<void> {
  installSignalCleanup();
  const started = performance.now();
  const machine = machineFacts();
  out(`vhostcheck bench — ${machine.date}`);
  out(`node ${machine.node}, ${machine.cpuModel}, nproc ${machine.nproc}, kernel ${machine.kernel}`);

  // 1. Model steps per second.
  log(`[1/4] model steps against the simulated target (≥ ${MIN_SECONDS} s per suite)`);
  const stepRuns: SuiteMeasurement[] = [];
  for (const device of ['blk', 'net'] as const) stepRuns.push(...(await measureModelSteps(device, { samples: 300, minSeconds: MIN_SECONDS, warmupScenarios: 20, log })));
  const byDevice = { blk: aggregate(stepRuns.filter((m) => m.device === 'simulated')), net: aggregate(stepRuns.filter((m) => m.device !== 'simulated')) };
  const overall = aggregate(stepRuns);
  const stepsOk = overall.stepsPerSecond >= BUDGET.stepsPerSecond;
  out();
  out(`1. Model steps/s against the simulated target (budget ≥ ${fmtInt(BUDGET.stepsPerSecond)} steps/s on one core)`);
  out(table(
    ['target', 'suite', 'scenarios', 'steps', 'dev requests', 'wall s', 'cpu/wall', 'steps/s', 'dev req/s', 'fails'],
    [
      ...stepRuns.map((m) => [m.device, m.suite, fmtInt(m.scenariosRun), fmtInt(m.steps), fmtInt(m.deviceRequests), (m.wallMs / 1000).toFixed(2), (m.cpuMs / m.wallMs).toFixed(2), fmtInt(m.stepsPerSecond), fmtInt(m.deviceRequests / (m.wallMs / 1000)), m.failures]),
      ...([['simulated', 'ALL (blk)', byDevice.blk], ['simulated:device=net', 'ALL (net)', byDevice.net], ['both', 'OVERALL', overall]] as const).map(([t, s, a]) => [t, s, fmtInt(a.scenariosRun), fmtInt(a.steps), fmtInt(a.deviceRequests), (a.wallMs / 1000).toFixed(2), (a.cpuMs / a.wallMs).toFixed(2), fmtInt(a.stepsPerSecond), fmtInt(a.deviceRequestsPerSecond), a.failures]),
    ],
  ));
  const openCloseMs = { blk: await measureOpenClose('blk'), net: await measureOpenClose('net') };
  const sessionShare = (overall.scenariosRun * ((openCloseMs.blk + openCloseMs.net) / 2)) / overall.wallMs;
  out(`   (dev requests = control requests + kicks; scenario generation is excluded and reported in results.json)`);
  out(`   a fresh simulated session (open+close, once per scenario) costs ${openCloseMs.blk.toFixed(3)} ms (blk) / ${openCloseMs.net.toFixed(3)} ms (net): ≈ ${(sessionShare * 100).toFixed(0)} % of the wall time above`);
  out(`   budget: ${verdict(stepsOk)} — overall ${fmtInt(overall.stepsPerSecond)} steps/s; slowest suite ${[...stepRuns].sort((a, b) => a.stepsPerSecond - b.stepsPerSecond)[0]?.suite} ${fmtInt(Math.min(...stepRuns.map((m) => m.stepsPerSecond)))} steps/s`);

  // 2. Time to detect per mutant.
  log(`[2/4] time to detect, ${MUTANTS.length} mutants`);
  const mutants: MutantOutcome[] = [];
  for (const m of MUTANTS) {
    const o = await measureMutant(m.name, { seed: 1, runs: 300, timeBudgetS: 30 });
    log(`  ${o.name.padEnd(34)} ${o.detected ? 'detected' : 'SURVIVED'} ${o.seconds.toFixed(2)} s ${o.steps ?? '-'} steps`);
    mutants.push(o);
  }
  const detected = mutants.filter((o) => o.detected);
  const medDetect = median(detected.map((o) => o.seconds));
  const medSteps = median(detected.map((o) => o.steps ?? 0));
  const mutantsOk = detected.length === mutants.length && medDetect < BUDGET.medianDetectS && medSteps <= BUDGET.medianShrunkSteps;
  out();
  out(`2. Time to detect per mutant (seed 1, runs 300, budget 30 s each; budget: median < ${BUDGET.medianDetectS} s, median shrunk ≤ ${BUDGET.medianShrunkSteps} steps)`);
  out(table(['mutant', 'row', 'detected', 'seconds', 'shrunk steps', 'failing requirements'], mutants.map((o) => [o.name, o.catalogueRow, o.detected ? 'yes' : 'NO', o.seconds.toFixed(2), o.steps ?? '-', o.failed.join(', ')])));
  out(`   detected ${detected.length}/${mutants.length}; median ${medDetect.toFixed(2)} s, max ${Math.max(...mutants.map((o) => o.seconds)).toFixed(2)} s; median shrunk ${medSteps} steps, max ${Math.max(...detected.map((o) => o.steps ?? 0))} steps`);
  out(`   budget: ${verdict(mutantsOk)}`);

  // 3. vhost-user round trips vs C, and blk reads.
  log('[3/4] vhost-user round trips vs a minimal C client (qemu-storage-daemon)');
  const rtt = await measureRoundTrips({ n: 10_000, warm: 1_000, rounds: 2, blkReadSeconds: MIN_SECONDS, log });
  out();
  out(`3. vhost-user GET_FEATURES round trips vs a minimal C client (budget: ours ≥ ${BUDGET.rttRatio * 100} % of the C rate)`);
  let rttOk: boolean | null = null;
  if (rtt.skipped) out(`   SKIPPED: ${rtt.skipped}`);
  else {
    out(`   back-end: qemu-storage-daemon ${rtt.qsdVersion}; n = 10,000 per sample after 1,000 warm-up, alternated C/ours ×2`);
    out(table(['client', 'round', 'median µs', 'p99 µs', 'round trips/s'], rtt.samples!.map((s) => [s.who === 'c' ? 'C (rtt_client.c)' : 'ours (VhostUserTarget)', s.round, s.medianUs.toFixed(2), s.p99Us === null ? '-' : s.p99Us.toFixed(2), fmtInt(s.rate)])));
    rttOk = rtt.ratio! >= BUDGET.rttRatio;
    out(`   medians: C ${rtt.c!.medianUs.toFixed(2)} µs, ${fmtInt(rtt.c!.rate)} rt/s; ours ${rtt.ours!.medianUs.toFixed(2)} µs, ${fmtInt(rtt.ours!.rate)} rt/s; ratio ours/C ${(rtt.ratio! * 100).toFixed(1)} % (by latency ${((rtt.c!.medianUs / rtt.ours!.medianUs) * 100).toFixed(1)} %)`);
    out(`   budget: ${verdict(rttOk)}`);
    const b = rtt.blkReads!;
    if (b.error) out(`   blk 512-byte reads: ERROR ${b.error}`);
    else out(`   blk 512-byte reads via runSteps (vhost-user:spawn=qsd-blk): ${fmtInt(b.reads)} reads in ${(b.wallMs / 1000).toFixed(2)} s = ${fmtInt(b.readsPerSecond)} reads/s (${fmtInt(b.controlRequests)} control requests, ${fmtInt(b.kicks)} kicks)${b.failure ? `; stopped at a failure: ${b.failure}` : ''}`);
  }

  // 4. The QEMU guest: boots, agent round trips, GET_FEATURES through guest:vdpa-sim-net.
  log('[4/4] the kernel targets\' QEMU guest (3 boots, one at a time)');
  const guest = await measureGuest({ boots: 3, minSeconds: MIN_SECONDS, log });
  out();
  out('4. QEMU guest for the kernel targets: boot-to-ready, agent round trips, GET_FEATURES on guest:vdpa-sim-net (no budget)');
  for (const line of guestReport(guest)) out(line);

  const totalS = (performance.now() - started) / 1000;
  out();
  out(`total bench time ${totalS.toFixed(1)} s; results in bench/results.json`);
  await writeFileAtomic(RESULTS, `${JSON.stringify({
    schemaVersion: 1,
    machine,
    totalSeconds: totalS,
    budgets: {
      modelStepsPerSecond: { budget: BUDGET.stepsPerSecond, measured: overall.stepsPerSecond, met: stepsOk },
      timeToDetect: { budgetMedianSeconds: BUDGET.medianDetectS, budgetMedianShrunkSteps: BUDGET.medianShrunkSteps, medianSeconds: medDetect, medianShrunkSteps: medSteps, detected: detected.length, mutants: mutants.length, met: mutantsOk },
      vhostUserRoundTrips: { budgetRatio: BUDGET.rttRatio, measuredRatio: rtt.ratio ?? null, met: rttOk, ...(rtt.skipped && { skipped: rtt.skipped }) },
    },
    modelSteps: { minSecondsPerMeasurement: MIN_SECONDS, openCloseMs, sessionShareOfWall: sessionShare, suites: stepRuns, blk: byDevice.blk, net: byDevice.net, overall },
    mutants: { seed: 1, runs: 300, timeBudgetS: 30, medianSeconds: medDetect, maxSeconds: Math.max(...mutants.map((o) => o.seconds)), medianShrunkSteps: medSteps, outcomes: mutants },
    roundTrips: rtt,
    guest: { minSecondsPerRate: MIN_SECONDS, ...guest },
  }, null, 2)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});

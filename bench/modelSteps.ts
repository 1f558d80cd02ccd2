// Part 1: model steps per second against the in-process simulated target,
// through the real engine pieces (runSteps + Harness + reference model +
// oracles). Scenarios are sampled with fast-check beforehand and replayed in
// a loop until the measurement has run for at least `minSeconds`.
import fc from 'fast-check';
import type { Health, Target } from '../implementations/target.ts';
import type { Reply, VhostRequest } from '../spec/requests.ts';
import type { Profile } from '../model/profile.ts';
import type { Observation } from '../properties/oracles/observation.ts';
import type { Step } from '../properties/steps.ts';
import { SUITES, type Suite } from '../properties/suites/index.ts';
import { runSteps } from '../runner/engine.ts';
import { probeTarget } from '../runner/profile.ts';
import { parseTargetSpec } from '../runner/targetSpec.ts';
import { type TargetFactory, targetFactory } from '../runner/targets.ts';
import { hasFeature } from '../spec/virtio/features.ts';

export interface Counters {
  requests: number;
  kicks: number;
}

/**
 * Delegates to `t`, counting control requests (send/sendRaw) and kicks. Every optional member `t` has is passed on
 * (and only those): without `dirtyLog` the harness sets up no log, and the dirty-log suite would be measured doing
 * less than it does. A class, so that opening a session builds no getters and closures the engine does not pay for.
 */
class CountingTarget implements Target {
  declare sync?: Target['sync'];
  declare dirtyLog?: Target['dirtyLog'];
  declare backEndFds?: Target['backEndFds'];
  declare sendRaw?: Target['sendRaw'];

  constructor(
    private readonly t: Target,
    private readonly c: Counters,
  ) {
    if (t.sync) this.sync = t.sync.bind(t);
    if (t.dirtyLog) this.dirtyLog = t.dirtyLog.bind(t);
    if (t.backEndFds) this.backEndFds = t.backEndFds.bind(t);
    const raw = t.sendRaw?.bind(t);
    if (raw) {
      this.sendRaw = (frame) => {
        c.requests++;
        return raw(frame);
      };
    }
  }

  get info(): Target['info'] {
    return this.t.info;
  }

  get memory(): Target['memory'] {
    return this.t.memory;
  }

  get completesInKick(): boolean | undefined {
    return this.t.completesInKick;
  }

  send(req: VhostRequest): Promise<Reply> {
    this.c.requests++;
    return this.t.send(req);
  }

  kick(vq: number): Promise<void> {
    this.c.kicks++;
    return this.t.kick(vq);
  }

  waitCall(vq: number, ms: number): Promise<boolean> {
    return this.t.waitCall(vq, ms);
  }

  health(): Promise<Health> {
    return this.t.health();
  }

  close(): Promise<void> {
    return this.t.close();
  }
}

export function countingFactory(f: TargetFactory, c: Counters): TargetFactory {
  return { spec: f.spec, settleMs: f.settleMs, open: async () => new CountingTarget(await f.open(), c), dispose: () => f.dispose() };
}

const FAILING = new Set(['FAIL', 'CRASH', 'TIMEOUT', 'ERROR']);
export const failsRun = (o: Observation): boolean => FAILING.has(o.verdict);

export interface SuiteMeasurement {
  readonly device: string;
  readonly suite: string;
  readonly scenariosSampled: number;
  readonly generationMs: number;
  readonly scenariosRun: number;
  readonly steps: number;
  readonly deviceRequests: number;
  readonly controlRequests: number;
  readonly kicks: number;
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly stepsPerSecond: number;
  /** Scenarios that stopped at a failing observation (expected 0 on the healthy simulated target). */
  readonly failures: number;
  readonly firstFailure?: string;
}

function applicable(s: Suite, p: Profile): boolean {
  return s.deviceTypes.includes(p.deviceType) && !(s.needs ?? []).some((b) => !hasFeature(p.offeredFeatures, b));
}

async function measureSuite(device: string, suite: Suite, factory: TargetFactory, profile: Profile, opts: { samples: number; minSeconds: number; warmupScenarios: number }): Promise<SuiteMeasurement> {
  const g0 = performance.now();
  const scenarios: Step[][] = fc.sample(suite.scenario(profile), { seed: 1, numRuns: opts.samples });
  const generationMs = performance.now() - g0;
  const counters: Counters = { requests: 0, kicks: 0 };
  const counted = countingFactory(factory, counters);
  // Warm-up (JIT) on the first few scenarios, not counted.
  for (const s of scenarios.slice(0, opts.warmupScenarios)) await runSteps(factory, profile, s, failsRun);
  let steps = 0;
  let runs = 0;
  let failures = 0;
  let firstFailure: string | undefined;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const minMs = opts.minSeconds * 1000;
  for (let i = 0; ; i = (i + 1) % scenarios.length) {
    const scenario = scenarios[i];
    const out = await runSteps(counted, profile, scenario, failsRun);
    runs++;
    if (out.failure) {
      failures++;
      firstFailure ??= `${out.failure.observation.requirement}: ${out.failure.observation.detail}`;
      steps += out.failure.stepIndex + 1;
    } else steps += scenario.length;
    if (performance.now() - t0 >= minMs) break;
  }
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return {
    device, suite: suite.name, scenariosSampled: scenarios.length, generationMs, scenariosRun: runs, steps,
    deviceRequests: counters.requests + counters.kicks, controlRequests: counters.requests, kicks: counters.kicks,
    wallMs, cpuMs: (cpu.user + cpu.system) / 1000, stepsPerSecond: steps / (wallMs / 1000), failures,
    ...(firstFailure !== undefined && { firstFailure }),
  };
}

/** Mean cost of one fresh session (factory.open + close), which runSteps pays once per scenario. */
export async function measureOpenClose(device: 'blk' | 'net', iterations = 2000): Promise<number> {
  const factory = targetFactory(parseTargetSpec(device === 'blk' ? 'simulated' : 'simulated:device=net'));
  try {
    for (let i = 0; i < 200; i++) await (await factory.open()).close();
    const t0 = performance.now();
    for (let i = 0; i < iterations; i++) await (await factory.open()).close();
    return (performance.now() - t0) / iterations;
  } finally {
    await factory.dispose();
  }
}

export async function measureModelSteps(device: 'blk' | 'net', opts: { samples: number; minSeconds: number; warmupScenarios: number; log: (s: string) => void }): Promise<SuiteMeasurement[]> {
  const spec = device === 'blk' ? 'simulated' : 'simulated:device=net';
  const factory = targetFactory(parseTargetSpec(spec));
  try {
    const { profile } = await probeTarget(factory);
    const out: SuiteMeasurement[] = [];
    for (const suite of SUITES) {
      if (!applicable(suite, profile)) continue;
      const m = await measureSuite(spec, suite, factory, profile, opts);
      opts.log(`  ${spec.padEnd(20)} ${suite.name.padEnd(20)} ${Math.round(m.stepsPerSecond).toLocaleString('en-US').padStart(9)} steps/s`);
      out.push(m);
    }
    return out;
  } finally {
    await factory.dispose();
  }
}

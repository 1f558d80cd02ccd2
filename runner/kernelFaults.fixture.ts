// What runner/guestFaults.test.ts and runner/hostFaults.test.ts share: a
// kernel suite whose steps break the machine on purpose, and the run that
// checks how the engine charges, saves and replays the break. Each test adds
// the fault only its machine has (a guest panic, an agent's death).
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { body, Op } from '../implementations/guest/protocol.ts';
import { pass } from '../properties/oracles/observation.ts';
import type { KernelContext, KernelFamily, KernelObservation, KernelStep, KernelSuite } from '../properties/kernel/types.ts';
import { stepsFromJson } from '../properties/steps.ts';
import { executeRunOn, runSteps } from './engine.ts';
import type { KernelAccess } from './kernelFactory.ts';
import type { TargetFactory } from './targets.ts';

/** Charged to every step of the fixture suite: any catalogue id serves, the point is where the verdict lands. */
export const CHARGED = 'vhost-vdpa.device-id';

export const faultStep = (op: string): KernelStep => ({ t: 'kernel', op });

/** The steps every machine has: an answer, and a syscall that never returns (the agent reads an unsignalled eventfd for ten minutes; the host gives up after 1.5 s). */
async function commonFault(ctx: KernelContext, step: KernelStep): Promise<readonly KernelObservation[]> {
  const { agent } = ctx.machine;
  switch (step.op) {
    case 'answer': {
      const r = await agent.request(Op.hello, Buffer.alloc(0));
      if (r.kind !== 'ok') throw new Error(`agent: ${r.kind}`);
      return [pass(CHARGED, 'the agent answered')];
    }
    case 'hang': {
      const e = await agent.eventfd(0, 0);
      if (e.kind !== 'ok') throw new Error(`agent: ${e.kind}`);
      await agent.request(Op.read, body.read(e.result, 8, 600_000), 1_500);
      throw new Error('a ten-minute read of an unsignalled eventfd returned');
    }
  }
  throw new Error(`unknown op ${step.op}`);
}

/** A suite running `steps`; `own` handles the ops only this machine has, and leaves the rest (undefined) to the common ones. */
export function faultSuite(name: string, family: KernelFamily, steps: KernelStep[], own: (ctx: KernelContext, step: KernelStep) => Promise<never> | undefined): KernelSuite {
  return {
    name,
    description: 'fixture: breaks the machine on purpose',
    requirements: [CHARGED],
    families: [family],
    deviceTypes: ['net'],
    maxSteps: steps.length,
    scenario: () => fc.constant(steps),
    open: async (ctx) => ({ exec: (s) => own(ctx, s) ?? commonFault(ctx, s), finish: async () => [], close: async () => {} }),
    requirementOf: () => CHARGED,
    formatStep: (s) => s.op,
  };
}

/**
 * Runs [answer, fault, answer] on `factory`: the fault must be `verdict` at CHARGED with the two steps that
 * led to it, its saved case must break a fresh machine the same way, and the machine must have been started again.
 */
export async function expectFaultCharged(opts: {
  readonly factory: TargetFactory & { readonly kernel: KernelAccess };
  readonly targetSpec: string;
  readonly suite: KernelSuite;
  readonly fault: string;
  readonly verdict: 'CRASH' | 'TIMEOUT';
  readonly regressionDir: string;
  readonly said?: RegExp;
}): Promise<void> {
  const { factory, suite, fault, verdict } = opts;
  const run = await executeRunOn({ targetSpec: opts.targetSpec, selectors: [CHARGED], seed: 1, runs: 1, strict: false, regressionDir: opts.regressionDir, kernelSuites: [suite] }, factory);
  const r = run.results.find((x) => x.id === CHARGED)!;
  expect(r.verdict).toBe(verdict);
  if (opts.said) expect(r.failure?.actual).toMatch(opts.said);
  expect(r.failure?.steps).toEqual(['1. answer()', `2. ${fault}()`]);
  const saved = JSON.parse(readFileSync(r.failure!.regressionFile!, 'utf8')) as { suite: string; steps: unknown };
  expect(saved.suite).toBe(suite.name);
  // The saved steps break a fresh machine the same way.
  const again = await runSteps(factory, undefined, stepsFromJson(saved.steps), (o) => o.verdict !== 'PASS', saved.suite, [suite]);
  expect(again.failure?.observation.verdict).toBe(verdict);
  expect(again.failure?.observation.requirement).toBe(CHARGED);
  expect(factory.kernel.boots).toBeGreaterThanOrEqual(2);
}

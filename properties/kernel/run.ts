// Runs one kernel case: opens the suite's session, executes the steps, and
// stops at the first observation the caller rejects. A guest that panics or
// stops answering mid-step is a CRASH or TIMEOUT charged to the requirement
// the step exercises (KernelSuite.requirementOf), never a hung suite.
import { CheckFailure } from '../harness.ts';
import type { KernelCase, KernelContext, KernelObservation, KernelStep, KernelSuite } from './types.ts';

export interface KernelStepsOutcome {
  readonly observations: readonly KernelObservation[];
  readonly failure?: CheckFailure;
}

/** What the guest's state says about a step that threw: a crash or hang with the console's words, else null. */
function guestFault(ctx: KernelContext, step: KernelStep, suite: KernelSuite, e: unknown): KernelObservation | null {
  const crash = ctx.machine.agent.crash ?? ctx.machine.agent.host.crash;
  const requirement = suite.requirementOf(step);
  if (crash) return { requirement, verdict: 'CRASH', detail: `crashed during ${suite.formatStep(step)}: ${crash.summary}`, trigger: `kernel:${step.op}/crash` };
  if (ctx.machine.agent.stuck) return { requirement, verdict: 'TIMEOUT', detail: `the agent stopped answering during ${suite.formatStep(step)}: ${String((e as Error)?.message ?? e)}`, trigger: `kernel:${step.op}/timeout` };
  return null;
}

export async function runKernelSteps(
  suite: KernelSuite,
  ctx: KernelContext,
  steps: readonly KernelStep[],
  failsRun: (o: KernelObservation) => boolean,
): Promise<KernelStepsOutcome> {
  const observations: KernelObservation[] = [];
  const judge = (os: readonly KernelObservation[], index: number): CheckFailure | undefined => {
    for (const o of os) {
      observations.push(o);
      if (failsRun(o)) return new CheckFailure(o, o.expected ?? ['PASS'], o.detail, index);
    }
    return undefined;
  };
  // One step (or the end-of-case checks): its observations judged, or the guest's crash or hang charged to `step`,
  // which ends the case (`ended`) whether or not the caller rejects it.
  const attempt = async (step: KernelStep | undefined, index: number, work: () => Promise<readonly KernelObservation[]>): Promise<{ failure?: CheckFailure; ended: boolean }> => {
    try {
      const failure = judge(await work(), index);
      return { ...(failure && { failure }), ended: failure !== undefined };
    } catch (e) {
      const fault = step ? guestFault(ctx, step, suite, e) : null;
      if (!fault) throw e;
      const failure = judge([fault], index);
      return { ...(failure && { failure }), ended: true };
    }
  };
  let kcase: KernelCase | undefined;
  try {
    const open = (kcase = await suite.open(ctx));
    for (const [i, step] of steps.entries()) {
      const r = await attempt(step, i, () => open.exec(step));
      if (r.ended) return { observations, ...(r.failure && { failure: r.failure }) };
    }
    const last = Math.max(0, steps.length - 1);
    const r = await attempt(steps[last], last, () => open.finish());
    return { observations, ...(r.failure && { failure: r.failure }) };
  } finally {
    if (kcase && !ctx.machine.agent.crash && !ctx.machine.agent.stuck) await kcase.close();
  }
}

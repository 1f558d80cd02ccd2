// One property run against vhost-vdpa: each step goes to the device (through
// a VdpaSession) and to the model, and the device's answer is judged against
// what the model allows. The observation carries the model's allowed answers
// as `expected`, for the report.
import { initialVdpaState, judgeVdpa, learnStatus, stepVdpa, type VdpaAnswer, type VdpaDevice, type VdpaRequest, type VdpaState } from '../../../model/kernel/vdpa.ts';
import type { KernelCase, KernelContext, KernelObservation, KernelStep } from '../types.ts';
import { requestOf } from './steps.ts';
import { vdpaDeviceOf } from './probe.ts';
import { VdpaSession } from './session.ts';

/** Where a case's answers come from: the real session, or (in tests) one wrapped to lie. */
export interface VdpaRunner {
  run(r: VdpaRequest): Promise<VdpaAnswer>;
  close(): Promise<void>;
}

function outcomeName(a: VdpaAnswer): string {
  return a.ok ? 'ok' : a.errno;
}

/** Judges each answer of `runner` against the model, from a freshly opened device. */
export function judgedCase(dev: VdpaDevice, runner: VdpaRunner): KernelCase {
  let state: VdpaState = initialVdpaState(dev);
  const judgeOne = async (r: VdpaRequest): Promise<KernelObservation> => {
    const e = stepVdpa(dev, state, r);
    const answer = await runner.run(r);
    const j = judgeVdpa(e, answer, state);
    state = j.verdict === 'PASS' ? learnStatus(j.next, r, answer) : j.next;
    return { requirement: j.requirement, verdict: j.verdict, detail: j.detail, trigger: `kernel:${r.op}/${outcomeName(answer)}`, expected: j.expected };
  };
  return {
    async exec(step: KernelStep) {
      return [await judgeOne(requestOf(step))];
    },
    // After the steps the device must still answer, with the status the model expects.
    async finish() {
      return [await judgeOne({ op: 'getStatus' })];
    },
    close: () => runner.close(),
  };
}

export async function openVdpaCase(ctx: KernelContext, dev: VdpaDevice): Promise<KernelCase> {
  return judgedCase(dev, await VdpaSession.open(ctx.machine, vdpaDeviceOf(ctx.target)));
}

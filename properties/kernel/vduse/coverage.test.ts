// Every requirement a VDUSE suite lists is exercised at the CLI defaults
// (seed 1, 20 cases per suite) on the real kernel in the QEMU guest: what the
// engine would report as "ran to the end, but no step exercised this
// requirement" must not happen, or a green gate would hide an unjudged rule.
// Reaching a rule needs the kernel's answers (which steps run depends on
// them), so this runs the suites themselves; skipped when the guest is not built.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { builtGuest, sharedGuest } from '../../../implementations/guest/testGuest.ts';
import { runKernelSteps } from '../run.ts';
import type { KernelContext } from '../types.ts';
import { probeVduse } from './probe.ts';
import { VDUSE_SUITES } from './suites.ts';

const image = await builtGuest('VDUSE coverage');
/** The CLI defaults (runner/cli.ts): seed 1, 20 cases per property on a guest target. */
const SEED = 1;
const RUNS = 20;

describe.skipIf(!image)('VDUSE suites exercise every listed requirement at the CLI defaults', () => {
  const guest = sharedGuest(image);

  for (const target of ['vduse-blk', 'vduse-net'] as const) {
    it(`guest:${target}: seed ${SEED}, ${RUNS} cases per suite, no listed requirement left unexercised`, async () => {
      const profile = await probeVduse(guest(), { target });
      const ctx: KernelContext = { machine: guest(), target: { target }, profile };
      const suites = VDUSE_SUITES.filter((s) => s.deviceTypes.includes(profile.deviceType) && !s.unsupported?.(profile));
      const exercised = new Set<string>();
      for (const suite of suites) {
        for (const steps of fc.sample(suite.scenario(profile), { seed: SEED, numRuns: RUNS })) {
          // Every observation counts, a failing one too (the known kernel findings): the question here is reach, not verdict.
          const out = await runKernelSteps(suite, ctx, steps, () => false);
          for (const o of out.observations) exercised.add(o.requirement);
        }
      }
      const listed = [...new Set(suites.flatMap((s) => s.requirements))];
      expect(listed.filter((id) => !exercised.has(id))).toEqual([]);
    }, 120_000);
  }
});

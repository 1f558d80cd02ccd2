// The vdpa suites without a guest: every id they may record is in the
// catalogue and in the suite's list, every vhost-vdpa id is judged or has a
// reason in unjudgeable.ts, and generated scenarios only name requirements
// their suite lists.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { initialVdpaState, stepVdpa } from '../../../model/kernel/vdpa.ts';
import { requirementById } from '../../../spec/requirements/index.ts';
import { VHOST_VDPA_REQUIREMENTS } from '../../../spec/requirements/vhostVdpa.ts';
import type { KernelProfile } from '../types.ts';
import { vdpaDevice } from './probe.ts';
import { judgedCase } from './case.ts';
import { requestOf, vdpaStep } from './steps.ts';
import { VDPA_SUITES } from './suites.ts';
import { UNJUDGEABLE } from './unjudgeable.ts';

/** What a net and a blk parent answered when probed (the shape probeVdpa returns). */
const PROFILES: readonly KernelProfile[] = [
  {
    family: 'vhost-vdpa',
    deviceType: 'net',
    kernelRelease: 'test',
    facts: { deviceId: 1, features: 0x3_0883_0028n, backendFeatures: 0x17en, vqsCount: 3, vringNum: 256, configSize: 24, iovaFirst: 0n, iovaLast: (1n << 64n) - 1n, asNum: 2, groupNum: 2, vqGroups: '0,0,1' },
  },
  {
    family: 'vhost-vdpa',
    deviceType: 'blk',
    kernelRelease: 'test',
    facts: { deviceId: 2, features: 0x3_0800_7646n, backendFeatures: 0xen, vqsCount: 1, vringNum: 128, configSize: 60, iovaFirst: 0x1000n, iovaLast: 0xffff_ffffn, asNum: 1, groupNum: 1, vqGroups: 'EOPNOTSUPP' },
  },
];

describe('vdpa suites', () => {
  it('list only catalogue ids, and every vhost-vdpa id is judged or explained', () => {
    const judged = new Set(VDPA_SUITES.flatMap((s) => s.requirements));
    for (const id of judged) expect(requirementById(id), id).toBeDefined();
    for (const id of Object.keys(UNJUDGEABLE)) {
      expect(requirementById(id), id).toBeDefined();
      expect(judged.has(id), `${id} is both judged and unjudgeable`).toBe(false);
    }
    for (const { id } of VHOST_VDPA_REQUIREMENTS) expect(judged.has(id) || id in UNJUDGEABLE, id).toBe(true);
  });

  it('generate steps whose every requirement the suite lists, from any allowed path through the model (fixed seeds)', () => {
    for (const profile of PROFILES) {
      const dev = vdpaDevice(profile);
      for (const suite of VDPA_SUITES) {
        if (suite.unsupported?.(profile)) continue;
        const listed = new Set(suite.requirements);
        fc.assert(
          fc.property(suite.scenario(profile), fc.nat(), (steps, choice) => {
            let s = initialVdpaState(dev);
            for (const [i, step] of steps.entries()) {
              expect(suite.formatStep(step)).not.toBe('');
              expect(listed.has(suite.requirementOf(step)), suite.requirementOf(step)).toBe(true);
              const e = stepVdpa(dev, s, requestOf(step));
              expect(listed.has(e.requirement), `${suite.name}: ${e.requirement}`).toBe(true);
              expect(e.accept.length).toBeGreaterThan(0);
              s = e.accept[(choice + i) % e.accept.length]!.next;
            }
          }),
          { seed: 12, numRuns: 150 },
        );
      }
    }
  });

  it('vdpa-control resizes a certainly running ring in most cases at the CLI defaults (20 cases, seed 1)', () => {
    const control = VDPA_SUITES.find((s) => s.name === 'vdpa-control')!;
    for (const profile of PROFILES) {
      const dev = vdpaDevice(profile);
      const cases = fc.sample(control.scenario(profile), { seed: 1, numRuns: 20 });
      // Each case answered as a device that takes whatever the model allows it to take (its first answer).
      const reaching = cases.filter((steps) => {
        let s = initialVdpaState(dev);
        let reached = false;
        for (const step of steps) {
          const e = stepVdpa(dev, s, requestOf(step));
          reached ||= e.requirement === 'vhost.vring.num-immutable';
          s = e.accept[0]!.next;
        }
        return reached;
      });
      expect(reaching.length, profile.deviceType).toBeGreaterThanOrEqual(15);
    }
  });

  it('vdpa-suspend is UNSUPPORTED, naming the backend feature, on a parent without suspend', () => {
    const suspend = VDPA_SUITES.find((s) => s.name === 'vdpa-suspend')!;
    expect(suspend.unsupported!(PROFILES[1]!)).toMatch(/VHOST_BACKEND_F_SUSPEND/);
    expect(suspend.unsupported!(PROFILES[0]!)).toBeNull();
  });

  it('the batch ASID rule cannot apply to a device with one address space, and says why', () => {
    const control = VDPA_SUITES.find((s) => s.name === 'vdpa-iotlb')!;
    expect(control.notApplicable!(PROFILES[1]!)['vhost-vdpa.iotlb.batch-asid-mismatch']).toMatch(/1 address space \(VHOST_VDPA_GET_AS_NUM\)/);
    expect(control.notApplicable!(PROFILES[0]!)['vhost-vdpa.iotlb.batch-asid-mismatch']).toBeUndefined();
  });

  it('a guest that crashed or stopped answering is thrown to the runner (run.ts charges it), never judged as an answer', async () => {
    const dev = vdpaDevice(PROFILES[0]!);
    const kcase = judgedCase(dev, {
      run: () => Promise.reject(new Error('VHOST_SET_OWNER: the guest agent did not answer in time')),
      close: () => Promise.resolve(),
    });
    await expect(kcase.exec(vdpaStep({ op: 'setOwner' }))).rejects.toThrow(/did not answer/);
  });

  it('a step of another family is a one-line error', () => {
    expect(() => requestOf({ t: 'kernel', op: 'vduseCreate' })).toThrow(/not a vhost-vdpa step/);
  });
});

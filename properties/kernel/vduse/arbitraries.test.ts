// The VDUSE scenarios without a guest: at the CLI defaults (20 cases) of
// seeds 1-3, every case fits the suite's maxSteps, and each seed draws the
// step that exercises every requirement the free mix rarely lines up (which
// the guest test coverage.test.ts then confirms against the real kernel).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bit, VIRTIO_F_ACCESS_PLATFORM } from '../../../spec/virtio/features.ts';
import type { KernelProfile, KernelStep } from '../types.ts';
import { VDUSE_SUITES } from './suites.ts';

const profile = (deviceType: 'blk' | 'net'): KernelProfile => ({
  family: 'vduse',
  deviceType,
  kernelRelease: 'any',
  facts: { apiVersion: 0n, pageSize: 4096, deviceAllowed: true, netAllowed: true, msgTimeoutWritable: true },
});

/** The step that exercises each requirement, by suite (a healthy kernel then records an observation for it). */
const EXERCISED_BY: Readonly<Record<string, Readonly<Record<string, (s: KernelStep) => boolean>>>> = {
  'vduse-create': {
    'vduse.create.ngroups': (s) => s.op === 'create' && s.reservedWord === 0,
    'vduse.create.reserved-zero': (s) => s.op === 'create' && Number(s.reservedWord) >= 1,
    'vduse.create.vq-num-limit': (s) => s.op === 'create' && Number(s.vqNum) > 0xffff,
    'vduse.create.name': (s) => s.op === 'create' && s.emptyName === true,
    'vduse.create.features-access-platform': (s) => s.op === 'create' && !((s.features as bigint) & bit(VIRTIO_F_ACCESS_PLATFORM)),
    'vduse.api.set-version-range': (s) => s.op === 'setApiVersion',
    'vduse.destroy.busy': (s) => s.op === 'destroy' && s.known === false,
    'vduse.destroy.sequence': (s) => s.op === 'destroy' && s.known === true,
    'vduse.create.attach-needs-vq-setup': (s) => s.op === 'attach',
  },
  'vduse-messages': {
    'vduse.msg.get-vq-state': (s) => s.op === 'getVringBase' && s.result === 'ok',
    'vduse.msg.result': (s) => s.op === 'getVringBase' && s.result === 'failed',
    'vduse.msg.get-vq-state-masked': (s) => s.op === 'getVringBasePacked',
    'vduse.msg.set-status-failed': (s) => s.op === 'setStatus' && s.answer === 'failed' && s.status !== 0,
    'vduse.msg.timeout-broken': (s) => s.op === 'setStatus' && s.answer === 'none',
    'vduse.dev.reconnect-replays': (s) => s.op === 'reconnect',
    'vduse.vq.kick-pending': (s) => s.op === 'kick',
    'vduse.config.read-only': (s) => s.op === 'driverConfigWrite',
    'vduse.features.get': (s) => s.op === 'getFeatures',
    'vduse.iotlb.get-fd-perm': (s) => s.op === 'mapIotlb' && s.perm === 1,
  },
  'vduse-datapath': {
    'vduse.msg.get-vq-state': (s) => s.op === 'getVringBase' && s.result === 'ok',
    'vduse.features.get': (s) => s.op === 'getFeatures',
    'vduse.vq.get-info': (s) => s.op === 'vqGetInfo',
    'vduse.config.inject-irq': (s) => s.op === 'injectConfigIrq',
    'vduse.vq.kick-pending': (s) => s.op === 'setupKickfd' && s.arg === 'deassign',
  },
};

describe('VDUSE scenarios at the CLI defaults (seeds 1-3, 20 cases)', () => {
  for (const suite of VDUSE_SUITES) {
    for (const deviceType of suite.deviceTypes) {
      it(`${suite.name} on ${deviceType}: cases fit maxSteps, and each seed draws what exercises the rare requirements`, () => {
        const wanted = EXERCISED_BY[suite.name]!;
        for (const id of Object.keys(wanted)) expect(suite.requirements, id).toContain(id);
        for (const seed of [1, 2, 3]) {
          const cases = fc.sample(suite.scenario(profile(deviceType)), { seed, numRuns: 20 });
          for (const steps of cases) expect(steps.length).toBeLessThanOrEqual(suite.maxSteps);
          const missing = Object.entries(wanted).filter(([, hit]) => !cases.some((steps) => steps.some(hit))).map(([id]) => id);
          expect(missing, `seed ${seed}`).toEqual([]);
        }
      });
    }
  }
});

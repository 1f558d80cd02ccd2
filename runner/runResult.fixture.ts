// A hand-built RunResult for the runner's tests: one result of every verdict,
// and a failure whose text holds every character the reporters must escape.
import { summarize } from './expectations.ts';
import type { RequirementLookup } from './console.ts';
import type { RequirementResult, RunResult } from './results.ts';
import type { Requirement } from '../spec/requirements/types.ts';

export const NASTY = `<tag a="1" b='2'> & \x01\x1b end`;
export const REPLAY = 'vhostcheck replay vhostcheck-report/regressions/virtio.split.used.len-before-idx-1.json';

export const REQUIREMENTS: readonly Requirement[] = [
  req('virtio.split.used.len-before-idx', 'MUST', 'The device writes used len before it publishes used idx.'),
  req('virtio.split.used.id-was-available', 'MUST', 'The used id is a head the driver made available.'),
  req('virtio.packed.wrap-counter', 'MUST', 'The device flips its wrap counter when it wraps.'),
  req('vhost-user.ring.get-vring-base-stops', 'MUST', 'GET_VRING_BASE stops the ring.'),
  req('vhost-user.robust.survives', 'DE_FACTO', 'The back-end survives any message.'),
  req('vhost-vdpa.enable-after-driver-ok', 'SHOULD', 'Rings may be enabled after DRIVER_OK.'),
  req('vduse.create.vq-num-limit', 'MUST', 'VDUSE_CREATE_DEV bounds vq_num.'),
  req('virtio.status.needs-reset-set', 'SHOULD', 'A broken device sets DEVICE_NEEDS_RESET.'),
  req('virtio.features.informational', 'MAY', 'Behaviour the spec leaves open.'),
];

function req(id: string, level: Requirement['level'], summary: string): Requirement {
  return { id, level, role: 'device', summary, source: { doc: 'virtio-1.2', section: '2.7.8 The Virtqueue Used Ring', label: 'devicenormative:used' } };
}

export const lookup: RequirementLookup = (id) => REQUIREMENTS.find((r) => r.id === id);

const RESULTS: readonly RequirementResult[] = [
  {
    id: 'virtio.split.used.len-before-idx',
    verdict: 'FAIL',
    suites: ['split-ring'],
    unexpected: true,
    failure: {
      requirementId: 'virtio.split.used.len-before-idx',
      expected: ['used.len written before used.idx → PASS'],
      actual: `used.idx published first ${NASTY}`,
      steps: ['1. SET_FEATURES 0x100000000', '2. ADD_BUF vq=0 [r:16]', `3. KICK vq=0 ${NASTY}`],
      frames: ['01 00 00 00 01 00 00 00 08 00 00 00', '00 00 00 00 01 00 00 00'],
      replayCommand: REPLAY,
      seed: 1,
      path: '3:1:0',
    },
  },
  { id: 'virtio.split.used.id-was-available', verdict: 'PASS', suites: ['split-ring'], unexpected: false },
  { id: 'virtio.packed.wrap-counter', verdict: 'UNSUPPORTED', suites: ['packed-ring'], detail: 'VIRTIO_F_RING_PACKED not offered', unexpected: false },
  { id: 'vhost-user.ring.get-vring-base-stops', verdict: 'CRASH', suites: ['vhost-user-ring'], detail: 'exited with signal SIGSEGV', unexpected: true },
  { id: 'vhost-user.robust.survives', verdict: 'TIMEOUT', suites: ['robust'], detail: 'no reply within 2000 ms', unexpected: true },
  { id: 'vhost-vdpa.enable-after-driver-ok', verdict: 'SKIP', suites: [], detail: 'no /dev/vhost-vdpa-0', unexpected: false },
  { id: 'vduse.create.vq-num-limit', verdict: 'ERROR', suites: ['vduse'], detail: `suite bug ${NASTY}`, unexpected: true },
  { id: 'virtio.status.needs-reset-set', verdict: 'NON_STRICT', suites: ['status'], unexpected: true },
  { id: 'virtio.features.informational', verdict: 'INFORMATIONAL', suites: ['features'], unexpected: true },
];

export const RUN: RunResult = {
  schemaVersion: 1,
  tool: { name: 'vhostcheck', version: '0.1.0' },
  target: { spec: 'simulated', name: 'simulated', kind: 'simulated', version: '0.1.0', deviceType: 'net' },
  profile: { features: '0x130000000', eventIdx: true, queues: 2 },
  seed: 1,
  runs: 100,
  strict: false,
  startedAt: '2025-01-01T00:00:00.000Z',
  durationMs: 1234,
  interrupted: false,
  suites: [{ name: 'split-ring', runs: 100, steps: 4000, durationMs: 800 }],
  results: RESULTS,
  summary: summarize(RESULTS),
};

// The vhost-vdpa suites (family 'vhost-vdpa'): control plane, IOTLB, and
// suspend/resume where the parent offers it. Each opens its own vdpa device
// per case and judges every answer with model/kernel/vdpa.ts.
import { VHOST_BACKEND_F_SUSPEND } from '../../../spec/vhost/types.ts';
import { VHOST_BACKEND_F_RESUME } from '../../../spec/vhost/newerUapi.ts';
import type { KernelProfile, KernelSuite } from '../types.ts';
import { controlScenario, iotlbScenario, suspendScenario } from './arbitraries.ts';
import { openVdpaCase } from './case.ts';
import { vdpaDevice } from './probe.ts';
import { formatVdpaStep, vdpaRequirementOf } from './steps.ts';

// Steps per case. A case adds and deletes its vdpa device (about 75 ms under TCG) while a step is one
// agent round trip (about 0.3 ms): long cases keep the device busy rather than the vdpa tool.
const CONTROL_STEPS = 160;
const IOTLB_STEPS = 200;
const SUSPEND_STEPS = 120;

function offeredFeatures(p: KernelProfile): bigint {
  const f = p.facts.features;
  if (typeof f !== 'bigint') throw new Error('the vhost-vdpa profile lacks features (probe the device with probeVdpa first)');
  return f;
}

/** Rules every suite may record: opening and reopening, ownership, status read-back, backend features. */
const SESSION = [
  'vhost-vdpa.open-release-reset',
  'vhost-vdpa.open-exclusive',
  'vhost.owner.exclusive',
  'vhost.owner.required',
  'vhost-vdpa.status.virtio-bits',
  'vhost-vdpa.status.no-bit-removal',
  'vhost-vdpa.status.reset',
  'vhost-vdpa.backend-features.offered',
  'vhost-vdpa.backend-features.unsupported-rejected',
  'vhost.backend-features.get',
  'vhost-vdpa.iova-range.get',
] as const;

const SUSPEND = ['vhost-vdpa.suspend', 'vhost-vdpa.suspend.unsupported', 'vhost-vdpa.suspend.base-readable', 'vhost-vdpa.resume', 'vhost-vdpa.resume.unsupported'] as const;

const VRING = [
  'vhost-vdpa.vring.index-range',
  'vhost-vdpa.vring.num-max',
  'vhost.vring.num-valid',
  'vhost.vring.base-busy',
  'vhost.vring.get-base',
  'vhost-vdpa.enable-after-driver-ok',
  'vhost-vdpa.features.locked-after-features-ok',
  'vhost-vdpa.config.bounds',
  'vhost-vdpa.config.zero-init',
] as const;

const offers = (p: KernelProfile, bit: number) => ((vdpaDevice(p).backendFeatures >> BigInt(bit)) & 1n) === 1n;

const common = {
  families: ['vhost-vdpa'],
  // The ".unsupported" rules are about parents without SUSPEND / RESUME (vhost_vdpa_suspend(), vhost_vdpa_resume()).
  notApplicable: (p: KernelProfile) => {
    const { asNum } = vdpaDevice(p);
    return {
      ...(offers(p, VHOST_BACKEND_F_SUSPEND) && { 'vhost-vdpa.suspend.unsupported': 'the parent offers VHOST_BACKEND_F_SUSPEND: the rule is about parents without it' }),
      ...(offers(p, VHOST_BACKEND_F_RESUME) && { 'vhost-vdpa.resume.unsupported': 'the parent offers VHOST_BACKEND_F_RESUME: the rule is about parents without it' }),
      // vhost_vdpa_process_iotlb_msg() looks the ASID up (vhost_vdpa_find_alloc_as(), asid_to_iotlb()) before the batch check.
      ...(asNum < 2 && {
        'vhost-vdpa.iotlb.batch-asid-mismatch': `the device has ${asNum} address space (VHOST_VDPA_GET_AS_NUM): a message for another ASID is refused as out of range (vhost-vdpa.asid.alloc-limit) before a batch's ASID is compared`,
      }),
    };
  },
  deviceTypes: ['net', 'blk'],
  open: (ctx: Parameters<KernelSuite['open']>[0]) => openVdpaCase(ctx, vdpaDevice(ctx.profile)),
  requirementOf: vdpaRequirementOf,
  formatStep: formatVdpaStep,
} as const;

export const VDPA_SUITES: readonly KernelSuite[] = [
  {
    ...common,
    name: 'vdpa-control',
    description: 'vhost-vdpa ioctls: identity, ownership (also against a second process), status, features, config space, vring setup (and resizing a running ring), ASID groups, log and suspend refusals, exclusive open and reopen',
    requirements: [
      ...SESSION,
      ...VRING,
      ...SUSPEND,
      'vhost-vdpa.device-id',
      'vhost-vdpa.vqs-count',
      'vhost-vdpa.config-size',
      'vhost-vdpa.config-call',
      'vhost-vdpa.log-unsupported',
      'vhost-vdpa.asid.get-as-num',
      'vhost-vdpa.asid.get-group-num',
      'vhost-vdpa.asid.get-vring-group',
      'vhost-vdpa.asid.set-group-asid',
      'vhost.vring.addr-checked',
      'vhost.vring.file-unbind',
      'vhost.vring.num-immutable',
      'vhost-vdpa.iotlb.owner-required',
    ],
    maxSteps: CONTROL_STEPS,
    scenario: (p) => controlScenario(vdpaDevice(p), offeredFeatures(p), CONTROL_STEPS),
  },
  {
    ...common,
    name: 'vdpa-iotlb',
    description: 'vhost-vdpa device IOTLB writes: v1/v2 framing, updates at the 64-bit and IOVA-range edges, overlaps, invalidation, batches, ASIDs',
    requirements: [
      ...SESSION,
      'vhost-vdpa.iotlb.v2',
      'vhost-vdpa.iotlb.owner-required',
      'vhost-vdpa.iotlb.update-range',
      'vhost-vdpa.iotlb.overlap-rejected',
      'vhost-vdpa.iotlb.invalidate',
      'vhost-vdpa.iotlb.batch',
      'vhost-vdpa.iotlb.batch-asid-mismatch',
      'vhost-vdpa.asid.alloc-limit',
      'vhost-vdpa.asid.needs-feature',
      'vhost.iotlb.update-zero-size-rejected',
      'vhost.iotlb.invalidate-zero-size',
      'vhost.iotlb.msg-size-mismatch',
      'vhost.iotlb.msg-type',
    ],
    maxSteps: IOTLB_STEPS,
    scenario: (p) => iotlbScenario(vdpaDevice(p), IOTLB_STEPS),
  },
  {
    ...common,
    name: 'vdpa-suspend',
    description: 'VHOST_VDPA_SUSPEND and RESUME on a device at DRIVER_OK: vring bases kept and readable, status unchanged, vring setup allowed only while suspended',
    requirements: [...SESSION, ...VRING, ...SUSPEND],
    maxSteps: SUSPEND_STEPS,
    unsupported: (p) => (offers(p, VHOST_BACKEND_F_SUSPEND) ? null : 'VHOST_BACKEND_F_SUSPEND'),
    scenario: (p) => suspendScenario(vdpaDevice(p), offeredFeatures(p), SUSPEND_STEPS),
  },
];

// The data path suites of guest:vhost-net: frames through the TX and RX rings
// over a tap, with valid and hostile descriptor chains, through a memory table
// with the dirty log on, or through the device IOTLB with pages remapped.
import { bit, VIRTIO_F_ACCESS_PLATFORM } from '../../../spec/virtio/features.ts';
import { VHOST_BACKEND_F_IOTLB_MSG_V2 } from '../../../spec/vhost/types.ts';
import type { KernelProfile, KernelSuite } from '../types.ts';
import { DatapathCase } from './datapathCase.ts';
import { datapathRequirementOf, datapathScenario, formatDataStep } from './datapathSteps.ts';

const MAX_STEPS = 24;

const CHAIN_REQUIREMENTS = ['vhost.desc.avail-runaway', 'vhost.desc.head-range', 'vhost.desc.indirect-checked', 'vhost.desc.out-after-in', 'vhost.iotlb.translate-whole-range'] as const;

export function datapathSuites(baseFeatures: (p: KernelProfile) => bigint): KernelSuite[] {
  const common = {
    families: ['vhost-net'] as const,
    deviceTypes: ['net'] as const,
    maxSteps: MAX_STEPS,
    requirementOf: datapathRequirementOf,
    formatStep: formatDataStep,
  };
  return [
    {
      ...common,
      name: 'vhost-datapath',
      description: 'frames through the TX and RX rings over a tap, guest memory in a 16-region table with the dirty log on: valid chains crossing regions, hostile chains',
      requirements: [...CHAIN_REQUIREMENTS, 'vhost.log.bound'],
      unsupported: (p) => (p.facts.features === undefined || !(BigInt(p.facts.features) & (1n << 26n)) ? 'VHOST_F_LOG_ALL not offered' : null),
      scenario: () => datapathScenario(false, MAX_STEPS),
      open: (ctx) => DatapathCase.open(ctx, { iotlb: false, features: baseFeatures(ctx.profile) }),
    },
    {
      ...common,
      name: 'vhost-datapath-iotlb',
      description: 'the same frames through the device IOTLB: pages invalidated, read-only or write-only under the buffers, misses answered while the ring waits',
      requirements: [...CHAIN_REQUIREMENTS, 'vhost.iotlb.perm-enforced', 'vhost.iotlb.miss-on-unmapped', 'vhost.iotlb.update-resumes', 'vhost.iotlb.invalidate-removes', 'vhost.iotlb.msg-v2'],
      unsupported: (p) =>
        !(BigInt(p.facts.features ?? 0) & bit(VIRTIO_F_ACCESS_PLATFORM)) ? 'VIRTIO_F_ACCESS_PLATFORM (no device IOTLB without it)' : !(BigInt(p.facts.backendFeatures ?? 0) & bit(VHOST_BACKEND_F_IOTLB_MSG_V2)) ? 'VHOST_BACKEND_F_IOTLB_MSG_V2' : null,
      scenario: () => datapathScenario(true, MAX_STEPS),
      open: (ctx) => DatapathCase.open(ctx, { iotlb: true, features: baseFeatures(ctx.profile) }),
    },
  ];
}

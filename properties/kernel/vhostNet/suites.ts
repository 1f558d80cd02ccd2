// The guest:vhost-net suites (issue 12): the kernel vhost core on
// /dev/vhost-net over a tap — control plane, device IOTLB, data path.
import { VHOST_BACKEND_F_IOTLB_ASID, VHOST_BACKEND_F_IOTLB_MSG_V2, VHOST_NET_F_VIRTIO_NET_HDR } from '../../../spec/vhost/types.ts';
import { bit, VIRTIO_F_ACCESS_PLATFORM, VIRTIO_F_VERSION_1 } from '../../../spec/virtio/features.ts';
import type { KernelProfile, KernelSuite } from '../types.ts';
import { controlScenario, iotlbScenario } from './arbitraries.ts';
import { ControlCase, type Negotiation } from './controlCase.ts';
import { datapathSuites } from './datapathSuite.ts';
import { controlRequirementOf, formatControlStep } from './steps.ts';

const offered = (p: KernelProfile): bigint => BigInt(p.facts.features ?? 0);
const offeredBackend = (p: KernelProfile): bigint => BigInt(p.facts.backendFeatures ?? 0);

/** VERSION_1, and the virtio-net header handled by vhost itself (VHOST_NET_F_VIRTIO_NET_HDR) when offered. */
export function baseFeatures(p: KernelProfile): bigint {
  return offered(p) & (bit(VIRTIO_F_VERSION_1) | (1n << BigInt(VHOST_NET_F_VIRTIO_NET_HDR)));
}

/** What the control suite negotiates after SET_OWNER: the base features, and v2 IOTLB messages when offered. */
export const controlNegotiation = (p: KernelProfile): Negotiation => ({ features: baseFeatures(p), backendFeatures: offeredBackend(p) & bit(VHOST_BACKEND_F_IOTLB_MSG_V2) });

/** The IOTLB suite's: ACCESS_PLATFORM on top (a device IOTLB), v2 messages, and ASIDs when offered. */
export const iotlbNegotiation = (p: KernelProfile): Negotiation => ({
  features: baseFeatures(p) | bit(VIRTIO_F_ACCESS_PLATFORM),
  backendFeatures: offeredBackend(p) & (bit(VHOST_BACKEND_F_IOTLB_MSG_V2) | bit(VHOST_BACKEND_F_IOTLB_ASID)),
});

const CONTROL_REQUIREMENTS = [
  'vhost.owner.required',
  'vhost.owner.exclusive',
  'vhost.owner.reset',
  'vhost.vring.index-range',
  'vhost.vring.num-immutable',
  'vhost.vring.num-valid',
  'vhost.vring.addr-checked',
  'vhost.vring.base-busy',
  'vhost.vring.get-base',
  'vhost.vring.endian',
  'vhost.vring.file-unbind',
  'vhost.mem.region-limit',
  'vhost.mem.overflow',
  'vhost.log.all-live',
  'vhost.log.base-checked',
  'vhost.backend-features.get',
] as const;

const IOTLB_REQUIREMENTS = [
  'vhost.owner.exclusive',
  'vhost.vring.num-valid',
  'vhost.vring.addr-checked',
  'vhost.vring.file-unbind',
  'vhost.mem.overflow',
  'vhost.log.all-live',
  'vhost.backend-features.get',
  'vhost.iotlb.update-zero-size-rejected',
  'vhost.iotlb.invalidate-zero-size',
  'vhost.iotlb.msg-size-mismatch',
  'vhost.iotlb.msg-type',
  'vhost.iotlb.update-uaddr-checked',
  'vhost.iotlb.invalidate-removes',
  'vhost.iotlb.miss-on-unmapped',
  'vhost.iotlb.perm-enforced',
  'vhost.iotlb.no-info-leak',
  'vhost.iotlb.read-short-buffer',
  'vhost.iotlb.msg-v2',
] as const;

const CONTROL_SUITE: KernelSuite = {
  name: 'vhost-control',
  description: 'ownership, vring ioctls, memory table and dirty-log base of /dev/vhost-net, with hostile indices, sizes, addresses and tables',
  requirements: CONTROL_REQUIREMENTS,
  families: ['vhost-net'],
  deviceTypes: ['net'],
  maxSteps: 40,
  scenario: (p) => controlScenario(offeredBackend(p), 40),
  open: (ctx) => ControlCase.open(ctx, controlNegotiation(ctx.profile)),
  requirementOf: controlRequirementOf,
  formatStep: formatControlStep,
};

const IOTLB_SUITE: KernelSuite = {
  name: 'vhost-iotlb',
  description: 'the device IOTLB of /dev/vhost-net: v2 UPDATE/INVALIDATE messages (short, malformed, wrapping, 64-bit edge), misses read back for rings in IOVA space',
  requirements: IOTLB_REQUIREMENTS,
  families: ['vhost-net'],
  deviceTypes: ['net'],
  maxSteps: 40,
  unsupported(p) {
    if (!(offered(p) & bit(VIRTIO_F_ACCESS_PLATFORM))) return 'VIRTIO_F_ACCESS_PLATFORM (no device IOTLB without it)';
    if (!(offeredBackend(p) & bit(VHOST_BACKEND_F_IOTLB_MSG_V2))) return 'VHOST_BACKEND_F_IOTLB_MSG_V2';
    return null;
  },
  scenario: () => iotlbScenario(40),
  open: (ctx) => ControlCase.open(ctx, iotlbNegotiation(ctx.profile)),
  requirementOf: controlRequirementOf,
  formatStep: formatControlStep,
};

export const VHOST_NET_SUITES: readonly KernelSuite[] = [CONTROL_SUITE, IOTLB_SUITE, ...datapathSuites(baseFeatures)];

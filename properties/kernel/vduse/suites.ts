// The VDUSE suites (issue 12, `guest:vduse-blk` / `guest:vduse-net`): the
// suite is the user-space device and, through vhost-vdpa, the driver of the
// same device, and the model judges the kernel in between.
import type { KernelProfile, KernelStep, KernelSuite } from '../types.ts';
import { createScenario, datapathScenario, messagesScenario } from './arbitraries.ts';
import { VduseCase } from './case.ts';
import { formatVduseStep, requirementOfVduseStep } from './steps.ts';

/** Why no VDUSE suite can run: the kernel refused to create the target's device type (probe fact). */
function refusedDevice(p: KernelProfile): string | null {
  if (p.facts.deviceAllowed === true) return null;
  return `${p.deviceType} devices (VDUSE_CREATE_DEV refused one: ${String(p.facts.deviceRefusal || 'error')})`;
}

function settings(p: KernelProfile, driverMemory: boolean) {
  return {
    deviceType: p.deviceType,
    model: { initialApiVersion: BigInt(p.facts.apiVersion ?? 0), pageSize: Number(p.facts.pageSize ?? 4096) },
    msgTimeoutWritable: p.facts.msgTimeoutWritable === true,
    netAllowed: p.facts.netAllowed === true,
    driverMemory,
  };
}

const common = {
  families: ['vduse'] as const,
  deviceTypes: ['blk', 'net'] as const,
  unsupported: refusedDevice,
  requirementOf: (s: KernelStep) => requirementOfVduseStep(s),
  formatStep: (s: KernelStep) => formatVduseStep(s),
};

const DEVICE_NODE_IDS = [
  'vduse.dev.single-open',
  'vduse.vq.setup',
  'vduse.vq.get-info',
  'vduse.config.set-bounds',
  'vduse.config.inject-irq',
  'vduse.vq.inject-irq',
  'vduse.vq.kickfd',
  'vduse.features.get',
  'vduse.iotlb.get-fd',
  'vduse.iotlb.get-fd-range',
  'vduse.iotlb.get-info',
  'vduse.iotlb.reg-umem',
  'vduse.msg.read-size',
  'vduse.msg.write-checked',
  'vduse.reset.clears',
] as const;

export const VDUSE_SUITES: readonly KernelSuite[] = [
  {
    ...common,
    name: 'vduse-create',
    description: 'VDUSE control device and device node: API version, CREATE_DEV limits, names, device types, features, destroy, single open, device ioctl bounds, malformed reads and responses, attach before VQ_SETUP',
    requirements: [
      'vduse.api.get-version',
      'vduse.api.set-version-range',
      'vduse.create.reserved-zero',
      'vduse.create.vq-num-limit',
      'vduse.create.config-size-limit',
      'vduse.create.name',
      'vduse.create.device-type',
      'vduse.create.features-access-platform',
      'vduse.create.features-readonly-config',
      'vduse.create.ngroups',
      'vduse.create.attach-needs-vq-setup',
      'vduse.create.sequence',
      'vduse.destroy.busy',
      'vduse.destroy.sequence',
      'vduse.config.zero-fill',
      ...DEVICE_NODE_IDS,
    ],
    maxSteps: 38,
    scenario: createScenario,
    open: (ctx) => VduseCase.open(ctx, settings(ctx.profile, false)),
  },
  {
    ...common,
    name: 'vduse-messages',
    description: 'VDUSE with the driver side on vhost-vdpa: SET_STATUS, GET_VQ_STATE and UPDATE_IOTLB messages answered OK, FAILED, late, garbled or not at all; reset; vq state, kicks and interrupts; IOTLB regions and their bytes on both sides; read-only config; replay after reconnect',
    requirements: [
      'vduse.create.sequence',
      'vduse.create.attach-needs-vq-setup',
      'vduse.dev.reconnect-replays',
      'vduse.msg.response-id',
      'vduse.msg.result',
      'vduse.msg.timeout-broken',
      'vduse.msg.get-vq-state',
      'vduse.msg.get-vq-state-masked',
      'vduse.msg.set-status',
      'vduse.msg.set-status-failed',
      'vduse.msg.update-iotlb',
      'vduse.vq.kick-pending',
      'vduse.config.read-only',
      'vduse.iotlb.get-fd-perm',
      ...DEVICE_NODE_IDS,
    ],
    maxSteps: 50,
    scenario: messagesScenario,
    open: (ctx) => VduseCase.open(ctx, settings(ctx.profile, true)),
  },
  {
    ...common,
    deviceTypes: ['blk'],
    name: 'vduse-datapath',
    description: 'blk requests carried end to end: the driver posts them in memory mapped through the vhost-vdpa IOTLB and kicks; the device reads them through IOTLB_GET_FD, completes them and injects the interrupt; both sides must see the same bytes',
    requirements: ['vduse.iotlb.get-fd', 'vduse.vq.kickfd', 'vduse.vq.inject-irq', 'vduse.vq.get-info', 'vduse.features.get', 'vduse.config.inject-irq', 'vduse.msg.get-vq-state', 'vduse.msg.result', 'vduse.msg.set-status', 'vduse.msg.update-iotlb', 'vduse.msg.response-id', 'vduse.create.sequence', 'vduse.iotlb.get-fd-perm', 'vduse.dev.single-open', 'vduse.vq.setup', 'vduse.create.device-type', 'vduse.vq.kick-pending'],
    maxSteps: 66,
    scenario: datapathScenario,
    open: (ctx) => VduseCase.open(ctx, settings(ctx.profile, true)),
  },
];

// The vdpa suites' steps: a model request (model/kernel/vdpa.ts VdpaRequest)
// tagged as a kernel step, so it is saved, shrunk and replayed as plain data.
import { VHOST_IOTLB_BATCH_BEGIN, VHOST_IOTLB_BATCH_END, VHOST_IOTLB_INVALIDATE, VHOST_IOTLB_UPDATE } from '../../../spec/vhost/types.ts';
import type { VdpaRequest } from '../../../model/kernel/vdpa.ts';
import type { KernelStep } from '../types.ts';

export type VdpaStep = KernelStep & VdpaRequest;

export function vdpaStep(r: VdpaRequest): VdpaStep {
  return { t: 'kernel', ...r } as VdpaStep;
}

const OPS: ReadonlySet<string> = new Set<VdpaRequest['op']>([
  'reopen', 'openSecond', 'setOwner', 'query', 'setBackendFeatures', 'setFeatures', 'getStatus', 'setStatus', 'setVringNum', 'setVringBase',
  'getVringBase', 'setVringAddr', 'setVringFile', 'setVringEnable', 'getVringGroup', 'setGroupAsid', 'getConfig', 'setConfig', 'setConfigCall',
  'setLog', 'iotlb', 'iotlbFrame', 'suspend', 'resume', 'foreign',
]);

/** The request a (possibly replayed) step carries; a step of another suite is a one-line error. */
export function requestOf(step: KernelStep): VdpaRequest {
  if (!OPS.has(step.op)) throw new Error(`'${step.op}' is not a vhost-vdpa step`);
  const { t: _t, ...request } = step;
  return request as unknown as VdpaRequest;
}

const hex = (v: bigint | number) => `0x${v.toString(16)}`;

export function formatVdpaStep(step: KernelStep): string {
  const r = requestOf(step);
  switch (r.op) {
    case 'query':
      return `query ${r.what}`;
    case 'setBackendFeatures':
    case 'setFeatures':
      return `${r.op} ${hex(r.features)}`;
    case 'setStatus':
      return `setStatus ${hex(r.status)}`;
    case 'iotlb':
      return `iotlb ${r.frame} type ${r.type} asid ${r.asid} iova ${hex(r.iova)} size ${hex(r.size)} uaddr mem+${hex(r.uaddrOff)} perm ${r.perm}`;
    case 'iotlbFrame':
      return `iotlb write of ${r.length} bytes, frame type ${r.frameType}`;
    case 'setVringAddr':
      return `setVringAddr ${r.index} flags ${hex(r.flags)} desc ${hex(r.desc)} avail ${hex(r.avail)} used ${hex(r.used)} log ${hex(r.log)}`;
    default: {
      const { op, ...rest } = r as VdpaRequest & Record<string, unknown>;
      const args = Object.entries(rest).map(([k, v]) => `${k} ${typeof v === 'bigint' ? hex(v) : String(v)}`);
      return [op, ...args].join(' ');
    }
  }
}

const IOTLB_REQUIREMENT: Readonly<Record<number, string>> = {
  [VHOST_IOTLB_UPDATE]: 'vhost-vdpa.iotlb.update-range',
  [VHOST_IOTLB_INVALIDATE]: 'vhost-vdpa.iotlb.invalidate',
  [VHOST_IOTLB_BATCH_BEGIN]: 'vhost-vdpa.iotlb.batch',
  [VHOST_IOTLB_BATCH_END]: 'vhost-vdpa.iotlb.batch',
};

const OP_REQUIREMENT: Readonly<Record<Exclude<VdpaRequest['op'], 'query' | 'iotlb' | 'foreign'>, string>> = {
  reopen: 'vhost-vdpa.open-release-reset',
  openSecond: 'vhost-vdpa.open-exclusive',
  setOwner: 'vhost.owner.exclusive',
  setBackendFeatures: 'vhost-vdpa.backend-features.unsupported-rejected',
  setFeatures: 'vhost-vdpa.features.locked-after-features-ok',
  getStatus: 'vhost-vdpa.status.virtio-bits',
  setStatus: 'vhost-vdpa.status.virtio-bits',
  setVringNum: 'vhost.vring.num-valid',
  setVringBase: 'vhost.vring.base-busy',
  getVringBase: 'vhost.vring.get-base',
  setVringAddr: 'vhost.vring.addr-checked',
  setVringFile: 'vhost.vring.file-unbind',
  setVringEnable: 'vhost-vdpa.enable-after-driver-ok',
  getVringGroup: 'vhost-vdpa.asid.get-vring-group',
  setGroupAsid: 'vhost-vdpa.asid.set-group-asid',
  getConfig: 'vhost-vdpa.config.bounds',
  setConfig: 'vhost-vdpa.config.bounds',
  setConfigCall: 'vhost-vdpa.config-call',
  setLog: 'vhost-vdpa.log-unsupported',
  iotlbFrame: 'vhost.iotlb.msg-size-mismatch',
  suspend: 'vhost-vdpa.suspend',
  resume: 'vhost-vdpa.resume',
};

const FOREIGN_REQUIREMENT = {
  setOwner: 'vhost.owner.exclusive',
  setVringNum: 'vhost.owner.required',
  iotlbUpdate: 'vhost-vdpa.iotlb.owner-required',
} as const;

const QUERY_REQUIREMENT = {
  deviceId: 'vhost-vdpa.device-id',
  vqsCount: 'vhost-vdpa.vqs-count',
  configSize: 'vhost-vdpa.config-size',
  vringNum: 'vhost-vdpa.vring.num-max',
  iovaRange: 'vhost-vdpa.iova-range.get',
  asNum: 'vhost-vdpa.asid.get-as-num',
  groupNum: 'vhost-vdpa.asid.get-group-num',
  backendFeatures: 'vhost-vdpa.backend-features.offered',
} as const;

/** The requirement a crash or hang during `step` is charged to: the rule the step exercises. */
export function vdpaRequirementOf(step: KernelStep): string {
  const r = requestOf(step);
  if (r.op === 'query') return QUERY_REQUIREMENT[r.what];
  if (r.op === 'iotlb') return IOTLB_REQUIREMENT[r.type] ?? 'vhost.iotlb.msg-type';
  if (r.op === 'foreign') return FOREIGN_REQUIREMENT[r.call];
  return OP_REQUIREMENT[r.op];
}

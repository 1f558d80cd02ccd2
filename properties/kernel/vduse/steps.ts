// The VDUSE suites' steps: plain data (saved and replayed as they are), one
// operation each, on the control fd, the device node /dev/vduse/$NAME, or the
// driver side /dev/vhost-vdpa-N of the same device. Names are symbolic (one
// main device per case), so a saved case replays on any machine.
import type { Answer, BadResponse, KickfdArg, UmemFault } from '../../../model/kernel/vduse.ts';
import type { KernelStep } from '../types.ts';

export interface CreateStepConfig {
  readonly emptyName: boolean;
  readonly deviceId: number;
  readonly features: bigint;
  readonly vqNum: number;
  readonly vqAlign: number;
  readonly reservedWord: number;
  /** The config space (config_size is its length). */
  readonly config: Uint8Array;
}

/** Every step, by op. */
export type VduseStep =
  | { readonly t: 'kernel'; readonly op: 'getApiVersion' }
  | { readonly t: 'kernel'; readonly op: 'setApiVersion'; readonly version: bigint }
  | ({ readonly t: 'kernel'; readonly op: 'create' } & CreateStepConfig)
  | { readonly t: 'kernel'; readonly op: 'createLongName' }
  | { readonly t: 'kernel'; readonly op: 'destroy'; readonly known: boolean }
  | { readonly t: 'kernel'; readonly op: 'openDev' }
  | { readonly t: 'kernel'; readonly op: 'closeDev' }
  | { readonly t: 'kernel'; readonly op: 'vqSetup'; readonly index: number; readonly maxSize: number; readonly reserved: boolean }
  | { readonly t: 'kernel'; readonly op: 'vqGetInfo'; readonly index: number }
  | { readonly t: 'kernel'; readonly op: 'setConfig'; readonly offset: number; readonly bytes: Uint8Array }
  | { readonly t: 'kernel'; readonly op: 'injectConfigIrq' }
  | { readonly t: 'kernel'; readonly op: 'vqInjectIrq'; readonly index: number }
  | { readonly t: 'kernel'; readonly op: 'setupKickfd'; readonly index: number; readonly arg: KickfdArg }
  | { readonly t: 'kernel'; readonly op: 'getFeatures' }
  | { readonly t: 'kernel'; readonly op: 'iotlbGetFd'; readonly start: bigint; readonly last: bigint }
  | { readonly t: 'kernel'; readonly op: 'iotlbGetInfo'; readonly start: bigint; readonly last: bigint; readonly reserved: boolean }
  | { readonly t: 'kernel'; readonly op: 'regUmem'; readonly fault: UmemFault }
  | { readonly t: 'kernel'; readonly op: 'readShort'; readonly len: number }
  | { readonly t: 'kernel'; readonly op: 'readEmpty' }
  | { readonly t: 'kernel'; readonly op: 'writeBad'; readonly kind: BadResponse }
  | { readonly t: 'kernel'; readonly op: 'attach' }
  | { readonly t: 'kernel'; readonly op: 'detach' }
  | { readonly t: 'kernel'; readonly op: 'openVdpa' }
  | { readonly t: 'kernel'; readonly op: 'closeVdpa' }
  | { readonly t: 'kernel'; readonly op: 'setCalls' }
  | { readonly t: 'kernel'; readonly op: 'setStatus'; readonly status: number; readonly answer: Answer }
  | { readonly t: 'kernel'; readonly op: 'setFeatures'; readonly features: bigint }
  | { readonly t: 'kernel'; readonly op: 'setVring'; readonly index: number; readonly num: number; readonly desc: bigint; readonly driver: bigint; readonly device: bigint; readonly base: number }
  | { readonly t: 'kernel'; readonly op: 'enableVring'; readonly index: number; readonly ready: boolean }
  | { readonly t: 'kernel'; readonly op: 'kick'; readonly index: number }
  | { readonly t: 'kernel'; readonly op: 'getVringBase'; readonly index: number; readonly result: 'ok' | 'failed'; readonly avail: number }
  /** GET_VRING_BASE with RING_PACKED negotiated: the device answers [avail counter, avail idx, used counter, used idx] unmasked. */
  | { readonly t: 'kernel'; readonly op: 'getVringBasePacked'; readonly index: number; readonly state: readonly number[] }
  | { readonly t: 'kernel'; readonly op: 'mapIotlb'; readonly page: number; readonly pages: number; readonly iova: bigint; readonly perm: number; readonly answer: 'ok' | 'failed' }
  | { readonly t: 'kernel'; readonly op: 'unmapIotlb'; readonly iova: bigint; readonly size: bigint; readonly answer: 'ok' | 'failed' }
  | { readonly t: 'kernel'; readonly op: 'driverConfigWrite'; readonly offset: number; readonly bytes: Uint8Array }
  | { readonly t: 'kernel'; readonly op: 'driverConfigRead'; readonly offset: number; readonly len: number }
  | { readonly t: 'kernel'; readonly op: 'reconnect' }
  /** A net device of its own with a config space `config` bytes long, read whole by `vdpa dev config show`. */
  | { readonly t: 'kernel'; readonly op: 'netConfigShow'; readonly config: Uint8Array }
  /** A blk request on vq 0 carried end to end: posted by the driver, served by the suite as the device through VDUSE. */
  | { readonly t: 'kernel'; readonly op: 'blkRequest'; readonly write: boolean; readonly sector: number; readonly fill: number };

export type VduseOp = VduseStep['op'];

/** The requirement a crash or hang during each op is charged to (KernelSuite.requirementOf). */
const CHARGED_TO: Readonly<Record<VduseOp, string>> = {
  getApiVersion: 'vduse.api.get-version',
  setApiVersion: 'vduse.api.set-version-range',
  create: 'vduse.create.reserved-zero',
  createLongName: 'vduse.create.name',
  destroy: 'vduse.destroy.busy',
  openDev: 'vduse.dev.single-open',
  closeDev: 'vduse.dev.reconnect-replays',
  vqSetup: 'vduse.vq.setup',
  vqGetInfo: 'vduse.vq.get-info',
  setConfig: 'vduse.config.set-bounds',
  injectConfigIrq: 'vduse.config.inject-irq',
  vqInjectIrq: 'vduse.vq.inject-irq',
  setupKickfd: 'vduse.vq.kickfd',
  getFeatures: 'vduse.features.get',
  iotlbGetFd: 'vduse.iotlb.get-fd',
  iotlbGetInfo: 'vduse.iotlb.get-info',
  regUmem: 'vduse.iotlb.reg-umem',
  readShort: 'vduse.msg.read-size',
  readEmpty: 'vduse.msg.read-size',
  writeBad: 'vduse.msg.write-checked',
  attach: 'vduse.create.attach-needs-vq-setup',
  detach: 'vduse.destroy.sequence',
  openVdpa: 'vduse.reset.clears',
  closeVdpa: 'vduse.reset.clears',
  setCalls: 'vduse.vq.inject-irq',
  setStatus: 'vduse.msg.set-status',
  setFeatures: 'vduse.features.get',
  setVring: 'vduse.vq.get-info',
  enableVring: 'vduse.vq.get-info',
  kick: 'vduse.vq.kickfd',
  getVringBase: 'vduse.msg.get-vq-state',
  getVringBasePacked: 'vduse.msg.get-vq-state-masked',
  mapIotlb: 'vduse.msg.update-iotlb',
  unmapIotlb: 'vduse.msg.update-iotlb',
  driverConfigWrite: 'vduse.config.read-only',
  driverConfigRead: 'vduse.config.set-bounds',
  reconnect: 'vduse.dev.reconnect-replays',
  blkRequest: 'vduse.iotlb.get-fd',
  netConfigShow: 'vduse.config.zero-fill',
};

export function requirementOfVduseStep(step: KernelStep): string {
  return CHARGED_TO[step.op as VduseOp] ?? 'vduse.create.sequence';
}

const hex = (v: bigint | number) => `0x${v.toString(16)}`;

export function formatVduseStep(k: KernelStep): string {
  const s = k as VduseStep;
  switch (s.op) {
    case 'setApiVersion':
      return `setApiVersion(${s.version})`;
    case 'create':
      return `create(${s.emptyName ? 'name ""' : 'name main'}, id ${s.deviceId}, features ${hex(s.features)}, vq_num ${s.vqNum}, vq_align ${s.vqAlign}, config_size ${s.config.length}${s.reservedWord >= 0 ? `, reserved[${s.reservedWord}]=1` : ''})`;
    case 'destroy':
      return `destroy(${s.known ? 'main' : 'unknown name'})`;
    case 'vqSetup':
      return `vqSetup(${s.index}, max ${s.maxSize}${s.reserved ? ', reserved≠0' : ''})`;
    case 'setConfig':
      return `setConfig(offset ${s.offset}, length ${s.bytes.length})`;
    case 'setupKickfd':
      return `setupKickfd(${s.index}, ${s.arg})`;
    case 'iotlbGetFd':
      return `iotlbGetFd([${hex(s.start)}, ${hex(s.last)}])`;
    case 'iotlbGetInfo':
      return `iotlbGetInfo([${hex(s.start)}, ${hex(s.last)}]${s.reserved ? ', reserved≠0' : ''})`;
    case 'setStatus':
      return `setStatus(${s.status}, answer ${s.answer})`;
    case 'setFeatures':
      return `setFeatures(${hex(s.features)})`;
    case 'setVring':
      return `setVring(${s.index}, num ${s.num}, desc ${hex(s.desc)}, driver ${hex(s.driver)}, device ${hex(s.device)}, base ${s.base})`;
    case 'getVringBase':
      return `getVringBase(${s.index}, answer ${s.result} ${s.avail})`;
    case 'mapIotlb':
      return `mapIotlb(iova ${hex(s.iova)}, ${s.pages} pages at page ${s.page}, perm ${s.perm}, answer ${s.answer})`;
    case 'unmapIotlb':
      return `unmapIotlb(iova ${hex(s.iova)}, size ${hex(s.size)}, answer ${s.answer})`;
    case 'driverConfigWrite':
      return `driverConfigWrite(offset ${s.offset}, length ${s.bytes.length})`;
    case 'driverConfigRead':
      return `driverConfigRead(offset ${s.offset}, length ${s.len})`;
    case 'netConfigShow':
      return `netConfigShow(config_size ${s.config.length})`;
    case 'blkRequest':
      return `blkRequest(${s.write ? 'write' : 'read'} sector ${s.sector}${s.write ? `, fill ${hex(s.fill)}` : ''})`;
    default: {
      const { t: _t, op, ...rest } = s as KernelStep;
      const args = Object.entries(rest).map(([k, v]) => `${k} ${typeof v === 'bigint' ? hex(v) : String(v)}`);
      return args.length ? `${op}(${args.join(', ')})` : op;
    }
  }
}

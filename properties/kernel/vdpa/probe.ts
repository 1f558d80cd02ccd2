// What a vhost-vdpa device says about itself, asked once per run: the facts
// the vdpa suites' model is parameterised with (model/kernel/vdpa.ts
// VdpaDevice). Nothing is assumed from the parent's name; every value is the
// answer of the ioctl that reports it (include/uapi/linux/vhost.h).
import type { KernelMachine } from '../../../implementations/guest/boot.ts';
import { type VdpaDeviceRef, VhostVdpaTarget } from '../../../implementations/guest/vdpaTarget.ts';
import { type IoctlOutcome, scalarOut, ioctlInfo } from '../../../implementations/guest/vhostIoctl.ts';
import type { VdpaDevice } from '../../../model/kernel/vdpa.ts';
import type { KernelProfile, KernelTarget } from '../types.ts';
import { SESSION_MEM_SIZE } from './session.ts';

/** The device a vhost-vdpa target's sessions open: a fresh vdpa_sim device per session in a guest, the host's node on a host. */
export function vdpaDeviceOf(target: KernelTarget): VdpaDeviceRef {
  if (target.target === 'host-vhost-vdpa') return { deviceType: target.deviceType, node: target.node };
  if (target.target === 'vdpa-sim-net') return { deviceType: 'net' };
  if (target.target === 'vdpa-sim-blk') return { deviceType: 'blk' };
  throw new Error(`guest:${target.target} is not a vhost-vdpa target`);
}

export async function probeVdpa(machine: KernelMachine, target: KernelTarget): Promise<KernelProfile> {
  const device = vdpaDeviceOf(target);
  const { deviceType } = device;
  const t = await VhostVdpaTarget.open(machine, device);
  try {
    const ask = async (name: string): Promise<IoctlOutcome & { kind: 'ok' }> => {
      const o = await t.ioctl(name);
      if (o.kind !== 'ok') throw new Error(`probing ${t.devicePath}: ${name} failed: ${o.kind === 'error' ? o.errno : o.kind}`);
      return o;
    };
    const scalar = async (name: string) => scalarOut(ioctlInfo(name), (await ask(name)).out);
    const range = await t.ioctl('VHOST_VDPA_GET_IOVA_RANGE', { value: { first: 0n, last: 0n } });
    if (range.kind !== 'ok') throw new Error(`probing ${t.devicePath}: VHOST_VDPA_GET_IOVA_RANGE failed: ${range.kind === 'error' ? range.errno : range.kind}`);
    const vqs = Number(await scalar('VHOST_VDPA_GET_VQS_COUNT'));
    // GET_VRING_GROUP goes through vhost_dev_ioctl's owner check: take ownership for the probe's own session.
    const owner = await t.ioctl('VHOST_SET_OWNER');
    if (owner.kind !== 'ok') throw new Error(`probing ${t.devicePath}: VHOST_SET_OWNER failed: ${owner.kind === 'error' ? owner.errno : owner.kind}`);
    const groups: number[] = [];
    let groupsAnswer = '';
    for (let i = 0; i < vqs && !groupsAnswer; i++) {
      const g = await t.ioctl('VHOST_VDPA_GET_VRING_GROUP', { value: { index: i, num: 0 } });
      if (g.kind === 'ok') groups.push(g.out.readUInt32LE(4));
      else groupsAnswer = g.kind === 'error' ? g.errno : g.kind;
    }
    const facts: Record<string, number | bigint | string | boolean> = {
      deviceId: Number(await scalar('VHOST_VDPA_GET_DEVICE_ID')),
      features: BigInt(await scalar('VHOST_GET_FEATURES')),
      backendFeatures: BigInt(await scalar('VHOST_GET_BACKEND_FEATURES')),
      vqsCount: vqs,
      vringNum: Number(await scalar('VHOST_VDPA_GET_VRING_NUM')),
      configSize: Number(await scalar('VHOST_VDPA_GET_CONFIG_SIZE')),
      iovaFirst: range.out.readBigUInt64LE(0),
      iovaLast: range.out.readBigUInt64LE(8),
      asNum: Number(await scalar('VHOST_VDPA_GET_AS_NUM')),
      groupNum: Number(await scalar('VHOST_VDPA_GET_GROUP_NUM')),
      vqGroups: groupsAnswer || groups.join(','),
    };
    return { family: 'vhost-vdpa', deviceType, kernelRelease: machine.agent.kernelRelease, facts };
  } finally {
    await t.close();
  }
}

function fact<T extends 'number' | 'bigint'>(p: KernelProfile, name: string, type: T): T extends 'number' ? number : bigint {
  const v = p.facts[name];
  if (typeof v !== type) throw new Error(`the vhost-vdpa profile lacks ${name} (probe the device with probeVdpa first)`);
  return v as T extends 'number' ? number : bigint;
}

/** The model's view of the device, from the probe's facts. */
export function vdpaDevice(p: KernelProfile): VdpaDevice {
  const groups = p.facts.vqGroups;
  return {
    deviceType: p.deviceType,
    deviceId: fact(p, 'deviceId', 'number'),
    backendFeatures: fact(p, 'backendFeatures', 'bigint'),
    vqs: fact(p, 'vqsCount', 'number'),
    vringNum: fact(p, 'vringNum', 'number'),
    configSize: fact(p, 'configSize', 'number'),
    iovaFirst: fact(p, 'iovaFirst', 'bigint'),
    iovaLast: fact(p, 'iovaLast', 'bigint'),
    asNum: fact(p, 'asNum', 'number'),
    groupNum: fact(p, 'groupNum', 'number'),
    // A vq group list, or the errno GET_VRING_GROUP gave (a parent without get_vq_group: EOPNOTSUPP).
    vqGroups: typeof groups === 'string' && /^\d+(,\d+)*$/.test(groups) ? groups.split(',').map(Number) : null,
    memSize: SESSION_MEM_SIZE,
  };
}

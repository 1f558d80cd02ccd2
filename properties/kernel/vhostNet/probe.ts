// What /dev/vhost-net in the guest offers, asked of the device itself:
// GET_FEATURES and GET_BACKEND_FEATURES (drivers/vhost/net.c answers both
// without an owner), the vhost module's max_mem_regions parameter, and the
// kernel release the agent reports.
import { errnoName, GuestFlags } from '../../../implementations/guest/agent.ts';
import type { KernelMachine } from '../../../implementations/guest/boot.ts';

import { agentIoctl, ioctlInfo } from '../../../implementations/guest/vhostIoctl.ts';
import type { KernelProfile, KernelTarget } from '../types.ts';
import { replyOf } from './session.ts';

const MAX_MEM_REGIONS = '/sys/module/vhost/parameters/max_mem_regions';

async function readNumber(guest: KernelMachine, path: string): Promise<number | undefined> {
  const { agent } = guest;
  const fd = replyOf(await agent.open(path, 0), `open ${path}`);
  if (fd.result < 0) return undefined;
  try {
    const r = replyOf(await agent.read(fd.result, 32, 1_000), `read ${path}`);
    const n = r.result > 0 ? Number.parseInt(r.body.toString('latin1'), 10) : NaN;
    return Number.isInteger(n) ? n : undefined;
  } finally {
    await agent.closeFd(fd.result);
  }
}

export async function probeVhostNet(guest: KernelMachine, target: KernelTarget): Promise<KernelProfile> {
  if (target.target !== 'vhost-net') throw new Error(`probeVhostNet cannot probe guest:${target.target}`);
  const { agent } = guest;
  const fd = replyOf(await agent.open('/dev/vhost-net', GuestFlags.O_RDWR), 'open /dev/vhost-net');
  if (fd.result < 0) throw new Error(`cannot open /dev/vhost-net in the guest: ${errnoName(fd.result)}`);
  try {
    const ask = async (name: string): Promise<bigint> => {
      const o = await agentIoctl(agent, fd.result, ioctlInfo(name));
      if (o.kind !== 'ok') throw new Error(`${name} on /dev/vhost-net: ${o.kind === 'error' ? o.errno : o.kind}`);
      return o.out.readBigUInt64LE(0);
    };
    const features = await ask('VHOST_GET_FEATURES');
    const backendFeatures = await ask('VHOST_GET_BACKEND_FEATURES');
    const maxMemRegions = await readNumber(guest, MAX_MEM_REGIONS);
    return {
      family: 'vhost-net',
      deviceType: 'net',
      kernelRelease: agent.hello.split(' ')[2] ?? '',
      facts: { features, backendFeatures, ...(maxMemRegions === undefined ? {} : { maxMemRegions }) },
    };
  } finally {
    await agent.closeFd(fd.result);
  }
}

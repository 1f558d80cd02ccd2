// What the VDUSE suites ask the kernel before a run (never assumed): the API
// version a control fd starts at and the highest one it accepts, the page
// size (vduse_validate_config() bounds config_size and vq_align by PAGE_SIZE),
// whether the target's device type may be created, and the device's
// msg_timeout sysfs attribute (read, and whether it can be written).
import { VIRTIO_ID_BLOCK } from '../../../spec/virtio/blk.ts';
import { VIRTIO_ID_NET } from '../../../spec/virtio/net.ts';
import { errnoName, GuestFlags, type AgentClient } from '../../../implementations/guest/agent.ts';
import type { KernelMachine } from '../../../implementations/guest/boot.ts';

import { nameBytes } from '../../../implementations/guest/vduse.ts';
import { agentIoctl, ioctlInfo } from '../../../implementations/guest/vhostIoctl.ts';
import type { KernelProfile, KernelTarget } from '../types.ts';
import { validDeviceFeatures } from './arbitraries.ts';

const O_RDONLY = 0;
const O_WRONLY = 0o1;
const PAGE_CANDIDATES = [4096, 16384, 65536] as const;

function ok(r: { kind: string; result?: number }, what: string): number {
  if (r.kind !== 'ok') throw new Error(`probing VDUSE: ${what}: agent ${r.kind}`);
  return r.result!;
}

/** The smallest page size an mmap offset may be aligned to: mmap() rejects an offset that is not page-aligned. */
async function probePageSize(agent: AgentClient): Promise<number> {
  const fd = ok(await agent.memfd(BigInt(2 * 65536)), 'memfd');
  if (fd < 0) throw new Error(`probing VDUSE: memfd: ${errnoName(fd)}`);
  try {
    for (const page of PAGE_CANDIDATES) {
      const m = await agent.mmap(fd, BigInt(page), { offset: BigInt(page) });
      if (ok(m, 'mmap') >= 0) {
        await agent.munmap((m as { body: Buffer }).body.readBigUInt64LE(0), BigInt(page));
        return page;
      }
    }
    throw new Error('probing VDUSE: no page size up to 64 KiB accepted an mmap offset');
  } finally {
    await agent.closeFd(fd);
  }
}

async function readSysfs(agent: AgentClient, path: string): Promise<string | null> {
  const fd = ok(await agent.open(path, O_RDONLY), `open ${path}`);
  if (fd < 0) return null;
  const r = await agent.read(fd, 64, 1000);
  await agent.closeFd(fd);
  return r.kind === 'ok' && r.result >= 0 ? r.body.toString().trim() : null;
}

export async function probeVduse(guest: KernelMachine, target: KernelTarget): Promise<KernelProfile> {
  const { agent } = guest;
  const deviceType = target.target === 'vduse-net' ? 'net' : 'blk';
  const kernelRelease = agent.hello.split(' ')[2] ?? '';
  const ctl = ok(await agent.open('/dev/vduse/control', GuestFlags.O_RDWR), 'open /dev/vduse/control');
  if (ctl < 0) throw new Error(`probing VDUSE: /dev/vduse/control: ${errnoName(ctl)} (is the vduse module loaded?)`);
  const ioctl = (name: string, arg?: Parameters<typeof agentIoctl>[3]) => agentIoctl(agent, ctl, ioctlInfo(name), arg);
  try {
    const v = await ioctl('VDUSE_GET_API_VERSION');
    if (v.kind !== 'ok') throw new Error(`probing VDUSE: GET_API_VERSION: ${v.kind === 'error' ? v.errno : v.kind}`);
    const apiVersion = v.out.readBigUInt64LE(0);
    // The highest version accepted: asked one above the start, then the fd is set back.
    const higher = await ioctl('VDUSE_SET_API_VERSION', apiVersion + 1n);
    const apiVersionMax = higher.kind === 'ok' ? apiVersion + 1n : apiVersion;
    await ioctl('VDUSE_SET_API_VERSION', apiVersion);
    const pageSize = await probePageSize(agent);

    const name = `vhcprobe-${process.pid % 100000}`;
    const deviceId = deviceType === 'net' ? VIRTIO_ID_NET : VIRTIO_ID_BLOCK;
    const created = await ioctl('VDUSE_CREATE_DEV', {
      value: { name: nameBytes(name), vendor_id: 0, device_id: deviceId, features: validDeviceFeatures(deviceType), vq_num: 1, vq_align: pageSize, reserved: new Uint8Array(52), config_size: 8 },
      trailing: new Uint8Array(8),
    });
    // Whether a net device may be created at all (the zero-fill step reads a net config through the vdpa tool).
    const netName = `${name}-n`;
    const net = deviceType === 'net' ? created : await ioctl('VDUSE_CREATE_DEV', {
      value: { name: nameBytes(netName), vendor_id: 0, device_id: VIRTIO_ID_NET, features: validDeviceFeatures('net'), vq_num: 2, vq_align: pageSize, reserved: new Uint8Array(52), config_size: 8 },
      trailing: new Uint8Array(8),
    });
    if (deviceType !== 'net' && net.kind === 'ok') await ioctl('VDUSE_DESTROY_DEV', { value: {}, trailing: nameBytes(netName) });
    let msgTimeout = -1;
    let msgTimeoutWritable = false;
    if (created.kind === 'ok') {
      const path = `/sys/class/vduse/${name}/msg_timeout`;
      const text = await readSysfs(agent, path);
      if (text !== null && /^\d+$/.test(text)) {
        msgTimeout = Number(text);
        const fd = ok(await agent.open(path, O_WRONLY), `open ${path}`);
        if (fd >= 0) {
          msgTimeoutWritable = ok(await agent.write(fd, Buffer.from(text)), `write ${path}`) >= 0;
          await agent.closeFd(fd);
        }
      }
      await ioctl('VDUSE_DESTROY_DEV', { value: {}, trailing: nameBytes(name) });
    }
    return {
      family: 'vduse',
      deviceType,
      kernelRelease,
      facts: {
        apiVersion,
        apiVersionMax,
        pageSize,
        deviceId,
        deviceAllowed: created.kind === 'ok',
        deviceRefusal: created.kind === 'error' ? created.errno : '',
        netAllowed: net.kind === 'ok',
        msgTimeout,
        msgTimeoutWritable,
      },
    };
  } finally {
    await agent.closeFd(ctl);
  }
}

// VDUSE smoke test against the real kernel in the QEMU guest (skipped with a
// reason when the guest is not built): the suite creates a blk device with
// VDUSE, serves the kernel's requests, and reads the same device back through
// vhost-vdpa — both sides of the kernel, checked in between. Expected answers
// are cited from vduse.rst and the 6.12 source (drivers/vdpa/vdpa_user/
// vduse_dev.c, drivers/vhost/vdpa.c).
import { describe, expect, it } from 'vitest';
import { VDUSE_REQ_RESULT_FAILED, VDUSE_REQ_RESULT_OK, VDUSE_SET_STATUS } from '../../spec/vduse/types.ts';
import { VIRTIO_ID_BLOCK } from '../../spec/virtio/blk.ts';
import { bit, VIRTIO_F_ACCESS_PLATFORM, VIRTIO_F_VERSION_1 } from '../../spec/virtio/features.ts';
import { VIRTIO_CONFIG_S_ACKNOWLEDGE, VIRTIO_CONFIG_S_DRIVER } from '../../spec/virtio/status.ts';
import { errnoName, GuestFlags } from './agent.ts';
import { builtGuest, sharedGuest } from './testGuest.ts';
import { GuestVduseDevice, readNow, type VduseRequest } from './vduse.ts';
import { agentIoctl, ioctlInfo, type IoctlArgValue, type IoctlOutcome } from './vhostIoctl.ts';

const image = await builtGuest('guest:vduse smoke tests');

const NAME = 'vhostcheck-vduse';
const FEATURES = bit(VIRTIO_F_VERSION_1) | bit(VIRTIO_F_ACCESS_PLATFORM);
/** virtio_blk_config.capacity only: 0x2345 sectors, a value no default would produce. */
const CONFIG = Buffer.from([0x45, 0x23, 0, 0, 0, 0, 0, 0]);
const SLOW = { concurrent: true, timeoutMs: 20_000 } as const;

const statuses = (reqs: readonly VduseRequest[]) => reqs.filter((r) => r.type === VDUSE_SET_STATUS).map((r) => ('status' in r ? r.status : -1));

function out(o: IoctlOutcome): Buffer {
  if (o.kind !== 'ok') throw new Error(`ioctl ${o.kind === 'error' ? o.errno : o.kind}`);
  return o.out;
}

describe.skipIf(!image)('guest:vduse-blk: the suite as the VDUSE device, read back through vhost-vdpa (real kernel)', () => {
  const guest = sharedGuest(image);

  it('creates, attaches, answers status changes, and tears down', async () => {
    const { agent } = guest();
    const dev = await GuestVduseDevice.create(guest(), { name: NAME, deviceId: VIRTIO_ID_BLOCK, features: FEATURES, vqNum: 1, vqMaxSize: 128, config: CONFIG });
    let vdpaFd = -1;
    try {
      // vduse.rst: API version 0 is the only one.
      expect(dev.apiVersion).toBe(0n);
      const add = await dev.serveWhile(agent.vdpa(['dev', 'add', 'name', NAME, 'mgmtdev', 'vduse'], SLOW));
      expect(add.value.kind === 'ok' && add.value.result, add.value.kind === 'ok' ? add.value.body.toString() : '').toBe(0);

      const dir = await agent.readdir(`/sys/bus/vdpa/devices/${NAME}`);
      const node = dir.names?.find((n) => /^vhost-vdpa-\d+$/.test(n));
      expect(node).toBeDefined();
      // vhost_vdpa_open() resets the device; for VDUSE a reset is a VDUSE_SET_STATUS(0) the device must answer.
      const opened = await dev.serveWhile(agent.open(`/dev/${node}`, GuestFlags.O_RDWR, SLOW));
      if (opened.value.kind !== 'ok' || opened.value.result < 0) throw new Error(`open: ${opened.value.kind === 'ok' ? errnoName(opened.value.result) : opened.value.kind}`);
      vdpaFd = opened.value.result;
      expect(statuses(opened.requests)).toEqual([0]);

      const vdpa = (name: string, arg?: IoctlArgValue) => agentIoctl(agent, vdpaFd, ioctlInfo(name), arg, SLOW);
      // What the device declared at VDUSE_CREATE_DEV is what the driver side sees.
      expect(out(await vdpa('VHOST_VDPA_GET_DEVICE_ID')).readUInt32LE(0)).toBe(VIRTIO_ID_BLOCK);
      expect(out(await vdpa('VHOST_GET_FEATURES')).readBigUInt64LE(0)).toBe(FEATURES);
      expect(out(await vdpa('VHOST_VDPA_GET_VQS_COUNT')).readUInt32LE(0)).toBe(1);
      expect(out(await vdpa('VHOST_VDPA_GET_VRING_NUM')).readUInt16LE(0)).toBe(128);
      const config = out(await vdpa('VHOST_VDPA_GET_CONFIG', { value: { off: 0, len: CONFIG.length }, trailing: new Uint8Array(CONFIG.length) }));
      expect(config.subarray(8).equals(CONFIG)).toBe(true);
      // Past the declared config size: vhost_vdpa_config_validate() says E2BIG, which vhost_vdpa_get_config() reports as EINVAL.
      expect(await vdpa('VHOST_VDPA_GET_CONFIG', { value: { off: 0, len: CONFIG.length + 1 }, trailing: new Uint8Array(CONFIG.length + 1) })).toEqual({ kind: 'error', errno: 'EINVAL' });

      // A status change reaches the device as VDUSE_SET_STATUS, and takes effect once answered OK.
      const ack = await dev.serveWhile(vdpa('VHOST_VDPA_SET_STATUS', VIRTIO_CONFIG_S_ACKNOWLEDGE));
      expect(ack.value.kind).toBe('ok');
      expect(statuses(ack.requests)).toEqual([VIRTIO_CONFIG_S_ACKNOWLEDGE]);
      expect(out(await vdpa('VHOST_VDPA_GET_STATUS')).readUInt8(0)).toBe(VIRTIO_CONFIG_S_ACKNOWLEDGE);

      // De facto: a device that answers FAILED leaves the status unchanged (vduse_vdpa_set_status()),
      // yet SET_STATUS still returns 0 (vhost_vdpa_set_status() has no way to learn of it): only GET_STATUS tells.
      const refused = await dev.serveWhile(vdpa('VHOST_VDPA_SET_STATUS', VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER), () => ({ result: VDUSE_REQ_RESULT_FAILED }));
      expect(refused.value.kind).toBe('ok');
      expect(statuses(refused.requests)).toEqual([VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER]);
      expect(out(await vdpa('VHOST_VDPA_GET_STATUS')).readUInt8(0)).toBe(VIRTIO_CONFIG_S_ACKNOWLEDGE);

      // Closing the node resets again: one more SET_STATUS(0) to answer.
      const closed = await dev.serveWhile(agent.closeFd(vdpaFd, SLOW));
      vdpaFd = -1;
      expect(closed.value.kind === 'ok' && closed.value.result).toBe(0);
      expect(statuses(closed.requests)).toEqual([0]);
      const del = await dev.serveWhile(agent.vdpa(['dev', 'del', NAME], SLOW));
      expect(del.value.kind === 'ok' && del.value.result).toBe(0);
    } finally {
      if (vdpaFd >= 0) await dev.serveWhile(agent.closeFd(vdpaFd, SLOW));
      await dev.serveWhile(agent.vdpa(['dev', 'del', NAME], SLOW), () => ({ result: VDUSE_REQ_RESULT_OK }));
      const destroyed = await dev.destroy();
      expect(destroyed?.kind).toBe('ok');
    }
  }, 120_000);

  it('readNow is one read(2) with no poll first, refused on a blocking fd (it would stop the agent)', async () => {
    const { agent } = guest();
    const blocking = (await agent.eventfd(0, 0)) as { result: number };
    const nonblocking = (await agent.eventfd(0, GuestFlags.EFD_NONBLOCK)) as { result: number };
    try {
      const refused = await readNow(agent, blocking.result, 8);
      expect(refused.kind === 'ok' && errnoName(refused.result)).toBe('EDEADLK');
      // An empty eventfd answers read(2) itself: EAGAIN (Node names errno 11 EAGAIN or EWOULDBLOCK).
      const empty = await readNow(agent, nonblocking.result, 8);
      expect(['EAGAIN', 'EWOULDBLOCK']).toContain(empty.kind === 'ok' && errnoName(empty.result));
      // A buffer shorter than 8 bytes is the eventfd's own EINVAL, not a timeout: no poll came first.
      await agent.eventfdSignal(nonblocking.result, 1n);
      const short = await readNow(agent, nonblocking.result, 4);
      expect(short.kind === 'ok' && errnoName(short.result)).toBe('EINVAL');
    } finally {
      await agent.closeFd(blocking.result);
      await agent.closeFd(nonblocking.result);
    }
  }, 30_000);
});

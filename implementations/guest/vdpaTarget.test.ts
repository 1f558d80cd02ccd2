// Control-plane smoke test of guest:vdpa-sim-net and guest:vdpa-sim-blk against
// the real kernel in the QEMU guest (skipped with a reason when the guest is
// not built). Every expected value is the kernel's, cited from the 6.12 source
// (drivers/vdpa/vdpa_sim/*, drivers/vhost/vdpa.c, drivers/vhost/vhost.c) or
// from what this suite asked for (the MAC, the built disk size); none is
// copied from an earlier run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VHOST_ACCESS_RW, VHOST_BACKEND_F_IOTLB_ASID, VHOST_BACKEND_F_IOTLB_BATCH, VHOST_BACKEND_F_IOTLB_MSG_V2, VHOST_IOTLB_UPDATE, vhost_msg_v2 } from '../../spec/vhost/types.ts';
import { VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_OK, VIRTIO_BLK_SECTOR_SIZE, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_ID_BLOCK, virtio_blk_outhdr } from '../../spec/virtio/blk.ts';
import { bit, hasFeature, VIRTIO_F_ACCESS_PLATFORM, VIRTIO_F_ANY_LAYOUT, VIRTIO_F_VERSION_1 } from '../../spec/virtio/features.ts';
import { virtio_net_hdr_v1, VIRTIO_ID_NET, VIRTIO_NET_F_CTRL_MAC_ADDR, VIRTIO_NET_F_CTRL_VQ, VIRTIO_NET_F_MAC, VIRTIO_NET_F_MTU, VIRTIO_NET_F_STATUS } from '../../spec/virtio/net.ts';
import { VIRTIO_CONFIG_S_ACKNOWLEDGE, VIRTIO_CONFIG_S_DRIVER, VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_CONFIG_S_FEATURES_OK } from '../../spec/virtio/status.ts';
import { splitRingOffsets, splitRingSizes, vring_avail, vring_desc, VRING_DESC_F_NEXT, VRING_DESC_F_WRITE, vring_used, vring_used_elem } from '../../spec/virtio/ring.ts';
import { decode, encode, encodeInto } from '../../spec/codec.ts';
import { type AgentClient, GuestFlags, errnoName } from './agent.ts';
import { BLK_CAPACITY_SECTORS } from './image/build.ts';
import { guestKernelArgs, parseGuestTarget } from './spec.ts';
import { body, Op } from './protocol.ts';
import { builtGuest, sharedGuest } from './testGuest.ts';
import { GUEST_NET_MAC, VhostVdpaTarget } from './vdpaTarget.ts';
import type { IoctlOutcome } from './vhostIoctl.ts';

const image = await builtGuest('guest:vdpa-sim smoke tests');

function u(o: IoctlOutcome, size: 1 | 2 | 4 | 8): bigint {
  if (o.kind !== 'ok') throw new Error(`ioctl ${o.kind === 'error' ? o.errno : o.kind}`);
  return size === 8 ? o.out.readBigUInt64LE(0) : BigInt(o.out.readUIntLE(0, size));
}

const MEM_SIZE = 0x20_0000n;
const RX = 0;
const TX = 1;
const QSIZE = 16;
const RX_BUF = 0x10_0000;
const TX_BUF = 0x18_0000;

/** Split-ring areas of `vq` in IOVA space: 64 KiB apart per queue. */
function ring(vq: number): { desc: number; avail: number; used: number } {
  const at = 0x1_0000 * (vq + 1);
  return { desc: at, avail: at + 0x1000, used: at + 0x2000 };
}

/** One split ring in guest memory, driven through the agent (virtio 1.2 §2.7.13 "Supplying Buffers to The Device"). */
class GuestSplitRing {
  #nextDesc = 0;
  #availIdx = 0;
  constructor(
    readonly agent: AgentClient,
    readonly at: (iova: number) => bigint,
    readonly r: { desc: number; avail: number; used: number },
  ) {}

  /** Writes `chain` as linked descriptors and publishes its head; returns the head. */
  async post(chain: readonly { addr: number; len: number; flags: number }[]): Promise<number> {
    const head = this.#nextDesc;
    // No descriptor is ever reused here, so the table must hold every chain of the test.
    if (head + chain.length > QSIZE) throw new Error(`the test posts more than ${QSIZE} descriptors`);
    for (const [i, d] of chain.entries()) {
      const last = i === chain.length - 1;
      const flags = last ? d.flags : d.flags | VRING_DESC_F_NEXT;
      await this.agent.memWrite(this.at(this.r.desc + (head + i) * vring_desc.size), encode(vring_desc, { addr: BigInt(d.addr), len: d.len, flags, next: last ? 0 : head + i + 1 }));
    }
    this.#nextDesc += chain.length;
    const entry = Buffer.alloc(2);
    entry.writeUInt16LE(head);
    await this.agent.memWrite(this.at(this.r.avail + splitRingOffsets.availRing(this.#availIdx % QSIZE)), entry);
    // The entry before the index that publishes it.
    const header = Buffer.alloc(vring_avail.size);
    encodeInto(vring_avail, { flags: 0, idx: ++this.#availIdx }, header, 0);
    await this.agent.memWrite(this.at(this.r.avail), header);
    return head;
  }

  /** The used ring's index and its entry `i`. */
  async used(i: number): Promise<{ idx: number; elem: { id: number; len: number } }> {
    const r = await this.agent.memRead(this.at(this.r.used), splitRingSizes(QSIZE).used);
    if (r.kind !== 'ok') throw new Error(r.kind);
    return { idx: decode(vring_used, r.body).idx, elem: decode(vring_used_elem, r.body, splitRingOffsets.usedRing(i)) };
  }
}

/**
 * Drives a fresh session to DRIVER_OK the way a vhost-vdpa front-end does: owner, IOTLB v2, status and
 * features, guest memory (one shared memfd mapping, at IOVA 0) through an IOTLB update, then each vq.
 */
async function startDataPath(s: VhostVdpaTarget, agent: AgentClient, features: bigint, vqs: readonly number[]): Promise<{ at: (iova: number) => bigint; rings: GuestSplitRing[] }> {
  await expectOk(s.send({ op: 'setOwner' }));
  expect((await s.ioctl('VHOST_SET_BACKEND_FEATURES', bit(VHOST_BACKEND_F_IOTLB_MSG_V2))).kind).toBe('ok');
  await expectOk(s.send({ op: 'setStatus', status: VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER }));
  await expectOk(s.send({ op: 'setFeatures', features }));
  const featuresOk = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK;
  await expectOk(s.send({ op: 'setStatus', status: featuresOk }));
  expect(await s.send({ op: 'getStatus' })).toEqual({ ok: true, value: featuresOk });
  const memfd = await agent.memfd(MEM_SIZE);
  const map = memfd.kind === 'ok' ? await agent.mmap(memfd.result, MEM_SIZE) : memfd;
  if (map.kind !== 'ok' || map.result !== 0) throw new Error('no guest memory mapping');
  const base = map.body.readBigUInt64LE(0);
  const at = (iova: number) => base + BigInt(iova);
  expect(await s.writeIotlb({ asid: 0, iotlb_iova: 0n, iotlb_size: MEM_SIZE, iotlb_uaddr: base, iotlb_perm: VHOST_ACCESS_RW, iotlb_type: VHOST_IOTLB_UPDATE })).toEqual({ kind: 'ok', written: vhost_msg_v2.size });
  for (const vq of vqs) {
    const r = ring(vq);
    await expectOk(s.send({ op: 'setVringNum', index: vq, num: QSIZE }));
    await expectOk(s.send({ op: 'setVringBase', index: vq, base: 0 }));
    await expectOk(s.send({ op: 'setVringAddr', index: vq, flags: 0, desc: BigInt(r.desc), avail: BigInt(r.avail), used: BigInt(r.used), log: 0n }));
    await expectOk(s.send({ op: 'setVringKick', index: vq }));
    await expectOk(s.send({ op: 'setVringCall', index: vq }));
    await expectOk(s.send({ op: 'setVringEnable', index: vq, enable: true }));
  }
  await expectOk(s.send({ op: 'setStatus', status: featuresOk | VIRTIO_CONFIG_S_DRIVER_OK }));
  return { at, rings: vqs.map((vq) => new GuestSplitRing(agent, at, ring(vq))) };
}

async function expectOk(p: Promise<unknown>): Promise<void> {
  expect(await p).toEqual({ ok: true });
}

function errno(o: IoctlOutcome | { ok: boolean; errno?: string } | object): string {
  if ('kind' in o) return o.kind === 'error' ? o.errno : o.kind;
  return 'errno' in o ? String(o.errno) : 'ok';
}

describe.skipIf(!image)('guest:vdpa-sim-net control plane (real kernel)', () => {
  const guest = sharedGuest(image);
  let t: VhostVdpaTarget;
  beforeAll(async () => {
    t = await VhostVdpaTarget.open(guest(), { deviceType: 'net' });
  }, 30_000);
  afterAll(async () => {
    await t?.close();
  });

  it('describes the device from its own answers: 3 vqs (VDPASIM_NET_VQ_NUM), queues of up to 256 (VDPASIM_QUEUE_MAX)', () => {
    expect(t.info).toMatchObject({ kind: 'kernel', deviceType: 'net', queues: 3, maxQueueSize: 256, version: image!.manifest.kernelRelease });
    expect(t.devicePath).toMatch(/^\/dev\/vhost-vdpa-\d+$/);
  });

  it('vhost-vdpa.device-id: VHOST_VDPA_GET_DEVICE_ID is 1 (net)', async () => {
    expect(u(await t.ioctl('VHOST_VDPA_GET_DEVICE_ID'), 4)).toBe(BigInt(VIRTIO_ID_NET));
  });

  it('VHOST_GET_FEATURES offers VDPASIM_NET_FEATURES: VERSION_1 and ACCESS_PLATFORM among them, nothing outside', async () => {
    const r = await t.send({ op: 'getFeatures' });
    if (!('ok' in r) || !r.ok || typeof r.value !== 'bigint') throw new Error(JSON.stringify(r));
    const features = r.value;
    for (const b of [VIRTIO_F_VERSION_1, VIRTIO_F_ACCESS_PLATFORM, VIRTIO_F_ANY_LAYOUT, VIRTIO_NET_F_MAC, VIRTIO_NET_F_STATUS, VIRTIO_NET_F_MTU, VIRTIO_NET_F_CTRL_VQ, VIRTIO_NET_F_CTRL_MAC_ADDR]) {
      expect(hasFeature(features, b), `feature bit ${b}`).toBe(true);
    }
    const netMask = [VIRTIO_F_VERSION_1, VIRTIO_F_ACCESS_PLATFORM, VIRTIO_F_ANY_LAYOUT, VIRTIO_NET_F_MAC, VIRTIO_NET_F_STATUS, VIRTIO_NET_F_MTU, VIRTIO_NET_F_CTRL_VQ, VIRTIO_NET_F_CTRL_MAC_ADDR].reduce((m, b) => m | bit(b), 0n);
    expect(features & ~netMask).toBe(0n);
  });

  it('GET_CONFIG returns the MAC the device was created with (vdpa dev add … mac)', async () => {
    const r = await t.send({ op: 'getConfig', offset: 0, size: 6 });
    if (!('ok' in r) || !r.ok || !(r.value instanceof Uint8Array)) throw new Error(JSON.stringify(r));
    expect(Buffer.from(r.value).toString('hex').match(/../g)!.join(':')).toBe(GUEST_NET_MAC);
  });

  it('vhost-vdpa.config.bounds: GET_CONFIG past the config space is EINVAL (vhost_vdpa_config_validate)', async () => {
    expect(errno(await t.send({ op: 'getConfig', offset: 0x1000, size: 4 }))).toBe('EINVAL');
  });

  it('status: starts at 0, keeps the bits set, refuses removing one, and 0 resets (vhost_vdpa_set_status)', async () => {
    expect(await t.send({ op: 'getStatus' })).toEqual({ ok: true, value: 0 });
    expect(await t.send({ op: 'setStatus', status: VIRTIO_CONFIG_S_ACKNOWLEDGE })).toEqual({ ok: true });
    expect(await t.send({ op: 'setStatus', status: VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER })).toEqual({ ok: true });
    expect(await t.send({ op: 'getStatus' })).toEqual({ ok: true, value: VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER });
    expect(errno(await t.send({ op: 'setStatus', status: VIRTIO_CONFIG_S_ACKNOWLEDGE }))).toBe('EINVAL');
    expect(await t.send({ op: 'resetDevice' })).toEqual({ ok: true });
    expect(await t.send({ op: 'getStatus' })).toEqual({ ok: true, value: 0 });
  });

  it('vhost-vdpa.backend-features: MSG_V2, BATCH and ASID offered; an unknown bit is EOPNOTSUPP; the offered ones are taken', async () => {
    const offered = u(await t.ioctl('VHOST_GET_BACKEND_FEATURES'), 8);
    for (const b of [VHOST_BACKEND_F_IOTLB_MSG_V2, VHOST_BACKEND_F_IOTLB_BATCH, VHOST_BACKEND_F_IOTLB_ASID]) expect(hasFeature(offered, b), `backend bit ${b}`).toBe(true);
    expect(errno(await t.ioctl('VHOST_SET_BACKEND_FEATURES', 1n << 63n))).toBe('EOPNOTSUPP');
    expect((await t.ioctl('VHOST_SET_BACKEND_FEATURES', bit(VHOST_BACKEND_F_IOTLB_MSG_V2) | bit(VHOST_BACKEND_F_IOTLB_BATCH))).kind).toBe('ok');
  });

  it('VHOST_VDPA_GET_VQS_COUNT and GET_VRING_NUM agree with the info', async () => {
    expect(u(await t.ioctl('VHOST_VDPA_GET_VQS_COUNT'), 4)).toBe(3n);
    expect(u(await t.ioctl('VHOST_VDPA_GET_VRING_NUM'), 2)).toBe(256n);
    expect(await t.send({ op: 'getQueueNum' })).toEqual({ ok: true, value: 3 });
  });

  it('vring ioctls before SET_OWNER are EPERM (vhost_dev_ioctl: "You must be the owner"); SET_OWNER twice is EBUSY', async () => {
    expect(errno(await t.send({ op: 'setVringNum', index: 0, num: 64 }))).toBe('EPERM');
    expect(await t.send({ op: 'setOwner' })).toEqual({ ok: true });
    expect(errno(await t.send({ op: 'setOwner' }))).toBe('EBUSY');
  });

  it('vhost-vdpa.vring.index-range: a vring index past nvqs is ENOBUFS; kick and call eventfds are accepted', async () => {
    expect(errno(await t.send({ op: 'setVringNum', index: 3, num: 64 }))).toBe('ENOBUFS');
    expect(await t.send({ op: 'setVringNum', index: 0, num: 64 })).toEqual({ ok: true });
    expect(await t.send({ op: 'setVringKick', index: 0 })).toEqual({ ok: true });
    expect(await t.send({ op: 'setVringCall', index: 0 })).toEqual({ ok: true });
    expect(await t.send({ op: 'setVringCall', index: 0, invalid: true })).toEqual({ ok: true });
  });

  it('vhost-vdpa.open-exclusive: a second open of the node is EBUSY while the session holds it', async () => {
    const second = await guest().agent.open(t.devicePath, GuestFlags.O_RDWR);
    expect(second.kind === 'ok' && errnoName(second.result)).toBe('EBUSY');
  });

  it('is alive, hung while the agent is stuck, and has no answer of its own for a vhost-user-only message', async () => {
    expect(await t.health()).toEqual({ state: 'alive' });
    const efd = await guest().agent.eventfd();
    if (efd.kind !== 'ok') throw new Error(efd.kind);
    expect((await guest().agent.request(Op.eventfdWait, body.eventfdWait(efd.result, 1000), 100)).kind).toBe('timeout');
    expect(await t.health()).toEqual({ state: 'hung' });
    expect((await guest().agent.request(Op.hello, Buffer.alloc(0))).kind).toBe('ok');
    expect(await t.health()).toEqual({ state: 'alive' });
    await expect(t.send({ op: 'getProtocolFeatures' })).rejects.toThrow(/not applicable on this transport/);
  });

  it('data path: a frame sent on TX comes back on RX (vdpasim_net_work loopback), through the IOTLB, use_va', async () => {
    // A fresh session: the tests above left the device owned and its status changed.
    await t.close();
    const s = await VhostVdpaTarget.open(guest(), { deviceType: 'net' });
    const agent = guest().agent;
    try {
      // vdpasim_set_driver_features() refuses a driver without ACCESS_PLATFORM.
      const { at, rings } = await startDataPath(s, agent, bit(VIRTIO_F_VERSION_1) | bit(VIRTIO_F_ACCESS_PLATFORM) | bit(VIRTIO_NET_F_MAC), [RX, TX]);
      const [rx, tx] = rings as [GuestSplitRing, GuestSplitRing];

      // RX: one writable 2 KiB buffer. TX: a broadcast frame behind a zeroed virtio_net_hdr_v1 (receive_filter passes broadcasts).
      const frame = Buffer.concat([
        Buffer.alloc(virtio_net_hdr_v1.size),
        Buffer.from('ffffffffffff', 'hex'),
        Buffer.from(GUEST_NET_MAC.replace(/:/g, ''), 'hex'),
        Buffer.from('88b5', 'hex'),
        Buffer.from('vhostcheck loopback through vdpa_sim_net'),
      ]);
      await rx.post([{ addr: RX_BUF, len: 2048, flags: VRING_DESC_F_WRITE }]);
      await agent.memWrite(at(TX_BUF), frame);
      await tx.post([{ addr: TX_BUF, len: frame.length, flags: 0 }]);
      await s.kick(RX);
      await s.kick(TX);

      expect(await s.waitCall(RX, 5000)).toBe(true);
      expect(await rx.used(0)).toEqual({ idx: 1, elem: { id: 0, len: frame.length } });
      const received = await agent.memRead(at(RX_BUF), frame.length);
      expect(received.kind === 'ok' && received.body.equals(frame)).toBe(true);
      expect(await s.health()).toEqual({ state: 'alive' });
    } finally {
      await s.close();
    }
  });
});

describe.skipIf(!image)('guest:vdpa-sim-blk,use_va=0,batch_mapping=0 control plane, in a 96 MiB guest (real kernel)', () => {
  const spec = parseGuestTarget('vdpa-sim-blk,use_va=0,batch_mapping=0');
  if ('problem' in spec) throw new Error(spec.problem);
  // The smallest guest the image is built for: vdpa_sim_blk's disk is BLK_CAPACITY_SECTORS, not upstream's 128 MiB.
  const guest = sharedGuest(image, { append: guestKernelArgs(spec), memoryMb: 96 });

  it('the variant reaches the module: /sys/module/vdpa_sim/parameters say use_va N, batch_mapping 0', async () => {
    const read = async (param: string) => {
      const fd = await guest().agent.open(`/sys/module/vdpa_sim/parameters/${param}`, 0);
      if (fd.kind !== 'ok' || fd.result < 0) throw new Error(`no parameter ${param}`);
      const r = await guest().agent.read(fd.result, 64, 1000);
      await guest().agent.closeFd(fd.result);
      return r.kind === 'ok' ? r.body.toString().trim() : r.kind;
    };
    expect(await read('use_va')).toBe('N');
    expect(await read('batch_mapping')).toBe('0');
  });

  it('device id 2, one vq (VDPASIM_BLK_VQ_NUM), VERSION_1 and ACCESS_PLATFORM, capacity as built', async () => {
    const t = await VhostVdpaTarget.open(guest(), { deviceType: 'blk' });
    try {
      expect(t.info).toMatchObject({ deviceType: 'blk', queues: 1, maxQueueSize: 256 });
      expect(u(await t.ioctl('VHOST_VDPA_GET_DEVICE_ID'), 4)).toBe(BigInt(VIRTIO_ID_BLOCK));
      const f = await t.send({ op: 'getFeatures' });
      if (!('ok' in f) || !f.ok || typeof f.value !== 'bigint') throw new Error(JSON.stringify(f));
      expect(hasFeature(f.value, VIRTIO_F_VERSION_1) && hasFeature(f.value, VIRTIO_F_ACCESS_PLATFORM)).toBe(true);
      // virtio_blk_config.capacity (u64 at 0), in 512-byte sectors: the image's patched VDPASIM_BLK_CAPACITY.
      const c = await t.send({ op: 'getConfig', offset: 0, size: 8 });
      if (!('ok' in c) || !c.ok || !(c.value instanceof Uint8Array)) throw new Error(JSON.stringify(c));
      expect(Buffer.from(c.value).readBigUInt64LE(0)).toBe(BigInt(BLK_CAPACITY_SECTORS));
    } finally {
      await t.close();
    }
  });

  it('close() deletes the vdpa device, so a new session can add it again', async () => {
    const t = await VhostVdpaTarget.open(guest(), { deviceType: 'blk' });
    await t.close();
    const list = await guest().agent.vdpa(['dev', 'show']);
    expect(list.kind === 'ok' && list.body.toString()).not.toMatch(/vhostcheck-blk/);
    const again = await VhostVdpaTarget.open(guest(), { deviceType: 'blk' });
    await again.close();
  });

  it('data path under use_va=0: a sector written reads back, a read past the capacity is IOERR (vdpasim_blk_handle_req)', async () => {
    const s = await VhostVdpaTarget.open(guest(), { deviceType: 'blk' });
    const agent = guest().agent;
    try {
      const { at, rings } = await startDataPath(s, agent, bit(VIRTIO_F_VERSION_1) | bit(VIRTIO_F_ACCESS_PLATFORM), [0]);
      const vq = rings[0]!;
      const HDR = 0x10_0000;
      const DATA = 0x11_0000;
      const STATUS = 0x12_0000;
      const request = async (type: number, sector: bigint, slot: number, dataFlags: number) => {
        await agent.memWrite(at(HDR + slot * 0x100), encode(virtio_blk_outhdr, { type, ioprio: 0, sector }));
        await agent.memWrite(at(STATUS + slot), Buffer.from([0xff]));
        const head = await vq.post([
          { addr: HDR + slot * 0x100, len: virtio_blk_outhdr.size, flags: 0 },
          { addr: DATA + slot * VIRTIO_BLK_SECTOR_SIZE, len: VIRTIO_BLK_SECTOR_SIZE, flags: dataFlags },
          { addr: STATUS + slot, len: 1, flags: VRING_DESC_F_WRITE },
        ]);
        await s.kick(0);
        expect(await s.waitCall(0, 5000)).toBe(true);
        const status = await agent.memRead(at(STATUS + slot), 1);
        return { head, status: status.kind === 'ok' ? status.body[0] : -1, used: await vq.used(slot) };
      };
      const pattern = Buffer.alloc(VIRTIO_BLK_SECTOR_SIZE, 0).map((_, i) => (i * 7 + 3) & 0xff);
      await agent.memWrite(at(DATA), pattern);
      const write = await request(VIRTIO_BLK_T_OUT, 5n, 0, 0);
      expect(write.status).toBe(VIRTIO_BLK_S_OK);
      const read = await request(VIRTIO_BLK_T_IN, 5n, 1, VRING_DESC_F_WRITE);
      expect(read.status).toBe(VIRTIO_BLK_S_OK);
      // The device wrote the sector and the status byte: used.len counts both.
      expect(read.used).toEqual({ idx: 2, elem: { id: read.head, len: VIRTIO_BLK_SECTOR_SIZE + 1 } });
      const back = await agent.memRead(at(DATA + VIRTIO_BLK_SECTOR_SIZE), VIRTIO_BLK_SECTOR_SIZE);
      expect(back.kind === 'ok' && back.body.equals(pattern)).toBe(true);
      // vdpasim_blk_check_range(): the disk ends at the capacity this image was built with.
      const past = await request(VIRTIO_BLK_T_IN, BigInt(BLK_CAPACITY_SECTORS), 2, VRING_DESC_F_WRITE);
      expect(past.status).toBe(VIRTIO_BLK_S_IOERR);
    } finally {
      await s.close();
    }
  });
});

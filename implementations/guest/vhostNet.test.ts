// Device-IOTLB smoke test of guest:vhost-net against the real kernel in the
// QEMU guest (skipped with a reason when the guest is not built). Expected
// answers are cited from the 6.12 source: drivers/vhost/net.c (features,
// backend features, vhost_net_set_features), drivers/vhost/vhost.c
// (vhost_chr_write_iter, vhost_process_iotlb_msg, vhost_iotlb_miss) and
// drivers/vhost/iotlb.c (vhost_iotlb_add_range).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VHOST_ACCESS_RO, VHOST_ACCESS_RW, VHOST_BACKEND_F_IOTLB_MSG_V2, VHOST_IOTLB_INVALIDATE, VHOST_IOTLB_MISS, VHOST_IOTLB_MSG_V2, VHOST_IOTLB_UPDATE, vhost_msg_v2 } from '../../spec/vhost/types.ts';
import { bit, hasFeature, VIRTIO_F_ACCESS_PLATFORM, VIRTIO_F_VERSION_1 } from '../../spec/virtio/features.ts';
import { builtGuest, sharedGuest } from './testGuest.ts';
import { GuestVhostNet } from './vhostNet.ts';
import type { IoctlOutcome } from './vhostIoctl.ts';

const image = await builtGuest('guest:vhost-net IOTLB smoke tests');

const TX = 1;
/** Where the suite puts the TX ring, in I/O virtual addresses: 16 KiB apart, all inside one 64 KiB window. */
const RING = { desc: 0x1_0000n, avail: 0x1_4000n, used: 0x1_8000n };
const WINDOW = { iova: 0x1_0000n, size: 0x1_0000n };

function ok(o: IoctlOutcome): Buffer {
  if (o.kind !== 'ok') throw new Error(`ioctl ${o.kind === 'error' ? o.errno : o.kind}`);
  return o.out;
}

describe.skipIf(!image)('guest:vhost-net device IOTLB (real kernel)', () => {
  const guest = sharedGuest(image);
  let net: GuestVhostNet;
  let window: bigint;
  let kickFd: number;
  beforeAll(async () => {
    net = await GuestVhostNet.open(guest());
    const memfd = await guest().agent.memfd(WINDOW.size);
    const map = memfd.kind === 'ok' ? await guest().agent.mmap(memfd.result, WINDOW.size) : memfd;
    if (map.kind !== 'ok' || map.result !== 0) throw new Error('no guest mapping for the IOTLB window');
    window = map.body.readBigUInt64LE(0);
  }, 30_000);
  afterAll(async () => {
    await net?.close();
  });

  it('offers ACCESS_PLATFORM and MSG_V2 (VHOST_NET_FEATURES, VHOST_NET_BACKEND_FEATURES)', async () => {
    ok(await net.ioctl('VHOST_SET_OWNER'));
    expect(hasFeature(ok(await net.ioctl('VHOST_GET_FEATURES')).readBigUInt64LE(0), VIRTIO_F_ACCESS_PLATFORM)).toBe(true);
    expect(ok(await net.ioctl('VHOST_GET_BACKEND_FEATURES')).readBigUInt64LE(0)).toBe(bit(VHOST_BACKEND_F_IOTLB_MSG_V2));
  });

  it('an UPDATE before ACCESS_PLATFORM is negotiated is EFAULT: there is no device IOTLB yet', async () => {
    ok(await net.ioctl('VHOST_SET_BACKEND_FEATURES', bit(VHOST_BACKEND_F_IOTLB_MSG_V2)));
    expect(await net.writeIotlb({ asid: 0, iotlb_iova: WINDOW.iova, iotlb_size: WINDOW.size, iotlb_uaddr: window, iotlb_perm: VHOST_ACCESS_RW, iotlb_type: VHOST_IOTLB_UPDATE })).toEqual({ kind: 'error', errno: 'EFAULT' });
  });

  it('attaching the backend needs a memory table, then with the used ring unmapped is EFAULT and the kernel asks: a v2 MISS for the used ring', async () => {
    ok(await net.ioctl('VHOST_SET_FEATURES', bit(VIRTIO_F_VERSION_1) | bit(VIRTIO_F_ACCESS_PLATFORM)));
    ok(await net.ioctl('VHOST_SET_VRING_NUM', { value: { index: TX, num: 256 } }));
    ok(await net.ioctl('VHOST_SET_VRING_BASE', { value: { index: TX, num: 0 } }));
    // With a device IOTLB the ring addresses are IOVAs, checked at first use, not here (vq_access_ok()).
    ok(await net.ioctl('VHOST_SET_VRING_ADDR', { value: { index: TX, flags: 0, desc_user_addr: RING.desc, used_user_addr: RING.used, avail_user_addr: RING.avail, log_guest_addr: 0n } }));
    const kick = await guest().agent.eventfd();
    const call = await guest().agent.eventfd();
    if (kick.kind !== 'ok' || call.kind !== 'ok') throw new Error('eventfd');
    kickFd = kick.result;
    ok(await net.ioctl('VHOST_SET_VRING_KICK', { value: { index: TX, fd: kick.result } }));
    ok(await net.ioctl('VHOST_SET_VRING_CALL', { value: { index: TX, fd: call.result } }));
    // De facto: even with a device IOTLB, vhost_vq_access_ok() → vq_memory_access_ok() wants a memory
    // table (umem) to exist; without VHOST_SET_MEM_TABLE the backend cannot attach. An empty one will do.
    expect(await net.setBackend(TX)).toEqual({ kind: 'error', errno: 'EFAULT' });
    expect(await net.readIotlb(200)).toBeNull();
    ok(await net.ioctl('VHOST_SET_MEM_TABLE', { value: { nregions: 0, padding: 0 } }));
    // vhost_vq_init_access() writes used->flags first (vhost_update_used_flags()); nothing maps it yet, so
    // translate_desc() queues a miss. __vhost_get_user_slow() translates with VHOST_ACCESS_RO even for this write.
    expect(await net.setBackend(TX)).toEqual({ kind: 'error', errno: 'EFAULT' });
    expect(await net.readIotlb(3000)).toMatchObject({ type: VHOST_IOTLB_MSG_V2, iotlb_type: VHOST_IOTLB_MISS, iotlb_iova: RING.used, iotlb_perm: VHOST_ACCESS_RO });
  });

  it('after an UPDATE covering the ring (the write returns sizeof(vhost_msg_v2)) the backend attaches and a kick misses nothing', async () => {
    const r = await net.writeIotlb({ asid: 0, iotlb_iova: WINDOW.iova, iotlb_size: WINDOW.size, iotlb_uaddr: window, iotlb_perm: VHOST_ACCESS_RW, iotlb_type: VHOST_IOTLB_UPDATE });
    expect(r).toEqual({ kind: 'ok', written: vhost_msg_v2.size });
    ok(await net.setBackend(TX));
    await guest().agent.eventfdSignal(kickFd);
    expect(await net.readIotlb(300)).toBeNull();
  });

  it('after an INVALIDATE of the window the next kick misses again, on the descriptor table, read-only', async () => {
    expect(await net.writeIotlb({ asid: 0, iotlb_iova: WINDOW.iova, iotlb_size: WINDOW.size, iotlb_uaddr: 0n, iotlb_perm: 0, iotlb_type: VHOST_IOTLB_INVALIDATE })).toEqual({ kind: 'ok', written: vhost_msg_v2.size });
    await guest().agent.eventfdSignal(kickFd);
    // handle_tx() → vq_meta_prefetch() asks for the descriptor table first.
    expect(await net.readIotlb(3000)).toMatchObject({ iotlb_type: VHOST_IOTLB_MISS, iotlb_iova: RING.desc, iotlb_perm: VHOST_ACCESS_RO });
  });

  it('refuses malformed updates: size 0 (EINVAL), a range wrapping 2^64, a kernel uaddr, an unknown type (all EFAULT or EINVAL)', async () => {
    const base = { asid: 0, iotlb_perm: VHOST_ACCESS_RW, iotlb_type: VHOST_IOTLB_UPDATE };
    expect(await net.writeIotlb({ ...base, iotlb_iova: 0x10_0000n, iotlb_size: 0n, iotlb_uaddr: window })).toEqual({ kind: 'error', errno: 'EINVAL' });
    // vhost_iotlb_add_range(): last < start once iova + size - 1 wraps; the error surfaces as EFAULT (vhost_chr_write_iter maps every handler error to it).
    expect(await net.writeIotlb({ ...base, iotlb_iova: 0xffff_ffff_ffff_f000n, iotlb_size: 0x2000n, iotlb_uaddr: window })).toEqual({ kind: 'error', errno: 'EFAULT' });
    // umem_access_ok(): a kernel address is not user memory.
    expect(await net.writeIotlb({ ...base, iotlb_iova: 0x10_0000n, iotlb_size: 0x1000n, iotlb_uaddr: 0xffff_8880_0000_0000n })).toEqual({ kind: 'error', errno: 'EFAULT' });
    expect(await net.writeIotlb({ ...base, iotlb_iova: 0x10_0000n, iotlb_size: 0x1000n, iotlb_uaddr: window, iotlb_type: 0x7f })).toEqual({ kind: 'error', errno: 'EFAULT' });
  });
});

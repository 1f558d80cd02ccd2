// vhost-vdpa UAPI numbers newer than the installed header (Debian 12's
// /usr/include/linux/vhost_types.h, from Linux 6.1, stops at SUSPEND), so
// spec/vhost cannot check them against it (spec/headers.test.ts): they are
// copied once, here, from the kernel under test's own UAPI header,
// linux-source-6.12 (6.12.118) include/uapi/linux/vhost_types.h lines 182-192.
// Backend feature bits are bit numbers, as in spec/vhost/types.ts (mask is 1n << BigInt(bit)).
import { defineIoctls, type IoctlInfo, noArg } from '../ioctl.ts';
import { VHOST_VIRTIO } from './ioctls.ts';

/** "Device can be resumed" (VHOST_VDPA_RESUME). */
export const VHOST_BACKEND_F_RESUME = 0x5;
/** "Device supports the driver enabling virtqueues both before and after DRIVER_OK". */
export const VHOST_BACKEND_F_ENABLE_AFTER_DRIVER_OK = 0x6;
/** "Device may expose the virtqueue's descriptor area to a different group … Requires VHOST_BACKEND_F_IOTLB_ASID." */
export const VHOST_BACKEND_F_DESC_ASID = 0x7;

/** VHOST_VDPA_RESUME, _IO(VHOST_VIRTIO, 0x7E): include/uapi/linux/vhost.h line 214 of the same source. */
export const VHOST_VDPA_RESUME: IoctlInfo = defineIoctls(VHOST_VIRTIO, { VHOST_VDPA_RESUME: { macro: '_IO', nr: 0x7e, arg: noArg } }).table[0]!;

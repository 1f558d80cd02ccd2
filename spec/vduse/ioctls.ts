// Every ioctl of include/uapi/linux/vduse.h: those of the control device
// (/dev/vduse/control, nr 0x00..0x03) and of a VDUSE device
// (/dev/vduse/$NAME, nr 0x10..). Numbers are computed from VDUSE_BASE, the nr
// and the argument's table size; spec/headers.test.ts compares them with the
// installed header.
import { arrayArg, defineIoctls, noArg, scalarArg, structArg } from '../ioctl.ts';
import {
  VDUSE_NAME_MAX,
  vduse_config_data,
  vduse_dev_config,
  vduse_iotlb_entry,
  vduse_iova_info,
  vduse_iova_umem,
  vduse_vq_config,
  vduse_vq_eventfd,
  vduse_vq_info__split,
} from './types.ts';

/** The ioctl type byte of every VDUSE ioctl. */
export const VDUSE_BASE = 0x81;

/** The only API version so far; negotiated with VDUSE_GET/SET_API_VERSION. */
export const VDUSE_API_VERSION = 0;

const { numbers, table } = defineIoctls(VDUSE_BASE, {
  VDUSE_GET_API_VERSION: { macro: '_IOR', nr: 0x00, arg: scalarArg('__u64') },
  VDUSE_SET_API_VERSION: { macro: '_IOW', nr: 0x01, arg: scalarArg('__u64') },
  VDUSE_CREATE_DEV: { macro: '_IOW', nr: 0x02, arg: structArg(vduse_dev_config, 'config') },
  VDUSE_DESTROY_DEV: { macro: '_IOW', nr: 0x03, arg: arrayArg('char[VDUSE_NAME_MAX]', VDUSE_NAME_MAX) },

  VDUSE_IOTLB_GET_FD: { macro: '_IOWR', nr: 0x10, arg: structArg(vduse_iotlb_entry) },
  VDUSE_DEV_GET_FEATURES: { macro: '_IOR', nr: 0x11, arg: scalarArg('__u64') },
  VDUSE_DEV_SET_CONFIG: { macro: '_IOW', nr: 0x12, arg: structArg(vduse_config_data, 'buffer') },
  VDUSE_DEV_INJECT_CONFIG_IRQ: { macro: '_IO', nr: 0x13, arg: noArg },
  VDUSE_VQ_SETUP: { macro: '_IOW', nr: 0x14, arg: structArg(vduse_vq_config) },
  // Either variant table would do: both have the C size; which one decodes
  // the result depends on the ring layout negotiated.
  VDUSE_VQ_GET_INFO: { macro: '_IOWR', nr: 0x15, arg: structArg(vduse_vq_info__split) },
  VDUSE_VQ_SETUP_KICKFD: { macro: '_IOW', nr: 0x16, arg: structArg(vduse_vq_eventfd) },
  VDUSE_VQ_INJECT_IRQ: { macro: '_IOW', nr: 0x17, arg: scalarArg('__u32') },
  VDUSE_IOTLB_REG_UMEM: { macro: '_IOW', nr: 0x18, arg: structArg(vduse_iova_umem) },
  VDUSE_IOTLB_DEREG_UMEM: { macro: '_IOW', nr: 0x19, arg: structArg(vduse_iova_umem) },
  VDUSE_IOTLB_GET_INFO: { macro: '_IOWR', nr: 0x1a, arg: structArg(vduse_iova_info) },
});

/** Every VDUSE ioctl: name, number, macro, argument and whether the kernel writes back through it. */
export const VDUSE_IOCTLS = table;

export const VDUSE_GET_API_VERSION = numbers.VDUSE_GET_API_VERSION;
export const VDUSE_SET_API_VERSION = numbers.VDUSE_SET_API_VERSION;
export const VDUSE_CREATE_DEV = numbers.VDUSE_CREATE_DEV;
export const VDUSE_DESTROY_DEV = numbers.VDUSE_DESTROY_DEV;
export const VDUSE_IOTLB_GET_FD = numbers.VDUSE_IOTLB_GET_FD;
export const VDUSE_DEV_GET_FEATURES = numbers.VDUSE_DEV_GET_FEATURES;
export const VDUSE_DEV_SET_CONFIG = numbers.VDUSE_DEV_SET_CONFIG;
export const VDUSE_DEV_INJECT_CONFIG_IRQ = numbers.VDUSE_DEV_INJECT_CONFIG_IRQ;
export const VDUSE_VQ_SETUP = numbers.VDUSE_VQ_SETUP;
export const VDUSE_VQ_GET_INFO = numbers.VDUSE_VQ_GET_INFO;
export const VDUSE_VQ_SETUP_KICKFD = numbers.VDUSE_VQ_SETUP_KICKFD;
export const VDUSE_VQ_INJECT_IRQ = numbers.VDUSE_VQ_INJECT_IRQ;
export const VDUSE_IOTLB_REG_UMEM = numbers.VDUSE_IOTLB_REG_UMEM;
export const VDUSE_IOTLB_DEREG_UMEM = numbers.VDUSE_IOTLB_DEREG_UMEM;
export const VDUSE_IOTLB_GET_INFO = numbers.VDUSE_IOTLB_GET_INFO;

// Every ioctl and constant of include/uapi/linux/vhost.h: the vhost core
// (vhost-net, vhost-scsi, vhost-vsock and vhost-vdpa share it) and the
// device-specific ones. Each number is computed from VHOST_VIRTIO, the nr and
// the size of the argument's struct table, so a number and the layout it
// carries come from one place; spec/headers.test.ts compares every number
// with the installed header.
import { defineIoctls, noArg as none, scalarArg as scalar, structArg as struct } from '../ioctl.ts';
import {
  vhost_memory,
  vhost_scsi_target,
  vhost_vdpa_config,
  vhost_vdpa_iova_range,
  vhost_vring_addr,
  vhost_vring_file,
  vhost_vring_state,
} from './types.ts';

/** vhost_vring_file.fd value that detaches the eventfd / backend socket. */
export const VHOST_FILE_UNBIND = -1;

/** The ioctl type byte of every vhost ioctl. */
export const VHOST_VIRTIO = 0xaf;

/** vhost_vring_state.num values for VHOST_SET/GET_VRING_ENDIAN (legacy, ignored once VIRTIO_F_VERSION_1 is set). */
export const VHOST_VRING_LITTLE_ENDIAN = 0;
export const VHOST_VRING_BIG_ENDIAN = 1;

const { numbers, table } = defineIoctls(VHOST_VIRTIO, {
  VHOST_GET_FEATURES: { macro: '_IOR', nr: 0x00, arg: scalar('__u64') },
  VHOST_SET_FEATURES: { macro: '_IOW', nr: 0x00, arg: scalar('__u64') },
  VHOST_SET_OWNER: { macro: '_IO', nr: 0x01, arg: none },
  VHOST_RESET_OWNER: { macro: '_IO', nr: 0x02, arg: none },
  VHOST_SET_MEM_TABLE: { macro: '_IOW', nr: 0x03, arg: struct(vhost_memory, 'regions') },
  VHOST_SET_LOG_BASE: { macro: '_IOW', nr: 0x04, arg: scalar('__u64') },
  VHOST_SET_LOG_FD: { macro: '_IOW', nr: 0x07, arg: scalar('int') },

  VHOST_SET_VRING_NUM: { macro: '_IOW', nr: 0x10, arg: struct(vhost_vring_state) },
  VHOST_SET_VRING_ADDR: { macro: '_IOW', nr: 0x11, arg: struct(vhost_vring_addr) },
  VHOST_SET_VRING_BASE: { macro: '_IOW', nr: 0x12, arg: struct(vhost_vring_state) },
  VHOST_GET_VRING_BASE: { macro: '_IOWR', nr: 0x12, arg: struct(vhost_vring_state) },
  VHOST_SET_VRING_ENDIAN: { macro: '_IOW', nr: 0x13, arg: struct(vhost_vring_state) },
  // _IOW in the header, yet drivers/vhost/vhost.c vhost_get_vring_endian()
  // copy_to_user()s the state back.
  VHOST_GET_VRING_ENDIAN: { macro: '_IOW', nr: 0x14, arg: struct(vhost_vring_state), writesBackDespiteMacro: true },

  VHOST_SET_VRING_KICK: { macro: '_IOW', nr: 0x20, arg: struct(vhost_vring_file) },
  VHOST_SET_VRING_CALL: { macro: '_IOW', nr: 0x21, arg: struct(vhost_vring_file) },
  VHOST_SET_VRING_ERR: { macro: '_IOW', nr: 0x22, arg: struct(vhost_vring_file) },
  VHOST_SET_VRING_BUSYLOOP_TIMEOUT: { macro: '_IOW', nr: 0x23, arg: struct(vhost_vring_state) },
  // _IOW, but drivers/vhost/vhost.c vhost_vring_ioctl() copy_to_user()s the state.
  VHOST_GET_VRING_BUSYLOOP_TIMEOUT: { macro: '_IOW', nr: 0x24, arg: struct(vhost_vring_state), writesBackDespiteMacro: true },

  VHOST_SET_BACKEND_FEATURES: { macro: '_IOW', nr: 0x25, arg: scalar('__u64') },
  VHOST_GET_BACKEND_FEATURES: { macro: '_IOR', nr: 0x26, arg: scalar('__u64') },

  VHOST_NET_SET_BACKEND: { macro: '_IOW', nr: 0x30, arg: struct(vhost_vring_file) },

  VHOST_SCSI_SET_ENDPOINT: { macro: '_IOW', nr: 0x40, arg: struct(vhost_scsi_target) },
  VHOST_SCSI_CLEAR_ENDPOINT: { macro: '_IOW', nr: 0x41, arg: struct(vhost_scsi_target) },
  // Both _IOW, both written back by drivers/vhost/scsi.c vhost_scsi_ioctl()
  // (copy_to_user / put_user).
  VHOST_SCSI_GET_ABI_VERSION: { macro: '_IOW', nr: 0x42, arg: scalar('int'), writesBackDespiteMacro: true },
  VHOST_SCSI_SET_EVENTS_MISSED: { macro: '_IOW', nr: 0x43, arg: scalar('__u32') },
  VHOST_SCSI_GET_EVENTS_MISSED: { macro: '_IOW', nr: 0x44, arg: scalar('__u32'), writesBackDespiteMacro: true },

  VHOST_VSOCK_SET_GUEST_CID: { macro: '_IOW', nr: 0x60, arg: scalar('__u64') },
  VHOST_VSOCK_SET_RUNNING: { macro: '_IOW', nr: 0x61, arg: scalar('int') },

  VHOST_VDPA_GET_DEVICE_ID: { macro: '_IOR', nr: 0x70, arg: scalar('__u32') },
  VHOST_VDPA_GET_STATUS: { macro: '_IOR', nr: 0x71, arg: scalar('__u8') },
  VHOST_VDPA_SET_STATUS: { macro: '_IOW', nr: 0x72, arg: scalar('__u8') },
  // _IOR, but the kernel also reads off/len from the header before filling buf[].
  VHOST_VDPA_GET_CONFIG: { macro: '_IOR', nr: 0x73, arg: struct(vhost_vdpa_config, 'buf') },
  VHOST_VDPA_SET_CONFIG: { macro: '_IOW', nr: 0x74, arg: struct(vhost_vdpa_config, 'buf') },
  VHOST_VDPA_SET_VRING_ENABLE: { macro: '_IOW', nr: 0x75, arg: struct(vhost_vring_state) },
  VHOST_VDPA_GET_VRING_NUM: { macro: '_IOR', nr: 0x76, arg: scalar('__u16') },
  VHOST_VDPA_SET_CONFIG_CALL: { macro: '_IOW', nr: 0x77, arg: scalar('int') },
  VHOST_VDPA_GET_IOVA_RANGE: { macro: '_IOR', nr: 0x78, arg: struct(vhost_vdpa_iova_range) },
  VHOST_VDPA_GET_CONFIG_SIZE: { macro: '_IOR', nr: 0x79, arg: scalar('__u32') },
  VHOST_VDPA_GET_AS_NUM: { macro: '_IOR', nr: 0x7a, arg: scalar('unsigned int') },
  VHOST_VDPA_GET_VRING_GROUP: { macro: '_IOWR', nr: 0x7b, arg: struct(vhost_vring_state) },
  VHOST_VDPA_SET_GROUP_ASID: { macro: '_IOW', nr: 0x7c, arg: struct(vhost_vring_state) },
  VHOST_VDPA_SUSPEND: { macro: '_IO', nr: 0x7d, arg: none },
  VHOST_VDPA_GET_VQS_COUNT: { macro: '_IOR', nr: 0x80, arg: scalar('__u32') },
  VHOST_VDPA_GET_GROUP_NUM: { macro: '_IOR', nr: 0x81, arg: scalar('__u32') },
});

/** Every vhost ioctl: name, number, macro, argument and whether the kernel writes back through it. */
export const VHOST_IOCTLS = table;

export const VHOST_GET_FEATURES = numbers.VHOST_GET_FEATURES;
export const VHOST_SET_FEATURES = numbers.VHOST_SET_FEATURES;
export const VHOST_SET_OWNER = numbers.VHOST_SET_OWNER;
export const VHOST_RESET_OWNER = numbers.VHOST_RESET_OWNER;
export const VHOST_SET_MEM_TABLE = numbers.VHOST_SET_MEM_TABLE;
export const VHOST_SET_LOG_BASE = numbers.VHOST_SET_LOG_BASE;
export const VHOST_SET_LOG_FD = numbers.VHOST_SET_LOG_FD;
export const VHOST_SET_VRING_NUM = numbers.VHOST_SET_VRING_NUM;
export const VHOST_SET_VRING_ADDR = numbers.VHOST_SET_VRING_ADDR;
export const VHOST_SET_VRING_BASE = numbers.VHOST_SET_VRING_BASE;
export const VHOST_GET_VRING_BASE = numbers.VHOST_GET_VRING_BASE;
export const VHOST_SET_VRING_ENDIAN = numbers.VHOST_SET_VRING_ENDIAN;
export const VHOST_GET_VRING_ENDIAN = numbers.VHOST_GET_VRING_ENDIAN;
export const VHOST_SET_VRING_KICK = numbers.VHOST_SET_VRING_KICK;
export const VHOST_SET_VRING_CALL = numbers.VHOST_SET_VRING_CALL;
export const VHOST_SET_VRING_ERR = numbers.VHOST_SET_VRING_ERR;
export const VHOST_SET_VRING_BUSYLOOP_TIMEOUT = numbers.VHOST_SET_VRING_BUSYLOOP_TIMEOUT;
export const VHOST_GET_VRING_BUSYLOOP_TIMEOUT = numbers.VHOST_GET_VRING_BUSYLOOP_TIMEOUT;
export const VHOST_SET_BACKEND_FEATURES = numbers.VHOST_SET_BACKEND_FEATURES;
export const VHOST_GET_BACKEND_FEATURES = numbers.VHOST_GET_BACKEND_FEATURES;
export const VHOST_NET_SET_BACKEND = numbers.VHOST_NET_SET_BACKEND;
export const VHOST_SCSI_SET_ENDPOINT = numbers.VHOST_SCSI_SET_ENDPOINT;
export const VHOST_SCSI_CLEAR_ENDPOINT = numbers.VHOST_SCSI_CLEAR_ENDPOINT;
export const VHOST_SCSI_GET_ABI_VERSION = numbers.VHOST_SCSI_GET_ABI_VERSION;
export const VHOST_SCSI_SET_EVENTS_MISSED = numbers.VHOST_SCSI_SET_EVENTS_MISSED;
export const VHOST_SCSI_GET_EVENTS_MISSED = numbers.VHOST_SCSI_GET_EVENTS_MISSED;
export const VHOST_VSOCK_SET_GUEST_CID = numbers.VHOST_VSOCK_SET_GUEST_CID;
export const VHOST_VSOCK_SET_RUNNING = numbers.VHOST_VSOCK_SET_RUNNING;
export const VHOST_VDPA_GET_DEVICE_ID = numbers.VHOST_VDPA_GET_DEVICE_ID;
export const VHOST_VDPA_GET_STATUS = numbers.VHOST_VDPA_GET_STATUS;
export const VHOST_VDPA_SET_STATUS = numbers.VHOST_VDPA_SET_STATUS;
export const VHOST_VDPA_GET_CONFIG = numbers.VHOST_VDPA_GET_CONFIG;
export const VHOST_VDPA_SET_CONFIG = numbers.VHOST_VDPA_SET_CONFIG;
export const VHOST_VDPA_SET_VRING_ENABLE = numbers.VHOST_VDPA_SET_VRING_ENABLE;
export const VHOST_VDPA_GET_VRING_NUM = numbers.VHOST_VDPA_GET_VRING_NUM;
export const VHOST_VDPA_SET_CONFIG_CALL = numbers.VHOST_VDPA_SET_CONFIG_CALL;
export const VHOST_VDPA_GET_IOVA_RANGE = numbers.VHOST_VDPA_GET_IOVA_RANGE;
export const VHOST_VDPA_GET_CONFIG_SIZE = numbers.VHOST_VDPA_GET_CONFIG_SIZE;
export const VHOST_VDPA_GET_AS_NUM = numbers.VHOST_VDPA_GET_AS_NUM;
export const VHOST_VDPA_GET_VRING_GROUP = numbers.VHOST_VDPA_GET_VRING_GROUP;
export const VHOST_VDPA_SET_GROUP_ASID = numbers.VHOST_VDPA_SET_GROUP_ASID;
export const VHOST_VDPA_SUSPEND = numbers.VHOST_VDPA_SUSPEND;
export const VHOST_VDPA_GET_VQS_COUNT = numbers.VHOST_VDPA_GET_VQS_COUNT;
export const VHOST_VDPA_GET_GROUP_NUM = numbers.VHOST_VDPA_GET_GROUP_NUM;

// The vhost-user protocol features this front-end implements. A negotiated feature changes what the
// back-end may expect of the front-end (vhost-user.rst "Front-end message types": messages that
// "should be sent only when" a feature was negotiated, layouts that change with it), so the probe
// and every set-up ack offered ∩ these, as a front-end acks only what it implements.
import { bit } from '../../spec/virtio/features.ts';
import {
  VHOST_USER_PROTOCOL_F_CONFIG,
  VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS,
  VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD,
  VHOST_USER_PROTOCOL_F_LOG_SHMFD,
  VHOST_USER_PROTOCOL_F_MQ,
  VHOST_USER_PROTOCOL_F_REPLY_ACK,
  VHOST_USER_PROTOCOL_F_RESET_DEVICE,
  VHOST_USER_PROTOCOL_F_STATUS,
} from '../../spec/vhostUser/protocolFeatures.ts';

/**
 * Left out on purpose: BACKEND_REQ (the front-end would owe SET_BACKEND_REQ_FD and a back-end
 * channel), INBAND_NOTIFICATIONS (calls and kicks as messages, not eventfds), HOST_NOTIFIER,
 * PAGEFAULT, XEN_MMAP (another memory-table layout), SHARED_OBJECT, DEVICE_STATE, CRYPTO_SESSION,
 * CROSS_ENDIAN, RARP, NET_MTU: messages this front-end never sends or cannot serve.
 */
export const FRONT_END_PROTOCOL_FEATURES: bigint = [
  VHOST_USER_PROTOCOL_F_MQ,
  VHOST_USER_PROTOCOL_F_LOG_SHMFD,
  VHOST_USER_PROTOCOL_F_REPLY_ACK,
  VHOST_USER_PROTOCOL_F_CONFIG,
  VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD,
  VHOST_USER_PROTOCOL_F_RESET_DEVICE,
  VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS,
  VHOST_USER_PROTOCOL_F_STATUS,
].reduce((m, b) => m | bit(b), 0n);

// Which feature bit gates each front-end message (QEMU docs/interop/vhost-user.rst
// "Communication": "Any protocol extensions are gated by protocol feature
// bits"). A device that does not offer the bit does not implement the message
// and refuses it; a strict one (variants/strict.ts) also refuses it until the
// bit is negotiated.
import type { VhostRequest } from '../../spec/requests.ts';
import { VHOST_USER_F_PROTOCOL_FEATURES, VHOST_USER_PROTOCOL_F_CONFIG, VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS, VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD, VHOST_USER_PROTOCOL_F_LOG_SHMFD, VHOST_USER_PROTOCOL_F_MQ, VHOST_USER_PROTOCOL_F_RESET_DEVICE, VHOST_USER_PROTOCOL_F_STATUS } from '../../spec/vhostUser/protocolFeatures.ts';
import { VIRTIO_F_ACCESS_PLATFORM } from '../../spec/virtio/features.ts';

interface Gate {
  /** A protocol feature bit, or a virtio / vhost feature bit. */
  readonly word: 'protocol' | 'features';
  readonly bit: number;
  /** Negotiating the bit is not required, only offering it (the message's own text says so). */
  readonly offeredSuffices?: true;
}

const protocol = (bit: number): Gate => ({ word: 'protocol', bit });

const GATES: Partial<Record<VhostRequest['op'], Gate>> = {
  // "VHOST_USER_GET_PROTOCOL_FEATURES": "Only legal if feature bit VHOST_USER_F_PROTOCOL_FEATURES is present in
  // VHOST_USER_GET_FEATURES. It does not need to be acknowledged by VHOST_USER_SET_FEATURES." (same for SET).
  getProtocolFeatures: { word: 'features', bit: VHOST_USER_F_PROTOCOL_FEATURES, offeredSuffices: true },
  setProtocolFeatures: { word: 'features', bit: VHOST_USER_F_PROTOCOL_FEATURES, offeredSuffices: true },
  // "VHOST_USER_SET_VRING_ENABLE": "This request should be sent only when VHOST_USER_F_PROTOCOL_FEATURES has been negotiated."
  setVringEnable: { word: 'features', bit: VHOST_USER_F_PROTOCOL_FEATURES },
  // "Multiple queue support": "The multiple queues feature is supported only when the protocol feature
  // VHOST_USER_PROTOCOL_F_MQ (bit 0) is set."
  getQueueNum: protocol(VHOST_USER_PROTOCOL_F_MQ),
  // "VHOST_USER_GET_CONFIG" / "VHOST_USER_SET_CONFIG": "When VHOST_USER_PROTOCOL_F_CONFIG is negotiated, this message is submitted".
  getConfig: protocol(VHOST_USER_PROTOCOL_F_CONFIG),
  setConfig: protocol(VHOST_USER_PROTOCOL_F_CONFIG),
  // "VHOST_USER_RESET_DEVICE": "Only valid if the VHOST_USER_PROTOCOL_F_RESET_DEVICE protocol feature is set by the back-end."
  resetDevice: protocol(VHOST_USER_PROTOCOL_F_RESET_DEVICE),
  // "VHOST_USER_SET_STATUS" / "GET_STATUS": "When the VHOST_USER_PROTOCOL_F_STATUS protocol feature has been successfully negotiated".
  setStatus: protocol(VHOST_USER_PROTOCOL_F_STATUS),
  getStatus: protocol(VHOST_USER_PROTOCOL_F_STATUS),
  // "VHOST_USER_GET_MAX_MEM_SLOTS", "ADD_MEM_REG", "REM_MEM_REG": "When the VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS
  // protocol feature has been successfully negotiated".
  getMaxMemSlots: protocol(VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS),
  addMemReg: protocol(VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS),
  remMemReg: protocol(VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS),
  // "VHOST_USER_GET_INFLIGHT_FD" / "SET_INFLIGHT_FD": "When VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD protocol feature has been successfully negotiated".
  getInflightFd: protocol(VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD),
  setInflightFd: protocol(VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD),
  // "Migration": "The log memory fd is provided in the ancillary data of VHOST_USER_SET_LOG_BASE message when the
  // back-end has VHOST_USER_PROTOCOL_F_LOG_SHMFD": without it this device has no way to reach the log.
  setLogBase: protocol(VHOST_USER_PROTOCOL_F_LOG_SHMFD),
  // "VHOST_USER_IOTLB_MSG": "This request should be send only when VIRTIO_F_IOMMU_PLATFORM feature has been successfully negotiated."
  iotlbUpdate: { word: 'features', bit: VIRTIO_F_ACCESS_PLATFORM },
  iotlbInvalidate: { word: 'features', bit: VIRTIO_F_ACCESS_PLATFORM },
};

export function gateOf(op: VhostRequest['op']): Gate | undefined {
  return GATES[op];
}

/** Whether `gate`'s bit is set in the matching word. */
export function gateOpen(gate: Gate, words: { readonly features: bigint; readonly protocol: bigint }): boolean {
  return ((words[gate.word] >> BigInt(gate.bit)) & 1n) === 1n;
}

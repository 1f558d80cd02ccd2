// virtio-net: virtio 1.2 §5.1; linux/virtio_net.h.
import { defineStruct } from '../codec.ts';
import { hasFeature, VIRTIO_F_VERSION_1 } from './features.ts';

export const VIRTIO_ID_NET = 1;

export const VIRTIO_NET_F_CSUM = 0;
export const VIRTIO_NET_F_GUEST_CSUM = 1;
export const VIRTIO_NET_F_CTRL_GUEST_OFFLOADS = 2;
export const VIRTIO_NET_F_MTU = 3;
export const VIRTIO_NET_F_MAC = 5;
export const VIRTIO_NET_F_GSO = 6;
export const VIRTIO_NET_F_GUEST_TSO4 = 7;
export const VIRTIO_NET_F_GUEST_TSO6 = 8;
export const VIRTIO_NET_F_GUEST_ECN = 9;
export const VIRTIO_NET_F_GUEST_UFO = 10;
export const VIRTIO_NET_F_HOST_TSO4 = 11;
export const VIRTIO_NET_F_HOST_TSO6 = 12;
export const VIRTIO_NET_F_HOST_ECN = 13;
export const VIRTIO_NET_F_HOST_UFO = 14;
export const VIRTIO_NET_F_MRG_RXBUF = 15;
export const VIRTIO_NET_F_STATUS = 16;
export const VIRTIO_NET_F_CTRL_VQ = 17;
export const VIRTIO_NET_F_CTRL_RX = 18;
export const VIRTIO_NET_F_CTRL_VLAN = 19;
export const VIRTIO_NET_F_CTRL_RX_EXTRA = 20;
export const VIRTIO_NET_F_GUEST_ANNOUNCE = 21;
export const VIRTIO_NET_F_MQ = 22;
export const VIRTIO_NET_F_CTRL_MAC_ADDR = 23;
export const VIRTIO_NET_F_NOTF_COAL = 53;
export const VIRTIO_NET_F_HASH_REPORT = 57;
export const VIRTIO_NET_F_RSS = 60;
export const VIRTIO_NET_F_RSC_EXT = 61;
export const VIRTIO_NET_F_STANDBY = 62;
export const VIRTIO_NET_F_SPEED_DUPLEX = 63;

export const VIRTIO_NET_S_LINK_UP = 1;
export const VIRTIO_NET_S_ANNOUNCE = 2;

export const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
export const VIRTIO_NET_HDR_F_DATA_VALID = 2;
export const VIRTIO_NET_HDR_F_RSC_INFO = 4;
export const VIRTIO_NET_HDR_GSO_NONE = 0;
export const VIRTIO_NET_HDR_GSO_TCPV4 = 1;
export const VIRTIO_NET_HDR_GSO_UDP = 3;
export const VIRTIO_NET_HDR_GSO_TCPV6 = 4;
export const VIRTIO_NET_HDR_GSO_ECN = 0x80;

/** Queue numbering, §5.1.2: receiveq1 = 0, transmitq1 = 1. */
export const NET_RX_QUEUE = 0;
export const NET_TX_QUEUE = 1;

/** The header with num_buffers (§5.1.6), used with VERSION_1 or MRG_RXBUF. */
export const virtio_net_hdr_v1 = defineStruct('virtio_net_hdr_v1', 12, [
  { name: 'flags', type: 'u8', offset: 0 },
  { name: 'gso_type', type: 'u8', offset: 1 },
  { name: 'hdr_len', type: 'u16', offset: 2 },
  { name: 'gso_size', type: 'u16', offset: 4 },
  { name: 'csum_start', type: 'u16', offset: 6 },
  { name: 'csum_offset', type: 'u16', offset: 8 },
  { name: 'num_buffers', type: 'u16', offset: 10 },
] as const);

/** Legacy header without num_buffers (§5.1.6.1 legacy interface). */
export const virtio_net_hdr = defineStruct('virtio_net_hdr', 10, [
  { name: 'flags', type: 'u8', offset: 0 },
  { name: 'gso_type', type: 'u8', offset: 1 },
  { name: 'hdr_len', type: 'u16', offset: 2 },
  { name: 'gso_size', type: 'u16', offset: 4 },
  { name: 'csum_start', type: 'u16', offset: 6 },
  { name: 'csum_offset', type: 'u16', offset: 8 },
] as const);

export const virtio_net_config = defineStruct('virtio_net_config', 24, [
  { name: 'mac', type: 'bytes', offset: 0, length: 6 },
  { name: 'status', type: 'u16', offset: 6 },
  { name: 'max_virtqueue_pairs', type: 'u16', offset: 8 },
  { name: 'mtu', type: 'u16', offset: 10 },
  { name: 'speed', type: 'u32', offset: 12 },
  { name: 'duplex', type: 'u8', offset: 16 },
  { name: 'rss_max_key_size', type: 'u8', offset: 17 },
  { name: 'rss_max_indirection_table_length', type: 'u16', offset: 18 },
  { name: 'supported_hash_types', type: 'u32', offset: 20 },
] as const);

/**
 * §5.1.6: the header carries num_buffers (12 bytes) when VERSION_1 or
 * MRG_RXBUF is negotiated; the legacy header without either is 10 bytes.
 * Deriving it from the negotiated features, never assuming, is bug-catalog Q6.
 */
export function netHeaderSize(features: bigint): number {
  return hasFeature(features, VIRTIO_F_VERSION_1) || hasFeature(features, VIRTIO_NET_F_MRG_RXBUF)
    ? virtio_net_hdr_v1.size
    : virtio_net_hdr.size;
}

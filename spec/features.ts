// Registry of virtio feature bits: name, bit, scope, dependencies and spec
// reference. Numbers come from spec/virtio/* (the single source); this table
// adds what the numbers alone do not say. `requires` is a conjunction of
// alternatives: every inner list must have at least one negotiated member
// (e.g. GUEST_ECN needs GUEST_TSO4 or GUEST_TSO6, virtio 1.2 §5.1.3.1).
import * as blk from './virtio/blk.ts';
import * as vf from './virtio/features.ts';
import * as net from './virtio/net.ts';

export type FeatureScope = 'transport' | 'net' | 'blk';

export interface FeatureInfo {
  readonly name: string;
  readonly bit: number;
  readonly scope: FeatureScope;
  readonly requires: readonly (readonly string[])[];
  readonly section: string;
}

const t = (name: string, bit: number, section: string, requires: string[][] = []): FeatureInfo => ({ name, bit, scope: 'transport', requires, section });
const n = (name: string, bit: number, requires: string[][] = []): FeatureInfo => ({ name, bit, scope: 'net', requires, section: '5.1.3 Feature bits' });
const b = (name: string, bit: number): FeatureInfo => ({ name, bit, scope: 'blk', requires: [], section: '5.2.3 Feature bits' });

export const FEATURES: readonly FeatureInfo[] = [
  t('NOTIFY_ON_EMPTY', vf.VIRTIO_F_NOTIFY_ON_EMPTY, '6 Reserved Feature Bits (legacy)'),
  t('ANY_LAYOUT', vf.VIRTIO_F_ANY_LAYOUT, '6 Reserved Feature Bits (legacy)'),
  t('INDIRECT_DESC', vf.VIRTIO_RING_F_INDIRECT_DESC, '6 Reserved Feature Bits; 2.7.5.3 Indirect Descriptors'),
  t('EVENT_IDX', vf.VIRTIO_RING_F_EVENT_IDX, '6 Reserved Feature Bits; 2.7.10 Used Buffer Notification Suppression'),
  t('VERSION_1', vf.VIRTIO_F_VERSION_1, '6 Reserved Feature Bits'),
  t('ACCESS_PLATFORM', vf.VIRTIO_F_ACCESS_PLATFORM, '6 Reserved Feature Bits'),
  t('RING_PACKED', vf.VIRTIO_F_RING_PACKED, '6 Reserved Feature Bits; 2.8 Packed Virtqueues'),
  t('IN_ORDER', vf.VIRTIO_F_IN_ORDER, '6 Reserved Feature Bits; 2.7.9 In-order use of descriptors'),
  t('ORDER_PLATFORM', vf.VIRTIO_F_ORDER_PLATFORM, '6 Reserved Feature Bits'),
  t('SR_IOV', vf.VIRTIO_F_SR_IOV, '6 Reserved Feature Bits'),
  t('NOTIFICATION_DATA', vf.VIRTIO_F_NOTIFICATION_DATA, '6 Reserved Feature Bits'),
  t('NOTIF_CONFIG_DATA', vf.VIRTIO_F_NOTIF_CONFIG_DATA, '6 Reserved Feature Bits (1.3)'),
  t('RING_RESET', vf.VIRTIO_F_RING_RESET, '6 Reserved Feature Bits; 2.6.1 Virtqueue Reset'),
  t('ADMIN_VQ', vf.VIRTIO_F_ADMIN_VQ, '6 Reserved Feature Bits (1.3)'),
  n('NET_CSUM', net.VIRTIO_NET_F_CSUM),
  n('NET_GUEST_CSUM', net.VIRTIO_NET_F_GUEST_CSUM),
  n('NET_CTRL_GUEST_OFFLOADS', net.VIRTIO_NET_F_CTRL_GUEST_OFFLOADS, [['NET_CTRL_VQ']]),
  n('NET_MTU', net.VIRTIO_NET_F_MTU),
  n('NET_MAC', net.VIRTIO_NET_F_MAC),
  n('NET_GUEST_TSO4', net.VIRTIO_NET_F_GUEST_TSO4, [['NET_GUEST_CSUM']]),
  n('NET_GUEST_TSO6', net.VIRTIO_NET_F_GUEST_TSO6, [['NET_GUEST_CSUM']]),
  n('NET_GUEST_ECN', net.VIRTIO_NET_F_GUEST_ECN, [['NET_GUEST_TSO4', 'NET_GUEST_TSO6']]),
  n('NET_GUEST_UFO', net.VIRTIO_NET_F_GUEST_UFO, [['NET_GUEST_CSUM']]),
  n('NET_HOST_TSO4', net.VIRTIO_NET_F_HOST_TSO4, [['NET_CSUM']]),
  n('NET_HOST_TSO6', net.VIRTIO_NET_F_HOST_TSO6, [['NET_CSUM']]),
  n('NET_HOST_ECN', net.VIRTIO_NET_F_HOST_ECN, [['NET_HOST_TSO4', 'NET_HOST_TSO6']]),
  n('NET_HOST_UFO', net.VIRTIO_NET_F_HOST_UFO, [['NET_CSUM']]),
  n('NET_MRG_RXBUF', net.VIRTIO_NET_F_MRG_RXBUF),
  n('NET_STATUS', net.VIRTIO_NET_F_STATUS),
  n('NET_CTRL_VQ', net.VIRTIO_NET_F_CTRL_VQ),
  n('NET_CTRL_RX', net.VIRTIO_NET_F_CTRL_RX, [['NET_CTRL_VQ']]),
  n('NET_CTRL_VLAN', net.VIRTIO_NET_F_CTRL_VLAN, [['NET_CTRL_VQ']]),
  n('NET_GUEST_ANNOUNCE', net.VIRTIO_NET_F_GUEST_ANNOUNCE, [['NET_CTRL_VQ']]),
  n('NET_MQ', net.VIRTIO_NET_F_MQ, [['NET_CTRL_VQ']]),
  n('NET_CTRL_MAC_ADDR', net.VIRTIO_NET_F_CTRL_MAC_ADDR, [['NET_CTRL_VQ']]),
  n('NET_NOTF_COAL', net.VIRTIO_NET_F_NOTF_COAL, [['NET_CTRL_VQ']]),
  n('NET_HASH_REPORT', net.VIRTIO_NET_F_HASH_REPORT),
  n('NET_RSS', net.VIRTIO_NET_F_RSS, [['NET_CTRL_VQ']]),
  n('NET_RSC_EXT', net.VIRTIO_NET_F_RSC_EXT, [['NET_HOST_TSO4', 'NET_HOST_TSO6']]),
  n('NET_STANDBY', net.VIRTIO_NET_F_STANDBY),
  n('NET_SPEED_DUPLEX', net.VIRTIO_NET_F_SPEED_DUPLEX),
  b('BLK_SIZE_MAX', blk.VIRTIO_BLK_F_SIZE_MAX),
  b('BLK_SEG_MAX', blk.VIRTIO_BLK_F_SEG_MAX),
  b('BLK_GEOMETRY', blk.VIRTIO_BLK_F_GEOMETRY),
  b('BLK_RO', blk.VIRTIO_BLK_F_RO),
  b('BLK_BLK_SIZE', blk.VIRTIO_BLK_F_BLK_SIZE),
  b('BLK_FLUSH', blk.VIRTIO_BLK_F_FLUSH),
  b('BLK_TOPOLOGY', blk.VIRTIO_BLK_F_TOPOLOGY),
  b('BLK_CONFIG_WCE', blk.VIRTIO_BLK_F_CONFIG_WCE),
  b('BLK_MQ', blk.VIRTIO_BLK_F_MQ),
  b('BLK_DISCARD', blk.VIRTIO_BLK_F_DISCARD),
  b('BLK_WRITE_ZEROES', blk.VIRTIO_BLK_F_WRITE_ZEROES),
  b('BLK_SECURE_ERASE', blk.VIRTIO_BLK_F_SECURE_ERASE),
];

const BY_NAME = new Map(FEATURES.map((f) => [f.name, f]));

export function featureByName(name: string): FeatureInfo {
  const f = BY_NAME.get(name);
  if (!f) throw new Error(`unknown feature ${name}`);
  return f;
}

/** Names of the features set in `word` that are known for a device of `scope` (transport bits always apply). */
export function featureNames(word: bigint, scope: Exclude<FeatureScope, 'transport'>): string[] {
  return FEATURES.filter((f) => (f.scope === 'transport' || f.scope === scope) && vf.hasFeature(word, f.bit)).map((f) => f.name);
}

/**
 * The dependency violations in a feature word (virtio 1.2 §2.2.1: a device
 * MUST NOT offer, and a driver MUST NOT accept, a feature that requires
 * another feature not offered/accepted).
 */
export function dependencyViolations(word: bigint, scope: Exclude<FeatureScope, 'transport'>): string[] {
  const set = new Set(featureNames(word, scope));
  const out: string[] = [];
  for (const name of set) {
    for (const alternatives of featureByName(name).requires) {
      if (!alternatives.some((a) => set.has(a))) out.push(`${name} requires ${alternatives.join(' or ')}`);
    }
  }
  return out;
}

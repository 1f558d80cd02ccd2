// The fleet: healthy variants of the simulated device (`simulated:variant=NAME`).
// Each is a legal device per virtio 1.2 and vhost-user.rst that answers less,
// refuses more, or runs slower than the default one, so a suite that raises
// an alarm on any of them has a false alarm to fix. They are not mutants
// (../mutants/): nothing here is a defect.
import { VHOST_F_LOG_ALL } from '../../../spec/vhost/types.ts';
import { VHOST_USER_F_PROTOCOL_FEATURES, VHOST_USER_PROTOCOL_F_CONFIG, VHOST_USER_PROTOCOL_F_MQ, VHOST_USER_PROTOCOL_F_REPLY_ACK } from '../../../spec/vhostUser/protocolFeatures.ts';
import { bit, VIRTIO_F_IN_ORDER } from '../../../spec/virtio/features.ts';
import { DEFAULT_PERSONALITY, type Personality } from './personality.ts';

export interface VariantInfo {
  readonly name: string;
  /** One line for `vhostcheck mutants --list`-style listings. */
  readonly description: string;
  /** Set when the variant only makes sense for one device type. */
  readonly deviceType?: 'blk' | 'net';
  readonly personality: Personality;
}

const variant = (name: string, description: string, changes: Partial<Personality>, deviceType?: 'blk' | 'net'): VariantInfo => ({
  name,
  description,
  ...(deviceType && { deviceType }),
  personality: { ...DEFAULT_PERSONALITY, ...changes },
});

export const VARIANTS: readonly VariantInfo[] = [
  variant('strict', 'refuses every message before its feature is negotiated, a second SET_OWNER (also after a reset), and undefined flags in payloads', { strict: true }),
  // Timers only (slow.ts). virtio 1.2 §2.7.9 "Some devices always use descriptors in the same order in which they
  // have been made available. These devices can offer the VIRTIO_F_IN_ORDER feature": a device that does not is free
  // to complete out of order, so this one never offers IN_ORDER and completes requests out of order.
  variant('slow', 'answers every message after 10-30 ms, looks at a kicked ring after 10 ms and completes each request after 10-40 ms, out of order', {
    withheldFeatures: bit(VIRTIO_F_IN_ORDER),
    slow: { messageMs: [10, 30], kickMs: 10, requestMs: [10, 40] },
  }),
  // vhost-user.rst "Communication": "As older back-ends don't support negotiating protocol features, a feature bit was
  // dedicated for this purpose". Without a log fd ("Migration": it comes with LOG_SHMFD) it cannot log, so no LOG_ALL.
  variant('minimal', 'no VHOST_USER_F_PROTOCOL_FEATURES at all (rings start enabled, no protocol extension), no dirty logging', {
    withheldFeatures: bit(VHOST_USER_F_PROTOCOL_FEATURES) | bit(VHOST_F_LOG_ALL),
  }),
  variant('no-config', 'protocol features without VHOST_USER_PROTOCOL_F_CONFIG: config space cannot be read', { withheldProtocolFeatures: bit(VHOST_USER_PROTOCOL_F_CONFIG) }),
  variant('no-reply-ack', 'protocol features without VHOST_USER_PROTOCOL_F_REPLY_ACK: refusals are not acknowledged', { withheldProtocolFeatures: bit(VHOST_USER_PROTOCOL_F_REPLY_ACK) }),
  variant('no-mq', 'protocol features without VHOST_USER_PROTOCOL_F_MQ: GET_QUEUE_NUM is not implemented', { withheldProtocolFeatures: bit(VHOST_USER_PROTOCOL_F_MQ) }),
  // A device may not require the packed layout: virtio 1.2 §2.2.2 "The device SHOULD accept any valid subset of
  // features the driver accepts". What it can do is size its queues for it: §2.7 "Queue Size value is always a power
  // of 2" for split rings, while §2.8 packed rings take any size up to 2^15. So 768-entry queues are reached in full
  // only when the driver picks RING_PACKED; split rings get at most 512.
  variant('packed-only', 'offers RING_PACKED with 768-entry queues (not a power of 2): only the packed layout reaches its full size; split still works', { maxQueueSize: 768 }),
  variant('tiny-0', 'blk with capacity 0 sectors: every read and write is out of range', { blkCapacitySectors: 0 }, 'blk'),
  variant('tiny-1', 'blk with capacity 1 sector', { blkCapacitySectors: 1 }, 'blk'),
  variant('tiny-7', 'blk with capacity 7 sectors (not a multiple of any page)', { blkCapacitySectors: 7 }, 'blk'),
  variant('qsize-1', 'largest queue size 1: one descriptor per ring', { maxQueueSize: 1 }),
  // §2.7 "The maximum Queue Size value is 32768"; §2.8 "Packed virtqueues support up to 2^15 entries each".
  variant('qsize-32768', 'largest queue size 32768, the most either layout allows', { maxQueueSize: 32768 }),
  variant('net-1qp', 'net with a single queue pair that GET_QUEUE_NUM reports as 1 (queue pairs, as QEMU reads it)', { netQueueNum: 'pairs' }, 'net'),
];

export function findVariant(name: string): VariantInfo | undefined {
  return VARIANTS.find((v) => v.name === name);
}

// What distinguishes one healthy simulated device from another: what it
// offers, how large it is, how strictly it reads the protocol, how fast it
// answers. The default personality is the embedded default target; every
// entry of VARIANTS (index.ts) changes some of these, never the device's
// correctness.

/** Timers of a slow device: every message and every request takes this long, never a busy wait. */
export interface SlowTiming {
  /** Delay before a message is answered, drawn from [min, max] ms. */
  readonly messageMs: readonly [number, number];
  /** Delay between a kick and the device looking at the ring. */
  readonly kickMs: number;
  /** Delay between taking a request and publishing its used entry, drawn from [min, max] ms per request. */
  readonly requestMs: readonly [number, number];
}

export interface Personality {
  /** Virtio / vhost feature bits removed from the default offer (device.ts). */
  readonly withheldFeatures: bigint;
  /** Protocol feature bits removed from the default offer (all of them go with VHOST_USER_F_PROTOCOL_FEATURES). */
  readonly withheldProtocolFeatures: bigint;
  /** virtio_blk_config.capacity, in 512-byte sectors. */
  readonly blkCapacitySectors: number;
  /** The largest queue size SET_VRING_NUM accepts. */
  readonly maxQueueSize: number;
  /**
   * What a net device's GET_QUEUE_NUM counts: its vrings (libvhost-user's reading) or its queue pairs
   * (QEMU's net front-end compares the answer with the queue pairs it wants). vhost-user.rst
   * "VHOST_USER_GET_QUEUE_NUM" only says "how many queues the back-end supports".
   */
  readonly netQueueNum: 'vrings' | 'pairs';
  /** Refuses what the text lets a back-end refuse (strict.ts). */
  readonly strict: boolean;
  readonly slow: SlowTiming | null;
}

export const DEFAULT_PERSONALITY: Personality = {
  withheldFeatures: 0n,
  withheldProtocolFeatures: 0n,
  blkCapacitySectors: 2048,
  maxQueueSize: 1024,
  netQueueNum: 'vrings',
  strict: false,
  slow: null,
};

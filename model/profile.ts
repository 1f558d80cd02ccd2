// What an implementation offers, as the model needs to know it. Derived from
// the target's own answers (GET_FEATURES, GET_PROTOCOL_FEATURES, queue num,
// config), never from a list of implementations known to pass.
export interface Profile {
  readonly deviceType: 'net' | 'blk' | 'fs';
  /** Virtqueues the suite drives. */
  readonly queues: number;
  /**
   * Vring indices the back-end may legitimately know about: GET_QUEUE_NUM reports "how many queues
   * the back-end supports" (vhost-user.rst), queue pairs for net as QEMU reads it. Indices from
   * `queues` up to this bound may be accepted or refused; only indices beyond it must be refused.
   */
  readonly vringLimit: number;
  /**
   * The back-end's own GET_QUEUE_NUM answer when the profile was taken ("how many queues the
   * back-end supports", vhost-user.rst), absent if it gave none. It may exceed `queues`, which only
   * counts what the suite drives (DPDK's vhost library supports 128 queue pairs on a one-pair port);
   * the back-end must give the same answer every time it is asked.
   */
  readonly queueNum?: number;
  readonly maxQueueSize: number;
  readonly offeredFeatures: bigint;
  readonly offeredProtocolFeatures: bigint;
  /** Size of the device configuration space in bytes. */
  readonly configSize: number;
  /**
   * The config space as read once at offset 0 when the profile was taken;
   * reads at other offsets must agree with it. Empty for devices whose config
   * changes at run time (net link status), which are then checked for length only.
   */
  readonly config: Uint8Array;
  /**
   * virtio-blk capacity in 512-byte sectors (config `capacity`), or null when the device served no
   * config (VHOST_USER_PROTOCOL_F_CONFIG not offered): then no request can be judged against the
   * disk's end, and the suite sends none that depends on it.
   */
  readonly blkCapacitySectors: bigint | null;
  /** The blk device's disk starts zeroed for every session (an in-process RAM disk); a real image persists between sessions. */
  readonly blkFreshDisk: boolean;
  /**
   * How requests reach the device. Over `vhost-user` a refusal is seen only in a reply: the message's
   * own, or the ack REPLY_ACK adds (model/session.ts refusalVisible). `in-process` (the simulated
   * device) and `ioctl` (kernel targets) return every request's result.
   */
  readonly transport: 'vhost-user' | 'in-process' | 'ioctl';
  /**
   * Over ioctls: the front-end's own memory, as uaddr ranges. A vhost kernel device resolves an IOTLB uaddr in the
   * owner's address space (drivers/vhost/vdpa.c vhost_vdpa_va_map() find_vma, vhost_vdpa_pa_map() pin_user_pages),
   * so a mapping of anything else may be refused; one of this memory may not.
   */
  readonly frontEndMemory?: readonly { readonly uaddr: bigint; readonly size: bigint }[];
}

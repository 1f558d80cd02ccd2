// The back-end side of inflight I/O tracking (vhost-user.rst "Inflight I/O
// tracking"): GET_INFLIGHT_FD allocates a zeroed buffer of one queue region
// per virtqueue and hands it out; SET_INFLIGHT_FD checks the one it is given.
// Written as libvhost-user and DPDK lay the buffer out: the doc's structs,
// each queue region padded to 64 bytes (their INFLIGHT_ALIGNMENT). The device
// does not yet record descriptors in the buffer, so it has nothing to resubmit.
import type { InflightArea, Reply } from '../../spec/requests.ts';
import { queueRegionSize } from '../../spec/vhostUser/inflight.ts';
import { DeviceFault } from './faults.ts';
import type { MutantSwitch } from './mutants/index.ts';

const INFLIGHT_ALIGNMENT = 64;
const EINVAL: Reply = { ok: false, errno: 'EINVAL' };

/** Where the device's inflight buffers live: in-process memory, or memfds a vhost-user back-end shares. */
export interface InflightShare {
  /** A zeroed buffer of `size` bytes to hand to the front-end (a back-end process allocates a memfd). */
  allocate(size: number): Uint8Array;
  /** The buffer that came with the SET_INFLIGHT_FD being handled, or null when it came without an fd. */
  received(): Uint8Array | null;
}

export interface InflightOptions {
  readonly has: MutantSwitch;
  readonly queues: number;
  readonly maxQueueSize: number;
  /** Buffers the leaking mutant may hand out before its process runs out of fds. */
  readonly fdLimit: number;
  readonly share: InflightShare;
}

function stride(queueSize: number, packed: boolean): number {
  return Math.ceil(queueRegionSize(queueSize, packed) / INFLIGHT_ALIGNMENT) * INFLIGHT_ALIGNMENT;
}

export class InflightBuffers {
  /** Buffers handed out and never released (the inflight-fd-leak mutant only). */
  private leaked = 0;

  constructor(private readonly opts: InflightOptions) {}

  /**
   * VHOST_USER_GET_INFLIGHT_FD. A request for no queue, more queues than the device has, or a queue
   * size it never accepts gets no buffer (libvhost-user answers those with mmap_size 0). A repeated
   * GET replaces the buffer: the previous one is released (DPDK e7debf6026, bug-catalog D7), except
   * by the `inflight-fd-leak` mutant, whose process runs out of fds.
   */
  get(numQueues: number, queueSize: number, packed: boolean): Reply {
    const { queues, maxQueueSize, has, fdLimit } = this.opts;
    if (numQueues < 1 || numQueues > queues || queueSize < 1 || queueSize > maxQueueSize) return EINVAL;
    if (has('inflight-fd-leak') && ++this.leaked > fdLimit) throw new DeviceFault('SIGABRT', 'inflight buffers never released: out of file descriptors (EMFILE)');
    const size = numQueues * stride(queueSize, packed);
    const bytes = this.opts.share.allocate(size);
    const value: InflightArea = { mmapSize: BigInt(size), mmapOffset: 0n, fd: true, bytes };
    return { ok: true, value };
  }

  /**
   * VHOST_USER_SET_INFLIGHT_FD. The buffer must come with its fd and hold `numQueues` regions of
   * `queueSize` descriptors; num_queues is checked against the device's queues before any region is
   * touched (DPDK 6442c329b9, bug-catalog D9). The `inflight-num-queues-unchecked` mutant walks the
   * regions first and sets each queue's tracking pointer, past the end of its queue array.
   */
  set(numQueues: number, queueSize: number, packed: boolean): Reply {
    const { queues, maxQueueSize, has } = this.opts;
    const bytes = this.opts.share.received();
    if (bytes === null) return EINVAL;
    if (has('inflight-num-queues-unchecked') && numQueues > queues) throw new DeviceFault('SIGSEGV', `SET_INFLIGHT_FD: inflight pointer of virtqueue ${queues} written past the ${queues}-entry queue array`);
    if (numQueues < 1 || numQueues > queues || queueSize < 1 || queueSize > maxQueueSize) return EINVAL;
    return bytes.length < numQueues * queueRegionSize(queueSize, packed) ? EINVAL : { ok: true };
  }
}

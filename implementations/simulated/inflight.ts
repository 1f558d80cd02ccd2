// The back-end side of inflight I/O tracking (vhost-user.rst "Inflight I/O
// tracking"): GET_INFLIGHT_FD allocates a zeroed buffer of one queue region
// per virtqueue and hands it out; SET_INFLIGHT_FD checks the one it is given.
// Written as libvhost-user and DPDK lay the buffer out: the doc's structs,
// each queue region padded to 64 bytes (their INFLIGHT_ALIGNMENT). The device
// does not yet record descriptors in the buffer, so it has nothing to resubmit.
import type { InflightArea, Reply } from '../../spec/requests.ts';
import { DeviceFault } from './faults.ts';
import type { MutantSwitch } from './mutants/index.ts';

const INFLIGHT_ALIGNMENT = 64;
const EINVAL: Reply = { ok: false, errno: 'EINVAL' };

// The doc's structs in C layout (each field at its natural alignment, a struct padded to its widest member):
// QueueRegionSplit: features u64, version / desc_num / last_batch_head / used_idx u16 = 16 bytes before desc[].
// DescStateSplit: inflight u8, padding[5], next u16, counter u64 = 16 bytes.
// QueueRegionPacked: features u64, six u16 (version ... old_used_idx), two u8 wrap counters, padding[7] = 29 bytes;
// desc[] holds u64 members, so it starts at 32. DescStatePacked: inflight u8, padding u8, next / last / num u16,
// counter u64, id / flags u16, len u32, addr u64 = 32 bytes.
const SPLIT_REGION_HEADER = 16;
const SPLIT_DESC_STATE = 16;
const PACKED_REGION_HEADER = 32;
const PACKED_DESC_STATE = 32;

/** One queue region for `queueSize` descriptors ("desc_num ... is equal to the virtqueue size"). */
function regionBytes(queueSize: number, packed: boolean): number {
  return packed ? PACKED_REGION_HEADER + PACKED_DESC_STATE * queueSize : SPLIT_REGION_HEADER + SPLIT_DESC_STATE * queueSize;
}

/** The buffer for `numQueues` regions back to back ("queue0 region | queue1 region | ... | queueN region"), unpadded. */
export function inflightBytes(numQueues: number, queueSize: number, packed: boolean): number {
  return numQueues * regionBytes(queueSize, packed);
}

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
  return Math.ceil(regionBytes(queueSize, packed) / INFLIGHT_ALIGNMENT) * INFLIGHT_ALIGNMENT;
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
    return bytes.length < inflightBytes(numQueues, queueSize, packed) ? EINVAL : { ok: true };
  }
}

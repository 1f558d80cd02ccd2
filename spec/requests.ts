// The control-plane vocabulary shared by the model, the suites and every
// Target: requests in vhost terms, independent of transport. An adapter maps
// each request to its transport (vhost-user message, vhost ioctl, VDUSE
// ioctl); the model maps it to the set of acceptable outcomes.

/** A guest memory region as announced to the device (vhost_user_memory_region / vhost_memory_region). */
export interface MemRegionDesc {
  readonly gpa: bigint;
  readonly size: bigint;
  /** Front-end virtual address: what SET_VRING_ADDR and IOTLB uaddr refer to. */
  readonly uaddr: bigint;
}

export type VhostRequest =
  | { readonly op: 'getFeatures' }
  | { readonly op: 'setFeatures'; readonly features: bigint }
  | { readonly op: 'getProtocolFeatures' }
  | { readonly op: 'setProtocolFeatures'; readonly features: bigint }
  | { readonly op: 'setOwner' }
  | { readonly op: 'resetDevice' }
  | { readonly op: 'getQueueNum' }
  | { readonly op: 'setMemTable'; readonly regions: readonly MemRegionDesc[] }
  | { readonly op: 'setVringNum'; readonly index: number; readonly num: number }
  | {
      readonly op: 'setVringAddr';
      readonly index: number;
      readonly flags: number;
      readonly desc: bigint;
      readonly used: bigint;
      readonly avail: bigint;
      readonly log: bigint;
    }
  | { readonly op: 'setVringBase'; readonly index: number; readonly base: number }
  | { readonly op: 'getVringBase'; readonly index: number }
  /** The adapter owns the eventfds; `invalid` sends the "no fd" form (vhost-user flag bit 8, or fd -1). */
  | { readonly op: 'setVringKick'; readonly index: number; readonly invalid?: boolean }
  | { readonly op: 'setVringCall'; readonly index: number; readonly invalid?: boolean }
  /** The error notifier (vhost-user SET_VRING_ERR, VHOST_SET_VRING_ERR): the adapter owns the eventfd, as for kick and call. */
  | { readonly op: 'setVringErr'; readonly index: number; readonly invalid?: boolean }
  | { readonly op: 'setVringEnable'; readonly index: number; readonly enable: boolean }
  | { readonly op: 'getConfig'; readonly offset: number; readonly size: number }
  /** vhost-user SET_CONFIG: `data` at `offset`; `flags` 0 writes writable fields, 1 is live migration (spec/virtio/configAccess.ts). */
  | { readonly op: 'setConfig'; readonly offset: number; readonly data: Uint8Array; readonly flags: number }
  | { readonly op: 'setStatus'; readonly status: number }
  | { readonly op: 'getStatus' }
  | { readonly op: 'iotlbUpdate'; readonly iova: bigint; readonly size: bigint; readonly uaddr: bigint; readonly perm: number }
  | { readonly op: 'iotlbInvalidate'; readonly iova: bigint; readonly size: bigint }
  | { readonly op: 'getMaxMemSlots' }
  /** One region added to (or removed from) the memory table; the adapter shares the region's memory as in setMemTable. */
  | { readonly op: 'addMemReg'; readonly region: MemRegionDesc }
  | { readonly op: 'remMemReg'; readonly region: MemRegionDesc }
  /**
   * The adapter owns the dirty log area, as it owns guest memory: `offset + size` bytes (Target.dirtyLog
   * shows the `size` bytes at `offset`). A size/offset pair no sane area has (past LOG_AREA_MAX or
   * wrapping 64 bits) is sent as is, with a small area behind it.
   */
  | { readonly op: 'setLogBase'; readonly size: bigint; readonly offset: bigint }
  /** VHOST_USER_SET_LOG_FD: a fresh eventfd in the ancillary data, no payload. */
  | { readonly op: 'setLogFd' }
  /**
   * VHOST_USER_GET_INFLIGHT_FD: the back-end allocates the tracking buffer and returns it as an fd;
   * the adapter maps it and answers with an InflightArea, keeping the buffer for setInflightFd.
   */
  | { readonly op: 'getInflightFd'; readonly numQueues: number; readonly queueSize: number }
  /**
   * VHOST_USER_SET_INFLIGHT_FD: the adapter sends back the buffer of its last successful getInflightFd
   * (that buffer's mmap size and offset), or, holding none, a fresh zeroed one of
   * inflightAreaSize(numQueues, queueSize, packed layout) bytes (one page when that is 0 or past
   * INFLIGHT_AREA_MAX). `withFd: false` sends the description without the fd.
   */
  | { readonly op: 'setInflightFd'; readonly numQueues: number; readonly queueSize: number; readonly withFd: boolean };

/** The largest dirty log area an adapter allocates (32 MiB of bitmap covers 1 TiB of guest memory). */
export const LOG_AREA_MAX = 1n << 25n;

/** The largest inflight buffer an adapter maps or allocates (65535 queues of a few descriptors, or one queue of 32768). */
export const INFLIGHT_AREA_MAX = 1 << 24;

/** A GET_INFLIGHT_FD answer as the front-end received it ("Inflight description" plus the fd). */
export interface InflightArea {
  readonly mmapSize: bigint;
  readonly mmapOffset: bigint;
  /** Whether the reply carried an fd. */
  readonly fd: boolean;
  /** The `mmapSize` bytes at `mmapOffset` of the fd, or null when they could not be mapped (`problem` says why). */
  readonly bytes: Uint8Array | null;
  readonly problem?: string;
}

export type VhostOp = VhostRequest['op'];

export type ReplyValue = bigint | number | Uint8Array | InflightArea;

/** What came back. `value` is bigint for feature words, number for counts and states, Uint8Array for config, InflightArea for getInflightFd. */
export type Reply =
  | { readonly ok: true; readonly value?: ReplyValue }
  | { readonly ok: false; readonly errno: string }
  | { readonly closed: true }
  | { readonly timeout: true };

export type OutcomeKind = 'ok' | 'error' | 'closed' | 'timeout';

export function outcomeKind(r: Reply): OutcomeKind {
  if ('ok' in r) return r.ok ? 'ok' : 'error';
  return 'closed' in r ? 'closed' : 'timeout';
}

/** One line per request, as printed in shrunk counterexamples. */
export function formatRequest(r: VhostRequest): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(r)) {
    if (k === 'op') continue;
    if (k === 'region') {
      const m = v as MemRegionDesc;
      parts.push(`gpa=0x${m.gpa.toString(16)}, size=0x${m.size.toString(16)}, uaddr=0x${m.uaddr.toString(16)}`);
    } else if (k === 'regions') {
      parts.push(`regions=[${(v as MemRegionDesc[]).map((m) => `gpa=0x${m.gpa.toString(16)} size=0x${m.size.toString(16)} uaddr=0x${m.uaddr.toString(16)}`).join('; ')}]`);
    } else if (typeof v === 'bigint') parts.push(`${k}=0x${v.toString(16)}`);
    else if (v instanceof Uint8Array) parts.push(`${k}=[${Buffer.from(v).toString('hex')}]`);
    else parts.push(`${k}=${String(v)}`);
  }
  return parts.length ? `${r.op}(${parts.join(', ')})` : `${r.op}()`;
}

export function formatReply(r: Reply): string {
  if ('closed' in r) return 'connection closed';
  if ('timeout' in r) return 'timeout';
  if (!r.ok) return `error ${r.errno}`;
  if (r.value === undefined) return 'ok';
  if (typeof r.value === 'bigint') return `ok 0x${r.value.toString(16)}`;
  if (typeof r.value === 'number') return `ok ${r.value}`;
  if (r.value instanceof Uint8Array) return `ok [${Buffer.from(r.value).toString('hex')}]`;
  const a = r.value;
  return `ok inflight area mmap_size=0x${a.mmapSize.toString(16)} mmap_offset=0x${a.mmapOffset.toString(16)}${a.fd ? '' : ', no fd'}${a.problem ? ` (${a.problem})` : ''}`;
}

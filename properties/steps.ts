// The concrete steps a property run is made of. Steps are plain data so a
// shrunk counterexample is saved and replayed as is, independent of the
// generators that produced it (DESIGN.md "corpus/": steps, not only a seed).
import type { VhostRequest } from '../spec/requests.ts';
import { formatRequest } from '../spec/requests.ts';
import type { ChainDefect } from '../model/chain.ts';
import type { RawCase } from './raw/rawCases.ts';
import type { KernelStep } from './kernel/types.ts';

/** How the driver brings the device up before any data moves. */
export interface SetupStep {
  readonly t: 'setup';
  readonly packed: boolean;
  readonly eventIdx: boolean;
  readonly indirect: boolean;
  readonly inOrder: boolean;
  /** Negotiate ACCESS_PLATFORM and map guest memory through the IOTLB. */
  readonly platform: boolean;
  readonly num: number;
  /** Split rings: the index the ring starts at (SET_VRING_BASE). Default 0. */
  readonly base?: number;
  /** With PROTOCOL_FEATURES, whether set-up enables the rings (default true). */
  readonly enableRings?: boolean;
  /** With CONFIGURE_MEM_SLOTS, announce guest memory one region at a time (ADD_MEM_REG) instead of SET_MEM_TABLE. */
  readonly memSlots?: boolean;
  /** With VHOST_F_LOG_ALL and LOG_SHMFD, share a dirty log (SET_LOG_BASE) and log the used rings (VHOST_VRING_F_LOG). */
  readonly log?: boolean;
}

/** Where a request's bytes go: cut points split it over descriptors; `crossRegion` straddles the region boundary. */
export interface LayoutSpec {
  readonly cuts: readonly number[];
  readonly indirect: boolean;
  readonly crossRegion: boolean;
  /** Place the buffer so it ends exactly at the end of a region (bug-catalog L10). */
  readonly atRegionEnd?: boolean;
  /** Centre the buffers on a 4 KiB page boundary inside the slot, so a buffer spans two dirty-log pages. */
  readonly straddlePage?: boolean;
}

/** Address defects of one buffer: entirely unmapped, mapped start with an unmapped tail (D1), or addr+len past 2^64. */
export type HostileAddr = 'unmapped' | 'tail-unmapped' | 'overflow';

export type Step =
  | SetupStep
  | { readonly t: 'control'; readonly req: VhostRequest }
  | { readonly t: 'blk'; readonly queue: number; readonly type: number; readonly sector: bigint; readonly data: Uint8Array; readonly readLen: number; readonly layout: LayoutSpec }
  | { readonly t: 'netTx'; readonly frame: Uint8Array; readonly layout: LayoutSpec }
  | { readonly t: 'netRx'; readonly size: number; readonly layout: LayoutSpec }
  | {
      readonly t: 'hostile';
      readonly queue: number;
      readonly defect?: ChainDefect;
      readonly addr?: HostileAddr;
      readonly zeroLen?: boolean;
      /** A device-readable buffer after the writable ones (the driver MUST NOT, §2.7.4.2). */
      readonly outAfterIn?: boolean;
      readonly indirect: boolean;
    }
  | { readonly t: 'kick'; readonly queue: number }
  | { readonly t: 'notifyMode'; readonly queue: number; readonly suppress: boolean; readonly eventOffset: number }
  | { readonly t: 'runaway'; readonly queue: number; readonly extra: number }
  | { readonly t: 'stopRing'; readonly queue: number }
  | { readonly t: 'restartRing'; readonly queue: number }
  | { readonly t: 'enableRing'; readonly queue: number; readonly enable: boolean }
  | { readonly t: 'reset' }
  | { readonly t: 'churn'; readonly queue: number; readonly count: number }
  /** GET_INFLIGHT_FD `count` times in a row: each answer must replace the previous buffer, not add to it (bug-catalog D7). */
  | { readonly t: 'repeatGetInflight'; readonly numQueues: number; readonly queueSize: number; readonly count: number }
  /** A hand-made frame on its own session (socket targets), judged by properties/raw. */
  | { readonly t: 'raw'; readonly frame: RawCase }
  /** Invalidate one region's mapping, both in one message ('all'), or a range straddling both ('span'): overlap at either end (D15). */
  | { readonly t: 'unmapIotlb'; readonly region: number | 'all' | 'span' | 'all-but-rings' }
  | { readonly t: 'remapIotlb'; readonly region: number; readonly perm: number }
  /** REM_MEM_REG (add false) or ADD_MEM_REG (add true) of one guest memory region, as it was announced at set-up. */
  | { readonly t: 'memSlot'; readonly region: number; readonly add: boolean }
  /** A step of a kernel suite (properties/kernel): its own op and fields, run by that suite. */
  | KernelStep;

export function formatStep(s: Step): string {
  switch (s.t) {
    case 'setup':
      return `setup(${s.packed ? 'packed' : 'split'}, num=${s.num}${s.base ? `, base=${s.base}` : ''}${s.eventIdx ? ', EVENT_IDX' : ''}${s.indirect ? ', INDIRECT_DESC' : ''}${s.inOrder ? ', IN_ORDER' : ''}${s.platform ? ', ACCESS_PLATFORM' : ''}${s.enableRings === false ? ', rings left disabled' : ''}${s.memSlots ? ', memory by ADD_MEM_REG' : ''}${s.log ? ', dirty log' : ''})`;
    case 'control':
      return formatRequest(s.req);
    case 'blk':
      return `blk(queue=${s.queue}, type=${s.type}, sector=${s.sector}, ${s.data.length ? `write ${s.data.length} bytes` : `read ${s.readLen} bytes`}, ${formatLayout(s.layout)})`;
    case 'netTx':
      return `netTx(${s.frame.length} bytes, ${formatLayout(s.layout)})`;
    case 'netRx':
      return `netRx(${s.size} bytes, ${formatLayout(s.layout)})`;
    case 'hostile':
      return `hostile(queue=${s.queue}, ${[s.defect, s.addr, s.zeroLen ? 'zero-length' : undefined, s.outAfterIn ? 'readable-after-writable' : undefined, s.indirect ? 'indirect' : undefined].filter(Boolean).join(', ')})`;
    case 'kick':
      return `kick(queue=${s.queue})`;
    case 'notifyMode':
      return `notifyMode(queue=${s.queue}, ${s.suppress ? 'suppress' : 'notify'}, eventOffset=${s.eventOffset})`;
    case 'runaway':
      return `availIdxRunaway(queue=${s.queue}, +${s.extra})`;
    case 'stopRing':
      return `stopRing(queue=${s.queue})`;
    case 'restartRing':
      return `restartRing(queue=${s.queue})`;
    case 'enableRing':
      return `setVringEnable(queue=${s.queue}, ${s.enable})`;
    case 'reset':
      return 'resetDevice, getVringBase of every ring, setup again';
    case 'raw':
      return `raw frame on a fresh session: ${s.frame.description} [${s.frame.bytes}${s.frame.fds ? ` + ${s.frame.fds} fd(s)` : ''}], then GET_FEATURES on a new session`;
    case 'churn':
      return `replace call and kick fds of queue ${s.queue} ${s.count} times`;
    case 'repeatGetInflight':
      return `getInflightFd(numQueues=${s.numQueues}, queueSize=${s.queueSize}) ${s.count} times`;
    case 'unmapIotlb':
      return `iotlbInvalidate(region=${s.region})`;
    case 'remapIotlb':
      return `iotlbUpdate(region=${s.region}, perm=${s.perm})`;
    case 'memSlot':
      return `${s.add ? 'addMemReg' : 'remMemReg'}(region=${s.region})`;
    case 'kernel':
      return formatKernelStep(s);
  }
}

/** `op(field=value, …)`: every kernel suite's steps in one spelling, so reports and replays need no suite to print them. */
export function formatKernelStep(s: KernelStep): string {
  const show = (v: unknown): string => {
    if (typeof v === 'bigint') return `0x${v.toString(16)}`;
    if (v instanceof Uint8Array) return v.length <= 16 ? `[${Buffer.from(v).toString('hex')}]` : `[${v.length} bytes]`;
    if (Array.isArray(v)) return `[${v.map(show).join(', ')}]`;
    if (v && typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${k}=${show(x)}`).join(', ')}}`;
    return String(v);
  };
  const fields = Object.entries(s).filter(([k]) => k !== 't' && k !== 'op');
  return `${s.op}(${fields.map(([k, v]) => `${k}=${show(v)}`).join(', ')})`;
}

function formatLayout(l: LayoutSpec): string {
  const parts = [`cuts=[${l.cuts.join(',')}]`];
  if (l.indirect) parts.push('indirect');
  if (l.crossRegion) parts.push('cross-region');
  if (l.atRegionEnd) parts.push('at-region-end');
  if (l.straddlePage) parts.push('straddles a page');
  return parts.join(' ');
}

/** JSON with bigint and byte arrays, for regression files. */
export function stepsToJson(steps: readonly Step[]): unknown {
  return JSON.parse(JSON.stringify(steps, (_k, v: unknown) => {
    if (typeof v === 'bigint') return { $big: `0x${v.toString(16)}` };
    if (v instanceof Uint8Array) return { $hex: Buffer.from(v).toString('hex') };
    return v;
  }));
}

export function stepsFromJson(json: unknown): Step[] {
  if (!Array.isArray(json)) throw new Error('steps must be an array');
  return JSON.parse(JSON.stringify(json), (_k, v: unknown) => {
    if (v && typeof v === 'object' && '$big' in v) return BigInt((v as { $big: string }).$big);
    if (v && typeof v === 'object' && '$hex' in v) return new Uint8Array(Buffer.from((v as { $hex: string }).$hex, 'hex'));
    return v;
  }) as Step[];
}

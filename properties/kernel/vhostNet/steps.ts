// The steps of the guest:vhost-net suites: plain data (saved in regression
// files and replayed), with addresses symbolic — an offset into the session's
// shared window, or an absolute value for hostile ones — so a saved case
// replays in a guest whose mapping lands elsewhere.
import { encode } from '../../../spec/codec.ts';
import { vhost_msg_v2 } from '../../../spec/vhost/types.ts';
import { hex, type VhostNetRequest } from '../../../model/kernel/vhostNet.ts';
import type { KernelStep } from '../types.ts';

/** An address: `w` bytes into the session's window (guest memory the agent mapped), or `abs` as it is. */
export type AddrRef = { readonly w: bigint } | { readonly abs: bigint };

export interface RegionRef {
  readonly gpa: bigint;
  readonly size: bigint;
  readonly at: AddrRef;
}

type Step<O extends string, F = object> = { readonly t: 'kernel'; readonly op: O } & F;

export type ControlStep =
  | Step<'setOwner'>
  | Step<'resetOwner'>
  | Step<'setLogAll', { readonly on: boolean }>
  | Step<'getBackendFeatures'>
  | Step<'setBackendFeatures', { readonly features: bigint }>
  | Step<'setVringNum' | 'setVringBase' | 'setVringEndian', { readonly index: number; readonly num: number }>
  | Step<'getVringBase', { readonly index: number }>
  | Step<'setVringAddr', { readonly index: number; readonly flags: number; readonly desc: AddrRef; readonly avail: AddrRef; readonly used: AddrRef; readonly log: AddrRef }>
  | Step<'setVringFile', { readonly which: 'kick' | 'call' | 'err'; readonly index: number; readonly unbind: boolean }>
  | Step<'setMemTable', { readonly padding: number; readonly regions: readonly RegionRef[] }>
  | Step<'setLogBase', { readonly base: AddrRef }>
  | Step<'setBackend', { readonly index: number; readonly attach: boolean }>
  | Step<'iotlbWrite', { readonly msgType: number; readonly asid: number; readonly iova: bigint; readonly size: bigint; readonly uaddr: AddrRef; readonly perm: number; readonly type: number; readonly length: number }>
  | Step<'iotlbRead', { readonly length: number }>
  | Step<'kick', { readonly index: number }>;

export function resolve(a: AddrRef, windowBase: bigint): bigint {
  return BigInt.asUintN(64, 'w' in a ? windowBase + a.w : a.abs);
}

function addrText(a: AddrRef): string {
  return 'w' in a ? `w+${hex(a.w)}` : hex(a.abs);
}

/** The ioctl or message a control step stands for, with its addresses resolved; null for steps the model does not judge alone (kick). */
export function toRequest(s: ControlStep, windowBase: bigint, suiteFeatures: bigint): VhostNetRequest | null {
  const at = (a: AddrRef) => resolve(a, windowBase);
  switch (s.op) {
    case 'setOwner':
    case 'resetOwner':
    case 'getBackendFeatures':
      return { op: s.op };
    case 'setLogAll':
      return { op: 'setFeatures', features: s.on ? suiteFeatures | (1n << 26n) : suiteFeatures & ~(1n << 26n) };
    case 'setBackendFeatures':
      return { op: s.op, features: s.features };
    case 'setVringNum':
    case 'setVringBase':
    case 'setVringEndian':
      return { op: s.op, index: s.index, num: s.num };
    case 'getVringBase':
      return { op: s.op, index: s.index };
    case 'setVringAddr':
      return { op: s.op, index: s.index, flags: s.flags, desc: at(s.desc), avail: at(s.avail), used: at(s.used), log: at(s.log) };
    case 'setVringFile':
      return { op: s.op, which: s.which, index: s.index, unbind: s.unbind };
    case 'setMemTable':
      return { op: s.op, padding: s.padding, regions: s.regions.map((r) => ({ gpa: r.gpa, size: r.size, uaddr: at(r.at) })) };
    case 'setLogBase':
      return { op: s.op, base: at(s.base) };
    case 'setBackend':
      return { op: s.op, index: s.index, attach: s.attach };
    case 'iotlbWrite':
      return { op: s.op, bytes: iotlbBytes(s, windowBase) };
    case 'iotlbRead':
      return { op: s.op, length: s.length };
    case 'kick':
      return null;
  }
}

/** A vhost_msg_v2 (or, with msgType 1, a vhost_msg: same offsets from 8 on) cut or padded to `length` bytes. */
function iotlbBytes(s: Extract<ControlStep, { op: 'iotlbWrite' }>, windowBase: bigint): Uint8Array {
  const full = encode(vhost_msg_v2, {
    type: s.msgType >>> 0,
    asid: s.asid >>> 0,
    iotlb_iova: s.iova,
    iotlb_size: s.size,
    iotlb_uaddr: resolve(s.uaddr, windowBase),
    iotlb_perm: s.perm,
    iotlb_type: s.type,
  });
  const out = new Uint8Array(s.length);
  out.set(full.subarray(0, Math.min(s.length, full.length)));
  return out;
}

/** The requirement a crash or hang during the step is charged to (KernelSuite.requirementOf). */
export function controlRequirementOf(s: KernelStep): string {
  switch (s.op) {
    case 'setOwner':
      return 'vhost.owner.exclusive';
    case 'resetOwner':
      return 'vhost.owner.reset';
    case 'setLogAll':
      return 'vhost.log.all-live';
    case 'getBackendFeatures':
    case 'setBackendFeatures':
      return 'vhost.backend-features.get';
    case 'setVringNum':
      return 'vhost.vring.num-valid';
    case 'setVringBase':
      return 'vhost.vring.base-busy';
    case 'getVringBase':
      return 'vhost.vring.get-base';
    case 'setVringEndian':
      return 'vhost.vring.endian';
    case 'setVringAddr':
      return 'vhost.vring.addr-checked';
    case 'setVringFile':
      return 'vhost.vring.file-unbind';
    case 'setMemTable':
    case 'setBackend':
      return 'vhost.mem.overflow';
    case 'setLogBase':
      return 'vhost.log.base-checked';
    case 'iotlbWrite':
      return 'vhost.iotlb.msg-type';
    case 'iotlbRead':
    case 'kick':
      return 'vhost.iotlb.miss-on-unmapped';
    default:
      return 'vhost.owner.required';
  }
}

export function formatControlStep(k: KernelStep): string {
  const s = k as ControlStep;
  switch (s.op) {
    case 'setOwner':
    case 'resetOwner':
    case 'getBackendFeatures':
      return s.op;
    case 'setLogAll':
      return `setFeatures(${s.on ? '+' : '-'}LOG_ALL)`;
    case 'setBackendFeatures':
      return `setBackendFeatures(${hex(s.features)})`;
    case 'setVringNum':
    case 'setVringBase':
    case 'setVringEndian':
      return `${s.op}(${s.index}, ${s.num})`;
    case 'getVringBase':
      return `getVringBase(${s.index})`;
    case 'setVringAddr':
      return `setVringAddr(${s.index}, flags ${hex(s.flags)}, desc ${addrText(s.desc)}, avail ${addrText(s.avail)}, used ${addrText(s.used)}, log ${addrText(s.log)})`;
    case 'setVringFile':
      return `setVring${s.which[0]!.toUpperCase()}${s.which.slice(1)}(${s.index}, ${s.unbind ? 'UNBIND' : 'eventfd'})`;
    case 'setMemTable':
      return `setMemTable(${s.regions.length} regions${s.padding ? `, padding ${s.padding}` : ''}: ${s.regions
        .slice(0, 3)
        .map((r) => `[gpa ${hex(r.gpa)} size ${hex(r.size)} at ${addrText(r.at)}]`)
        .join(' ')}${s.regions.length > 3 ? ' …' : ''})`;
    case 'setLogBase':
      return `setLogBase(${addrText(s.base)})`;
    case 'setBackend':
      return `setBackend(${s.index}, ${s.attach ? 'tap' : 'UNBIND'})`;
    case 'iotlbWrite':
      return `write(${s.length} bytes: msg type ${s.msgType}, asid ${s.asid}, iotlb type ${s.type}, iova ${hex(s.iova)}, size ${hex(s.size)}, uaddr ${addrText(s.uaddr)}, perm ${s.perm})`;
    case 'iotlbRead':
      return `read(${s.length} bytes)`;
    case 'kick':
      return `kick(${s.index})`;
  }
}

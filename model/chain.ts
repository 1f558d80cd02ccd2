// What a device may do with one descriptor chain (virtio 1.2 §2.7.4-§2.7.5,
// §2.8.6-§2.8.7). The driver describes the chain it laid out as a shape; the
// model decides whether a correct device must process it or must refuse it,
// and which requirement each answer is judged against. Pure.
import { type Access, translateRange } from './memory.ts';

export interface BufferShape {
  readonly addr: bigint;
  readonly len: number;
  readonly write: boolean;
}

/** Structural defects the driver plants on purpose; address defects show in the buffers themselves. */
export const CHAIN_DEFECTS = ['loop', 'head-out-of-range', 'next-out-of-range', 'nested-indirect', 'indirect-len-invalid', 'indirect-loop'] as const;
export type ChainDefect = (typeof CHAIN_DEFECTS)[number];

export interface ChainShape {
  readonly buffers: readonly BufferShape[];
  /** The buffers sit in an indirect table (virtio 1.2 §2.7.5.3 / §2.8.7). */
  readonly indirect: boolean;
  readonly defect?: ChainDefect;
}

export const DEFECT_REQUIREMENT: Readonly<Record<ChainDefect | 'unmapped' | 'overflow' | 'out-after-in', string>> = {
  loop: 'virtio.robust.chain-loop-bounded',
  'head-out-of-range': 'virtio.robust.desc-index-bound',
  'next-out-of-range': 'virtio.robust.desc-index-bound',
  'nested-indirect': 'virtio.robust.nested-indirect-rejected',
  'indirect-len-invalid': 'virtio.robust.indirect-len-invalid',
  'indirect-loop': 'virtio.robust.indirect-loop-bounded',
  unmapped: 'virtio.robust.addr-unmapped',
  overflow: 'virtio.robust.addr-len-overflow',
  'out-after-in': 'virtio.robust.out-after-in',
};

export type ChainClass =
  /** `mayRefuse`: valid only if memory that may or may not be mapped is; refusing it is then right too. */
  | { readonly valid: true; readonly readable: number; readonly writable: number; readonly mayRefuse?: string }
  | { readonly valid: false; readonly requirement: string; readonly reason: string };

export type TranslationMap = Parameters<typeof translateRange>[2];

const U64_LIMIT = 1n << 64n;

/**
 * Classifies against the definite mappings and, when some may or may not be mapped, against the
 * lenient view as well: valid in both → valid; only in the lenient one → valid but refusable.
 */
export function classifyChainWith(chain: ChainShape, strict: TranslationMap, lenient: TranslationMap): ChainClass {
  const s = classifyChain(chain, strict);
  if (s.valid || strict === lenient) return s;
  const l = classifyChain(chain, lenient);
  return l.valid ? { ...l, mayRefuse: s.requirement } : s;
}

export function classifyChain(chain: ChainShape, map: TranslationMap): ChainClass {
  if (chain.defect) return { valid: false, requirement: DEFECT_REQUIREMENT[chain.defect], reason: chain.defect };
  let readable = 0;
  let writable = 0;
  let seenWritable = false;
  for (const b of chain.buffers) {
    // §2.7.4.2 / §2.8.6: the driver places device-writable buffers after device-readable ones
    // (a rule about descriptor flags, so a zero-length writable descriptor counts too).
    seenWritable ||= b.write;
    if (!b.write && seenWritable) return { valid: false, requirement: DEFECT_REQUIREMENT['out-after-in'], reason: 'a device-readable buffer follows a device-writable one' };
    if (b.addr + BigInt(b.len) > U64_LIMIT) return { valid: false, requirement: DEFECT_REQUIREMENT.overflow, reason: `addr 0x${b.addr.toString(16)} + len ${b.len} wraps 64 bits` };
    const access: Access = b.write ? 'write' : 'read';
    if (translateRange(b.addr, b.len, map, access) === null) {
      return { valid: false, requirement: DEFECT_REQUIREMENT.unmapped, reason: `[0x${b.addr.toString(16)}, +${b.len}) not mapped for ${access}` };
    }
    if (b.write) writable += b.len;
    else readable += b.len;
  }
  return { valid: true, readable, writable };
}

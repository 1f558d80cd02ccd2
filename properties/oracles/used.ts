// Used-element oracles (virtio 1.2 §2.7.8, §2.8.6): every used id names a
// buffer the driver made available and that is not yet used; the length
// never exceeds the writable bytes and, for a request the model understands,
// equals what the device type implies.
import type { ChainClass } from '../../model/chain.ts';
import { fail, type Observation, pass } from './observation.ts';

export interface UsedIds {
  readonly idRequirement: string;
  readonly lenRequirement: string;
}

export const SPLIT_USED: UsedIds = { idRequirement: 'virtio.split.used.id-is-head', lenRequirement: 'virtio.split.used.len-written' };
export const PACKED_USED: UsedIds = { idRequirement: 'virtio.packed.used.id-is-buffer-id', lenRequirement: 'virtio.packed.used.len-written' };

export function checkUsedId(ids: UsedIds, id: number, outstanding: ReadonlySet<number>): Observation {
  return outstanding.has(id) ? pass(ids.idRequirement) : fail(ids.idRequirement, `used id ${id} is not an outstanding buffer (outstanding: ${[...outstanding].join(',') || 'none'})`);
}

/**
 * A valid chain: len ≤ writable (write bound) and len == expected when the
 * model knows it. A refused chain: len must be 0 (it was not processed).
 */
export function checkUsedLen(ids: UsedIds, cls: ChainClass, len: number, expectedLen: number | null): Observation[] {
  if (!cls.valid) return [len === 0 ? pass(cls.requirement) : fail(cls.requirement, `refused chain (${cls.reason}) came back with len ${len}: the device processed it`)];
  const out: Observation[] = [];
  out.push(len <= cls.writable ? pass('virtio.robust.write-bound') : fail('virtio.robust.write-bound', `used len ${len} > ${cls.writable} writable bytes`));
  if (expectedLen !== null) out.push(len === expectedLen ? pass(ids.lenRequirement) : fail(ids.lenRequirement, `used len ${len}, expected ${expectedLen}`));
  return out;
}

// Memory oracles: the device writes only where the driver let it write
// (virtio 1.2 §2.7.4 "A device MUST NOT write to a device-readable buffer";
// §2.7.5.1 the descriptor table; and no byte outside any buffer).
import { damagedGuardOffset } from '../../implementations/guestMemory.ts';
import type { GuestMemory } from '../../implementations/target.ts';
import { readGpa } from '../driver/guestAccess.ts';
import { fail, type Observation, pass } from './observation.ts';

export const WRITE_BOUND = 'virtio.robust.write-bound';

/** Guard bytes around the regions must keep their canaries. */
export function checkGuards(mem: GuestMemory): Observation {
  const at = damagedGuardOffset(mem);
  return at < 0 ? pass(WRITE_BOUND) : fail(WRITE_BOUND, `guard byte at backing offset 0x${at.toString(16)} overwritten: the device wrote outside every region`);
}

/** Bytes the driver owns (readable buffers, canary gaps, ring areas) must read back as written. */
export function checkUnchanged(mem: GuestMemory, areas: readonly { gpa: bigint; bytes: Uint8Array }[], requirement: string, what: string): Observation {
  for (const a of areas) {
    const now = readGpa(mem, a.gpa, a.bytes.length);
    if (Buffer.from(now.buffer, now.byteOffset, now.byteLength).equals(a.bytes)) continue;
    for (let i = 0; i < now.length; i++) {
      if (now[i] !== a.bytes[i]) {
        return fail(requirement, `${what} at GPA 0x${(a.gpa + BigInt(i)).toString(16)} changed from 0x${a.bytes[i].toString(16)} to 0x${now[i].toString(16)}`);
      }
    }
  }
  return pass(requirement);
}

// The device's only way into guest memory: byte ranges of GuestMemory.backing
// produced by address translation (addressSpace.ts). Anything outside the
// backing is "unmapped host memory" and kills the device, as a stray pointer
// kills a real back-end; anything inside it but outside a region is a guard,
// which the canary oracle watches.
import type { GuestMemory } from '../target.ts';
import { DeviceFault, DeviceHang } from './faults.ts';
import type { MutantSwitch } from './mutants/index.ts';

/** A translated piece of guest memory: `len` bytes of the backing at `off`. */
export interface HostRange {
  readonly off: number;
  readonly len: number;
}

/** One iovec of a descriptor chain: a host range and the direction of the descriptor it came from. */
export interface Iov extends HostRange {
  readonly write: boolean;
}

export function totalLen(ranges: readonly HostRange[]): number {
  let n = 0;
  for (const r of ranges) n += r.len;
  return n;
}

export class Dma {
  // The backing is looked up on every access, not captured: a served device's
  // memory is whatever the last accepted SET_MEM_TABLE mapped (runner/serve.ts).
  constructor(
    private readonly memory: GuestMemory,
    private readonly has: MutantSwitch,
  ) {}

  /** The host bytes at [off, off+len); outside the mapping is a SIGSEGV. */
  host(off: number, len: number): Buffer {
    const backing = this.memory.backing;
    if (!Number.isSafeInteger(off) || off < 0 || len < 0 || off + len > backing.length) {
      throw new DeviceFault('SIGSEGV', `host access ${off}+${len} outside the guest memory mapping`);
    }
    return backing.subarray(off, off + len);
  }

  /** Copies `len` bytes starting `at` bytes into the ranges (gather). */
  read(ranges: readonly HostRange[], at: number, len: number): Buffer {
    const out = Buffer.alloc(len);
    this.walk(ranges, at, len, (off, n, done) => this.host(off, n).copy(out, done));
    return out;
  }

  /** Copies `data` to `at` bytes into the ranges (scatter). */
  write(ranges: readonly HostRange[], at: number, data: Uint8Array): void {
    this.walk(ranges, at, data.length, (off, n, done) => this.host(off, n).set(data.subarray(done, done + n)));
  }

  readU16(ranges: readonly HostRange[], at: number): number {
    return this.read(ranges, at, 2).readUInt16LE(0);
  }

  readU32(ranges: readonly HostRange[], at: number): number {
    return this.read(ranges, at, 4).readUInt32LE(0);
  }

  readU64(ranges: readonly HostRange[], at: number): bigint {
    return this.read(ranges, at, 8).readBigUInt64LE(0);
  }

  writeU16(ranges: readonly HostRange[], at: number, v: number): void {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(v & 0xffff);
    this.write(ranges, at, b);
  }

  writeU32(ranges: readonly HostRange[], at: number, v: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    this.write(ranges, at, b);
  }

  /**
   * The iovec copy loop. Zero-length iovecs are stepped over; the
   * `zero-len-hang` mutant keeps them and, like vringh_kiov_advance() before
   * the CVE-2023-5158 fix (bug-catalog L12), never advances past one.
   */
  private walk(ranges: readonly HostRange[], at: number, len: number, visit: (off: number, n: number, done: number) => void): void {
    let i = 0;
    let skip = at;
    let done = 0;
    while (done < len) {
      const r = ranges[i];
      if (r === undefined) throw new DeviceFault('SIGSEGV', `iovec overrun: ${len - done} bytes left after ${ranges.length} ranges`);
      if (r.len === 0 && this.has('zero-len-hang')) throw new DeviceHang('copy loop makes no progress on a zero-length iovec');
      if (skip >= r.len) {
        skip -= r.len;
        i++;
        continue;
      }
      const n = Math.min(r.len - skip, len - done);
      visit(r.off + skip, n, done);
      done += n;
      skip = 0;
      i++;
    }
  }
}

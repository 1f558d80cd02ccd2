// The back-end side of dirty page logging (vhost-user.rst "Migration"): with
// VHOST_F_LOG_ALL acked, every guest page the device writes is marked in the
// log the front-end shared with SET_LOG_BASE, one bit per VHOST_LOG_PAGE
// page of guest-physical address, "page = addr / VHOST_LOG_PAGE;
// log[page / 8] |= 1 << page % 8".
import { DeviceFault } from './faults.ts';
import type { MutantSwitch } from './mutants/index.ts';

export const VHOST_LOG_PAGE = 0x1000n;
const U64_LIMIT = 1n << 64n;

export class DirtyLog {
  /** The whole shared area (the "mmap" of the log fd), where the log starts, and its size in bytes. */
  private area: { readonly bytes: Uint8Array; readonly offset: bigint; readonly size: bigint } | null = null;

  constructor(private readonly has: MutantSwitch) {}

  /**
   * VHOST_USER_SET_LOG_BASE. An empty log, or one whose offset + size wraps 64 bits or runs past
   * the area shared, is refused and the previous log stays (DPDK vhost_user_set_log_base, bug-catalog D3);
   * the `log-base-overflow-unchecked` mutant takes the wrapped range as it comes.
   */
  attach(bytes: Uint8Array, size: bigint, offset: bigint): boolean {
    if (!this.has('log-base-overflow-unchecked')) {
      if (size === 0n || offset + size >= U64_LIMIT || offset + size > BigInt(bytes.length)) return false;
    }
    this.area = { bytes, offset, size };
    return true;
  }

  get attached(): boolean {
    return this.area !== null;
  }

  /** Marks every page [gpa, gpa+len) touches. Pages beyond the log are not tracked: the front-end sized it too small. */
  mark(gpa: bigint, len: number): void {
    const a = this.area;
    if (a === null || len <= 0) return;
    const first = gpa / VHOST_LOG_PAGE;
    // bug-catalog L5/L6 class "dirty-log off-by-N": counting pages from the length alone misses the
    // last page of a buffer that starts inside one page and ends in the next.
    const last = this.has('dirty-log-last-page-missed') ? first + (BigInt(len) + VHOST_LOG_PAGE - 1n) / VHOST_LOG_PAGE - 1n : (gpa + BigInt(len) - 1n) / VHOST_LOG_PAGE;
    for (let page = first; page <= last; page++) {
      const byte = page / 8n;
      if (byte >= a.size) return;
      const at = a.offset + byte;
      // The mutant's wrapped offset points outside the mapping: a stray store, as in C.
      if (at >= BigInt(a.bytes.length)) throw new DeviceFault('SIGSEGV', `dirty log store at 0x${at.toString(16)} outside the ${a.bytes.length}-byte log mapping`);
      a.bytes[Number(at)] |= 1 << Number(page % 8n);
    }
  }
}

// Dirty page logging oracle (vhost-user.rst "Migration"): with VHOST_F_LOG_ALL
// acked and a log shared by SET_LOG_BASE, every guest page the device wrote
// through descriptors, and with VHOST_VRING_F_LOG every used-ring write, must
// be marked: "page = addr / VHOST_LOG_PAGE; log[page / 8] |= 1 << page % 8".
// A page the device wrote but left clean is lost by a live migration.
import type { BufferShape } from '../../model/chain.ts';
import { pass, type Observation } from './observation.ts';

export const LOG_MARK_DIRTY = 'vhost-user.log.mark-dirty';
export const LOG_USED_RING = 'vhost-user.log.used-ring';
/** "Dirty pages are of size VHOST_LOG_PAGE 0x1000". */
export const VHOST_LOG_PAGE = 0x1000n;

/** What the device must have logged: pages, and the write they stand for. */
export interface LogExpectation {
  readonly requirement: typeof LOG_MARK_DIRTY | typeof LOG_USED_RING;
  readonly pages: readonly bigint[];
  readonly what: string;
}

/** Pages [gpa, gpa+len) touches. */
export function pagesOf(gpa: bigint, len: number): bigint[] {
  if (len <= 0) return [];
  const out: bigint[] = [];
  for (let p = gpa / VHOST_LOG_PAGE; p <= (gpa + BigInt(len) - 1n) / VHOST_LOG_PAGE; p++) out.push(p);
  return out;
}

/**
 * Pages of the first `len` bytes of the device-writable buffers, in chain order: what a device that
 * wrote `len` bytes (its used length) wrote, as Linux vhost and libvhost-user log it.
 */
export function writtenPages(writable: readonly BufferShape[], len: number): bigint[] {
  const pages = new Set<bigint>();
  let left = len;
  for (const b of writable) {
    if (left <= 0) break;
    const n = Math.min(b.len, left);
    for (const p of pagesOf(b.addr, n)) pages.add(p);
    left -= n;
  }
  return [...pages];
}

export function isMarked(log: Uint8Array, page: bigint): boolean {
  const byte = page / 8n;
  return byte < BigInt(log.length) && (log[Number(byte)] & (1 << Number(page % 8n))) !== 0;
}

/** Clears the bits of the pages [gpa, gpa+len) touches: the driver reuses that memory, so older marks must not count. */
export function clearPages(log: Uint8Array, gpa: bigint, len: number): void {
  for (const p of pagesOf(gpa, len)) {
    const byte = p / 8n;
    if (byte < BigInt(log.length)) log[Number(byte)] &= ~(1 << Number(p % 8n));
  }
}

/** One observation per requirement: the first unmarked page, or a pass. */
export function checkLogged(log: Uint8Array, expected: readonly LogExpectation[]): Observation[] {
  const byReq = new Map<string, Observation>();
  for (const e of expected) {
    if (byReq.get(e.requirement)?.verdict === 'FAIL') continue;
    const missing = e.pages.find((p) => !isMarked(log, p));
    // A miss is a FAIL: the back-end declared VHOST_F_LOG_ALL, which vhost-user.rst "Migration" allows only
    // "once it complies to this logging", and an unmarked page is a write the destination never receives —
    // silent data corruption of the migrated guest (spec/requirements/vhostUser.ts vhost-user.log.*).
    byReq.set(e.requirement, missing === undefined
      ? pass(e.requirement)
      : { requirement: e.requirement, verdict: 'FAIL', detail: `${e.what}: page 0x${missing.toString(16)} (GPA 0x${(missing * VHOST_LOG_PAGE).toString(16)}) not marked in the dirty log` });
  }
  return [...byReq.values()];
}

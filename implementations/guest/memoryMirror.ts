// The guest memory a kernel target in the QEMU guest shares with its device:
// the suite writes and reads a host Buffer (GuestMemory.backing), the device
// reads and writes one agent memfd mapped MAP_SHARED in the guest. A sync
// keeps the two coherent in one agent round trip (agent.c mem_diff, op 17):
// it pushes the byte runs the driver changed on the host since the last sync,
// and pulls the runs the device changed in the guest.
//
// Neither side is copied wholesale, so neither clobbers the other's
// concurrent writes: the host keeps a shadow of the state both sides last
// agreed on, and sends only the bytes where its copy differs from that shadow
// (exact runs: a byte the driver did not touch may have been written by the
// device meanwhile). The agent keeps its own shadow and reports what differs
// from it. After each sync both shadows are equal again.
//
// A pull is not an atomic snapshot: the agent scans in ascending address
// order while the device runs. That is coherent for split rings, whose device
// writes a used element before the (lower) used index (virtio 1.2 §2.7.8.2),
// but not for packed rings, whose device writes a descriptor's flags (its
// highest field) last: a pull may show new flags with an old id and len. No
// device mirrored here offers VIRTIO_F_RING_PACKED (vdpa_sim's VDPASIM_FEATURES).
import type { AgentClient } from './agent.ts';
import { errnoName } from './agent.ts';

/** A byte range of the mirrored area. */
export interface Run {
  readonly offset: number;
  readonly length: number;
}

const PAGE = 4096;
/** One memDiff request carries at most this many bytes of pushed runs (the agent's frame limit is 4 MiB). */
const PUSH_CHUNK = 1 << 20;
const RUN_HEADER = 8;

/**
 * Exact runs where `now` differs from `before` (equal lengths): no unchanged byte inside a run. Pages
 * are compared natively first, so an unchanged 2 MiB area costs 512 memcmp calls.
 */
export function changedRuns(now: Buffer, before: Buffer): Run[] {
  if (now.length !== before.length) throw new RangeError(`changedRuns: ${now.length} bytes against ${before.length}`);
  const runs: Run[] = [];
  let open = -1;
  for (let page = 0; page < now.length; page += PAGE) {
    const end = Math.min(page + PAGE, now.length);
    if (now.subarray(page, end).equals(before.subarray(page, end))) {
      if (open >= 0) runs.push({ offset: open, length: page - open });
      open = -1;
      continue;
    }
    for (let i = page; i < end; i++) {
      const differs = now[i] !== before[i];
      if (differs && open < 0) open = i;
      else if (!differs && open >= 0) {
        runs.push({ offset: open, length: i - open });
        open = -1;
      }
    }
  }
  if (open >= 0) runs.push({ offset: open, length: now.length - open });
  return runs;
}

/** Runs as the agent reads them: u32 offset, u32 length, the bytes of `src` there. */
export function encodeRuns(src: Buffer, runs: readonly Run[]): Buffer {
  const out = Buffer.alloc(runs.reduce((n, r) => n + RUN_HEADER + r.length, 0));
  let at = 0;
  for (const r of runs) {
    out.writeUInt32LE(r.offset, at);
    out.writeUInt32LE(r.length, at + 4);
    src.copy(out, at + RUN_HEADER, r.offset, r.offset + r.length);
    at += RUN_HEADER + r.length;
  }
  return out;
}

/** The agent's reply runs (same encoding), checked against the mirrored area's size: a malformed reply is an error, not a write. */
export function decodeRuns(body: Buffer, size: number): { offset: number; bytes: Buffer }[] {
  const out: { offset: number; bytes: Buffer }[] = [];
  for (let at = 0; at < body.length;) {
    if (body.length - at < RUN_HEADER) throw new RangeError(`memDiff reply: ${body.length - at} stray bytes at ${at}`);
    const offset = body.readUInt32LE(at);
    const length = body.readUInt32LE(at + 4);
    at += RUN_HEADER;
    if (length > body.length - at || offset + length > size) throw new RangeError(`memDiff reply: run ${offset}+${length} outside the ${size}-byte area or the reply`);
    out.push({ offset, bytes: body.subarray(at, at + length) });
    at += length;
  }
  return out;
}

/** Groups runs into chunks whose encoding stays under PUSH_CHUNK bytes (a run larger than that is split). */
function chunks(runs: readonly Run[]): Run[][] {
  const out: Run[][] = [[]];
  let size = 0;
  for (const r of runs) {
    for (let off = 0; off < r.length; off += PUSH_CHUNK) {
      const piece = { offset: r.offset + off, length: Math.min(PUSH_CHUNK, r.length - off) };
      if (size + RUN_HEADER + piece.length > PUSH_CHUNK && out[out.length - 1].length > 0) {
        out.push([]);
        size = 0;
      }
      out[out.length - 1].push(piece);
      size += RUN_HEADER + piece.length;
    }
  }
  return out;
}

/** What syncs have cost so far: for the bench and the report. */
export interface MirrorStats {
  syncs: number;
  pushedBytes: number;
  pulledBytes: number;
  /** Wall time spent in sync(), milliseconds. */
  ms: number;
}

/** How one sync ended: the guest stopped answering or died (health() tells which), or both sides agree. */
export type SyncOutcome = 'ok' | 'timeout' | 'crash';

export class MemoryMirror {
  /** The state host and guest last agreed on; the agent's mapping of a fresh memfd starts zeroed, and so does this. */
  readonly shadow: Buffer;
  readonly stats: MirrorStats = { syncs: 0, pushedBytes: 0, pulledBytes: 0, ms: 0 };

  constructor(
    private readonly agent: Pick<AgentClient, 'memDiff'>,
    /** The host copy the suite reads and writes. */
    readonly backing: Buffer,
    /** The agent's mapping of the memfd, of `backing.length` bytes. */
    readonly guestAddr: bigint,
  ) {
    this.shadow = Buffer.alloc(backing.length);
  }

  /**
   * Pushes what the driver changed, and pulls what the device changed within `scan` (all of the memory, or only
   * some ranges: a used ring polled for completions; none for a push before a kick). One round trip unless the
   * push or the pull is large. Bytes not scanned stay as they were on the host until a later sync scans them.
   */
  async sync(scan: readonly Run[] | 'all' = 'all'): Promise<SyncOutcome> {
    const t0 = performance.now();
    try {
      const runs = changedRuns(this.backing, this.shadow);
      for (const r of runs) this.backing.copy(this.shadow, r.offset, r.offset, r.offset + r.length);
      const pushes = chunks(runs);
      for (let i = 0; ; i++) {
        const writes = i < pushes.length ? encodeRuns(this.backing, pushes[i]) : Buffer.alloc(0);
        const r = await this.agent.memDiff(this.guestAddr, BigInt(this.backing.length), scan, writes);
        if (r.kind !== 'ok') return r.kind;
        if (r.result < 0) throw new Error(`memDiff of the guest memory mapping failed in the guest: ${errnoName(r.result)}`);
        this.stats.pushedBytes += writes.length;
        this.stats.pulledBytes += r.body.length;
        for (const run of decodeRuns(r.body, this.backing.length)) {
          run.bytes.copy(this.backing, run.offset);
          run.bytes.copy(this.shadow, run.offset);
        }
        // result 1: the reply filled up and more changed runs remain; later pushes also carry the rest.
        if (i + 1 >= pushes.length && r.result === 0) return 'ok';
      }
    } finally {
      this.stats.syncs++;
      this.stats.ms += performance.now() - t0;
    }
  }
}

// virtio-blk as a disk (virtio 1.2 §5.2.6): the status a correct device
// returns for each request, and what a read may return. Requests in flight
// together are not ordered (§5.2.6 gives no ordering between outstanding
// requests), so a sector written by a request still in flight may read back
// as its old or its new content; a read accepts any of those candidates.
import {
  VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_OK, VIRTIO_BLK_S_UNSUPP, VIRTIO_BLK_SECTOR_SIZE,
  VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT,
} from '../spec/virtio/blk.ts';

/** Settled sector contents: sectors every completed write left behind. */
export type Disk = ReadonlyMap<bigint, Uint8Array>;

export interface DiskTraits {
  readonly capacitySectors: bigint;
  readonly readOnly: boolean;
  /** The disk starts zeroed (a fresh RAM disk); otherwise unwritten sectors hold unknown data. */
  readonly initiallyZero: boolean;
}

export interface BlkRequest {
  readonly type: number;
  readonly sector: bigint;
  /** OUT: the data written. IN/GET_ID: unused. */
  readonly data: Uint8Array;
  /** IN/GET_ID: writable data bytes before the status byte. */
  readonly readLen: number;
}

export interface BlkExpectation {
  /** Allowed status bytes (FLUSH and GET_ID may be unsupported; §5.2.6.1). */
  readonly statuses: readonly number[];
  /** Exact used length when the status is OK, else null (GET_ID: the id length is the device's). */
  readonly usedLen: number | null;
}

/** A write in flight: its data may or may not be on the disk yet. */
export interface WriteInFlight {
  readonly sector: bigint;
  readonly data: Uint8Array;
}

/** What one sector of a read may contain: any of `options`, or anything when the content is unknown. */
export interface SectorCandidates {
  readonly sector: bigint;
  readonly options: Uint8Array[];
  anyContent: boolean;
}

const SECTOR = VIRTIO_BLK_SECTOR_SIZE;

function inRange(sector: bigint, len: number, capacity: bigint): boolean {
  return sector * BigInt(SECTOR) + BigInt(len) <= capacity * BigInt(SECTOR);
}

/**
 * Statuses per request (virtio 1.2 §5.2.6 "Device Operation": the status is "VIRTIO_BLK_S_OK for success,
 * VIRTIO_BLK_S_IOERR for device or driver error or VIRTIO_BLK_S_UNSUPP for a request unsupported by device").
 * A read or write past the capacity is a driver error; a write to a read-only disk "MUST" be IOERR
 * (devicenormative:Device Types / Block Device / Device Operation). An unknown type is unsupported, and
 * the text does not forbid calling it a driver error: UNSUPP or IOERR, never OK.
 */
export function expectBlk(req: BlkRequest, traits: DiskTraits): BlkExpectation {
  switch (req.type) {
    case VIRTIO_BLK_T_IN:
      return inRange(req.sector, req.readLen, traits.capacitySectors) ? { statuses: [VIRTIO_BLK_S_OK], usedLen: req.readLen + 1 } : { statuses: [VIRTIO_BLK_S_IOERR], usedLen: null };
    case VIRTIO_BLK_T_OUT:
      return !traits.readOnly && inRange(req.sector, req.data.length, traits.capacitySectors) ? { statuses: [VIRTIO_BLK_S_OK], usedLen: 1 } : { statuses: [VIRTIO_BLK_S_IOERR], usedLen: null };
    case VIRTIO_BLK_T_FLUSH:
      return { statuses: [VIRTIO_BLK_S_OK, VIRTIO_BLK_S_UNSUPP], usedLen: 1 };
    case VIRTIO_BLK_T_GET_ID:
      return { statuses: [VIRTIO_BLK_S_OK, VIRTIO_BLK_S_UNSUPP], usedLen: null };
    default:
      return { statuses: [VIRTIO_BLK_S_UNSUPP, VIRTIO_BLK_S_IOERR], usedLen: null };
  }
}

/** Sector `s` of a write, or null if the write does not cover it. */
function sectorOf(w: WriteInFlight, s: bigint): Uint8Array | null {
  const k = s - w.sector;
  if (k < 0n || (k + 1n) * BigInt(SECTOR) > BigInt(w.data.length)) return null;
  return w.data.subarray(Number(k) * SECTOR, (Number(k) + 1) * SECTOR);
}

/** Candidates for each sector a read covers, given the settled disk and the writes in flight when it was posted. */
export function readCandidates(disk: Disk, inFlight: readonly WriteInFlight[], sector: bigint, len: number, initiallyZero: boolean): SectorCandidates[] {
  const out: SectorCandidates[] = [];
  for (let k = 0; k * SECTOR < len; k++) {
    const s = sector + BigInt(k);
    const settled = disk.get(s);
    const options: Uint8Array[] = [];
    if (settled) options.push(settled);
    else if (initiallyZero) options.push(new Uint8Array(SECTOR));
    for (const w of inFlight) {
      const d = sectorOf(w, s);
      if (d) options.push(d);
    }
    out.push({ sector: s, options, anyContent: !settled && !initiallyZero });
  }
  return out;
}

/** A write posted while a read is outstanding may land before that read: its data becomes a candidate too. */
export function addWriteCandidate(c: SectorCandidates[], w: WriteInFlight): void {
  for (const sc of c) {
    const d = sectorOf(w, sc.sector);
    if (d) sc.options.push(d);
  }
}

/** Byte offset of the first sector whose data matches no candidate, or -1. */
export function firstReadMismatch(c: readonly SectorCandidates[], data: Uint8Array): number {
  for (let k = 0; k < c.length; k++) {
    if (c[k].anyContent) continue;
    const got = data.subarray(k * SECTOR, (k + 1) * SECTOR);
    const ok = c[k].options.some((o) => got.every((b, i) => b === o[i]));
    if (!ok) {
      const ref = c[k].options[0];
      const i = got.findIndex((b, j) => b !== ref?.[j]);
      return k * SECTOR + Math.max(0, i);
    }
  }
  return -1;
}

/**
 * The settled disk after a write completed successfully. Completion order is not execution order (§5.2.6 orders
 * no outstanding requests): a write that overlapped this one in time may have landed after it; the caller keeps
 * such a peer as a candidate (properties/harness.ts settleWrite, ghost writes) until a later write settles the sectors.
 */
export function applyWrite(disk: Disk, w: WriteInFlight): Disk {
  const next = new Map(disk);
  for (let off = 0; off < w.data.length; off += SECTOR) next.set(w.sector + BigInt(off / SECTOR), w.data.slice(off, off + SECTOR));
  return next;
}

// Data oracles: blk reads return what was written (RAM disk model), the
// status byte is one the spec allows, and a looped-back net frame arrives
// unchanged behind a header with num_buffers = 1.
import { type BlkExpectation, firstReadMismatch, type SectorCandidates } from '../../model/blk.ts';
import { fail, type Observation, pass } from './observation.ts';

const BLK_STATUS = 'virtio.blk.status-byte';
const BLK_UNSUPP = 'virtio.blk.unsupported-type';
const BLK_READ = 'virtio.blk.read-after-write';
const NET_NUM_BUFFERS = 'virtio.net.num-buffers-one';
const NET_LOOPBACK = 'virtio.net.loopback-integrity';

/** `read` holds the candidates of an IN request; the data is checked only when the status is OK. */
export function checkBlk(exp: BlkExpectation, status: number, data: Uint8Array, knownType: boolean, read: readonly SectorCandidates[] | null): Observation[] {
  const req = knownType ? BLK_STATUS : BLK_UNSUPP;
  const out: Observation[] = [exp.statuses.includes(status) ? pass(req) : fail(req, `status byte ${status}, expected ${exp.statuses.join(' or ')}`)];
  if (read && status === 0) {
    const i = firstReadMismatch(read, data);
    out.push(i < 0 ? pass(BLK_READ) : fail(BLK_READ, `sector ${read[Math.floor(i / 512)].sector} read back data no completed or in-flight write left there (first differing byte ${i}: 0x${data[i]?.toString(16)})`));
  }
  return out;
}

/** The RX header's num_buffers without MRG_RXBUF (virtio 1.2 §5.1.6.4.1); only a header that has the field (12 bytes or more) is judged. */
export function checkNumBuffers(hdrSize: number, received: Uint8Array): Observation[] {
  if (hdrSize < 12) return [];
  const numBuffers = received[10] | (received[11] << 8);
  return [numBuffers === 1 ? pass(NET_NUM_BUFFERS) : fail(NET_NUM_BUFFERS, `num_buffers ${numBuffers}, expected 1`)];
}

/**
 * Whether the bytes after the header are exactly `frame`. Kept apart from the header check: which
 * frame a buffer carries is decided by its bytes alone, so a wrong header field is charged to its own
 * requirement and never makes a correctly looped-back frame look like an unknown one.
 */
export function checkLoopback(hdrSize: number, frame: Uint8Array, received: Uint8Array, len: number): Observation {
  const body = received.subarray(hdrSize, len);
  const same = len === hdrSize + frame.length && body.length === frame.length && body.every((b, k) => b === frame[k]);
  return same ? pass(NET_LOOPBACK) : fail(NET_LOOPBACK, `received ${len - hdrSize} bytes after a ${hdrSize}-byte header, differing from the ${frame.length}-byte frame sent`);
}

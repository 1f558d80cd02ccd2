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

export function checkLoopback(hdrSize: number, frame: Uint8Array, received: Uint8Array, len: number): Observation[] {
  const out: Observation[] = [];
  if (hdrSize >= 12) {
    const numBuffers = received[10] | (received[11] << 8);
    out.push(numBuffers === 1 ? pass(NET_NUM_BUFFERS) : fail(NET_NUM_BUFFERS, `num_buffers ${numBuffers}, expected 1`));
  }
  const body = received.subarray(hdrSize, len);
  const same = len === hdrSize + frame.length && body.length === frame.length && body.every((b, k) => b === frame[k]);
  out.push(same ? pass(NET_LOOPBACK) : fail(NET_LOOPBACK, `received ${len - hdrSize} bytes after a ${hdrSize}-byte header, differing from the ${frame.length}-byte frame sent`));
  return out;
}

// virtio-blk personality: a RAM disk (virtio 1.2 §5.2.6), 1 MiB unless a variant sizes it. A request
// is a chain of the 16-byte virtio_blk_outhdr (device-readable, possibly
// spread over several descriptors), the data, and one status byte: the last
// byte of the device-writable part.
import { decode, encode } from '../../spec/codec.ts';
import { hasFeature } from '../../spec/virtio/features.ts';
import {
  VIRTIO_BLK_F_CONFIG_WCE,
  VIRTIO_BLK_ID_BYTES,
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_S_UNSUPP,
  VIRTIO_BLK_SECTOR_SIZE,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
  virtio_blk_config,
  virtio_blk_outhdr,
} from '../../spec/virtio/blk.ts';
import type { Elem } from './chain.ts';
import { totalLen, type Dma } from './dma.ts';
import type { MutantSwitch } from './mutants/index.ts';
import { recycle, takeZeroed } from './zeroedBuffers.ts';

const SERIAL = 'vhostcheck-sim';

export function blkConfig(queues: number, capacitySectors: number): Buffer {
  return encode(virtio_blk_config, {
    capacity: BigInt(capacitySectors),
    size_max: 0,
    seg_max: 126,
    cylinders: 0,
    heads: 0,
    sectors: 0,
    blk_size: VIRTIO_BLK_SECTOR_SIZE,
    physical_block_exp: 0,
    alignment_offset: 0,
    min_io_size: 0,
    opt_io_size: 0,
    wce: 0,
    num_queues: queues,
    max_discard_sectors: 0,
    max_discard_seg: 0,
    discard_sector_alignment: 0,
    max_write_zeroes_sectors: 0,
    max_write_zeroes_seg: 0,
    write_zeroes_may_unmap: 0,
    max_secure_erase_sectors: 0,
    max_secure_erase_seg: 0,
    secure_erase_sector_alignment: 0,
  });
}

const WCE = virtio_blk_config.fields.find((f) => f.name === 'wce')!;

/**
 * Whether a driver may write config bytes [offset, offset+len) with SET_CONFIG flags 0. virtio 1.2 §5.2.5
 * "Device Initialization": "The device size can be read from capacity"; only "If the VIRTIO_BLK_F_CONFIG_WCE
 * feature is negotiated, the cache mode can be read or set through the writeback field" — one byte, `wce`.
 */
export function blkConfigWritable(acked: bigint, offset: number, len: number): boolean {
  return hasFeature(acked, VIRTIO_BLK_F_CONFIG_WCE) && offset >= WCE.offset && offset + len <= WCE.offset + 1;
}

export class RamDisk {
  private readonly disk: Buffer;
  private readonly capacityBytes: number;
  /** The bytes requests have written (handle() is the disk's only writer): all that needs zeroing for the next session. */
  private written = { start: 0, end: 0 };

  constructor(
    private readonly dma: Dma,
    private readonly has: MutantSwitch,
    capacitySectors: number,
  ) {
    this.capacityBytes = capacitySectors * VIRTIO_BLK_SECTOR_SIZE;
    this.disk = takeZeroed(this.capacityBytes);
  }

  /** Gives the disk back for the next session's device (zeroedBuffers.ts); the device is gone. */
  release(): void {
    recycle(this.disk, this.written);
  }

  /** Executes one request; returns the bytes written into the chain, or null when the chain is no request (completed with len 0). */
  handle(e: Elem): number | null {
    const out = e.iov.filter((v) => !v.write);
    const into = e.iov.filter((v) => v.write);
    const outLen = totalLen(out);
    const inLen = totalLen(into);
    if (outLen < virtio_blk_outhdr.size || inLen < 1) return null;
    const hdr = decode(virtio_blk_outhdr, this.dma.read(out, 0, virtio_blk_outhdr.size));
    const dataIn = inLen - 1;
    let written = 0;
    let status: number;
    switch (hdr.type) {
      case VIRTIO_BLK_T_IN: {
        const at = this.diskOffset(hdr.sector, dataIn);
        if (at === null) {
          status = VIRTIO_BLK_S_IOERR;
          break;
        }
        this.dma.write(into, 0, this.disk.subarray(at, at + dataIn));
        written = dataIn;
        status = VIRTIO_BLK_S_OK;
        break;
      }
      case VIRTIO_BLK_T_OUT: {
        const n = outLen - virtio_blk_outhdr.size;
        const at = this.diskOffset(hdr.sector, n);
        if (at === null) {
          status = VIRTIO_BLK_S_IOERR;
          break;
        }
        this.dma.read(out, virtio_blk_outhdr.size, n).copy(this.disk, at);
        if (n > 0) this.written = this.written.end === 0 ? { start: at, end: at + n } : { start: Math.min(this.written.start, at), end: Math.max(this.written.end, at + n) };
        status = VIRTIO_BLK_S_OK;
        break;
      }
      case VIRTIO_BLK_T_FLUSH:
        // A RAM disk has no volatile cache to flush.
        status = VIRTIO_BLK_S_OK;
        break;
      case VIRTIO_BLK_T_GET_ID: {
        // §5.2.6: the serial is 20 bytes, zero padded; a shorter buffer gets what fits.
        const id = Buffer.alloc(VIRTIO_BLK_ID_BYTES);
        id.write(SERIAL, 'latin1');
        written = Math.min(VIRTIO_BLK_ID_BYTES, dataIn);
        this.dma.write(into, 0, id.subarray(0, written));
        status = VIRTIO_BLK_S_OK;
        break;
      }
      default:
        status = this.has('blk-unsupp-ok') ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_UNSUPP;
    }
    if (this.has('out-after-in-status')) {
      // The mutant's status goes to the last byte of the chain, whatever that descriptor's direction.
      const last = e.iov[e.iov.length - 1];
      this.dma.host(last.off + last.len - 1, 1)[0] = status;
    } else {
      this.dma.write(into, dataIn, Uint8Array.of(status));
    }
    return written + 1;
  }

  /** Byte offset of [sector*512, +len) on the disk, or null when it does not fit (→ IOERR). */
  private diskOffset(sector: bigint, len: number): number | null {
    if (this.has('blk-sector-u32-wrap')) {
      // The mutant computes the offset in 32 bits: sector 0x800000 becomes offset 0.
      const at = Number((sector * BigInt(VIRTIO_BLK_SECTOR_SIZE)) & 0xffff_ffffn);
      return at + len > this.capacityBytes ? null : at;
    }
    const at = sector * BigInt(VIRTIO_BLK_SECTOR_SIZE);
    return at + BigInt(len) > BigInt(this.capacityBytes) ? null : Number(at);
  }
}

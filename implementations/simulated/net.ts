// virtio-net personality: a loopback (virtio 1.2 §5.1.6). Every frame the
// driver transmits on transmitq1 is received on receiveq1.
import { encode } from '../../spec/codec.ts';
import { hasFeature, VIRTIO_F_VERSION_1 } from '../../spec/virtio/features.ts';
import {
  VIRTIO_NET_F_MRG_RXBUF,
  VIRTIO_NET_HDR_GSO_NONE,
  VIRTIO_NET_S_LINK_UP,
  virtio_net_config,
  virtio_net_hdr,
  virtio_net_hdr_v1,
} from '../../spec/virtio/net.ts';
import type { Elem, RingSession } from './chain.ts';
import { totalLen, type Dma } from './dma.ts';
import type { MutantSwitch } from './mutants/index.ts';

/** Frames waiting for receive buffers, as a tap device's queue would hold them. */
const RX_BACKLOG = 256;

export function netConfig(): Buffer {
  return encode(virtio_net_config, {
    mac: Uint8Array.of(0x52, 0x54, 0x00, 0x12, 0x34, 0x56),
    status: VIRTIO_NET_S_LINK_UP,
    max_virtqueue_pairs: 1,
    mtu: 1500,
    speed: 0,
    duplex: 0,
    rss_max_key_size: 0,
    rss_max_indirection_table_length: 0,
    supported_hash_types: 0,
  });
}

/**
 * The bytes of virtio_net_hdr in front of every packet, by the acked features. virtio 1.2 §5.1.6
 * "Device Operation" lays out the header with num_buffers; §5.1.6.1 "Legacy Interface: Device
 * Operation": "The legacy driver only presented num_buffers in the struct virtio_net_hdr when
 * VIRTIO_NET_F_MRG_RXBUF was negotiated; without that feature the structure was 2 bytes shorter."
 * So the short form is used only without VERSION_1 and without MRG_RXBUF.
 */
export function netHeaderBytes(acked: bigint): number {
  const legacyShort = !hasFeature(acked, VIRTIO_F_VERSION_1) && !hasFeature(acked, VIRTIO_NET_F_MRG_RXBUF);
  return legacyShort ? virtio_net_hdr_v1.size - 2 : virtio_net_hdr_v1.size;
}

export class Loopback {
  private backlog: Buffer[] = [];

  constructor(
    private readonly dma: Dma,
    private readonly has: MutantSwitch,
  ) {}

  get pending(): number {
    return this.backlog.length;
  }

  clear(): void {
    this.backlog = [];
  }

  /**
   * Takes the frame out of a TX chain (§5.1.6.2: header then packet, all
   * device-readable). A chain no longer than the header carries no frame
   * (bug-catalog D11). Beyond the backlog, frames are dropped as a full
   * link would drop them.
   */
  transmit(e: Elem, hdrSize: number): void {
    const out = e.iov.filter((v) => !v.write);
    const n = totalLen(out) - hdrSize;
    if (n <= 0) return;
    if (this.backlog.length < RX_BACKLOG) this.backlog.push(this.dma.read(out, hdrSize, n));
  }

  /**
   * Fills receive buffers from the backlog. Without MRG_RXBUF a frame must
   * fit one chain (§5.1.6.3, virtio.net.rx-single-chain) and the device
   * must not truncate it, so a chain too small for header + frame is given
   * back untouched (still available) and the frame is dropped.
   */
  receive(rx: RingSession, hdrSize: number, complete: (e: Elem, written: number) => void): void {
    while (this.backlog.length > 0) {
      const e = rx.pop();
      if (e === null) return;
      // §5.1.6.3: receive buffers are device-writable only.
      if (e.iov.some((v) => !v.write)) {
        complete(e, 0);
        continue;
      }
      const frame = this.backlog[0];
      const need = hdrSize + frame.length;
      const room = totalLen(e.iov);
      if (room < need && !this.has('rx-len-unclamped')) {
        rx.unpop(e);
        this.backlog.shift();
        continue;
      }
      this.backlog.shift();
      const bytes = Buffer.concat([this.header(hdrSize), frame]);
      const fit = Math.min(room, need);
      if (this.has('net-num-buffers-unset') && hdrSize === virtio_net_hdr_v1.size) {
        // The mutant stores the legacy header: num_buffers keeps what the driver left there (bug-catalog Q5).
        this.dma.write(e.iov, 0, bytes.subarray(0, Math.min(virtio_net_hdr.size, fit)));
        if (fit > hdrSize) this.dma.write(e.iov, hdrSize, bytes.subarray(hdrSize, fit));
      } else {
        this.dma.write(e.iov, 0, bytes.subarray(0, fit));
      }
      if (fit < need) {
        // bug-catalog L3: the mutant copies the whole frame, the excess running on past the last iovec.
        const last = e.iov[e.iov.length - 1];
        this.dma.host(last.off + last.len, need - fit).set(bytes.subarray(fit));
      }
      complete(e, need);
    }
  }

  /** §5.1.6.4: flags 0, GSO_NONE, num_buffers 1 (no MRG_RXBUF offered). */
  private header(hdrSize: number): Buffer {
    const fields = { flags: 0, gso_type: VIRTIO_NET_HDR_GSO_NONE, hdr_len: 0, gso_size: 0, csum_start: 0, csum_offset: 0 };
    if (hdrSize === virtio_net_hdr.size) return encode(virtio_net_hdr, fields);
    return encode(virtio_net_hdr_v1, { ...fields, num_buffers: 1 });
  }
}

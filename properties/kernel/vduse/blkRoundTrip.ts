// One virtio-blk request carried through VDUSE end to end (virtio 1.2 §2.7
// split ring, §5.2.6 blk request): the suite as driver lays it out in its
// memfd (mapped into the vhost-vdpa IOTLB) and kicks; the suite as device
// learns the ring from VDUSE_VQ_GET_INFO, reads it through its own
// IOTLB_GET_FD mapping, completes it (a RAM disk of its own), and injects the
// interrupt; the driver then reads the used entry, status and data back.
// What is checked is the kernel in between: kick and interrupt delivery, and
// that both sides see the same bytes.
import { VIRTIO_BLK_S_OK, VIRTIO_BLK_SECTOR_SIZE, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT } from '../../../spec/virtio/blk.ts';
import { VRING_DESC_F_NEXT, VRING_DESC_F_WRITE } from '../../../spec/virtio/ring.ts';
import type { RoundTripObserved } from '../../../model/kernel/vduse.ts';

/** Where the ring parts the device is told about live (iova); the driver's memory is mapped at iova 0. */
export interface RingInfo {
  readonly num: number;
  readonly desc: bigint;
  readonly driver: bigint;
  readonly device: bigint;
}

/** The two sides' memory and signals, as the case provides them. */
export interface RoundTripIo {
  driverWrite(iova: bigint, bytes: Uint8Array): Promise<void>;
  driverRead(iova: bigint, len: number): Promise<Buffer>;
  deviceRead(iova: bigint, len: number): Promise<Buffer>;
  deviceWrite(iova: bigint, bytes: Uint8Array): Promise<void>;
  kick(): Promise<void>;
  /** The VDUSE kickfd fired (bounded wait). */
  kicked(): Promise<boolean>;
  injectIrq(): Promise<{ ok: true; value: null } | { ok: false; errno: string }>;
  /** The driver's call eventfd fired (bounded wait). */
  called(): Promise<boolean>;
}

/** Ring indices each side keeps between requests. */
export interface RingCursor {
  driverAvail: number;
  deviceAvail: number;
  deviceUsed: number;
}

/** Request buffers start here (past desc 0x0, avail 0x1000, used 0x2000 of the suite's layout). */
const BUFFERS = 0x4000n;
const SLOT = 0x1000n;
const SLOTS = 8n;

const u16 = (v: number) => Buffer.from([v & 0xff, (v >> 8) & 0xff]);

function desc(addr: bigint, len: number, flags: number, next: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(addr, 0);
  b.writeUInt32LE(len, 8);
  b.writeUInt16LE(flags, 12);
  b.writeUInt16LE(next, 14);
  return b;
}

export async function blkRoundTrip(io: RoundTripIo, ring: RingInfo, cur: RingCursor, disk: Map<number, Buffer>, write: boolean, sector: number, fill: number): Promise<RoundTripObserved> {
  const slot = BigInt(cur.driverAvail) % SLOTS;
  const buf = BUFFERS + slot * SLOT;
  const head = Number(slot) * 3 % ring.num;
  const [d1, d2] = [(head + 1) % ring.num, (head + 2) % ring.num];
  const header = Buffer.alloc(16);
  header.writeUInt32LE(write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN, 0);
  header.writeBigUInt64LE(BigInt(sector), 8);
  const data = write ? Buffer.alloc(VIRTIO_BLK_SECTOR_SIZE, fill & 0xff).fill(sector & 0xff, 0, 4) : Buffer.alloc(VIRTIO_BLK_SECTOR_SIZE, 0xee);
  // Driver: header, data and a status byte, a three-descriptor chain, then the avail entry and index.
  await io.driverWrite(buf, Buffer.concat([header, data, Buffer.from([0xff])]));
  await io.driverWrite(ring.desc + BigInt(head * 16), desc(buf, 16, VRING_DESC_F_NEXT, d1));
  await io.driverWrite(ring.desc + BigInt(d1 * 16), desc(buf + 16n, VIRTIO_BLK_SECTOR_SIZE, VRING_DESC_F_NEXT | (write ? 0 : VRING_DESC_F_WRITE), d2));
  await io.driverWrite(ring.desc + BigInt(d2 * 16), desc(buf + 16n + BigInt(VIRTIO_BLK_SECTOR_SIZE), 1, VRING_DESC_F_WRITE, 0));
  await io.driverWrite(ring.driver + 4n + BigInt((cur.driverAvail % ring.num) * 2), u16(head));
  cur.driverAvail = (cur.driverAvail + 1) & 0xffff;
  await io.driverWrite(ring.driver + 2n, u16(cur.driverAvail));
  await io.kick();
  const where = `${write ? 'write' : 'read'} of sector ${sector}, head ${head}`;
  if (!(await io.kicked())) return { kicked: false, deviceSaw: null, inject: null, irq: null, driverSaw: null, detail: where };

  // Device: through its own mapping of the same memory.
  const availIdx = (await io.deviceRead(ring.driver + 2n, 2)).readUInt16LE(0);
  const gotHead = (await io.deviceRead(ring.driver + 4n + BigInt((cur.deviceAvail % ring.num) * 2), 2)).readUInt16LE(0);
  const chain = await io.deviceRead(ring.desc, ring.num * 16);
  const at = (i: number) => ({ addr: chain.readBigUInt64LE(i * 16), len: chain.readUInt32LE(i * 16 + 8), flags: chain.readUInt16LE(i * 16 + 12), next: chain.readUInt16LE(i * 16 + 14) });
  const [h, dd, st] = [at(gotHead), at(at(gotHead).next), at(at(at(gotHead).next).next)];
  const seenHeader = await io.deviceRead(h.addr, 16);
  const seenData = write ? await io.deviceRead(dd.addr, VIRTIO_BLK_SECTOR_SIZE) : null;
  const deviceSaw = availIdx === cur.driverAvail && gotHead === head && h.addr === buf && dd.addr === buf + 16n && st.len === 1 && seenHeader.equals(header) && (!write || seenData!.equals(data));
  cur.deviceAvail = (cur.deviceAvail + 1) & 0xffff;
  if (write) disk.set(sector, seenData!);
  const content = disk.get(sector) ?? Buffer.alloc(VIRTIO_BLK_SECTOR_SIZE);
  if (!write) await io.deviceWrite(dd.addr, content);
  await io.deviceWrite(st.addr, Buffer.from([VIRTIO_BLK_S_OK]));
  const used = Buffer.alloc(8);
  used.writeUInt32LE(gotHead, 0);
  used.writeUInt32LE(write ? 1 : VIRTIO_BLK_SECTOR_SIZE + 1, 4);
  await io.deviceWrite(ring.device + 4n + BigInt((cur.deviceUsed % ring.num) * 8), used);
  cur.deviceUsed = (cur.deviceUsed + 1) & 0xffff;
  await io.deviceWrite(ring.device + 2n, u16(cur.deviceUsed));
  const inject = await io.injectIrq();
  const irq = inject.ok ? await io.called() : null;

  // Driver: the used entry, the status and, for a read, the data.
  const usedIdx = (await io.driverRead(ring.device + 2n, 2)).readUInt16LE(0);
  const elem = await io.driverRead(ring.device + 4n + BigInt(((cur.deviceUsed - 1) & 0xffff) % ring.num * 8), 8);
  const tail = await io.driverRead(buf + 16n, VIRTIO_BLK_SECTOR_SIZE + 1);
  const driverSaw = usedIdx === cur.deviceUsed && elem.equals(used) && tail[VIRTIO_BLK_SECTOR_SIZE] === VIRTIO_BLK_S_OK && (write || tail.subarray(0, VIRTIO_BLK_SECTOR_SIZE).equals(content));
  return { kicked: true, deviceSaw, inject, irq, driverSaw, detail: where };
}

// What a kernel device does that a driver may not expect, judged on the simulated device with its kick replaced.
// A blk request the device cannot carry out because a buffer is unmapped may come back as a failed request
// (used len 1, VIRTIO_BLK_S_IOERR in the status byte): a refusal, as vdpa_sim_blk gives it. The same completion
// with any other status, or with more bytes written, is still the device processing a chain it had to refuse.
// A frame cut to fit an RX buffer smaller than virtio's 1526-byte SHOULD (vdpa_sim_net) is left open; cut to fit
// a buffer of the size the driver should give, or altered, it is a loopback failure.
import { describe, expect, it } from 'vitest';
import { createSimulatedTarget } from '../implementations/simulated/index.ts';
import type { Target } from '../implementations/target.ts';
import { probeTarget } from '../runner/profile.ts';
import { VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_OK } from '../spec/virtio/blk.ts';
import { decode, encode } from '../spec/codec.ts';
import { splitRingOffsets, vring_desc, VRING_DESC_F_NEXT, VRING_DESC_F_WRITE, vring_used_elem } from '../spec/virtio/ring.ts';
import { readGpa, u16At, putU16, writeGpa } from './driver/guestAccess.ts';
import { Harness } from './harness.ts';
import type { SetupStep, Step } from './steps.ts';

const SETUP: SetupStep = { t: 'setup', packed: false, eventIdx: false, indirect: false, inOrder: false, platform: false, num: 4 };
const UNMAPPED_DATA: Step = { t: 'hostile', queue: 0, addr: 'unmapped', indirect: false };

/**
 * The simulated blk device for everything but the kick: a kick completes the next available chain itself, writing
 * `status` into the chain's last byte and returning it with used len `len`, as vdpasim_blk_handle_req() does when a
 * buffer cannot be reached. The rings are where the harness lays them out for queue 0 (GPA = IOVA here).
 */
function completesWith(inner: Target, status: number, len: number): Target {
  const ring = { desc: 0x1000n, avail: 0x5000n, used: 0x6000n, num: 4 };
  let lastAvail = 0;
  let usedIdx = 0;
  return {
    info: inner.info, memory: inner.memory, health: () => inner.health(), close: () => inner.close(), waitCall: async () => false, send: (req) => inner.send(req),
    kick: async () => {
      const mem = inner.memory;
      if (u16At(mem, ring.avail + 2n) === lastAvail) return;
      const head = u16At(mem, ring.avail + BigInt(splitRingOffsets.availRing(lastAvail++ % ring.num)));
      let d = decode(vring_desc, readGpa(mem, ring.desc + BigInt(head * vring_desc.size), vring_desc.size));
      while (d.flags & VRING_DESC_F_NEXT) d = decode(vring_desc, readGpa(mem, ring.desc + BigInt(d.next * vring_desc.size), vring_desc.size));
      if (d.flags & VRING_DESC_F_WRITE) writeGpa(mem, d.addr + BigInt(d.len - 1), Uint8Array.of(status));
      writeGpa(mem, ring.used + BigInt(splitRingOffsets.usedRing(usedIdx % ring.num)), encode(vring_used_elem, { id: head, len }));
      putU16(mem, ring.used + 2n, ++usedIdx);
    },
  };
}

async function judged(status: number, len: number): Promise<string[]> {
  const open = async () => completesWith(createSimulatedTarget({ deviceType: 'blk' }), status, len);
  const { profile } = await probeTarget({ open });
  const h = new Harness(await open(), profile, { settleMs: 0, failsRun: () => false });
  for (const s of [SETUP, UNMAPPED_DATA, { t: 'kick', queue: 0 } as const]) await h.exec(s);
  return h.observations.filter((o) => o.requirement === 'virtio.robust.addr-unmapped').map((o) => o.verdict);
}

describe('a blk request with an unmapped data buffer', () => {
  it('completed as VIRTIO_BLK_S_IOERR with only the status byte written is a refusal (PASS)', async () => {
    expect(await judged(VIRTIO_BLK_S_IOERR, 1)).toEqual(['PASS']);
  });

  it('completed with any other status, or with more than the status written, is processing it (FAIL)', async () => {
    expect(await judged(VIRTIO_BLK_S_OK, 1)).toEqual(['FAIL']);
    expect(await judged(VIRTIO_BLK_S_IOERR, 2)).toEqual(['FAIL']);
  });
});

/** The chain starting at `head`: its buffers, in order. */
function chain(t: Target, desc: bigint, head: number): { addr: bigint; len: number; write: boolean }[] {
  const out: { addr: bigint; len: number; write: boolean }[] = [];
  for (let i = head; ; ) {
    const d = decode(vring_desc, readGpa(t.memory, desc + BigInt(i * vring_desc.size), vring_desc.size));
    out.push({ addr: d.addr, len: d.len, write: (d.flags & VRING_DESC_F_WRITE) !== 0 });
    if (!(d.flags & VRING_DESC_F_NEXT)) return out;
    i = d.next;
  }
}

/**
 * The simulated net device for everything but the TX kick: the kick takes the next TX chain and the next RX chain,
 * copies the TX bytes into the RX buffer as far as they fit, `alter`ed, and returns both (RX with the bytes written).
 */
function loopsBackCut(inner: Target, alter: (bytes: Uint8Array) => Uint8Array): Target {
  const rings = [{ desc: 0x1000n, avail: 0x5000n, used: 0x6000n }, { desc: 0x19000n, avail: 0x1d000n, used: 0x1e000n }];
  const next = [0, 0];
  const complete = (q: number, id: number, len: number) => {
    const r = rings[q];
    writeGpa(inner.memory, r.used + BigInt(splitRingOffsets.usedRing(next[q] % 4)), encode(vring_used_elem, { id, len }));
    putU16(inner.memory, r.used + 2n, next[q] + 1);
  };
  return {
    info: inner.info, memory: inner.memory, health: () => inner.health(), close: () => inner.close(), waitCall: async () => false, send: (req) => inner.send(req),
    kick: async (q) => {
      const [rx, tx] = rings;
      if (q !== 1 || u16At(inner.memory, tx.avail + 2n) === next[1] || u16At(inner.memory, rx.avail + 2n) === next[0]) return;
      const txHead = u16At(inner.memory, tx.avail + BigInt(splitRingOffsets.availRing(next[1] % 4)));
      const rxHead = u16At(inner.memory, rx.avail + BigInt(splitRingOffsets.availRing(next[0] % 4)));
      const bytes = alter(Buffer.concat(chain(inner, tx.desc, txHead).map((b) => readGpa(inner.memory, b.addr, b.len))));
      let at = 0;
      for (const b of chain(inner, rx.desc, rxHead)) {
        const n = Math.min(b.len, bytes.length - at);
        writeGpa(inner.memory, b.addr, bytes.subarray(at, at + n));
        at += n;
      }
      complete(1, txHead, 0);
      next[1]++;
      complete(0, rxHead, at);
      next[0]++;
    },
  };
}

async function looped(rxSize: number, alter: (bytes: Uint8Array) => Uint8Array): Promise<string[]> {
  const open = async () => loopsBackCut(createSimulatedTarget({ deviceType: 'net' }), alter);
  const { profile } = await probeTarget({ open });
  const h = new Harness(await open(), profile, { settleMs: 0, failsRun: () => false });
  const layout = { cuts: [], indirect: false, crossRegion: false };
  const frame = Uint8Array.from({ length: 1500 }, (_, i) => i & 0xff);
  for (const s of [SETUP, { t: 'netRx', size: rxSize, layout }, { t: 'netTx', frame, layout }, { t: 'kick', queue: 1 }] as Step[]) await h.exec(s);
  return h.observations.filter((o) => o.requirement === 'virtio.net.loopback-integrity').map((o) => o.verdict);
}

describe('a frame looped back into an RX buffer too small for it', () => {
  const same = (b: Uint8Array) => b;
  it('cut to a buffer smaller than the 1526 bytes the driver should give: left open (INFORMATIONAL)', async () => {
    expect(await looped(600, same)).toEqual(['INFORMATIONAL']);
  });

  it('cut although the buffer had the size the driver should give, or altered: FAIL', async () => {
    expect(await looped(1600, (b) => b.subarray(0, 1000))).toEqual(['FAIL']);
    expect(await looped(600, (b) => Uint8Array.from(b, (x, i) => (i === 100 ? x ^ 1 : x)))).toEqual(['FAIL']);
  });
});

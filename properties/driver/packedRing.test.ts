// The packed-ring driver reads used descriptors as virtio 1.2 §2.8 has a driver read them.
import { describe, expect, it } from 'vitest';
import { backingSize, layOutGuestMemory } from '../../implementations/guestMemory.ts';
import { packedFlagAvail, packedFlagUsed, VRING_DESC_F_WRITE } from '../../spec/virtio/ring.ts';
import { putU16, writeGpa } from './guestAccess.ts';
import { PackedRingDriver } from './packedRing.ts';

const ADDRS = { desc: 0x1000n, avail: 0x5000n, used: 0x6000n, indirect: 0x9000n };

/** A driver with one single-descriptor buffer posted, and the device's used descriptor written over it (len 26, id of the buffer). */
function usedWith(flags: number) {
  const mem = layOutGuestMemory(Buffer.alloc(backingSize()));
  const d = new PackedRingDriver(mem, ADDRS, 4);
  const placed = d.addChain({ buffers: [{ addr: 0x8_0000n, len: 26, write: false }], indirect: false });
  if (!placed) throw new Error('not placed');
  const le32 = Buffer.alloc(4);
  le32.writeUInt32LE(26);
  writeGpa(mem, ADDRS.desc + 8n, le32);
  putU16(mem, ADDRS.desc + 12n, placed.head);
  putU16(mem, ADDRS.desc + 14n, packedFlagAvail(true) | packedFlagUsed(true) | flags);
  return d.takeUsed();
}

describe('packed used descriptors', () => {
  it('take Element Length as 0 without VIRTQ_DESC_F_WRITE: it is reserved there and ignored by drivers (§2.8.4)', () => {
    expect(usedWith(0)).toEqual([expect.objectContaining({ len: 0 })]);
  });

  it('keep Element Length as written bytes with VIRTQ_DESC_F_WRITE, so an overstated length is still seen', () => {
    expect(usedWith(VRING_DESC_F_WRITE)).toEqual([expect.objectContaining({ len: 26 })]);
  });
});

describe('packed used descriptors with IN_ORDER', () => {
  /** Two buffers made available (the first device-writable), then one used descriptor at slot 0 carrying the second's id. */
  function batch(inOrder: boolean) {
    const mem = layOutGuestMemory(Buffer.alloc(backingSize()));
    const d = new PackedRingDriver(mem, ADDRS, 4, inOrder);
    const a = d.addChain({ buffers: [{ addr: 0x8_0000n, len: 64, write: true }], indirect: false });
    const b = d.addChain({ buffers: [{ addr: 0x8_2000n, len: 26, write: false }], indirect: false });
    if (!a || !b) throw new Error('not placed');
    putU16(mem, ADDRS.desc + 12n, b.head);
    putU16(mem, ADDRS.desc + 14n, packedFlagAvail(true) | packedFlagUsed(true));
    return { used: d.takeUsed(), a: a.head, b: b.head, free: d.freeCount };
  }

  it('take one used descriptor for the batch it ends: the buffers before it were used completely (§2.8 "In-order use of descriptors")', () => {
    const { used, a, b, free } = batch(true);
    expect(used.map((u) => ({ id: u.id, len: u.len, slots: u.slots.length }))).toEqual([{ id: a, len: 64, slots: 1 }, { id: b, len: 0, slots: 1 }]);
    expect(free).toBe(4);
  });

  it('without IN_ORDER, the same descriptor returns its own buffer only', () => {
    const { used, b, free } = batch(false);
    expect(used.map((u) => u.id)).toEqual([b]);
    expect(free).toBe(3);
  });
});

// The mirror's diff logic without a guest: a fake agent does what agent.c
// mem_diff does (apply the host's runs to its mapping and shadow, report what
// differs from the shadow, merging runs less than 32 bytes apart).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AgentReply } from './agent.ts';
import { changedRuns, decodeRuns, encodeRuns, MemoryMirror, type Run } from './memoryMirror.ts';

const MERGE_GAP = 32;

/** The guest side: the memfd mapping the device writes, and the agent's shadow of it. */
class FakeAgent {
  readonly mapping: Buffer;
  readonly shadow: Buffer;
  calls = 0;
  constructor(size: number, readonly maxReply = 1 << 22) {
    this.mapping = Buffer.alloc(size);
    this.shadow = Buffer.alloc(size);
  }
  async memDiff(_addr: bigint, length: bigint, scan: readonly Run[] | 'all', writes: Uint8Array): Promise<AgentReply> {
    this.calls++;
    if (Number(length) !== this.mapping.length) return { kind: 'ok', result: -22, body: Buffer.alloc(0) };
    for (const w of decodeRuns(Buffer.from(writes), this.mapping.length)) {
      w.bytes.copy(this.mapping, w.offset);
      w.bytes.copy(this.shadow, w.offset);
    }
    const parts: Buffer[] = [];
    let size = 0;
    const scanned = (i: number) => scan === 'all' || scan.some((r) => i >= r.offset && i < r.offset + r.length);
    for (let i = 0; i < this.mapping.length; i++) {
      if (this.mapping[i] === this.shadow[i] || !scanned(i)) continue;
      let last = i;
      for (let j = i + 1; j < this.mapping.length && j <= last + MERGE_GAP; j++) if (this.mapping[j] !== this.shadow[j]) last = j;
      const run = { offset: i, length: last + 1 - i };
      if (size + 8 + run.length > this.maxReply) return { kind: 'ok', result: 1, body: Buffer.concat(parts) };
      const enc = encodeRuns(this.mapping, [run]);
      this.mapping.copy(this.shadow, i, i, last + 1);
      parts.push(enc);
      size += enc.length;
      i = last;
    }
    return { kind: 'ok', result: 0, body: Buffer.concat(parts) };
  }
}

describe('changedRuns', () => {
  it('finds exact runs, across page boundaries, with no unchanged byte inside', () => {
    const a = Buffer.alloc(3 * 4096);
    const b = Buffer.from(a);
    b[5] = 1;
    b[7] = 1;
    b.fill(2, 4090, 4100);
    b[b.length - 1] = 3;
    expect(changedRuns(b, a)).toEqual([
      { offset: 5, length: 1 },
      { offset: 7, length: 1 },
      { offset: 4090, length: 10 },
      { offset: b.length - 1, length: 1 },
    ]);
    expect(changedRuns(a, Buffer.from(a))).toEqual([]);
  });

  it('refuses buffers of different sizes', () => {
    expect(() => changedRuns(Buffer.alloc(2), Buffer.alloc(3))).toThrow(/2 bytes against 3/);
  });
});

describe('decodeRuns', () => {
  it('round-trips encodeRuns and rejects runs outside the area or the reply', () => {
    const src = Buffer.from('abcdefgh');
    const enc = encodeRuns(src, [{ offset: 1, length: 2 }, { offset: 6, length: 2 }]);
    expect(decodeRuns(enc, 8).map((r) => [r.offset, r.bytes.toString()])).toEqual([[1, 'bc'], [6, 'gh']]);
    expect(() => decodeRuns(enc, 7)).toThrow(/outside/);
    expect(() => decodeRuns(enc.subarray(0, enc.length - 1), 8)).toThrow(/outside/);
    expect(() => decodeRuns(Buffer.alloc(3), 8)).toThrow(/stray/);
  });
});

describe('MemoryMirror.sync', () => {
  it('pushes driver writes and pulls device writes in one round trip, clobbering neither', async () => {
    const agent = new FakeAgent(8192);
    const backing = Buffer.alloc(8192);
    const m = new MemoryMirror(agent, backing, 0x7000n);
    backing.fill(0xa5, 0, 16);
    expect(await m.sync()).toBe('ok');
    expect(agent.mapping.subarray(0, 16)).toEqual(Buffer.alloc(16, 0xa5));
    // The driver writes byte 100, the device bytes 101..103 and 200 (inside the merge gap of the driver's byte).
    backing[100] = 1;
    agent.mapping.fill(9, 101, 104);
    agent.mapping[200] = 9;
    expect(await m.sync()).toBe('ok');
    expect(agent.calls).toBe(2);
    expect([...agent.mapping.subarray(100, 104)]).toEqual([1, 9, 9, 9]);
    expect([...backing.subarray(100, 104)]).toEqual([1, 9, 9, 9]);
    expect(backing[200]).toBe(9);
    expect(m.shadow.equals(agent.shadow)).toBe(true);
  });

  it('keeps host, guest and both shadows equal under random interleavings of driver and device writes (fixed seed)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ side: fc.constantFrom('driver', 'device', 'sync'), at: fc.nat(4095), len: fc.integer({ min: 1, max: 64 }), v: fc.nat(255) }), { maxLength: 40 }),
        async (ops) => {
          const agent = new FakeAgent(4096 + 64);
          const backing = Buffer.alloc(agent.mapping.length);
          const m = new MemoryMirror(agent, backing, 0n);
          // What each byte must end as: the last write to it, by either side (the two never write the same byte between syncs here).
          const expected = Buffer.alloc(backing.length);
          const owner = new Map<number, string>();
          for (const op of ops) {
            if (op.side === 'sync') {
              await m.sync();
              owner.clear();
              continue;
            }
            const target = op.side === 'driver' ? backing : agent.mapping;
            for (let i = op.at; i < op.at + op.len; i++) {
              // A byte both sides write between two syncs has no defined outcome: the generator avoids it.
              if (owner.has(i) && owner.get(i) !== op.side) continue;
              owner.set(i, op.side);
              target[i] = op.v;
              expected[i] = op.v;
            }
          }
          await m.sync();
          expect(backing.equals(expected)).toBe(true);
          expect(agent.mapping.equals(expected)).toBe(true);
          expect(m.shadow.equals(agent.shadow)).toBe(true);
        },
      ),
      { seed: 1207, numRuns: 200 },
    );
  });

  it('pulls only the ranges asked for, and the rest at the next full sync', async () => {
    const agent = new FakeAgent(8192);
    const backing = Buffer.alloc(8192);
    const m = new MemoryMirror(agent, backing, 0n);
    agent.mapping[10] = 1;
    agent.mapping[5000] = 2;
    backing[20] = 3;
    expect(await m.sync([{ offset: 4096, length: 4096 }])).toBe('ok');
    // The driver's byte is pushed whatever the scan; of the device's, only the scanned one is pulled.
    expect([agent.mapping[20], backing[5000], backing[10]]).toEqual([3, 2, 0]);
    expect(await m.sync([])).toBe('ok');
    expect(backing[10]).toBe(0);
    expect(await m.sync()).toBe('ok');
    expect(backing[10]).toBe(1);
    expect(m.shadow.equals(agent.shadow)).toBe(true);
  });

  it('asks again while the agent says more runs remain', async () => {
    const agent = new FakeAgent(4096, 64);
    const backing = Buffer.alloc(4096);
    const m = new MemoryMirror(agent, backing, 0n);
    for (let i = 0; i < 10; i++) agent.mapping.fill(i + 1, i * 100, i * 100 + 20);
    expect(await m.sync()).toBe('ok');
    expect(agent.calls).toBeGreaterThan(1);
    expect(backing.equals(agent.mapping)).toBe(true);
  });

  it('reports a guest that did not answer, and throws on an errno', async () => {
    const backing = Buffer.alloc(16);
    expect(await new MemoryMirror({ memDiff: async () => ({ kind: 'timeout' }) }, backing, 0n).sync()).toBe('timeout');
    await expect(new MemoryMirror({ memDiff: async () => ({ kind: 'ok', result: -22, body: Buffer.alloc(0) }) }, backing, 0n).sync()).rejects.toThrow(/EINVAL/);
  });
});

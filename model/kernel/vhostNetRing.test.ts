// The chain model without a guest: what vhost may take, and where each hostile
// chain must be refused (the requirement each refusal is judged at).
import { describe, expect, it } from 'vitest';
import { type ChainMemory, type Desc, type Translation, VRING_DESC_F_INDIRECT as I, VRING_DESC_F_NEXT as N, VRING_DESC_F_WRITE as W, walkChain } from './vhostNetRing.ts';

const d = (addr: number, len: number, flags = 0, next = 0): Desc => ({ addr: BigInt(addr), len, flags, next });

function memory(table: Desc[], opts: { iotlb?: boolean; translate?: (a: bigint, l: number, x: 1 | 2) => Translation; indirect?: Record<number, Desc[]> } = {}): ChainMemory {
  return {
    table: [...table, ...Array.from({ length: 8 - table.length }, () => d(0, 0))],
    indirect: (addr) => opts.indirect?.[Number(addr)],
    translate: opts.translate ?? (() => ({ kind: 'ok' })),
    iotlb: opts.iotlb ?? false,
  };
}

describe('walkChain', () => {
  it('takes a readable-then-writable chain, segment by segment', () => {
    expect(walkChain(memory([d(0x1000, 10, N, 1), d(0x2000, 20, W)]), 8, 0)).toEqual({ kind: 'take', segments: [{ addr: 0x1000n, len: 10, access: 1 }, { addr: 0x2000n, len: 20, access: 2 }] });
  });
  it('refuses head >= num, next >= num and a loop at vhost.desc.head-range', () => {
    expect(walkChain(memory([d(0, 1)]), 8, 8)).toMatchObject({ kind: 'refuse', requirement: 'vhost.desc.head-range' });
    expect(walkChain(memory([d(0, 1, N, 8)]), 8, 0)).toMatchObject({ kind: 'refuse', requirement: 'vhost.desc.head-range' });
    expect(walkChain(memory([d(0, 1, N, 1), d(0, 1, N, 0)]), 8, 0)).toMatchObject({ kind: 'refuse', requirement: 'vhost.desc.head-range' });
  });
  it('refuses a readable after a writable at vhost.desc.out-after-in, in the ring and in an indirect table', () => {
    expect(walkChain(memory([d(0, 1, W | N, 1), d(0, 1)]), 8, 0)).toMatchObject({ kind: 'refuse', requirement: 'vhost.desc.out-after-in' });
    expect(walkChain(memory([d(0x100, 32, I)], { indirect: { 0x100: [d(0, 1, W | N, 1), d(0, 1)] } }), 8, 0)).toMatchObject({ kind: 'refuse', requirement: 'vhost.desc.out-after-in' });
  });
  it('refuses odd-length, nested and run-on indirect tables at vhost.desc.indirect-checked', () => {
    expect(walkChain(memory([d(0x100, 24, I)], { indirect: { 0x100: [d(0, 1)] } }), 8, 0)).toMatchObject({ kind: 'refuse', requirement: 'vhost.desc.indirect-checked' });
    expect(walkChain(memory([d(0x100, 16, I)], { indirect: { 0x100: [d(0, 1, I)] } }), 8, 0)).toMatchObject({ kind: 'refuse', requirement: 'vhost.desc.indirect-checked' });
    expect(walkChain(memory([d(0x100, 16, I)], { indirect: { 0x100: [d(0, 1, N, 1)] } }), 8, 0)).toMatchObject({ kind: 'refuse', requirement: 'vhost.desc.indirect-checked' });
  });
  it('a gap is a miss with a device IOTLB and a refusal without; a missing permission is vhost.iotlb.perm-enforced', () => {
    const gap = (): Translation => ({ kind: 'gap', at: 0x1800n });
    expect(walkChain(memory([d(0x1000, 0x1000, W)], { iotlb: true, translate: gap }), 8, 0)).toEqual({ kind: 'miss', iova: 0x1800n, access: 2, requirement: 'vhost.iotlb.miss-on-unmapped' });
    expect(walkChain(memory([d(0x1000, 0x1000)], { translate: gap }), 8, 0)).toMatchObject({ kind: 'refuse', requirement: 'vhost.iotlb.translate-whole-range' });
    const denied = (_a: bigint, _l: number, x: 1 | 2): Translation => (x === 2 ? { kind: 'denied', at: 0x1000n } : { kind: 'ok' });
    expect(walkChain(memory([d(0x1000, 8, N, 1), d(0x1000, 8, W)], { iotlb: true, translate: denied }), 8, 0)).toMatchObject({ kind: 'refuse', requirement: 'vhost.iotlb.perm-enforced' });
  });
});

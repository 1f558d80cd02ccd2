import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeHeader, VHOST_USER_HEADER } from '../../spec/vhostUser/frame.ts';
import * as M from '../../spec/vhostUser/messages.ts';
import { decodePayloadAs, VHOST_USER_MEMORY_REGION, VHOST_USER_VRING_IDX_MASK, VHOST_USER_VRING_NOFD_MASK } from '../../spec/vhostUser/payloads.ts';
import { RAW_CASE_KINDS, rawCaseArbitrary, seedCases, type RawCase } from './rawCases.ts';

const U64 = 1n << 64n;
const FILE_CODES: readonly number[] = [M.VHOST_USER_SET_VRING_KICK, M.VHOST_USER_SET_VRING_CALL, M.VHOST_USER_SET_VRING_ERR];
const sample = (seed: number, queues = 1) => fc.sample(rawCaseArbitrary(queues), { seed, numRuns: 300 });

/** Invariants every case keeps, seeded or generated. */
function checkCase(c: RawCase, queues: number): void {
  expect(JSON.parse(JSON.stringify(c))).toEqual(c);
  const bytes = Buffer.from(c.bytes, 'hex');
  expect(bytes.toString('hex')).toBe(c.bytes);
  expect(c.requirement).toMatch(/^vhost-user\./);
  if (bytes.length < VHOST_USER_HEADER.size) return;
  const request = bytes.readUInt32LE(0);
  const payload = bytes.subarray(VHOST_USER_HEADER.size);
  if (c.kind === 'vring-index' && FILE_CODES.includes(request)) {
    // "VHOST_USER_SET_VRING_KICK": the fds sent agree with bit 8; refusal is owed only for bits 0-7 ≥ queues.
    const word = payload.readBigUInt64LE(0);
    expect(c.fds).toBe(word & BigInt(VHOST_USER_VRING_NOFD_MASK) ? 0 : 1);
    expect(c.mustRefuse).toBe(Number(word & BigInt(VHOST_USER_VRING_IDX_MASK)) >= queues);
  } else if (c.kind === 'vring-index') {
    expect(payload.readUInt32LE(0)).toBeGreaterThanOrEqual(queues);
  }
  if (c.kind === 'region-overflow') {
    const r = decodePayloadAs('singleMemoryRegion', Buffer.concat([Buffer.alloc(8), payload.subarray(8, 8 + VHOST_USER_MEMORY_REGION.size)]));
    if (r.type !== 'singleMemoryRegion') throw new Error('not a region');
    const { guest_phys_addr: g, userspace_addr: u, mmap_offset: o, memory_size: s } = r.value;
    expect(g + s >= U64 || u + s >= U64 || o + s >= U64).toBe(true);
  }
  if (c.kind === 'too-many-regions') expect(payload.readUInt32LE(0)).toBeGreaterThan(8);
}

describe('raw cases', () => {
  it('has a seed of every kind, and seeds keep the invariants', () => {
    for (const queues of [1, 2, 255, 256]) {
      const seeds = seedCases(queues);
      expect(new Set(seeds.map((c) => c.kind))).toEqual(new Set(RAW_CASE_KINDS));
      for (const c of seeds) checkCase(c, queues);
    }
  });

  it('generates the same frames for the same seed, and keeps the invariants', () => {
    expect(sample(7)).toEqual(sample(7));
    expect(sample(7)).not.toEqual(sample(8));
    for (const c of sample(7, 2)) checkCase(c, 2);
  });

  it('builds headers whose lies are deliberate: a wrong size or version, never a wrong layout', () => {
    const sizes = seedCases(1).filter((c) => c.kind === 'size-over-payload' || c.kind === 'size-under-payload');
    for (const c of sizes) {
      const bytes = Buffer.from(c.bytes, 'hex');
      expect(decodeHeader(bytes, { maxPayload: 0xffff_ffff }).size).not.toBe(bytes.length - VHOST_USER_HEADER.size);
    }
  });
});

// Generators of guest:vhost-net control and IOTLB steps, weighted towards the
// boundary values the kernel's checks sit on (vhost_vring_ioctl,
// vhost_set_memory, vhost_chr_write_iter): index = nvqs, 0xffff, 2^32-1; num
// 0, non-powers of two, 65536; misaligned ring addresses; unknown flags; mem
// tables with padding, 65 regions and wrapping regions; log bases that
// overflow; IOTLB messages cut short, of unknown types, of size 0, wrapping,
// with ASID != 0 and at the 64-bit edge.
import fc from 'fast-check';
import type { AddrRef, ControlStep, RegionRef } from './steps.ts';
import { withFocus } from './focus.ts';
import { WINDOW_SIZE } from './session.ts';

type Body<T> = T extends unknown ? Omit<T, 't'> : never;
const S = (s: Body<ControlStep>): ControlStep => ({ t: 'kernel', ...s }) as ControlStep;

/** Where each vq's ring sits in the window (control suite: the addresses are user addresses). */
export const RING_AT = [
  { desc: 0x0000n, avail: 0x1_0000n, used: 0x1_1000n },
  { desc: 0x2_0000n, avail: 0x3_0000n, used: 0x3_1000n },
] as const;
/** The dirty log's offset in the window: 64 KiB of bitmap covers 2 GiB of guest memory. */
export const LOG_AT = 0xf_0000n;
/** The last page of the 64-bit space, and an address in the kernel's half. */
const EDGE = 0xffff_ffff_ffff_f000n;
const KERNEL = 0xffff_8880_0000_0000n;

const index = fc.oneof({ weight: 12, arbitrary: fc.constantFrom(0, 1) }, { weight: 1, arbitrary: fc.constantFrom(2, 3, 0xffff, 0x7fff_ffff, 0xffff_ffff) });
const num = fc.oneof({ weight: 8, arbitrary: fc.constant(256) }, { weight: 4, arbitrary: fc.constantFrom(0, 1, 2, 3, 255, 257, 0x8000, 0xffff, 0x1_0000, 0x1_0001, 0xffff_ffff) });
const base = fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 3, arbitrary: fc.constantFrom(1, 0xfffe, 0xffff, 0x1_0000, 0xffff_ffff) });
const w = (v: bigint): AddrRef => ({ w: v });

function ringAddr(i: number) {
  const r = RING_AT[Math.min(i, 1)]!;
  return fc.oneof(
    { weight: 8, arbitrary: fc.constant({ flags: 0, desc: w(r.desc), avail: w(r.avail), used: w(r.used), log: w(0n) }) },
    { weight: 2, arbitrary: fc.constant({ flags: 1, desc: w(r.desc), avail: w(r.avail), used: w(r.used), log: w(LOG_AT) }) },
    {
      weight: 3,
      arbitrary: fc.record({
        flags: fc.constantFrom(0, 1, 2, 3, 0x8000_0000),
        desc: fc.constantFrom(w(r.desc), w(r.desc + 8n), w(r.desc + 1n)),
        avail: fc.constantFrom(w(r.avail), w(r.avail + 1n), w(r.avail + 2n)),
        used: fc.constantFrom(w(r.used), w(r.used + 2n), w(r.used + 4n)),
        log: fc.constantFrom<AddrRef>(w(0n), w(2n), { abs: 4n }, { abs: EDGE }),
      }),
    },
  );
}

const region = (gpa: bigint, size: bigint, at: AddrRef): RegionRef => ({ gpa, size, at });
const goodTable: readonly RegionRef[] = [region(0n, WINDOW_SIZE, w(0n))];

const memTable = fc.oneof(
  { weight: 8, arbitrary: fc.constant({ padding: 0, regions: goodTable }) },
  { weight: 1, arbitrary: fc.constant({ padding: 0, regions: [] as RegionRef[] }) },
  { weight: 1, arbitrary: fc.constantFrom(1, 0x8000_0000).map((padding) => ({ padding, regions: goodTable })) },
  // One page per region, contiguous: 64 fits the default max_mem_regions, 65 does not.
  { weight: 2, arbitrary: fc.constantFrom(63, 64, 65, 66).map((n) => ({ padding: 0, regions: Array.from({ length: n }, (_, i) => region(BigInt(i) * 0x1000n, 0x1000n, w(BigInt(i) * 0x1000n))) })) },
  {
    weight: 3,
    arbitrary: fc
      .constantFrom(
        region(0x10_0000n, 0x2000n, { abs: EDGE }), // userspace_addr + size wraps 2^64
        region(0x10_0000n, 0x1000n, { abs: KERNEL }), // not user memory
        region(0x10_0000n, 0n, w(0n)), // size 0
        region(EDGE, 0x2000n, w(0n)), // guest range wraps 2^64
        region(0x10_0000n, 0x1000n, w(0x1000n)), // a second, overlapping view of the window
      )
      .map((bad) => ({ padding: 0, regions: [...goodTable, bad] })),
  },
);

const logBase = fc.oneof({ weight: 4, arbitrary: fc.constant(w(LOG_AT)) }, { weight: 2, arbitrary: fc.constantFrom<AddrRef>({ abs: KERNEL }, { abs: EDGE }, { abs: 0xffff_ffff_ffff_ffffn }, { abs: 0n }) });

/** A control-plane step; `offeredBackend` is the device's GET_BACKEND_FEATURES answer. */
function controlStep(offeredBackend: bigint): fc.Arbitrary<ControlStep> {
  return fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom(S({ op: 'setOwner' }), S({ op: 'resetOwner' })) },
    { weight: 6, arbitrary: fc.record({ index, num }).map((r) => S({ op: 'setVringNum', ...r })) },
    { weight: 4, arbitrary: fc.record({ index, num: base }).map((r) => S({ op: 'setVringBase', ...r })) },
    { weight: 3, arbitrary: index.map((i) => S({ op: 'getVringBase', index: i })) },
    { weight: 1, arbitrary: fc.record({ index, num: fc.constantFrom(0, 1, 2, 0xffff_ffff) }).map((r) => S({ op: 'setVringEndian', ...r })) },
    { weight: 6, arbitrary: index.chain((i) => ringAddr(i).map((a) => S({ op: 'setVringAddr', index: i, ...a }))) },
    { weight: 4, arbitrary: fc.record({ which: fc.constantFrom('kick' as const, 'call' as const, 'err' as const), index, unbind: fc.boolean() }).map((r) => S({ op: 'setVringFile', ...r })) },
    { weight: 5, arbitrary: memTable.map((m) => S({ op: 'setMemTable', ...m })) },
    { weight: 3, arbitrary: logBase.map((b) => S({ op: 'setLogBase', base: b })) },
    { weight: 3, arbitrary: fc.boolean().map((on) => S({ op: 'setLogAll', on })) },
    { weight: 7, arbitrary: fc.record({ index, attach: fc.boolean() }).map((r) => S({ op: 'setBackend', ...r })) },
    { weight: 1, arbitrary: fc.constant(S({ op: 'getBackendFeatures' })) },
    { weight: 1, arbitrary: fc.constantFrom(offeredBackend, 0n, offeredBackend | (1n << 2n), 1n << 63n).map((f) => S({ op: 'setBackendFeatures', features: f })) },
  );
}

/** A memory table and both rings laid out, so that attaching a backend can start a ring and the running-ring rules get exercised. */
const readyRings: ControlStep[] = [
  S({ op: 'setMemTable', padding: 0, regions: goodTable }),
  ...[0, 1].flatMap((i) => [S({ op: 'setVringNum', index: i, num: 256 }), S({ op: 'setVringAddr', index: i, flags: 0, desc: w(RING_AT[i]!.desc), avail: w(RING_AT[i]!.avail), used: w(RING_AT[i]!.used), log: w(0n) })]),
];

/** A running ring 0 over the window: the block the running-ring rules (num-immutable, base-busy) need, from any state. */
const runningRing0: ControlStep[] = [
  S({ op: 'setOwner' }),
  S({ op: 'setMemTable', padding: 0, regions: goodTable }),
  S({ op: 'setLogBase', base: w(LOG_AT) }),
  ...readyRings.slice(1, 3),
  S({ op: 'setBackend', index: 0, attach: true }),
];

/** Focus blocks (focus.ts) of the control suite, one per id the free mix reaches in fewer than half the cases. */
const controlFocus: readonly fc.Arbitrary<ControlStep[]>[] = [
  // vhost.mem.region-limit: padding, or one region more than the default max_mem_regions (64).
  fc.constantFrom(
    [S({ op: 'setMemTable', padding: 1, regions: goodTable })],
    [S({ op: 'setMemTable', padding: 0, regions: Array.from({ length: 65 }, (_, i) => region(BigInt(i) * 0x1000n, 0x1000n, w(BigInt(i) * 0x1000n))) })],
  ),
  // vhost.vring.num-immutable, vhost.vring.base-busy: resizing and moving a running ring.
  fc.constantFrom(128, 256).map((n) => [...runningRing0, S({ op: 'setVringNum', index: 0, num: n }), S({ op: 'setVringBase', index: 0, num: 0 })]),
  // vhost.vring.get-base, vhost.vring.endian, vhost.vring.index-range.
  fc.constantFrom(0, 1).map((i) => [S({ op: 'getVringBase', index: i })]),
  fc.record({ index: fc.constantFrom(0, 1), num: fc.constantFrom(0, 1, 2) }).map((r) => [S({ op: 'setVringEndian', ...r })]),
  fc.constantFrom(2, 0xffff, 0xffff_ffff).map((i) => [S({ op: 'setVringNum', index: i, num: 256 })]),
  // vhost.log.base-checked: a log base that cannot be user memory.
  fc.constantFrom<AddrRef>({ abs: KERNEL }, { abs: EDGE }).map((b) => [S({ op: 'setLogBase', base: b })]),
  // vhost.vring.file-unbind.
  fc.record({ which: fc.constantFrom('kick' as const, 'call' as const, 'err' as const), index: fc.constantFrom(0, 1) }).map((r) => [S({ op: 'setVringFile', ...r, unbind: true })]),
  // vhost.owner.reset, and vhost.owner.required in the steps after it.
  fc.constant([S({ op: 'resetOwner' })]),
];

/** A case: usually SET_OWNER first (vhost.h), sometimes a step before it to see it refused; half the time the rings are made ready next; focus blocks anywhere after. */
export function controlScenario(offeredBackend: bigint, maxSteps: number): fc.Arbitrary<ControlStep[]> {
  const owner = fc.oneof({ weight: 9, arbitrary: fc.constant<ControlStep[]>([S({ op: 'setOwner' })]) }, { weight: 1, arbitrary: controlStep(offeredBackend).map((s) => [s, S({ op: 'setOwner' })]) });
  const first = fc.tuple(owner, fc.boolean()).map(([o, ready]) => (ready ? [...o, ...readyRings] : o));
  const rest = maxSteps - 2 - readyRings.length;
  const free = fc.array(controlStep(offeredBackend), { minLength: 1, maxLength: rest, size: 'max' });
  return fc.tuple(first, withFocus(free, controlFocus, rest)).map(([a, b]) => [...a, ...b]);
}

// ------------------------------------------------------------------ IOTLB

/** The IOTLB suite's rings, in I/O virtual addresses; every IOVA from IOVA_BASE on is backed by the window at IOVA - IOVA_BASE. */
const IOVA_BASE = 0x1_0000n;
export const IOVA_RING = [
  { desc: 0x2_0000n, avail: 0x2_1000n, used: 0x2_2000n },
  { desc: 0x1_0000n, avail: 0x1_1000n, used: 0x1_2000n },
] as const;
const IOVA_SPAN = 0x2_0000n;

const perm = fc.oneof({ weight: 6, arbitrary: fc.constant(3) }, { weight: 2, arbitrary: fc.constantFrom(1, 2) }, { weight: 1, arbitrary: fc.constantFrom(0, 4, 0xff) });

/** [iova, size] windows over the rings: all of them, one ring part, a page, and the 64-bit edges. */
type Span = readonly [bigint, bigint];
const span: fc.Arbitrary<Span> = fc.oneof(
  { weight: 4, arbitrary: fc.constant<Span>([IOVA_BASE, IOVA_SPAN]) },
  { weight: 4, arbitrary: fc.constantFrom(...IOVA_RING.flatMap((r) => [r.desc, r.avail, r.used])).map((a): Span => [a, 0x1000n]) },
  { weight: 1, arbitrary: fc.constantFrom<Span>([EDGE, 0x1000n], [EDGE, 0x2000n], [0n, 0xffff_ffff_ffff_ffffn], [1n, 0xffff_ffff_ffff_ffffn], [IOVA_BASE, 0n]) },
);

const iotlbWrite = fc
  .record({
    span,
    perm,
    type: fc.oneof({ weight: 8, arbitrary: fc.constantFrom(2, 3) }, { weight: 1, arbitrary: fc.constantFrom(0, 1, 4, 5, 6, 7, 0xff) }),
    msgType: fc.oneof({ weight: 12, arbitrary: fc.constant(2) }, { weight: 1, arbitrary: fc.constantFrom(1, 0, 3, 0xffff_ffff) }),
    asid: fc.oneof({ weight: 12, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constantFrom(1, 0xffff_ffff) }),
    length: fc.oneof({ weight: 12, arbitrary: fc.constant(72) }, { weight: 2, arbitrary: fc.constantFrom(0, 3, 4, 8, 39, 40, 71, 80) }),
    uaddr: fc.oneof({ weight: 10, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constantFrom<AddrRef>({ abs: KERNEL }, { abs: EDGE }) }),
  })
  .map(({ span: [iova, size], perm: p, type, msgType, asid, length, uaddr }) =>
    S({ op: 'iotlbWrite', msgType, asid, iova, size, uaddr: uaddr ?? ({ w: iova >= IOVA_BASE && iova < IOVA_BASE + IOVA_SPAN ? iova - IOVA_BASE : 0n } as AddrRef), perm: p, type, length }),
  );

/** Steps of the IOTLB suite: rings in IOVA space, attach, kicks, updates, invalidates, reads. */
function iotlbStep(): fc.Arbitrary<ControlStep> {
  const q = fc.constantFrom(0, 1);
  return fc.oneof(
    { weight: 10, arbitrary: iotlbWrite },
    { weight: 6, arbitrary: fc.oneof({ weight: 6, arbitrary: fc.constant(72) }, { weight: 1, arbitrary: fc.constantFrom(0, 8, 71, 200) }).map((length) => S({ op: 'iotlbRead', length })) },
    { weight: 4, arbitrary: q.map((i) => S({ op: 'kick', index: i })) },
    { weight: 4, arbitrary: fc.record({ index: q, attach: fc.constantFrom(true, true, false) }).map((r) => S({ op: 'setBackend', ...r })) },
    { weight: 1, arbitrary: q.map((i) => S({ op: 'setVringFile', which: 'kick', index: i, unbind: false })) },
    { weight: 1, arbitrary: fc.constant(S({ op: 'setOwner' })) },
  );
}

const V2 = { msgType: 2, asid: 0, type: 2, length: 72 } as const;
const update = (iova: bigint, size: bigint, perm: number, uaddr: AddrRef = w(iova - IOVA_BASE)): ControlStep => S({ op: 'iotlbWrite', ...V2, iova, size, uaddr, perm });
/** INVALIDATE of [iova, iova + size): its uaddr and perm are not read. */
const invalidate = (iova: bigint, size: bigint): ControlStep => S({ op: 'iotlbWrite', ...V2, type: 3, iova, size, uaddr: w(0n), perm: 0 });

/**
 * Focus blocks (focus.ts) of the IOTLB suite, one per id the free mix reaches in fewer than half the cases. A ring
 * is stopped and the IOVA space emptied first where the block needs to know what is mapped.
 */
const iotlbFocus: readonly fc.Arbitrary<ControlStep[]>[] = [
  // vhost.iotlb.update-zero-size-rejected.
  fc.constantFrom(...IOVA_RING.map((r) => r.used)).map((iova) => [update(iova, 0n, 3)]),
  // vhost.iotlb.invalidate-zero-size: at a non-zero iova, where a kernel that takes it removes nothing (iova + 0 - 1
  // is below iova) — the model's state is then right whichever answer the kernel gives.
  fc.constantFrom(...IOVA_RING.map((r) => r.desc)).map((iova) => [invalidate(iova, 0n)]),
  // vhost.iotlb.update-uaddr-checked: a uaddr in the kernel's half, or one whose range wraps.
  fc.constantFrom<AddrRef>({ abs: KERNEL }, { abs: EDGE }).map((uaddr) => [update(IOVA_BASE, 0x2000n, 3, uaddr)]),
  // vhost.iotlb.msg-size-mismatch, vhost.iotlb.read-short-buffer.
  fc.constantFrom(0, 3, 39).map((length) => [S({ op: 'iotlbWrite', ...V2, iova: IOVA_BASE, size: IOVA_SPAN, uaddr: w(0n), perm: 3, length })]),
  fc.constantFrom(0, 8, 71).map((length) => [S({ op: 'iotlbRead', length })]),
  // vhost.iotlb.perm-enforced: ring i's used ring mapped read-only, then the ring started.
  fc.constantFrom(0, 1).map((i) => [S({ op: 'setBackend', index: i, attach: false }), invalidate(IOVA_BASE, IOVA_SPAN), update(IOVA_RING[i]!.used, 0x1000n, 1), S({ op: 'setBackend', index: i, attach: true })]),
  // vhost.iotlb.miss-on-unmapped, vhost.iotlb.msg-v2, vhost.iotlb.no-info-leak: a ring started over nothing
  // mapped must ask for its used ring, and the MISS is read.
  fc.constantFrom(0, 1).map((i) => [S({ op: 'setBackend', index: i, attach: false }), invalidate(IOVA_BASE, IOVA_SPAN), S({ op: 'setBackend', index: i, attach: true }), S({ op: 'iotlbRead', length: 72 })]),
];

/** SET_OWNER, both rings laid out in IOVA space with an (empty) memory table, then IOTLB traffic with focus blocks. */
export function iotlbScenario(maxSteps: number): fc.Arbitrary<ControlStep[]> {
  const setup: ControlStep[] = [S({ op: 'setOwner' }), S({ op: 'setMemTable', padding: 0, regions: [] })];
  for (const i of [0, 1]) {
    const r = IOVA_RING[i]!;
    setup.push(S({ op: 'setVringNum', index: i, num: 256 }), S({ op: 'setVringAddr', index: i, flags: 0, desc: { abs: r.desc }, avail: { abs: r.avail }, used: { abs: r.used }, log: { abs: 0n } }), S({ op: 'setVringFile', which: 'kick', index: i, unbind: false }));
  }
  const free = fc.array(iotlbStep(), { minLength: 1, maxLength: maxSteps - setup.length, size: 'max' });
  return withFocus(free, iotlbFocus, maxSteps - setup.length).map((rest) => [...setup, ...rest]);
}

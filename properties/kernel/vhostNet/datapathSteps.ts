// Steps of the guest:vhost-net data path suite, and their generators: frames
// sent through the TX ring and read from the tap, frames written to the tap
// and found in RX buffers, over valid chains (buffers crossing the boundary
// between two mappings that are not adjacent in memory) and hostile ones
// (head or next >= num, loops, readable after writable, indirect tables of odd
// length, nested or running on, avail index runaway), and, with a device
// IOTLB, pages unmapped, read-only or write-only under the buffers.
import fc from 'fast-check';
import type { KernelStep } from '../types.ts';
import { withFocus } from './focus.ts';

/** Buffer pages the chains use: device address DA_BUF + 4096 * page, backed by window page (page ^ 1) — never adjacent in memory to the next one. */
export const BUF_PAGES = 16;
export const DA_BUF = 0x10_0000n;
export const PAGE = 0x1000;

/** A buffer: `len` bytes from `off` in buffer page `page` (it may run into the next page). */
export interface BufSpec {
  readonly page: number;
  readonly off: number;
  readonly len: number;
  readonly write: boolean;
}

/** An indirect descriptor: its table at (page, off), entries in order (next = i + 1), and what is wrong with it. */
export interface IndirectSpec {
  readonly page: number;
  readonly off: number;
  readonly entries: readonly BufSpec[];
  /** odd-len: the table length is not a multiple of 16; nested: an entry is itself indirect; run-on: the last entry says NEXT. */
  readonly flaw: 'none' | 'odd-len' | 'nested' | 'run-on';
}

export type ChainPart = ({ readonly kind: 'buf' } & BufSpec) | ({ readonly kind: 'ind' } & IndirectSpec);

/** How the chain or its avail entry is broken: head >= num, a next >= num, a loop back to the head, or avail idx more than num ahead. */
export type Hostility = 'none' | 'head' | 'next' | 'loop' | 'runaway';

export type DataStep =
  | { readonly t: 'kernel'; readonly op: 'tx'; readonly parts: readonly ChainPart[]; readonly frameLen: number; readonly hostile: Hostility }
  | { readonly t: 'kernel'; readonly op: 'rx'; readonly parts: readonly ChainPart[]; readonly frameLen: number; readonly hostile: Hostility }
  /** Device IOTLB only: page `page` re-mapped with `perm` (0: invalidated). */
  | { readonly t: 'kernel'; readonly op: 'perm'; readonly page: number; readonly perm: number };

/** Buffers start on even pages 0-12 (a crossing ends in the odd page after); page 14 holds the odd buffer of an out-after-in chain, page 15 indirect tables. */
const EVEN_PAGES = [0, 2, 4, 6, 8, 10, 12];
const EXTRA_PAGE = BUF_PAGES - 2;
/** A page past the buffer pages: no memory region holds it. */
export const GAP_PAGE = BUF_PAGES;
const TABLE_PAGE = BUF_PAGES - 1;
/** Offsets near the page end make a buffer cross into the next page (a different mapping, elsewhere in memory). */
const off = fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 0, max: PAGE - 1 }) }, { weight: 2, arbitrary: fc.integer({ min: PAGE - 64, max: PAGE - 1 }) }, { weight: 1, arbitrary: fc.constant(0) });

/** Splits `total` bytes into `n` buffers, each possibly crossing a page; every length ≥ 1. */
function buffers(total: number, write: boolean, n: number): fc.Arbitrary<BufSpec[]> {
  // Each buffer on its own even page (crossing into the odd one after it): buffers of a chain never overlap.
  const spots = fc.tuple(fc.shuffledSubarray(EVEN_PAGES, { minLength: n, maxLength: n }), fc.array(off, { minLength: n, maxLength: n })).map(([pages, offs]) => pages.map((p, i) => ({ page: p, off: offs[i]! })));
  return spots.chain((spots) =>
    fc.array(fc.integer({ min: 1, max: Math.max(1, total) }), { minLength: n - 1, maxLength: n - 1 }).map((cuts) => {
      const marks = [0, ...[...new Set(cuts.map((c) => Math.min(c, total - 1)))].sort((a, b) => a - b), total].filter((v, i, a) => i === 0 || v > a[i - 1]!);
      return marks.slice(1).map((end, i) => {
        const spot = spots[i] ?? spots[0]!;
        const len = end - marks[i]!;
        // Keep the buffer inside the last page: a crossing is into page + 1 at most.
        return { page: spot.page, off: Math.min(spot.off, 2 * PAGE - len), len, write };
      });
    }),
  );
}

function chain(total: number, write: boolean): fc.Arbitrary<ChainPart[]> {
  const direct = fc.integer({ min: 1, max: 4 }).chain((n) => buffers(total, write, n)).map((bs) => bs.map((b): ChainPart => ({ kind: 'buf', ...b })));
  return fc.oneof({ weight: 3, arbitrary: direct }, { weight: 1, arbitrary: indirect(total, write).map((t): ChainPart[] => [t]) });
}

/** A chain of one indirect descriptor: a table of 1-4 entries at a slot of the tables' page. */
function indirect(total: number, write: boolean): fc.Arbitrary<ChainPart & { kind: 'ind' }> {
  return fc
    .record({ n: fc.integer({ min: 1, max: 4 }), slot: fc.integer({ min: 0, max: PAGE / 16 - 8 }) })
    .chain(({ n, slot }) => buffers(total, write, n).map((entries) => ({ kind: 'ind' as const, page: TABLE_PAGE, off: slot * 16, entries, flaw: 'none' as const })));
}

const frameLen = fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 60, max: 400 }) }, { weight: 1, arbitrary: fc.constantFrom(60, 1514) });

/** A flawed version of a valid chain: the hostility, or a flaw in its indirect table, or a readable after a writable. */
function spoil(parts: ChainPart[], write: boolean, iotlb: boolean): fc.Arbitrary<{ parts: ChainPart[]; hostile: Hostility }> {
  const hostile = fc.constantFrom<Hostility>('head', 'next', 'loop', 'runaway').map((h) => ({ parts, hostile: h }));
  const options = [hostile];
  // An indirect table, when there is one, is spoiled more often than the rest: its checks are the most numerous.
  const ind = parts.findIndex((p) => p.kind === 'ind');
  if (ind >= 0) {
    options.push(
      fc.constantFrom<IndirectSpec['flaw']>('odd-len', 'nested', 'run-on').map((flaw) => ({ parts: parts.map((p, i) => (i === ind ? { ...(p as IndirectSpec & { kind: 'ind' }), flaw } : p)), hostile: 'none' as Hostility })),
      fc.constantFrom<IndirectSpec['flaw']>('odd-len', 'nested', 'run-on').map((flaw) => ({ parts: parts.map((p, i) => (i === ind ? { ...(p as IndirectSpec & { kind: 'ind' }), flaw } : p)), hostile: 'none' as Hostility })),
    );
  }
  // A device-readable buffer after a device-writable one: TX gets a writable first, RX a readable last.
  const extra = { kind: 'buf' as const, page: EXTRA_PAGE, off: 0, len: 16 };
  options.push(fc.constant({ parts: write ? [...parts, { ...extra, write: false }] : [{ ...extra, write: true }, ...parts], hostile: 'none' as Hostility }));
  // Memory table: one more buffer where no region is (GAP_PAGE): "any gap fails the buffer". With a device IOTLB
  // the same address is a miss the suite could only answer by mapping memory it does not have, so it is not sent there.
  if (!iotlb) options.push(fc.constant({ parts: [...parts, { kind: 'buf' as const, page: GAP_PAGE, off: 0, len: 16, write }], hostile: 'none' as Hostility }));
  return fc.oneof(...options);
}

function dataStep(iotlb: boolean): fc.Arbitrary<DataStep> {
  const dir = (op: 'tx' | 'rx') =>
    frameLen.chain((len) => {
      const write = op === 'rx';
      const valid = chain(12 + len, write).map((parts) => ({ parts, hostile: 'none' as Hostility }));
      return fc.oneof({ weight: 3, arbitrary: valid }, { weight: 1, arbitrary: chain(12 + len, write).chain((p) => spoil(p, write, iotlb)) }).map((c): DataStep => ({ t: 'kernel', op, frameLen: len, ...c }));
    });
  const arbs: fc.Arbitrary<DataStep>[] = [dir('tx'), dir('tx'), dir('rx')];
  // Remapping the pages buffers start on (even) or cross into (odd), and the indirect tables' page.
  const remap = fc.record({ page: fc.oneof(fc.constantFrom(0, 2, 4, 6, 8, 10, 12, 15), fc.integer({ min: 0, max: BUF_PAGES - 1 })), perm: fc.constantFrom(0, 0, 1, 2, 3) }).map((r): DataStep => ({ t: 'kernel', op: 'perm', ...r }));
  if (iotlb) arbs.push(remap, remap);
  return fc.oneof(...arbs);
}

/**
 * Focus blocks (focus.ts): the hostile chains the free mix makes in fewer than half the cases — an avail
 * idx run more than num ahead (vhost.desc.avail-runaway) and a flawed indirect table
 * (vhost.desc.indirect-checked), each one step, TX or RX.
 */
function datapathFocus(): fc.Arbitrary<DataStep[]>[] {
  const op = fc.constantFrom('tx' as const, 'rx' as const);
  const runaway = fc.tuple(op, frameLen).chain(([o, len]) => chain(12 + len, o === 'rx').map((parts): DataStep[] => [{ t: 'kernel', op: o, frameLen: len, parts, hostile: 'runaway' }]));
  const flawed = fc.tuple(op, frameLen, fc.constantFrom<IndirectSpec['flaw']>('odd-len', 'nested', 'run-on')).chain(([o, len, flaw]) =>
    indirect(12 + len, o === 'rx').map((t): DataStep[] => [{ t: 'kernel', op: o, frameLen: len, parts: [{ ...t, flaw }], hostile: 'none' }]),
  );
  return [runaway, flawed];
}

export function datapathScenario(iotlb: boolean, maxSteps: number): fc.Arbitrary<DataStep[]> {
  return withFocus(fc.array(dataStep(iotlb), { minLength: 1, maxLength: maxSteps, size: 'max' }), datapathFocus(), maxSteps);
}

export function datapathRequirementOf(k: KernelStep): string {
  const s = k as DataStep;
  if (s.op === 'perm') return 'vhost.iotlb.invalidate-removes';
  if (s.hostile === 'head' || s.hostile === 'next' || s.hostile === 'loop') return 'vhost.desc.head-range';
  if (s.hostile === 'runaway') return 'vhost.desc.avail-runaway';
  if (s.parts.some((p) => p.kind === 'ind' && p.flaw !== 'none')) return 'vhost.desc.indirect-checked';
  if (s.parts.some((p, i) => i > 0 && p.kind === 'buf' && !p.write && s.parts.slice(0, i).some((q) => q.kind === 'buf' && q.write))) return 'vhost.desc.out-after-in';
  return 'vhost.iotlb.translate-whole-range';
}

function partText(p: ChainPart): string {
  const buf = (b: BufSpec) => `${b.write ? 'W' : 'R'} p${b.page}+${b.off.toString(16)}:${b.len}`;
  return p.kind === 'buf' ? buf(p) : `IND(p${p.page}+${p.off.toString(16)}${p.flaw === 'none' ? '' : ` ${p.flaw}`}: ${p.entries.map(buf).join(', ')})`;
}

export function formatDataStep(k: KernelStep): string {
  const s = k as DataStep;
  if (s.op === 'perm') return `${s.perm ? `map page ${s.page} perm ${s.perm}` : `unmap page ${s.page}`}`;
  return `${s.op}(${s.frameLen}-byte frame${s.hostile === 'none' ? '' : `, ${s.hostile}`}: ${s.parts.map(partText).join(' → ')})`;
}

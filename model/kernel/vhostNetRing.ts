// What the vhost core may do with one descriptor chain of a split ring, as the
// UAPI and drivers/vhost/vhost.c (vhost_get_vq_desc(), get_indirect(),
// translate_desc()) define it: take the chain (and which bytes it reads and
// writes), refuse it (the ring stops: vq_err()), or ask for a translation (a
// device-IOTLB miss). Pure: the caller gives the descriptors it wrote and how
// device addresses translate.

/** One 16-byte descriptor as the suite wrote it (virtio 1.2 2.7.5). */
export interface Desc {
  readonly addr: bigint;
  readonly len: number;
  readonly flags: number;
  readonly next: number;
}

export const VRING_DESC_F_NEXT = 1;
export const VRING_DESC_F_WRITE = 2;
export const VRING_DESC_F_INDIRECT = 4;

/** A device-address range and the access it needs: 1 read (VHOST_ACCESS_RO), 2 write (VHOST_ACCESS_WO). */
export interface Segment {
  readonly addr: bigint;
  readonly len: number;
  readonly access: 1 | 2;
}

/** How a range translates: whole, with a gap (`at`: the first untranslated byte), or without the access it needs. */
export type Translation = { readonly kind: 'ok' } | { readonly kind: 'gap'; readonly at: bigint } | { readonly kind: 'denied'; readonly at: bigint };

export interface ChainMemory {
  /** The descriptor table entries of the ring (index → descriptor), as written. */
  readonly table: readonly Desc[];
  /** The entries of the indirect table at `addr` (len % 16 === 0), as written; undefined if the suite wrote none there. */
  indirect(addr: bigint, len: number): readonly Desc[] | undefined;
  translate(addr: bigint, len: number, access: 1 | 2): Translation;
  /** With a device IOTLB a gap is a miss the device asks for (translate_desc() → vhost_iotlb_miss()); without, it fails the chain. */
  readonly iotlb: boolean;
}

export type ChainOutcome =
  | { readonly kind: 'take'; readonly segments: readonly Segment[] }
  | { readonly kind: 'refuse'; readonly requirement: string; readonly why: string }
  | { readonly kind: 'miss'; readonly iova: bigint; readonly access: 1 | 2; readonly requirement: string };

const refuse = (requirement: string, why: string): ChainOutcome => ({ kind: 'refuse', requirement, why });

/** Translates one descriptor's buffer, or says why the chain stops there. */
function translateOne(m: ChainMemory, d: Desc, access: 1 | 2): ChainOutcome | null {
  if (d.len === 0) return null;
  const t = m.translate(d.addr, d.len, access);
  if (t.kind === 'ok') return null;
  // translate_desc(): a mapping without the access → EPERM; no mapping → a miss (device IOTLB) or EFAULT (memory table).
  if (t.kind === 'denied') return refuse('vhost.iotlb.perm-enforced', `the ${access === 1 ? 'read' : 'write'} of [0x${d.addr.toString(16)}, +${d.len}) meets a mapping without that permission at 0x${t.at.toString(16)}`);
  if (m.iotlb) return { kind: 'miss', iova: t.at, access, requirement: 'vhost.iotlb.miss-on-unmapped' };
  return refuse('vhost.iotlb.translate-whole-range', `no memory region holds 0x${t.at.toString(16)} of [0x${d.addr.toString(16)}, +${d.len})`);
}

/** The chain whose head the avail ring offers, for a ring of `num` entries. */
export function walkChain(m: ChainMemory, num: number, head: number): ChainOutcome {
  // vhost_get_vq_desc(): "Guest says index %u > %u is available".
  if (head >= num) return refuse('vhost.desc.head-range', `head ${head} >= num ${num}`);
  const segments: Segment[] = [];
  let sawWrite = false;
  const take = (d: Desc, where: string): ChainOutcome | null => {
    const access = d.flags & VRING_DESC_F_WRITE ? 2 : 1;
    // "If it's an output descriptor, they're all supposed to come before any input descriptors."
    if (access === 1 && sawWrite) return refuse('vhost.desc.out-after-in', `a device-readable descriptor (${where}) after a device-writable one`);
    const t = translateOne(m, d, access);
    if (t) return t;
    if (access === 2) sawWrite = true;
    if (d.len) segments.push({ addr: d.addr, len: d.len, access });
    return null;
  };
  let i = head;
  let found = 0;
  for (;;) {
    if (i >= num) return refuse('vhost.desc.head-range', `next index ${i} >= num ${num}`);
    if (++found > num) return refuse('vhost.desc.head-range', `more than num ${num} descriptors: a loop`);
    const d = m.table[i]!;
    if (d.flags & VRING_DESC_F_INDIRECT) {
      const r = walkIndirect(m, d, take);
      if (r) return r;
    } else {
      const r = take(d, `index ${i}`);
      if (r) return r;
    }
    if (!(d.flags & VRING_DESC_F_NEXT)) break;
    i = d.next;
  }
  return { kind: 'take', segments };
}

/** get_indirect(): the table's length, its translation, nesting and loops. */
function walkIndirect(m: ChainMemory, d: Desc, take: (d: Desc, where: string) => ChainOutcome | null): ChainOutcome | null {
  if (d.len % 16 !== 0) return refuse('vhost.desc.indirect-checked', `indirect table length ${d.len} is not a multiple of 16`);
  const count = d.len / 16;
  if (count > 0x1_0000) return refuse('vhost.desc.indirect-checked', `indirect table of ${count} entries > 65536`);
  const t = translateOne(m, { ...d, flags: 0 }, 1);
  if (t) return t;
  const entries = m.indirect(d.addr, d.len);
  if (!entries) throw new Error(`the suite wrote no indirect table at 0x${d.addr.toString(16)}`);
  let i = 0;
  let found = 0;
  for (;;) {
    if (++found > count) return refuse('vhost.desc.indirect-checked', `more than ${count} entries visited in an indirect table: a loop`);
    // An index past the table reads past what the table's length covers (copy_from_iter_full fails).
    if (i >= count) return refuse('vhost.desc.indirect-checked', `indirect next ${i} >= ${count} entries`);
    const e = entries[i]!;
    if (e.flags & VRING_DESC_F_INDIRECT) return refuse('vhost.desc.indirect-checked', `indirect entry ${i} is itself indirect`);
    const r = take(e, `indirect entry ${i}`);
    if (r) return r;
    if (!(e.flags & VRING_DESC_F_NEXT)) return null;
    // get_indirect() reads the table in order and uses `next` only to go on; the virtio text follows `next`.
    // The suite writes next = i + 1, where both readings agree.
    i += 1;
  }
}

// A case of the data path suite: a vhost-net device whose TX and RX rings run
// over a tap that is up, with a packet socket on it (the agent's socket/bind
// ops) — so a frame the kernel sends from the TX ring is read back whole, and
// a frame written to the socket lands in an RX buffer. Guest memory is the
// session's window; buffers sit on 16 pages whose device addresses are
// consecutive but whose backing pages are swapped in pairs, through a memory
// table (16 regions) or the device IOTLB (16 mappings), so a buffer crossing
// a page is translated piecewise (vhost.iotlb.translate-whole-range).
import { errnoName } from '../../../implementations/guest/agent.ts';
import { hex } from '../../../model/kernel/vhostNet.ts';
import { type ChainMemory, type ChainOutcome, type Desc, type Translation, VRING_DESC_F_INDIRECT, VRING_DESC_F_NEXT, VRING_DESC_F_WRITE, walkChain } from '../../../model/kernel/vhostNetRing.ts';
import { type Harm, violation } from '../../../model/outcome.ts';
import { encode } from '../../../spec/codec.ts';
import { VHOST_IOTLB_INVALIDATE, VHOST_IOTLB_MSG_V2, VHOST_IOTLB_UPDATE, vhost_msg_v2 } from '../../../spec/vhost/types.ts';
import type { KernelCase, KernelContext, KernelObservation, KernelStep } from '../types.ts';
import { type BufSpec, BUF_PAGES, type ChainPart, DA_BUF, type DataStep, PAGE } from './datapathSteps.ts';
import { replyOf, VhostNetSession } from './session.ts';
import { ETH_P_VHOSTCHECK, openPacketSocket } from './tapSocket.ts';

/** Ring size: small, so a loop or runaway is found after few descriptors. */
const RING_NUM = 8;
const RX = 0;
const TX = 1;
/** Window offsets: rings, dirty log, buffer pages. */
const RING_AT = [
  { desc: 0x0000n, avail: 0x0400n, used: 0x0800n },
  { desc: 0x1000n, avail: 0x1400n, used: 0x1800n },
] as const;
const LOG_AT = 0x3000n;
const LOG_BYTES = 64;
const BUF_AT = 0x1_0000n;
/** Where the rings sit in IOVA space when there is a device IOTLB. */
const IOVA_RING = 0x20_0000n;
const VNET_HDR = 12;

const TAKE_WAIT_MS = 2_000;
const REFUSE_WAIT_MS = 600;
const MISS_WAIT_MS = 2_000;
const QUIET_MS = 30;


/** The window page backing buffer page `p`: pairs swapped, so page p + 1 is never right after page p. */
const backing = (p: number): bigint => BUF_AT + BigInt((p ^ 1) * PAGE);

interface VqRing {
  /** Heads the suite published (avail idx). */
  avail: number;
  /** The used idx last seen. */
  used: number;
}


function descBytes(ds: readonly Desc[]): Buffer {
  const b = Buffer.alloc(16 * ds.length);
  ds.forEach((d, i) => {
    b.writeBigUInt64LE(d.addr, 16 * i);
    b.writeUInt32LE(d.len >>> 0, 16 * i + 8);
    b.writeUInt16LE(d.flags, 16 * i + 12);
    b.writeUInt16LE(d.next & 0xffff, 16 * i + 14);
  });
  return b;
}

const bufAddr = (b: Pick<BufSpec, 'page' | 'off'>): bigint => DA_BUF + BigInt(b.page * PAGE + b.off);

export class DatapathCase implements KernelCase {
  /** Buffer pages' IOTLB permission (0: unmapped); memory-table mode: all 3. */
  readonly #perm: number[] = Array.from({ length: BUF_PAGES }, () => 3);
  /** Pages an INVALIDATE removed (a miss there is vhost.iotlb.invalidate-removes at work). */
  readonly #invalidated = new Set<number>();
  /** Pages mapped again by an UPDATE (a step or the answer to a miss): a queued MISS for them is a duplicate. */
  readonly #answered = new Set<number>();
  readonly #rings: VqRing[] = [
    { avail: 0, used: 0 },
    { avail: 0, used: 0 },
  ];
  #tag = 0;

  private constructor(
    readonly session: VhostNetSession,
    readonly iotlb: boolean,
    readonly packetFd: number,
  ) {}

  static async open(ctx: KernelContext, opts: { readonly iotlb: boolean; readonly features: bigint }): Promise<DatapathCase> {
    const session = await VhostNetSession.open(ctx.machine);
    let packetFd = -1;
    try {
      packetFd = await openPacketSocket(session);
      const c = new DatapathCase(session, opts.iotlb, packetFd);
      await c.#setUp(opts.features);
      return c;
    } catch (e) {
      if (packetFd >= 0) await ctx.machine.agent.closeFd(packetFd);
      await session.close();
      throw e;
    }
  }

  get #agent() {
    return this.session.guest.agent;
  }

  async #must(what: string, p: Promise<{ kind: string; errno?: string }>): Promise<void> {
    const a = await p;
    if (a.kind !== 'ok') throw new Error(`setting up the data path: ${what}: ${a.kind === 'error' ? a.errno : a.kind}`);
  }

  #ring(vq: number, part: 'desc' | 'avail' | 'used'): bigint {
    const off = RING_AT[vq]![part];
    return this.iotlb ? IOVA_RING + off : this.session.windowBase + off;
  }

  async #setUp(features: bigint): Promise<void> {
    const s = this.session;
    const ans = (r: Parameters<VhostNetSession['answer']>[0]) => s.answer(r, 0);
    await this.#must('SET_OWNER', ans({ op: 'setOwner' }));
    await this.#must('SET_FEATURES', ans({ op: 'setFeatures', features: features | (this.iotlb ? 1n << 33n : 1n << 26n) }));
    if (this.iotlb) {
      await this.#must('SET_BACKEND_FEATURES', ans({ op: 'setBackendFeatures', features: 1n << 1n }));
      await this.#must('SET_MEM_TABLE', ans({ op: 'setMemTable', padding: 0, regions: [] }));
      await this.#must('ring UPDATE', this.#update(IOVA_RING, 0x2000n, s.windowBase, 3));
      for (let p = 0; p < BUF_PAGES; p++) await this.#must(`page ${p} UPDATE`, this.#update(DA_BUF + BigInt(p * PAGE), BigInt(PAGE), s.windowBase + backing(p), 3));
    } else {
      await this.#must('SET_LOG_BASE', ans({ op: 'setLogBase', base: s.windowBase + LOG_AT }));
      const regions = Array.from({ length: BUF_PAGES }, (_, p) => ({ gpa: DA_BUF + BigInt(p * PAGE), size: BigInt(PAGE), uaddr: s.windowBase + backing(p) }));
      await this.#must('SET_MEM_TABLE', ans({ op: 'setMemTable', padding: 0, regions }));
    }
    for (const vq of [RX, TX]) {
      await this.#must('SET_VRING_NUM', ans({ op: 'setVringNum', index: vq, num: RING_NUM }));
      await this.#must('SET_VRING_BASE', ans({ op: 'setVringBase', index: vq, num: 0 }));
      await this.#must('SET_VRING_ADDR', ans({ op: 'setVringAddr', index: vq, flags: 0, desc: this.#ring(vq, 'desc'), avail: this.#ring(vq, 'avail'), used: this.#ring(vq, 'used'), log: 0n }));
      for (const which of ['kick', 'call', 'err'] as const) await this.#must(`SET_VRING_${which.toUpperCase()}`, ans({ op: 'setVringFile', which, index: vq, unbind: false }));
      await this.#must('VHOST_NET_SET_BACKEND', ans({ op: 'setBackend', index: vq, attach: true }));
    }
  }

  #update(iova: bigint, size: bigint, uaddr: bigint, perm: number) {
    return this.#iotlbWrite(VHOST_IOTLB_UPDATE, iova, size, uaddr, perm);
  }

  async #iotlbWrite(type: number, iova: bigint, size: bigint, uaddr: bigint, perm: number): Promise<{ kind: string; errno?: string }> {
    const bytes = encode(vhost_msg_v2, { type: VHOST_IOTLB_MSG_V2, asid: 0, iotlb_iova: iova, iotlb_size: size, iotlb_uaddr: uaddr, iotlb_perm: perm, iotlb_type: type });
    const a = await this.session.answer({ op: 'iotlbWrite', bytes }, 0);
    return a.kind === 'ok' && a.ret !== vhost_msg_v2.size ? { kind: 'error', errno: `wrote ${a.ret}` } : a;
  }

  /** The window offset of device address `da` in buffer memory, or null outside it. */
  #windowOf(da: bigint): bigint | null {
    const rel = da - DA_BUF;
    if (rel < 0n || rel >= BigInt(BUF_PAGES * PAGE)) return null;
    return backing(Number(rel / BigInt(PAGE))) + (rel % BigInt(PAGE));
  }

  /** Writes or reads `len` bytes at device address `da` piece by piece (page by page). */
  async #memAt(da: bigint, data: Uint8Array | number): Promise<Buffer> {
    const len = typeof data === 'number' ? data : data.length;
    const out: Buffer[] = [];
    let done = 0;
    while (done < len) {
      const at = da + BigInt(done);
      const w = this.#windowOf(at);
      if (w === null) throw new Error(`device address ${hex(at)} is outside the buffer pages`);
      const n = Math.min(len - done, PAGE - Number(at % BigInt(PAGE)));
      const addr = this.session.windowBase + w;
      if (typeof data === 'number') {
        const r = replyOf(await this.#agent.memRead(addr, n), 'memRead');
        if (r.result < 0) throw new Error(`memRead: ${errnoName(r.result)}`);
        out.push(r.body);
      } else {
        replyOf(await this.#agent.memWrite(addr, data.subarray(done, done + n)), 'memWrite');
      }
      done += n;
    }
    return Buffer.concat(out);
  }

  /** How a device-address range translates for `access`, from the pages' permissions (or the memory table: every page). */
  #translate(addr: bigint, len: number, access: 1 | 2): Translation {
    for (let at = addr; at < addr + BigInt(len); ) {
      const rel = at - DA_BUF;
      if (rel < 0n || rel >= BigInt(BUF_PAGES * PAGE)) return { kind: 'gap', at };
      const p = Number(rel / BigInt(PAGE));
      if (this.#perm[p] === 0) return { kind: 'gap', at };
      if ((this.#perm[p]! & access) !== access) return { kind: 'denied', at };
      at = DA_BUF + BigInt((p + 1) * PAGE);
    }
    return { kind: 'ok' };
  }

  /** Lays the chain out: the ring's descriptors from index 0, indirect tables, and the buffers a TX chain carries. */
  #layout(step: Extract<DataStep, { op: 'tx' | 'rx' }>): { table: Desc[]; tables: Map<bigint, Desc[]>; tableBytes: { at: bigint; bytes: Buffer }[]; bufs: BufSpec[] } {
    const table: Desc[] = [];
    const tables = new Map<bigint, Desc[]>();
    const tableBytes: { at: bigint; bytes: Buffer }[] = [];
    const bufs: BufSpec[] = [];
    const flag = (b: BufSpec) => (b.write ? VRING_DESC_F_WRITE : 0);
    step.parts.forEach((p: ChainPart, i) => {
      const more = i < step.parts.length - 1 ? VRING_DESC_F_NEXT : 0;
      if (p.kind === 'buf') {
        table.push({ addr: bufAddr(p), len: p.len, flags: flag(p) | more, next: i + 1 });
        bufs.push(p);
        return;
      }
      const entries: Desc[] = p.entries.map((e, j) => ({ addr: bufAddr(e), len: e.len, flags: flag(e) | (j < p.entries.length - 1 ? VRING_DESC_F_NEXT : 0), next: j + 1 }));
      bufs.push(...p.entries);
      if (p.flaw === 'nested') entries[0] = { ...entries[0]!, flags: entries[0]!.flags | VRING_DESC_F_INDIRECT };
      if (p.flaw === 'run-on') entries[entries.length - 1] = { ...entries.at(-1)!, flags: entries.at(-1)!.flags | VRING_DESC_F_NEXT, next: entries.length };
      const at = bufAddr(p);
      const bytes = descBytes(entries);
      // run-on: what follows the table in memory is read as one more entry; make it an ordinary readable one so only the count decides.
      const len = bytes.length + (p.flaw === 'odd-len' ? 8 : 0);
      tables.set(at, entries);
      tableBytes.push({ at, bytes: p.flaw === 'run-on' ? Buffer.concat([bytes, descBytes([{ addr: bufAddr({ page: 0, off: 0 }), len: 16, flags: 0, next: 0 }])]) : bytes });
      table.push({ addr: at, len, flags: VRING_DESC_F_INDIRECT | more, next: i + 1 });
    });
    const last = table.length - 1;
    if (step.hostile === 'next') table[last] = { ...table[last]!, flags: table[last]!.flags | VRING_DESC_F_NEXT, next: RING_NUM };
    if (step.hostile === 'loop') table[last] = { ...table[last]!, flags: table[last]!.flags | VRING_DESC_F_NEXT, next: 0 };
    return { table, tables, tableBytes, bufs };
  }

  #memory(table: readonly Desc[], tables: ReadonlyMap<bigint, Desc[]>): ChainMemory {
    const padded = [...table, ...Array.from({ length: RING_NUM - table.length }, () => ({ addr: 0n, len: 0, flags: 0, next: 0 }))];
    return { table: padded, indirect: (addr) => tables.get(addr), translate: (a, l, x) => this.#translate(a, l, x), iotlb: this.iotlb };
  }

  async exec(k: KernelStep): Promise<readonly KernelObservation[]> {
    const step = k as DataStep;
    if (step.op === 'perm') return this.#remap(step);
    return this.#chain(step);
  }

  async #remap(step: Extract<DataStep, { op: 'perm' }>): Promise<KernelObservation[]> {
    if (!this.iotlb) return [];
    const iova = DA_BUF + BigInt(step.page * PAGE);
    const out: KernelObservation[] = [];
    const judgeWrite = (requirement: string, a: { kind: string; errno?: string }, what: string) =>
      out.push({ requirement, verdict: a.kind === 'ok' ? 'PASS' : violation(requirement), detail: `${what}: ${a.kind === 'ok' ? 'sizeof(vhost_msg_v2)' : (a.errno ?? a.kind)}`, trigger: `kernel:perm/${a.kind === 'ok' ? 'ok' : (a.errno ?? a.kind)}` });
    // Replace, never overlap: vhost.h leaves overlapping UPDATEs undefined.
    judgeWrite('vhost.iotlb.invalidate-removes', await this.#iotlbWrite(VHOST_IOTLB_INVALIDATE, iova, BigInt(PAGE), 0n, 0), `INVALIDATE page ${step.page}`);
    this.#perm[step.page] = 0;
    this.#invalidated.add(step.page);
    if (step.perm) {
      judgeWrite('vhost.iotlb.msg-v2', await this.#update(iova, BigInt(PAGE), this.session.windowBase + backing(step.page), step.perm), `UPDATE page ${step.page} perm ${step.perm}`);
      this.#perm[step.page] = step.perm;
      this.#invalidated.delete(step.page);
      if (step.perm === 3) this.#answered.add(step.page);
    }
    return out;
  }

  #frame(len: number): Buffer {
    const tag = ++this.#tag;
    const f = Buffer.alloc(len);
    f.fill(0xff, 0, 6);
    f.set([0x02, 0, 0, 0, (tag >> 8) & 0xff, tag & 0xff], 6);
    f.writeUInt16BE(ETH_P_VHOSTCHECK, 12);
    for (let i = 14; i < len; i++) f[i] = (tag * 31 + i * 7) & 0xff;
    return f;
  }

  async #chain(step: Extract<DataStep, { op: 'tx' | 'rx' }>): Promise<KernelObservation[]> {
    const vq = step.op === 'tx' ? TX : RX;
    const ring = this.#rings[vq]!;
    const { table, tables, tableBytes, bufs } = this.#layout(step);
    const frame = this.#frame(step.frameLen);
    const payload = Buffer.concat([Buffer.alloc(VNET_HDR), frame]);
    // TX: the suite's bytes go into the readable buffers, in chain order. RX: writable buffers are filled with a canary.
    let at = 0;
    for (const b of bufs) {
      if (b.page >= BUF_PAGES) continue; // GAP_PAGE: no memory behind it
      if (step.op === 'tx' && !b.write) {
        await this.#memAt(bufAddr(b), payload.subarray(at, at + b.len));
        at += b.len;
      } else if (step.op === 'rx' && b.write) await this.#memAt(bufAddr(b), Buffer.alloc(b.len, 0xee));
    }
    for (const t of tableBytes) await this.#memAt(t.at, t.bytes);
    const base = this.session.windowBase;
    replyOf(await this.#agent.memWrite(base + RING_AT[vq]!.desc, descBytes(table)), 'memWrite desc');
    const head = step.hostile === 'head' ? RING_NUM + (this.#tag % 2 ? 0 : 0xffff - RING_NUM) : 0;
    const slot = Buffer.alloc(2);
    slot.writeUInt16LE(head);
    replyOf(await this.#agent.memWrite(base + RING_AT[vq]!.avail + 4n + BigInt(2 * (ring.avail % RING_NUM)), slot), 'memWrite avail ring');
    const idx = Buffer.alloc(2);
    idx.writeUInt16LE((ring.avail + (step.hostile === 'runaway' ? RING_NUM + 1 : 1)) & 0xffff);
    replyOf(await this.#agent.memWrite(base + RING_AT[vq]!.avail + 2n, idx), 'memWrite avail idx');
    ring.avail++;
    if (!this.iotlb) replyOf(await this.#agent.memWrite(base + LOG_AT, Buffer.alloc(LOG_BYTES)), 'clear the log');

    const mem = this.#memory(table, tables);
    // vhost_get_avail_idx(): more than num new heads is "Invalid available index change".
    let expect: ChainOutcome = step.hostile === 'runaway' ? { kind: 'refuse', requirement: 'vhost.desc.avail-runaway', why: `avail idx ${RING_NUM + 1} ahead of the last seen` } : walkChain(mem, RING_NUM, head);
    await this.session.kick(vq);
    if (step.op === 'rx') replyOf(await this.#agent.write(this.packetFd, frame), 'send a frame to the tap');

    const out: KernelObservation[] = [];
    let resumed = false;
    // Device IOTLB: each miss is read, answered with an UPDATE of its page, and the ring must go on by itself.
    for (let n = 0; expect.kind === 'miss' && n < BUF_PAGES; n++) {
      const page = Number((expect.iova - DA_BUF) / BigInt(PAGE));
      const req = this.#invalidated.has(page) ? 'vhost.iotlb.invalidate-removes' : expect.requirement;
      const msg = await this.#nextMiss();
      if (msg.kind !== 'ok' || msg.ret !== 72) {
        out.push({ requirement: 'vhost.iotlb.miss-on-unmapped', verdict: violation('vhost.iotlb.miss-on-unmapped', 'hang'), detail: `no MISS for ${hex(expect.iova)} within ${MISS_WAIT_MS} ms (${msg.kind === 'error' ? msg.errno : msg.kind})`, trigger: `kernel:${step.op}/no-miss`, expected: [`a MISS for ${hex(expect.iova)}`] });
        await this.#resync(vq);
        return out;
      }
      const got = { iova: Buffer.from(msg.out).readBigUInt64LE(8), perm: msg.out[32]!, type: msg.out[33]! };
      const right = got.type === 1 && got.iova === expect.iova && (got.perm & expect.access) === expect.access;
      out.push({ requirement: 'vhost.iotlb.miss-on-unmapped', verdict: right ? 'PASS' : violation('vhost.iotlb.miss-on-unmapped'), detail: `MISS type ${got.type} iova ${hex(got.iova)} perm ${got.perm}, expected iova ${hex(expect.iova)} perm ${expect.access}`, trigger: `kernel:${step.op}/miss` });
      if (req !== expect.requirement) out.push({ requirement: req, verdict: 'PASS', detail: `page ${page} invalidated earlier: the device asked for it again`, trigger: `kernel:${step.op}/miss` });
      if (!right) {
        await this.#resync(vq);
        return out;
      }
      const a = await this.#update(DA_BUF + BigInt(page * PAGE), BigInt(PAGE), base + backing(page), 3);
      if (a.kind !== 'ok') throw new Error(`UPDATE of page ${page} after a miss: ${a.errno ?? a.kind}`);
      this.#perm[page] = 3;
      this.#invalidated.delete(page);
      this.#answered.add(page);
      resumed = true;
      expect = walkChain(mem, RING_NUM, head);
    }
    out.push(...(await this.#settle(step, vq, head, expect, frame, bufs, resumed)));
    return out;
  }

  /**
   * The next MISS, skipping duplicates for pages already mapped again: the kernel queues one miss per
   * attempt (a kick, the tap's wakeup), so a second one for the same page can be queued before the
   * UPDATE that answers the first.
   */
  async #nextMiss(): Promise<Awaited<ReturnType<VhostNetSession['answer']>>> {
    for (;;) {
      const msg = await this.session.answer({ op: 'iotlbRead', length: 72 }, MISS_WAIT_MS);
      if (msg.kind !== 'ok' || msg.ret !== 72) return msg;
      const page = Number((Buffer.from(msg.out).readBigUInt64LE(8) - DA_BUF) / BigInt(PAGE));
      if (!(this.#answered.has(page) && this.#perm[page] === 3)) return msg;
    }
  }

  /** Waits for the ring to take or refuse the chain and judges what happened to the data. */
  async #settle(step: Extract<DataStep, { op: 'tx' | 'rx' }>, vq: number, head: number, expect: ChainOutcome, frame: Buffer, bufs: readonly BufSpec[], resumed: boolean): Promise<KernelObservation[]> {
    const [, callFd, errFd] = this.session.eventfds[vq]!;
    const ring = this.#rings[vq]!;
    const out: KernelObservation[] = [];
    const take = expect.kind === 'take';
    const requirement = take ? (resumed ? 'vhost.iotlb.update-resumes' : 'vhost.iotlb.translate-whole-range') : expect.kind === 'refuse' ? expect.requirement : 'vhost.iotlb.miss-on-unmapped';
    await this.#agent.eventfdWait(take ? callFd : errFd, take ? TAKE_WAIT_MS : REFUSE_WAIT_MS);
    const used = replyOf(await this.#agent.memRead(this.session.windowBase + RING_AT[vq]!.used, 4 + 8 * RING_NUM), 'memRead used').body;
    const usedIdx = used.readUInt16LE(2);
    const advanced = (usedIdx - ring.used) & 0xffff;
    const elem = { id: used.readUInt32LE(4 + 8 * (ring.used % RING_NUM)), len: used.readUInt32LE(8 + 8 * (ring.used % RING_NUM)) };
    ring.used = usedIdx;
    const trig = (what: string) => `kernel:${step.op}/${what}`;
    const data = step.op === 'tx' ? await this.#sentFrame(frame, take ? TAKE_WAIT_MS : QUIET_MS) : await this.#received(bufs, frame);
    if (take) {
      const problems: { why: string; harm: Harm }[] = [];
      if (advanced !== 1) problems.push({ why: `used idx moved by ${advanced}, not 1`, harm: advanced === 0 ? 'hang' : 'corruption' });
      else {
        if (elem.id !== head) problems.push({ why: `used id ${elem.id}, the head was ${head}`, harm: 'corruption' });
        const written = step.op === 'rx' ? VNET_HDR + frame.length : 0;
        if (elem.len !== written) problems.push({ why: `used len ${elem.len}, ${written} bytes were written`, harm: elem.len > written ? 'corruption' : 'deviation' });
      }
      if (data !== 'same') problems.push({ why: data, harm: 'corruption' });
      const worst = problems.find((p) => p.harm !== 'deviation') ?? problems[0];
      out.push({
        requirement,
        verdict: worst ? violation(requirement, worst.harm) : 'PASS',
        detail: worst ? `${formatShort(step)}: ${problems.map((p) => p.why).join('; ')}` : `${step.op} of ${frame.length} bytes over ${bufs.length} buffers arrived whole`,
        trigger: trig(worst ? 'wrong' : 'taken'),
        expected: ['taken: used +1 with the head, the frame whole'],
      });
      if (!this.iotlb) out.push(await this.#logBound(step, bufs, frame));
      if (worst) await this.#resync(vq);
      return out;
    }
    // A refusal: nothing consumed, nothing delivered (vq_err() stops the ring; the err eventfd may say so).
    const moved = advanced !== 0 || data === 'same';
    const harm: Harm = expect.kind === 'refuse' && expect.requirement === 'vhost.desc.out-after-in' ? 'deviation' : 'memory-safety';
    out.push({
      requirement,
      verdict: moved ? violation(requirement, harm) : 'PASS',
      detail: moved ? `${formatShort(step)}: ${expect.kind === 'refuse' ? expect.why : 'a miss was due'}, yet the ring consumed it (used +${advanced}, data ${data === 'same' ? 'delivered' : 'not delivered'})` : expect.kind === 'refuse' ? `refused: ${expect.why}` : 'waiting for a translation',
      trigger: trig(moved ? 'taken' : 'refused'),
      expected: [expect.kind === 'refuse' ? `refused (${expect.why})` : 'a MISS'],
    });
    await this.#resync(vq);
    return out;
  }

  /** TX: the frame read back from the packet socket, 'same' when it arrived unchanged. */
  async #sentFrame(frame: Buffer, waitMs: number): Promise<string> {
    for (let tries = 0; tries < 4; tries++) {
      const r = replyOf(await this.#agent.read(this.packetFd, 2048, waitMs), 'read the packet socket');
      if (r.result < 0) return errnoName(r.result) === 'ETIMEDOUT' ? 'the frame never reached the tap' : `reading the packet socket: ${errnoName(r.result)}`;
      // Frames of earlier steps (tags differ) are left behind by a ring that took a chain late.
      if (r.body.subarray(6, 12).equals(frame.subarray(6, 12))) return r.body.equals(frame) ? 'same' : `the frame arrived changed (${r.body.length} bytes, first difference at ${firstDiff(r.body, frame)})`;
    }
    return 'the frame never reached the tap';
  }

  /** RX: the writable buffers read back, 'same' when they hold the header space and the frame, in chain order. */
  async #received(bufs: readonly BufSpec[], frame: Buffer): Promise<string> {
    const parts: Buffer[] = [];
    for (const b of bufs.filter((x) => x.write && x.page < BUF_PAGES)) parts.push(await this.#memAt(bufAddr(b), b.len));
    const got = Buffer.concat(parts);
    const body = got.subarray(VNET_HDR, VNET_HDR + frame.length);
    if (body.equals(frame)) return 'same';
    if (body.every((v) => v === 0xee)) return 'the buffers were not written';
    return `the RX buffers hold something else (first difference at ${firstDiff(body, frame)})`;
  }

  /** vhost.log.bound: after the step, only pages the device wrote are marked in the dirty log. */
  async #logBound(step: Extract<DataStep, { op: 'tx' | 'rx' }>, bufs: readonly BufSpec[], frame: Buffer): Promise<KernelObservation> {
    const log = replyOf(await this.#agent.memRead(this.session.windowBase + LOG_AT, LOG_BYTES), 'memRead log').body;
    const allowed = new Set<number>();
    if (step.op === 'rx') {
      let left = VNET_HDR + frame.length;
      for (const b of bufs.filter((x) => x.write)) {
        const n = Math.min(left, b.len);
        if (n > 0) for (let a = bufAddr(b); a < bufAddr(b) + BigInt(n); a = (a / BigInt(PAGE) + 1n) * BigInt(PAGE)) allowed.add(Number(a / BigInt(PAGE)));
        left -= n;
      }
    }
    const extra: number[] = [];
    let marked = 0;
    for (let byte = 0; byte < LOG_BYTES; byte++)
      for (let bit = 0; bit < 8; bit++) {
        if (!(log[byte]! & (1 << bit))) continue;
        marked++;
        if (!allowed.has(byte * 8 + bit)) extra.push(byte * 8 + bit);
      }
    const requirement = 'vhost.log.bound';
    return {
      requirement,
      verdict: extra.length ? violation(requirement) : 'PASS',
      detail: extra.length ? `pages ${extra.map((p) => hex(p * PAGE)).join(', ')} logged dirty, the device wrote only ${[...allowed].map((p) => hex(p * PAGE)).join(', ') || 'nothing'}` : `${marked} page(s) logged, all among the ${allowed.size} written`,
      trigger: `kernel:${step.op}/log`,
    };
  }

  /** After a refusal or a wrong answer: stop the ring, move its base past what was published, drain the tap, start it again. */
  async #resync(vq: number): Promise<void> {
    const s = this.session;
    const ring = this.#rings[vq]!;
    await this.#must('detach', s.answer({ op: 'setBackend', index: vq, attach: false }, 0));
    const idx = Buffer.alloc(2);
    idx.writeUInt16LE(ring.avail & 0xffff);
    replyOf(await this.#agent.memWrite(s.windowBase + RING_AT[vq]!.avail + 2n, idx), 'memWrite avail idx');
    await this.#must('SET_VRING_BASE', s.answer({ op: 'setVringBase', index: vq, num: ring.avail & 0xffff }, 0));
    const [, callFd, errFd] = s.eventfds[vq]!;
    await this.#agent.eventfdWait(errFd, 0);
    await this.#agent.eventfdWait(callFd, 0);
    for (let n = 0; n < RING_NUM * 2; n++) {
      const r = replyOf(await this.#agent.read(s.net.tapFd, 2048, 0), 'drain the tap');
      if (r.result < 0) break;
    }
    const used = replyOf(await this.#agent.memRead(s.windowBase + RING_AT[vq]!.used + 2n, 2), 'memRead used idx').body;
    ring.used = used.readUInt16LE(0);
    await this.#must('re-attach', s.answer({ op: 'setBackend', index: vq, attach: true }, 0));
  }

  async finish(): Promise<readonly KernelObservation[]> {
    return [];
  }

  async close(): Promise<void> {
    if (!this.#agent.crash) await this.#agent.closeFd(this.packetFd);
    await this.session.close();
  }
}

function firstDiff(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

function formatShort(step: DataStep): string {
  return step.op === 'perm' ? 'perm' : `${step.op} ${step.frameLen}`;
}

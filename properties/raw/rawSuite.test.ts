// The raw suite against a real back-end (qemu-storage-daemon's
// vhost-user-blk export, libvhost-user inside) and the classification on
// hand-built replies. No fake back-end: what a hostile frame does to a
// real peer is the point.
import { afterAll, describe, expect, it } from 'vitest';
import type { Health } from '../../implementations/target.ts';
import { QSD_PATH } from '../../implementations/vhost-user/peers/qsd.ts';
import { peerInstalled } from '../../implementations/vhost-user/peers/peerInstalled.ts';
import { fdCount } from '../../native/index.ts';
import { targetFactory } from '../../runner/targets.ts';
import { parseTargetSpec } from '../../runner/targetSpec.ts';
import type { Reply } from '../../spec/requests.ts';
import { encodeFrame, VHOST_USER_REPLY_MASK, VHOST_USER_VERSION } from '../../spec/vhostUser/frame.ts';
import * as M from '../../spec/vhostUser/messages.ts';
import { seedCases, type RawCase } from './rawCases.ts';
import { classify, runRawSuite, type RawCaseResult } from './rawSuite.ts';

const ALIVE: Health = { state: 'alive' };
const SILENCE: Reply = { ok: true };

const seeds = seedCases(1);
const seed = (description: string): RawCase => {
  const c = seeds.find((s) => s.description === description);
  if (!c) throw new Error(`no seed '${description}'`);
  return c;
};
const ack = (code: number, value: bigint): Reply => {
  const p = Buffer.alloc(8);
  p.writeBigUInt64LE(value);
  return { ok: true, value: encodeFrame(code, VHOST_USER_VERSION | VHOST_USER_REPLY_MASK, p) };
};

describe('classify', () => {
  const outOfRange = seed('SET_VRING_NUM index 0xffff');
  const dubious = seed('SET_VRING_ADDR index 0 before SET_MEM_TABLE');

  it('accepts an error ack, a closed connection and silence as refusals', () => {
    expect(classify(outOfRange, ack(M.VHOST_USER_SET_VRING_NUM, 1n), ALIVE, true)).toMatchObject({ outcome: 'error-ack', verdict: 'PASS' });
    expect(classify(outOfRange, { closed: true }, ALIVE, true)).toMatchObject({ outcome: 'closed', verdict: 'PASS' });
    expect(classify(outOfRange, SILENCE, ALIVE, true)).toMatchObject({ outcome: 'silence', verdict: 'PASS' });
    expect(classify(outOfRange, { timeout: true }, ALIVE, true)).toMatchObject({ outcome: 'silence', verdict: 'PASS' });
  });

  it('fails a success ack to an out-of-range vring index, but not to a merely dubious frame', () => {
    expect(classify(outOfRange, ack(M.VHOST_USER_SET_VRING_NUM, 0n), ALIVE, true)).toMatchObject({
      outcome: 'success-ack',
      verdict: 'FAIL',
      requirement: 'vhost-user.robust.vring-index-range',
    });
    expect(classify(dubious, ack(M.VHOST_USER_SET_VRING_ADDR, 0n), ALIVE, true)).toMatchObject({ outcome: 'success-ack', verdict: 'PASS' });
    // need_reply means nothing before REPLY_ACK is negotiated: its 0 proves nothing.
    expect(classify(outOfRange, ack(M.VHOST_USER_SET_VRING_NUM, 0n), ALIVE, false)).toMatchObject({ verdict: 'INFORMATIONAL' });
  });

  it('fails a normal reply to GET_VRING_BASE of a ring that does not exist', () => {
    const c = seed('GET_VRING_BASE index 0xffff');
    const reply = encodeFrame(M.VHOST_USER_GET_VRING_BASE, VHOST_USER_VERSION | VHOST_USER_REPLY_MASK, Buffer.alloc(8));
    expect(classify(c, { ok: true, value: reply }, ALIVE, true)).toMatchObject({ outcome: 'reply', verdict: 'FAIL' });
  });

  it('fails replies that break the reply framing, under the framing requirement', () => {
    const noReplyBit = { ok: true as const, value: encodeFrame(M.VHOST_USER_SET_VRING_NUM, VHOST_USER_VERSION, Buffer.alloc(8)) };
    expect(classify(outOfRange, noReplyBit, ALIVE, true)).toMatchObject({ verdict: 'FAIL', requirement: 'vhost-user.reply.header-flags' });
    expect(classify(outOfRange, ack(M.VHOST_USER_GET_FEATURES, 1n), ALIVE, true)).toMatchObject({ verdict: 'FAIL', requirement: 'vhost-user.reply.request-echo' });
  });

  it('reports CRASH when the back-end died, whatever the wire said, and TIMEOUT when it hung', () => {
    const segv: Health = { state: 'exited', code: null, signal: 'SIGSEGV' };
    expect(classify(outOfRange, { closed: true }, segv, true)).toMatchObject({ outcome: 'closed', verdict: 'CRASH', requirement: 'vhost-user.robust.vring-index-range' });
    expect(classify(dubious, ack(M.VHOST_USER_SET_VRING_ADDR, 0n), { state: 'exited', code: 1, signal: null }, true)).toMatchObject({ verdict: 'CRASH' });
    expect(classify(outOfRange, SILENCE, { state: 'hung' }, true)).toMatchObject({ verdict: 'TIMEOUT' });
    // A session-only target reports its closed socket as an exit without code or signal: not a death.
    expect(classify(outOfRange, { closed: true }, { state: 'exited', code: null, signal: null }, true)).toMatchObject({ verdict: 'PASS' });
  });
});

const haveQsd = peerInstalled(QSD_PATH, 'qemu-system-common', 'raw suite qsd tests');

describe.skipIf(!haveQsd)('raw suite against qemu-storage-daemon', () => {
  const factory = targetFactory(parseTargetSpec('vhost-user:spawn=qsd-blk'));
  afterAll(() => factory.dispose());

  it('reports the known qsd 7.2 crashes on vring index 0xffff as CRASH, and closes every session', async () => {
    // The daemon's own pipes are counted from the start: bring it up first.
    await (await factory.open()).close();
    const fdsBefore = fdCount();
    const { cases, observations } = await runRawSuite(() => factory.open(), { seed: 1, runs: 4 });
    expect(cases).toHaveLength(seeds.length + 4);
    const byDescription = (d: string): RawCaseResult => cases.find((c) => c.frame.description === d)!;
    // libvhost-user (QEMU 7.2) indexes dev->vq[] with the unchecked 32-bit index in these handlers.
    for (const msg of ['SET_VRING_NUM', 'SET_VRING_BASE', 'SET_VRING_ADDR', 'GET_VRING_BASE']) {
      const r = byDescription(`${msg} index 0xffff`);
      expect(r, msg).toMatchObject({ verdict: 'CRASH', requirement: 'vhost-user.robust.vring-index-range' });
      expect(observations).toContainEqual({ requirement: 'vhost-user.robust.survives', verdict: 'CRASH', detail: expect.stringContaining(`after: ${msg} index 0xffff`), trigger: 'raw:vring-index/crash' });
    }
    // Refusals the daemon does make: an impossible size closes the connection, a short frame is waited on.
    expect(byDescription('GET_FEATURES header size 0xffffffff')).toMatchObject({ outcome: 'closed', verdict: 'PASS' });
    expect(byDescription('first 11 of the 12 header bytes of GET_FEATURES')).toMatchObject({ outcome: 'silence', verdict: 'PASS' });
    expect(cases.every((c) => c.verdict !== 'ERROR')).toBe(true);
    // Every session (and every eventfd sent along) was released.
    expect(fdCount()).toBe(fdsBefore);
  }, 120_000);

  it('stops between cases once the signal is aborted', async () => {
    const ac = new AbortController();
    ac.abort();
    expect(await runRawSuite(() => factory.open(), { seed: 1, runs: 0, signal: ac.signal })).toEqual({ observations: [], cases: [] });
  });
});

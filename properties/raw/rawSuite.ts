// The raw-message robustness suite for socket targets (vhost-user). Each
// hostile frame (rawCases.ts) goes to a fresh session, after the front-end
// handshake, through Target.sendRaw. What comes back — an error, a closed
// connection, silence — is judged, then the back-end's survival: its process
// status and whether a new session still answers GET_FEATURES
// (vhost-user.robust.survives). Same seed, same frames, same order.
import fc from 'fast-check';
import { crashed, type Health, lastLogNote, type Target, type TargetInfo } from '../../implementations/target.ts';
import type { Reply } from '../../spec/requests.ts';
import type { Verdict } from '../../spec/verdicts.ts';
import { bit, VIRTIO_F_VERSION_1 } from '../../spec/virtio/features.ts';
import { decodePayload, VHOST_USER_HEADER, VHOST_USER_NEED_REPLY_MASK, VHOST_USER_REPLY_MASK, VHOST_USER_VERSION, VHOST_USER_VERSION_MASK } from '../../spec/vhostUser/frame.ts';
import { messageSpec } from '../../spec/vhostUser/messages.ts';
import { PROTOCOL_FEATURES, VHOST_USER_F_PROTOCOL_FEATURES } from '../../spec/vhostUser/protocolFeatures.ts';
import type { Observation } from '../oracles/observation.ts';
import { rawCaseArbitrary, seedCases, type RawCase } from './rawCases.ts';

const SURVIVES = 'vhost-user.robust.survives';
const REPLY_ACK = bit(PROTOCOL_FEATURES.REPLY_ACK.bit);
/** How long to wait, after a closed connection, for a dying back-end's exit to be reported. */
const EXIT_SETTLE_MS = 100;

/** What the wire said. */
type Outcome = 'error-ack' | 'success-ack' | 'reply' | 'error-reply' | 'malformed-reply' | 'unexpected-reply' | 'closed' | 'silence';

export interface Judgement {
  readonly outcome: Outcome;
  readonly verdict: Verdict;
  /** The requirement judged: the case's own, or a reply-framing rule the reply itself broke. */
  readonly requirement: string;
  readonly detail: string;
}

export interface RawCaseResult {
  readonly frame: RawCase;
  /** The wire outcome, or `error` when the suite could not even run the case. */
  readonly outcome: Outcome | 'error';
  readonly verdict: Verdict;
  readonly requirement: string;
  readonly detail: string;
}

/** The back-end process ended. A session-only target reports exited with neither code nor signal once its socket closes: that is not a death. */
function died(h: Health, processPerSession = false): h is Extract<Health, { state: 'exited' }> {
  return crashed(h, { processPerSession } as TargetInfo);
}

const exitText = (h: Extract<Health, { state: 'exited' }>) => `${h.signal ? `killed by ${h.signal}` : `exited with code ${h.code}`}${lastLogNote(h)}`;

/**
 * Judges one hostile frame from the reply sendRaw gave and the back-end's
 * health afterwards. `replyAck`: REPLY_ACK was negotiated, so need_reply on
 * the frame obliged the back-end to answer 0 (success) or non-zero.
 */
export function classify(c: RawCase, reply: Reply, health: Health, replyAck: boolean, processPerSession = false): Judgement {
  const wire = classifyWire(c, reply, replyAck);
  if (died(health, processPerSession)) return { ...wire, verdict: 'CRASH', requirement: c.requirement, detail: `back-end ${exitText(health)} after: ${c.description} (${wire.outcome})` };
  if (health.state === 'hung') return { ...wire, verdict: 'TIMEOUT', requirement: c.requirement, detail: `back-end hung after: ${c.description}` };
  return wire;
}

function classifyWire(c: RawCase, reply: Reply, replyAck: boolean): Judgement {
  const judged = (outcome: Outcome, verdict: Verdict, detail: string, requirement = c.requirement): Judgement => ({ outcome, verdict, requirement, detail: `${c.description}: ${detail}` });
  // Refusing a hostile frame by error, hang-up or by ignoring it is what
  // vhost-user.robust.* ask for; sendRaw reports silence as ok with no bytes.
  if ('closed' in reply) return judged('closed', 'PASS', 'connection closed');
  if ('timeout' in reply) return judged('silence', 'PASS', 'no reply (send timed out)');
  if (!reply.ok) return judged('error-reply', 'PASS', `error ${reply.errno}`);
  if (!(reply.value instanceof Uint8Array)) return judged('silence', 'PASS', 'no reply');
  const bytes = Buffer.from(reply.value);
  const dump = bytes.toString('hex');
  const sent = Buffer.from(c.bytes, 'hex');
  const refused = (outcome: Outcome, what: string) =>
    c.mustRefuse ? judged(outcome, 'FAIL', `${what} to a frame that must be refused (reply ${dump})`) : judged(outcome, 'PASS', what);
  // A frame shorter than a header is no request at all: nothing may answer it.
  if (sent.length < VHOST_USER_HEADER.size) return refused('unexpected-reply', 'a reply');
  const request = sent.readUInt32LE(0);
  const needReply = (sent.readUInt32LE(4) & VHOST_USER_NEED_REPLY_MASK) !== 0;

  // "Header": a reply carries version 0x1 and the reply flag, and (de facto) the request it answers.
  const flags = bytes.readUInt32LE(4);
  if ((flags & VHOST_USER_VERSION_MASK) !== VHOST_USER_VERSION || (flags & VHOST_USER_REPLY_MASK) === 0) {
    return judged('malformed-reply', 'FAIL', `reply flags 0x${flags.toString(16)} lack version 1 or the reply bit (reply ${dump})`, 'vhost-user.reply.header-flags');
  }
  if (bytes.readUInt32LE(0) !== request) {
    return judged('malformed-reply', 'FAIL', `reply names request ${bytes.readUInt32LE(0)}, not ${request} (reply ${dump})`, 'vhost-user.reply.request-echo');
  }
  const payload = bytes.subarray(VHOST_USER_HEADER.size);
  const spec = messageSpec('frontend', request);
  if (spec?.reply.when === 'always') {
    try {
      const decoded = decodePayload(request, 'frontend', payload, { reply: true });
      // "VHOST_USER_GET_CONFIG": an empty payload reports an error.
      if (decoded.type === 'none' && spec.reply.emptyOnError) return judged('error-reply', 'PASS', 'empty reply (error)');
      return refused('reply', 'a normal reply');
    } catch (e) {
      return judged('malformed-reply', 'FAIL', `undecodable reply: ${(e as Error).message} (reply ${dump})`, 'vhost-user.reply.required');
    }
  }
  // "REPLY_ACK": with need_reply set the answer is a u64, zero for success.
  if (!needReply) return refused('unexpected-reply', 'a reply nobody asked for');
  if (payload.length !== 8) {
    return judged('malformed-reply', 'FAIL', `REPLY_ACK payload of ${payload.length} bytes, not a u64 (reply ${dump})`, 'vhost-user.reply-ack.reply');
  }
  const ack = payload.readBigUInt64LE(0);
  if (ack !== 0n) return judged('error-ack', 'PASS', `REPLY_ACK 0x${ack.toString(16)} (failure)`);
  // Without REPLY_ACK negotiated need_reply means nothing, so neither does the 0.
  if (!replyAck) return judged('success-ack', 'INFORMATIONAL', 'REPLY_ACK 0 although REPLY_ACK was not negotiated');
  return refused('success-ack', 'REPLY_ACK 0 (success)');
}

/** The front-end's opening moves as QEMU makes them, negotiating REPLY_ACK where offered; resolves to whether it was. */
async function handshake(t: Target): Promise<boolean> {
  const value = (r: Reply, what: string): bigint => {
    if ('ok' in r && r.ok && typeof r.value === 'bigint') return r.value;
    throw new Error(`handshake: ${what} failed (${JSON.stringify(r, (_, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v))})`);
  };
  const expectOk = (r: Reply, what: string) => {
    if (!('ok' in r && r.ok)) throw new Error(`handshake: ${what} failed`);
  };
  const features = value(await t.send({ op: 'getFeatures' }), 'GET_FEATURES');
  const pf = bit(VHOST_USER_F_PROTOCOL_FEATURES);
  let protocol = 0n;
  // "VHOST_USER_GET_PROTOCOL_FEATURES": only when GET_FEATURES offered bit 30.
  if (features & pf) {
    protocol = value(await t.send({ op: 'getProtocolFeatures' }), 'GET_PROTOCOL_FEATURES') & REPLY_ACK;
    expectOk(await t.send({ op: 'setProtocolFeatures', features: protocol }), 'SET_PROTOCOL_FEATURES');
  }
  expectOk(await t.send({ op: 'setOwner' }), 'SET_OWNER');
  // Bit 30 negotiated makes SET_VRING_ENABLE a message the back-end must know.
  expectOk(await t.send({ op: 'setFeatures', features: features & (pf | bit(VIRTIO_F_VERSION_1)) }), 'SET_FEATURES');
  return protocol !== 0n;
}

async function settle(t: Target): Promise<Health> {
  const deadline = Date.now() + EXIT_SETTLE_MS;
  let h = await t.health();
  while (h.state === 'alive' && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
    h = await t.health();
  }
  return h;
}

/** A new session that answers GET_FEATURES, or why not. */
async function probe(open: () => Promise<Target>): Promise<Reply | Error> {
  let t: Target;
  try {
    t = await open();
  } catch (e) {
    return e as Error;
  }
  try {
    return await t.send({ op: 'getFeatures' });
  } finally {
    await t.close();
  }
}

function survival(c: RawCase, health: Health, fresh: Reply | Error, processPerSession: boolean): Observation {
  const after = `after: ${c.description}`;
  if (died(health, processPerSession)) return { requirement: SURVIVES, verdict: 'CRASH', detail: `back-end ${exitText(health)} ${after}` };
  if (fresh instanceof Error) return { requirement: SURVIVES, verdict: 'FAIL', detail: `no new session ${after}: ${fresh.message}` };
  if ('timeout' in fresh) return { requirement: SURVIVES, verdict: 'TIMEOUT', detail: `GET_FEATURES on a new session timed out ${after}` };
  if (!('ok' in fresh && fresh.ok)) return { requirement: SURVIVES, verdict: 'FAIL', detail: `GET_FEATURES on a new session failed (${'closed' in fresh ? 'closed' : fresh.errno}) ${after}` };
  return { requirement: SURVIVES, verdict: 'PASS', detail: after };
}

/** One hostile frame on a fresh session, then a fresh-session probe: the verdicts for the case and for survival. */
export async function runRawCase(open: () => Promise<Target>, c: RawCase): Promise<{ result: RawCaseResult; observations: Observation[] }> {
  const error = (detail: string) => ({
    result: { frame: c, outcome: 'error' as const, verdict: 'ERROR' as const, requirement: c.requirement, detail },
    observations: [{ requirement: c.requirement, verdict: 'ERROR' as const, detail }],
  });
  let t: Target;
  try {
    t = await open();
  } catch (e) {
    return error(`${c.description}: cannot open a session: ${(e as Error).message}`);
  }
  if (!t.sendRaw) {
    await t.close();
    return error(`${c.description}: target ${t.info.name} has no raw transport`);
  }
  let reply: Reply;
  let replyAck: boolean;
  let health: Health;
  try {
    replyAck = await handshake(t);
    reply = await t.sendRaw({ bytes: Buffer.from(c.bytes, 'hex'), fds: c.fds });
    // Health is read before this session is closed: closing may itself end the back-end (a
    // daemon started per session is stopped then), which must not count against it. A crash
    // closes the socket a moment before the exit is reaped, so a closed reply waits for it.
    health = 'closed' in reply ? await settle(t) : await t.health();
  } catch (e) {
    await t.close();
    return error(`${c.description}: ${(e as Error).message}`);
  }
  await t.close();
  const fresh = await probe(open);
  const perSession = Boolean(t.info.processPerSession);
  const j = classify(c, reply, health, replyAck, perSession);
  return {
    result: { frame: c, outcome: j.outcome, verdict: j.verdict, requirement: j.requirement, detail: j.detail },
    // Trigger: the hostile frame's kind and what the wire (or, for survival, the back-end) did.
    observations: [{ requirement: j.requirement, verdict: j.verdict, detail: j.detail, trigger: `raw:${c.kind}/${j.verdict === 'CRASH' ? 'crash' : j.outcome}` }, { ...survival(c, health, fresh, perSession), trigger: `raw:${c.kind}/${died(health, perSession) ? 'crash' : 'fresh-session'}` }],
  };
}

/**
 * Runs every seed case, then `runs` generated ones (fast-check, `seed`), each
 * in a fresh session. `open` must give a new session per call (runner/targets.ts
 * targetFactory(...).open); the suite closes every session it opens.
 */
export async function runRawSuite(
  open: () => Promise<Target>,
  opts: { seed: number; runs: number; signal?: AbortSignal },
): Promise<{ observations: Observation[]; cases: RawCaseResult[] }> {
  const first = await open();
  const queues = first.info.queues;
  await first.close();
  const frames = [...seedCases(queues), ...(opts.runs > 0 ? fc.sample(rawCaseArbitrary(queues), { seed: opts.seed, numRuns: opts.runs }) : [])];
  const observations: Observation[] = [];
  const cases: RawCaseResult[] = [];
  for (const c of frames) {
    if (opts.signal?.aborted) break;
    const r = await runRawCase(open, c);
    cases.push(r.result);
    observations.push(...r.observations);
  }
  return { observations, cases };
}

// Derives the model's Profile from the target's own answers, probing as a well-behaved front-end
// would (vhost-user.rst "Front-end message types"): SET_OWNER ("issued when a new connection is
// established"), GET_FEATURES, and with VHOST_USER_F_PROTOCOL_FEATURES offered GET/SET_PROTOCOL_FEATURES
// (offered ∩ what this front-end implements). Only then what was negotiated: GET_QUEUE_NUM "only when
// VHOST_USER_PROTOCOL_F_MQ is set", GET_CONFIG "when VHOST_USER_PROTOCOL_F_CONFIG is negotiated". A
// device that answers less gets a smaller profile; one that answers nothing gets a verdict.
import type { Profile } from '../model/profile.ts';
import { crashed, lastLogNote, type Target, type TargetInfo } from '../implementations/target.ts';
import { FRONT_END_PROTOCOL_FEATURES } from '../properties/driver/protocolFeatures.ts';
import { MAX_DRIVEN_QUEUES } from '../properties/harness.ts';
import type { Observation } from '../properties/oracles/observation.ts';
import { formatRequest, type Reply, type ReplyValue, type VhostRequest } from '../spec/requests.ts';
import { virtio_blk_config } from '../spec/virtio/blk.ts';
import { hasFeature } from '../spec/virtio/features.ts';
import { virtio_net_config } from '../spec/virtio/net.ts';
import { VHOST_USER_F_PROTOCOL_FEATURES, VHOST_USER_PROTOCOL_F_CONFIG, VHOST_USER_PROTOCOL_F_MQ, VHOST_USER_PROTOCOL_F_RESET_DEVICE } from '../spec/vhostUser/protocolFeatures.ts';

/** GET_FEATURES and GET_PROTOCOL_FEATURES "always get a reply" (vhost-user.rst "Communication"): an unanswered probe is judged here. */
const REPLY_REQUIRED = 'vhost-user.reply.required';

function value(r: Reply): ReplyValue | undefined {
  return 'ok' in r && r.ok ? r.value : undefined;
}

/** What the probe learnt; `failure` when the target stopped answering before the profile was complete. */
export interface ProbeResult {
  readonly profile: Profile;
  /** The verdict on the probe message that went unanswered (TIMEOUT), or on a back-end that closed or died at it (CRASH). */
  readonly failure?: Observation;
}

class Unanswered extends Error {
  constructor(readonly observation: Observation) {
    super(observation.detail);
  }
}

/** Sends one probe message; a timeout, a closed connection or a dead process ends the probe with a verdict naming the message. */
async function ask(target: Target, req: VhostRequest): Promise<Reply> {
  const reply = await target.send(req);
  if ('timeout' in reply) throw new Unanswered({ requirement: REPLY_REQUIRED, verdict: 'TIMEOUT', detail: `${formatRequest(req)}, sent while probing the target, went unanswered` });
  if ('closed' in reply) {
    const h = await target.health();
    const how = crashed(h, target.info) ? `the back-end exited (code ${h.code}, signal ${h.signal})${lastLogNote(h)}` : 'the back-end closed the connection';
    throw new Unanswered({ requirement: REPLY_REQUIRED, verdict: 'CRASH', detail: `${how} at ${formatRequest(req)}, sent while probing the target` });
  }
  return reply;
}

/** The profile of a target that must answer the probe (a test's own): one that does not is an error here. */
export async function deriveProfile(target: Target): Promise<Profile> {
  const r = await probeSession(target);
  if (r.failure) throw new Error(`${target.info.name}: ${r.failure.detail}`);
  return r.profile;
}

export async function probeSession(target: Target): Promise<ProbeResult> {
  const base = smallestProfile(target.info);
  try {
    return { profile: await negotiate(target, base) };
  } catch (e) {
    if (e instanceof Unanswered) return { profile: base, failure: e.observation };
    throw e;
  }
}

/** The profile of a device that offered nothing: what the suite falls back to when the probe could not finish. */
function smallestProfile(info: TargetInfo): Profile {
  return {
    deviceType: info.deviceType,
    queues: Math.min(info.queues, MAX_DRIVEN_QUEUES),
    vringLimit: info.queues,
    maxQueueSize: info.maxQueueSize,
    offeredFeatures: 0n,
    offeredProtocolFeatures: 0n,
    configSize: 0,
    config: new Uint8Array(0),
    blkCapacitySectors: null,
    // A kernel RAM disk made for the session (vdpa_sim_blk on a fresh vdpa device) starts zeroed too (TargetInfo.freshDisk).
    blkFreshDisk: info.kind === 'simulated' || info.freshDisk === true,
    transport: info.kind === 'socket' ? 'vhost-user' : info.kind === 'kernel' ? 'ioctl' : 'in-process',
  };
}

async function negotiate(target: Target, base: Profile): Promise<Profile> {
  const info = target.info;
  await ask(target, { op: 'setOwner' });
  const features = value(await ask(target, { op: 'getFeatures' }));
  if (typeof features !== 'bigint') throw new Unanswered({ requirement: REPLY_REQUIRED, verdict: 'FAIL', detail: 'GET_FEATURES, sent while probing the target, was answered without a feature word' });
  let offeredProtocol = 0n;
  if (hasFeature(features, VHOST_USER_F_PROTOCOL_FEATURES)) {
    const p = value(await ask(target, { op: 'getProtocolFeatures' }));
    if (typeof p === 'bigint') offeredProtocol = p;
  }
  const protocol = offeredProtocol & FRONT_END_PROTOCOL_FEATURES;
  if (hasFeature(features, VHOST_USER_F_PROTOCOL_FEATURES)) await ask(target, { op: 'setProtocolFeatures', features: protocol });
  const q = hasFeature(protocol, VHOST_USER_PROTOCOL_F_MQ) ? value(await ask(target, { op: 'getQueueNum' })) : undefined;
  const reported = typeof q === 'number' && q > 0 ? q : 0;
  // A net device is driven on one queue pair whatever it reports; blk on as many request queues as both
  // sides know, and the suite lays out rings for (the others count towards vringLimit only).
  const known = info.deviceType === 'net' || reported === 0 ? info.queues : Math.min(reported, info.queues);
  const queues = Math.min(known, MAX_DRIVEN_QUEUES);
  // GET_QUEUE_NUM counts queue pairs for net in QEMU's reading, vrings in libvhost-user's: take the wider bound.
  const vringLimit = Math.max(known, info.deviceType === 'net' ? 2 * reported : reported);
  // Over ioctl the config space is always readable (VHOST_VDPA_GET_CONFIG); over vhost-user only with CONFIG negotiated.
  const config = hasFeature(protocol, VHOST_USER_PROTOCOL_F_CONFIG) || base.transport === 'ioctl' ? await readConfig(target) : new Uint8Array(0);
  // The capacity is known only from a config that holds it (virtio_blk_config.capacity, the first 8 bytes).
  const capacity = info.deviceType === 'blk' && config.length >= 8 ? Buffer.from(config).readBigUInt64LE(0) : null;
  if (hasFeature(protocol, VHOST_USER_PROTOCOL_F_RESET_DEVICE)) await ask(target, { op: 'resetDevice' });
  return {
    ...base,
    queues,
    vringLimit,
    ...(reported > 0 && { queueNum: reported }),
    offeredFeatures: features,
    offeredProtocolFeatures: offeredProtocol,
    configSize: config.length,
    config: info.deviceType === 'blk' ? config : new Uint8Array(0),
    blkCapacitySectors: capacity,
  };
}

/** The largest prefix of the device type's config structure the device serves: its config space. */
async function readConfig(target: Target): Promise<Uint8Array> {
  const layout = target.info.deviceType === 'net' ? virtio_net_config : virtio_blk_config;
  for (let n = layout.size; n > 0; n--) {
    const r = value(await ask(target, { op: 'getConfig', offset: 0, size: n }));
    if (r instanceof Uint8Array && r.length === n) return Uint8Array.from(r);
  }
  return new Uint8Array(0);
}

/** Opens one session only to take the profile (and the target's info), and closes it. */
export async function probeTarget(factory: { open(): Promise<Target> }): Promise<{ info: TargetInfo } & ProbeResult> {
  const probe = await factory.open();
  try {
    return { info: probe.info, ...(await probeSession(probe)) };
  } finally {
    await probe.close();
  }
}

export function profileRecord(p: Profile): Record<string, string | number | boolean> {
  return {
    deviceType: p.deviceType,
    queues: p.queues,
    vringLimit: p.vringLimit,
    ...(p.queueNum !== undefined && { queueNum: p.queueNum }),
    maxQueueSize: p.maxQueueSize,
    offeredFeatures: `0x${p.offeredFeatures.toString(16)}`,
    offeredProtocolFeatures: `0x${p.offeredProtocolFeatures.toString(16)}`,
    configSize: p.configSize,
    blkCapacitySectors: p.blkCapacitySectors === null ? 'unknown' : p.blkCapacitySectors.toString(),
    blkFreshDisk: p.blkFreshDisk,
    transport: p.transport,
  };
}

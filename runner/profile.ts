// Derives the model's Profile from the target's own answers (issue: "never
// from a hard-coded list"): GET_FEATURES, GET_PROTOCOL_FEATURES, GET_QUEUE_NUM
// and the extent of the config space the device will return.
import type { Profile } from '../model/profile.ts';
import type { Target, TargetInfo } from '../implementations/target.ts';
import type { Reply, ReplyValue } from '../spec/requests.ts';
import { virtio_blk_config } from '../spec/virtio/blk.ts';
import { hasFeature } from '../spec/virtio/features.ts';
import { virtio_net_config } from '../spec/virtio/net.ts';
import { VHOST_USER_F_PROTOCOL_FEATURES } from '../spec/vhostUser/protocolFeatures.ts';

function value(r: Reply): ReplyValue | undefined {
  return 'ok' in r && r.ok ? r.value : undefined;
}

class ProfileError extends Error {}

export async function deriveProfile(target: Target): Promise<Profile> {
  const features = value(await target.send({ op: 'getFeatures' }));
  if (typeof features !== 'bigint') throw new ProfileError(`${target.info.name}: GET_FEATURES gave no feature word`);
  let protocol = 0n;
  if (hasFeature(features, VHOST_USER_F_PROTOCOL_FEATURES)) {
    const p = value(await target.send({ op: 'getProtocolFeatures' }));
    if (typeof p === 'bigint') protocol = p;
  }
  const q = value(await target.send({ op: 'getQueueNum' }));
  const queues = typeof q === 'number' && q > 0 ? Math.min(q, target.info.queues) : target.info.queues;
  // GET_QUEUE_NUM counts queue pairs for net in QEMU's reading, vrings in libvhost-user's: take the wider bound.
  const reported = typeof q === 'number' && q > 0 ? q : 0;
  const vringLimit = Math.max(queues, target.info.deviceType === 'net' ? 2 * reported : reported);
  const layout = target.info.deviceType === 'net' ? virtio_net_config : virtio_blk_config;
  // The largest prefix of the config structure the device serves is its config size.
  let configSize = 0;
  let capacity = 0n;
  let config: Uint8Array = new Uint8Array(0);
  for (let n = layout.size; n > 0; n--) {
    const r = value(await target.send({ op: 'getConfig', offset: 0, size: n }));
    if (r instanceof Uint8Array && r.length === n) {
      configSize = n;
      if (target.info.deviceType === 'blk') config = r;
      if (target.info.deviceType === 'blk' && n >= 8) capacity = Buffer.from(r).readBigUInt64LE(0);
      break;
    }
  }
  await target.send({ op: 'resetDevice' });
  return {
    deviceType: target.info.deviceType,
    queues,
    vringLimit,
    ...(reported > 0 && { queueNum: reported }),
    maxQueueSize: target.info.maxQueueSize,
    offeredFeatures: features,
    offeredProtocolFeatures: protocol,
    configSize,
    config,
    blkCapacitySectors: capacity,
    blkFreshDisk: target.info.kind === 'simulated',
    errorsAlwaysVisible: target.info.kind !== 'socket',
  };
}

/** Opens one session only to take the profile (and the target's info), and closes it. */
export async function probeTarget(factory: { open(): Promise<Target> }): Promise<{ info: TargetInfo; profile: Profile }> {
  const probe = await factory.open();
  try {
    return { info: probe.info, profile: await deriveProfile(probe) };
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
    blkCapacitySectors: p.blkCapacitySectors.toString(),
    blkFreshDisk: p.blkFreshDisk,
    errorsAlwaysVisible: p.errorsAlwaysVisible,
  };
}

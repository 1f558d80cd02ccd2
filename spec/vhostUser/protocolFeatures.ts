// vhost-user protocol feature bits, as listed in QEMU docs/interop/vhost-user.rst
// "Protocol features" (revision with bits 0..19, up to DEVICE_STATE). Values
// are bit *numbers* in the word exchanged by VHOST_USER_GET/SET_PROTOCOL_FEATURES;
// the mask is 1n << BigInt(bit), as for virtio feature bits (spec/virtio/features.ts).
import { hasFeature } from '../virtio/features.ts';

/**
 * The virtio feature-word bit that announces protocol-feature negotiation
 * ("Communication": the reused legacy UNUSED bit 30). Every protocol feature
 * below is reachable only when this bit was offered by the back-end.
 */
export const VHOST_USER_F_PROTOCOL_FEATURES = 30;

export const VHOST_USER_PROTOCOL_F_MQ = 0;
export const VHOST_USER_PROTOCOL_F_LOG_SHMFD = 1;
export const VHOST_USER_PROTOCOL_F_RARP = 2;
export const VHOST_USER_PROTOCOL_F_REPLY_ACK = 3;
/** The doc's #define list spells it `VHOST_USER_PROTOCOL_F_MTU`; its message text (VHOST_USER_NET_SET_MTU) says `..._NET_MTU`. */
export const VHOST_USER_PROTOCOL_F_NET_MTU = 4;
export const VHOST_USER_PROTOCOL_F_BACKEND_REQ = 5;
export const VHOST_USER_PROTOCOL_F_CROSS_ENDIAN = 6;
export const VHOST_USER_PROTOCOL_F_CRYPTO_SESSION = 7;
export const VHOST_USER_PROTOCOL_F_PAGEFAULT = 8;
export const VHOST_USER_PROTOCOL_F_CONFIG = 9;
export const VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD = 10;
export const VHOST_USER_PROTOCOL_F_HOST_NOTIFIER = 11;
export const VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD = 12;
export const VHOST_USER_PROTOCOL_F_RESET_DEVICE = 13;
export const VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS = 14;
export const VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS = 15;
export const VHOST_USER_PROTOCOL_F_STATUS = 16;
export const VHOST_USER_PROTOCOL_F_XEN_MMAP = 17;
export const VHOST_USER_PROTOCOL_F_SHARED_OBJECT = 18;
export const VHOST_USER_PROTOCOL_F_DEVICE_STATE = 19;

/**
 * Why one feature needs another:
 * - `stated`: the doc says negotiating it without the other is an error;
 * - `implied`: every message the feature enables travels on, or needs, what
 *   the other feature provides, so it is unusable without it.
 */
export type DependencyBasis = 'stated' | 'implied';

/** Names without the `VHOST_USER_PROTOCOL_F_` prefix, in bit order. */
export const PROTOCOL_FEATURE_NAMES = [
  'MQ',
  'LOG_SHMFD',
  'RARP',
  'REPLY_ACK',
  'NET_MTU',
  'BACKEND_REQ',
  'CROSS_ENDIAN',
  'CRYPTO_SESSION',
  'PAGEFAULT',
  'CONFIG',
  'BACKEND_SEND_FD',
  'HOST_NOTIFIER',
  'INFLIGHT_SHMFD',
  'RESET_DEVICE',
  'INBAND_NOTIFICATIONS',
  'CONFIGURE_MEM_SLOTS',
  'STATUS',
  'XEN_MMAP',
  'SHARED_OBJECT',
  'DEVICE_STATE',
] as const;

export type ProtocolFeatureName = (typeof PROTOCOL_FEATURE_NAMES)[number];

export interface ProtocolFeatureSpec {
  readonly bit: number;
  /** Full C name as used in the doc's message descriptions. */
  readonly cName: string;
  /** Other spellings: the doc's #define list, or the pre-rename `SLAVE` names of older revisions. */
  readonly aliases: readonly string[];
  readonly dependsOn: readonly { readonly feature: ProtocolFeatureName; readonly basis: DependencyBasis }[];
  /** vhost-user.rst section that defines what the feature enables. */
  readonly section: string;
}

const f = (
  bit: number,
  cName: string,
  section: string,
  dependsOn: ProtocolFeatureSpec['dependsOn'] = [],
  aliases: readonly string[] = [],
): ProtocolFeatureSpec => ({ bit, cName, aliases, dependsOn, section });

export const PROTOCOL_FEATURES: Readonly<Record<ProtocolFeatureName, ProtocolFeatureSpec>> = {
  MQ: f(VHOST_USER_PROTOCOL_F_MQ, 'VHOST_USER_PROTOCOL_F_MQ', 'Multiple queue support'),
  LOG_SHMFD: f(VHOST_USER_PROTOCOL_F_LOG_SHMFD, 'VHOST_USER_PROTOCOL_F_LOG_SHMFD', 'Migration'),
  RARP: f(VHOST_USER_PROTOCOL_F_RARP, 'VHOST_USER_PROTOCOL_F_RARP', 'Front-end message types: VHOST_USER_SEND_RARP'),
  REPLY_ACK: f(VHOST_USER_PROTOCOL_F_REPLY_ACK, 'VHOST_USER_PROTOCOL_F_REPLY_ACK', 'VHOST_USER_PROTOCOL_F_REPLY_ACK'),
  NET_MTU: f(VHOST_USER_PROTOCOL_F_NET_MTU, 'VHOST_USER_PROTOCOL_F_NET_MTU', 'Front-end message types: VHOST_USER_NET_SET_MTU', [], [
    'VHOST_USER_PROTOCOL_F_MTU',
  ]),
  BACKEND_REQ: f(VHOST_USER_PROTOCOL_F_BACKEND_REQ, 'VHOST_USER_PROTOCOL_F_BACKEND_REQ', 'Back-end communication', [], [
    'VHOST_USER_PROTOCOL_F_SLAVE_REQ',
  ]),
  CROSS_ENDIAN: f(VHOST_USER_PROTOCOL_F_CROSS_ENDIAN, 'VHOST_USER_PROTOCOL_F_CROSS_ENDIAN', 'Front-end message types: VHOST_USER_SET_VRING_ENDIAN'),
  CRYPTO_SESSION: f(
    VHOST_USER_PROTOCOL_F_CRYPTO_SESSION,
    'VHOST_USER_PROTOCOL_F_CRYPTO_SESSION',
    'Front-end message types: VHOST_USER_CREATE_CRYPTO_SESSION',
  ),
  PAGEFAULT: f(VHOST_USER_PROTOCOL_F_PAGEFAULT, 'VHOST_USER_PROTOCOL_F_PAGEFAULT', 'Migration (postcopy)'),
  CONFIG: f(VHOST_USER_PROTOCOL_F_CONFIG, 'VHOST_USER_PROTOCOL_F_CONFIG', 'Front-end message types: VHOST_USER_GET_CONFIG'),
  // "If BACKEND_SEND_FD is negotiated, back-end can send file descriptors ...
  // using this fd communication channel" — the channel BACKEND_REQ sets up.
  BACKEND_SEND_FD: f(
    VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD,
    'VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD',
    'Back-end communication',
    [{ feature: 'BACKEND_REQ', basis: 'implied' }],
    ['VHOST_USER_PROTOCOL_F_SLAVE_SEND_FD'],
  ),
  // Its only message, VHOST_USER_BACKEND_VRING_HOST_NOTIFIER_MSG, is a
  // back-end request whose point is the fd in its ancillary data.
  HOST_NOTIFIER: f(
    VHOST_USER_PROTOCOL_F_HOST_NOTIFIER,
    'VHOST_USER_PROTOCOL_F_HOST_NOTIFIER',
    'Back-end message types: VHOST_USER_BACKEND_VRING_HOST_NOTIFIER_MSG',
    [
      { feature: 'BACKEND_REQ', basis: 'implied' },
      { feature: 'BACKEND_SEND_FD', basis: 'implied' },
    ],
  ),
  INFLIGHT_SHMFD: f(VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD, 'VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD', 'Inflight I/O tracking'),
  RESET_DEVICE: f(VHOST_USER_PROTOCOL_F_RESET_DEVICE, 'VHOST_USER_PROTOCOL_F_RESET_DEVICE', 'Front-end message types: VHOST_USER_RESET_DEVICE'),
  // "It is also considered an error to negotiate this feature without also
  // negotiating BACKEND_REQ and REPLY_ACK" (In-band notifications).
  INBAND_NOTIFICATIONS: f(
    VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS,
    'VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS',
    'In-band notifications',
    [
      { feature: 'BACKEND_REQ', basis: 'stated' },
      { feature: 'REPLY_ACK', basis: 'stated' },
    ],
  ),
  CONFIGURE_MEM_SLOTS: f(
    VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS,
    'VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS',
    'Front-end message types: VHOST_USER_GET_MAX_MEM_SLOTS',
  ),
  STATUS: f(VHOST_USER_PROTOCOL_F_STATUS, 'VHOST_USER_PROTOCOL_F_STATUS', 'Front-end message types: VHOST_USER_SET_STATUS'),
  XEN_MMAP: f(VHOST_USER_PROTOCOL_F_XEN_MMAP, 'VHOST_USER_PROTOCOL_F_XEN_MMAP', 'Payload: Memory region description'),
  SHARED_OBJECT: f(
    VHOST_USER_PROTOCOL_F_SHARED_OBJECT,
    'VHOST_USER_PROTOCOL_F_SHARED_OBJECT',
    'Front-end message types: VHOST_USER_GET_SHARED_OBJECT',
  ),
  DEVICE_STATE: f(VHOST_USER_PROTOCOL_F_DEVICE_STATE, 'VHOST_USER_PROTOCOL_F_DEVICE_STATE', 'Migrating back-end state'),
};

export function hasProtocolFeature(word: bigint, name: ProtocolFeatureName): boolean {
  return hasFeature(word, PROTOCOL_FEATURES[name].bit);
}

/** Every dependency of a feature set in `word` whose target is not also set. */
export function missingDependencies(
  word: bigint,
): { readonly feature: ProtocolFeatureName; readonly missing: ProtocolFeatureName; readonly basis: DependencyBasis }[] {
  const out: { feature: ProtocolFeatureName; missing: ProtocolFeatureName; basis: DependencyBasis }[] = [];
  for (const name of PROTOCOL_FEATURE_NAMES) {
    if (!hasProtocolFeature(word, name)) continue;
    for (const d of PROTOCOL_FEATURES[name].dependsOn) {
      if (!hasProtocolFeature(word, d.feature)) out.push({ feature: name, missing: d.feature, basis: d.basis });
    }
  }
  return out;
}

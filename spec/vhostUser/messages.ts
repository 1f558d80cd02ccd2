// Every vhost-user message of QEMU docs/interop/vhost-user.rst ("Front-end
// message types", "Back-end message types"; the revision whose newest entries
// are VHOST_USER_CHECK_DEVICE_STATE = 43 and
// VHOST_USER_BACKEND_SHARED_OBJECT_LOOKUP = 8) as data: what each carries,
// which fds ride along, when a reply comes back and what gates it.
//
// Front-end and back-end codes are separate number spaces: the same number
// means different things on the front-end socket and on the back-end channel
// set up by VHOST_USER_SET_BACKEND_REQ_FD.
import { splitNoFdWord, VHOST_MEMORY_BASELINE_NREGIONS, type Payload, type PayloadType } from './payloads.ts';
import { hasProtocolFeature, type ProtocolFeatureName } from './protocolFeatures.ts';

export const VHOST_USER_GET_FEATURES = 1;
export const VHOST_USER_SET_FEATURES = 2;
export const VHOST_USER_SET_OWNER = 3;
export const VHOST_USER_RESET_OWNER = 4;
export const VHOST_USER_SET_MEM_TABLE = 5;
export const VHOST_USER_SET_LOG_BASE = 6;
export const VHOST_USER_SET_LOG_FD = 7;
export const VHOST_USER_SET_VRING_NUM = 8;
export const VHOST_USER_SET_VRING_ADDR = 9;
export const VHOST_USER_SET_VRING_BASE = 10;
export const VHOST_USER_GET_VRING_BASE = 11;
export const VHOST_USER_SET_VRING_KICK = 12;
export const VHOST_USER_SET_VRING_CALL = 13;
export const VHOST_USER_SET_VRING_ERR = 14;
export const VHOST_USER_GET_PROTOCOL_FEATURES = 15;
export const VHOST_USER_SET_PROTOCOL_FEATURES = 16;
export const VHOST_USER_GET_QUEUE_NUM = 17;
export const VHOST_USER_SET_VRING_ENABLE = 18;
export const VHOST_USER_SEND_RARP = 19;
export const VHOST_USER_NET_SET_MTU = 20;
export const VHOST_USER_SET_BACKEND_REQ_FD = 21;
export const VHOST_USER_IOTLB_MSG = 22;
export const VHOST_USER_SET_VRING_ENDIAN = 23;
export const VHOST_USER_GET_CONFIG = 24;
export const VHOST_USER_SET_CONFIG = 25;
export const VHOST_USER_CREATE_CRYPTO_SESSION = 26;
export const VHOST_USER_CLOSE_CRYPTO_SESSION = 27;
export const VHOST_USER_POSTCOPY_ADVISE = 28;
export const VHOST_USER_POSTCOPY_LISTEN = 29;
export const VHOST_USER_POSTCOPY_END = 30;
export const VHOST_USER_GET_INFLIGHT_FD = 31;
export const VHOST_USER_SET_INFLIGHT_FD = 32;
export const VHOST_USER_GPU_SET_SOCKET = 33;
export const VHOST_USER_RESET_DEVICE = 34;
export const VHOST_USER_VRING_KICK = 35;
export const VHOST_USER_GET_MAX_MEM_SLOTS = 36;
export const VHOST_USER_ADD_MEM_REG = 37;
export const VHOST_USER_REM_MEM_REG = 38;
export const VHOST_USER_SET_STATUS = 39;
export const VHOST_USER_GET_STATUS = 40;
export const VHOST_USER_GET_SHARED_OBJECT = 41;
export const VHOST_USER_SET_DEVICE_STATE_FD = 42;
export const VHOST_USER_CHECK_DEVICE_STATE = 43;

export const VHOST_USER_BACKEND_IOTLB_MSG = 1;
export const VHOST_USER_BACKEND_CONFIG_CHANGE_MSG = 2;
export const VHOST_USER_BACKEND_VRING_HOST_NOTIFIER_MSG = 3;
export const VHOST_USER_BACKEND_VRING_CALL = 4;
export const VHOST_USER_BACKEND_VRING_ERR = 5;
export const VHOST_USER_BACKEND_SHARED_OBJECT_ADD = 6;
export const VHOST_USER_BACKEND_SHARED_OBJECT_REMOVE = 7;
export const VHOST_USER_BACKEND_SHARED_OBJECT_LOOKUP = 8;

/** "Back-end communication": at most 8 file descriptors in each back-end message. */
export const VHOST_USER_BACKEND_MAX_FDS = 8;

/** Who sends the request: `frontend` on the main socket, `backend` on the back-end channel. */
export type Direction = 'frontend' | 'backend';

/**
 * File descriptors in the ancillary data of a message:
 * - `none`, `one`: exactly zero / one;
 * - `optional-one`: one, unless bit 8 (VHOST_USER_VRING_NOFD_MASK) of the
 *   payload's u64 says there is none;
 * - `per-region`: one per memory region, in region order (SET_MEM_TABLE);
 * - `zero-or-one`: the doc allows either, without a flag saying which;
 * - `one-on-success`: one exactly when the reply's u64 is 0 (success);
 * - `none-may-accept-one`: none SHOULD be sent, a receiver MAY accept one and
 *   MUST close it unused (REM_MEM_REG).
 */
export type FdRule = 'none' | 'one' | 'optional-one' | 'per-region' | 'zero-or-one' | 'one-on-success' | 'none-may-accept-one';

/**
 * When a reply comes back:
 * - `always`: the message solicits a reply by itself (Communication; any
 *   message whose entry names a reply payload);
 * - `reply-ack-only`: only when REPLY_ACK is negotiated and the request set
 *   NEED_REPLY; the reply is then a u64, zero on success ("REPLY_ACK").
 *
 * No message is reply-never: the REPLY_ACK section lets the sender set
 * need_reply on any command.
 */
export type ReplyWhen = 'always' | 'reply-ack-only';

export interface ReplySpec {
  readonly when: ReplyWhen;
  readonly payload: PayloadType;
  readonly fds: FdRule;
  /** The replier signals failure with an empty payload instead (GET_CONFIG: "zero length of payload to indicate an error"). */
  readonly emptyOnError?: boolean;
}

export interface MessageSpec {
  readonly code: number;
  readonly name: string;
  /** Names used by earlier revisions of the doc ("previous name ..."). */
  readonly aliases: readonly string[];
  readonly direction: Direction;
  readonly payload: PayloadType;
  readonly fds: FdRule;
  readonly reply: ReplySpec;
  /** Protocol features that must be negotiated before the message may be sent. */
  readonly features: readonly ProtocolFeatureName[];
  /** Needs VHOST_USER_F_PROTOCOL_FEATURES in the virtio feature word (true whenever `features` is not empty). */
  readonly needsProtocolFeatures: boolean;
  /** A virtio feature (spec/features.ts name) the doc says must be negotiated first. */
  readonly virtioFeature?: string;
  /** With this protocol feature negotiated, `fds` and `reply` are replaced (SET_LOG_BASE with LOG_SHMFD). */
  readonly ifFeature?: { readonly feature: ProtocolFeatureName; readonly fds: FdRule; readonly reply: ReplySpec };
  /** After VHOST_USER_POSTCOPY_LISTEN, the reply is this instead. */
  readonly postcopyReply?: ReplySpec;
  readonly deprecated?: boolean;
}

const ACK: ReplySpec = { when: 'reply-ack-only', payload: 'u64', fds: 'none' };
const always = (payload: PayloadType, fds: FdRule = 'none'): ReplySpec => ({ when: 'always', payload, fds });

type Options = Partial<Omit<MessageSpec, 'code' | 'name' | 'direction' | 'needsProtocolFeatures'>> & { readonly protocolFeaturesBit?: boolean };

function msg(direction: Direction, code: number, name: string, o: Options = {}): MessageSpec {
  const { protocolFeaturesBit = false, features = [], ...rest } = o;
  return {
    code,
    name,
    direction,
    aliases: [],
    payload: 'none',
    fds: 'none',
    reply: ACK,
    ...rest,
    features,
    needsProtocolFeatures: protocolFeaturesBit || features.length > 0,
  };
}

const fe = (code: number, name: string, o?: Options): MessageSpec => msg('frontend', code, name, o);
// Every back-end message travels on the channel BACKEND_REQ sets up
// ("Back-end communication"), so it is gated by BACKEND_REQ as well.
const be = (code: number, name: string, o: Options = {}): MessageSpec =>
  msg('backend', code, name, { ...o, features: ['BACKEND_REQ', ...(o.features ?? [])] });

export const FRONTEND_MESSAGES: readonly MessageSpec[] = [
  fe(VHOST_USER_GET_FEATURES, 'VHOST_USER_GET_FEATURES', { reply: always('u64') }),
  fe(VHOST_USER_SET_FEATURES, 'VHOST_USER_SET_FEATURES', { payload: 'u64' }),
  fe(VHOST_USER_SET_OWNER, 'VHOST_USER_SET_OWNER'),
  fe(VHOST_USER_RESET_OWNER, 'VHOST_USER_RESET_OWNER', { deprecated: true }),
  // "In the ancillary data there is an array of file descriptors for each
  // memory mapped region"; after POSTCOPY_LISTEN the back-end "replies with
  // the bases of the memory mapped regions".
  fe(VHOST_USER_SET_MEM_TABLE, 'VHOST_USER_SET_MEM_TABLE', {
    payload: 'memoryTable',
    fds: 'per-region',
    postcopyReply: always('memoryTable'),
  }),
  // The entry says "request payload: u64", but its text says "the size and
  // offset of shared memory area provided in the message", which is the Log
  // description, and that is what QEMU sends. The reply (Communication: only
  // with LOG_SHMFD) has no layout in the doc: carried as opaque bytes.
  fe(VHOST_USER_SET_LOG_BASE, 'VHOST_USER_SET_LOG_BASE', {
    payload: 'log',
    ifFeature: { feature: 'LOG_SHMFD', fds: 'one', reply: always('opaque') },
  }),
  fe(VHOST_USER_SET_LOG_FD, 'VHOST_USER_SET_LOG_FD', { fds: 'one' }),
  fe(VHOST_USER_SET_VRING_NUM, 'VHOST_USER_SET_VRING_NUM', { payload: 'vringState' }),
  fe(VHOST_USER_SET_VRING_ADDR, 'VHOST_USER_SET_VRING_ADDR', { payload: 'vringAddr' }),
  fe(VHOST_USER_SET_VRING_BASE, 'VHOST_USER_SET_VRING_BASE', { payload: 'vringDescIndex' }),
  fe(VHOST_USER_GET_VRING_BASE, 'VHOST_USER_GET_VRING_BASE', { payload: 'vringState', reply: always('vringDescIndex') }),
  fe(VHOST_USER_SET_VRING_KICK, 'VHOST_USER_SET_VRING_KICK', { payload: 'vringFile', fds: 'optional-one' }),
  fe(VHOST_USER_SET_VRING_CALL, 'VHOST_USER_SET_VRING_CALL', { payload: 'vringFile', fds: 'optional-one' }),
  fe(VHOST_USER_SET_VRING_ERR, 'VHOST_USER_SET_VRING_ERR', { payload: 'vringFile', fds: 'optional-one' }),
  fe(VHOST_USER_GET_PROTOCOL_FEATURES, 'VHOST_USER_GET_PROTOCOL_FEATURES', { reply: always('u64'), protocolFeaturesBit: true }),
  fe(VHOST_USER_SET_PROTOCOL_FEATURES, 'VHOST_USER_SET_PROTOCOL_FEATURES', { payload: 'u64', protocolFeaturesBit: true }),
  fe(VHOST_USER_GET_QUEUE_NUM, 'VHOST_USER_GET_QUEUE_NUM', { reply: always('u64'), features: ['MQ'] }),
  fe(VHOST_USER_SET_VRING_ENABLE, 'VHOST_USER_SET_VRING_ENABLE', { payload: 'vringState', protocolFeaturesBit: true }),
  fe(VHOST_USER_SEND_RARP, 'VHOST_USER_SEND_RARP', { payload: 'u64', features: ['RARP'] }),
  fe(VHOST_USER_NET_SET_MTU, 'VHOST_USER_NET_SET_MTU', { payload: 'u64', features: ['NET_MTU'], virtioFeature: 'NET_MTU' }),
  fe(VHOST_USER_SET_BACKEND_REQ_FD, 'VHOST_USER_SET_BACKEND_REQ_FD', {
    fds: 'one',
    features: ['BACKEND_REQ'],
    aliases: ['VHOST_USER_SET_SLAVE_REQ_FD'],
  }),
  // Gated by a virtio feature (VIRTIO_F_IOMMU_PLATFORM, now ACCESS_PLATFORM),
  // not a protocol feature.
  fe(VHOST_USER_IOTLB_MSG, 'VHOST_USER_IOTLB_MSG', { payload: 'iotlb', reply: always('u64'), virtioFeature: 'ACCESS_PLATFORM' }),
  fe(VHOST_USER_SET_VRING_ENDIAN, 'VHOST_USER_SET_VRING_ENDIAN', { payload: 'vringState', features: ['CROSS_ENDIAN'] }),
  fe(VHOST_USER_GET_CONFIG, 'VHOST_USER_GET_CONFIG', {
    payload: 'config',
    reply: { ...always('config'), emptyOnError: true },
    features: ['CONFIG'],
  }),
  fe(VHOST_USER_SET_CONFIG, 'VHOST_USER_SET_CONFIG', { payload: 'config', features: ['CONFIG'] }),
  // "crypto session description" is not among the doc's payload layouts.
  fe(VHOST_USER_CREATE_CRYPTO_SESSION, 'VHOST_USER_CREATE_CRYPTO_SESSION', {
    payload: 'opaque',
    reply: always('opaque'),
    features: ['CRYPTO_SESSION'],
  }),
  fe(VHOST_USER_CLOSE_CRYPTO_SESSION, 'VHOST_USER_CLOSE_CRYPTO_SESSION', { payload: 'u64', features: ['CRYPTO_SESSION'] }),
  fe(VHOST_USER_POSTCOPY_ADVISE, 'VHOST_USER_POSTCOPY_ADVISE', { reply: always('none', 'one'), features: ['PAGEFAULT'] }),
  fe(VHOST_USER_POSTCOPY_LISTEN, 'VHOST_USER_POSTCOPY_LISTEN', { features: ['PAGEFAULT'] }),
  fe(VHOST_USER_POSTCOPY_END, 'VHOST_USER_POSTCOPY_END', { reply: always('u64'), features: ['PAGEFAULT'] }),
  // The entry says "reply payload: N/A", but Communication lists it among the
  // messages that require a reply, and the point of the message is the
  // back-end's buffer: the reply is an inflight description plus its fd.
  fe(VHOST_USER_GET_INFLIGHT_FD, 'VHOST_USER_GET_INFLIGHT_FD', {
    payload: 'inflight',
    reply: always('inflight', 'one'),
    features: ['INFLIGHT_SHMFD'],
  }),
  fe(VHOST_USER_SET_INFLIGHT_FD, 'VHOST_USER_SET_INFLIGHT_FD', { payload: 'inflight', fds: 'one', features: ['INFLIGHT_SHMFD'] }),
  fe(VHOST_USER_GPU_SET_SOCKET, 'VHOST_USER_GPU_SET_SOCKET', { fds: 'one' }),
  fe(VHOST_USER_RESET_DEVICE, 'VHOST_USER_RESET_DEVICE', { features: ['RESET_DEVICE'] }),
  fe(VHOST_USER_VRING_KICK, 'VHOST_USER_VRING_KICK', { payload: 'vringState', features: ['INBAND_NOTIFICATIONS'] }),
  fe(VHOST_USER_GET_MAX_MEM_SLOTS, 'VHOST_USER_GET_MAX_MEM_SLOTS', { reply: always('u64'), features: ['CONFIGURE_MEM_SLOTS'] }),
  // Both entries say "request payload: N/A" and "reply payload: single memory
  // region description", yet their text says "The message payload contains a
  // memory region descriptor struct". The request carries the region; the
  // region reply exists only in postcopy mode (ADD_MEM_REG's text).
  fe(VHOST_USER_ADD_MEM_REG, 'VHOST_USER_ADD_MEM_REG', {
    payload: 'singleMemoryRegion',
    fds: 'one',
    features: ['CONFIGURE_MEM_SLOTS'],
    postcopyReply: always('singleMemoryRegion'),
  }),
  fe(VHOST_USER_REM_MEM_REG, 'VHOST_USER_REM_MEM_REG', {
    payload: 'singleMemoryRegion',
    fds: 'none-may-accept-one',
    features: ['CONFIGURE_MEM_SLOTS'],
  }),
  fe(VHOST_USER_SET_STATUS, 'VHOST_USER_SET_STATUS', { payload: 'u64', features: ['STATUS'] }),
  fe(VHOST_USER_GET_STATUS, 'VHOST_USER_GET_STATUS', { reply: always('u64'), features: ['STATUS'] }),
  // "reply payload: dmabuf fd": the fd is the answer, "or no fd otherwise";
  // the reply's bytes have no layout in the doc.
  fe(VHOST_USER_GET_SHARED_OBJECT, 'VHOST_USER_GET_SHARED_OBJECT', {
    payload: 'shared',
    reply: always('opaque', 'zero-or-one'),
    features: ['SHARED_OBJECT'],
  }),
  // Reply u64: bits 0-7 error code, bit 8 "invalid FD flag" (no fd returned).
  fe(VHOST_USER_SET_DEVICE_STATE_FD, 'VHOST_USER_SET_DEVICE_STATE_FD', {
    payload: 'deviceState',
    fds: 'one',
    reply: always('u64', 'optional-one'),
    features: ['DEVICE_STATE'],
  }),
  fe(VHOST_USER_CHECK_DEVICE_STATE, 'VHOST_USER_CHECK_DEVICE_STATE', { reply: always('u64'), features: ['DEVICE_STATE'] }),
];

// Back-end replies: the doc spells out REPLY_ACK handling for IOTLB_MSG,
// CONFIG_CHANGE_MSG and SHARED_OBJECT_ADD/REMOVE; "In-band notifications"
// requires REPLY_ACK to be used with VRING_CALL/ERR; HOST_NOTIFIER_MSG is
// covered by the general REPLY_ACK rule.
export const BACKEND_MESSAGES: readonly MessageSpec[] = [
  be(VHOST_USER_BACKEND_IOTLB_MSG, 'VHOST_USER_BACKEND_IOTLB_MSG', {
    payload: 'iotlb',
    virtioFeature: 'ACCESS_PLATFORM',
    aliases: ['VHOST_USER_SLAVE_IOTLB_MSG'],
  }),
  be(VHOST_USER_BACKEND_CONFIG_CHANGE_MSG, 'VHOST_USER_BACKEND_CONFIG_CHANGE_MSG', {
    features: ['CONFIG'],
    aliases: ['VHOST_USER_SLAVE_CONFIG_CHANGE_MSG'],
  }),
  // "register the new notifier if the request is sent with a file
  // descriptor"; the vring-area u64 carries the no-fd flag in bit 8.
  be(VHOST_USER_BACKEND_VRING_HOST_NOTIFIER_MSG, 'VHOST_USER_BACKEND_VRING_HOST_NOTIFIER_MSG', {
    payload: 'vringArea',
    fds: 'optional-one',
    features: ['HOST_NOTIFIER'],
    aliases: ['VHOST_USER_SLAVE_VRING_HOST_NOTIFIER_MSG'],
  }),
  be(VHOST_USER_BACKEND_VRING_CALL, 'VHOST_USER_BACKEND_VRING_CALL', {
    payload: 'vringState',
    features: ['INBAND_NOTIFICATIONS'],
    aliases: ['VHOST_USER_SLAVE_VRING_CALL'],
  }),
  be(VHOST_USER_BACKEND_VRING_ERR, 'VHOST_USER_BACKEND_VRING_ERR', {
    payload: 'vringState',
    features: ['INBAND_NOTIFICATIONS'],
    aliases: ['VHOST_USER_SLAVE_VRING_ERR'],
  }),
  be(VHOST_USER_BACKEND_SHARED_OBJECT_ADD, 'VHOST_USER_BACKEND_SHARED_OBJECT_ADD', { payload: 'shared', features: ['SHARED_OBJECT'] }),
  be(VHOST_USER_BACKEND_SHARED_OBJECT_REMOVE, 'VHOST_USER_BACKEND_SHARED_OBJECT_REMOVE', { payload: 'shared', features: ['SHARED_OBJECT'] }),
  // "Frontend will reply passing the fd and a zero when the operation is
  // successful, or non-zero otherwise ... if the operation fails, no fd".
  be(VHOST_USER_BACKEND_SHARED_OBJECT_LOOKUP, 'VHOST_USER_BACKEND_SHARED_OBJECT_LOOKUP', {
    payload: 'shared',
    reply: always('u64', 'one-on-success'),
    features: ['SHARED_OBJECT'],
  }),
];

const BY_CODE: Readonly<Record<Direction, ReadonlyMap<number, MessageSpec>>> = {
  frontend: new Map(FRONTEND_MESSAGES.map((m) => [m.code, m])),
  backend: new Map(BACKEND_MESSAGES.map((m) => [m.code, m])),
};

export function messageSpec(direction: Direction, code: number): MessageSpec | undefined {
  return BY_CODE[direction].get(code);
}

/** What applies once the session's state is known: the LOG_SHMFD variant of SET_LOG_BASE, the postcopy replies. */
export interface SessionContext {
  /** Negotiated protocol feature word. */
  readonly protocolFeatures?: bigint;
  /** VHOST_USER_POSTCOPY_LISTEN has been sent. */
  readonly postcopy?: boolean;
}

/** The fd rule and reply spec in force for `spec` given the session state. */
export function effectiveRules(spec: MessageSpec, ctx: SessionContext = {}): { readonly fds: FdRule; readonly reply: ReplySpec } {
  let fds = spec.fds;
  let reply = spec.reply;
  if (spec.ifFeature && hasProtocolFeature(ctx.protocolFeatures ?? 0n, spec.ifFeature.feature)) {
    fds = spec.ifFeature.fds;
    reply = spec.ifFeature.reply;
  }
  if (ctx.postcopy && spec.postcopyReply) reply = spec.postcopyReply;
  return { fds, reply };
}

/**
 * How many fds may accompany a message under `rule`, given its decoded
 * payload (which says how many regions, or whether bit 8 / the status
 * word rules the fd out). A payload of the wrong kind gives the loosest range.
 */
export function fdCountRange(rule: FdRule, payload: Payload): { readonly min: number; readonly max: number } {
  switch (rule) {
    case 'none':
      return { min: 0, max: 0 };
    case 'one':
      return { min: 1, max: 1 };
    case 'zero-or-one':
    case 'none-may-accept-one':
      return { min: 0, max: 1 };
    case 'per-region': {
      if (payload.type !== 'memoryTable') return { min: 0, max: VHOST_MEMORY_BASELINE_NREGIONS };
      return { min: payload.value.nregions, max: payload.value.nregions };
    }
    case 'optional-one': {
      if (payload.type !== 'vringFile' && payload.type !== 'u64' && payload.type !== 'vringArea') return { min: 0, max: 1 };
      const n = splitNoFdWord(payload.value.u64).noFd ? 0 : 1;
      return { min: n, max: n };
    }
    case 'one-on-success': {
      if (payload.type !== 'u64') return { min: 0, max: 1 };
      const n = payload.value.u64 === 0n ? 1 : 0;
      return { min: n, max: n };
    }
  }
}

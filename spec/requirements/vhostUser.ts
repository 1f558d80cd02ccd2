// vhost-user requirements: back-end obligations from QEMU docs/interop/vhost-user.rst,
// the front-end obligations the suite itself follows, and robustness rules that only
// code defines (DE_FACTO).
//
// Sources read for this file (stored copies):
//   qemu/qemu docs/interop/vhost-user.rst @ f6b615b52d1d92f02103596a30df95f31138a2e4
//     (the revision with "Ring states: two independent states", "Suspended device
//     state" and VHOST_USER_PROTOCOL_F_DEVICE_STATE)
//   DPDK/dpdk lib/vhost/vhost_user.c @ a5dd9842792c16fa10162dde7e3e1ff343d21dbf
//   qemu/qemu subprojects/libvhost-user/libvhost-user.c @ 7c18f2d663521f1b31b821a13358ce38075eaf7d
//
// The DocId union has no entry for DPDK or libvhost-user code, so DE_FACTO rules keep
// doc 'vhost-user' (the protocol they concern) and name the section of vhost-user.rst
// that leaves the behaviour open, followed by "de facto:" and the code that defines it.
//
// Feature names: virtio features use the spec/features names (ACCESS_PLATFORM,
// RING_PACKED); vhost-user and vhost bits use their full C names
// (VHOST_USER_PROTOCOL_F_*, VHOST_USER_F_PROTOCOL_FEATURES, VHOST_F_LOG_ALL).
import type { Level, Requirement, Role } from './types.ts';

function r(id: string, section: string, level: Level, role: Role, summary: string, features?: readonly string[]): Requirement {
  return features ? { id, source: { doc: 'vhost-user', section }, level, role, summary, features } : { id, source: { doc: 'vhost-user', section }, level, role, summary };
}

const DPDK = 'DPDK lib/vhost/vhost_user.c';
const LVU = 'QEMU subprojects/libvhost-user/libvhost-user.c';

const PF = 'VHOST_USER_F_PROTOCOL_FEATURES';
const P = (name: string) => `VHOST_USER_PROTOCOL_F_${name}`;

/**
 * Front-end messages the control-plane model judges under the generic reply rule, by request op
 * (spec/requests.ts): id suffix and the message's name in vhost-user.rst "Front-end message types".
 */
const REPLY_PER_MESSAGE: Readonly<Record<string, readonly [string, string]>> = {
  setFeatures: ['set-features', 'VHOST_USER_SET_FEATURES (id 2)'],
  setOwner: ['set-owner', 'VHOST_USER_SET_OWNER (id 3)'],
  resetDevice: ['reset', 'VHOST_USER_RESET_OWNER (id 4) / VHOST_USER_RESET_DEVICE (id 34)'],
  setMemTable: ['set-mem-table', 'VHOST_USER_SET_MEM_TABLE (id 5)'],
  setVringNum: ['set-vring-num', 'VHOST_USER_SET_VRING_NUM (id 8)'],
  setVringAddr: ['set-vring-addr', 'VHOST_USER_SET_VRING_ADDR (id 9)'],
  setVringBase: ['set-vring-base', 'VHOST_USER_SET_VRING_BASE (id 10)'],
  setVringKick: ['set-vring-kick', 'VHOST_USER_SET_VRING_KICK (id 12)'],
  setVringCall: ['set-vring-call', 'VHOST_USER_SET_VRING_CALL (id 13)'],
  setVringErr: ['set-vring-err', 'VHOST_USER_SET_VRING_ERR (id 14)'],
  setProtocolFeatures: ['set-protocol-features', 'VHOST_USER_SET_PROTOCOL_FEATURES (id 16)'],
  getQueueNum: ['get-queue-num', 'VHOST_USER_GET_QUEUE_NUM (id 17)'],
  setVringEnable: ['set-vring-enable', 'VHOST_USER_SET_VRING_ENABLE (id 18)'],
  iotlbUpdate: ['iotlb-update', 'VHOST_USER_IOTLB_MSG (id 22)'],
  iotlbInvalidate: ['iotlb-invalidate', 'VHOST_USER_IOTLB_MSG (id 22)'],
};

const REPLY_REQUIRED = 'vhost-user.reply.required';

/**
 * The per-message id of the reply rule for a request op; the parent id for a message without one
 * (it then judges only what no single message owns, e.g. an undecodable reply).
 */
export function replyRequirement(op: string): string {
  const entry = Object.hasOwn(REPLY_PER_MESSAGE, op) ? REPLY_PER_MESSAGE[op] : undefined;
  return entry ? `${REPLY_REQUIRED}.${entry[0]}` : REPLY_REQUIRED;
}

export const VHOST_USER_REQUIREMENTS: readonly Requirement[] = [
  // ---------------------------------------------------------------- ring states
  r('vhost-user.ring.initial-stopped-disabled', 'Communication: Ring states', 'MUST', 'backend',
    'Every ring starts out both stopped and disabled.'),
  r('vhost-user.ring.stopped-no-processing', 'Communication: Ring states', 'MUST_NOT', 'backend',
    'A stopped ring is not processed at all, whether it is enabled or disabled: no descriptor reads, no used entries, no calls.'),
  r('vhost-user.ring.stopped-tracks-enable', 'Communication: Ring states', 'SHOULD', 'backend',
    'SET_VRING_ENABLE received while a ring is stopped is remembered and takes effect once the ring starts.'),
  r('vhost-user.ring.disabled-no-side-effects', 'Communication: Ring states', 'MUST', 'backend',
    'A started but disabled ring is still processed, but processing has no side effects.'),
  r('vhost-user.ring.disabled-no-rx', 'Communication: Ring states', 'MUST_NOT', 'backend',
    'A net back-end delivers no new RX packets on a started but disabled ring.'),
  r('vhost-user.ring.disabled-discards-tx', 'Communication: Ring states', 'MUST', 'backend',
    'A net back-end consumes and discards TX buffers on a started but disabled ring (they are used, not sent).'),
  r('vhost-user.ring.enabled-processes', 'Communication: Ring states', 'MUST', 'backend',
    'A started and enabled ring is processed normally: every request is executed.'),
  r('vhost-user.ring.start-on-kick', 'Communication: Ring states', 'MUST', 'backend',
    'A ring starts when its kick eventfd (from SET_VRING_KICK) becomes readable.'),
  r('vhost-user.ring.start-on-kick.buffers-used', 'Communication: Ring states', 'MUST', 'backend',
    'After a kick on a started, enabled ring every valid available buffer is used: stopping or disabling another ring does not stop this one.'),
  r('vhost-user.ring.start-on-kick.session-kept', 'Communication: Ring states', 'MUST', 'backend',
    'A back-end does not drop the session over a kick when every chain it could see was valid (a valid chain may cross a memory-region boundary).'),
  r('vhost-user.ring.start-on-inband-kick', 'Communication: Ring states; Front-end message types: VHOST_USER_VRING_KICK (id 35)', 'MUST', 'backend',
    'With in-band notifications negotiated, a VHOST_USER_VRING_KICK message also starts the ring.', [P('INBAND_NOTIFICATIONS')]),
  r('vhost-user.ring.get-vring-base-stops', 'Communication: Ring states; Front-end message types: VHOST_USER_GET_VRING_BASE (id 11)', 'MUST', 'backend',
    'GET_VRING_BASE stops the ring (no processing after the reply) and replies with the next descriptor index to process.'),
  r('vhost-user.ring.set-vring-enable', 'Communication: Ring states; Front-end message types: VHOST_USER_SET_VRING_ENABLE (id 18)', 'MUST', 'backend',
    'SET_VRING_ENABLE with num 1 enables and with num 0 disables the ring named by index.', [PF]),
  r('vhost-user.ring.enabled-without-protocol-features', 'Communication: Ring states', 'MUST', 'backend',
    'SET_FEATURES without VHOST_USER_F_PROTOCOL_FEATURES enables all rings immediately (no SET_VRING_ENABLE needed).'),
  r('vhost-user.ring.disabled-with-protocol-features', 'Communication: Ring states; Front-end message types: VHOST_USER_SET_VRING_ENABLE (id 18)', 'MUST', 'backend',
    'With VHOST_USER_F_PROTOCOL_FEATURES negotiated, rings stay disabled until SET_VRING_ENABLE(1); a started ring does not process as enabled before that.', [PF]),
  r('vhost-user.ring.config-on-the-fly', 'Communication: Ring states', 'MUST', 'backend',
    'Configuration messages (e.g. memory table, call fd) are accepted while rings are being processed, enabled or not.'),

  // ------------------------------------------------------------ suspended state
  r('vhost-user.suspended.no-memory-writes', 'Communication: Ring states: Suspended device state', 'MUST_NOT', 'backend',
    'While every ring is stopped (device suspended) the back-end writes no guest memory.'),
  r('vhost-user.suspended.no-notifications', 'Communication: Ring states: Suspended device state', 'MUST_NOT', 'backend',
    'While suspended the back-end signals no call or config notifications to the guest.'),
  r('vhost-user.suspended.no-backend-messages', 'Communication: Ring states: Suspended device state', 'MUST_NOT', 'backend',
    'While suspended the back-end sends no messages on the back-end channel.'),
  r('vhost-user.suspended.still-replies', 'Communication: Ring states: Suspended device state', 'MUST', 'backend',
    'While suspended the back-end still processes and replies to front-end messages.'),

  // --------------------------------------------------------------- vring setup
  r('vhost-user.vring.get-base-split', 'Front-end message types: VHOST_USER_GET_VRING_BASE (id 11)', 'MUST', 'backend',
    'For a split ring the GET_VRING_BASE reply holds the free-running 16-bit next avail index the back-end would process, upper bits zero.'),
  r('vhost-user.vring.get-base-packed', 'Payload: Vring descriptor indices for packed virtqueues; VHOST_USER_GET_VRING_BASE', 'MUST', 'backend',
    'For a packed ring the reply packs next avail index (bits 0-14), avail wrap counter (15), used index (16-30) and used wrap counter (31).', ['RING_PACKED']),
  r('vhost-user.vring.set-base', 'Front-end message types: VHOST_USER_SET_VRING_BASE (id 10)', 'MUST', 'backend',
    'SET_VRING_BASE sets the next avail index to process (split) or both device indices with wrap counters (packed); GET_VRING_BASE then reports the progress from there.'),
  r('vhost-user.vring.get-base-num-reserved', 'Front-end message types: VHOST_USER_GET_VRING_BASE (id 11)', 'MUST', 'frontend',
    'The suite sends GET_VRING_BASE with the request num field set to 0.'),
  r('vhost-user.vring.kick-invalid-fd', 'Front-end message types: VHOST_USER_SET_VRING_KICK (id 12)', 'MUST', 'backend',
    'SET_VRING_KICK: bits 0-7 are the ring index; bit 8 set means no fd is attached and the back-end polls the ring instead of waiting for kicks.'),
  r('vhost-user.vring.call-invalid-fd', 'Front-end message types: VHOST_USER_SET_VRING_CALL (id 13)', 'MUST', 'backend',
    'SET_VRING_CALL with bit 8 (invalid FD) set carries no fd: the back-end signals no eventfd and the front-end polls for used buffers.'),
  r('vhost-user.vring.err-invalid-fd', 'Front-end message types: VHOST_USER_SET_VRING_ERR (id 14)', 'MUST', 'backend',
    'SET_VRING_ERR with bit 8 set carries no fd and leaves the ring without an error eventfd.'),
  r('vhost-user.vring.endian-values', 'Front-end message types: VHOST_USER_SET_VRING_ENDIAN (id 23)', 'MUST', 'backend',
    'SET_VRING_ENDIAN accepts num 0 (little) and 1 (big) only; other values are invalid.', [P('CROSS_ENDIAN')]),
  r('vhost-user.notify.value-ignored', 'Introduction: Support for platforms other than Linux', 'SHOULD_NOT', 'backend',
    'The 8-byte value read from a kick eventfd carries no meaning and is not interpreted.'),

  // ------------------------------------------------------------ reply framing
  r('vhost-user.reply.required', 'Communication', 'MUST', 'backend',
    'GET_FEATURES, GET_PROTOCOL_FEATURES and GET_VRING_BASE always get a reply; SET_LOG_BASE does with LOG_SHMFD, GET_INFLIGHT_FD with INFLIGHT_SHMFD.'),
  // One rule per message (issue 10 "Split catch-all ids"): a deviation at SET_OWNER and one at
  // SET_VRING_CALL are different bugs, so neither may stand in for the other in an expectations file.
  ...Object.entries(REPLY_PER_MESSAGE).map(([op, [suffix, message]]) =>
    r(`vhost-user.reply.required.${suffix}`, `Communication; Front-end message types: ${message}`, 'MUST', 'backend',
      `A valid ${message.replace(/ \(id \d+\)$/, '')} is carried out and answered as the doc says (its reply, or with REPLY_ACK an ack of 0); a crash or hang at it is charged here.`),
  ),
  r('vhost-user.reply.header-flags', 'Message Specification: Header', 'MUST', 'backend',
    'Every reply carries version 0x1 in flags bits 0-1 and the reply flag (bit 2), and its size field equals the payload bytes that follow.'),
  r('vhost-user.reply.request-echo', `Communication; de facto: ${DPDK} send_vhost_backend_message_process_reply(); ${LVU} vu_process_message_reply() (reply request must equal the request)`, 'DE_FACTO', 'backend',
    'A reply carries the request code of the message it answers.'),
  r('vhost-user.reply-ack.reply', 'VHOST_USER_PROTOCOL_F_REPLY_ACK', 'MUST', 'backend',
    'With REPLY_ACK negotiated, a request with need_reply (bit 3) set gets a u64 reply: 0 on success, non-zero on failure.', [P('REPLY_ACK')]),
  r('vhost-user.reply-ack.single-reply', 'VHOST_USER_PROTOCOL_F_REPLY_ACK', 'MUST', 'backend',
    'need_reply on a request that already has a reply body changes nothing: exactly one reply, the normal one, is sent.', [P('REPLY_ACK')]),
  r('vhost-user.reply.close-on-error', 'Communication', 'MAY', 'backend',
    'On an exceptional error (e.g. incompatible features) the back-end may close the connection instead of replying.'),

  // ---------------------------------------------------------------- features
  r('vhost-user.features.get-features-stable', 'Front-end message types: VHOST_USER_GET_FEATURES (id 1)', 'MUST', 'backend',
    'GET_FEATURES reports the implementation\'s own feature bitmask, not the acked set: the same value on every query in a session; bit 30 iff protocol features are supported.'),
  r('vhost-user.features.protocol-before-set-features', 'Front-end message types: VHOST_USER_GET_PROTOCOL_FEATURES (id 15), VHOST_USER_SET_PROTOCOL_FEATURES (id 16)', 'MUST', 'backend',
    'A back-end offering VHOST_USER_F_PROTOCOL_FEATURES handles GET/SET_PROTOCOL_FEATURES even before SET_FEATURES.', [PF]),
  r('vhost-user.features.inband-needs-backend-req-and-reply-ack', 'In-band notifications', 'SHOULD', 'backend',
    'SET_PROTOCOL_FEATURES setting INBAND_NOTIFICATIONS without BACKEND_REQ and REPLY_ACK makes the back-end close the connection.'),
  r('vhost-user.reset-owner.deprecated', 'Front-end message types: VHOST_USER_RESET_OWNER (id 4)', 'SHOULD', 'backend',
    'RESET_OWNER is either ignored or disables all rings; it does not discard connection state.'),

  // --------------------------------------------------------------- multiqueue
  r('vhost-user.mq.get-queue-num', 'Multiple queue support; Front-end message types: VHOST_USER_GET_QUEUE_NUM (id 17)', 'MUST', 'backend',
    'GET_QUEUE_NUM replies with a u64: the maximum number of queues the back-end supports.', [P('MQ')]),
  r('vhost-user.mq.implement', 'Multiple queue support', 'SHOULD', 'backend',
    'Back-ends implement VHOST_USER_PROTOCOL_F_MQ even for devices with a fixed queue count.'),
  r('vhost-user.mq.frontend-respects-limit', 'Multiple queue support', 'SHOULD', 'frontend',
    'The suite never configures more queues than GET_QUEUE_NUM reported.'),
  r('vhost-user.mq.frontend-no-reliance', 'Multiple queue support', 'MUST_NOT', 'frontend',
    'For a fixed-queue device (net pair, blk) the suite does not require VHOST_USER_PROTOCOL_F_MQ.'),

  // ------------------------------------------------------------------- memory
  r('vhost-user.mem.table-fds-per-region', 'Front-end message types: VHOST_USER_SET_MEM_TABLE (id 5)', 'MUST', 'frontend',
    'SET_MEM_TABLE carries one fd per region, in region order.'),
  r('vhost-user.mem.table-replaced', 'Front-end message types: VHOST_USER_SET_MEM_TABLE (id 5); Memory access', 'MUST', 'backend',
    'After SET_MEM_TABLE all translations use the new table only: addresses covered only by the old table are no longer accessible, ring addresses are re-translated.'),
  r('vhost-user.mem.translation', 'Memory access', 'MUST', 'backend',
    'User addresses map through the region containing them; without ACCESS_PLATFORM guest addresses map through the region containing the guest address.'),
  r('vhost-user.mem.max-mem-slots', 'Front-end message types: VHOST_USER_GET_MAX_MEM_SLOTS (id 36)', 'SHOULD', 'backend',
    'GET_MAX_MEM_SLOTS replies with a u64 giving the maximum number of memory slots.', [P('CONFIGURE_MEM_SLOTS')]),
  r('vhost-user.mem.add-reg-maps', 'Front-end message types: VHOST_USER_ADD_MEM_REG (id 37)', 'MUST', 'backend',
    'ADD_MEM_REG maps the described region (from its single fd) and adds it to the memory table.', [P('CONFIGURE_MEM_SLOTS')]),
  r('vhost-user.mem.add-reg-one-fd', 'Front-end message types: VHOST_USER_ADD_MEM_REG (id 37)', 'MUST', 'frontend',
    'The suite sends exactly one fd with each valid ADD_MEM_REG.', [P('CONFIGURE_MEM_SLOTS')]),
  r('vhost-user.mem.rem-reg-unmaps', 'Front-end message types: VHOST_USER_REM_MEM_REG (id 38)', 'MUST', 'backend',
    'REM_MEM_REG unmaps the region matching guest address, user address and size, ignoring mmap offset; it is no longer translated.', [P('CONFIGURE_MEM_SLOTS')]),
  r('vhost-user.mem.rem-reg-fd-closed', 'Front-end message types: VHOST_USER_REM_MEM_REG (id 38)', 'MUST', 'backend',
    'An fd sent with REM_MEM_REG (tolerated for compatibility) is closed without being used.', [P('CONFIGURE_MEM_SLOTS')]),
  r('vhost-user.mem.rem-reg-no-fd', 'Front-end message types: VHOST_USER_REM_MEM_REG (id 38)', 'SHOULD_NOT', 'frontend',
    'The suite sends REM_MEM_REG without fds, except when deliberately testing the compatibility path.', [P('CONFIGURE_MEM_SLOTS')]),

  // ------------------------------------------------------------ config/status
  r('vhost-user.config.get-config', 'Front-end message types: VHOST_USER_GET_CONFIG (id 24)', 'MUST', 'backend',
    'GET_CONFIG replies with a payload of the requested size holding config space; a zero-length payload signals an error.', [P('CONFIG')]),
  r('vhost-user.config.set-config-readonly', 'Front-end message types: VHOST_USER_SET_CONFIG (id 25)', 'MUST_NOT', 'backend',
    'SET_CONFIG writing read-only config fields is refused unless the flags field has the live-migration value (1).', [P('CONFIG')]),
  r('vhost-user.status.set-status', 'Front-end message types: VHOST_USER_SET_STATUS (id 39)', 'MUST', 'backend',
    'SET_STATUS delivers the virtio device status byte, which the back-end adopts (subject to virtio rules such as refusing FEATURES_OK).', [P('STATUS')]),
  r('vhost-user.status.get-status', 'Front-end message types: VHOST_USER_GET_STATUS (id 40)', 'MUST', 'backend',
    'GET_STATUS replies with a u64 holding the current virtio device status as defined by the virtio spec.', [P('STATUS')]),
  r('vhost-user.reset-device', 'Front-end message types: VHOST_USER_RESET_DEVICE (id 34)', 'MUST', 'backend',
    'RESET_DEVICE disables all rings and returns all device state to its initial values; ownership is kept and the session can be set up again.', [P('RESET_DEVICE')]),

  // -------------------------------------------------------- inflight, log, fds
  r('vhost-user.inflight.get-fd', 'Inflight I/O tracking; Front-end message types: VHOST_USER_GET_INFLIGHT_FD (id 31)', 'MUST', 'backend',
    'GET_INFLIGHT_FD replies with an inflight description and one fd for a shared, zeroed tracking buffer sized for num queues x queue size.', [P('INFLIGHT_SHMFD')]),
  r('vhost-user.inflight.set-fd', 'Inflight I/O tracking; Front-end message types: VHOST_USER_SET_INFLIGHT_FD (id 32)', 'MUST', 'backend',
    'SET_INFLIGHT_FD hands the tracking buffer (one fd) back; the back-end maps it and resubmits entries marked inflight.', [P('INFLIGHT_SHMFD')]),
  r('vhost-user.log.set-log-base', 'Migration; Front-end message types: VHOST_USER_SET_LOG_BASE (id 6)', 'MUST', 'backend',
    'With LOG_SHMFD, SET_LOG_BASE carries the log fd with mmap size and offset in the payload, and is answered with a reply.', [P('LOG_SHMFD')]),
  r('vhost-user.log.set-log-fd', 'Migration; Front-end message types: VHOST_USER_SET_LOG_FD (id 7)', 'MUST', 'backend',
    'SET_LOG_FD (no payload, one eventfd, an optional notifier) is taken or refused, with REPLY_ACK answered accordingly; the session goes on.'),
  // MUST, not the "should" of the sentence itself: the section lets a back-end declare VHOST_F_LOG_ALL only
  // "once it complies to this logging", so with LOG_ALL negotiated the marks are what it promised; a page
  // left unmarked is a guest write the migration destination silently loses (data corruption, FAIL).
  r('vhost-user.log.mark-dirty', 'Migration ("Once it complies to this logging, it may declare the VHOST_F_LOG_ALL vhost feature"; "All the modifications to memory pointed by vring \'descriptor\' should be marked")', 'MUST', 'backend',
    'With VHOST_F_LOG_ALL, every guest page the back-end writes through descriptors is marked in the log: bit (addr/0x1000) set atomically.', ['VHOST_F_LOG_ALL']),
  r('vhost-user.log.used-ring', 'Migration ("Modifications to \'used\' vring should be marked if VHOST_VRING_F_LOG is part of ring\'s flags"; LOG_ALL declared only once compliant)', 'MUST', 'backend',
    'With VHOST_VRING_F_LOG on a ring, used-ring writes are logged at log_guest_addr-relative offsets.', ['VHOST_F_LOG_ALL']),
  r('vhost-user.log.stopped-no-updates', 'Migration', 'MUST_NOT', 'backend',
    'After the rings are stopped at the end of migration, no further log or memory updates happen until they restart.'),
  r('vhost-user.fds.carrying-messages', 'Communication', 'MUST', 'frontend',
    'The suite attaches fds only to ADD_MEM_REG, SET_MEM_TABLE, SET_LOG_BASE, SET_LOG_FD, SET_VRING_KICK/CALL/ERR, SET_BACKEND_REQ_FD, SET_INFLIGHT_FD, SET_DEVICE_STATE_FD (except in hostile tests).'),
  r('vhost-user.backend-channel.fd-limit', 'Back-end communication', 'MUST', 'backend',
    'With BACKEND_SEND_FD, a back-end-channel message carries at most 8 fds.', [P('BACKEND_SEND_FD')]),
  r('vhost-user.backend-req-fd.ack', 'Front-end message types: VHOST_USER_SET_BACKEND_REQ_FD (id 21)', 'MUST', 'backend',
    'With REPLY_ACK, SET_BACKEND_REQ_FD is answered 0 on success, non-zero otherwise.', [P('BACKEND_REQ'), P('REPLY_ACK')]),
  r('vhost-user.net.set-mtu-ack', 'Front-end message types: VHOST_USER_NET_SET_MTU (id 20)', 'MUST', 'backend',
    'With REPLY_ACK, NET_SET_MTU is answered 0 when the MTU is valid and non-zero otherwise.', [P('NET_MTU'), P('REPLY_ACK')]),
  r('vhost-user.device-state.no-error-with-fd', 'Front-end message types: VHOST_USER_SET_DEVICE_STATE_FD (id 42)', 'MUST_NOT', 'backend',
    'A SET_DEVICE_STATE_FD reply never both reports an error (bits 0-7 non-zero) and returns an fd (bit 8 clear).', [P('DEVICE_STATE')]),

  // --------------------------------------------------------------------- IOTLB
  r('vhost-user.iotlb.ack', 'IOMMU support; Front-end message types: VHOST_USER_IOTLB_MSG (id 22)', 'MUST', 'backend',
    'Each IOTLB_MSG (update or invalidate) is acknowledged with a u64: 0 on success, non-zero otherwise.', ['ACCESS_PLATFORM']),
  r('vhost-user.iotlb.iova-translation', 'Memory access; IOMMU support', 'MUST', 'backend',
    'With ACCESS_PLATFORM, ring and buffer addresses are IOVAs translated only through the IOTLB; region guest addresses are not used.', ['ACCESS_PLATFORM']),
  r('vhost-user.iotlb.invalidate-removes', 'IOMMU support', 'MUST', 'backend',
    'After an acknowledged IOTLB invalidate of [iova, iova+size), that range is not accessed until updated again.', ['ACCESS_PLATFORM']),
  r('vhost-user.iotlb.miss-via-backend-channel', 'IOMMU support; Back-end message types: VHOST_USER_BACKEND_IOTLB_MSG (id 1)', 'MUST', 'backend',
    'An access to an unmapped IOVA is reported as a BACKEND_IOTLB_MSG of type miss (1) with the IOVA and permission, on the back-end channel.', ['ACCESS_PLATFORM', P('BACKEND_REQ')]),
  r('vhost-user.iotlb.frontend-only-with-iommu', 'Front-end message types: VHOST_USER_IOTLB_MSG (id 22)', 'SHOULD', 'frontend',
    'The suite sends IOTLB_MSG only after ACCESS_PLATFORM was negotiated.'),
  r('vhost-user.iotlb.frontend-update-within-regions', 'IOMMU support', 'MUST', 'frontend',
    'The suite sends IOTLB updates whose user address range lies inside the memory table (except in hostile tests).', ['ACCESS_PLATFORM']),
  r('vhost-user.iotlb.frontend-answers-miss', 'Back-end message types: VHOST_USER_BACKEND_IOTLB_MSG (id 1)', 'MUST', 'frontend',
    'When REPLY_ACK is negotiated and a back-end message sets need_reply, the suite answers with 0 on success, non-zero otherwise.', [P('REPLY_ACK')]),

  // ------------------------------------------------------------ front-end rules
  r('vhost-user.frontend.protocol-features-only-if-offered', 'Front-end message types: VHOST_USER_GET_PROTOCOL_FEATURES (id 15)', 'MUST', 'frontend',
    'The suite sends GET/SET_PROTOCOL_FEATURES only when GET_FEATURES reported bit 30.'),
  r('vhost-user.frontend.vring-enable-only-with-protocol-features', 'Front-end message types: VHOST_USER_SET_VRING_ENABLE (id 18)', 'SHOULD', 'frontend',
    'The suite sends SET_VRING_ENABLE only when VHOST_USER_F_PROTOCOL_FEATURES was negotiated.'),
  r('vhost-user.frontend.get-queue-num-only-with-mq', 'Front-end message types: VHOST_USER_GET_QUEUE_NUM (id 17)', 'SHOULD', 'frontend',
    'The suite sends GET_QUEUE_NUM only when the back-end offered VHOST_USER_PROTOCOL_F_MQ.'),
  r('vhost-user.frontend.vring-kick-num-reserved', 'Front-end message types: VHOST_USER_VRING_KICK (id 35)', 'MUST', 'frontend',
    'The suite sends in-band VRING_KICK with state.num 0.', [P('INBAND_NOTIFICATIONS')]),
  r('vhost-user.frontend.close-on-wrong-reply', 'Communication', 'MUST', 'frontend',
    'On a malformed or unexpected reply the suite closes the connection (and records the verdict) rather than continuing.'),

  // ------------------------------------------------------- robustness (de facto)
  r('vhost-user.robust.vring-index-range', `Multiple queue support; de facto: ${DPDK} vhost_user_check_and_alloc_queue_pair(); ${LVU} vu_check_queue_msg_file()`, 'DE_FACTO', 'backend',
    'A vring index at or beyond the queues the back-end supports, including values > 255 and > 65535 in 32-bit index fields, is rejected (error or close), never used.'),
  r('vhost-user.robust.unexpected-fds-closed', `Communication; de facto: ${DPDK} validate_msg_fds(), vhost_user_msg_handler() (accepts_fd); ${LVU} vmsg_close_fds()`, 'DE_FACTO', 'backend',
    'Fds attached to a message that takes none, or more fds than it takes, are closed; repeated such messages leak no fds.'),
  r('vhost-user.robust.fd-count', `Communication; de facto: ${DPDK} validate_msg_fds() in set_mem_table/set_log_base/set_vring_call/set_inflight_fd`, 'DE_FACTO', 'backend',
    'A message with the wrong fd count (SET_MEM_TABLE fds != nregions, missing fd without bit 8, SET_LOG_BASE without exactly one fd) is rejected and its fds closed.'),
  r('vhost-user.robust.bad-header', `Message Specification: Header; de facto: ${DPDK} read_vhost_message(); ${LVU} vu_message_read_default()`, 'DE_FACTO', 'backend',
    'A short header, a size beyond the largest payload or a truncated payload gets an error or a closed connection; a bad version is rejected or ignored; never a crash or hang.'),
  r('vhost-user.robust.unknown-request', `Communication; de facto: ${DPDK} vhost_user_msg_handler() ("not handled"); ${LVU} vu_process_message() default`, 'DE_FACTO', 'backend',
    'An unknown request code gets a failure ack (non-zero) when need_reply is set, otherwise an error or close; its fds are closed.'),
  r('vhost-user.robust.mem-region-overflow', `Memory region description; de facto: ${DPDK} vhost_user_mmap_region() (mmap_offset + memory_size)`, 'DE_FACTO', 'backend',
    'A region whose mmap_offset+size, guest_addr+size or user_addr+size wraps past 2^64 is rejected, never mapped short.'),
  r('vhost-user.robust.log-base-overflow', `Migration; de facto: ${DPDK} vhost_user_set_log_base()`, 'DE_FACTO', 'backend',
    'SET_LOG_BASE whose mmap offset + size wraps 64 bits, or whose payload size is not that of a log description, is rejected and its fd closed.'),
  r('vhost-user.robust.too-many-regions', `Payload: Multiple Memory regions description; de facto: ${DPDK} vhost_user_set_mem_table() (VHOST_MEMORY_MAX_NREGIONS); ${LVU} vu_add_mem_reg() (VHOST_USER_MAX_RAM_SLOTS)`, 'DE_FACTO', 'backend',
    'SET_MEM_TABLE with more than 8 regions, or ADD_MEM_REG beyond the slot limit, is rejected and its fds closed.'),
  r('vhost-user.robust.vring-num', `Front-end message types: VHOST_USER_SET_VRING_NUM (id 8); de facto: ${DPDK} vhost_user_set_vring_num()`, 'DE_FACTO', 'backend',
    'SET_VRING_NUM above 32768, or not a power of two for a split ring, is rejected.'),
  r('vhost-user.robust.inflight-num-queues', `Inflight I/O tracking; de facto: ${DPDK} vhost_user_check_and_alloc_queue_pair() (SET_INFLIGHT_FD), vhost_user_set_inflight_fd()`, 'DE_FACTO', 'backend',
    'SET_INFLIGHT_FD naming more queues than supported, or with a payload size other than the inflight description, is rejected.', [P('INFLIGHT_SHMFD')]),
  r('vhost-user.robust.status-byte', `Front-end message types: VHOST_USER_SET_STATUS (id 39); de facto: ${DPDK} vhost_user_set_status()`, 'DE_FACTO', 'backend',
    'SET_STATUS with a payload above 0xff is rejected (the virtio status is 8 bits).', [P('STATUS')]),
  r('vhost-user.robust.no-leak-on-repeat', `Communication; de facto: ${DPDK} vhost_user_set_vring_num(), vhost_user_get_inflight_fd(), vhost_user_set_log_base() (free previous area before replacing)`, 'DE_FACTO', 'backend',
    'Repeating a configuration message (SET_VRING_NUM, GET_INFLIGHT_FD, SET_LOG_BASE, SET_MEM_TABLE) releases the previous allocation, fd or mapping.'),
  r('vhost-user.robust.survives', `Communication; de facto: ${DPDK} header comment "Security model" (invalid messages must not crash the application)`, 'DE_FACTO', 'backend',
    'Whatever one session sent, the back-end process stays alive and a fresh connection can negotiate and move traffic.'),
];

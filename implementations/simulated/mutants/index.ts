// Named, switchable defects of the simulated device (DESIGN.md
// "implementations/", /work/shared/bug-catalog.md "Mutants"). Each one
// re-creates, at the place in the device code where a real back-end had it,
// a mistake from the bug catalogue, so `vhostcheck mutants` can measure
// whether the suite notices. The device code tests `has(name)` at that place;
// this file is only the catalogue.

/** The mutant operators: the classes of mistake listed at the top of bug-catalog.md. */
export const MISTAKE_CLASSES = {
  'index-bound': 'missing idx < num / id < size checks',
  'loop-bound': 'missing loop or chain-length bounds',
  'integer-overflow': 'integer overflow in addr+len, size+offset, iova+size',
  'partial-translation': 'translating only part of a range',
  'zero-length': 'zero-length descriptors',
  'wrap-arithmetic': 'wrong wrap arithmetic (packed rings need not be a power of two)',
  'dirty-log': 'dirty-log off-by-N',
  'resource-leak': 'fd and allocation leaks per message',
  'uninitialised-bytes': 'uninitialised bytes sent to the peer',
  'ring-state': 'wrong ring-state transitions',
  'avail-runaway': 'available-index runaway (more heads claimed than the ring holds)',
  'torn-index': 'torn (non-atomic) index accesses',
  'head-not-returned': 'heads not returned on error',
  'header-size': 'header-size assumptions that ignore the negotiated features',
  // Two classes the catalogue's rows show although its opening list does not name them: D16 (a
  // notification sent against the front-end's declared wish) and D20 (a request that must be refused
  // accepted: the inconsistent input validation DPDK's security-model commit answers).
  notification: 'used-buffer notifications against the driver\'s or front-end\'s declared wishes',
  'input-validation': 'a request that must be refused is accepted and acted on',
} as const;

export type MistakeClass = keyof typeof MISTAKE_CLASSES;

export interface MutantInfo {
  readonly name: string;
  /** Row of bug-catalog.md this defect re-creates or is closest to (e.g. `L2`, `D14`). */
  readonly catalogueRow: string;
  readonly mistakeClass: MistakeClass;
  /** Requirement ids (spec/requirements) whose checks must catch the mutant. */
  readonly requirementIds: readonly string[];
  /** Set when the defect lives in one device personality only. */
  readonly deviceType?: 'blk' | 'net';
  readonly description: string;
}

const CATALOGUE = [
  // -- descriptor and chain walking ------------------------------------------------
  {
    name: 'split-no-head-bound',
    catalogueRow: 'L2',
    mistakeClass: 'index-bound',
    requirementIds: ['virtio.robust.desc-index-bound', 'virtio.split.used.id-is-head'],
    description: 'A head >= queue size from the avail ring is not rejected: the chain is read at head & (num-1) and completed with the bogus head as used id, instead of setting NEEDS_RESET.',
  },
  {
    name: 'chain-no-loop-bound',
    catalogueRow: 'D13',
    mistakeClass: 'loop-bound',
    requirementIds: ['virtio.robust.chain-loop-bounded', 'virtio.split.used.len-written', 'virtio.robust.write-bound'],
    description: 'The split chain walk has no "more descriptors than the ring" check: a looping chain is followed until a 4 x num iovec array fills, so buffers are written several times and used len exceeds the writable bytes.',
  },
  {
    name: 'indirect-loop-bound-by-ring',
    catalogueRow: 'L11',
    mistakeClass: 'loop-bound',
    requirementIds: ['virtio.robust.indirect-loop-bounded', 'virtio.split.used.len-written'],
    description: 'Loop detection inside an indirect table counts against the ring size instead of len/16, so a looping table of fewer entries than the ring is walked up to num times (repeated buffers, used len too large).',
  },
  {
    name: 'nested-indirect-followed',
    catalogueRow: 'L11',
    mistakeClass: 'loop-bound',
    requirementIds: ['virtio.robust.nested-indirect-rejected'],
    description: 'An INDIRECT descriptor inside an indirect table is followed into the nested table instead of rejecting the chain (a self-referencing table makes the device hang).',
  },
  {
    name: 'indirect-len-unchecked',
    catalogueRow: 'D1',
    mistakeClass: 'index-bound',
    requirementIds: ['virtio.robust.indirect-len-invalid'],
    description: 'An indirect table length that is 0 or not a multiple of 16 is not rejected: the walk reads ceil(len/16) entries (at least one), the last partly beyond the table, and serves the request.',
  },
  {
    name: 'out-after-in-status',
    catalogueRow: 'L6',
    mistakeClass: 'index-bound',
    deviceType: 'blk',
    requirementIds: ['virtio.robust.out-after-in', 'virtio.split.desc.no-write-readable', 'virtio.blk.status-byte'],
    description: 'Readable descriptors after writable ones are accepted, and the blk status byte goes to the last byte of the last iovec whatever its direction: a trailing device-readable buffer gets written.',
  },
  {
    name: 'zero-len-hang',
    catalogueRow: 'L12',
    mistakeClass: 'zero-length',
    requirementIds: ['virtio.robust.zero-len-desc'],
    description: 'Zero-length descriptors are kept in the iovec array and the copy loop makes no progress on them (vringh_kiov_advance): the device hangs.',
  },
  {
    name: 'avail-idx-runaway',
    catalogueRow: 'Q2',
    mistakeClass: 'avail-runaway',
    requirementIds: ['virtio.robust.avail-idx-runaway', 'virtio.split.used.id-is-head'],
    description: 'No "avail idx - last_avail_idx <= num" check: an avail idx far ahead makes the device re-use stale avail ring slots and complete far more requests than the ring holds, without NEEDS_RESET.',
  },
  {
    name: 'avail-idx-torn-read',
    catalogueRow: 'D8',
    mistakeClass: 'torn-index',
    // A torn idx lower than the real one leaves published buffers unseen after their kick.
    requirementIds: ['virtio.robust.avail-idx-runaway', 'virtio.blk.read-after-write', 'vhost-user.ring.start-on-kick.buffers-used'],
    description: 'avail idx is read as two byte loads with the high byte from the previous kick (a torn read racing the driver store): when idx crosses a multiple of 256 the device sees a runaway index and breaks a valid queue.',
  },
  {
    name: 'rejected-head-dropped',
    catalogueRow: 'Q4',
    mistakeClass: 'head-not-returned',
    requirementIds: ['virtio.robust.addr-unmapped', 'virtio.robust.chain-loop-bounded'],
    description: 'A chain rejected while walking it (bad index, loop, bad address, bad indirect table) is skipped without a used entry: its head is never returned to the driver.',
  },
  // -- address translation ----------------------------------------------------------
  {
    name: 'translate-start-only',
    catalogueRow: 'D1',
    mistakeClass: 'partial-translation',
    requirementIds: ['virtio.robust.addr-unmapped', 'virtio.robust.write-bound'],
    description: 'Guest address translation checks only that the first byte is mapped and assumes the rest of the buffer follows in host memory: a buffer running past the end of a region hits the guard after it.',
  },
  {
    name: 'cross-region-contiguous',
    catalogueRow: 'L1',
    mistakeClass: 'partial-translation',
    requirementIds: ['virtio.robust.write-bound', 'virtio.blk.read-after-write'],
    description: 'A buffer crossing a memory-region boundary is checked to be covered, then used as one host range from its start: the second part lands in the guard between the (GPA-contiguous, host-discontiguous) regions.',
  },
  {
    name: 'translate-off-by-one-end',
    catalogueRow: 'L10',
    mistakeClass: 'partial-translation',
    requirementIds: ['virtio.robust.addr-unmapped', 'virtio.blk.read-after-write'],
    description: 'Translation looks up [addr, addr+len] instead of [addr, addr+len-1]: a valid buffer ending exactly at the end of mapped memory is rejected.',
  },
  {
    name: 'addr-len-overflow-unchecked',
    catalogueRow: 'Q4',
    mistakeClass: 'integer-overflow',
    requirementIds: ['virtio.robust.addr-len-overflow'],
    description: 'No addr + len overflow check, and the last byte computed modulo 2^64: a guest-physical buffer wrapping past 2^64 silently becomes empty (the request is served), and through an IOTLB mapping at the top of the IOVA space the device accesses memory beyond the mapping.',
  },
  {
    name: 'iotlb-translate-start-only',
    catalogueRow: 'D1',
    mistakeClass: 'partial-translation',
    // A vhost-user device: the kernel's vhost.iotlb.* ids do not apply. The chain is valid (every byte is
    // mapped, by two entries); what the device reads for the tail is the wrong memory.
    requirementIds: ['virtio.blk.read-after-write', 'virtio.split.used.len-written', 'virtio.robust.addr-unmapped'],
    description: 'IOVA translation uses the IOTLB entry holding the first byte for the whole buffer: the tail beyond that entry is accessed through the front-end address that follows, although the IOTLB does not map it.',
  },
  {
    name: 'iotlb-perm-ignored',
    // D1: the translation checks part of what it must (there the start address only, here the mapping
    // but not the access it grants). The chain model refuses a buffer its mapping does not grant the
    // access for as unmapped for that access, so addr-unmapped is what judges it.
    catalogueRow: 'D1',
    mistakeClass: 'partial-translation',
    requirementIds: ['virtio.robust.addr-unmapped'],
    description: 'IOTLB lookups ignore the entry permission: the device writes through read-only mappings and reads through write-only ones.',
  },
  {
    name: 'iotlb-zero-size-accepted',
    catalogueRow: 'L9',
    mistakeClass: 'integer-overflow',
    requirementIds: ['vhost.iotlb.update-zero-size-rejected'],
    description: 'IOTLB update with size 0 is accepted as the range [iova, iova-1]: for iova 0 that wraps to a mapping of the whole 64-bit space.',
  },
  {
    name: 'iotlb-invalidate-start-only',
    catalogueRow: 'D15',
    mistakeClass: 'partial-translation',
    requirementIds: ['vhost-user.iotlb.invalidate-removes'],
    description: 'IOTLB invalidate removes only entries containing the start address of the range; entries that start inside the range stay usable.',
  },
  // -- rings ---------------------------------------------------------------------
  {
    name: 'packed-wrap-pow2-mask',
    catalogueRow: 'D14',
    mistakeClass: 'wrap-arithmetic',
    // virtio.packed.used.flags-wrap has no oracle of its own: the wrong slot shows as a bogus used id or a lost buffer.
    requirementIds: ['virtio.packed.used.id-is-buffer-id', 'vhost-user.ring.start-on-kick.buffers-used'],
    description: 'Packed ring indices advance as (i + 1) & (num - 1), toggling the wrap counter when the result is 0: correct only for power-of-2 sizes.',
  },
  {
    name: 'packed-size-pow2-required',
    catalogueRow: 'D14',
    mistakeClass: 'wrap-arithmetic',
    // The refusal is judged at the message: SET_VRING_NUM of a valid packed size refused.
    requirementIds: ['vhost-user.reply.required.set-vring-num'],
    description: 'SET_VRING_NUM rejects sizes that are not a power of 2 even when RING_PACKED is negotiated.',
  },
  {
    name: 'packed-wrap-counter-stuck',
    catalogueRow: 'D14',
    mistakeClass: 'wrap-arithmetic',
    requirementIds: ['vhost-user.ring.start-on-kick.buffers-used', 'virtio.robust.write-bound'],
    description: 'The packed ring index wraps to 0 without toggling the avail and used wrap counters: used flags are wrong from the second lap and new buffers are not seen.',
  },
  {
    name: 'packed-used-id-from-first-desc',
    catalogueRow: 'L2',
    mistakeClass: 'head-not-returned',
    requirementIds: ['virtio.packed.used.id-is-buffer-id'],
    description: 'The used descriptor carries the id of the first descriptor of a chain instead of the last (the Buffer ID), so the driver never gets its buffer id back.',
  },
  {
    name: 'packed-event-wrap-ignored',
    catalogueRow: 'D14',
    mistakeClass: 'wrap-arithmetic',
    requirementIds: ['virtio.packed.notify.desc-event'],
    description: 'RING_EVENT_FLAGS_DESC ignores the wrap bit of off_wrap and places the event offset in the current lap: a batch crossing the wrap misses the notification asked for on the next lap.',
  },
  {
    name: 'event-idx-off-by-one',
    catalogueRow: 'D14',
    mistakeClass: 'wrap-arithmetic',
    requirementIds: ['virtio.split.notify.event-idx-must'],
    description: 'vring_need_event is evaluated with used_event + 1, so the device does not notify when it writes the used entry at index used_event.',
  },
  {
    // Was ignore-no-interrupt (always notify): that breaks only "SHOULD NOT send a notification" (virtio 1.2
    // §2.7.7.2), which a default gate rightly passes. A sticky suppression breaks the MUST beside it.
    name: 'no-interrupt-sticky',
    catalogueRow: 'D16',
    mistakeClass: 'notification',
    requirementIds: ['virtio.split.notify.flags-must-notify'],
    description: 'Without EVENT_IDX, once VRING_AVAIL_F_NO_INTERRUPT was seen set the device keeps suppressing: after the driver clears it, the notifications flags 0 makes mandatory never come.',
  },
  {
    name: 'never-notify-flags-zero',
    catalogueRow: 'D16',
    mistakeClass: 'notification',
    requirementIds: ['virtio.split.notify.flags-must-notify'],
    description: 'The NO_INTERRUPT test is inverted: with avail flags 0 the device never notifies (and notifies when the driver asked not to).',
  },
  {
    name: 'call-invalid-fd-notify',
    catalogueRow: 'D16',
    mistakeClass: 'notification',
    // The signal kills the device at the kick that follows: a crash with only valid chains in sight.
    requirementIds: ['vhost-user.vring.call-invalid-fd', 'virtio.robust.survives.valid-chains'],
    description: 'After SET_VRING_CALL with the invalid-fd flag the device still signals the call fd (-1) and dies.',
  },
  // -- vhost-user control plane ----------------------------------------------------
  {
    name: 'vring-index-u16-truncation',
    catalogueRow: 'D4',
    mistakeClass: 'index-bound',
    requirementIds: ['vhost-user.robust.vring-index-range'],
    description: 'The 32-bit vring index is truncated to 16 bits before the range check: index 0x10000 is accepted and acts on vring 0.',
  },
  {
    name: 'get-vring-base-no-stop',
    catalogueRow: 'L21',
    mistakeClass: 'ring-state',
    requirementIds: ['vhost-user.ring.get-vring-base-stops', 'vhost-user.ring.stopped-no-processing'],
    description: 'GET_VRING_BASE returns the index but leaves the ring started: later kicks are still processed.',
  },
  {
    name: 'protocol-features-rings-enabled',
    catalogueRow: 'L21',
    mistakeClass: 'ring-state',
    requirementIds: ['vhost-user.ring.disabled-with-protocol-features'],
    description: 'SET_FEATURES enables every ring even when VHOST_USER_F_PROTOCOL_FEATURES is negotiated, so rings run before SET_VRING_ENABLE(1).',
  },
  {
    name: 'reset-keeps-vring-base',
    catalogueRow: 'L21',
    mistakeClass: 'ring-state',
    requirementIds: ['virtio.status.reset-clears'],
    description: 'Device reset restores every vring field except the avail/used indices and wrap counters: GET_VRING_BASE after reset reports the old progress.',
  },
  {
    name: 'features-ok-accepts-unoffered',
    catalogueRow: 'D20',
    mistakeClass: 'input-validation',
    requirementIds: ['virtio.status.features-ok-refusal'],
    description: 'SET_FEATURES stores bits the device never offered, and FEATURES_OK stays set for that feature set.',
  },
  {
    name: 'set-config-writes-readonly',
    catalogueRow: 'D20',
    mistakeClass: 'input-validation',
    requirementIds: ['vhost-user.config.set-config-readonly'],
    description: 'SET_CONFIG is applied without looking at the flags or the field: a front-end rewrites read-only fields such as the blk capacity or the net link status.',
  },
  {
    name: 'config-uninit-leak',
    catalogueRow: 'L15',
    mistakeClass: 'uninitialised-bytes',
    requirementIds: ['vhost-user.config.get-config'],
    description: 'GET_CONFIG beyond the end of config space is not refused: the reply is built in a reused scratch buffer and the bytes past the config space are stale data from earlier messages.',
  },
  {
    name: 'vring-fd-leak',
    catalogueRow: 'D2',
    mistakeClass: 'resource-leak',
    // The abort comes at a SET_VRING_CALL / SET_VRING_KICK once fds run out: charged to that message.
    requirementIds: ['vhost-user.robust.no-leak-on-repeat', 'vhost-user.reply.required.set-vring-call', 'vhost-user.reply.required.set-vring-kick'],
    description: 'Replacing a kick or call fd never closes the previous one: after a few hundred SET_VRING_KICK/CALL messages the back-end runs out of fds and aborts.',
  },
  // -- dirty logging and memory slots ----------------------------------------------
  {
    name: 'dirty-log-last-page-missed',
    catalogueRow: 'L6',
    mistakeClass: 'dirty-log',
    requirementIds: ['vhost-user.log.mark-dirty'],
    description: 'The pages to log are counted from the buffer length alone, not from its first and last byte: a buffer that starts inside one page and ends in the next leaves the second page clean, so migration loses what the device wrote there.',
  },
  {
    name: 'dirty-log-used-ring-skipped',
    catalogueRow: 'L6',
    mistakeClass: 'dirty-log',
    requirementIds: ['vhost-user.log.used-ring'],
    description: 'Used-ring writes are never logged although the ring has VHOST_VRING_F_LOG: the destination of a migration sees a stale used ring.',
  },
  {
    name: 'log-base-overflow-unchecked',
    catalogueRow: 'D3',
    mistakeClass: 'integer-overflow',
    requirementIds: ['vhost-user.robust.log-base-overflow'],
    description: 'SET_LOG_BASE is accepted although mmap offset + size wraps 64 bits: the log lands outside the mapping and the first logged write is a stray store.',
  },
  {
    name: 'rem-mem-reg-keeps-mapping',
    catalogueRow: 'D1',
    mistakeClass: 'partial-translation',
    requirementIds: ['vhost-user.mem.rem-reg-unmaps', 'virtio.robust.addr-unmapped', 'vhost-user.mem.add-reg-maps'],
    description: 'REM_MEM_REG answers success but leaves the region in the table: buffers in memory the front-end took back are still read and written.',
  },
  // -- inflight I/O tracking -------------------------------------------------------
  {
    name: 'inflight-num-queues-unchecked',
    catalogueRow: 'D9',
    mistakeClass: 'index-bound',
    requirementIds: ['vhost-user.robust.inflight-num-queues'],
    description: 'SET_INFLIGHT_FD uses num_queues from the message to walk the virtqueue array before checking it against the queue count: a num_queues beyond the device\'s queues writes past the array and the back-end dies (SIGSEGV).',
  },
  {
    name: 'inflight-fd-leak',
    catalogueRow: 'D7',
    mistakeClass: 'resource-leak',
    requirementIds: ['vhost-user.robust.no-leak-on-repeat'],
    description: 'A repeated GET_INFLIGHT_FD allocates a new buffer without releasing the previous memfd and mapping: after a few hundred the back-end runs out of fds and aborts.',
  },
  // -- device personalities --------------------------------------------------------
  {
    name: 'used-len-includes-readable',
    catalogueRow: 'L6',
    mistakeClass: 'dirty-log',
    requirementIds: ['virtio.split.used.len-written', 'virtio.packed.used.len-written'],
    description: 'The written-bytes count (what a back-end also logs as dirty) includes the device-readable descriptors, as L6 counted log entries for non-writable descriptors: used len is too large by the readable bytes.',
  },
  {
    name: 'blk-unsupp-ok',
    catalogueRow: 'L15',
    mistakeClass: 'uninitialised-bytes',
    deviceType: 'blk',
    requirementIds: ['virtio.blk.unsupported-type'],
    description: 'Unknown request types complete with VIRTIO_BLK_S_OK, so the driver trusts buffers the device never filled.',
  },
  {
    name: 'blk-sector-u32-wrap',
    catalogueRow: 'D3',
    mistakeClass: 'integer-overflow',
    deviceType: 'blk',
    requirementIds: ['virtio.blk.read-after-write', 'virtio.blk.status-byte'],
    description: 'sector * 512 is computed in 32 bits: sector 0x800000 wraps to offset 0, passes the capacity check and reads or overwrites sector 0 instead of failing with IOERR.',
  },
  {
    name: 'rx-len-unclamped',
    catalogueRow: 'L3',
    mistakeClass: 'index-bound',
    deviceType: 'net',
    requirementIds: ['virtio.robust.write-bound', 'virtio.split.used.len-written'],
    description: 'A received frame larger than the RX buffer is copied whole: the bytes beyond the last writable iovec go to the host memory that follows it, and used len exceeds the buffer.',
  },
  {
    name: 'net-hdr-size-legacy',
    catalogueRow: 'Q6',
    mistakeClass: 'header-size',
    deviceType: 'net',
    // No oracle judges the header size on its own: the 2 bytes it misplaces are num_buffers, and the frame.
    requirementIds: ['virtio.net.num-buffers-one', 'virtio.net.loopback-integrity'],
    description: 'The net header is always taken as the 10-byte legacy struct, even with VERSION_1 (12 bytes): TX frames gain two bytes and RX frames start two bytes early.',
  },
  {
    name: 'net-num-buffers-unset',
    catalogueRow: 'Q5',
    mistakeClass: 'uninitialised-bytes',
    deviceType: 'net',
    requirementIds: ['virtio.net.num-buffers-one'],
    description: 'The RX header is written as the 10-byte legacy struct into the 12-byte header slot: num_buffers keeps whatever the driver left in the buffer instead of 1.',
  },
] as const satisfies readonly MutantInfo[];

export type MutantName = (typeof CATALOGUE)[number]['name'];

export const MUTANTS: readonly (MutantInfo & { readonly name: MutantName })[] = CATALOGUE;

/** Asks whether the device was built with a given defect. */
export type MutantSwitch = (name: MutantName) => boolean;

export function findMutant(name: string): (MutantInfo & { readonly name: MutantName }) | undefined {
  return MUTANTS.find((m) => m.name === name);
}

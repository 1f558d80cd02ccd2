// Used-buffer notification rules (virtio 1.2 §2.7.10 split, §2.8.10 packed).
// Each answers, for one batch of used buffers, whether the device must
// notify, must not / should not, or may.
import {
  VRING_AVAIL_F_NO_INTERRUPT, VRING_PACKED_EVENT_FLAG_DESC, VRING_PACKED_EVENT_FLAG_DISABLE, VRING_PACKED_EVENT_FLAG_ENABLE,
  vringNeedEvent,
} from '../spec/virtio/ring.ts';

export type NotifyRule =
  | { readonly kind: 'must'; readonly requirement: string }
  | { readonly kind: 'should-not'; readonly requirement: string }
  | { readonly kind: 'may' };

/** Split ring, after the used index moved from `oldUsed` to `newUsed` in one batch. */
export function splitNotifyRule(eventIdx: boolean, availFlags: number, usedEvent: number, oldUsed: number, newUsed: number): NotifyRule {
  if (oldUsed === newUsed) return { kind: 'may' };
  if (eventIdx) {
    // "If the idx field in the used ring was equal to used_event, the device MUST send a notification"
    // — for a batch that crossed used_event, some single write made idx == used_event.
    return vringNeedEvent(usedEvent, newUsed, oldUsed)
      ? { kind: 'must', requirement: 'virtio.split.notify.event-idx-must' }
      : { kind: 'should-not', requirement: 'virtio.split.notify.event-idx-should-not' };
  }
  return availFlags & VRING_AVAIL_F_NO_INTERRUPT
    ? { kind: 'should-not', requirement: 'virtio.split.notify.flags-no-interrupt' }
    : { kind: 'must', requirement: 'virtio.split.notify.flags-must-notify' };
}

/**
 * Packed ring, per the driver event suppression structure (§2.8.14).
 * `usedSlots` are the ring positions (with wrap counters) the batch's used
 * buffers cover, skipped slots of a chain included: "Event will only trigger
 * when this descriptor is made ... used" (§2.8.10), and a chain's skipped
 * descriptors are used with it.
 */
export function packedNotifyRule(eventIdx: boolean, flags: number, offWrap: number, usedSlots: readonly { idx: number; wrap: boolean }[]): NotifyRule {
  if (usedSlots.length === 0) return { kind: 'may' };
  const mode = flags & 0x3;
  if (mode === VRING_PACKED_EVENT_FLAG_ENABLE) return { kind: 'must', requirement: 'virtio.packed.notify.disable' };
  if (mode === VRING_PACKED_EVENT_FLAG_DISABLE) return { kind: 'should-not', requirement: 'virtio.packed.notify.disable' };
  if (mode === VRING_PACKED_EVENT_FLAG_DESC && eventIdx) {
    const off = offWrap & 0x7fff;
    const wrap = (offWrap & 0x8000) !== 0;
    return usedSlots.some((s) => s.idx === off && s.wrap === wrap)
      ? { kind: 'must', requirement: 'virtio.packed.notify.desc-event' }
      : { kind: 'should-not', requirement: 'virtio.packed.notify.desc-event' };
  }
  return { kind: 'may' };
}

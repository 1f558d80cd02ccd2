// The harness and the session model charge their observations to vhost-user
// rules (vhost-user.rst). On the ioctl transport (vhost-vdpa) those rules do
// not apply: an observation is charged to the kernel's own rule where one
// says the same thing, and otherwise is not recorded at all. Nothing is
// invented: a failing observation with no kernel counterpart is the suite's
// error, raised as such.
import { violation, type Harm } from '../model/outcome.ts';
import { requirementById } from '../spec/requirements/index.ts';
import type { Verdict } from '../spec/verdicts.ts';

/** vhost-user id → the vhost-vdpa / vhost / virtio rule that says the same on the ioctl transport, with the harm a breach of it is. */
const EQUIVALENT: Readonly<Record<string, { readonly id: string; readonly harm?: Harm }>> = {
  // vhost_vdpa_vring_ioctl(): `if (idx >= v->nvqs) return -ENOBUFS;`
  'vhost-user.robust.vring-index-range': { id: 'vhost-vdpa.vring.index-range' },
  // VHOST_VDPA_GET_STATUS / SET_STATUS carry the virtio status byte (vhost.h).
  'vhost-user.status.get-status': { id: 'vhost-vdpa.status.virtio-bits' },
  // vhost_vdpa_process_iotlb_update(): `!msg->size`, a wrapping or out-of-range IOVA is -EINVAL (the vhost core's own check is not on this path).
  'vhost.iotlb.update-zero-size-rejected': { id: 'vhost-vdpa.iotlb.update-range' },
  // VHOST_IOTLB_INVALIDATE → vhost_vdpa_unmap() removes every mapping overlapping the range.
  'vhost-user.iotlb.invalidate-removes': { id: 'vhost-vdpa.iotlb.invalidate' },
  // A valid chain left unused after a kick on a running ring: the driver waits for it forever (drivers/vhost: a valid chain is processed).
  'vhost-user.ring.start-on-kick.buffers-used': { id: 'virtio.robust.survives.valid-chains', harm: 'hang' },
  // An ioctl "session" ends only with the guest (a crash): charged as the death it is when every chain in sight was valid.
  'vhost-user.ring.start-on-kick.session-kept': { id: 'virtio.robust.survives.valid-chains', harm: 'crash' },
  // VHOST_SET_VRING_CALL with VHOST_FILE_UNBIND detaches the eventfd: nothing is signalled on it any more.
  'vhost-user.vring.call-invalid-fd': { id: 'vhost.vring.file-unbind' },
  // GET_VRING_BASE reads the next avail index (vhost.h); on vhost-vdpa through ops->get_vq_state, without stopping the ring.
  'vhost-user.ring.get-vring-base-stops': { id: 'vhost.vring.get-base' },
  // The ioctl that performs each vhost-user message, and the kernel rule naming when it may fail (a valid one must not).
  'vhost-user.reply.required.set-owner': { id: 'vhost.owner.exclusive' },
  'vhost-user.reply.required.set-features': { id: 'virtio.features.accept-valid-subset' },
  'vhost-user.reply.required.reset': { id: 'vhost-vdpa.status.reset' },
  'vhost-user.reply.required.set-mem-table': { id: 'vhost.mem.region-limit' },
  'vhost-user.reply.required.set-vring-num': { id: 'vhost.vring.num-valid' },
  'vhost-user.reply.required.set-vring-addr': { id: 'vhost.vring.addr-checked' },
  'vhost-user.reply.required.set-vring-base': { id: 'vhost.vring.base-busy' },
  'vhost-user.reply.required.set-vring-kick': { id: 'vhost.vring.file-unbind' },
  'vhost-user.reply.required.set-vring-call': { id: 'vhost.vring.file-unbind' },
  'vhost-user.reply.required.set-vring-err': { id: 'vhost.vring.file-unbind' },
  'vhost-user.reply.required.get-queue-num': { id: 'vhost-vdpa.vqs-count' },
  'vhost-user.reply.required.set-vring-enable': { id: 'vhost-vdpa.enable-after-driver-ok' },
  'vhost-user.reply.required.iotlb-update': { id: 'vhost-vdpa.iotlb.update-range' },
  'vhost-user.reply.required.iotlb-invalidate': { id: 'vhost-vdpa.iotlb.invalidate' },
};

const PASSING: ReadonlySet<Verdict> = new Set(['PASS', 'INFORMATIONAL', 'UNSUPPORTED', 'SKIP']);

/** Whether `id` is a rule of the vhost-user protocol only. */
function vhostUserOnly(id: string): boolean {
  return id.startsWith('vhost-user.') || id === 'vhost.iotlb.update-zero-size-rejected' || id === 'vhost.iotlb.update-uaddr-checked';
}

/**
 * What an observation becomes on the ioctl transport: the same when its rule is not a vhost-user one; the kernel's
 * equivalent, with the verdict that rule's level gives the same harm (model/outcome.ts `violation`); or null (not
 * recorded) for a passing observation of a rule with no kernel counterpart.
 */
export function onIoctl(requirement: string, verdict: Verdict): { requirement: string; verdict: Verdict } | null {
  if (!vhostUserOnly(requirement)) return { requirement, verdict };
  const eq = EQUIVALENT[requirement];
  if (!eq) {
    if (PASSING.has(verdict)) return null;
    throw new Error(`${requirement} (${verdict}) is a vhost-user rule with no vhost-vdpa counterpart, yet the harness charged it on the ioctl transport`);
  }
  if (verdict !== 'FAIL' && verdict !== 'NON_STRICT') return { requirement: eq.id, verdict };
  // A FAIL under a DE_FACTO vhost-user rule was a severe harm (crash, hang, memory safety, corruption): it stays one.
  const severe = verdict === 'FAIL' && requirementById(requirement)?.level === 'DE_FACTO';
  return { requirement: eq.id, verdict: violation(eq.id, eq.harm ?? (severe ? 'memory-safety' : 'deviation')) };
}

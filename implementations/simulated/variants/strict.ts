// The `strict` variant's reading of vhost-user.rst: it refuses everything the
// text lets a back-end refuse. A refusal is an error reply in process, and over
// a socket a non-zero REPLY_ACK when one is due, an empty GET_CONFIG, an
// mmap_size 0 GET_INFLIGHT_FD, or else a closed connection ("Communication":
// "If back-end detects some error such as incompatible features, it may also
// close the connection").
import type { VhostRequest } from '../../../spec/requests.ts';
import { VHOST_VRING_F_LOG } from '../../../spec/vhost/types.ts';
import { VHOST_SET_CONFIG_TYPE_FRONTEND, VHOST_SET_CONFIG_TYPE_MIGRATION } from '../../../spec/vhostUser/payloads.ts';
import { VIRTIO_CONFIG_S_ACKNOWLEDGE, VIRTIO_CONFIG_S_DRIVER, VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_CONFIG_S_FAILED, VIRTIO_CONFIG_S_FEATURES_OK, VIRTIO_CONFIG_S_NEEDS_RESET } from '../../../spec/virtio/status.ts';
import { gateOf, gateOpen } from '../messageGates.ts';

/** What the strict reading depends on: the negotiated words and whether SET_OWNER was taken. */
interface StrictState {
  /** Acked features (0 before SET_FEATURES) and accepted protocol features. */
  readonly features: bigint;
  readonly protocol: bigint;
  readonly owned: boolean;
}

/** virtio 1.2 §2.1 "Device Status Field": the bits it defines; 0x10 and 0x20 have no meaning. */
const DEFINED_STATUS = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_DRIVER_OK | VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_NEEDS_RESET | VIRTIO_CONFIG_S_FAILED;

/** Why the strict device refuses `req`, or null when it takes it as the default device would. */
export function strictRefusal(req: VhostRequest, s: StrictState): string | null {
  const gate = gateOf(req.op);
  // "Communication": "Any protocol extensions are gated by protocol feature bits" — and the messages name the
  // condition: "When ... has been successfully negotiated, this message is submitted" (messageGates.ts).
  if (gate !== undefined && !gate.offeredSuffices && !gateOpen(gate, s)) return `${req.op} before its feature bit ${gate.bit} was negotiated`;
  switch (req.op) {
    case 'setOwner':
      // "VHOST_USER_SET_OWNER": "Issued when a new connection is established. It marks the sender as the front-end
      // that owns of the session." A second one establishes nothing; and "VHOST_USER_RESET_DEVICE": "The back-end
      // retains ownership of the device throughout the reset operation", so one after a reset is a second one too.
      return s.owned ? 'SET_OWNER on a session that already has its owner' : null;
    case 'setVringAddr':
      // "A vring address description": "flags: a 32-bit vring flags", of which only VHOST_VRING_F_LOG ("Migration") is defined.
      return (req.flags & ~(1 << VHOST_VRING_F_LOG)) !== 0 ? `vring flags 0x${req.flags.toString(16)} beyond VHOST_VRING_F_LOG` : null;
    case 'setConfig':
      // "Virtio device config space": "flags: a 32-bit value: 0: ... writable fields, 1: ... live migration"; "The
      // vhost-user back-end must check the flags field".
      return req.flags !== VHOST_SET_CONFIG_TYPE_FRONTEND && req.flags !== VHOST_SET_CONFIG_TYPE_MIGRATION ? `config flags ${req.flags}` : null;
    case 'setStatus':
      // "VHOST_USER_SET_STATUS": the "device status as defined in the Virtio specification"; bits it does not define are no status.
      return (req.status & ~DEFINED_STATUS) !== 0 ? `status 0x${req.status.toString(16)} sets bits virtio does not define` : null;
    default:
      return null;
  }
}

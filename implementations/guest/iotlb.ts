// Device-IOTLB messages on a vhost fd in the guest (include/uapi/linux/vhost_types.h
// struct vhost_msg_v2; drivers/vhost/vhost.c vhost_chr_write_iter() and
// vhost_chr_read_iter(), which vhost-net and vhost-vdpa share): written to
// update or invalidate a mapping, read to learn of a miss.
import { decode, encode, type StructValue } from '../../spec/codec.ts';
import { VHOST_IOTLB_MSG_V2, vhost_msg_v2 } from '../../spec/vhost/types.ts';
import { type AgentClient, errnoName } from './agent.ts';

/** A v2 message without its `type` word, which is always VHOST_IOTLB_MSG_V2 here. */
export type IotlbMessage = Omit<StructValue<typeof vhost_msg_v2>, 'type'>;

export type WriteOutcome =
  | { readonly kind: 'ok'; readonly written: number }
  | { readonly kind: 'error'; readonly errno: string }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'crash' };

/** Writes one v2 message; the kernel answers with its size or an errno. */
export async function writeIotlb(agent: AgentClient, fd: number, msg: IotlbMessage): Promise<WriteOutcome> {
  const r = await agent.write(fd, encode(vhost_msg_v2, { type: VHOST_IOTLB_MSG_V2, ...msg }));
  if (r.kind !== 'ok') return { kind: r.kind };
  return r.result < 0 ? { kind: 'error', errno: errnoName(r.result) } : { kind: 'ok', written: r.result };
}

/** The next message the kernel queued on the fd (a MISS), or null when none comes within `timeoutMs`. */
export async function readIotlb(agent: AgentClient, fd: number, timeoutMs: number): Promise<StructValue<typeof vhost_msg_v2> | null> {
  const r = await agent.read(fd, vhost_msg_v2.size, timeoutMs);
  if (r.kind !== 'ok') throw new Error(`reading the vhost fd: ${r.kind}`);
  if (r.result < 0) {
    if (errnoName(r.result) === 'ETIMEDOUT') return null;
    throw new Error(`reading the vhost fd: ${errnoName(r.result)}`);
  }
  return decode(vhost_msg_v2, r.body);
}

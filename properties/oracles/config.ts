// vhost-user.config.set-config-readonly: a SET_CONFIG that writes a read-only
// field must not be accepted ("VHOST_USER_SET_CONFIG"). Without REPLY_ACK the
// reply cannot say whether it was, so the harness reads the bytes back before
// and after the write, and this oracle compares them.
import type { ConfigField } from '../../spec/virtio/configAccess.ts';
import { fail, type Observation, pass } from './observation.ts';

export const SET_CONFIG_READONLY = 'vhost-user.config.set-config-readonly';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** `before` and `after` are the config bytes at `offset` read around one SET_CONFIG with flags 0; `writable` the fields it may change. */
export function checkConfigUnchanged(offset: number, before: Uint8Array, after: Uint8Array, writable: readonly ConfigField[]): Observation {
  const changed: number[] = [];
  for (let i = 0; i < before.length; i++) {
    const at = offset + i;
    if (before[i] !== after[i] && !writable.some((f) => at >= f.offset && at < f.offset + f.size)) changed.push(at);
  }
  if (changed.length === 0) return pass(SET_CONFIG_READONLY, `config bytes ${offset}..${offset + before.length - 1} unchanged by SET_CONFIG`);
  return fail(SET_CONFIG_READONLY, `SET_CONFIG (flags 0) was applied to read-only config bytes ${changed.join(', ')}: read [${hex(before)}] before it and [${hex(after)}] after`);
}

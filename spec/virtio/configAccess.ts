// Which device configuration fields a driver may write. vhost-user.rst
// "VHOST_USER_SET_CONFIG": back-ends "MUST NOT accept SET_CONFIG for
// read-only configuration space fields unless the live migration bit is set".
import { fieldSize, type FieldSpec } from '../codec.ts';
import { VIRTIO_BLK_F_CONFIG_WCE, virtio_blk_config } from './blk.ts';
import { virtio_net_config } from './net.ts';

export interface ConfigField {
  readonly name: string;
  readonly offset: number;
  readonly size: number;
}

function field(fields: readonly FieldSpec[], name: string): ConfigField {
  const f = fields.find((x) => x.name === name);
  if (f === undefined) throw new Error(`no config field ${name}`);
  return { name, offset: f.offset, size: fieldSize(f) };
}

/**
 * One field per device type that no driver ever writes: blk `capacity` (virtio 1.2 §5.2.5 "Device
 * Initialization": the size "can be read from capacity"; only `writeback` "can be read or set"), net
 * `status` (§5.1.4 "Device configuration layout": link state the device reports). fs config is
 * not in spec/, so fs devices are not probed.
 */
export const READ_ONLY_CONFIG_FIELD: Readonly<Partial<Record<'blk' | 'net' | 'fs', ConfigField>>> = {
  blk: field(virtio_blk_config.fields, 'capacity'),
  net: field(virtio_net_config.fields, 'status'),
};

/** The fields a driver may write with SET_CONFIG flags 0, given the device type and the negotiated features: blk `writeback` with VIRTIO_BLK_F_CONFIG_WCE (§5.2.5). */
export function writableConfigFields(deviceType: 'blk' | 'net' | 'fs', acked: bigint): readonly ConfigField[] {
  if (deviceType === 'blk' && (acked >> BigInt(VIRTIO_BLK_F_CONFIG_WCE)) & 1n) return [field(virtio_blk_config.fields, 'wce')];
  return [];
}

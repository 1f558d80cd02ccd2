// Codec laws for every struct table of spec/vhost/types.ts, plus the layout
// facts the header cross-check cannot see (it compares offsets, not which
// bytes a table leaves to padding or to an unmodelled union member).
import { describe, expect, it } from 'vitest';
import { decode, encode } from '../codec.ts';
import { describeStructLaws } from '../structLaws.ts';
import { structTablesOf } from '../uapi.ts';
import * as types from './types.ts';

const tables = structTablesOf(types);

describe('spec/vhost/types.ts struct tables', () => {
  it('covers every struct of vhost_types.h', () => {
    expect(Object.keys(tables).sort()).toEqual([
      'vhost_iotlb_msg',
      'vhost_memory',
      'vhost_memory_region',
      'vhost_msg',
      'vhost_msg_v2',
      'vhost_scsi_target',
      'vhost_vdpa_config',
      'vhost_vdpa_iova_range',
      'vhost_vring_addr',
      'vhost_vring_file',
      'vhost_vring_state',
    ]);
  });

  it('an fd of -1 (VHOST_FILE_UNBIND) travels as 0xffffffff', () => {
    const bytes = encode(types.vhost_vring_file, { index: 3, fd: 0xffff_ffff });
    expect([...bytes]).toEqual([3, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
    expect(decode(types.vhost_vring_file, bytes).fd | 0).toBe(-1);
  });

  it('vhost_msg and vhost_msg_v2 carry a vhost_iotlb_msg at offset 8 with the same layout', () => {
    const iotlb = { iova: 0x1000n, size: 0x2000n, uaddr: 0x7f00_0000_0000n, perm: types.VHOST_ACCESS_RW, type: types.VHOST_IOTLB_UPDATE };
    const inner = encode(types.vhost_iotlb_msg, iotlb);
    const flat = {
      iotlb_iova: iotlb.iova,
      iotlb_size: iotlb.size,
      iotlb_uaddr: iotlb.uaddr,
      iotlb_perm: iotlb.perm,
      iotlb_type: iotlb.type,
    };
    const v1 = encode(types.vhost_msg, { type: types.VHOST_IOTLB_MSG, ...flat });
    const v2 = encode(types.vhost_msg_v2, { type: types.VHOST_IOTLB_MSG_V2, asid: 5, ...flat });
    expect(v1.subarray(8, 8 + inner.length).equals(inner)).toBe(true);
    expect(v2.subarray(8, 8 + inner.length).equals(inner)).toBe(true);
  });
});

describeStructLaws(tables);

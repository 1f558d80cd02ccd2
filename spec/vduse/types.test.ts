// Codec laws for every struct table of spec/vduse/types.ts, and the facts
// about its union variant tables that the laws alone do not state.
import { describe, expect, it } from 'vitest';
import { decode, encode, type StructSpec } from '../codec.ts';
import { describeStructLaws } from '../structLaws.ts';
import { structTablesOf } from '../uapi.ts';
import * as types from './types.ts';

const tables = structTablesOf(types);

describe('spec/vduse/types.ts struct tables', () => {
  it('covers every struct of vduse.h, unions as one table per variant', () => {
    expect([...new Set(Object.values(tables).map((t) => t.name))].sort()).toEqual([
      'vduse_config_data',
      'vduse_dev_config',
      'vduse_dev_request',
      'vduse_dev_response',
      'vduse_dev_status',
      'vduse_iotlb_entry',
      'vduse_iova_info',
      'vduse_iova_range',
      'vduse_iova_umem',
      'vduse_vq_config',
      'vduse_vq_eventfd',
      'vduse_vq_info',
      'vduse_vq_state',
      'vduse_vq_state_packed',
      'vduse_vq_state_split',
    ]);
  });

  it('variant tables of one C struct agree on its size and on every member they share', () => {
    const byTag = new Map<string, StructSpec[]>();
    for (const t of Object.values(tables)) byTag.set(t.name, [...(byTag.get(t.name) ?? []), t]);
    for (const variants of byTag.values()) {
      expect(new Set(variants.map((v) => v.size)).size).toBe(1);
      const at = new Map<string, string>();
      for (const v of variants) {
        for (const f of v.fields) {
          const where = `${f.offset}:${f.type}`;
          expect(at.get(f.name) ?? where).toBe(where);
          at.set(f.name, where);
        }
      }
    }
  });

  it('a request is framed by its header, then decoded by the variant its type names', () => {
    const wire = encode(types.vduse_dev_request__iova, {
      type: types.VDUSE_UPDATE_IOTLB,
      request_id: 9,
      reserved: new Uint8Array(16),
      iova_start: 0x1000n,
      iova_last: 0x1fffn,
    });
    const head = decode(types.vduse_dev_request, wire, 0, { exact: true });
    expect(head.type).toBe(types.VDUSE_UPDATE_IOTLB);
    expect(decode(types.vduse_dev_request__iova, wire, 0, { exact: true }).iova_last).toBe(0x1fffn);
  });

  it('vduse_vq_state and the response vq_state variants place the split/packed state after the index', () => {
    const packed = { last_avail_counter: 1, last_avail_idx: 7, last_used_counter: 0, last_used_idx: 5 };
    const inner = encode(types.vduse_vq_state_packed, packed);
    const resp = encode(types.vduse_dev_response__vq_state_packed, {
      request_id: 1,
      result: types.VDUSE_REQ_RESULT_OK,
      reserved: new Uint8Array(16),
      vq_state_index: 2,
      vq_state_packed_last_avail_counter: 1,
      vq_state_packed_last_avail_idx: 7,
      vq_state_packed_last_used_counter: 0,
      vq_state_packed_last_used_idx: 5,
    });
    expect(resp.subarray(28, 28 + inner.length).equals(inner)).toBe(true);
  });
});

describeStructLaws(tables);

import { describe, expect, it } from 'vitest';
import { formatGuestTarget, guestKernelArgs, parseGuestTarget } from './spec.ts';

describe('guest: target specs', () => {
  it('parses every target, and the vdpa_sim options into module parameters', () => {
    for (const t of ['vdpa-sim-net', 'vdpa-sim-blk', 'vhost-net', 'vduse-blk', 'vduse-net']) expect(parseGuestTarget(t)).toEqual({ target: t });
    const spec = parseGuestTarget('vdpa-sim-net,batch_mapping=0,use_va=1');
    expect(spec).toEqual({ target: 'vdpa-sim-net', vdpaSim: { batch_mapping: false, use_va: true } });
    if ('problem' in spec) return;
    expect(formatGuestTarget(spec)).toBe('vdpa-sim-net,use_va=1,batch_mapping=0');
    expect(guestKernelArgs(spec)).toEqual(['vdpa_sim.use_va=1', 'vdpa_sim.batch_mapping=0']);
    expect(guestKernelArgs({ target: 'vhost-net' })).toEqual([]);
  });

  it('says what is wrong with a bad one', () => {
    expect(parseGuestTarget(undefined)).toEqual({ problem: expect.stringMatching(/needs the kernel device/) });
    expect(parseGuestTarget('vduse')).toEqual({ problem: expect.stringMatching(/unknown guest target 'vduse'/) });
    expect(parseGuestTarget('vhost-net,use_va=0')).toEqual({ problem: 'guest:vhost-net takes no options' });
    expect(parseGuestTarget('vdpa-sim-net,use_va=2')).toEqual({ problem: 'use_va must be 0 or 1' });
    expect(parseGuestTarget('vdpa-sim-net,use_va=1,use_va=0')).toEqual({ problem: 'use_va given twice' });
    expect(parseGuestTarget('vdpa-sim-net,colour=1')).toEqual({ problem: expect.stringMatching(/unknown vdpa_sim option 'colour'/) });
  });
});

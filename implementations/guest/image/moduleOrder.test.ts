import { describe, expect, it } from 'vitest';
import { loadOrder, moduleName } from './moduleOrder.ts';

describe('module load order', () => {
  const deps: Record<string, string[]> = {
    vhost_vdpa: ['vhost', 'vdpa', 'vhost_iotlb'],
    vhost: ['vhost_iotlb'],
    vhost_iotlb: [],
    vdpa: [],
    vdpa_sim_net: ['vdpa_sim', 'vdpa'],
    vdpa_sim: ['vringh', 'vhost_iotlb', 'vdpa'],
    vringh: ['vhost_iotlb'],
  };
  const dependsOf = (n: string) => deps[n];

  it('puts every module after what its depends= names, each once', () => {
    const order = loadOrder(['vhost_vdpa', 'vdpa_sim_net'], dependsOf);
    expect(new Set(order).size).toBe(order.length);
    expect(order.sort()).toEqual(Object.keys(deps).sort());
    const o = loadOrder(['vhost_vdpa', 'vdpa_sim_net'], dependsOf);
    for (const [m, ds] of Object.entries(deps)) for (const d of ds) expect(o.indexOf(d)).toBeLessThan(o.indexOf(m));
  });

  it('treats - and _ alike and strips the .ko suffixes', () => {
    expect(moduleName('vdpa-sim-net.ko.xz')).toBe('vdpa_sim_net');
    expect(loadOrder(['vhost-iotlb'], dependsOf)).toEqual(['vhost_iotlb']);
  });

  it('names a missing module and who needs it, and refuses a cycle', () => {
    expect(() => loadOrder(['a'], (n) => (n === 'a' ? ['b'] : undefined))).toThrow('module b (needed by a) not found');
    expect(() => loadOrder(['a'], (n) => (n === 'a' ? ['b'] : ['a']))).toThrow(/cycle/);
  });
});

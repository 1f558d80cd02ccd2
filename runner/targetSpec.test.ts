import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VARIANTS } from '../implementations/simulated/variants/index.ts';
import { formatTargetSpec, parseTargetSpec, SIMULATED_DEVICES, SOCKET_DEVICES, SPAWN_PEERS, TargetSpecError, targetName } from './targetSpec.ts';
import { simulatedDevice, targetFactory } from './targets.ts';
import { UsageError } from './usageError.ts';

describe('parseTargetSpec', () => {
  it('parses every documented form', () => {
    expect(parseTargetSpec('simulated')).toEqual({ kind: 'simulated' });
    expect(parseTargetSpec('simulated:mutant=split-no-desc-bound')).toEqual({ kind: 'simulated', mutant: 'split-no-desc-bound' });
    expect(parseTargetSpec('simulated:device=blk')).toEqual({ kind: 'simulated', device: 'blk' });
    expect(parseTargetSpec('simulated:device=net,mutant=m1')).toEqual({ kind: 'simulated', device: 'net', mutant: 'm1' });
    expect(parseTargetSpec('simulated:variant=strict')).toEqual({ kind: 'simulated', variant: 'strict' });
    expect(parseTargetSpec('simulated:device=net,variant=slow,mutant=m1')).toEqual({ kind: 'simulated', device: 'net', variant: 'slow', mutant: 'm1' });
    expect(parseTargetSpec('vhost-user:/run/vu.sock,device=blk')).toEqual({ kind: 'vhost-user', via: 'socket', path: '/run/vu.sock', device: 'blk' });
    expect(parseTargetSpec('vhost-user:/run/a,b.sock,device=fs')).toEqual({ kind: 'vhost-user', via: 'socket', path: '/run/a,b.sock', device: 'fs' });
    expect(parseTargetSpec('vhost-user:spawn=qsd-blk')).toEqual({ kind: 'vhost-user', via: 'spawn', peer: 'qsd-blk' });
    expect(parseTargetSpec('vhost-user:spawn=simulated,device=net,variant=net-1qp')).toEqual({ kind: 'vhost-user', via: 'spawn', peer: 'simulated', device: 'net', variant: 'net-1qp' });
    expect(parseTargetSpec('vhost-vdpa:/dev/vhost-vdpa-0')).toEqual({ kind: 'vhost-vdpa', device: '/dev/vhost-vdpa-0' });
    expect(parseTargetSpec('vduse')).toEqual({ kind: 'vduse' });
    expect(parseTargetSpec('guest:vdpa-sim-net')).toEqual({ kind: 'guest', guest: { target: 'vdpa-sim-net' } });
    expect(parseTargetSpec('guest:vdpa-sim-blk,use_va=0')).toEqual({ kind: 'guest', guest: { target: 'vdpa-sim-blk', vdpaSim: { use_va: false } } });
  });

  it('rejects malformed specs with a one-line typed error', () => {
    const bad = [
      '',
      'qemu',
      'simulated:',
      'simulated:device=fs',
      'simulated:device=net,device=blk',
      'simulated:mutant=',
      'simulated:colour=red',
      'vhost-user:',
      'vhost-user:spawn=qemu',
      // An external socket says nothing about its device type: the spec must (issue 10 item 1).
      'vhost-user:/run/vu.sock',
      'vhost-user:/run/vu.sock,device=scsi',
      'vhost-user:,device=blk',
      'vhost-user:spawn=qsd-blk,device=net',
      'vhost-user:spawn=simulated,mutant=m1',
      'vhost-user:spawn=simulated,variant=nope',
      'simulated:variant=nope',
      'simulated:variant=strict,variant=slow',
      'simulated:device=blk,variant=net-1qp',
      'simulated:device=net,variant=tiny-0',
      'vhost-vdpa',
      'vhost-vdpa:/dev/sda',
      'vduse:x',
      'guest:',
      'guest:simulated',
      'guest:vhost-user:/x.sock',
      'guest:vduse',
      'guest:vhost-net,use_va=0',
    ];
    for (const spec of bad) {
      let caught: unknown;
      try {
        parseTargetSpec(spec);
      } catch (err) {
        caught = err;
      }
      expect(caught, spec).toBeInstanceOf(TargetSpecError);
      expect((caught as Error).message, spec).not.toMatch(/\n/);
      expect((caught as Error).message).toContain(`'${spec}'`);
    }
  });

  it('format is the inverse of parse', () => {
    const simulated = fc.record(
      { device: fc.constantFrom(...SIMULATED_DEVICES), variant: fc.constantFrom(...VARIANTS.filter((v) => v.deviceType === undefined).map((v) => v.name)), mutant: fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,12}$/) },
      { requiredKeys: [] },
    );
    const kernel = fc.oneof(
      fc.constant('vduse'),
      fc.nat(64).map((n) => `vhost-vdpa:/dev/vhost-vdpa-${n}`),
    );
    const spec = fc.oneof(
      simulated.map((o) => formatTargetSpec({ kind: 'simulated', ...o })),
      fc.constantFrom(...SPAWN_PEERS).map((p) => `vhost-user:spawn=${p}`),
      fc.constantFrom(...VARIANTS.map((v) => v.name)).map((v) => `vhost-user:spawn=simulated,variant=${v}`),
      fc.tuple(fc.stringMatching(/^\/[a-z0-9/._,-]{1,30}$/), fc.constantFrom(...SOCKET_DEVICES)).map(([p, d]) => `vhost-user:${p},device=${d}`),
      kernel,
      fc.constantFrom('vdpa-sim-net', 'vdpa-sim-blk,use_va=0,batch_mapping=1', 'vhost-net', 'vduse-blk', 'vduse-net').map((g) => `guest:${g}`),
    );
    fc.assert(
      fc.property(spec, (text) => {
        expect(formatTargetSpec(parseTargetSpec(text))).toBe(text);
      }),
    );
  });
});

describe('targetName', () => {
  it('names the implementation, safe as a file name', () => {
    const cases: [string, string][] = [
      ['simulated', 'simulated'],
      ['simulated:device=blk', 'simulated'],
      ['simulated:mutant=m1', 'simulated-mutant-m1'],
      ['vhost-user:spawn=qsd-blk', 'qsd-blk'],
      ['vhost-user:spawn=simulated', 'vhost-user-simulated'],
      ['vhost-user:/run/my backend.sock,device=blk', 'vhost-user-my-backend'],
      ['vhost-user:/run/my backend.sock,device=net', 'vhost-user-my-backend'],
      ['simulated:variant=strict', 'simulated-variant-strict'],
      ['simulated:device=net,variant=strict', 'simulated-variant-strict'],
      ['simulated:variant=slow,mutant=m1', 'simulated-variant-slow-mutant-m1'],
      ['vhost-user:spawn=simulated,device=net', 'vhost-user-simulated'],
      ['vhost-user:spawn=simulated,variant=slow', 'vhost-user-simulated-variant-slow'],
      ['vhost-vdpa:/dev/vhost-vdpa-2', 'vhost-vdpa-2'],
      ['vduse', 'vduse'],
      ['guest:vduse-blk', 'guest-vduse-blk'],
      ['guest:vdpa-sim-net,use_va=0', 'guest-vdpa-sim-net-use_va-0'],
    ];
    for (const [spec, name] of cases) expect(targetName(parseTargetSpec(spec)), spec).toBe(name);
  });
});

describe('simulated variants behind a spec', () => {
  it('a variant made for one device type picks it when device= is not given', () => {
    expect(simulatedDevice({ variant: 'net-1qp' })).toEqual({ deviceType: 'net', variant: 'net-1qp' });
    expect(simulatedDevice({ variant: 'tiny-0' })).toEqual({ deviceType: 'blk', variant: 'tiny-0' });
    expect(simulatedDevice({ variant: 'strict', device: 'net' })).toEqual({ deviceType: 'net', variant: 'strict' });
    expect(simulatedDevice({})).toEqual({ deviceType: 'blk' });
  });

  it('every variant opens, in process and served, as the device it names', async () => {
    for (const v of VARIANTS) {
      for (const text of [`simulated:variant=${v.name}`, `vhost-user:spawn=simulated,variant=${v.name}`]) {
        const f = targetFactory(parseTargetSpec(text));
        try {
          const t = await f.open();
          expect(t.info.deviceType, text).toBe(v.deviceType ?? 'blk');
          expect(t.info.maxQueueSize, text).toBe(v.personality.maxQueueSize);
          await t.close();
        } finally {
          await f.dispose();
        }
      }
    }
  }, 60_000);

  it('the slow variant gets room to settle; the others keep the defaults', () => {
    expect(targetFactory(parseTargetSpec('simulated')).settleMs).toBe(0);
    expect(targetFactory(parseTargetSpec('simulated:variant=strict')).settleMs).toBe(0);
    expect(targetFactory(parseTargetSpec('simulated:variant=slow')).settleMs).toBeGreaterThanOrEqual(100);
  });

  it('a mutant of another device type is a usage error (exit 2), not a crash', () => {
    expect(() => targetFactory(parseTargetSpec('simulated:device=blk,mutant=rx-len-unclamped'))).toThrow(UsageError);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatTargetSpec, parseTargetSpec, SIMULATED_DEVICES, SPAWN_PEERS, TargetSpecError, targetName } from './targetSpec.ts';

describe('parseTargetSpec', () => {
  it('parses every documented form', () => {
    expect(parseTargetSpec('simulated')).toEqual({ kind: 'simulated' });
    expect(parseTargetSpec('simulated:mutant=split-no-desc-bound')).toEqual({ kind: 'simulated', mutant: 'split-no-desc-bound' });
    expect(parseTargetSpec('simulated:device=blk')).toEqual({ kind: 'simulated', device: 'blk' });
    expect(parseTargetSpec('simulated:device=net,mutant=m1')).toEqual({ kind: 'simulated', device: 'net', mutant: 'm1' });
    expect(parseTargetSpec('vhost-user:/run/vu.sock')).toEqual({ kind: 'vhost-user', via: 'socket', path: '/run/vu.sock' });
    expect(parseTargetSpec('vhost-user:spawn=qsd-blk')).toEqual({ kind: 'vhost-user', via: 'spawn', peer: 'qsd-blk' });
    expect(parseTargetSpec('vhost-vdpa:/dev/vhost-vdpa-0')).toEqual({ kind: 'vhost-vdpa', device: '/dev/vhost-vdpa-0' });
    expect(parseTargetSpec('vduse')).toEqual({ kind: 'vduse' });
    expect(parseTargetSpec('guest:vduse')).toEqual({ kind: 'guest', inner: { kind: 'vduse' } });
    expect(parseTargetSpec('guest:vhost-vdpa:/dev/vhost-vdpa-3')).toEqual({
      kind: 'guest',
      inner: { kind: 'vhost-vdpa', device: '/dev/vhost-vdpa-3' },
    });
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
      'vhost-vdpa',
      'vhost-vdpa:/dev/sda',
      'vduse:x',
      'guest:',
      'guest:simulated',
      'guest:vhost-user:/x.sock',
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
      { device: fc.constantFrom(...SIMULATED_DEVICES), mutant: fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,12}$/) },
      { requiredKeys: [] },
    );
    const kernel = fc.oneof(
      fc.constant('vduse'),
      fc.nat(64).map((n) => `vhost-vdpa:/dev/vhost-vdpa-${n}`),
    );
    const spec = fc.oneof(
      simulated.map((o) => formatTargetSpec({ kind: 'simulated', ...o })),
      fc.constantFrom(...SPAWN_PEERS).map((p) => `vhost-user:spawn=${p}`),
      fc.stringMatching(/^\/[a-z0-9/._-]{1,30}$/).map((p) => `vhost-user:${p}`),
      kernel,
      kernel.map((k) => `guest:${k}`),
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
      ['vhost-user:/run/my backend.sock', 'vhost-user-my-backend'],
      ['vhost-vdpa:/dev/vhost-vdpa-2', 'vhost-vdpa-2'],
      ['vduse', 'vduse'],
      ['guest:vduse', 'guest-vduse'],
    ];
    for (const [spec, name] of cases) expect(targetName(parseTargetSpec(spec)), spec).toBe(name);
  });
});

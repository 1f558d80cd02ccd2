import { describe, expect, it } from 'vitest';
import { classifyCrash, virtfsArg } from './qemu.ts';

describe('guest crash classification from the console', () => {
  it('a panic or oops is a kernel crash, excerpted from its first line', () => {
    const console = 'booting\n[    5.1] sysrq: Trigger a crash\n[    5.2] Kernel panic - not syncing: sysrq triggered crash\n[    5.3] CPU: 0 PID: 60\n';
    const c = classifyCrash(console, 'QEMU exited (status 0)');
    expect(c.kind).toBe('kernel');
    expect(c.summary).toBe('guest kernel crashed: Kernel panic - not syncing: sysrq triggered crash');
    expect(c.excerpt.split('\n')[0]).toMatch(/Kernel panic/);
    expect(classifyCrash('[ 1.0] BUG: kernel NULL pointer dereference, address: 0000000000000008\n', 'x').kind).toBe('kernel');
    expect(classifyCrash('[ 1.0] Oops: general protection fault\n', 'x').kind).toBe('kernel');
  });

  it("the agent's own exit is told apart from a kernel crash", () => {
    const c = classifyCrash('vhostcheck-agent: read from port: EOF\nvhostcheck-init: agent exited with status 1\n', 'QEMU exited (status 0)');
    expect(c.kind).toBe('agent');
    expect(c.excerpt).toMatch(/read from port/);
  });

  it('an exit with a quiet console is still a crash, never a clean end (panic=-1 exits with status 0)', () => {
    const c = classifyCrash('', 'QEMU exited (status 0)');
    expect(c.kind).toBe('exit');
    expect(c.summary).toBe('guest ended unexpectedly: QEMU exited (status 0)');
  });
});

describe('host shares (-virtfs)', () => {
  it('passes tag, path and read-only-ness, and refuses what would break the option list', () => {
    expect(virtfsArg({ tag: 'hostroot', path: '/', readonly: true })).toBe('local,path=/,mount_tag=hostroot,security_model=none,multidevs=remap,readonly=on');
    expect(virtfsArg({ tag: 'work', path: '/tmp/w', readonly: false })).toBe('local,path=/tmp/w,mount_tag=work,security_model=none,multidevs=remap');
    expect(() => virtfsArg({ tag: 'work', path: '/tmp/a,b', readonly: false })).toThrow(/cannot pass through/);
    expect(() => virtfsArg({ tag: 'a=b', path: '/tmp', readonly: false })).toThrow(/cannot pass through/);
  });
});

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseTargetSpec } from './targetSpec.ts';
import { targetFactory } from './targets.ts';

const BIN = fileURLToPath(new URL('../bin/vhostcheck.js', import.meta.url));
const CWD = mkdtempSync(join(tmpdir(), 'vhostcheck-known-targets-'));
afterAll(() => rmSync(CWD, { recursive: true, force: true }));

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: CWD, env: { ...process.env, VHOSTCHECK_DEBUG: '', ...env }, timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.killed ? -1 : Number(err.code)) : 0, stdout, stderr });
    });
  });
}

describe('guest: targets', () => {
  it.concurrent('run --help lists every one, with what it is', async () => {
    const r = await cli(['run', '--help']);
    expect(r.code).toBe(0);
    for (const form of ['guest:vdpa-sim-net|vdpa-sim-blk', 'guest:vhost-net', 'guest:vduse-blk|vduse-net']) expect(r.stdout).toContain(form);
  });

  it.concurrent('without QEMU on PATH, a run says so in one line and exits 2', async () => {
    const r = await cli(['run', '--target', 'guest:vhost-net', '--report-dir', 'no-qemu'], { PATH: '/nonexistent' });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n').at(-1)).toBe("vhostcheck: target 'guest:vhost-net' needs qemu-system-x86_64 (Debian package qemu-system-x86), which is not on PATH");
  });

  it('the factory the engine and replay use reaches each through its kernel interface, booting nothing until asked', async () => {
    const families = { 'guest:vdpa-sim-blk,use_va=0,batch_mapping=0': 'vhost-vdpa', 'guest:vhost-net': 'vhost-net', 'guest:vduse-blk': 'vduse', 'guest:vduse-net': 'vduse' } as const;
    for (const [text, family] of Object.entries(families)) {
      const factory = targetFactory(parseTargetSpec(text));
      expect(factory.kernel?.family, text).toBe(family);
      expect(factory.kernel?.boots, text).toBe(0);
      await factory.dispose();
    }
  });
});

describe('vhost-vdpa: a node of this host', () => {
  it.concurrent('is listed, and reached through the host agent, starting nothing until asked', async () => {
    expect((await cli(['run', '--help'])).stdout).toContain('vhost-vdpa:/dev/vhost-vdpa-N');
    const factory = targetFactory(parseTargetSpec('vhost-vdpa:/dev/vhost-vdpa-0'));
    expect(factory.kernel?.family).toBe('vhost-vdpa');
    expect(factory.kernel?.drivesSteps).toBe(true);
    expect(factory.kernel?.boots).toBe(0);
    await factory.dispose();
  });

  it.concurrent('a node that does not open is one line and exit 2, with what to check', async () => {
    const r = await cli(['run', '--target', 'vhost-vdpa:/dev/vhost-vdpa-4095', '--report-dir', 'no-node']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual(['vhostcheck: cannot open /dev/vhost-vdpa-4095: ENOENT: no such node (is vhost_vdpa loaded, and a vdpa device added with `vdpa dev add`?)']);
  });
});

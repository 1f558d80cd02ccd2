import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { TARGET_FORMS } from './knownTargets.ts';
import { parseTargetSpec } from './targetSpec.ts';
import { targetFactory } from './targets.ts';
import { UsageError } from './usageError.ts';

const BIN = fileURLToPath(new URL('../bin/vhostcheck.js', import.meta.url));
const CWD = mkdtempSync(join(tmpdir(), 'vhostcheck-known-targets-'));
afterAll(() => rmSync(CWD, { recursive: true, force: true }));

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: CWD, env: { ...process.env, VHOSTCHECK_DEBUG: '' }, timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.killed ? -1 : Number(err.code)) : 0, stdout, stderr });
    });
  });
}

// One line naming the target, what exists (the build command) and what does not (a suite run).
const HONEST = /^vhostcheck: target 'guest:[^']+': the guest targets are built \('vhostcheck guest build'\) and smoke-tested, but no conformance suite runs against them yet\n$/;

describe('guest: targets, which no suite can judge yet', () => {
  it.concurrent('run says so in one line, exit 2, before making the report directory', async () => {
    const r = await cli(['run', '--target', 'guest:vdpa-sim-net', '--report-dir', 'report']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(HONEST);
    expect(r.stdout).toBe('');
    expect(existsSync(join(CWD, 'report'))).toBe(false);
  });

  it.concurrent('run --help does not list them among the targets', async () => {
    const r = await cli(['run', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('vhost-user:spawn=PEER');
    expect(r.stdout).not.toContain('guest:');
    expect(TARGET_FORMS.map(([form]) => form).filter((f) => f.startsWith('guest'))).toEqual([]);
  });

  it('every guest form gets the same answer from the factory the engine and replay use', () => {
    for (const text of ['guest:vdpa-sim-blk,use_va=0,batch_mapping=0', 'guest:vhost-net', 'guest:vduse-blk', 'guest:vduse-net']) {
      let thrown: unknown;
      try {
        targetFactory(parseTargetSpec(text));
      } catch (e) {
        thrown = e;
      }
      expect(thrown, text).toBeInstanceOf(UsageError);
      expect(`vhostcheck: ${(thrown as Error).message}\n`, text).toMatch(HONEST);
    }
  });
});

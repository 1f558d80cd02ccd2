import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const CLI = join(import.meta.dirname, '..', '..', '..', 'bin', 'vhostcheck.js');

describe('vhostcheck guest build', () => {
  it('names the missing Debian package in one line and exits 2', () => {
    const cache = mkdtempSync(join(tmpdir(), 'vhostcheck-guest-'));
    try {
      // No apt-get (nor anything else) on PATH: the first host tool checked is missing.
      const r = spawnSync(process.execPath, [CLI, 'guest', 'build'], { env: { PATH: '/nonexistent', XDG_CACHE_HOME: cache, HOME: cache }, encoding: 'utf8', timeout: 30_000 });
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toEqual(['vhostcheck: apt-get not found: install the Debian package apt to build the guest']);
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });

  it('refuses an unknown subcommand with exit 2', () => {
    const r = spawnSync(process.execPath, [CLI, 'guest', 'boot'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/only subcommand is 'guest build'/);
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { builtGuest } from './testGuest.ts';

describe('guest tests without a built guest', () => {
  const cache = mkdtempSync(join(tmpdir(), 'vhostcheck-noguest-'));
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('skip with a one-line reason normally', async () => {
    vi.stubEnv('XDG_CACHE_HOME', cache);
    vi.stubEnv('VHOSTCHECK_GUEST_REQUIRED', '');
    const info = vi.spyOn(console, 'info').mockImplementation(() => {});
    expect(await builtGuest('some guest test')).toBeUndefined();
    expect(info).toHaveBeenCalledWith(expect.stringMatching(/^some guest test skipped: (the guest is not built|qemu-system-x86_64 not installed)/));
    info.mockRestore();
  });

  it('fail under VHOSTCHECK_GUEST_REQUIRED=1, so CI cannot pass them by skipping', async () => {
    vi.stubEnv('XDG_CACHE_HOME', cache);
    vi.stubEnv('VHOSTCHECK_GUEST_REQUIRED', '1');
    await expect(builtGuest('some guest test')).rejects.toThrow(/VHOSTCHECK_GUEST_REQUIRED=1/);
    rmSync(cache, { recursive: true, force: true });
  });
});

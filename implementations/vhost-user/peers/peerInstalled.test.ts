import { afterEach, describe, expect, it, vi } from 'vitest';
import { peerInstalled } from './peerInstalled.ts';

describe('peerInstalled', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('is true for a binary that is there', () => {
    expect(peerInstalled('/bin/sh', 'dash', 'x')).toBe(true);
  });

  it('skips (false) without the binary outside CI, and is an error under CI', () => {
    vi.stubEnv('CI', '');
    vi.spyOn(console, 'info').mockImplementation(() => {});
    expect(peerInstalled('/nonexistent/peer', 'some-package', 'peer tests')).toBe(false);
    vi.stubEnv('CI', 'true');
    expect(() => peerInstalled('/nonexistent/peer', 'some-package', 'peer tests')).toThrow('peer tests: /nonexistent/peer not installed (Debian package some-package), which CI installs');
  });
});

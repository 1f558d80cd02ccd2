import { describe, expect, it } from 'vitest';
import { checkConfigUnchanged, SET_CONFIG_READONLY } from './config.ts';

describe('checkConfigUnchanged', () => {
  const capacity = Uint8Array.from([0, 8, 0, 0, 0, 0, 0, 0]);

  it('passes when the read-only bytes read back as before', () => {
    expect(checkConfigUnchanged(0, capacity, Uint8Array.from(capacity), [])).toMatchObject({ requirement: SET_CONFIG_READONLY, verdict: 'PASS' });
  });

  it('fails when a read-only byte changed, naming it', () => {
    const after = Uint8Array.from(capacity);
    after[1] = 0xff;
    const o = checkConfigUnchanged(0, capacity, after, []);
    expect(o.verdict).toBe('FAIL');
    expect(o.detail).toContain('bytes 1:');
  });

  it('allows a change inside a writable field only', () => {
    const before = Uint8Array.from([0, 0, 0]);
    const wce = [{ name: 'wce', offset: 32, size: 1 }];
    expect(checkConfigUnchanged(32, before, Uint8Array.from([1, 0, 0]), wce).verdict).toBe('PASS');
    expect(checkConfigUnchanged(32, before, Uint8Array.from([1, 1, 0]), wce).verdict).toBe('FAIL');
  });
});

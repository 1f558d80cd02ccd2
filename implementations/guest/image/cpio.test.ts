import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cpioNewc } from './cpio.ts';

describe('newc cpio writer', () => {
  const archive = cpioNewc([
    { kind: 'dir', path: 'bin' },
    { kind: 'file', path: '/bin/hello', data: Buffer.from('hi\n'), mode: 0o755 },
    { kind: 'symlink', path: 'bin/sh', target: 'busybox' },
  ]);

  it('aligns every header and ends with the trailer', () => {
    expect(archive.subarray(0, 6).toString()).toBe('070701');
    expect(archive.length % 4).toBe(0);
    expect(archive.includes(Buffer.from('TRAILER!!!\0'))).toBe(true);
    // The file's data starts on a 4-byte boundary right after its padded header+name.
    const at = archive.indexOf(Buffer.from('hi\n'));
    expect(at % 4).toBe(0);
  });

  it.runIf(existsSync('/bin/busybox'))('is what busybox cpio reads back (names, modes, link target)', () => {
    const listing = execFileSync('/bin/busybox', ['cpio', '-tv'], { input: archive, stdio: ['pipe', 'pipe', 'ignore'] }).toString();
    expect(listing).toMatch(/^drwxr-xr-x .* bin$/m);
    expect(listing).toMatch(/^-rwxr-xr-x .* 3 .* bin\/hello$/m);
    expect(listing).toMatch(/^lrwxrwxrwx .* bin\/sh -> busybox$/m);
  });

  it('gives equal bytes for equal entries (cache key stability)', () => {
    expect(cpioNewc([{ kind: 'file', path: 'a', data: Buffer.from('x') }]).equals(cpioNewc([{ kind: 'file', path: 'a', data: Buffer.from('x') }]))).toBe(true);
  });
});

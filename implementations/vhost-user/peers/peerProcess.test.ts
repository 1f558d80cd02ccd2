import { describe, expect, it } from 'vitest';
import { lastLogNote } from '../../target.ts';
import { lastLine, PeerLog, PeerProcess } from './peerProcess.ts';

describe('lastLine', () => {
  it('is the last non-empty line, trimmed and cut to 200 characters', () => {
    expect(lastLine('one\ntwo  \n\n \n')).toBe('two');
    expect(lastLine('')).toBeUndefined();
    expect(lastLine(`x\n${'y'.repeat(500)}`)).toHaveLength(200);
  });
});

describe('PeerProcess health of a back-end that died', () => {
  it('carries its last log line, and the CRASH detail quotes it', async () => {
    const p = new PeerProcess('/bin/sh', ['-c', 'echo starting; echo "vu_panic: Looped descriptor" >&2; kill -SEGV $$'], new PeerLog());
    await p.stop(5000, 1000);
    const h = p.health();
    expect(h).toMatchObject({ state: 'exited', signal: 'SIGSEGV', lastLog: 'vu_panic: Looped descriptor' });
    if (h.state !== 'exited') throw new Error('not exited');
    expect(lastLogNote(h)).toBe('; its last log line: "vu_panic: Looped descriptor"');
    expect(lastLogNote({ state: 'exited', code: 1, signal: null })).toBe('');
  });
});

// `vhostcheck serve` tells the user it is up, where, and what it serves, and
// notes each session: a back-end that printed nothing looked hung.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UnixSocket } from '../native/index.ts';
import { serve } from './serve.ts';

describe('serve', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vhostcheck-serve-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function until(lines: readonly string[], pattern: RegExp): Promise<void> {
    const deadline = Date.now() + 5000;
    while (!lines.some((l) => pattern.test(l))) {
      if (Date.now() > deadline) throw new Error(`no line matching ${pattern} in ${JSON.stringify(lines)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  it('prints where it listens with device and variant, a line per session, and a last line when stopped', async () => {
    const socketPath = join(dir, 'net.sock');
    const lines: string[] = [];
    const stop = new AbortController();
    const served = serve({ socketPath, targetSpec: 'simulated:device=net', signal: stop.signal, write: (l) => lines.push(l) });
    await until(lines, /^listening/);
    expect(lines).toEqual([`listening on ${socketPath} (net, default)`]);
    UnixSocket.connect(socketPath).close();
    await until(lines, /^session 1: closed$/);
    stop.abort();
    await served;
    expect(lines).toEqual([`listening on ${socketPath} (net, default)`, 'session 1: connected', 'session 1: closed', 'stopped; 1 session served']);
  });
});

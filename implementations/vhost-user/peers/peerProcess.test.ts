import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
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

/** The process group of `pid` (field 5 of /proc/PID/stat, after the parenthesised command). */
function processGroup(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
}

const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));

describe('PeerProcess and the terminal', () => {
  it("runs the back-end in a process group of its own, so a terminal's Ctrl-C does not reach it", async () => {
    const p = new PeerProcess('/bin/sh', ['-c', 'sleep 30'], new PeerLog());
    try {
      const pid = p.child.pid!;
      expect(processGroup(pid)).toBe(pid);
      expect(processGroup(pid)).not.toBe(processGroup(process.pid));
    } finally {
      await p.stop(0, 1000);
    }
  });

  it('stop ends everything the back-end started in its group, not only the process it spawned', async () => {
    const log = new PeerLog();
    // The shell prints its background child's pid, then waits; SIGTERM to the shell alone leaves the sleep behind.
    const p = new PeerProcess('/bin/sh', ['-c', 'sleep 30 & echo $!; wait'], log);
    const deadline = Date.now() + 5000;
    while (!/^\d+\n/.test(log.text) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const grandchild = Number(log.text.trim());
    expect(alive(grandchild)).toBe(true);
    await p.stop(0, 1000);
    await new Promise((r) => setTimeout(r, 100));
    expect(alive(grandchild)).toBe(false);
  });
});

describe('PeerProcess when vhostcheck exits without stopping it', () => {
  it('is killed by the exit hook (a second Ctrl-C exits at once, without cleanup)', async () => {
    const peer = new URL('./peerProcess.ts', import.meta.url).pathname;
    // A process that starts a back-end, prints its pid and exits without stopping it.
    const script = `import { PeerLog, PeerProcess } from ${JSON.stringify(peer)}; const p = new PeerProcess('/bin/sleep', ['30'], new PeerLog()); console.log(p.child.pid); process.exit(0);`;
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { timeout: 20_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
    });
    const pid = Number(out.trim());
    expect(pid).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 100));
    expect(alive(pid)).toBe(false);
  });
});

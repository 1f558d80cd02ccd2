// `vhost-vdpa:/dev/vhost-vdpa-N` end to end, on a machine that has the node:
// this host has none, so the CLI, from this checkout, runs inside the QEMU
// guest next to a vdpa_sim device (implementations/guest/hostRun.ts), and the
// suite reaches the node through the host's agent process exactly as on a
// vendor's machine. Skipped with a reason when the guest is not built.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runOnGuestAsHost } from '../guest/hostRun.ts';
import { builtGuest, withGuestLock } from '../guest/testGuest.ts';

const image = await builtGuest('the vhost-vdpa host target tests');
const REPO = fileURLToPath(new URL('../..', import.meta.url));
/** Boot (~4 s), node and tsx starting under TCG (~10 s), the run itself. */
const RUN_MS = 240_000;
/** This very node, by its host path (the guest sees the host's files at their paths): PATH inside need not have it. */
const NODE = `'${process.execPath}'`;

interface Report {
  readonly target: { readonly spec: string; readonly name: string; readonly kind: string; readonly deviceType: string };
  readonly profile: Readonly<Record<string, unknown>>;
  readonly suites: readonly { readonly name: string; readonly steps: number }[];
  readonly results: readonly { readonly id: string; readonly verdict: string }[];
}

/**
 * `vhostcheck run` on /dev/vhost-vdpa-0 in a guest whose one vdpa device is of `deviceType`, then `then` (more shell);
 * the run's exit status, its report and the whole output.
 */
async function runOnNode(deviceType: 'net' | 'blk', args: string, then = ''): Promise<{ status: number; report: Report; log: string }> {
  const script = `cd '${REPO}' && ${NODE} bin/vhostcheck.js run --target vhost-vdpa:/dev/vhost-vdpa-0 --seed 1 --report-dir "$TMPDIR/report" --regression-dir "$TMPDIR/regressions" ${args}\necho "vhostcheck exit $?"\n${then}`;
  const r = await withGuestLock(() => runOnGuestAsHost({ image: image!, deviceType, script, timeoutMs: RUN_MS }));
  try {
    const log = readFileSync(join(r.workDir, 'run.log'), 'utf8');
    expect(r.crash, r.console.slice(-2000)).toBeUndefined();
    const status = Number(/vhostcheck exit (\d+)/.exec(log)?.[1] ?? Number.NaN);
    return { status, report: JSON.parse(readFileSync(join(r.workDir, 'report', 'index.json'), 'utf8')) as Report, log };
  } finally {
    rmSync(r.workDir, { recursive: true, force: true });
  }
}

const verdictOf = (report: Report, id: string) => report.results.find((x) => x.id === id)?.verdict;

describe.skipIf(!image)('vhost-vdpa:/dev/vhost-vdpa-0 on a machine that has it (inside the guest)', () => {
  it('net: the kernel suites and the data path run through the host agent; the device id picks net; the known vhost-vdpa finding is found, and its saved case replays', async () => {
    const replay = `${NODE} bin/vhostcheck.js replay "$TMPDIR"/regressions/vhost-vdpa-0--vhost.vring.num-immutable--*.json\necho "replay exit $?"\n`;
    const { status, report, log } = await runOnNode('net', '--suite vdpa-control,split-datapath --runs 5', replay);
    expect(report.target).toMatchObject({ spec: 'vhost-vdpa:/dev/vhost-vdpa-0', name: 'linux vhost-vdpa /dev/vhost-vdpa-0', kind: 'kernel', deviceType: 'net' });
    expect(report.profile).toMatchObject({ family: 'vhost-vdpa', deviceId: 1, transport: 'ioctl' });
    expect(report.suites.map((s) => s.name).sort()).toEqual(['split-datapath', 'vdpa-control']);
    for (const s of report.suites) expect(s.steps, s.name).toBeGreaterThan(0);
    // Judged through the node: vhost-vdpa's own rules, the vhost core's, and the split ring's on the data path.
    for (const id of ['vhost-vdpa.open-exclusive', 'vhost-vdpa.status.reset', 'vhost.owner.exclusive', 'virtio.split.used.len-written']) expect(verdictOf(report, id), id).toBe('PASS');
    // The same finding as guest:vdpa-sim-net (reports/linux-vdpa-sim-net.md): SET_VRING_NUM is taken on a running ring.
    expect(verdictOf(report, 'vhost.vring.num-immutable')).toBe('FAIL');
    expect(log).toMatch(/replay: npx vhostcheck replay \S+\/regressions\/vhost-vdpa-0--vhost\.vring\.num-immutable--/);
    expect(status).toBe(1);
    // The saved case, replayed on the node by a fresh process: the same requirement, the same verdict.
    expect(log).toMatch(/reproduced: FAIL vhost\.vring\.num-immutable/);
    expect(log).toMatch(/1 reproduced, 0 reproduced differently, 0 did not reproduce\nreplay exit 0/);
  }, RUN_MS + 30_000);

  it('blk: the device id picks blk, and a gate with the finding expected is green', async () => {
    const { status, report } = await runOnNode('blk', '--suite vdpa-control --runs 3 --expectations expectations/guest-vdpa-sim-blk.json');
    expect(report.target).toMatchObject({ name: 'linux vhost-vdpa /dev/vhost-vdpa-0', deviceType: 'blk' });
    expect(report.profile).toMatchObject({ family: 'vhost-vdpa', deviceId: 2 });
    expect(verdictOf(report, 'vhost-vdpa.config.bounds')).toBe('PASS');
    expect(status).toBe(0);
  }, RUN_MS + 30_000);
});

// `vhostcheck replay FILE` runs a saved case to its own requirement. Against DPDK testpmd every set-up
// fails virtio.features.dependencies-offered (HOST_ECN offered without TSO4/6); a replay that stopped at
// the first failure would never reach what a DPDK case was saved for.
import { describe, expect, it } from 'vitest';
import { TESTPMD_PATH } from '../implementations/vhost-user/peers/dpdk.ts';
import { peerInstalled } from '../implementations/vhost-user/peers/peerInstalled.ts';
import { replayFiles } from './replay.ts';

const CASE = 'corpus/regressions/dpdk-net--vhost-user.ring.start-on-kick--b96a08e411.json';

// Skipped only without testpmd, and never under CI (peerInstalled); a missing case file is a failure, not a skip.
describe.skipIf(!peerInstalled(TESTPMD_PATH, 'dpdk-dev', 'replay against testpmd'))('replay against DPDK testpmd', () => {
  it("reaches the case's own requirement past a failure every set-up shows, and reports both", async () => {
    const [replayed] = (await replayFiles([CASE], { signal: new AbortController().signal, onProgress: () => {} })).cases;
    expect(replayed).toMatchObject({ file: CASE, requirement: 'vhost-user.ring.start-on-kick', outcome: 'reproduced' });
    // The case's own rule, now checked by a finer id under it, and the deviation every set-up shows.
    expect(replayed.own).toMatchObject({ requirement: 'vhost-user.ring.start-on-kick.buffers-used', verdict: 'FAIL' });
    expect(replayed.others.map((s) => [s.requirement, s.verdict])).toEqual([['virtio.features.dependencies-offered', 'FAIL']]);
  }, 30_000);
});

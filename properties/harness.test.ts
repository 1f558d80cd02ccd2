// The harness's judgement of socket-like and asynchronous targets, on the
// simulated device wrapped to behave like them: a back-end that drops the
// session after a kick, and one whose kick is handled late (a busy-polling
// or event-driven back-end that finds chains published after the kick).
import { describe, expect, it } from 'vitest';
import { createSimulatedTarget } from '../implementations/simulated/index.ts';
import type { Target } from '../implementations/target.ts';
import type { Profile } from '../model/profile.ts';
import { probeTarget } from '../runner/profile.ts';
import type { Reply, VhostRequest } from '../spec/requests.ts';
import { VIRTIO_BLK_T_IN } from '../spec/virtio/blk.ts';
import { Harness } from './harness.ts';
import type { SetupStep, Step } from './steps.ts';

const SETUP: SetupStep = { t: 'setup', packed: false, eventIdx: false, indirect: false, inOrder: false, platform: false, num: 4 };
const READ: Step = { t: 'blk', queue: 0, type: VIRTIO_BLK_T_IN, sector: 0n, data: new Uint8Array(0), readLen: 512, layout: { cuts: [], indirect: false, crossRegion: false } };

/** A target whose session ends (every later request: connection closed) once a kick has been handled. */
function dropsSessionAfterKick(inner: Target): Target {
  let dropped = false;
  return {
    info: inner.info, memory: inner.memory, health: () => inner.health(), close: () => inner.close(), waitCall: (q, ms) => inner.waitCall(q, ms),
    send: async (req: VhostRequest): Promise<Reply> => (dropped ? { closed: true } : inner.send(req)),
    kick: async (q) => {
      await inner.kick(q);
      dropped = true;
    },
  };
}

/** A target that handles a kick only when the next request arrives: it then sees chains published after the kick. */
function lateKick(inner: Target): Target {
  const due: number[] = [];
  const run = async () => {
    for (const q of due.splice(0)) await inner.kick(q);
  };
  return {
    info: inner.info, memory: inner.memory, health: () => inner.health(), close: () => inner.close(),
    waitCall: async (q, ms) => inner.waitCall(q, ms),
    send: async (req) => {
      await run();
      return inner.send(req);
    },
    kick: async (q) => {
      due.push(q);
    },
  };
}

async function harness(wrap: (t: Target) => Target, profileOverride: Partial<Profile>, settleMs: number, mutant?: string) {
  const open = async () => wrap(createSimulatedTarget({ deviceType: 'blk', ...(mutant && { mutant }) }));
  const { profile } = await probeTarget({ open });
  const target = await open();
  return new Harness(target, { ...profile, ...profileOverride }, { settleMs, failsRun: () => false });
}

const bad = (h: Harness) => h.observations.filter((o) => o.verdict !== 'PASS').map((o) => `${o.verdict} ${o.requirement}`);

describe('a session the back-end drops after a kick (socket targets)', () => {
  it('is a failure to process when every chain was valid', async () => {
    const h = await harness(dropsSessionAfterKick, { errorsAlwaysVisible: false }, 0);
    for (const s of [SETUP, READ, { t: 'kick', queue: 0 } as const]) await h.exec(s);
    expect(bad(h)).toContain('FAIL vhost-user.ring.start-on-kick');
  });

  it('is a refusal when the back-end could see an invalid chain', async () => {
    const h = await harness(dropsSessionAfterKick, { errorsAlwaysVisible: false }, 0);
    for (const s of [SETUP, { t: 'hostile', queue: 0, addr: 'unmapped', indirect: false } as const, { t: 'kick', queue: 0 } as const]) await h.exec(s);
    expect(bad(h)).toEqual([]);
    expect(h.observations).toContainEqual(expect.objectContaining({ requirement: 'virtio.robust.addr-unmapped', verdict: 'PASS', detail: 'refused by closing the session' }));
  });
});

describe('an asynchronous back-end that takes chains late', () => {
  const steps: Step[] = [SETUP, { t: 'kick', queue: 0 }, READ, { t: 'stopRing', queue: 0 }, { t: 'restartRing', queue: 0 }, { t: 'kick', queue: 0 }];

  it('may report a chain published after a kick as taken when the ring stops, and is not charged for using it', async () => {
    const h = await harness(lateKick, {}, 20);
    for (const s of steps) await h.exec(s);
    expect(bad(h)).toEqual([]);
    expect(h.observations).toContainEqual(expect.objectContaining({ requirement: 'vhost-user.ring.get-vring-base-stops', verdict: 'PASS' }));
  });

  it('is still charged for a chain used on a ring that was never enabled', async () => {
    const h = await harness(lateKick, {}, 20, 'protocol-features-rings-enabled');
    for (const s of [{ ...SETUP, enableRings: false }, READ, { t: 'kick', queue: 0 } as const, { t: 'control', req: { op: 'getFeatures' } } as const, { t: 'kick', queue: 0 } as const]) await h.exec(s);
    expect(bad(h)).toContain('FAIL vhost-user.ring.disabled-with-protocol-features');
  });
});

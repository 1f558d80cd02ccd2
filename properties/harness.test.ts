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
import { VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT } from '../spec/virtio/blk.ts';
import { VRING_DESC_F_WRITE } from '../spec/virtio/ring.ts';
import { VHOST_USER_PROTOCOL_F_REPLY_ACK } from '../spec/vhostUser/protocolFeatures.ts';
import { putU16, u16At } from './driver/guestAccess.ts';
import { Harness, ringSize } from './harness.ts';
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

/**
 * qsd's race: a kick handled only after later requests, whose chain makes the back-end drop the session,
 * seen first by the control message after the kick and its probe.
 */
function dropsSessionAtGetVringBase(inner: Target): Target {
  let dropped = false;
  return {
    info: inner.info, memory: inner.memory, health: () => inner.health(), close: () => inner.close(), waitCall: (q, ms) => inner.waitCall(q, ms),
    send: async (req: VhostRequest): Promise<Reply> => {
      dropped ||= req.op === 'getVringBase';
      return dropped ? { closed: true } : inner.send(req);
    },
    kick: async () => {},
  };
}

/**
 * A back-end that polls its rings instead of waiting for kicks (DPDK): a kick is noticed only when the
 * next request arrives, and the device then works through every ring, transmit first, signalling as it goes.
 */
function pollsLate(inner: Target): Target {
  let due = false;
  return {
    info: inner.info, memory: inner.memory, health: () => inner.health(), close: () => inner.close(),
    waitCall: async (q, ms) => inner.waitCall(q, ms),
    send: async (req) => {
      if (due) {
        due = false;
        await inner.kick(1);
        await inner.kick(0);
      }
      return inner.send(req);
    },
    kick: async () => {
      due = true;
    },
  };
}

async function harness(wrap: (t: Target) => Target, profileOverride: Partial<Profile>, settleMs: number, mutant?: string, deviceType: 'blk' | 'net' = 'blk') {
  const open = async () => wrap(createSimulatedTarget({ deviceType, ...(mutant && { mutant }) }));
  const { profile } = await probeTarget({ open });
  const target = await open();
  return new Harness(target, { ...profile, ...profileOverride }, { settleMs, failsRun: () => false });
}

const bad = (h: Harness) => h.observations.filter((o) => o.verdict !== 'PASS').map((o) => `${o.verdict} ${o.requirement}`);

describe('a session the back-end drops after a kick (socket targets)', () => {
  it('is a failure to process when every chain was valid', async () => {
    const h = await harness(dropsSessionAfterKick, { transport: 'vhost-user' }, 0);
    for (const s of [SETUP, READ, { t: 'kick', queue: 0 } as const]) await h.exec(s);
    expect(bad(h)).toContain('FAIL vhost-user.ring.start-on-kick.session-kept');
  });

  it('is a refusal when the back-end could see an invalid chain', async () => {
    const h = await harness(dropsSessionAfterKick, { transport: 'vhost-user' }, 0);
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

const NET_LAYOUT = { cuts: [], indirect: false, crossRegion: false } as const;
const frame = (n: number, from: number) => Uint8Array.from({ length: n }, (_, k) => (from + k) & 0xff);

describe('net loopback: which frame an RX buffer carries', () => {
  // Frame A does not fit the only RX buffer and is dropped (§5.1.6.3: one chain per packet without
  // MRG_RXBUF); frame B fits and arrives. The oracle must recognise B whatever the header says.
  const steps: Step[] = [
    SETUP,
    { t: 'netRx', size: 26, layout: NET_LAYOUT },
    { t: 'netTx', frame: frame(100, 0x40), layout: NET_LAYOUT },
    { t: 'netTx', frame: frame(14, 0), layout: NET_LAYOUT },
    { t: 'kick', queue: 1 },
  ];

  it('charges a header without num_buffers to virtio.net.num-buffers-one only, not to the frame it carries', async () => {
    const h = await harness((t) => t, {}, 0, 'net-num-buffers-unset', 'net');
    for (const s of steps) await h.exec(s);
    expect(bad(h)).toEqual(['FAIL virtio.net.num-buffers-one']);
    expect(h.observations).toContainEqual(expect.objectContaining({ requirement: 'virtio.net.loopback-integrity', verdict: 'PASS' }));
  });

  it('still fails virtio.net.loopback-integrity when the buffer carries no frame that was sent', async () => {
    // The mutant copies all of frame A into the 26-byte buffer and reports its full length: what the buffer holds is neither A nor B.
    const h = await harness((t) => t, {}, 0, 'rx-len-unclamped', 'net');
    for (const s of steps) await h.exec(s);
    expect(bad(h)).toContain('FAIL virtio.net.loopback-integrity');
  });
});

/** A device that ignores VIRTQ_DESC_F_WRITE on transmit, as DPDK's dequeue does: it gathers every descriptor of a TX chain. */
function txIgnoresWriteFlag(inner: Target): Target {
  // The harness's TX ring (queue 1) has its descriptor table at 0x19000; a split descriptor's flags are at +12.
  const TX_DESC = 0x19000n;
  return {
    info: inner.info, memory: inner.memory, health: () => inner.health(), close: () => inner.close(), send: (r) => inner.send(r), waitCall: (q, ms) => inner.waitCall(q, ms),
    kick: async (q) => {
      if (q === 1) for (let d = 0n; d < 4n; d++) putU16(inner.memory, TX_DESC + 16n * d + 12n, u16At(inner.memory, TX_DESC + 16n * d + 12n) & ~VRING_DESC_F_WRITE);
      await inner.kick(q);
    },
  };
}

describe('net loopback: a malformed TX chain the device transmits anyway', () => {
  // [header R][8 bytes W][frame R] is transmitted as one 68-byte frame: what a device makes of a malformed
  // chain is its own choice, so the frame's arrival is matched, not judged as an unknown frame.
  const steps: Step[] = [SETUP, { t: 'netRx', size: 1526, layout: NET_LAYOUT }, { t: 'hostile', queue: 1, indirect: false, outAfterIn: true }, { t: 'kick', queue: 1 }];

  it('is matched, not judged', async () => {
    const h = await harness(txIgnoresWriteFlag, {}, 0, undefined, 'net');
    for (const s of steps) await h.exec(s);
    expect(bad(h)).not.toContain('FAIL virtio.net.loopback-integrity');
    expect(h.observations.filter((o) => o.requirement === 'virtio.net.num-buffers-one')).toEqual([expect.objectContaining({ verdict: 'PASS' })]);
  });
});

describe('notifications from a back-end that polls its rings (DPDK)', () => {
  // The first kick finds nothing used; the device then uses both buffers and signals before the harness
  // drains stray signals; the second kick collects the buffers those signals were for.
  const steps: Step[] = [
    SETUP,
    { t: 'netRx', size: 1526, layout: NET_LAYOUT },
    { t: 'netTx', frame: frame(14, 0), layout: NET_LAYOUT },
    { t: 'kick', queue: 0 },
    { t: 'kick', queue: 0 },
  ];

  it('counts a signal consumed while its buffers waited to be collected for the batch that collects them', async () => {
    const h = await harness(pollsLate, { transport: 'vhost-user' }, 20, undefined, 'net');
    for (const s of steps) await h.exec(s);
    expect(bad(h)).toEqual([]);
    expect(h.observations).toContainEqual(expect.objectContaining({ requirement: 'virtio.split.notify.flags-must-notify', verdict: 'PASS' }));
  });

  it('still fails virtio.split.notify.flags-must-notify for a device that never signals', async () => {
    const h = await harness(pollsLate, { transport: 'vhost-user' }, 20, 'never-notify-flags-zero', 'net');
    for (const s of steps) await h.exec(s);
    expect(bad(h)).toContain('FAIL virtio.split.notify.flags-must-notify');
  });
});

/** A back-end without REPLY_ACK (it does not offer it): a message that has no reply of its own looks accepted whatever the device did. */
function noReplyAck(inner: Target): Target {
  return {
    info: inner.info, memory: inner.memory, health: () => inner.health(), close: () => inner.close(), waitCall: (q, ms) => inner.waitCall(q, ms), kick: (q) => inner.kick(q),
    send: async (req) => {
      const r = await inner.send(req);
      if (req.op === 'getProtocolFeatures' && 'ok' in r && r.ok && typeof r.value === 'bigint') return { ok: true, value: r.value & ~(1n << BigInt(VHOST_USER_PROTOCOL_F_REPLY_ACK)) };
      return req.op === 'setConfig' && 'ok' in r ? { ok: true } : r;
    },
  };
}

describe('SET_CONFIG of a read-only field, seen by reading the config back', () => {
  const write: Step = { t: 'control', req: { op: 'setConfig', offset: 0, data: new Uint8Array(8).fill(0xff), flags: 0 } };

  it('passes when the device refused, although the reply could not say so', async () => {
    const h = await harness(noReplyAck, { transport: 'vhost-user' }, 0);
    for (const s of [SETUP, write]) await h.exec(s);
    expect(bad(h)).toEqual([]);
    expect(h.observations).toContainEqual(expect.objectContaining({ requirement: 'vhost-user.config.set-config-readonly', verdict: 'PASS', detail: expect.stringContaining('unchanged') }));
  });

  it('fails vhost-user.config.set-config-readonly when the device took the write', async () => {
    const h = await harness(noReplyAck, { transport: 'vhost-user' }, 0, 'set-config-writes-readonly');
    for (const s of [SETUP, write]) await h.exec(s);
    expect(bad(h)).toEqual(['FAIL vhost-user.config.set-config-readonly']);
  });
});

/** A back-end process whose open fds the harness can count: each GET_INFLIGHT_FD adds one (`leaks`), or none. */
function countsFds(leaks: boolean): (inner: Target) => Target {
  return (inner) => {
    let fds = 11;
    return {
      info: inner.info, memory: inner.memory, health: () => inner.health(), close: () => inner.close(), waitCall: (q, ms) => inner.waitCall(q, ms), kick: (q) => inner.kick(q),
      send: async (req) => {
        if (req.op === 'getInflightFd' && leaks) fds++;
        return inner.send(req);
      },
      backEndFds: () => fds,
    };
  };
}

describe('repeated GET_INFLIGHT_FD (vhost-user.robust.no-leak-on-repeat, bug-catalog D7)', () => {
  const repeat: Step = { t: 'repeatGetInflight', numQueues: 1, queueSize: 8, count: 32 };

  it('fails when the back-end process keeps an fd per repetition, passes when it releases the previous buffer', async () => {
    const leaking = await harness(countsFds(true), {}, 0);
    await leaking.exec(repeat);
    expect(bad(leaking)).toContain('FAIL vhost-user.robust.no-leak-on-repeat');
    const clean = await harness(countsFds(false), {}, 0);
    await clean.exec(repeat);
    expect(bad(clean).filter((b) => b.includes('no-leak'))).toEqual([]);
    expect(clean.observations).toContainEqual(expect.objectContaining({ requirement: 'vhost-user.robust.no-leak-on-repeat', verdict: 'PASS' }));
  });
});

describe('notification suppression changed while a polling back-end holds buffers', () => {
  const tx: Step = { t: 'netTx', frame: frame(14, 0), layout: NET_LAYOUT };
  const suppress = (on: boolean): Step => ({ t: 'notifyMode', queue: 1, suppress: on, eventOffset: 0 });

  it('judges no rule for a buffer the device may have used under the setting the driver replaced', async () => {
    // The device takes the frame after the first kick, while VRING_AVAIL_F_NO_INTERRUPT is set, and rightly stays silent.
    const h = await harness(pollsLate, { transport: 'vhost-user' }, 20, undefined, 'net');
    for (const s of [SETUP, suppress(true), tx, { t: 'kick', queue: 0 } as const, suppress(false), { t: 'kick', queue: 0 } as const]) await h.exec(s);
    expect(bad(h)).toEqual([]);
  });

  it('still fails virtio.split.notify.flags-must-notify when the setting changed before the buffer was made available', async () => {
    const h = await harness(pollsLate, { transport: 'vhost-user' }, 20, 'never-notify-flags-zero', 'net');
    for (const s of [SETUP, suppress(true), suppress(false), tx, { t: 'kick', queue: 0 } as const, { t: 'kick', queue: 0 } as const]) await h.exec(s);
    expect(bad(h)).toContain('FAIL virtio.split.notify.flags-must-notify');
  });
});

describe('a polling back-end that dies after the last step', () => {
  /** A target that can be made to die (SIGSEGV) between steps, as testpmd does on a chain it polled. */
  function killable(inner: Target): Target & { kill(): void } {
    let dead = false;
    return {
      info: inner.info, memory: inner.memory, close: () => inner.close(), kick: (q) => inner.kick(q), waitCall: (q, ms) => inner.waitCall(q, ms),
      health: async () => (dead ? { state: 'exited', code: null, signal: 'SIGSEGV' } : inner.health()),
      send: async (req) => (dead ? { closed: true } : inner.send(req)),
      kill: () => {
        dead = true;
      },
    };
  }
  const open = async (transport: Profile['transport'] = 'vhost-user') => {
    let t: ReturnType<typeof killable> | undefined;
    const h = await harness((inner) => (t = killable(inner)), { transport }, 20, undefined, 'net');
    return { h, kill: () => t!.kill() };
  };

  it('is probed over ioctls too (a hardware vDPA parent may run its rings without a kick): CRASH when dead, PASS when alive', async () => {
    const steps = [SETUP, { t: 'netTx', frame: frame(14, 0), layout: NET_LAYOUT } as const];
    const dead = await open('ioctl');
    for (const s of steps) await dead.h.exec(s);
    dead.kill();
    await dead.h.finish();
    expect(bad(dead.h)).toEqual(['CRASH virtio.robust.survives.polled']);
    const alive = await open('ioctl');
    for (const s of steps) await alive.h.exec(s);
    await alive.h.finish();
    expect(alive.h.observations.filter((o) => o.requirement === 'virtio.robust.survives.polled').map((o) => o.verdict)).toEqual(['PASS']);
  });

  it('is a CRASH of the session that held its chains', async () => {
    const { h, kill } = await open();
    for (const s of [SETUP, { t: 'netTx', frame: frame(14, 0), layout: NET_LAYOUT } as const]) await h.exec(s);
    kill();
    await h.finish();
    expect(bad(h)).toEqual(['CRASH virtio.robust.survives.polled']);
  });

  it('passes a back-end that is still alive, and probes none that holds no chain', async () => {
    const { h } = await open();
    for (const s of [SETUP, { t: 'netTx', frame: frame(14, 0), layout: NET_LAYOUT } as const]) await h.exec(s);
    await h.finish();
    expect(bad(h)).toEqual([]);
    expect(h.observations).toContainEqual(expect.objectContaining({ requirement: 'virtio.robust.survives.polled', verdict: 'PASS' }));
    const idle = await open();
    await idle.h.exec(SETUP);
    idle.kill();
    await idle.h.finish();
    expect(bad(idle.h)).toEqual([]);
  });
});

describe('a buffer in IOVA space the front-end invalidated (vhost-user.iotlb.invalidate-removes, bug-catalog D15)', () => {
  const steps: Step[] = [
    { ...SETUP, platform: true },
    { t: 'unmapIotlb', region: 'all-but-rings' },
    { t: 'blk', queue: 0, type: VIRTIO_BLK_T_OUT, sector: 0n, data: new Uint8Array(512).fill(7), readLen: 0, layout: { cuts: [], indirect: false, crossRegion: false, atRegionEnd: true } },
    { t: 'kick', queue: 0 },
  ];

  it('is judged against the invalidate requirement and passes when the device refuses it', async () => {
    const h = await harness((t) => t, {}, 0);
    for (const s of steps) await h.exec(s);
    expect(bad(h)).toEqual([]);
    expect(h.observations).toContainEqual(expect.objectContaining({ requirement: 'vhost-user.iotlb.invalidate-removes', verdict: 'PASS' }));
  });

  it('fails it when the invalidate left a mapping that started inside the range', async () => {
    const h = await harness((t) => t, {}, 0, 'iotlb-invalidate-start-only');
    for (const s of steps) await h.exec(s);
    expect(bad(h)).toContain('FAIL vhost-user.iotlb.invalidate-removes');
  });

  it('leaves a buffer that was never mapped to virtio.robust.addr-unmapped', async () => {
    const h = await harness((t) => t, {}, 0);
    for (const s of [steps[0], steps[1], { t: 'hostile', queue: 0, addr: 'unmapped', indirect: false } as const, steps[3]]) await h.exec(s);
    expect(h.observations.filter((o) => o.requirement === 'vhost-user.iotlb.invalidate-removes')).toEqual([]);
    expect(h.observations).toContainEqual(expect.objectContaining({ requirement: 'virtio.robust.addr-unmapped', verdict: 'PASS' }));
  });
});

describe('a session an asynchronous back-end drops at a control message while it holds chains', () => {
  const stop: Step = { t: 'control', req: { op: 'getVringBase', index: 0 } };

  it('is a failure to process when every chain it could see was valid, not a failure of the message', async () => {
    const h = await harness(dropsSessionAtGetVringBase, { transport: 'vhost-user' }, 20);
    for (const s of [SETUP, { t: 'kick', queue: 0 } as const, READ, stop]) await h.exec(s);
    expect(bad(h)).toEqual(['FAIL vhost-user.ring.start-on-kick.session-kept']);
    expect(h.observations.find((o) => o.verdict === 'FAIL')!.detail).toContain('while getVringBase(index=0) was sent');
  });

  it('is a refusal when one of those chains had to be refused', async () => {
    const h = await harness(dropsSessionAtGetVringBase, { transport: 'vhost-user' }, 20);
    for (const s of [SETUP, { t: 'kick', queue: 0 } as const, { t: 'hostile', queue: 0, addr: 'unmapped', indirect: false } as const, stop]) await h.exec(s);
    expect(bad(h)).toEqual([]);
    expect(h.observations).toContainEqual(expect.objectContaining({ requirement: 'virtio.robust.addr-unmapped', verdict: 'PASS', detail: 'refused by closing the session' }));
  });

  it('is still charged to the message when no chain was outstanding', async () => {
    const h = await harness(dropsSessionAtGetVringBase, { transport: 'vhost-user' }, 20);
    for (const s of [SETUP, stop]) await h.exec(s);
    expect(bad(h)).toEqual(['FAIL vhost-user.ring.get-vring-base-stops']);
  });
});

describe('a device whose largest queue is small (maximum queue size 1 or 5)', () => {
  it('gets rings it can take: a power of 2 for split rings, any size for packed ones', () => {
    expect(ringSize(16, false, 1)).toBe(1);
    expect(ringSize(16, false, 5)).toBe(4);
    expect(ringSize(13, true, 5)).toBe(5);
    expect(ringSize(8, false, 32768)).toBe(8);
    expect(ringSize(13, false, 256)).toBe(8);
  });

  it('moves traffic on a one-entry ring without an alarm (chains in an indirect table)', async () => {
    // As a device with one-entry queues does: any larger size is refused.
    const oneEntry = (inner: Target): Target => ({
      info: { ...inner.info, maxQueueSize: 1 }, memory: inner.memory, health: () => inner.health(), close: () => inner.close(), waitCall: (q, ms) => inner.waitCall(q, ms), kick: (q) => inner.kick(q),
      send: async (req) => (req.op === 'setVringNum' && req.num > 1 ? { ok: false, errno: 'EINVAL' } : inner.send(req)),
    });
    const h = await harness(oneEntry, {}, 0);
    const layout = { cuts: [], indirect: true, crossRegion: false };
    const write: Step = { t: 'blk', queue: 0, type: VIRTIO_BLK_T_OUT, sector: 0n, data: new Uint8Array(512).fill(3), readLen: 0, layout };
    for (const s of [{ ...SETUP, num: 16, indirect: true }, write, { t: 'kick', queue: 0 } as const, { ...READ, layout }, { t: 'kick', queue: 0 } as const]) await h.exec(s);
    expect(bad(h)).toEqual([]);
    expect(h.observations).toContainEqual(expect.objectContaining({ requirement: 'virtio.blk.read-after-write', verdict: 'PASS' }));
  });
});

describe('a back-end that stops answering mid-run', () => {
  it('gets one TIMEOUT naming the unanswered message, and nothing more is sent in that session', async () => {
    const sent: VhostRequest[] = [];
    let silent = false;
    // Answers until told to stop, then nothing more: every later request times out.
    const stopsAnswering = (inner: Target): Target => ({
      info: inner.info, memory: inner.memory, health: () => inner.health(), close: () => inner.close(), waitCall: (q, ms) => inner.waitCall(q, ms), kick: (q) => inner.kick(q),
      send: async (req) => {
        sent.push(req);
        return silent ? { timeout: true } : inner.send(req);
      },
    });
    const h = await harness(stopsAnswering, {}, 20);
    await h.exec(SETUP);
    silent = true;
    const before = sent.length;
    for (const s of [READ, { t: 'kick', queue: 0 } as const, { t: 'control', req: { op: 'getVringBase', index: 0 } } as const, { t: 'control', req: { op: 'getFeatures' } } as const]) await h.exec(s);
    const timeouts = h.observations.filter((o) => o.verdict === 'TIMEOUT');
    expect(timeouts).toHaveLength(1);
    expect(timeouts[0].detail).toMatch(/went unanswered/);
    expect(sent.length - before).toBeLessThanOrEqual(2);
  });
});

describe('a slow back-end in process (tens of ms per message and per request)', () => {
  /** Every message answered after `ms`, every kick handled `ms` after it was signalled. */
  function slow(ms: number): (inner: Target) => Target {
    const later = () => new Promise((r) => setTimeout(r, ms));
    return (inner) => ({
      info: inner.info, memory: inner.memory, health: () => inner.health(), close: () => inner.close(), waitCall: (q, t) => inner.waitCall(q, t),
      send: async (req) => {
        await later();
        return inner.send(req);
      },
      kick: async (q) => {
        void later().then(() => inner.kick(q));
      },
    });
  }

  it('is waited for as long as its measured latency needs: no alarm, and the data checks still run', async () => {
    // settleMs 0, as the factory gives every in-process target: only the measured latency says it is slow.
    const h = await harness(slow(15), {}, 0);
    const write: Step = { t: 'blk', queue: 0, type: VIRTIO_BLK_T_OUT, sector: 0n, data: new Uint8Array(512).fill(9), readLen: 0, layout: { cuts: [], indirect: false, crossRegion: false } };
    for (const s of [SETUP, write, { t: 'kick', queue: 0 } as const, READ, { t: 'kick', queue: 0 } as const]) await h.exec(s);
    expect(bad(h)).toEqual([]);
    expect(h.observations).toContainEqual(expect.objectContaining({ requirement: 'vhost-user.ring.start-on-kick.buffers-used', verdict: 'PASS' }));
    expect(h.observations).toContainEqual(expect.objectContaining({ requirement: 'virtio.blk.read-after-write', verdict: 'PASS' }));
  });

  it('still fails a device that never processes the kicked ring', async () => {
    const h = await harness((inner) => ({ ...slow(15)(inner), kick: async () => {} }), {}, 0);
    for (const s of [SETUP, READ, { t: 'kick', queue: 0 } as const]) await h.exec(s);
    expect(bad(h)).toContain('FAIL vhost-user.ring.start-on-kick.buffers-used');
  });
});

describe('overlapping writes an asynchronous device returns out of order (fleet variant slow)', () => {
  const write = (fill: number): Step => ({ t: 'blk', queue: 0, type: VIRTIO_BLK_T_OUT, sector: 3n, data: new Uint8Array(512).fill(fill), readLen: 0, layout: { cuts: [], indirect: false, crossRegion: false } });
  const read: Step = { ...READ, sector: 3n };

  it('may leave either write on the disk: a read of either is no data corruption', async () => {
    // Requests taken in ring order and returned in the variant's own order: which write lands last is the device's business.
    for (const fills of [[1, 2, 3], [4, 5, 6, 7]]) {
      const open = async () => createSimulatedTarget({ deviceType: 'blk', variant: 'slow' });
      const { profile } = await probeTarget({ open });
      const h = new Harness(await open(), profile, { settleMs: 0, failsRun: () => false });
      for (const s of [SETUP, ...fills.map(write), { t: 'kick', queue: 0 } as const, read, { t: 'kick', queue: 0 } as const]) await h.exec(s);
      await h.target.close();
      expect(bad(h)).toEqual([]);
      expect(h.observations).toContainEqual(expect.objectContaining({ requirement: 'virtio.blk.read-after-write', verdict: 'PASS' }));
    }
  });
});

describe('the call notifier replaced while an asynchronous device holds a buffer (fleet variant slow)', () => {
  it('is no notification rule broken: the device may have signalled the notifier it had then', async () => {
    // The regression the slow variant gave: its kick finds the read published after it, and it signals before the notifier is declared invalid.
    const open = async () => createSimulatedTarget({ deviceType: 'blk', variant: 'slow' });
    const { profile } = await probeTarget({ open });
    const h = new Harness(await open(), profile, { settleMs: 0, failsRun: () => false });
    const steps: Step[] = [{ ...SETUP, num: 4 }, { t: 'kick', queue: 0 }, { ...READ, sector: 2044n }, { t: 'control', req: { op: 'setVringCall', index: 0, invalid: true } }, { t: 'kick', queue: 0 }];
    for (const s of steps) await h.exec(s);
    await h.target.close();
    expect(bad(h)).toEqual([]);
  });
});

describe('churn on a slow back-end', () => {
  it('stops replacing notifiers after its time budget instead of spending a minute on one step', async () => {
    const slowCalls = (inner: Target): Target => ({
      info: inner.info, memory: inner.memory, health: () => inner.health(), close: () => inner.close(), waitCall: (q, t) => inner.waitCall(q, t), kick: (q) => inner.kick(q),
      send: async (req) => {
        if (req.op === 'setVringCall' || req.op === 'setVringKick') await new Promise((r) => setTimeout(r, 20));
        return inner.send(req);
      },
    });
    const h = await harness(slowCalls, {}, 20);
    await h.exec(SETUP);
    const t0 = Date.now();
    await h.exec({ t: 'churn', queue: 0, count: 300 });
    expect(Date.now() - t0).toBeLessThan(4500);
    expect(bad(h)).toEqual([]);
  }, 20_000);
});

describe('net loopback through an asynchronous device that returns buffers out of order (fleet variant slow)', () => {
  const rx = (size: number): Step => ({ t: 'netRx', size, layout: NET_LAYOUT });
  const tx = (n: number, from: number): Step => ({ t: 'netTx', frame: frame(n, from), layout: NET_LAYOUT });
  const kick = (queue: number): Step => ({ t: 'kick', queue });

  it('matches a frame delivered before its TX buffer came back, or after a frame sent later was returned first', async () => {
    for (const seed of [1, 2, 3]) {
      const open = async () => createSimulatedTarget({ deviceType: 'net', variant: 'slow' });
      const { profile } = await probeTarget({ open });
      const h = new Harness(await open(), profile, { settleMs: 150, failsRun: () => false });
      const steps: Step[] = [{ ...SETUP, num: 32 }, rx(1600), rx(1600), rx(1600), tx(716, seed), tx(647, seed + 1), kick(1), tx(1317, seed + 2), kick(0), tx(1108, seed + 3), kick(1), rx(1600), rx(1600), tx(300, seed + 4), kick(1), kick(0)];
      for (const s of steps) await h.exec(s);
      await h.target.close();
      expect(bad(h)).toEqual([]);
    }
  });
});

/** Every call passed to `inner`: a wrapper overrides what it changes. */
function passThrough(inner: Target): Target {
  return { info: inner.info, memory: inner.memory, health: () => inner.health(), close: () => inner.close(), kick: (q) => inner.kick(q), waitCall: (q, ms) => inner.waitCall(q, ms), send: (req) => inner.send(req) };
}

describe('a socket back-end that completes a request with its notification suppressed', () => {
  // Like an eventfd over a socket: a wait for a call that never comes lasts its whole timeout.
  function silentCallCompletesLate(inner: Target): Target {
    return {
      info: inner.info, memory: inner.memory, health: () => inner.health(), close: () => inner.close(), send: (req) => inner.send(req),
      waitCall: async (q, ms) => {
        const deadline = Date.now() + ms;
        while (Date.now() < deadline) {
          if (await inner.waitCall(q, 0)) return true;
          await new Promise((r) => setTimeout(r, 1));
        }
        return inner.waitCall(q, 0);
      },
      kick: async (q) => {
        setTimeout(() => void inner.kick(q), 5);
      },
    };
  }

  it('is collected as soon as the used ring shows it, not after the whole settle time', async () => {
    const settleMs = 1500;
    const h = await harness(silentCallCompletesLate, { transport: 'vhost-user' }, settleMs);
    for (const s of [SETUP, { t: 'notifyMode', queue: 0, suppress: true, eventOffset: 0 } as const, READ]) await h.exec(s);
    const t0 = Date.now();
    await h.exec({ t: 'kick', queue: 0 });
    expect(Date.now() - t0).toBeLessThan(settleMs / 2);
    expect(bad(h)).toEqual([]);
    expect(h.observations).toContainEqual(expect.objectContaining({ requirement: 'vhost-user.ring.start-on-kick.buffers-used', verdict: 'PASS' }));
  });
});

describe('a back-end that signals each call notifier as it installs it (libvhost-user vu_set_vring_call_exec)', () => {
  /** The signal on a notifier the front-end then replaces stays unread in it, as in an eventfd the front-end retired. */
  function signalsNewCallFd(inner: Target): Target {
    const pending = new Set<number>();
    return {
      info: inner.info, memory: inner.memory, health: () => inner.health(), close: () => inner.close(), kick: (q) => inner.kick(q),
      waitCall: async (q, ms) => pending.delete(q) || inner.waitCall(q, ms),
      send: async (req) => {
        const r = await inner.send(req);
        if (req.op === 'setVringCall' && !req.invalid && 'ok' in r && r.ok) pending.add(req.index);
        return r;
      },
    };
  }
  const replace: Step = { t: 'control', req: { op: 'setVringCall', index: 0 } };
  const invalid: Step = { t: 'control', req: { op: 'setVringCall', index: 0, invalid: true } };

  it('is not charged with signalling a notifier declared invalid for the signal it sent on the one before', async () => {
    const h = await harness(signalsNewCallFd, { transport: 'vhost-user' }, 20);
    for (const s of [SETUP, replace, invalid, READ, { t: 'kick', queue: 0 } as const]) await h.exec(s);
    expect(bad(h)).toEqual([]);
    expect(h.observations).toContainEqual(expect.objectContaining({ requirement: 'vhost-user.vring.call-invalid-fd', verdict: 'PASS' }));
  });

  it('still fails vhost-user.vring.call-invalid-fd for a signal that comes after the declaration took effect', async () => {
    const signalsAfter = (inner: Target): Target => ({ info: inner.info, memory: inner.memory, health: () => inner.health(), close: () => inner.close(), kick: (q) => inner.kick(q), send: (req) => inner.send(req), waitCall: async () => true });
    const h = await harness(signalsAfter, { transport: 'vhost-user' }, 20);
    for (const s of [SETUP, invalid, READ, { t: 'kick', queue: 0 } as const]) await h.exec(s);
    expect(bad(h)).toContain('FAIL vhost-user.vring.call-invalid-fd');
  });
});

describe('a back-end that acknowledges a SET_CONFIG of a read-only field, then drops the session (qsd: vu_blk_set_config -EINVAL, vu_panic)', () => {
  function panicsAfterReadOnlyConfig(inner: Target): Target {
    let dropped = false;
    return {
      ...passThrough(inner),
      send: async (req) => {
        if (dropped) return { closed: true };
        if (req.op !== 'setConfig') return inner.send(req);
        dropped = req.offset < 8;
        return { ok: true };
      },
    };
  }
  const readOnly: Step = { t: 'control', req: { op: 'setConfig', offset: 0, data: new Uint8Array(8).fill(0xff), flags: 0 } };

  it('charges the close to the SET_CONFIG, not to the next message or to the chains outstanding', async () => {
    const h = await harness(panicsAfterReadOnlyConfig, { transport: 'vhost-user' }, 20);
    for (const s of [SETUP, READ, readOnly, { t: 'control', req: { op: 'getConfig', offset: 0, size: 60 } } as const, { t: 'kick', queue: 0 } as const]) await h.exec(s);
    expect(bad(h)).toEqual(['FAIL vhost-user.config.set-config-readonly']);
  });
});

describe('a back-end that acknowledges a message it refuses, then drops the session (libvhost-user: REPLY_ACK 0, then vu_panic)', () => {
  const VERSION_1 = 1n << 32n;
  function acksThenDrops(inner: Target): Target {
    let dropped = false;
    return {
      ...passThrough(inner),
      send: async (req) => {
        if (dropped) return { closed: true };
        if (req.op === 'setFeatures' && (req.features & VERSION_1) === 0n) {
          dropped = true;
          return { ok: true };
        }
        return inner.send(req);
      },
    };
  }

  it('ends the session at that message: the next message is not charged with the close', async () => {
    const h = await harness(acksThenDrops, { transport: 'vhost-user' }, 20);
    const steps: Step[] = [
      { t: 'control', req: { op: 'setProtocolFeatures', features: h.profile.offeredProtocolFeatures } },
      { t: 'control', req: { op: 'setFeatures', features: 1n << 30n } },
      { t: 'control', req: { op: 'getFeatures' } },
    ];
    for (const s of steps) await h.exec(s);
    expect(bad(h)).toEqual([]);
  });
});

describe('a chain holding a zero-length descriptor (virtio.robust.zero-len-desc)', () => {
  const steps: Step[] = [SETUP, { t: 'hostile', queue: 0, indirect: false, zeroLen: true }, { t: 'kick', queue: 0 }];
  const zeroLen = (h: Harness) => h.observations.filter((o) => o.requirement === 'virtio.robust.zero-len-desc').map((o) => o.verdict);

  it('passes when the device uses it and still answers', async () => {
    const h = await harness((t) => t, {}, 0);
    for (const s of steps) await h.exec(s);
    expect(bad(h)).toEqual([]);
    expect(zeroLen(h)).toEqual(['PASS']);
  });

  it('is a TIMEOUT, and no pass, when the device hangs on it (mutant zero-len-hang)', async () => {
    const h = await harness((t) => t, {}, 0, 'zero-len-hang');
    for (const s of steps) await h.exec(s);
    expect(zeroLen(h)).toEqual(['TIMEOUT']);
  });
});

describe('used len of a net TX buffer on a split ring (virtio.split.used.len-written)', () => {
  const steps: Step[] = [SETUP, { t: 'netRx', size: 1526, layout: NET_LAYOUT }, { t: 'netTx', frame: frame(60, 3), layout: NET_LAYOUT }, { t: 'kick', queue: 1 }];
  const lenWritten = (h: Harness) => h.observations.filter((o) => o.requirement === 'virtio.split.used.len-written').map((o) => o.verdict);

  it('passes len 0: the chain has no device-writable buffer to have written', async () => {
    const h = await harness((t) => t, {}, 0, undefined, 'net');
    for (const s of steps) await h.exec(s);
    expect(bad(h)).toEqual([]);
    expect(lenWritten(h)).toContain('PASS');
  });

  it('fails a device that counts the readable bytes as written (mutant used-len-includes-readable)', async () => {
    const h = await harness((t) => t, {}, 0, 'used-len-includes-readable', 'net');
    for (const s of steps) await h.exec(s);
    expect(lenWritten(h)).toContain('FAIL');
  });
});

describe('a buffer an asynchronous device uses, and signals, while the driver drains a stray call', () => {
  /**
   * Kicks reach the device only when the driver next waits for a call, and any kick runs TX (as vdpasim_net_work()
   * does, whichever queue was kicked): the device uses the TX buffer and signals right then.
   */
  function usesWhileDraining(inner: Target): Target {
    const due: number[] = [];
    return {
      info: inner.info, memory: inner.memory, health: () => inner.health(), close: () => inner.close(), send: (req) => inner.send(req),
      kick: async (q) => {
        due.push(q);
      },
      waitCall: async (q, ms) => {
        if (due.splice(0).length > 0) await inner.kick(1);
        return inner.waitCall(q, ms);
      },
    };
  }

  it('keeps that signal for the batch that collects the buffer: no missing notification (virtio.split.notify.flags-must-notify)', async () => {
    const h = await harness(usesWhileDraining, {}, 20, undefined, 'net');
    for (const s of [SETUP, { t: 'netTx', frame: frame(14, 0), layout: NET_LAYOUT }, { t: 'kick', queue: 0 }, { t: 'kick', queue: 1 }] as Step[]) await h.exec(s);
    expect(bad(h)).toEqual([]);
    expect(h.observations).toContainEqual(expect.objectContaining({ requirement: 'virtio.split.notify.flags-must-notify', verdict: 'PASS' }));
  });
});

describe('refused chains after the driver ran the avail idx away (virtio.robust.avail-idx-runaway)', () => {
  const setup: SetupStep = { ...SETUP, num: 16 };
  const bad16: Step = { t: 'hostile', queue: 0, indirect: false, defect: 'head-out-of-range' };
  // Shrunk from a guest:vdpa-sim-blk run at seed 1 (vringh takes a runaway avail idx as well).
  const lateRead: Step = { ...READ, sector: 0x4001n, readLen: 2048, layout: { cuts: [], indirect: true, crossRegion: false, atRegionEnd: true } } as Step;
  const steps: Step[] = [
    setup, READ, { t: 'hostile', queue: 0, indirect: false, addr: 'overflow' }, { t: 'kick', queue: 0 }, { t: 'kick', queue: 0 }, { t: 'runaway', queue: 0, extra: 33 }, { t: 'kick', queue: 0 },
    { t: 'hostile', queue: 0, indirect: true, defect: 'next-out-of-range' }, { t: 'runaway', queue: 0, extra: 32 }, bad16, bad16, lateRead, { ...bad16, indirect: true } as Step, { t: 'kick', queue: 0 },
  ];

  it('are not charged to their own rule on a device that takes the runaway (mutant avail-idx-runaway): stale heads are its consequence', async () => {
    const h = await harness((t) => t, {}, 0, 'avail-idx-runaway');
    for (const s of steps) await h.exec(s);
    const charged = new Set(bad(h).map((b) => b.split(' ')[1]));
    expect(charged.has('virtio.split.used.id-is-head')).toBe(true);
    expect(charged.has('virtio.robust.desc-index-bound')).toBe(false);
  });

  it('a clean device shows no deviation on the same steps', async () => {
    const h = await harness((t) => t, {}, 0);
    for (const s of steps) await h.exec(s);
    expect(bad(h)).toEqual([]);
  });
});

describe('notifications on a queue whose avail idx ran away', () => {
  // After guest:vdpa-sim-net at seed 1 (kicks on RX there: vdpasim_net_work() runs TX on any kick; the simulated device
  // runs only the kicked queue): vdpa_sim took the runaway, completed stale heads, and a notification was judged missing.
  const steps: Step[] = [SETUP, { t: 'hostile', queue: 1, indirect: false, addr: 'tail-unmapped' }, { t: 'runaway', queue: 1, extra: 4 }, { t: 'kick', queue: 1 }, { t: 'kick', queue: 1 }, { t: 'kick', queue: 1 }];

  it('are not judged once the device took the runaway (mutant avail-idx-runaway): only the runaway itself is charged', async () => {
    const h = await harness((t) => t, {}, 20, 'avail-idx-runaway', 'net');
    for (const s of steps) await h.exec(s);
    expect(h.observations.filter((o) => o.requirement.startsWith('virtio.split.notify.'))).toEqual([]);
    expect(bad(h)).toContain('FAIL virtio.split.used.id-is-head');
  });
});

// The `slow` variant's clock: every message and every request waits on a
// timer (never a busy loop), and the requests one kick finds are published
// one by one, each after its own delay, so they complete out of order and
// their used entries appear well after the kick.
//
// Before it handles any message the device finishes what it holds (drain):
// a back-end that quiesces its rings before touching their configuration,
// which keeps every in-flight buffer's translation valid until it is used.
// "VHOST_USER_GET_VRING_BASE" then reports an index with nothing in flight.
import type { Taken } from '../device.ts';
import type { SlowTiming } from './personality.ts';

/** What the clock drives: a kick done at once, or in two halves (device.ts kick / take / publish). */
interface SlowDevice {
  kick(q: number): void;
  take(q: number): readonly Taken[];
  publish(taken: readonly Taken[]): void;
  /** VIRTIO_F_IN_ORDER acked: requests must be published in the order they were taken. */
  inOrder(): boolean;
}

interface Job {
  readonly due: number;
  readonly seq: number;
  readonly timer: ReturnType<typeof setTimeout>;
  readonly run: () => void;
}

/** A small xorshift generator: the same delays in the same order for every session, so runs repeat. */
class Draw {
  private state = 0x9e3779b9;
  next([min, max]: readonly [number, number]): number {
    this.state ^= this.state << 13;
    this.state ^= this.state >>> 17;
    this.state ^= this.state << 5;
    return min + ((this.state >>> 0) % (max - min + 1));
  }
}

export class SlowClock {
  private readonly jobs = new Map<number, Job>();
  private readonly draw = new Draw();
  private seq = 0;
  /** Called after every publish, so waiters for a call notice it (index.ts waitCall). */
  private readonly published = new Set<() => void>();
  private readonly idle = new Set<() => void>();

  constructor(
    private readonly timing: SlowTiming,
    private readonly device: SlowDevice,
    /** Runs device code the way the target does (faults recorded, never thrown). */
    private readonly guard: (fn: () => void) => void,
  ) {}

  /** The wait before a message is answered; what the device holds is finished first. */
  async beforeMessage(): Promise<void> {
    await new Promise<void>((r) => setTimeout(r, this.draw.next(this.timing.messageMs)));
    this.drain();
  }

  /** A kick: the ring is looked at after kickMs; the promise settles once everything it found is published. */
  kick(q: number): Promise<void> {
    const done = new Promise<void>((r) => this.idle.add(r));
    this.schedule(this.timing.kickMs, () => {
      // virtio 1.2 §6 VIRTIO_F_IN_ORDER: "all buffers are used by the device in the same order in which they have been
      // made available" — refused chains included, so the kick is done in one go, in ring order.
      if (this.device.inOrder()) this.publish(() => this.device.kick(q));
      else this.guard(() => this.taken(this.device.take(q)));
    });
    return done;
  }

  /** Resolves at the next publish or after `ms`, whichever is first. */
  nextPublish(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.published.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.published.add(wake);
    });
  }

  /** Runs every pending job now, in due order, including the publishes the takes schedule. */
  drain(): void {
    for (let next = this.earliest(); next !== undefined; next = this.earliest()) {
      clearTimeout(next.timer);
      this.jobs.delete(next.seq);
      next.run();
    }
    this.settleIfIdle();
  }

  /** The device is gone: nothing more runs, and every waiter is released. */
  stop(): void {
    for (const j of this.jobs.values()) clearTimeout(j.timer);
    this.jobs.clear();
    for (const wake of [...this.published]) wake();
    this.settleIfIdle();
  }

  /** Each request gets its own delay, so the ones a kick found complete out of order (no IN_ORDER). */
  private taken(list: readonly Taken[]): void {
    for (const t of list) this.schedule(this.draw.next(this.timing.requestMs), () => this.publish(() => this.device.publish([t])));
  }

  private publish(fn: () => void): void {
    this.guard(fn);
    for (const wake of [...this.published]) wake();
  }

  private schedule(ms: number, run: () => void): void {
    const seq = this.seq++;
    const timer = setTimeout(() => {
      this.jobs.delete(seq);
      run();
      this.settleIfIdle();
    }, ms);
    this.jobs.set(seq, { due: Date.now() + ms, seq, timer, run });
  }

  private earliest(): Job | undefined {
    let best: Job | undefined;
    for (const j of this.jobs.values()) if (best === undefined || j.due < best.due || (j.due === best.due && j.seq < best.seq)) best = j;
    return best;
  }

  private settleIfIdle(): void {
    if (this.jobs.size > 0) return;
    for (const r of this.idle) r();
    this.idle.clear();
  }
}

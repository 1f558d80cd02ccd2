// The embedded default target: the simulated back-end (device.ts) behind the
// Target interface, in-process. It behaves like a back-end process as the
// suite sees one: a fault inside the device "kills" it (health exited,
// every later request answered as a closed connection), and a loop it would
// never leave makes it "hang" (health hung, requests time out).
import { INFLIGHT_AREA_MAX, type InflightArea, LOG_AREA_MAX, type Reply, type VhostRequest } from '../../spec/requests.ts';
import { backingSize, layOutGuestMemory } from '../guestMemory.ts';
import type { GuestMemory, Health, Target, TargetInfo } from '../target.ts';
import { Backend } from './device.ts';
import { DeviceFault, DeviceHang } from './faults.ts';
import { type InflightShare, inflightBytes } from './inflight.ts';
import { findMutant, MUTANTS, type MutantName } from './mutants/index.ts';
import { findVariant, VARIANTS } from './variants/index.ts';
import { DEFAULT_PERSONALITY, type Personality } from './variants/personality.ts';
import { SlowClock } from './variants/slow.ts';
import { recycle, takeZeroed } from './zeroedBuffers.ts';

export interface SimulatedTargetOptions {
  readonly deviceType: 'blk' | 'net';
  /** blk: request queues (default 1). net: always receiveq1 + transmitq1. */
  readonly queues?: number;
  /** A name from MUTANTS. */
  readonly mutant?: string;
  /** A name from VARIANTS (variants/index.ts): a healthy device that differs from the default one. */
  readonly variant?: string;
  /**
   * kick() settles only once the device has finished what the kick found. A vhost-user back-end
   * (backEnd.ts) signals the call eventfds when kick() settles, so it needs this from a device that
   * finishes later (the slow variant); in process the suite waits for the call instead.
   */
  readonly awaitKicks?: boolean;
  /**
   * Guest memory to use instead of a private buffer: a vhost-user back-end
   * (implementations/vhost-user/backEnd.ts) passes the front-end's shared
   * mappings. The device reads `regions` at SET_MEM_TABLE and `backing` on
   * every access, so the owner may swap both before forwarding SET_MEM_TABLE.
   */
  readonly memory?: GuestMemory;
  /**
   * The log area of a SET_LOG_BASE the owner received (a vhost-user back-end passes the mapping of
   * the message's fd). Without it the target allocates the area itself, as a front-end's memfd would be.
   */
  readonly logArea?: (size: bigint, offset: bigint) => Uint8Array;
  /**
   * Where inflight buffers live (a vhost-user back-end allocates memfds and maps SET_INFLIGHT_FD's fd).
   * Without it the target plays both sides in process, as frontEnd.ts does with its buffers.
   */
  readonly inflight?: InflightShare;
}

/** Request queues a simulated blk device accepts (virtio_blk_config.num_queues is a u16; more is pointless here). */
const MAX_BLK_QUEUES = 64;
const NET_QUEUES = 2;
const VERSION = '0.1.0';

export function createSimulatedTarget(opts: SimulatedTargetOptions): Target {
  const { deviceType, mutant, variant } = opts;
  if (deviceType !== 'blk' && deviceType !== 'net') throw new Error(`simulated target: unknown device type '${String(deviceType)}' (known: blk, net)`);
  const queues = opts.queues ?? (deviceType === 'net' ? NET_QUEUES : 1);
  if (deviceType === 'net' && queues !== NET_QUEUES) throw new Error(`simulated target: a net device has exactly ${NET_QUEUES} queues, not ${queues}`);
  if (!Number.isInteger(queues) || queues < 1 || queues > MAX_BLK_QUEUES) throw new Error(`simulated target: queues must be 1..${MAX_BLK_QUEUES}, not ${queues}`);
  let defect: MutantName | undefined;
  if (mutant !== undefined) {
    const info = findMutant(mutant);
    if (info === undefined) throw new Error(`simulated target: unknown mutant '${mutant}' (known: ${MUTANTS.map((m) => m.name).join(', ')})`);
    if (info.deviceType !== undefined && info.deviceType !== deviceType) {
      throw new Error(`simulated target: mutant '${mutant}' lives in the ${info.deviceType} device; use simulated:device=${info.deviceType},mutant=${mutant}`);
    }
    defect = info.name;
  }
  let personality = DEFAULT_PERSONALITY;
  if (variant !== undefined) {
    const v = findVariant(variant);
    if (v === undefined) throw new Error(`simulated target: unknown variant '${variant}' (known: ${VARIANTS.map((x) => x.name).join(', ')})`);
    if (v.deviceType !== undefined && v.deviceType !== deviceType) {
      throw new Error(`simulated target: variant '${variant}' is a ${v.deviceType} device; use simulated:device=${v.deviceType},variant=${variant}`);
    }
    personality = v.personality;
  }
  const name = ['simulated', [variant && `variant=${variant}`, defect && `mutant=${defect}`].filter(Boolean).join(',')].filter(Boolean).join(':');
  return new SimulatedTarget({ name, deviceType, queues, mutant: defect, personality, awaitKicks: opts.awaitKicks ?? false }, opts.memory, opts.logArea, opts.inflight);
}

interface Identity {
  readonly name: string;
  readonly deviceType: 'blk' | 'net';
  readonly queues: number;
  readonly mutant: MutantName | undefined;
  readonly personality: Personality;
  readonly awaitKicks: boolean;
}

type Life = { readonly state: 'alive' } | { readonly state: 'hung' } | { readonly state: 'crashed'; readonly signal: string } | { readonly state: 'closed' };

class SimulatedTarget implements Target {
  readonly info: TargetInfo;
  readonly memory: GuestMemory;
  private readonly backend: Backend;
  private life: Life = { state: 'alive' };
  /** The guest memory backing this target allocated itself (none when the owner passed `memory`). */
  private readonly ownBacking: Buffer | null;
  private released = false;
  /** The log area this target allocated for its last accepted setLogBase (in-process only). */
  private log: { bytes: Uint8Array; offset: number; size: number } | null = null;
  private offered: { bytes: Uint8Array; offset: bigint; size: bigint } | null = null;
  /** In process, the front-end side of inflight tracking: the buffer of the last answered getInflightFd, and what a setInflightFd sends. */
  private inflightHeld: Uint8Array | null = null;
  private inflightSent: Uint8Array | null = null;
  /** The slow variant's timers; null for a device that finishes every kick before kick() returns. */
  private readonly clock: SlowClock | null;
  private readonly awaitKicks: boolean;

  constructor(id: Identity, memory: GuestMemory | undefined, logArea: SimulatedTargetOptions['logArea'], inflight: InflightShare | undefined) {
    const { deviceType, queues, mutant, personality } = id;
    this.info = { name: id.name, kind: 'simulated', version: VERSION, deviceType, queues, maxQueueSize: personality.maxQueueSize };
    this.ownBacking = memory === undefined ? takeZeroed(backingSize()) : null;
    this.memory = memory ?? layOutGuestMemory(this.ownBacking!);
    this.backend = new Backend({ deviceType, queues, memory: this.memory, has: (name) => name === mutant, personality, logArea: logArea ?? ((size, offset) => this.allocateLog(size, offset)),
      inflight: inflight ?? { allocate: (size) => new Uint8Array(size), received: () => this.inflightSent },
    });
    this.clock = personality.slow === null ? null : new SlowClock(personality.slow, this.backend, (fn) => void this.run(fn));
    this.awaitKicks = id.awaitKicks;
  }

  /** As frontEnd.ts does with its log memfd: `offset + size` bytes, or one page behind a size/offset no area has. */
  private allocateLog(size: bigint, offset: bigint): Uint8Array {
    const sane = size > 0n && offset >= 0n && size + offset <= LOG_AREA_MAX;
    const bytes = new Uint8Array(sane ? Number(size + offset) : 4096);
    this.offered = sane ? { bytes, offset, size } : null;
    return bytes;
  }

  dirtyLog(): Uint8Array | null {
    return this.log === null ? null : this.log.bytes.subarray(this.log.offset, this.log.offset + this.log.size);
  }

  /** Without a clock the device finishes a kick inside kick() and never runs on its own. */
  get completesInKick(): boolean {
    return this.clock === null;
  }

  async send(req: VhostRequest): Promise<Reply> {
    if (this.clock !== null && this.life.state === 'alive') await this.clock.beforeMessage();
    this.offered = null;
    // As frontEnd.ts: the held buffer goes back, or a fresh zeroed one sized for the packed layout (one page if empty or too large).
    if (req.op === 'setInflightFd') {
      const want = inflightBytes(req.numQueues, req.queueSize, true);
      this.inflightSent = !req.withFd ? null : this.inflightHeld ?? new Uint8Array(want > 0 && want <= INFLIGHT_AREA_MAX ? want : 4096);
    }
    const reply = this.run(() => this.backend.handle(req));
    if (req.op === 'getInflightFd' && reply !== undefined && 'ok' in reply && reply.ok) this.inflightHeld = (reply.value as InflightArea).bytes;
    // Set by allocateLog during handle(); TypeScript cannot see the callback's assignment.
    const offered = this.offered as { bytes: Uint8Array; offset: bigint; size: bigint } | null;
    if (req.op === 'setLogBase' && reply !== undefined && 'ok' in reply && reply.ok && offered !== null) {
      this.log = { bytes: offered.bytes, offset: Number(offered.offset), size: Number(offered.size) };
    }
    if (reply !== undefined) return reply;
    return this.life.state === 'hung' ? { timeout: true } : { closed: true };
  }

  async kick(vq: number): Promise<void> {
    if (this.clock === null) {
      this.run(() => this.backend.kick(vq));
      return;
    }
    if (this.life.state !== 'alive') return;
    const done = this.clock.kick(vq);
    if (this.awaitKicks) await done;
  }

  /**
   * Without a clock the device finishes a kick before kick() resolves, so a call not signalled yet never
   * will be: no waiting. The slow device publishes later: wait for it, up to `timeoutMs`.
   */
  async waitCall(vq: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.life.state !== 'alive') return false;
      if (this.backend.takeCall(vq)) return true;
      const left = deadline - Date.now();
      if (this.clock === null || left <= 0) return false;
      await this.clock.nextPublish(left);
    }
  }

  async health(): Promise<Health> {
    switch (this.life.state) {
      case 'alive':
        return { state: 'alive' };
      case 'hung':
        return { state: 'hung' };
      case 'crashed':
        return { state: 'exited', code: null, signal: this.life.signal };
      case 'closed':
        return { state: 'exited', code: 0, signal: null };
    }
  }

  async close(): Promise<void> {
    // Closing a hung back-end means killing it.
    if (this.life.state === 'hung') this.life = { state: 'crashed', signal: 'SIGKILL' };
    else if (this.life.state === 'alive') this.life = { state: 'closed' };
    // No request reaches the device once it is not alive, so its memory can serve the next session.
    if (this.released) return;
    this.released = true;
    this.clock?.stop();
    this.backend.release();
    if (this.ownBacking !== null) recycle(this.ownBacking);
  }

  /** Runs device code unless the device is gone; a fault or hang inside it is recorded, never thrown to the suite. */
  private run<T>(fn: () => T): T | undefined {
    if (this.life.state !== 'alive') return undefined;
    try {
      return fn();
    } catch (e) {
      this.life = e instanceof DeviceHang ? { state: 'hung' } : { state: 'crashed', signal: e instanceof DeviceFault ? e.signal : 'SIGSEGV' };
      return undefined;
    }
  }
}

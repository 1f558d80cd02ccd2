// The simulated vhost-user back-end: message handling (QEMU
// docs/interop/vhost-user.rst "Front-end message types") and the data path
// run on kicks. Everything is synchronous; a kick has been fully processed
// when kick() returns.
import type { Reply, VhostRequest } from '../../spec/requests.ts';
import { VHOST_SET_CONFIG_TYPE_MIGRATION, VHOST_USER_MAX_CONFIG_SIZE } from '../../spec/vhostUser/payloads.ts';
import {
  VHOST_USER_F_PROTOCOL_FEATURES,
  VHOST_USER_PROTOCOL_F_CONFIG,
  VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS,
  VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD,
  VHOST_USER_PROTOCOL_F_LOG_SHMFD,
  VHOST_USER_PROTOCOL_F_MQ,
  VHOST_USER_PROTOCOL_F_REPLY_ACK,
  VHOST_USER_PROTOCOL_F_RESET_DEVICE,
  VHOST_USER_PROTOCOL_F_STATUS,
} from '../../spec/vhostUser/protocolFeatures.ts';
import { VIRTIO_BLK_F_BLK_SIZE, VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_MQ, VIRTIO_BLK_F_SEG_MAX } from '../../spec/virtio/blk.ts';
import {
  bit,
  hasFeature,
  VIRTIO_F_ACCESS_PLATFORM,
  VIRTIO_F_IN_ORDER,
  VIRTIO_F_RING_PACKED,
  VIRTIO_F_RING_RESET,
  VIRTIO_F_VERSION_1,
  VIRTIO_RING_F_EVENT_IDX,
  VIRTIO_RING_F_INDIRECT_DESC,
} from '../../spec/virtio/features.ts';
import { NET_RX_QUEUE, NET_TX_QUEUE, virtio_net_hdr, VIRTIO_NET_F_MAC, VIRTIO_NET_F_MTU, VIRTIO_NET_F_STATUS } from '../../spec/virtio/net.ts';
import { VIRTIO_CONFIG_S_FEATURES_OK, VIRTIO_CONFIG_S_NEEDS_RESET } from '../../spec/virtio/status.ts';
import type { GuestMemory } from '../target.ts';
import { VHOST_F_LOG_ALL, VHOST_VRING_F_LOG } from '../../spec/vhost/types.ts';
import { AddressSpace, MAX_MEM_SLOTS } from './addressSpace.ts';
import { blkConfig, blkConfigWritable, RamDisk } from './blk.ts';
import type { Elem, RingContext, RingSession } from './chain.ts';
import { Dma, totalLen } from './dma.ts';
import { DirtyLog } from './dirtyLog.ts';
import { InflightBuffers, type InflightShare } from './inflight.ts';
import { DeviceFault } from './faults.ts';
import type { MutantSwitch } from './mutants/index.ts';
import { gateOf, gateOpen } from './messageGates.ts';
import { Loopback, netConfig, netHeaderBytes } from './net.ts';
import { PackedRing } from './packedRing.ts';
import { SplitRing } from './splitRing.ts';
import type { Personality } from './variants/personality.ts';
import { strictRefusal } from './variants/strict.ts';
import { freshVring, type NotifierState, type Vring } from './vring.ts';

/** Every protocol feature the device implements; a personality may withhold some. */
const PROTOCOL_FEATURES =
  bit(VHOST_USER_PROTOCOL_F_MQ) |
  bit(VHOST_USER_PROTOCOL_F_REPLY_ACK) |
  bit(VHOST_USER_PROTOCOL_F_CONFIG) |
  bit(VHOST_USER_PROTOCOL_F_RESET_DEVICE) |
  bit(VHOST_USER_PROTOCOL_F_STATUS) |
  bit(VHOST_USER_PROTOCOL_F_LOG_SHMFD) |
  bit(VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD) |
  bit(VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS);

/** The fd table of the leaking mutant's process (ulimit -n 256). */
const FD_LIMIT = 256;

const OK: Reply = { ok: true };
const EINVAL: Reply = { ok: false, errno: 'EINVAL' };

export interface BackendOptions {
  readonly deviceType: 'blk' | 'net';
  readonly queues: number;
  readonly memory: GuestMemory;
  readonly has: MutantSwitch;
  /** The bytes of the log area the front-end shares with SET_LOG_BASE (offset + size bytes, or fewer when it lies). */
  readonly logArea: (size: bigint, offset: bigint) => Uint8Array;
  /** Where GET_INFLIGHT_FD's buffers are allocated and SET_INFLIGHT_FD's is found. */
  readonly inflight: InflightShare;
  readonly personality: Personality;
}

/** A request the device took from queue `q` and executed: what publish() marks used, `len` bytes written. */
export interface Taken {
  readonly q: number;
  readonly elem: Elem;
  readonly len: number;
}

/** What the config-uninit-leak mutant's scratch buffer holds before its first reply: stale bytes, recognisably not zero. */
const SCRATCH_PATTERN = Uint8Array.from({ length: VHOST_USER_MAX_CONFIG_SIZE }, (_, i) => 0xd0 + (i % 16));

export class Backend {
  private readonly offered: bigint;
  private readonly offeredProtocol: bigint;
  private readonly personality: Personality;
  private readonly has: MutantSwitch;
  private readonly deviceType: 'blk' | 'net';
  private readonly queues: number;
  private readonly dma: Dma;
  private readonly space: AddressSpace;
  private readonly config: Buffer;
  private readonly disk: RamDisk;
  private readonly loopback: Loopback;
  private readonly log: DirtyLog;
  private readonly logArea: BackendOptions['logArea'];
  private readonly inflight: InflightBuffers;
  private vrings: Vring[];
  private acked = 0n;
  /** The protocol features of the last accepted SET_PROTOCOL_FEATURES: session state, kept across RESET_DEVICE. */
  private protocol = 0n;
  /** SET_OWNER taken: "The back-end retains ownership of the device throughout the reset operation" (VHOST_USER_RESET_DEVICE). */
  private owned = false;
  private status = 0;
  /** Scratch buffer the config-uninit-leak mutant builds replies in, never cleared. */
  private readonly scratch = Buffer.from(SCRATCH_PATTERN);
  private leakedFds = 0;

  constructor(opts: BackendOptions) {
    this.has = opts.has;
    this.personality = opts.personality;
    this.deviceType = opts.deviceType;
    this.queues = opts.queues;
    this.dma = new Dma(opts.memory, opts.has);
    this.space = new AddressSpace(opts.memory, opts.has);
    this.disk = new RamDisk(this.dma, opts.has, opts.personality.blkCapacitySectors);
    this.loopback = new Loopback(this.dma, opts.has);
    this.log = new DirtyLog(opts.has);
    this.logArea = opts.logArea;
    this.inflight = new InflightBuffers({ has: opts.has, queues: opts.queues, maxQueueSize: opts.personality.maxQueueSize, fdLimit: FD_LIMIT, share: opts.inflight });
    this.vrings = Array.from({ length: opts.queues }, freshVring);
    let f =
      bit(VIRTIO_F_VERSION_1) |
      bit(VIRTIO_RING_F_INDIRECT_DESC) |
      bit(VIRTIO_RING_F_EVENT_IDX) |
      bit(VIRTIO_F_RING_PACKED) |
      bit(VIRTIO_F_IN_ORDER) |
      bit(VIRTIO_F_ACCESS_PLATFORM) |
      bit(VIRTIO_F_RING_RESET) |
      bit(VHOST_F_LOG_ALL) |
      bit(VHOST_USER_F_PROTOCOL_FEATURES);
    if (opts.deviceType === 'blk') {
      f |= bit(VIRTIO_BLK_F_SEG_MAX) | bit(VIRTIO_BLK_F_BLK_SIZE) | bit(VIRTIO_BLK_F_FLUSH);
      if (opts.queues > 1) f |= bit(VIRTIO_BLK_F_MQ);
      this.config = blkConfig(opts.queues, opts.personality.blkCapacitySectors);
    } else {
      f |= bit(VIRTIO_NET_F_MAC) | bit(VIRTIO_NET_F_MTU) | bit(VIRTIO_NET_F_STATUS);
      this.config = netConfig();
    }
    this.offered = f & ~opts.personality.withheldFeatures;
    this.offeredProtocol = hasFeature(this.offered, VHOST_USER_F_PROTOCOL_FEATURES) ? PROTOCOL_FEATURES & ~opts.personality.withheldProtocolFeatures : 0n;
  }

  /** VIRTIO_F_IN_ORDER acked: buffers are used in the order they were made available (variants/slow.ts). */
  inOrder(): boolean {
    return hasFeature(this.acked, VIRTIO_F_IN_ORDER);
  }

  handle(req: VhostRequest): Reply {
    // A message of an extension the device does not offer is one it does not implement.
    const gate = gateOf(req.op);
    if (gate !== undefined && !gateOpen(gate, { features: this.offered, protocol: this.offeredProtocol })) return EINVAL;
    if (this.personality.strict && strictRefusal(req, { features: this.acked, protocol: this.protocol, owned: this.owned }) !== null) return EINVAL;
    switch (req.op) {
      case 'getFeatures':
        return { ok: true, value: this.offered };
      case 'setFeatures':
        return this.setFeatures(req.features);
      case 'getProtocolFeatures':
        return { ok: true, value: this.offeredProtocol };
      case 'setProtocolFeatures':
        // Unknown bits are refused; what was taken gates messages only for the strict variant.
        if (req.features < 0n || (req.features & ~this.offeredProtocol) !== 0n) return EINVAL;
        this.protocol = req.features;
        return OK;
      case 'setOwner':
        this.owned = true;
        return OK;
      case 'resetDevice':
        this.reset();
        return OK;
      case 'getQueueNum':
        return { ok: true, value: this.deviceType === 'net' && this.personality.netQueueNum === 'pairs' ? this.queues / 2 : this.queues };
      case 'setMemTable':
        return this.space.setMemTable(req.regions) ? OK : EINVAL;
      case 'setVringNum':
        return this.setVringNum(req.index, req.num);
      case 'setVringAddr': {
        const vq = this.vring(req.index);
        if (vq === null) return EINVAL;
        vq.addr = { desc: req.desc, avail: req.avail, used: req.used, log: req.log, flags: req.flags };
        return OK;
      }
      case 'setVringBase':
        return this.setVringBase(req.index, req.base);
      case 'getVringBase':
        return this.getVringBase(req.index);
      case 'setVringKick': {
        const vq = this.vring(req.index);
        if (vq === null) return EINVAL;
        vq.kick = this.takeFd(req.invalid);
        // vhost-user.rst "Ring states": a ring starts when it gets its kick fd; without one
        // (invalid flag) the back-end polls, which here means kicks are still honoured.
        vq.started = true;
        return OK;
      }
      case 'setVringErr': {
        // The device reports no ring errors; the notifier is only held, and released when replaced (bug-catalog D2).
        const vq = this.vring(req.index);
        if (vq === null) return EINVAL;
        this.takeFd(req.invalid);
        return OK;
      }
      case 'setVringCall': {
        const vq = this.vring(req.index);
        if (vq === null) return EINVAL;
        vq.call = this.takeFd(req.invalid);
        return OK;
      }
      case 'setVringEnable': {
        const vq = this.vring(req.index);
        if (vq === null) return EINVAL;
        vq.enabled = req.enable;
        return OK;
      }
      case 'getConfig':
        return this.getConfig(req.offset, req.size);
      case 'setConfig':
        return this.setConfig(req.offset, req.data, req.flags);
      case 'setStatus':
        return this.setStatus(req.status);
      case 'getStatus':
        return { ok: true, value: this.status | (this.vrings.some((v) => v.broken) ? VIRTIO_CONFIG_S_NEEDS_RESET : 0) };
      case 'iotlbUpdate':
        return this.space.iotlbUpdate(req.iova, req.size, req.uaddr, req.perm) ? OK : EINVAL;
      case 'iotlbInvalidate':
        return this.space.iotlbInvalidate(req.iova, req.size) ? OK : EINVAL;
      case 'getMaxMemSlots':
        return { ok: true, value: MAX_MEM_SLOTS };
      case 'addMemReg':
        return this.space.addRegion(req.region) ? OK : EINVAL;
      case 'remMemReg':
        return this.space.removeRegion(req.region) ? OK : EINVAL;
      case 'setLogBase':
        return this.log.attach(this.logArea(req.size, req.offset), req.size, req.offset) ? OK : EINVAL;
      case 'setLogFd':
        // An optional notifier (vhost-user.rst "Migration"): taken; the device has no log changes to announce.
        return OK;
      case 'getInflightFd':
        return this.inflight.get(req.numQueues, req.queueSize, hasFeature(this.acked, VIRTIO_F_RING_PACKED));
      case 'setInflightFd':
        return this.inflight.set(req.numQueues, req.queueSize, hasFeature(this.acked, VIRTIO_F_RING_PACKED));
      default:
        return EINVAL;
    }
  }

  /** The kick eventfd of `q` fired: each request it finds is executed and marked used in ring order. */
  kick(q: number): void {
    this.serve(q, (s, t) => this.complete(s, t.elem, t.len));
  }

  /**
   * Pops and executes every request a kick of `q` finds, to be marked used later by publish() (the
   * slow variant, which publishes out of order). Chains refused on the way are returned at once.
   */
  take(q: number): Taken[] {
    const taken: Taken[] = [];
    this.serve(q, (_s, t) => taken.push(t));
    return taken;
  }

  /** What a kick of `q` does (net: and the looped-back frames it delivers into receiveq1), each executed request handed to `sink`. */
  private serve(q: number, sink: (s: RingSession, t: Taken) => void): void {
    if (!Number.isInteger(q) || q < 0 || q >= this.queues) return;
    const vq = this.vrings[q];
    if (this.deviceType === 'blk') {
      // A disabled ring is processed "without side effects" (vhost-user.rst "Ring states"):
      // for a disk, executing or completing a request is a side effect, so nothing happens.
      if (!vq.enabled) return;
      const s = this.open(q);
      if (s === null) return;
      for (let e = s.pop(); e !== null; e = s.pop()) sink(s, { q, elem: e, len: this.disk.handle(e) ?? 0 });
      this.finish(q, s);
      return;
    }
    if (q === NET_TX_QUEUE) {
      const tx = this.open(q);
      if (tx !== null) {
        // vhost-user.rst "Ring states": a started but disabled ring is processed without side
        // effects; for net, TX buffers are consumed and their frames discarded.
        for (let e = tx.pop(); e !== null; e = tx.pop()) {
          if (vq.enabled) this.loopback.transmit(e, this.netHeaderSize());
          sink(tx, { q, elem: e, len: 0 });
        }
        this.finish(q, tx);
      }
    }
    this.receive(sink);
  }

  /** Marks taken requests used, queue by queue in the order given, and decides each queue's notification. */
  publish(taken: readonly Taken[]): void {
    for (const q of new Set(taken.map((t) => t.q))) {
      const s = this.open(q);
      if (s === null) continue;
      for (const t of taken) if (t.q === q) this.complete(s, t.elem, t.len);
      this.finish(q, s);
    }
  }

  /** The back-end process is gone: its disk goes back for the next session (zeroedBuffers.ts). */
  release(): void {
    this.disk.release();
  }

  /** Consumes a pending call signal of `q`. */
  takeCall(q: number): boolean {
    const vq = this.vrings[q];
    if (vq === undefined || !vq.callPending) return false;
    vq.callPending = false;
    return true;
  }

  /** Delivers backlog frames into receiveq1; a disabled RX ring gets no new packets (vhost-user.rst "Ring states"). */
  private receive(sink: (s: RingSession, t: Taken) => void): void {
    if (this.loopback.pending === 0 || !this.vrings[NET_RX_QUEUE].enabled) return;
    const rx = this.open(NET_RX_QUEUE);
    if (rx === null) return;
    this.loopback.receive(rx, this.netHeaderSize(), (e, written) => sink(rx, { q: NET_RX_QUEUE, elem: e, len: written }));
    this.finish(NET_RX_QUEUE, rx);
  }

  private netHeaderSize(): number {
    return this.has('net-hdr-size-legacy') ? virtio_net_hdr.size : netHeaderBytes(this.acked);
  }

  /**
   * A session on a ring that may be processed now: started (vhost-user.rst
   * "Ring states"), configured and not broken. Like DPDK and libvhost-user,
   * the back-end does not look at the device status: ring state alone
   * decides (the front-end withholds kicks until DRIVER_OK).
   */
  private open(q: number): RingSession | null {
    const vq = this.vrings[q];
    if (!vq.started || vq.num === 0 || vq.addr === null || vq.broken) return null;
    const addr = vq.addr;
    // vhost-user.rst "Migration": used-ring writes are logged when the ring has VHOST_VRING_F_LOG, at log_guest_addr.
    const logUsed = this.logging() && (addr.flags & (1 << VHOST_VRING_F_LOG)) !== 0 && !this.has('dirty-log-used-ring-skipped')
      ? (offset: number, len: number) => this.log.mark(addr.log + BigInt(offset), len)
      : undefined;
    const ctx: RingContext = { dma: this.dma, space: this.space, has: this.has, features: this.acked, logUsed };
    return hasFeature(this.acked, VIRTIO_F_RING_PACKED) ? PackedRing.open(ctx, vq, vq.addr) : SplitRing.open(ctx, vq, vq.addr);
  }

  private complete(s: RingSession, e: Elem, written: number): void {
    const len = this.has('used-len-includes-readable') ? totalLen(e.iov) : written;
    if (this.logging()) this.logWritten(e, len);
    s.push(e, len);
  }

  private logging(): boolean {
    return hasFeature(this.acked, VHOST_F_LOG_ALL) && this.log.attached;
  }

  /**
   * vhost-user.rst "Migration": "All the modifications to memory pointed by vring descriptor should be
   * marked". As Linux vhost and libvhost-user do, the used length says how much was written: the first
   * `len` bytes of the device-writable buffers, logged by guest-physical address.
   */
  private logWritten(e: Elem, len: number): void {
    let left = len;
    for (const v of e.iov) {
      if (!v.write || left <= 0) continue;
      const n = Math.min(v.len, left);
      const gpa = this.space.gpaAtHost(v.off);
      if (gpa !== null) this.log.mark(gpa, n);
      left -= n;
    }
  }

  private finish(q: number, s: RingSession): void {
    if (!s.finish()) return;
    const vq = this.vrings[q];
    if (vq.call === 'fd') vq.callPending = true;
    // bug-catalog D16: with the invalid-fd flag there is nothing to signal.
    else if (vq.call === 'nofd' && this.has('call-invalid-fd-notify')) throw new DeviceFault('SIGSEGV', `vring ${q}: signalled call fd -1`);
  }

  /** The vring a 32-bit index names, validated in full (bug-catalog D4). */
  private vring(index: number): Vring | null {
    const i = this.has('vring-index-u16-truncation') ? index & 0xffff : index;
    return Number.isInteger(i) && i >= 0 && i < this.queues ? this.vrings[i] : null;
  }

  /** A kick or call notifier replaced: the previous fd is closed, except by the leaking mutant (bug-catalog D2). */
  private takeFd(invalid: boolean | undefined): NotifierState {
    if (invalid) return 'nofd';
    if (this.has('vring-fd-leak') && ++this.leakedFds > FD_LIMIT) throw new DeviceFault('SIGABRT', 'out of file descriptors (EMFILE)');
    return 'fd';
  }

  private setFeatures(f: bigint): Reply {
    if (f < 0n || ((f & ~this.offered) !== 0n && !this.has('features-ok-accepts-unoffered'))) return EINVAL;
    this.acked = f;
    // vhost-user.rst "Ring states": without VHOST_USER_F_PROTOCOL_FEATURES rings are
    // initialised enabled; with it, disabled until SET_VRING_ENABLE(1).
    const enabled = !hasFeature(f, VHOST_USER_F_PROTOCOL_FEATURES) || this.has('protocol-features-rings-enabled');
    for (const vq of this.vrings) vq.enabled = enabled;
    return OK;
  }

  private setVringNum(index: number, num: number): Reply {
    const vq = this.vring(index);
    if (vq === null || !Number.isInteger(num) || num < 1 || num > this.personality.maxQueueSize) return EINVAL;
    // A split ring size is a power of 2, a packed one need not be (§2.7, §2.8): the layout may
    // be negotiated after this message, so the size is checked when the ring runs (splitRing.ts).
    if ((num & (num - 1)) !== 0 && this.has('packed-size-pow2-required')) return EINVAL;
    vq.num = num;
    return OK;
  }

  /**
   * Split: the next avail index; the used index resumes from the same value,
   * as nothing is in flight in this device. Packed: the Linux
   * VHOST_SET_VRING_BASE encoding — avail index | avail wrap << 15 in the
   * low half, used index | used wrap << 15 in the high half.
   */
  private setVringBase(index: number, base: number): Reply {
    const vq = this.vring(index);
    if (vq === null || !Number.isInteger(base) || base < 0 || base > 0xffff_ffff) return EINVAL;
    if (hasFeature(this.acked, VIRTIO_F_RING_PACKED)) {
      vq.lastAvail = base & 0x7fff;
      vq.availWrap = ((base >>> 15) & 1) === 1;
      vq.usedIdx = (base >>> 16) & 0x7fff;
      vq.usedWrap = base >>> 31 === 1;
    } else {
      vq.lastAvail = base & 0xffff;
      vq.usedIdx = vq.lastAvail;
    }
    return OK;
  }

  /** Stops the ring (vhost-user.rst "Ring states") and reports where it stopped. */
  private getVringBase(index: number): Reply {
    const vq = this.vring(index);
    if (vq === null) return EINVAL;
    if (!this.has('get-vring-base-no-stop')) {
      vq.started = false;
      vq.kick = 'none';
    }
    if (!hasFeature(this.acked, VIRTIO_F_RING_PACKED)) return { ok: true, value: vq.lastAvail };
    const low = vq.lastAvail | (vq.availWrap ? 0x8000 : 0);
    const high = vq.usedIdx | (vq.usedWrap ? 0x8000 : 0);
    return { ok: true, value: ((high << 16) | low) >>> 0 };
  }

  /** VHOST_USER_SET_CONFIG: writable fields only (blk.ts; net has none), any field in a live-migration write. */
  private setConfig(offset: number, data: Uint8Array, flags: number): Reply {
    if (!Number.isInteger(offset) || offset < 0 || data.length < 1 || data.length > VHOST_USER_MAX_CONFIG_SIZE || offset + data.length > this.config.length) return EINVAL;
    const writable = this.deviceType === 'blk' && blkConfigWritable(this.acked, offset, data.length);
    if (!writable && flags !== VHOST_SET_CONFIG_TYPE_MIGRATION && !this.has('set-config-writes-readonly')) return EINVAL;
    this.config.set(data, offset);
    return OK;
  }

  /** VHOST_USER_GET_CONFIG: at most 256 bytes, never past the end of config space (bug-catalog L15). */
  private getConfig(offset: number, size: number): Reply {
    if (!Number.isInteger(offset) || !Number.isInteger(size) || offset < 0 || size < 1 || size > VHOST_USER_MAX_CONFIG_SIZE) return EINVAL;
    if (offset + size <= this.config.length) return { ok: true, value: Uint8Array.prototype.slice.call(this.config, offset, offset + size) };
    if (!this.has('config-uninit-leak')) return EINVAL;
    // The mutant copies what exists into its reused reply buffer and sends `size` bytes of it.
    if (offset < this.config.length) this.config.copy(this.scratch, 0, offset);
    return { ok: true, value: Uint8Array.prototype.slice.call(this.scratch, 0, size) };
  }

  /** §2.2 / §3.1.1: FEATURES_OK is refused (left clear) for a feature set the device cannot accept. */
  private setStatus(s: number): Reply {
    if (!Number.isInteger(s) || s < 0 || s > 0xff) return EINVAL;
    const refused = (this.acked & ~this.offered) !== 0n && !this.has('features-ok-accepts-unoffered');
    this.status = refused ? s & ~VIRTIO_CONFIG_S_FEATURES_OK : s;
    return OK;
  }

  /** VHOST_USER_RESET_DEVICE: every ring back to its initial state, status and features cleared, memory table kept. */
  private reset(): void {
    this.vrings = this.vrings.map((old) => {
      const vq = freshVring();
      if (this.has('reset-keeps-vring-base')) {
        vq.lastAvail = old.lastAvail;
        vq.availWrap = old.availWrap;
        vq.usedIdx = old.usedIdx;
        vq.usedWrap = old.usedWrap;
      }
      return vq;
    });
    this.status = 0;
    this.acked = 0n;
    this.space.clearIotlb();
    this.loopback.clear();
  }
}

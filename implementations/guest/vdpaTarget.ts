// A vhost-vdpa device driven through an agent: `guest:vdpa-sim-net` and
// `guest:vdpa-sim-blk` (the kernel's vDPA device simulators inside the QEMU
// guest), and `vhost-vdpa:/dev/vhost-vdpa-N` (a node this host has, through
// the host's agent process, implementations/vhost-vdpa/localAgent.ts). On a
// simulator a session adds a vdpa device with the guest's `vdpa` tool and
// opens the /dev/vhost-vdpa-N the vhost_vdpa driver gives it; on a host node
// it opens the node. Either way it speaks the vhost ioctls of
// include/uapi/linux/vhost.h to it, and close() undoes what open did.
//
// Guest memory: `memory` is a host Buffer mirrored into one agent memfd mapped
// MAP_SHARED in the guest (memoryMirror.ts). The device reaches it through the
// IOTLB, whose uaddrs must be the agent's own virtual addresses: the
// vhost-vdpa fd's owner mm is the agent's (drivers/vhost/vdpa.c
// vhost_vdpa_va_map() looks uaddr up with find_vma(dev->mm, ...),
// vhost_vdpa_pa_map() pins it with pin_user_pages()). The suite keeps using
// the front-end addresses of the standard layout (GuestRegion.uaddr), and
// send() translates those inside a region to the agent's mapping. The mirror
// is pushed before anything lets the device read memory (status, enable,
// kick) and pulled after every wait for a call (that ring) and on sync() (all).
import type { Reply, VhostRequest } from '../../spec/requests.ts';
import { encode, type StructSpec, type StructValue } from '../../spec/codec.ts';
import {
  VHOST_BACKEND_F_IOTLB_BATCH, VHOST_BACKEND_F_IOTLB_MSG_V2, VHOST_IOTLB_BATCH_BEGIN, VHOST_IOTLB_BATCH_END, VHOST_IOTLB_INVALIDATE, VHOST_IOTLB_UPDATE,
  vhost_memory, vhost_memory_region, vhost_msg_v2, vhost_vdpa_config, vhost_vring_addr, vhost_vring_file, vhost_vring_state,
} from '../../spec/vhost/types.ts';
import { bit, hasFeature } from '../../spec/virtio/features.ts';
import { backingSize, layOutGuestMemory } from '../guestMemory.ts';
import type { GuestMemory, Health, Target, TargetInfo } from '../target.ts';
import { type AgentClient, errnoName, GuestFlags, type RequestOptions } from './agent.ts';
import type { KernelMachine } from './boot.ts';
import { type IotlbMessage, type WriteOutcome, writeIotlb } from './iotlb.ts';
import { MemoryMirror, type MirrorStats, type Run } from './memoryMirror.ts';
import { agentIoctl, type IoctlArgValue, type IoctlOutcome, scalarOut, ioctlInfo } from './vhostIoctl.ts';

/** The management devices vdpa_sim_net and vdpa_sim_blk register (drivers/vdpa/vdpa_sim/vdpa_sim_{net,blk}.c). */
const MGMTDEV = { net: 'vdpasim_net', blk: 'vdpasim_blk' } as const;

/** The MAC a net device is created with, so GET_CONFIG can be checked against what was asked for. */
export const GUEST_NET_MAC = '52:54:00:76:68:63';

/**
 * The device a session drives: a node this host already has, or (no `node`) a fresh vdpa_sim device of
 * `deviceType` added in the guest for the session, so no session sees another's state.
 */
export interface VdpaDeviceRef {
  readonly deviceType: 'net' | 'blk';
  readonly node?: string;
}

/** A struct argument; `spec` only makes the compiler check `value` against the layout the ioctl's table names. */
function struct<S extends StructSpec>(_spec: S, value: StructValue<S>, trailing?: Uint8Array): IoctlArgValue {
  const fields = value as Readonly<Record<string, number | bigint | Uint8Array>>;
  return trailing ? { value: fields, trailing } : { value: fields };
}

/** An ioctl or write that did not succeed, as a Reply: the kernel's errno, or no answer from the guest. */
function failed(o: { kind: 'error'; errno: string } | { kind: 'timeout' } | { kind: 'crash' }): Reply {
  return o.kind === 'error' ? { ok: false, errno: o.errno } : o.kind === 'timeout' ? { timeout: true } : { closed: true };
}

function toReply(o: IoctlOutcome, value?: (out: Buffer) => bigint | number | Uint8Array): Reply {
  if (o.kind !== 'ok') return failed(o);
  return value ? { ok: true, value: value(o.out) } : { ok: true };
}

/** What a write of one IOTLB message came to, as a Reply. vhost_chr_write_iter() takes a whole message or fails. */
function writeReply(o: WriteOutcome): Reply {
  if (o.kind !== 'ok') return failed(o);
  if (o.written !== vhost_msg_v2.size) throw new Error(`the vhost-vdpa fd took ${o.written} of a ${vhost_msg_v2.size}-byte IOTLB message`);
  return { ok: true };
}

/** The backend features a session asks for (vhost_types.h): v2 messages always, batching when the device offers it. */
const WANTED_BACKEND_FEATURES = bit(VHOST_BACKEND_F_IOTLB_MSG_V2) | bit(VHOST_BACKEND_F_IOTLB_BATCH);

/** Requests that let the device read guest memory (it starts at DRIVER_OK, a ready vq is processed): the mirror is pushed first. */
const READS_MEMORY: ReadonlySet<VhostRequest['op']> = new Set(['setStatus', 'setVringEnable']);

export class VhostVdpaTarget implements Target {
  /** Each vring's size and descriptor / used areas as last set: what a poll for its completions scans. */
  readonly #rings = new Map<number, { num?: number; desc?: bigint; used?: bigint }>();
  readonly #kick = new Map<number, number>();
  readonly #call = new Map<number, number>();
  readonly #err = new Map<number, number>();
  #closed = false;

  private constructor(
    readonly info: TargetInfo,
    readonly machine: KernelMachine,
    /** The vdpa_sim device the session added (deleted at close), or undefined on a host's own node. */
    readonly vdpaName: string | undefined,
    /** The vhost-vdpa node open on it. */
    readonly devicePath: string,
    readonly fd: number,
    /** The guest memory the suite shares with the device, mirrored into `#mirror`'s guest mapping. */
    readonly memory: GuestMemory,
    readonly mirror: MemoryMirror,
    /** The memfd behind the mirror's mapping. */
    readonly memfd: number,
    /** The backend features negotiated at open (VHOST_SET_BACKEND_FEATURES). */
    readonly backendFeatures: bigint,
  ) {}

  /**
   * Opens the device's vhost-vdpa node (adding the simulated device first when `device` names no node),
   * negotiates the backend features (IOTLB_MSG_V2, and IOTLB_BATCH if offered) and maps the guest memory
   * the mirror shares.
   */
  static async open(machine: KernelMachine, device: VdpaDeviceRef): Promise<VhostVdpaTarget> {
    const { agent } = machine;
    const { deviceType } = device;
    const name = device.node === undefined ? await addSimDevice(machine, deviceType) : undefined;
    let fd = -1;
    let shared: { memfd: number; addr: bigint; size: bigint } | undefined;
    try {
      const devicePath = device.node ?? (await simDeviceNode(machine, name!));
      const opened = await agent.open(devicePath, GuestFlags.O_RDWR);
      if (opened.kind !== 'ok' || opened.result < 0) throw new Error(`cannot open ${devicePath}: ${opened.kind === 'ok' ? openFailure(opened.result) : opened.kind}`);
      fd = opened.result;
      const openFd = fd;
      const u = async (ioctl: string, arg?: IoctlArgValue) => {
        const o = await agentIoctl(agent, openFd, ioctlInfo(ioctl), arg);
        if (o.kind !== 'ok') throw new Error(`${ioctl} on ${devicePath} failed in the guest: ${o.kind === 'error' ? o.errno : o.kind}`);
        return ioctlInfo(ioctl).kernelWrites ? scalarOut(ioctlInfo(ioctl), o.out) : 0;
      };
      const info: TargetInfo = {
        name: device.node === undefined ? `linux ${MGMTDEV[deviceType]} (guest)` : `linux vhost-vdpa ${device.node}`,
        kind: 'kernel',
        version: agent.kernelRelease,
        deviceType,
        queues: Number(await u('VHOST_VDPA_GET_VQS_COUNT')),
        maxQueueSize: Number(await u('VHOST_VDPA_GET_VRING_NUM')),
        // vdpa_sim_blk allocates each device's disk zeroed (drivers/vdpa/vdpa_sim/vdpa_sim_blk.c vdpasim_blk_dev_add(), kvzalloc
        // unless the module's shared_backend is set), and a session adds its own device. A host's node keeps its disk.
        ...(deviceType === 'blk' && name !== undefined && { freshDisk: true }),
      };
      // IOTLB writes are v2 messages (vhost_types.h VHOST_BACKEND_F_IOTLB_MSG_V2); vhost_vdpa_unlocked_ioctl() takes SET_BACKEND_FEATURES before SET_OWNER.
      const offered = BigInt(await u('VHOST_GET_BACKEND_FEATURES'));
      if (!hasFeature(offered, VHOST_BACKEND_F_IOTLB_MSG_V2)) throw new Error(`${devicePath} does not offer VHOST_BACKEND_F_IOTLB_MSG_V2 (backend features 0x${offered.toString(16)})`);
      const backendFeatures = offered & WANTED_BACKEND_FEATURES;
      await u('VHOST_SET_BACKEND_FEATURES', backendFeatures);
      const size = BigInt(backingSize());
      const memfd = await agent.memfd(size);
      if (memfd.kind !== 'ok' || memfd.result < 0) throw new Error(`guest memfd of ${size} bytes failed: ${memfd.kind === 'ok' ? errnoName(memfd.result) : memfd.kind}`);
      const map = await agent.mmap(memfd.result, size);
      if (map.kind !== 'ok' || map.result < 0) {
        await agent.closeFd(memfd.result);
        throw new Error(`guest mmap of the memfd failed: ${map.kind === 'ok' ? errnoName(map.result) : map.kind}`);
      }
      shared = { memfd: memfd.result, addr: map.body.readBigUInt64LE(0), size };
      const memory = layOutGuestMemory(Buffer.alloc(Number(size)));
      const mirror = new MemoryMirror(agent, memory.backing, shared.addr);
      // The guards' canaries reach the guest before the device can see anything.
      if ((await mirror.sync()) !== 'ok') throw new Error('the guest did not answer the first memory sync');
      return new VhostVdpaTarget(info, machine, name, devicePath, fd, memory, mirror, shared.memfd, backendFeatures);
    } catch (e) {
      if (shared) await releaseMapping(agent, shared);
      if (fd >= 0) await agent.closeFd(fd);
      if (name !== undefined) await agent.vdpa(['dev', 'del', name]);
      throw e;
    }
  }

  /** close() has run. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** Time and bytes the memory mirror has cost this session. */
  get mirrorStats(): MirrorStats {
    return this.mirror.stats;
  }

  /**
   * A front-end address (GuestRegion.uaddr space) as the agent's virtual address: inside a region, the same
   * offset into the agent's mapping of the region; anywhere else unchanged, naming whatever the agent has there.
   */
  agentAddress(uaddr: bigint): bigint {
    for (const r of this.memory.regions) {
      if (uaddr >= r.uaddr && uaddr < r.uaddr + BigInt(r.bytes.length)) return this.mirror.guestAddr + BigInt(r.backingOffset) + (uaddr - r.uaddr);
    }
    return uaddr;
  }

  /** Any vhost ioctl by its C name, with the argument its spec/ table describes. */
  ioctl(name: string, arg?: IoctlArgValue, opts?: RequestOptions): Promise<IoctlOutcome> {
    return agentIoctl(this.machine.agent, this.fd, ioctlInfo(name), arg, opts);
  }

  /** Writes one v2 IOTLB message to the vhost-vdpa fd (vhost_vdpa_chr_write_iter → vhost_vdpa_process_iotlb_msg). */
  writeIotlb(msg: IotlbMessage): Promise<WriteOutcome> {
    return writeIotlb(this.machine.agent, this.fd, msg);
  }

  /**
   * One IOTLB UPDATE or INVALIDATE, inside BATCH_BEGIN / BATCH_END when IOTLB_BATCH was negotiated (as QEMU sends them:
   * a set_map parent then gets the whole map once, at BATCH_END, vhost_vdpa_process_iotlb_msg()). The three writes
   * are pipelined: the agent runs them in order. The message's own answer is the reply; a refused BEGIN or END is too.
   */
  async #iotlb(msg: IotlbMessage): Promise<Reply> {
    if (!hasFeature(this.backendFeatures, VHOST_BACKEND_F_IOTLB_BATCH)) return writeReply(await this.writeIotlb(msg));
    const marker = (type: number): IotlbMessage => ({ asid: 0, iotlb_iova: 0n, iotlb_size: 0n, iotlb_uaddr: 0n, iotlb_perm: 0, iotlb_type: type });
    const [begin, own, end] = (await Promise.all([this.writeIotlb(marker(VHOST_IOTLB_BATCH_BEGIN)), this.writeIotlb(msg), this.writeIotlb(marker(VHOST_IOTLB_BATCH_END))])).map(writeReply);
    const failed = [begin, end].find((r) => !('ok' in r && r.ok));
    return 'ok' in own && own.ok && failed ? failed : own;
  }

  async #scalar(name: string, arg?: IoctlArgValue): Promise<Reply> {
    const info = ioctlInfo(name);
    return toReply(await this.ioctl(name, arg), info.kernelWrites ? (out) => scalarOut(info, out) : undefined);
  }

  /** A fresh guest eventfd for a vring notifier (replacing and closing the previous one), or -1 for `invalid`. */
  async #notifier(kind: Map<number, number>, index: number, invalid: boolean | undefined): Promise<number> {
    const old = kind.get(index);
    if (old !== undefined) {
      // Not awaited: the agent runs it before the requests behind it, and a failed close changes nothing here.
      void this.machine.agent.closeFd(old);
      kind.delete(index);
    }
    if (invalid) return -1;
    const e = await this.machine.agent.eventfd(0, GuestFlags.EFD_NONBLOCK);
    if (e.kind !== 'ok' || e.result < 0) throw new Error(`guest eventfd failed: ${e.kind === 'ok' ? errnoName(e.result) : e.kind}`);
    kind.set(index, e.result);
    return e.result;
  }

  async send(req: VhostRequest): Promise<Reply> {
    // A push only: nothing the device wrote is read until a wait or a sync asks for it.
    if (READS_MEMORY.has(req.op)) await this.mirror.sync([]);
    if (req.op === 'setVringNum') this.#rings.set(req.index, { ...this.#rings.get(req.index), num: req.num });
    if (req.op === 'setVringAddr') this.#rings.set(req.index, { ...this.#rings.get(req.index), desc: req.desc, used: req.used });
    switch (req.op) {
      case 'getFeatures':
        return this.#scalar('VHOST_GET_FEATURES');
      case 'setFeatures':
        return this.#scalar('VHOST_SET_FEATURES', req.features);
      case 'setOwner':
        return this.#scalar('VHOST_SET_OWNER');
      // vhost-vdpa has no reset ioctl: writing status 0 resets (drivers/vhost/vdpa.c vhost_vdpa_set_status()).
      case 'resetDevice':
        return this.#scalar('VHOST_VDPA_SET_STATUS', 0);
      case 'getStatus':
        return this.#scalar('VHOST_VDPA_GET_STATUS');
      case 'setStatus':
        return this.#scalar('VHOST_VDPA_SET_STATUS', req.status);
      case 'getQueueNum':
        return this.#scalar('VHOST_VDPA_GET_VQS_COUNT');
      case 'setVringNum':
        return this.#scalar('VHOST_SET_VRING_NUM', struct(vhost_vring_state, { index: req.index, num: req.num }));
      case 'setVringBase':
        return this.#scalar('VHOST_SET_VRING_BASE', struct(vhost_vring_state, { index: req.index, num: req.base }));
      case 'getVringBase':
        return toReply(await this.ioctl('VHOST_GET_VRING_BASE', struct(vhost_vring_state, { index: req.index, num: 0 })), (out) => out.readUInt32LE(4));
      case 'setVringEnable':
        return this.#scalar('VHOST_VDPA_SET_VRING_ENABLE', struct(vhost_vring_state, { index: req.index, num: req.enable ? 1 : 0 }));
      case 'setVringAddr':
        return this.#scalar(
          'VHOST_SET_VRING_ADDR',
          struct(vhost_vring_addr, { index: req.index, flags: req.flags, desc_user_addr: req.desc, used_user_addr: req.used, avail_user_addr: req.avail, log_guest_addr: req.log }),
        );
      case 'setVringKick':
      case 'setVringCall':
      case 'setVringErr': {
        const notifiers: Record<typeof req.op, [Map<number, number>, string]> = {
          setVringKick: [this.#kick, 'VHOST_SET_VRING_KICK'],
          setVringCall: [this.#call, 'VHOST_SET_VRING_CALL'],
          setVringErr: [this.#err, 'VHOST_SET_VRING_ERR'],
        };
        const [map, ioctl] = notifiers[req.op];
        const fd = await this.#notifier(map, req.index, req.invalid);
        return this.#scalar(ioctl, struct(vhost_vring_file, { index: req.index, fd: fd >>> 0 }));
      }
      case 'getConfig':
        return toReply(await this.ioctl('VHOST_VDPA_GET_CONFIG', struct(vhost_vdpa_config, { off: req.offset, len: req.size }, new Uint8Array(req.size))), (out) =>
          new Uint8Array(out.subarray(vhost_vdpa_config.size)),
        );
      case 'setConfig':
        return this.#scalar('VHOST_VDPA_SET_CONFIG', struct(vhost_vdpa_config, { off: req.offset, len: req.data.length }, req.data));
      // Passed through: vhost_vdpa_unlocked_ioctl() hands VHOST_SET_MEM_TABLE to vhost_dev_ioctl() (vhost_set_memory(), which
      // replaces dev->umem); the device translates through the per-ASID IOTLBs only, so the table changes no translation.
      case 'setMemTable': {
        const regions = Buffer.concat(req.regions.map((r) => encode(vhost_memory_region, { guest_phys_addr: r.gpa, memory_size: r.size, userspace_addr: this.agentAddress(r.uaddr), flags_padding: 0n })));
        return this.#scalar('VHOST_SET_MEM_TABLE', struct(vhost_memory, { nregions: req.regions.length, padding: 0 }, regions));
      }
      case 'iotlbUpdate':
        return this.#iotlb({ asid: 0, iotlb_iova: req.iova, iotlb_size: req.size, iotlb_uaddr: this.agentAddress(req.uaddr), iotlb_perm: req.perm, iotlb_type: VHOST_IOTLB_UPDATE });
      case 'iotlbInvalidate':
        return this.#iotlb({ asid: 0, iotlb_iova: req.iova, iotlb_size: req.size, iotlb_uaddr: 0n, iotlb_perm: 0, iotlb_type: VHOST_IOTLB_INVALIDATE });
      // vhost-vdpa answers both with ENOIOCTLCMD (drivers/vhost/vdpa.c vhost_vdpa_unlocked_ioctl()): the ioctls are issued so
      // the answer is the kernel's own. The log address and fd are never used.
      case 'setLogBase':
        return this.#scalar('VHOST_SET_LOG_BASE', 0n);
      case 'setLogFd':
        return this.#scalar('VHOST_SET_LOG_FD', -1);
      default:
        // Protocol features, memory slots and inflight buffers are vhost-user messages: no ioctl carries them, and the
        // suites that send them run on vhost-user transports only (properties/suites/index.ts `transports`).
        throw new Error(`vhost-vdpa: ${req.op} is a vhost-user message with no vhost-vdpa ioctl: not applicable on this transport`);
    }
  }

  /**
   * Where in `memory.backing` a ring address points: through the region holding it as a guest-physical address (the
   * IOVA the harness maps 1:1 onto guest memory) or as a front-end address. Null outside guest memory.
   */
  #backingOffset(addr: bigint, len: number): number | null {
    for (const r of this.memory.regions) {
      for (const base of [r.gpa, r.uaddr]) if (addr >= base && addr + BigInt(len) <= base + BigInt(r.bytes.length)) return r.backingOffset + Number(addr - base);
    }
    return null;
  }

  /**
   * What a poll of `vq`'s completions scans: its used ring (split: flags, idx, num elements, avail_event) and its
   * descriptor table (a packed ring's device writes used descriptors there). Everything when a ring is not known.
   */
  #ringScan(vq: number): Run[] | 'all' {
    const r = this.#rings.get(vq);
    if (r?.num === undefined || r.desc === undefined || r.used === undefined) return 'all';
    const areas = [{ at: r.desc, len: 16 * r.num }, { at: r.used, len: 6 + 8 * r.num }].map((a) => ({ offset: this.#backingOffset(a.at, a.len), length: a.len }));
    return areas.every((a) => a.offset !== null) ? (areas as Run[]) : 'all';
  }

  /** Pushes the driver's writes, then signals the kick eventfd. */
  async kick(vq: number): Promise<void> {
    await this.mirror.sync([]);
    const fd = this.#kick.get(vq);
    if (fd !== undefined) await this.machine.agent.eventfdSignal(fd);
  }

  /**
   * Waits for the call eventfd, then pulls what the device wrote to the ring (its used ring, not the buffers: the
   * harness syncs everything before it reads those). The pull is sent right behind the wait: the agent runs
   * requests in order, so it reads memory when the wait ends, in the same round trip.
   */
  async waitCall(vq: number, timeoutMs: number): Promise<boolean> {
    const fd = this.#call.get(vq);
    if (fd === undefined) {
      await this.mirror.sync(this.#ringScan(vq));
      return false;
    }
    const [r] = await Promise.all([this.machine.agent.eventfdWait(fd, timeoutMs), this.mirror.sync(this.#ringScan(vq))]);
    return r.kind === 'ok' && r.result === 0;
  }

  async sync(): Promise<void> {
    await this.mirror.sync();
  }

  async health(): Promise<Health> {
    const { agent } = this.machine;
    const crash = agent.crash ?? agent.host.crash;
    if (crash) {
      const status = agent.host.exitStatus ?? { code: null, signal: 'SIGKILL' };
      return { state: 'exited', ...status, lastLog: crash.summary };
    }
    return agent.stuck ? { state: 'hung' } : { state: 'alive' };
  }

  /** Closes the vhost-vdpa fd, every eventfd and the memory mapping, and deletes the vdpa device it added. Idempotent; the machine stays up. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const { agent } = this.machine;
    if (agent.crash) return;
    await agent.closeFd(this.fd);
    for (const m of [this.#kick, this.#call, this.#err]) for (const fd of m.values()) await agent.closeFd(fd);
    await releaseMapping(agent, { memfd: this.memfd, addr: this.mirror.guestAddr, size: BigInt(this.memory.backing.length) });
    if (this.vdpaName !== undefined) await agent.vdpa(['dev', 'del', this.vdpaName]);
  }
}

/** Adds a vdpa_sim device in the guest for one session; returns its name. */
async function addSimDevice(machine: KernelMachine, deviceType: 'net' | 'blk'): Promise<string> {
  const name = `vhostcheck-${deviceType}`;
  const extra = deviceType === 'net' ? ['mac', GUEST_NET_MAC] : [];
  const add = await machine.agent.vdpa(['dev', 'add', 'name', name, 'mgmtdev', MGMTDEV[deviceType], ...extra]);
  if (add.kind !== 'ok' || add.result !== 0) throw new Error(`vdpa dev add ${name} failed in the guest: ${add.kind === 'ok' ? add.body.toString().trim() || `exit ${add.result}` : add.kind}`);
  return name;
}

/** The node the vhost_vdpa driver gave a vdpa device: vhost-vdpa-N under it (drivers/vhost/vdpa.c vhost_vdpa_probe()). */
async function simDeviceNode(machine: KernelMachine, name: string): Promise<string> {
  const dir = await machine.agent.readdir(`/sys/bus/vdpa/devices/${name}`);
  const node = dir.names?.find((n) => /^vhost-vdpa-\d+$/.test(n));
  if (!node) throw new Error(`no vhost-vdpa device under /sys/bus/vdpa/devices/${name} (is vhost_vdpa loaded?)`);
  return `/dev/${node}`;
}

/**
 * Why a node would not open, for the user: vhost_vdpa_open() refuses a second opener with EBUSY
 * (drivers/vhost/vdpa.c, `v->opened`); the rest are the file system's.
 */
export function openFailure(result: number): string {
  const errno = errnoName(result);
  const why: Readonly<Record<string, string>> = {
    ENOENT: 'no such node (is vhost_vdpa loaded, and a vdpa device added with `vdpa dev add`?)',
    EACCES: 'permission denied (run as a user who may open it)',
    EPERM: 'permission denied (run as a user who may open it)',
    EBUSY: 'another process has it open (vhost-vdpa allows one opener)',
  };
  return why[errno] ? `${errno}: ${why[errno]}` : errno;
}

async function releaseMapping(agent: AgentClient, m: { memfd: number; addr: bigint; size: bigint }): Promise<void> {
  await agent.munmap(m.addr, m.size);
  await agent.closeFd(m.memfd);
}

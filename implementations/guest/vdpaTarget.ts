// `guest:vdpa-sim-net` and `guest:vdpa-sim-blk`: the kernel's vDPA device
// simulators behind vhost-vdpa, driven inside the QEMU guest through the
// agent. A session adds a vdpa device with the guest's `vdpa` tool, opens the
// /dev/vhost-vdpa-N the vhost_vdpa driver gives it, and speaks the vhost
// ioctls of include/uapi/linux/vhost.h to it; close() undoes both.
//
// What is here is the control plane. The data path is not: `memory` is a
// host buffer the guest device cannot see (sharing it needs the guest's
// memory mirrored into a guest memfd and mapped through the IOTLB), so this
// target is not wired to any suite yet and requests that need guest memory
// (IOTLB updates, memory tables) are refused as not implemented, never
// answered with an invented errno.
import type { Reply, VhostRequest } from '../../spec/requests.ts';
import type { StructSpec, StructValue } from '../../spec/codec.ts';
import { vhost_vdpa_config, vhost_vring_addr, vhost_vring_file, vhost_vring_state } from '../../spec/vhost/types.ts';
import { backingSize, layOutGuestMemory } from '../guestMemory.ts';
import type { GuestMemory, Health, Target, TargetInfo } from '../target.ts';
import { errnoName, GuestFlags, type RequestOptions } from './agent.ts';
import type { RunningGuest } from './boot.ts';
import { type IotlbMessage, type WriteOutcome, writeIotlb } from './iotlb.ts';
import { guestIoctl, type IoctlArgValue, type IoctlOutcome, scalarOut, ioctlInfo } from './vhostIoctl.ts';

/** The management devices vdpa_sim_net and vdpa_sim_blk register (drivers/vdpa/vdpa_sim/vdpa_sim_{net,blk}.c). */
const MGMTDEV = { net: 'vdpasim_net', blk: 'vdpasim_blk' } as const;

/** The MAC a net device is created with, so GET_CONFIG can be checked against what was asked for. */
export const GUEST_NET_MAC = '52:54:00:76:68:63';

/** A struct argument; `spec` only makes the compiler check `value` against the layout the ioctl's table names. */
function struct<S extends StructSpec>(_spec: S, value: StructValue<S>, trailing?: Uint8Array): IoctlArgValue {
  const fields = value as Readonly<Record<string, number | bigint | Uint8Array>>;
  return trailing ? { value: fields, trailing } : { value: fields };
}

function toReply(o: IoctlOutcome, value?: (out: Buffer) => bigint | number | Uint8Array): Reply {
  switch (o.kind) {
    case 'ok':
      return value ? { ok: true, value: value(o.out) } : { ok: true };
    case 'error':
      return { ok: false, errno: o.errno };
    case 'timeout':
      return { timeout: true };
    case 'crash':
      return { closed: true };
  }
}

export class GuestVdpaTarget implements Target {
  readonly memory: GuestMemory = layOutGuestMemory(Buffer.alloc(backingSize()));
  readonly #kick = new Map<number, number>();
  readonly #call = new Map<number, number>();
  readonly #err = new Map<number, number>();
  #closed = false;

  private constructor(
    readonly info: TargetInfo,
    readonly guest: RunningGuest,
    /** The vdpa device's name, and the vhost-vdpa node open on it. */
    readonly vdpaName: string,
    readonly devicePath: string,
    readonly fd: number,
  ) {}

  /** Adds a simulated vdpa device in the guest and opens its vhost-vdpa node. */
  static async open(guest: RunningGuest, deviceType: 'net' | 'blk'): Promise<GuestVdpaTarget> {
    const { agent } = guest;
    const name = `vhostcheck-${deviceType}`;
    const extra = deviceType === 'net' ? ['mac', GUEST_NET_MAC] : [];
    const add = await agent.vdpa(['dev', 'add', 'name', name, 'mgmtdev', MGMTDEV[deviceType], ...extra]);
    if (add.kind !== 'ok' || add.result !== 0) throw new Error(`vdpa dev add ${name} failed in the guest: ${add.kind === 'ok' ? add.body.toString().trim() || `exit ${add.result}` : add.kind}`);
    let fd = -1;
    try {
      // The vhost_vdpa driver names its device vhost-vdpa-N under the vdpa device (drivers/vhost/vdpa.c vhost_vdpa_probe()).
      const dir = await agent.readdir(`/sys/bus/vdpa/devices/${name}`);
      const node = dir.names?.find((n) => /^vhost-vdpa-\d+$/.test(n));
      if (!node) throw new Error(`no vhost-vdpa device under /sys/bus/vdpa/devices/${name} (is vhost_vdpa loaded?)`);
      const devicePath = `/dev/${node}`;
      const opened = await agent.open(devicePath, GuestFlags.O_RDWR);
      if (opened.kind !== 'ok' || opened.result < 0) throw new Error(`cannot open ${devicePath} in the guest: ${opened.kind === 'ok' ? errnoName(opened.result) : opened.kind}`);
      fd = opened.result;
      const u = async (ioctl: string) => {
        const o = await guestIoctl(agent, fd, ioctlInfo(ioctl), 0);
        if (o.kind !== 'ok') throw new Error(`${ioctl} on ${devicePath} failed in the guest: ${o.kind === 'error' ? o.errno : o.kind}`);
        return Number(scalarOut(ioctlInfo(ioctl), o.out));
      };
      const info: TargetInfo = {
        name: `linux ${MGMTDEV[deviceType]} (guest)`,
        kind: 'kernel',
        version: guest.image.manifest.kernelRelease,
        deviceType,
        queues: await u('VHOST_VDPA_GET_VQS_COUNT'),
        maxQueueSize: await u('VHOST_VDPA_GET_VRING_NUM'),
      };
      return new GuestVdpaTarget(info, guest, name, devicePath, fd);
    } catch (e) {
      if (fd >= 0) await agent.closeFd(fd);
      await agent.vdpa(['dev', 'del', name]);
      throw e;
    }
  }

  /** Any vhost ioctl by its C name, with the argument its spec/ table describes. */
  ioctl(name: string, arg?: IoctlArgValue, opts?: RequestOptions): Promise<IoctlOutcome> {
    return guestIoctl(this.guest.agent, this.fd, ioctlInfo(name), arg, opts);
  }

  /** Writes one v2 IOTLB message to the vhost-vdpa fd (vhost_vdpa_chr_write_iter → vhost_vdpa_process_iotlb_msg). */
  writeIotlb(msg: IotlbMessage): Promise<WriteOutcome> {
    return writeIotlb(this.guest.agent, this.fd, msg);
  }

  async #scalar(name: string, arg?: IoctlArgValue): Promise<Reply> {
    const info = ioctlInfo(name);
    return toReply(await this.ioctl(name, arg), info.kernelWrites ? (out) => scalarOut(info, out) : undefined);
  }

  /** A fresh guest eventfd for a vring notifier (replacing and closing the previous one), or -1 for `invalid`. */
  async #notifier(kind: Map<number, number>, index: number, invalid: boolean | undefined): Promise<number> {
    const old = kind.get(index);
    if (old !== undefined) {
      await this.guest.agent.closeFd(old);
      kind.delete(index);
    }
    if (invalid) return -1;
    const e = await this.guest.agent.eventfd(0, GuestFlags.EFD_NONBLOCK);
    if (e.kind !== 'ok' || e.result < 0) throw new Error(`guest eventfd failed: ${e.kind === 'ok' ? errnoName(e.result) : e.kind}`);
    kind.set(index, e.result);
    return e.result;
  }

  async send(req: VhostRequest): Promise<Reply> {
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
      default:
        throw new Error(`guest:vdpa-sim: ${req.op} is not implemented by this adapter yet (it needs guest memory shared through the IOTLB, or has no vhost-vdpa ioctl)`);
    }
  }

  async kick(vq: number): Promise<void> {
    const fd = this.#kick.get(vq);
    if (fd !== undefined) await this.guest.agent.eventfdSignal(fd);
  }

  async waitCall(vq: number, timeoutMs: number): Promise<boolean> {
    const fd = this.#call.get(vq);
    if (fd === undefined) return false;
    const r = await this.guest.agent.eventfdWait(fd, timeoutMs);
    return r.kind === 'ok' && r.result === 0;
  }

  async health(): Promise<Health> {
    const crash = this.guest.agent.crash ?? this.guest.qemu.crash;
    if (crash) {
      const status = this.guest.qemu.exitStatus ?? { code: null, signal: 'SIGKILL' };
      return { state: 'exited', ...status, lastLog: crash.summary };
    }
    return this.guest.agent.stuck ? { state: 'hung' } : { state: 'alive' };
  }

  /** Closes the vhost-vdpa fd and every eventfd, and deletes the vdpa device. Idempotent; the guest stays up. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const { agent } = this.guest;
    if (agent.crash) return;
    await agent.closeFd(this.fd);
    for (const m of [this.#kick, this.#call, this.#err]) for (const fd of m.values()) await agent.closeFd(fd);
    await agent.vdpa(['dev', 'del', this.vdpaName]);
  }
}

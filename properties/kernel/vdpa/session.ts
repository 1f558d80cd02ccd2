// One vhost-vdpa session, as the vdpa suites drive it: a /dev/vhost-vdpa-N
// node (a simulated vdpa device VhostVdpaTarget adds and deletes in a guest,
// or a host's own node), a shared memfd mapping that IOTLB updates point
// into, and the eventfds the steps install. It turns one model request
// (model/kernel/vdpa.ts) into ioctls and writes through the agent and
// returns the kernel's answer; a crash or timeout is thrown, never turned
// into an answer (properties/kernel/run.ts charges it).
import { encode } from '../../../spec/codec.ts';
import { VHOST_VDPA_RESUME } from '../../../spec/vhost/newerUapi.ts';
import { VHOST_ACCESS_RW, VHOST_IOTLB_MSG, VHOST_IOTLB_MSG_V2, VHOST_IOTLB_UPDATE, vhost_msg, vhost_msg_v2, vhost_vdpa_config, vhost_vdpa_iova_range, vhost_vring_state } from '../../../spec/vhost/types.ts';
import type { AgentReply } from '../../../implementations/guest/agent.ts';
import { errnoName, GuestFlags } from '../../../implementations/guest/agent.ts';
import type { KernelMachine } from '../../../implementations/guest/boot.ts';
import { writeIotlb } from '../../../implementations/guest/iotlb.ts';
import { ForkedCall } from '../../../implementations/guest/protocol.ts';
import { type VdpaDeviceRef, VhostVdpaTarget } from '../../../implementations/guest/vdpaTarget.ts';
import { agentIoctl, type IoctlArgValue, type IoctlOutcome, ioctlInfo, scalarOut } from '../../../implementations/guest/vhostIoctl.ts';
import type { QueryName, VdpaAnswer, VdpaRequest } from '../../../model/kernel/vdpa.ts';

/** The shared memfd mapping IOTLB updates point into: 16 pages, small enough for RLIMIT_MEMLOCK when pinned (use_va=0). */
export const SESSION_MEM_SIZE = 0x1_0000n;

/** Canaries GET_CONFIG's buffer is prefilled with, twice: a byte the kernel did not write shows as the canary. */
const CANARIES = [0x00, 0xff] as const;

/** A GET_CONFIG/SET_CONFIG buffer for a hostile len: the kernel must refuse before touching it, so a few bytes past the config space do. */
const CONFIG_SLACK = 64;

const QUERY_IOCTL: Readonly<Record<Exclude<QueryName, 'iovaRange'>, string>> = {
  deviceId: 'VHOST_VDPA_GET_DEVICE_ID',
  vqsCount: 'VHOST_VDPA_GET_VQS_COUNT',
  configSize: 'VHOST_VDPA_GET_CONFIG_SIZE',
  vringNum: 'VHOST_VDPA_GET_VRING_NUM',
  asNum: 'VHOST_VDPA_GET_AS_NUM',
  groupNum: 'VHOST_VDPA_GET_GROUP_NUM',
  backendFeatures: 'VHOST_GET_BACKEND_FEATURES',
};

const VRING_FILE_IOCTL = { kick: 'VHOST_SET_VRING_KICK', call: 'VHOST_SET_VRING_CALL', err: 'VHOST_SET_VRING_ERR' } as const;

function agentFault(what: string, r: { kind: 'timeout' } | { kind: 'crash'; crash?: { summary: string } }): Error {
  return new Error(`${what}: ${r.kind === 'crash' ? `crashed: ${r.crash?.summary ?? ''}` : 'the agent did not answer in time'}`);
}

/** An agent reply as an answer: a syscall result ≥ 0 is ok; a timeout or crash is thrown. */
function answerOf(what: string, r: AgentReply): { ok: true; result: number; body: Buffer } | { ok: false; errno: string } {
  if (r.kind !== 'ok') throw agentFault(what, r);
  return r.result < 0 ? { ok: false, errno: errnoName(r.result) } : { ok: true, result: r.result, body: r.body };
}

function ioctlAnswer(name: string, o: IoctlOutcome, value?: (out: Buffer) => VdpaAnswer & { ok: true }): VdpaAnswer {
  if (o.kind === 'timeout' || o.kind === 'crash') throw agentFault(name, o);
  if (o.kind === 'error') return { ok: false, errno: o.errno };
  return value ? value(o.out) : { ok: true };
}

export class VdpaSession {
  #fd: number;
  readonly #eventfds: number[] = [];
  #closed = false;

  private constructor(
    readonly machine: KernelMachine,
    readonly target: VhostVdpaTarget,
    readonly memfd: number,
    /** Guest address of the shared memfd mapping. */
    readonly memAddr: bigint,
  ) {
    this.#fd = target.fd;
  }

  /** Opens the device's node (adding a simulated device first where the target says so) and maps the session memory. */
  static async open(machine: KernelMachine, device: VdpaDeviceRef): Promise<VdpaSession> {
    const target = await VhostVdpaTarget.open(machine, device);
    const { agent } = machine;
    try {
      const memfd = answerOf('memfd', await agent.memfd(SESSION_MEM_SIZE));
      if (!memfd.ok) throw new Error(`guest memfd failed: ${memfd.errno}`);
      const map = answerOf('mmap', await agent.mmap(memfd.result, SESSION_MEM_SIZE));
      if (!map.ok) {
        await agent.closeFd(memfd.result);
        throw new Error(`guest mmap of the memfd failed: ${map.errno}`);
      }
      return new VdpaSession(machine, target, memfd.result, map.body.readBigUInt64LE(0));
    } catch (e) {
      await target.close();
      throw e;
    }
  }

  get devicePath(): string {
    return this.target.devicePath;
  }

  #ioctl(name: string, arg?: IoctlArgValue): Promise<IoctlOutcome> {
    return agentIoctl(this.machine.agent, this.#fd, ioctlInfo(name), arg);
  }

  async #scalar(name: string, arg?: IoctlArgValue): Promise<VdpaAnswer> {
    const info = ioctlInfo(name);
    return ioctlAnswer(name, await this.#ioctl(name, arg), info.kernelWrites ? (out) => ({ ok: true, value: scalarOut(info, out) }) : undefined);
  }

  async #state(name: string, index: number, num: number): Promise<VdpaAnswer> {
    const o = await this.#ioctl(name, { value: { index, num } });
    return ioctlAnswer(name, o, ioctlInfo(name).kernelWrites ? (out) => ({ ok: true, value: { index: out.readUInt32LE(0), num: out.readUInt32LE(4) } }) : undefined);
  }

  async #eventfd(): Promise<number> {
    const e = answerOf('eventfd', await this.machine.agent.eventfd(0, GuestFlags.EFD_NONBLOCK));
    if (!e.ok) throw new Error(`guest eventfd failed: ${e.errno}`);
    this.#eventfds.push(e.result);
    return e.result;
  }

  async #configIo(r: Extract<VdpaRequest, { op: 'getConfig' | 'setConfig' }>): Promise<VdpaAnswer> {
    const bytes = Math.min(r.len, 0x1000 + CONFIG_SLACK);
    const header = { off: r.off, len: r.len };
    if (r.op === 'setConfig') return ioctlAnswer('VHOST_VDPA_SET_CONFIG', await this.#ioctl('VHOST_VDPA_SET_CONFIG', { value: header, trailing: new Uint8Array(bytes).fill(r.fill) }));
    const reads: Uint8Array[] = [];
    for (const canary of CANARIES) {
      const o = await this.#ioctl('VHOST_VDPA_GET_CONFIG', { value: header, trailing: new Uint8Array(bytes).fill(canary) });
      if (o.kind !== 'ok') return ioctlAnswer('VHOST_VDPA_GET_CONFIG', o);
      reads.push(new Uint8Array(o.out.subarray(vhost_vdpa_config.size, vhost_vdpa_config.size + r.len)));
    }
    return { ok: true, value: { reads: [reads[0]!, reads[1]!] } };
  }

  async #iotlb(r: Extract<VdpaRequest, { op: 'iotlb' }>): Promise<VdpaAnswer> {
    const fields = { iotlb_iova: r.iova, iotlb_size: r.size, iotlb_uaddr: BigInt.asUintN(64, this.memAddr + r.uaddrOff), iotlb_perm: r.perm, iotlb_type: r.type };
    if (r.frame === 'v2') {
      const w = await writeIotlb(this.machine.agent, this.#fd, { asid: r.asid, ...fields });
      if (w.kind === 'timeout' || w.kind === 'crash') throw agentFault('IOTLB write', w);
      return w.kind === 'error' ? { ok: false, errno: w.errno } : { ok: true, value: w.written };
    }
    const a = answerOf('IOTLB write', await this.machine.agent.write(this.#fd, encode(vhost_msg, { type: VHOST_IOTLB_MSG, ...fields })));
    return a.ok ? { ok: true, value: a.result } : a;
  }

  async #iotlbFrame(frameType: number, length: number): Promise<VdpaAnswer> {
    // A v2-sized message of iotlb type 0 (no such type), cut or padded to `length` bytes.
    const whole = Buffer.alloc(Math.max(length, vhost_msg_v2.size));
    whole.writeUInt32LE(frameType >>> 0, 0);
    const a = answerOf('IOTLB write', await this.machine.agent.write(this.#fd, whole.subarray(0, length)));
    return a.ok ? { ok: true, value: a.result } : a;
  }

  /** The call a forked child of the agent makes (model/kernel/vdpa.ts 'foreign'): never the owner's mm. */
  async #foreign(call: Extract<VdpaRequest, { op: 'foreign' }>['call']): Promise<VdpaAnswer> {
    const { agent } = this.machine;
    let r: AgentReply;
    if (call === 'setOwner') r = await agent.forked(ForkedCall.ioctlInteger, this.#fd, ioctlInfo('VHOST_SET_OWNER').number, 0n);
    else if (call === 'setVringNum') r = await agent.forked(ForkedCall.ioctlBuffer, this.#fd, ioctlInfo('VHOST_SET_VRING_NUM').number, 0n, encode(vhost_vring_state, { index: 0, num: 64 }));
    else {
      const msg = { type: VHOST_IOTLB_MSG_V2, asid: 0, iotlb_iova: 0x1000n, iotlb_size: 0x1000n, iotlb_uaddr: this.memAddr, iotlb_perm: VHOST_ACCESS_RW, iotlb_type: VHOST_IOTLB_UPDATE };
      r = await agent.forked(ForkedCall.write, this.#fd, 0, 0n, encode(vhost_msg_v2, msg));
    }
    const a = answerOf(`forked ${call}`, r);
    if (!a.ok && a.errno === 'ETIMEDOUT') throw new Error(`forked ${call}: the child's syscall did not return`);
    return a.ok ? { ok: true, value: a.result } : a;
  }

  /** Runs one request; throws when the guest crashed or stopped answering. */
  async run(r: VdpaRequest): Promise<VdpaAnswer> {
    const { agent } = this.machine;
    switch (r.op) {
      case 'reopen': {
        answerOf('close', await agent.closeFd(this.#fd));
        const o = answerOf('open', await agent.open(this.devicePath, GuestFlags.O_RDWR));
        if (!o.ok) return o;
        this.#fd = o.result;
        return { ok: true };
      }
      case 'openSecond': {
        const o = answerOf('open', await agent.open(this.devicePath, GuestFlags.O_RDWR));
        if (o.ok) answerOf('close', await agent.closeFd(o.result));
        return o.ok ? { ok: true } : o;
      }
      case 'setOwner':
        return this.#scalar('VHOST_SET_OWNER');
      case 'query': {
        if (r.what !== 'iovaRange') return this.#scalar(QUERY_IOCTL[r.what]);
        const o = await this.#ioctl('VHOST_VDPA_GET_IOVA_RANGE', { value: { first: 0n, last: 0n } });
        return ioctlAnswer('VHOST_VDPA_GET_IOVA_RANGE', o, (out) => ({ ok: true, value: { first: out.readBigUInt64LE(0), last: out.readBigUInt64LE(vhost_vdpa_iova_range.size / 2) } }));
      }
      case 'setBackendFeatures':
        return this.#scalar('VHOST_SET_BACKEND_FEATURES', r.features);
      case 'setFeatures':
        return this.#scalar('VHOST_SET_FEATURES', r.features);
      case 'getStatus':
        return this.#scalar('VHOST_VDPA_GET_STATUS');
      case 'setStatus':
        return this.#scalar('VHOST_VDPA_SET_STATUS', r.status);
      case 'setVringNum':
        return this.#state('VHOST_SET_VRING_NUM', r.index, r.num);
      case 'setVringBase':
        return this.#state('VHOST_SET_VRING_BASE', r.index, r.base);
      case 'getVringBase':
        return this.#state('VHOST_GET_VRING_BASE', r.index, 0);
      case 'setVringEnable':
        return this.#state('VHOST_VDPA_SET_VRING_ENABLE', r.index, r.enable ? 1 : 0);
      case 'getVringGroup':
        return this.#state('VHOST_VDPA_GET_VRING_GROUP', r.index, 0);
      case 'setGroupAsid':
        return this.#state('VHOST_VDPA_SET_GROUP_ASID', r.group, r.asid);
      case 'setVringAddr': {
        const value = { index: r.index, flags: r.flags, desc_user_addr: r.desc, used_user_addr: r.used, avail_user_addr: r.avail, log_guest_addr: r.log };
        return ioctlAnswer('VHOST_SET_VRING_ADDR', await this.#ioctl('VHOST_SET_VRING_ADDR', { value }));
      }
      case 'setVringFile': {
        const fd = r.unbind ? -1 : await this.#eventfd();
        const value = { index: r.index, fd: fd >>> 0 };
        return ioctlAnswer(VRING_FILE_IOCTL[r.which], await this.#ioctl(VRING_FILE_IOCTL[r.which], { value }));
      }
      case 'getConfig':
      case 'setConfig':
        return this.#configIo(r);
      case 'setConfigCall': {
        const fd = r.fd === 'unbind' ? -1 : r.fd === 'eventfd' ? await this.#eventfd() : this.memfd;
        return this.#scalar('VHOST_VDPA_SET_CONFIG_CALL', fd >>> 0);
      }
      case 'setLog':
        return r.which === 'base' ? this.#scalar('VHOST_SET_LOG_BASE', this.memAddr) : this.#scalar('VHOST_SET_LOG_FD', -1 >>> 0);
      case 'suspend':
        return this.#scalar('VHOST_VDPA_SUSPEND');
      case 'resume':
        return ioctlAnswer(VHOST_VDPA_RESUME.name, await agentIoctl(agent, this.#fd, VHOST_VDPA_RESUME));
      case 'iotlb':
        return this.#iotlb(r);
      case 'iotlbFrame':
        return this.#iotlbFrame(r.frameType, r.length);
      case 'foreign':
        return this.#foreign(r.call);
    }
  }

  /** The device still answers a harmless ioctl (after the steps: no hang, no crash). */
  async alive(): Promise<boolean> {
    const a = await this.#scalar('VHOST_VDPA_GET_STATUS');
    return a.ok;
  }

  /**
   * Releases the eventfds, the memfd mapping and the node, and deletes the vdpa device. The node's fd
   * number may have changed with `reopen`: ours is closed first, then VhostVdpaTarget.close() closes the
   * number it opened (already free, or ours again) and deletes the device.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const { agent } = this.machine;
    if (agent.crash) return;
    for (const fd of this.#eventfds) await agent.closeFd(fd);
    await agent.munmap(this.memAddr, SESSION_MEM_SIZE);
    await agent.closeFd(this.memfd);
    if (this.#fd !== this.target.fd) await agent.closeFd(this.#fd);
    await this.target.close();
  }
}

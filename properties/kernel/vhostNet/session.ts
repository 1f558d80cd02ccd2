// One suite case's resources on /dev/vhost-net in the guest: the vhost fd and
// its tap (GuestVhostNet), a shared window of guest memory the rings, buffers
// and dirty log live in, and a kick, call and err eventfd per vq. It turns the
// model's requests into the kernel's answers; a guest that times out or
// crashes is thrown, for run.ts to charge.
import { errnoName, GuestFlags } from '../../../implementations/guest/agent.ts';
import type { KernelMachine } from '../../../implementations/guest/boot.ts';
import { GuestVhostNet } from '../../../implementations/guest/vhostNet.ts';
import type { IoctlOutcome } from '../../../implementations/guest/vhostIoctl.ts';
import type { AgentReply } from '../../../implementations/guest/agent.ts';
import { encode } from '../../../spec/codec.ts';
import { VHOST_FILE_UNBIND } from '../../../spec/vhost/ioctls.ts';
import { vhost_memory_region } from '../../../spec/vhost/types.ts';
import { VHOST_NET_VQS, type VhostNetAnswer, type VhostNetRequest } from '../../../model/kernel/vhostNet.ts';

/** The window: rings at fixed offsets (WINDOW_LAYOUT), buffers after them, the dirty log at the end. */
export const WINDOW_SIZE = 0x10_0000n;

const UNBIND = VHOST_FILE_UNBIND >>> 0;

export function replyOf(r: AgentReply, what: string): Extract<AgentReply, { kind: 'ok' }> {
  if (r.kind !== 'ok') throw new Error(`${what}: the guest ${r.kind === 'crash' ? `crashed (${r.crash.summary})` : 'did not answer in time'}`);
  return r;
}

function answerOf(o: IoctlOutcome, what: string): VhostNetAnswer {
  if (o.kind === 'ok') return { kind: 'ok', ret: o.ret, out: o.out };
  if (o.kind === 'error') return { kind: 'error', errno: o.errno };
  throw new Error(`${what}: the guest ${o.kind === 'crash' ? `crashed (${o.crash.summary})` : 'did not answer in time'}`);
}

export class VhostNetSession {
  private constructor(
    readonly guest: KernelMachine,
    readonly net: GuestVhostNet,
    readonly windowFd: number,
    readonly windowBase: bigint,
    /** [kick, call, err] per vq. */
    readonly eventfds: readonly (readonly [number, number, number])[],
  ) {}

  static async open(guest: KernelMachine): Promise<VhostNetSession> {
    const { agent } = guest;
    const net = await GuestVhostNet.open(guest);
    const opened: number[] = [];
    try {
      const memfd = replyOf(await agent.memfd(WINDOW_SIZE), 'memfd');
      if (memfd.result < 0) throw new Error(`memfd in the guest: ${errnoName(memfd.result)}`);
      opened.push(memfd.result);
      const map = replyOf(await agent.mmap(memfd.result, WINDOW_SIZE), 'mmap');
      if (map.result < 0) throw new Error(`mmap in the guest: ${errnoName(map.result)}`);
      const fds: [number, number, number][] = [];
      for (let q = 0; q < VHOST_NET_VQS; q++) {
        const three: number[] = [];
        for (let i = 0; i < 3; i++) {
          const e = replyOf(await agent.eventfd(0, GuestFlags.EFD_NONBLOCK), 'eventfd');
          if (e.result < 0) throw new Error(`eventfd in the guest: ${errnoName(e.result)}`);
          opened.push(e.result);
          three.push(e.result);
        }
        fds.push(three as [number, number, number]);
      }
      return new VhostNetSession(guest, net, memfd.result, map.body.readBigUInt64LE(0), fds);
    } catch (e) {
      for (const fd of opened) await agent.closeFd(fd);
      await net.close();
      throw e;
    }
  }

  /** Issues one request and reports the kernel's answer. `readWaitMs`: how long a read waits for a message. */
  async answer(r: VhostNetRequest, readWaitMs: number): Promise<VhostNetAnswer> {
    const { net } = this;
    switch (r.op) {
      case 'setOwner':
      case 'resetOwner':
        return answerOf(await net.ioctl(r.op === 'setOwner' ? 'VHOST_SET_OWNER' : 'VHOST_RESET_OWNER'), r.op);
      case 'setFeatures':
        return answerOf(await net.ioctl('VHOST_SET_FEATURES', r.features), r.op);
      case 'getBackendFeatures':
        return answerOf(await net.ioctl('VHOST_GET_BACKEND_FEATURES'), r.op);
      case 'setBackendFeatures':
        return answerOf(await net.ioctl('VHOST_SET_BACKEND_FEATURES', r.features), r.op);
      case 'setVringNum':
      case 'setVringBase':
      case 'setVringEndian':
        return answerOf(await net.ioctl({ setVringNum: 'VHOST_SET_VRING_NUM', setVringBase: 'VHOST_SET_VRING_BASE', setVringEndian: 'VHOST_SET_VRING_ENDIAN' }[r.op], { value: { index: r.index >>> 0, num: r.num >>> 0 } }), r.op);
      case 'getVringBase':
        return answerOf(await net.ioctl('VHOST_GET_VRING_BASE', { value: { index: r.index >>> 0, num: 0 } }), r.op);
      case 'setVringAddr':
        return answerOf(
          await net.ioctl('VHOST_SET_VRING_ADDR', { value: { index: r.index >>> 0, flags: r.flags >>> 0, desc_user_addr: r.desc, used_user_addr: r.used, avail_user_addr: r.avail, log_guest_addr: r.log } }),
          r.op,
        );
      case 'setVringFile': {
        const which = { kick: 0, call: 1, err: 2 }[r.which];
        const fd = r.unbind ? UNBIND : (this.eventfds[Math.min(r.index, VHOST_NET_VQS - 1)]![which]!);
        const name = { kick: 'VHOST_SET_VRING_KICK', call: 'VHOST_SET_VRING_CALL', err: 'VHOST_SET_VRING_ERR' }[r.which];
        return answerOf(await net.ioctl(name, { value: { index: r.index >>> 0, fd } }), r.op);
      }
      case 'setMemTable': {
        const regions = Buffer.concat(r.regions.map((x) => encode(vhost_memory_region, { guest_phys_addr: x.gpa, memory_size: x.size, userspace_addr: x.uaddr, flags_padding: 0n })));
        return answerOf(await net.ioctl('VHOST_SET_MEM_TABLE', { value: { nregions: r.regions.length, padding: r.padding >>> 0 }, trailing: regions }), r.op);
      }
      case 'setLogBase':
        return answerOf(await net.ioctl('VHOST_SET_LOG_BASE', r.base), r.op);
      case 'setBackend':
        return answerOf(await net.ioctl('VHOST_NET_SET_BACKEND', { value: { index: r.index >>> 0, fd: r.attach ? net.tapFd : UNBIND } }), r.op);
      case 'iotlbWrite': {
        const w = replyOf(await this.guest.agent.write(net.fd, r.bytes), 'write on the vhost fd');
        return w.result < 0 ? { kind: 'error', errno: errnoName(w.result) } : { kind: 'ok', ret: w.result, out: new Uint8Array() };
      }
      case 'iotlbRead': {
        const rd = replyOf(await this.guest.agent.read(net.fd, r.length, readWaitMs), 'read on the vhost fd');
        if (rd.result < 0) return errnoName(rd.result) === 'ETIMEDOUT' ? { kind: 'empty' } : { kind: 'error', errno: errnoName(rd.result) };
        return { kind: 'ok', ret: rd.result, out: rd.body };
      }
    }
  }

  async kick(index: number): Promise<void> {
    replyOf(await this.guest.agent.eventfdSignal(this.eventfds[index]![0]), 'kick');
  }

  /** Closes every fd and the mapping; the vhost fd last, which stops the rings and drops the tap. */
  async close(): Promise<void> {
    const { agent } = this.guest;
    if (agent.crash) return;
    await agent.munmap(this.windowBase, WINDOW_SIZE);
    await agent.closeFd(this.windowFd);
    for (const three of this.eventfds) for (const fd of three) await agent.closeFd(fd);
    await this.net.close();
  }
}

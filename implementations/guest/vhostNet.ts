// `guest:vhost-net`: the kernel's vhost core (/dev/vhost-net) over a tap in
// the QEMU guest, as far as its device IOTLB (include/uapi/linux/vhost.h,
// "VHOST_IOTLB_*"; drivers/vhost/vhost.c vhost_chr_write_iter(),
// vhost_iotlb_miss()): IOTLB messages are written to and read from the vhost
// fd. The guest:vhost-net kernel suites (properties/kernel/vhostNet/) drive it.
import { VHOST_FILE_UNBIND } from '../../spec/vhost/ioctls.ts';
import { type AgentClient, errnoName, GuestFlags } from './agent.ts';
import type { KernelMachine } from './boot.ts';
import { type IotlbMessage, readIotlb, type WriteOutcome, writeIotlb } from './iotlb.ts';
import { agentIoctl, type IoctlArgValue, type IoctlOutcome, ioctlInfo } from './vhostIoctl.ts';

// include/uapi/linux/if_tun.h: TUNSETIFF is _IOW('T', 202, int); struct ifreq is 40 bytes on
// x86_64 with ifr_name[IFNAMSIZ = 16] first and ifr_flags (short) at 16.
const TUNSETIFF = 0x400454ca;
const IFF_TAP = 0x0002;
const IFF_NO_PI = 0x1000;
const IFREQ_SIZE = 40;

export class GuestVhostNet {
  #closed = false;

  private constructor(
    readonly guest: KernelMachine,
    readonly fd: number,
    readonly tapFd: number,
    /** The tap's interface name, as TUNSETIFF filled it in. */
    readonly ifname: string,
  ) {}

  /** Opens /dev/vhost-net and a fresh tap (`vhostcheck%d`) in the guest. */
  static async open(guest: KernelMachine): Promise<GuestVhostNet> {
    const { agent } = guest;
    const fdOf = (r: Awaited<ReturnType<AgentClient['open']>>, what: string): number => {
      if (r.kind !== 'ok' || r.result < 0) throw new Error(`${what} in the guest: ${r.kind === 'ok' ? errnoName(r.result) : r.kind}`);
      return r.result;
    };
    const tun = fdOf(await agent.open('/dev/net/tun', GuestFlags.O_RDWR), 'cannot open /dev/net/tun');
    const ifreq = Buffer.alloc(IFREQ_SIZE);
    ifreq.write('vhostcheck%d', 0, 'latin1');
    ifreq.writeUInt16LE(IFF_TAP | IFF_NO_PI, 16);
    const set = await agent.ioctl(tun, TUNSETIFF, ifreq, IFREQ_SIZE);
    if (set.kind !== 'ok' || set.result < 0) {
      await agent.closeFd(tun);
      throw new Error(`TUNSETIFF failed in the guest: ${set.kind === 'ok' ? errnoName(set.result) : set.kind}`);
    }
    const ifname = set.body.subarray(0, 16).toString('latin1').replace(/\0[^]*$/, '');
    try {
      return new GuestVhostNet(guest, fdOf(await agent.open('/dev/vhost-net', GuestFlags.O_RDWR), 'cannot open /dev/vhost-net'), tun, ifname);
    } catch (e) {
      await agent.closeFd(tun);
      throw e;
    }
  }

  /** Any vhost ioctl by its C name (spec/vhost/ioctls.ts). */
  ioctl(name: string, arg?: IoctlArgValue): Promise<IoctlOutcome> {
    return agentIoctl(this.guest.agent, this.fd, ioctlInfo(name), arg);
  }

  /** VHOST_NET_SET_BACKEND on `index` with this session's tap (or -1 to detach). */
  setBackend(index: number, detach = false): Promise<IoctlOutcome> {
    return this.ioctl('VHOST_NET_SET_BACKEND', { value: { index, fd: detach ? VHOST_FILE_UNBIND >>> 0 : this.tapFd } });
  }

  /** Writes one v2 IOTLB message (vhost_msg_v2) to the vhost fd. */
  writeIotlb(msg: IotlbMessage): Promise<WriteOutcome> {
    return writeIotlb(this.guest.agent, this.fd, msg);
  }

  /** The next message the kernel queued on the vhost fd (a MISS), or null when none comes within `timeoutMs`. */
  readIotlb(timeoutMs: number): ReturnType<typeof readIotlb> {
    return readIotlb(this.guest.agent, this.fd, timeoutMs);
  }

  /** Closes the vhost fd and the tap. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed || this.guest.agent.crash) return;
    this.#closed = true;
    await this.guest.agent.closeFd(this.fd);
    await this.guest.agent.closeFd(this.tapFd);
  }
}

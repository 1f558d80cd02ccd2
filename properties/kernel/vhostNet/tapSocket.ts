// The far end of guest:vhost-net's tap: the tap brought up (with IPv6 off, so
// the kernel sends nothing of its own into the RX ring) and an AF_PACKET socket
// bound to it for one EtherType — what vhost-net sends from the TX ring is read
// from it, and what is written to it reaches the RX ring.
import { errnoName, GuestFlags } from '../../../implementations/guest/agent.ts';
import { replyOf, type VhostNetSession } from './session.ts';

/** IEEE 802 "local experimental" EtherType: no protocol of the guest's answers or sends it. */
export const ETH_P_VHOSTCHECK = 0x88b5;

// Guest-side constants (x86_64 Linux): socket.h, if_ether.h, sockios.h, if.h.
const AF_PACKET = 17;
const SOCK_RAW = 3;
const SIOCGIFINDEX = 0x8933;
const SIOCSIFFLAGS = 0x8914;
const IFF_UP = 0x1;

function htons(v: number): number {
  return ((v & 0xff) << 8) | (v >> 8);
}

/** A packet socket for the tap, with the tap up and IPv6 off on it (no router solicitations in the RX ring). */
export async function openPacketSocket(s: VhostNetSession): Promise<number> {
  const { agent } = s.guest;
  const name = s.net.ifname;
  const v6 = replyOf(await agent.open(`/proc/sys/net/ipv6/conf/${name}/disable_ipv6`, GuestFlags.O_RDWR), 'open disable_ipv6');
  if (v6.result >= 0) {
    await agent.write(v6.result, Buffer.from('1\n'));
    await agent.closeFd(v6.result);
  }
  const sock = replyOf(await agent.socket(AF_PACKET, SOCK_RAW, htons(ETH_P_VHOSTCHECK)), 'socket');
  if (sock.result < 0) throw new Error(`AF_PACKET socket in the guest: ${errnoName(sock.result)}`);
  const fd = sock.result;
  try {
    const ifreq = Buffer.alloc(40);
    ifreq.write(name, 0, 'latin1');
    const idx = replyOf(await agent.ioctl(fd, SIOCGIFINDEX, ifreq, 40), 'SIOCGIFINDEX');
    if (idx.result < 0) throw new Error(`SIOCGIFINDEX ${name}: ${errnoName(idx.result)}`);
    const ifindex = idx.body.readInt32LE(16);
    const up = Buffer.alloc(40);
    up.write(name, 0, 'latin1');
    up.writeUInt16LE(IFF_UP, 16);
    const u = replyOf(await agent.ioctl(fd, SIOCSIFFLAGS, up, 0), 'SIOCSIFFLAGS');
    if (u.result < 0) throw new Error(`bringing ${name} up: ${errnoName(u.result)}`);
    const sll = Buffer.alloc(20);
    sll.writeUInt16LE(AF_PACKET, 0);
    sll.writeUInt16BE(ETH_P_VHOSTCHECK, 2);
    sll.writeInt32LE(ifindex, 4);
    const b = replyOf(await agent.bind(fd, sll), 'bind');
    if (b.result < 0) throw new Error(`binding the packet socket to ${name}: ${errnoName(b.result)}`);
    return fd;
  } catch (e) {
    await agent.closeFd(fd);
    throw e;
  }
}


// The child process of lifecycle.test.ts: boots the built guest, prints the
// agent socket's path (which names the QEMU process on its command line) and
// holds the guest until the process is signalled.
import { bootGuest } from './boot.ts';
import { findGuest } from './image/build.ts';

const image = await findGuest();
if (!image) process.exit(3);
const guest = await bootGuest({ image });
process.stdout.write(`ready ${guest.qemu.socketPath}\n`);
setInterval(() => {}, 1 << 30);

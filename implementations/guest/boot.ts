// A running guest: QEMU booted and its agent answering. The one place that
// pairs the two, so every failure on the way up releases QEMU.
import { AgentClient } from './agent.ts';
import type { GuestImage } from './image/build.ts';
import { QemuGuest, type QemuOptions } from './qemu.ts';

/** Boot-to-ready under TCG is about 4–6 s on these machines; a loaded CI runner gets generous room. */
const BOOT_TIMEOUT_MS = 60_000;

/**
 * A kernel the suite reaches through an agent: a QEMU guest, or this host itself (a local agent process
 * for the host's own device nodes, implementations/vhost-vdpa/localAgent.ts). Where it runs is `agent.host`.
 */
export interface KernelMachine {
  readonly agent: AgentClient;
  /** Stops it: drops the agent connection and ends what runs the agent. Idempotent. */
  close(): Promise<void>;
}

export interface RunningGuest extends KernelMachine {
  readonly qemu: QemuGuest;
  readonly image: GuestImage;
}

export async function bootGuest(opts: QemuOptions, bootTimeoutMs = BOOT_TIMEOUT_MS): Promise<RunningGuest> {
  const qemu = await QemuGuest.start(opts);
  let agent: AgentClient;
  try {
    agent = await AgentClient.connect(qemu, bootTimeoutMs);
  } catch (e) {
    await qemu.close();
    throw e;
  }
  return {
    qemu,
    agent,
    image: opts.image,
    close: async () => {
      agent.close();
      await qemu.close();
    },
  };
}

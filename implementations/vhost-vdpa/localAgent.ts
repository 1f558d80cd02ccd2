// The agent on this host: for a target on a device node the host has itself
// (vhost-vdpa:/dev/vhost-vdpa-N), the suite runs the guest agent's own
// source, built for the host by node-gyp (native/binding.gyp), as a child
// process serving the protocol over an inherited socket (agent.c
// --channel-fd). The suites then reach the device exactly as they do in a
// guest (implementations/guest/agent.ts), with two properties a call into
// the addon on the event loop would not have:
// - a device call that never returns (a driver stuck in an ioctl) blocks the
//   agent, and the request's timeout makes it a TIMEOUT verdict: the suite
//   does not hang with it;
// - a forked second process (agent op 18), a memory mirror and the
//   concurrent requests behave as in the guest, so the code the guest
//   targets test in CI is the code a vendor runs.
//
// No agent outlives its session or the run: it has its own process group,
// which close() kills; a process 'exit' hook kills what is left; and the
// agent asks the kernel to kill it when its parent dies (PR_SET_PDEATHSIG).
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { AgentClient, type AgentHost, CrashLatch, tailLines } from '../guest/agent.ts';
import type { KernelMachine } from '../guest/boot.ts';
import type { GuestCrash } from '../guest/qemu.ts';

/** Where `npm ci` (node-gyp, native/binding.gyp target vhostcheck-agent) puts the host's agent. */
const LOCAL_AGENT_PATH = fileURLToPath(new URL('../../native/build/Release/vhostcheck-agent', import.meta.url));

/** The local agent announces itself within milliseconds; this bounds a machine too loaded to start a process. */
const START_TIMEOUT_MS = 10_000;
const STDERR_LIMIT = 16 * 1024;
/**
 * How long close() waits for a killed agent to be reaped. A process in an uninterruptible device call dies only
 * when the call returns: the suite stops waiting for it rather than hang with it (its pid stays in `pid`).
 */
const REAP_TIMEOUT_MS = 2_000;
/** The channel's fd number in the agent: stdin, stdout and stderr come first. */
const CHANNEL_FD = 3;

const live = new Set<LocalAgentProcess>();
let exitHookInstalled = false;

export class LocalAgentNotBuilt extends Error {
  override readonly name = 'LocalAgentNotBuilt';
}

/** One agent process on this host. */
export class LocalAgentProcess implements AgentHost {
  readonly startedAt = performance.now();
  readonly #child: ChildProcess;
  #stderr = '';
  readonly #crashes = new CrashLatch();
  #closing = false;
  #exitStatus: { readonly code: number | null; readonly signal: string | null } | undefined;
  readonly #exited: Promise<void>;

  constructor(binary = LOCAL_AGENT_PATH) {
    if (!existsSync(binary)) throw new LocalAgentNotBuilt(`the host agent ${binary} is not built: run npm ci (or npm run build:native; it needs a C compiler)`);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on('exit', () => {
        for (const a of live) a.killNow();
      });
    }
    // detached: a process group of its own, so a kill reaches the children it forks for op 18 too.
    this.#child = spawn(binary, ['--channel-fd', String(CHANNEL_FD)], { detached: true, stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
    live.add(this);
    this.#child.stderr!.on('data', (c: Buffer) => (this.#stderr = (this.#stderr + c.toString()).slice(-STDERR_LIMIT)));
    this.#exited = new Promise((resolve) => {
      this.#child.once('exit', (code, signal) => {
        this.#exitStatus = { code, signal };
        if (!this.#closing) this.#declareCrash(`the host agent ended (${signal ?? `status ${code}`})`);
        resolve();
      });
      this.#child.once('error', (e) => {
        if (!this.#closing) this.#declareCrash(`the host agent could not run: ${e.message}`);
        resolve();
      });
    });
  }

  /** The agent's process id (its process group's too), so a test can check that nothing outlived a run. */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  get crash(): GuestCrash | undefined {
    return this.#crashes.crash;
  }

  get exitStatus(): { readonly code: number | null; readonly signal: string | null } | undefined {
    return this.#exitStatus;
  }

  onCrash(fn: (c: GuestCrash) => void): void {
    this.#crashes.onCrash(fn);
  }

  consoleTail(lines: number): string {
    return tailLines(this.#stderr, lines);
  }

  async connectChannel(): Promise<Socket> {
    // Node makes a 'pipe' stdio entry a UNIX socketpair: the agent's end is its fd 3.
    return this.#child.stdio[CHANNEL_FD] as Socket;
  }

  #declareCrash(summary: string): void {
    this.#crashes.declare({ kind: 'agent', summary, excerpt: this.#stderr.split('\n').slice(-20).join('\n') });
  }

  /** Kills the agent's process group and waits (bounded: REAP_TIMEOUT_MS) for it. Idempotent. */
  async close(): Promise<void> {
    this.killNow();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#exited, new Promise((r) => (timer = setTimeout(r, REAP_TIMEOUT_MS)))]);
    clearTimeout(timer);
  }

  /** The synchronous part of close(), for the exit hook, which cannot wait. */
  killNow(): void {
    this.#closing = true;
    live.delete(this);
    const pid = this.#child.pid;
    if (pid === undefined || this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      this.#child.kill('SIGKILL');
    }
  }
}

/** Starts an agent on this host and connects to it. */
export async function startLocalMachine(binary?: string): Promise<KernelMachine & { readonly process: LocalAgentProcess }> {
  const proc = new LocalAgentProcess(binary);
  let agent: AgentClient;
  try {
    agent = await AgentClient.connect(proc, START_TIMEOUT_MS);
  } catch (e) {
    await proc.close();
    throw e;
  }
  return {
    agent,
    process: proc,
    close: async () => {
      agent.close();
      await proc.close();
    },
  };
}

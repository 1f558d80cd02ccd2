// Target specs (DESIGN.md "runner/ and reports/"): the one string that names
// what a run talks to. Parsing only checks the spelling; whether a kind is
// implemented or reachable is the engine's business.
import { basename } from 'node:path';
import { UsageError } from './usageError.ts';

export const SIMULATED_DEVICES = ['net', 'blk'] as const;
type SimulatedDevice = (typeof SIMULATED_DEVICES)[number];

/** Back-ends the suite knows how to start itself (implementations/vhost-user/peers/). */
export const SPAWN_PEERS = ['qsd-blk', 'dpdk-net', 'virtiofsd', 'simulated'] as const;
type SpawnPeer = (typeof SPAWN_PEERS)[number];

/** Kernel targets, which `guest:` runs inside a QEMU guest instead of on the host. */
type KernelTargetSpec = { readonly kind: 'vhost-vdpa'; readonly device: string } | { readonly kind: 'vduse' };

export type TargetSpec =
  | { readonly kind: 'simulated'; readonly device?: SimulatedDevice; readonly mutant?: string }
  | { readonly kind: 'vhost-user'; readonly via: 'socket'; readonly path: string }
  | { readonly kind: 'vhost-user'; readonly via: 'spawn'; readonly peer: SpawnPeer }
  | KernelTargetSpec
  | { readonly kind: 'guest'; readonly inner: KernelTargetSpec };

export class TargetSpecError extends UsageError {
  override readonly name: string = 'TargetSpecError';
  constructor(spec: string, problem: string) {
    super(`malformed target spec '${spec}': ${problem}`);
  }
}

const USAGE = 'expected simulated[:device=net|blk][,mutant=NAME], vhost-user:PATH, vhost-user:spawn=PEER, vhost-vdpa:/dev/vhost-vdpa-N, vduse, or guest:<vhost-vdpa:…|vduse>';
const MUTANT_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const VDPA_DEVICE = /^\/dev\/vhost-vdpa-\d+$/;

export function parseTargetSpec(text: string): TargetSpec {
  const colon = text.indexOf(':');
  const kind = colon < 0 ? text : text.slice(0, colon);
  const rest = colon < 0 ? undefined : text.slice(colon + 1);
  const fail = (problem: string): never => {
    throw new TargetSpecError(text, problem);
  };
  switch (kind) {
    case 'simulated':
      return parseSimulated(rest, fail);
    case 'vhost-user': {
      if (!rest) return fail('vhost-user needs a socket path or spawn=PEER');
      if (rest.startsWith('spawn=')) {
        const peer = rest.slice('spawn='.length);
        if (!isOneOf(peer, SPAWN_PEERS)) return fail(`unknown peer '${peer}' (known: ${SPAWN_PEERS.join(', ')})`);
        return { kind, via: 'spawn', peer };
      }
      if (rest.includes('\0')) return fail('the socket path contains a NUL byte');
      return { kind, via: 'socket', path: rest };
    }
    case 'vhost-vdpa':
    case 'vduse':
      return parseKernel(text, fail);
    case 'guest': {
      if (!rest) return fail('guest needs the kernel target to run inside the guest, e.g. guest:vduse');
      return { kind, inner: parseKernel(rest, fail) };
    }
    default:
      return fail(USAGE);
  }
}

function parseSimulated(options: string | undefined, fail: (problem: string) => never): TargetSpec {
  if (options === undefined) return { kind: 'simulated' };
  let device: SimulatedDevice | undefined;
  let mutant: string | undefined;
  for (const option of options.split(',')) {
    const eq = option.indexOf('=');
    const key = eq < 0 ? option : option.slice(0, eq);
    const value = eq < 0 ? '' : option.slice(eq + 1);
    if (key === 'device') {
      if (device !== undefined) return fail('device= given twice');
      if (!isOneOf(value, SIMULATED_DEVICES)) return fail(`unknown simulated device '${value}' (known: ${SIMULATED_DEVICES.join(', ')})`);
      device = value;
    } else if (key === 'mutant') {
      if (mutant !== undefined) return fail('mutant= given twice');
      if (!MUTANT_NAME.test(value)) return fail(`invalid mutant name '${value}' (see 'vhostcheck mutants')`);
      mutant = value;
    } else {
      return fail(`unknown simulated option '${option}' (known: device=, mutant=)`);
    }
  }
  return { kind: 'simulated', ...(device && { device }), ...(mutant && { mutant }) };
}

function parseKernel(text: string, fail: (problem: string) => never): KernelTargetSpec {
  if (text === 'vduse') return { kind: 'vduse' };
  if (text.startsWith('vduse:')) return fail('vduse takes no options');
  if (text.startsWith('vhost-vdpa:')) {
    const device = text.slice('vhost-vdpa:'.length);
    if (!VDPA_DEVICE.test(device)) return fail(`'${device}' is not a vhost-vdpa device node (/dev/vhost-vdpa-N)`);
    return { kind: 'vhost-vdpa', device };
  }
  if (text === 'vhost-vdpa') return fail('vhost-vdpa needs a device node, e.g. vhost-vdpa:/dev/vhost-vdpa-0');
  return fail(`'${text}' is not a kernel target (vhost-vdpa:/dev/vhost-vdpa-N or vduse)`);
}

function isOneOf<T extends string>(value: string, set: readonly T[]): value is T {
  return (set as readonly string[]).includes(value);
}

/** The canonical spelling: what the engine receives and reports record. */
export function formatTargetSpec(spec: TargetSpec): string {
  switch (spec.kind) {
    case 'simulated': {
      const options = [spec.device && `device=${spec.device}`, spec.mutant && `mutant=${spec.mutant}`].filter(Boolean);
      return options.length ? `simulated:${options.join(',')}` : 'simulated';
    }
    case 'vhost-user':
      return spec.via === 'spawn' ? `vhost-user:spawn=${spec.peer}` : `vhost-user:${spec.path}`;
    case 'vhost-vdpa':
      return `vhost-vdpa:${spec.device}`;
    case 'vduse':
      return 'vduse';
    case 'guest':
      return `guest:${formatTargetSpec(spec.inner)}`;
  }
}

/**
 * A file-name-safe name for the implementation behind a spec: the key of its
 * expectations file. It names the implementation, not the connection, so the
 * simulated device type does not matter (verdicts for features a device does
 * not offer are UNSUPPORTED, expected by default) but a mutant does.
 */
export function targetName(spec: TargetSpec): string {
  switch (spec.kind) {
    case 'simulated':
      return spec.mutant ? `simulated-mutant-${spec.mutant}` : 'simulated';
    case 'vhost-user':
      if (spec.via === 'spawn') return spec.peer === 'simulated' ? 'vhost-user-simulated' : spec.peer;
      return sanitise(`vhost-user-${basename(spec.path).replace(/\.sock$/, '')}`);
    case 'vhost-vdpa':
      return basename(spec.device);
    case 'vduse':
      return 'vduse';
    case 'guest':
      return `guest-${targetName(spec.inner)}`;
  }
}

function sanitise(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[.-]+/, '');
}

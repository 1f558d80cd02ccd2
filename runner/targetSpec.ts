// Target specs (DESIGN.md "runner/ and reports/"): the one string that names
// what a run talks to. Parsing only checks the spelling; whether a kind is
// implemented or reachable is the engine's business.
import { basename } from 'node:path';
import { findVariant, VARIANTS } from '../implementations/simulated/variants/index.ts';
import { formatGuestTarget, type GuestTargetSpec, parseGuestTarget } from '../implementations/guest/spec.ts';
import { UsageError } from './usageError.ts';

export const SIMULATED_DEVICES = ['net', 'blk'] as const;
type SimulatedDevice = (typeof SIMULATED_DEVICES)[number];

/** Device types a vhost-user socket can serve; the socket itself does not say which (issue 10 item 1). */
export const SOCKET_DEVICES = ['blk', 'net', 'fs'] as const;
type SocketDevice = (typeof SOCKET_DEVICES)[number];

/** Back-ends the suite knows how to start itself (implementations/vhost-user/peers/). */
export const SPAWN_PEERS = ['qsd-blk', 'dpdk-net', 'virtiofsd', 'simulated'] as const;
type SpawnPeer = (typeof SPAWN_PEERS)[number];

/** Kernel targets on this host's own device nodes (`guest:` names a kernel device inside a QEMU guest instead). */
type KernelTargetSpec = { readonly kind: 'vhost-vdpa'; readonly device: string } | { readonly kind: 'vduse' };

/** The simulated device: its type, a healthy variant (implementations/simulated/variants), a mutant. */
interface SimulatedOptions {
  readonly device?: SimulatedDevice;
  readonly variant?: string;
}

export type TargetSpec =
  | ({ readonly kind: 'simulated'; readonly mutant?: string } & SimulatedOptions)
  | { readonly kind: 'vhost-user'; readonly via: 'socket'; readonly path: string; readonly device: SocketDevice }
  | ({ readonly kind: 'vhost-user'; readonly via: 'spawn'; readonly peer: SpawnPeer } & SimulatedOptions)
  | KernelTargetSpec
  | { readonly kind: 'guest'; readonly guest: GuestTargetSpec };

export class TargetSpecError extends UsageError {
  override readonly name: string = 'TargetSpecError';
  constructor(spec: string, problem: string) {
    super(`malformed target spec '${spec}': ${problem}`);
  }
}

const USAGE = 'expected simulated[:device=net|blk][,variant=NAME][,mutant=NAME], vhost-user:PATH,device=blk|net|fs, vhost-user:spawn=PEER, vhost-vdpa:/dev/vhost-vdpa-N, vduse, or guest:vdpa-sim-net|vdpa-sim-blk|vhost-net|vduse-blk|vduse-net';
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
        const [peer, ...options] = rest.slice('spawn='.length).split(',');
        if (!isOneOf(peer, SPAWN_PEERS)) return fail(`unknown peer '${peer}' (known: ${SPAWN_PEERS.join(', ')})`);
        if (peer !== 'simulated') {
          if (options.length > 0) return fail(`spawn=${peer} takes no options (its device type is fixed)`);
          return { kind, via: 'spawn', peer };
        }
        return { kind, via: 'spawn', peer, ...parseSimulatedOptions(options, false, fail) };
      }
      return parseSocket(rest, fail);
    }
    case 'vhost-vdpa':
    case 'vduse':
      return parseKernel(text, fail);
    case 'guest': {
      const guest = parseGuestTarget(rest);
      return 'problem' in guest ? fail(guest.problem) : { kind, guest };
    }
    default:
      return fail(USAGE);
  }
}

function parseSimulated(options: string | undefined, fail: (problem: string) => never): TargetSpec {
  if (options === undefined) return { kind: 'simulated' };
  return { kind: 'simulated', ...parseSimulatedOptions(options.split(','), true, fail) };
}

/** device=, variant= (a name from VARIANTS, checked now: an unknown one is exit 2 before any work) and, in process, mutant=. */
function parseSimulatedOptions(options: readonly string[], mutants: boolean, fail: (problem: string) => never): SimulatedOptions & { mutant?: string } {
  let device: SimulatedDevice | undefined;
  let variant: string | undefined;
  let mutant: string | undefined;
  const known = mutants ? 'device=, variant=, mutant=' : 'device=, variant=';
  for (const option of options) {
    const eq = option.indexOf('=');
    const key = eq < 0 ? option : option.slice(0, eq);
    const value = eq < 0 ? '' : option.slice(eq + 1);
    if (key === 'device') {
      if (device !== undefined) return fail('device= given twice');
      if (!isOneOf(value, SIMULATED_DEVICES)) return fail(`unknown simulated device '${value}' (known: ${SIMULATED_DEVICES.join(', ')})`);
      device = value;
    } else if (key === 'variant') {
      if (variant !== undefined) return fail('variant= given twice');
      if (findVariant(value) === undefined) return fail(`unknown variant '${value}' (known: ${VARIANTS.map((v) => v.name).join(', ')})`);
      variant = value;
    } else if (key === 'mutant' && mutants) {
      if (mutant !== undefined) return fail('mutant= given twice');
      if (!MUTANT_NAME.test(value)) return fail(`invalid mutant name '${value}' (see 'vhostcheck mutants')`);
      mutant = value;
    } else {
      return fail(`unknown simulated option '${option}' (known: ${known})`);
    }
  }
  const only = variant === undefined ? undefined : findVariant(variant)!.deviceType;
  if (only !== undefined && device !== undefined && device !== only) return fail(`variant '${variant}' is a ${only} device, not ${device}`);
  return { ...(device && { device }), ...(variant && { variant }), ...(mutant && { mutant }) };
}

/** `PATH,device=blk|net|fs`: the device type is required, since nothing on the socket says what serves it. */
function parseSocket(rest: string, fail: (problem: string) => never): TargetSpec {
  if (rest.includes('\0')) return fail('the socket path contains a NUL byte');
  const m = /^(.*),device=([^,]*)$/.exec(rest);
  if (m === null) return fail(`an external socket needs its device type: vhost-user:${rest},device=${SOCKET_DEVICES.join('|')}`);
  const [, path, device] = m;
  if (!path) return fail('vhost-user needs a socket path before device=');
  if (!isOneOf(device, SOCKET_DEVICES)) return fail(`unknown device type '${device}' (known: ${SOCKET_DEVICES.join(', ')})`);
  return { kind: 'vhost-user', via: 'socket', path, device };
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

function simulatedOptions(o: SimulatedOptions & { readonly mutant?: string }): string[] {
  return [o.device && `device=${o.device}`, o.variant && `variant=${o.variant}`, o.mutant && `mutant=${o.mutant}`].filter((x): x is string => Boolean(x));
}

function isOneOf<T extends string>(value: string, set: readonly T[]): value is T {
  return (set as readonly string[]).includes(value);
}

/** The canonical spelling: what the engine receives and reports record. */
export function formatTargetSpec(spec: TargetSpec): string {
  switch (spec.kind) {
    case 'simulated': {
      const options = simulatedOptions(spec);
      return options.length ? `simulated:${options.join(',')}` : 'simulated';
    }
    case 'vhost-user':
      if (spec.via === 'socket') return `vhost-user:${spec.path},device=${spec.device}`;
      return [`vhost-user:spawn=${spec.peer}`, ...simulatedOptions(spec)].join(',');
    case 'vhost-vdpa':
      return `vhost-vdpa:${spec.device}`;
    case 'vduse':
      return 'vduse';
    case 'guest':
      return `guest:${formatGuestTarget(spec.guest)}`;
  }
}

/**
 * A file-name-safe name for the implementation behind a spec: the key of its
 * expectations file. It names the implementation, not the connection, so the
 * device type does not matter (verdicts for features a device does not offer
 * are UNSUPPORTED, expected by default) but a variant or a mutant does.
 */
export function targetName(spec: TargetSpec): string {
  switch (spec.kind) {
    case 'simulated':
      return ['simulated', spec.variant && `variant-${spec.variant}`, spec.mutant && `mutant-${spec.mutant}`].filter(Boolean).join('-');
    case 'vhost-user':
      if (spec.via === 'spawn') return spec.peer === 'simulated' ? ['vhost-user-simulated', spec.variant && `variant-${spec.variant}`].filter(Boolean).join('-') : spec.peer;
      return sanitise(`vhost-user-${basename(spec.path).replace(/\.sock$/, '')}`);
    case 'vhost-vdpa':
      return basename(spec.device);
    case 'vduse':
      return 'vduse';
    case 'guest':
      return sanitise(`guest-${formatGuestTarget(spec.guest)}`);
  }
}

function sanitise(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[.-]+/, '');
}

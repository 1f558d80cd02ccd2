// A vhost or VDUSE ioctl issued through an agent (in the guest, or the host agent process), shaped by the spec/ tables:
// the number, the argument's size and layout, and whether the kernel writes
// back through it all come from the IoctlInfo (spec/vhost/ioctls.ts and
// spec/vduse/ioctls.ts, checked against the UAPI headers by
// spec/headers.test.ts), so no number or layout is written twice.
import { encode, type StructSpec, type StructValue } from '../../spec/codec.ts';
import type { IoctlInfo } from '../../spec/ioctl.ts';
import { VDUSE_IOCTLS } from '../../spec/vduse/ioctls.ts';
import { VHOST_IOCTLS } from '../../spec/vhost/ioctls.ts';
import { type AgentClient, errnoName, type RequestOptions } from './agent.ts';
import type { GuestCrash } from './qemu.ts';

export type IoctlOutcome =
  | { readonly kind: 'ok'; readonly ret: number; /** The argument as the kernel left it (empty when it writes nothing back). */ readonly out: Buffer }
  | { readonly kind: 'error'; readonly errno: string }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'crash'; readonly crash: GuestCrash };

/**
 * What the argument holds: nothing (_IO), a scalar, or a struct's fields by name plus the bytes of its
 * flexible array. The fields are checked against the ioctl's table when encoded (codec EncodeError).
 */
export type IoctlArgValue = undefined | bigint | number | { readonly value: Readonly<Record<string, number | bigint | Uint8Array>>; readonly trailing?: Uint8Array };

function argBytes(info: IoctlInfo, arg: IoctlArgValue): Buffer | undefined {
  switch (info.arg.kind) {
    case 'none':
      return undefined;
    case 'scalar': {
      const b = Buffer.alloc(info.size);
      const v = typeof arg === 'object' ? 0n : BigInt(arg ?? 0);
      if (info.size === 8) b.writeBigUInt64LE(BigInt.asUintN(64, v));
      else b.writeUIntLE(Number(BigInt.asUintN(info.size * 8, v)), 0, info.size);
      return b;
    }
    case 'struct': {
      if (typeof arg !== 'object') throw new TypeError(`${info.name} takes a ${info.arg.spec.name}`);
      return Buffer.concat([encode(info.arg.spec, arg.value as StructValue<StructSpec>), arg.trailing ?? new Uint8Array()]);
    }
    case 'array': {
      if (typeof arg !== 'object' || !arg.trailing) throw new TypeError(`${info.name} takes ${info.arg.length} bytes`);
      return Buffer.from(arg.trailing);
    }
  }
}

const BY_NAME = new Map([...VHOST_IOCTLS, ...VDUSE_IOCTLS].map((i) => [i.name, i]));

/** The spec/ table entry of a vhost or VDUSE ioctl, by its C name. */
export function ioctlInfo(name: string): IoctlInfo {
  const info = BY_NAME.get(name);
  if (!info) throw new TypeError(`no ioctl named ${name} in spec/vhost/ioctls.ts or spec/vduse/ioctls.ts`);
  return info;
}

export async function agentIoctl(agent: AgentClient, fd: number, info: IoctlInfo, arg?: IoctlArgValue, opts: RequestOptions = {}): Promise<IoctlOutcome> {
  const bytes = argBytes(info, arg);
  // _IO ioctls take their argument by value (none here); every other one by pointer.
  const r = bytes === undefined ? await agent.ioctl(fd, info.number, 0n, 0, opts) : await agent.ioctl(fd, info.number, bytes, info.kernelWrites ? bytes.length : 0, opts);
  if (r.kind !== 'ok') return r;
  if (r.result < 0) return { kind: 'error', errno: errnoName(r.result) };
  return { kind: 'ok', ret: r.result, out: r.body };
}

/** The scalar a read-back ioctl returned (u8, u16, u32 as number; u64 as bigint). */
export function scalarOut(info: IoctlInfo, out: Buffer): number | bigint {
  if (info.arg.kind !== 'scalar') throw new TypeError(`${info.name} does not return a scalar`);
  return info.size === 8 ? out.readBigUInt64LE(0) : out.readUIntLE(0, info.size);
}

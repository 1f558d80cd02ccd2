// The Linux ioctl request-number encoding (include/uapi/asm-generic/ioctl.h),
// and the shape of an ioctl table entry shared by spec/vhost and spec/vduse.
//
// The layout is asm-generic's: nr in bits 0..7, type in 8..15, size in 16..29,
// direction in 30..31. x86_64 and arm64 (the platforms this suite runs on) use
// it unchanged; powerpc, mips, sparc and alpha override _IOC_SIZEBITS /
// _IOC_DIRBITS and the direction values, so numbers computed here are wrong
// there, and the header cross-check (spec/headers.test.ts) would say so.
//
// Names mirror the C macros one to one so a reader can hold this file next to
// the header. Results are plain numbers in [0, 2^32): the encoding is built
// with arithmetic, not `<<`, because JavaScript bit operators are signed 32-bit
// and `_IOC_READ << 30` would come out negative.
import { SCALAR_SIZE, type ScalarType, type StructSpec } from './codec.ts';

export const _IOC_NRBITS = 8;
export const _IOC_TYPEBITS = 8;
export const _IOC_SIZEBITS = 14;
export const _IOC_DIRBITS = 2;

export const _IOC_NRMASK = (1 << _IOC_NRBITS) - 1;
export const _IOC_TYPEMASK = (1 << _IOC_TYPEBITS) - 1;
export const _IOC_SIZEMASK = (1 << _IOC_SIZEBITS) - 1;
export const _IOC_DIRMASK = (1 << _IOC_DIRBITS) - 1;

export const _IOC_NRSHIFT = 0;
export const _IOC_TYPESHIFT = _IOC_NRSHIFT + _IOC_NRBITS;
export const _IOC_SIZESHIFT = _IOC_TYPESHIFT + _IOC_TYPEBITS;
export const _IOC_DIRSHIFT = _IOC_SIZESHIFT + _IOC_SIZEBITS;

/** Direction bits are from user space's point of view: READ means the kernel writes the argument. */
export const _IOC_NONE = 0;
export const _IOC_WRITE = 1;
export const _IOC_READ = 2;

function checkedField(what: string, v: number, mask: number): number {
  if (!Number.isInteger(v) || v < 0 || v > mask) throw new RangeError(`_IOC: ${what} ${v} outside 0..${mask}`);
  return v;
}

export function _IOC(dir: number, type: number, nr: number, size: number): number {
  return (
    checkedField('dir', dir, _IOC_DIRMASK) * 2 ** _IOC_DIRSHIFT +
    checkedField('size', size, _IOC_SIZEMASK) * 2 ** _IOC_SIZESHIFT +
    checkedField('type', type, _IOC_TYPEMASK) * 2 ** _IOC_TYPESHIFT +
    checkedField('nr', nr, _IOC_NRMASK) * 2 ** _IOC_NRSHIFT
  );
}

// The C macros take a type and apply sizeof; here the caller passes the size,
// which spec/ tables supply (`vhost_vring_state.size`), so a number and the
// layout it names cannot drift apart.
export function _IO(type: number, nr: number): number {
  return _IOC(_IOC_NONE, type, nr, 0);
}
export function _IOR(type: number, nr: number, size: number): number {
  return _IOC(_IOC_READ, type, nr, size);
}
export function _IOW(type: number, nr: number, size: number): number {
  return _IOC(_IOC_WRITE, type, nr, size);
}
export function _IOWR(type: number, nr: number, size: number): number {
  return _IOC(_IOC_READ | _IOC_WRITE, type, nr, size);
}

/** Which of the four macros the header uses; it decides the direction bits. */
export type IoctlMacro = '_IO' | '_IOR' | '_IOW' | '_IOWR';

/**
 * C scalar argument types appearing in ioctl definitions, with their wire
 * type. `int` and `unsigned int` are 32-bit on every Linux ABI this suite
 * targets (LP64); `int` is signed (fds, -1) and, like every C int in spec/,
 * travels as its u32 bit pattern.
 */
const C_SCALARS = {
  __u8: 'u8',
  __u16: 'u16',
  __u32: 'u32',
  __u64: 'u64',
  int: 'u32',
  'unsigned int': 'u32',
} as const satisfies Record<string, ScalarType>;
export type CScalar = keyof typeof C_SCALARS;

/** What the ioctl's third argument points to. */
export type IoctlArg =
  | { readonly kind: 'none' }
  | { readonly kind: 'scalar'; readonly ctype: CScalar }
  /** `flexible` names a trailing flexible array member (e.g. vhost_memory.regions[]) that follows the fixed part. */
  | { readonly kind: 'struct'; readonly spec: StructSpec; readonly flexible?: string }
  /** A C array type such as `char[VDUSE_NAME_MAX]`. */
  | { readonly kind: 'array'; readonly ctype: string; readonly length: number };

export const noArg: IoctlArg = { kind: 'none' };
export const scalarArg = (ctype: CScalar): IoctlArg => ({ kind: 'scalar', ctype });
export const structArg = (spec: StructSpec, flexible?: string): IoctlArg =>
  flexible === undefined ? { kind: 'struct', spec } : { kind: 'struct', spec, flexible };
export const arrayArg = (ctype: string, length: number): IoctlArg => ({ kind: 'array', ctype, length });

/** The `sizeof` the C macro encodes for this argument. */
export function ioctlArgSize(arg: IoctlArg): number {
  switch (arg.kind) {
    case 'none': return 0;
    case 'scalar': return SCALAR_SIZE[C_SCALARS[arg.ctype]];
    case 'struct': return arg.spec.size;
    case 'array': return arg.length;
  }
}

export interface IoctlDef {
  readonly macro: IoctlMacro;
  readonly nr: number;
  readonly arg: IoctlArg;
  /**
   * Set when the kernel writes results through the argument although the
   * macro lacks _IOC_READ (historical mis-encodings, e.g. VHOST_GET_VRING_ENDIAN
   * is _IOW but copies the state back). De-facto: the citing comment is at the definition.
   */
  readonly writesBackDespiteMacro?: true;
}

export interface IoctlInfo {
  /** The C macro name, e.g. `VHOST_SET_VRING_NUM`. */
  readonly name: string;
  readonly number: number;
  readonly macro: IoctlMacro;
  /** The ioctl "type" byte (VHOST_VIRTIO, VDUSE_BASE). */
  readonly type: number;
  readonly nr: number;
  readonly arg: IoctlArg;
  /** The size field of the number: C sizeof of the argument (its fixed part; a flexible array follows it). */
  readonly size: number;
  /** Whether the kernel writes a result back through the argument pointer. */
  readonly kernelWrites: boolean;
}

const MACROS: Readonly<Record<IoctlMacro, (type: number, nr: number, size: number) => number>> = {
  _IO: (type, nr) => _IO(type, nr),
  _IOR,
  _IOW,
  _IOWR,
};

/**
 * Turns one family's definitions (keyed by C macro name) into numbers and a
 * table. Both come from the same `defs`, so each ioctl is written once.
 */
export function defineIoctls<const D extends Record<string, IoctlDef>>(
  type: number,
  defs: D,
): { readonly numbers: { readonly [K in keyof D]: number }; readonly table: readonly IoctlInfo[] } {
  const numbers: Record<string, number> = {};
  const table: IoctlInfo[] = [];
  for (const [name, d] of Object.entries(defs)) {
    const size = ioctlArgSize(d.arg);
    if (d.macro === '_IO' && size !== 0) throw new Error(`${name}: _IO takes no argument`);
    const number = MACROS[d.macro](type, d.nr, size);
    numbers[name] = number;
    table.push({
      name,
      number,
      macro: d.macro,
      type,
      nr: d.nr,
      arg: d.arg,
      size,
      kernelWrites: d.macro === '_IOR' || d.macro === '_IOWR' || d.writesBackDespiteMacro === true,
    });
  }
  return { numbers: numbers as { [K in keyof D]: number }, table };
}

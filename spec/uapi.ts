// The registry that spec/headers.test.ts checks against the Linux UAPI
// headers (DESIGN.md "spec/": the headers are the authority, not memory).
// It is collected by shape, not by hand: every export of a listed module whose
// name looks like a C macro or enumerator (`VHOST_SET_VRING_NUM`, `_IOC_READ`)
// and whose value is a number or bigint is a constant, and every exported
// struct table is a struct. A new constant or table in a listed module is
// therefore checked without touching this file; a new spec module needs one
// import and one SPEC_MODULES line.
import type { StructSpec } from './codec.ts';
import * as ioctl from './ioctl.ts';
import * as vduseIoctls from './vduse/ioctls.ts';
import * as vduseTypes from './vduse/types.ts';
import * as vhostIoctls from './vhost/ioctls.ts';
import * as vhostTypes from './vhost/types.ts';
import * as virtioBlk from './virtio/blk.ts';
import * as virtioFeatures from './virtio/features.ts';
import * as virtioNet from './virtio/net.ts';
import * as virtioRing from './virtio/ring.ts';
import * as virtioStatus from './virtio/status.ts';

interface SpecModule {
  readonly path: string;
  readonly exports: Readonly<Record<string, unknown>>;
  /**
   * True when the module only mirrors headers, so every constant in it must
   * be found there (a typo in a name is then a failure, not a silent skip).
   * The virtio modules also carry virtio-spec values that older headers lack.
   */
  readonly headerOnly: boolean;
}

export const SPEC_MODULES: readonly SpecModule[] = [
  { path: 'spec/ioctl.ts', exports: ioctl, headerOnly: true },
  { path: 'spec/vhost/ioctls.ts', exports: vhostIoctls, headerOnly: true },
  { path: 'spec/vhost/types.ts', exports: vhostTypes, headerOnly: true },
  { path: 'spec/vduse/ioctls.ts', exports: vduseIoctls, headerOnly: true },
  { path: 'spec/vduse/types.ts', exports: vduseTypes, headerOnly: true },
  { path: 'spec/virtio/blk.ts', exports: virtioBlk, headerOnly: false },
  { path: 'spec/virtio/features.ts', exports: virtioFeatures, headerOnly: false },
  { path: 'spec/virtio/net.ts', exports: virtioNet, headerOnly: false },
  { path: 'spec/virtio/ring.ts', exports: virtioRing, headerOnly: false },
  { path: 'spec/virtio/status.ts', exports: virtioStatus, headerOnly: false },
];

/**
 * Struct tables that deliberately have no `struct NAME` in the headers, by
 * table name, with the reason. Any other table whose tag the headers lack
 * fails the cross-check; so does an entry here whose tag the headers have.
 */
export const NOT_UAPI_STRUCTS: Readonly<Record<string, string>> = {};

export interface UapiConstant {
  readonly name: string;
  readonly value: number | bigint;
  readonly module: string;
  readonly headerOnly: boolean;
}

export interface UapiStruct {
  /** `module:export`, unique even when variant tables share a C tag. */
  readonly key: string;
  readonly module: string;
  readonly exportName: string;
  readonly spec: StructSpec;
}

const CONSTANT_NAME = /^_?[A-Z][A-Z0-9_]*$/;

function isStructSpec(v: unknown): v is StructSpec {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Partial<StructSpec>;
  return (
    typeof s.name === 'string' &&
    typeof s.size === 'number' &&
    Array.isArray(s.fields) &&
    s.fields.every((f: unknown) => typeof f === 'object' && f !== null && 'name' in f && 'type' in f && 'offset' in f)
  );
}

/** The struct tables among a module's exports, by export name. */
export function structTablesOf(exports: Readonly<Record<string, unknown>>): Record<string, StructSpec> {
  const out: Record<string, StructSpec> = {};
  for (const [name, value] of Object.entries(exports)) if (isStructSpec(value)) out[name] = value;
  return out;
}

function collect(modules: readonly SpecModule[]): {
  constants: UapiConstant[];
  structs: UapiStruct[];
  conflicts: string[];
} {
  const constants = new Map<string, UapiConstant>();
  const structs: UapiStruct[] = [];
  const seenTables = new Set<StructSpec>();
  const conflicts: string[] = [];
  for (const m of modules) {
    for (const [name, value] of Object.entries(m.exports)) {
      if ((typeof value === 'number' || typeof value === 'bigint') && CONSTANT_NAME.test(name)) {
        const prior = constants.get(name);
        if (prior === undefined) constants.set(name, { name, value, module: m.path, headerOnly: m.headerOnly });
        // A re-export of the same value is one constant; two values under one C name is a bug.
        else if (String(prior.value) !== String(value)) conflicts.push(`${name}: ${String(prior.value)} in ${prior.module}, ${String(value)} in ${m.path}`);
      }
    }
    for (const [name, spec] of Object.entries(structTablesOf(m.exports))) {
      if (seenTables.has(spec)) continue;
      seenTables.add(spec);
      structs.push({ key: `${m.path}:${name}`, module: m.path, exportName: name, spec });
    }
  }
  return { constants: [...constants.values()], structs, conflicts };
}

const registry = collect(SPEC_MODULES);

export const UAPI_CONSTANTS: readonly UapiConstant[] = registry.constants;
export const UAPI_STRUCTS: readonly UapiStruct[] = registry.structs;
/** Names exported with different values by two modules; the cross-check requires this to be empty. */
export const UAPI_CONFLICTS: readonly string[] = registry.conflicts;

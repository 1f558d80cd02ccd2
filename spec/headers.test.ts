// The header cross-check (DESIGN.md "spec/"): compiles a C program against
// the installed Linux UAPI headers that prints the value of every registry
// constant and the size, member offsets and member sizes of every struct
// table, then compares the output with spec/. The headers are the authority.
//
// Existence is probed by the compiler itself: each constant, struct and
// member is emitted on its own source line, so a compile error on a line
// means "the headers do not have this" (an enumerator cannot be #ifdef'd,
// an undeclared identifier or unknown member can only be detected this way).
// A first compile finds those lines, a second one without them must succeed.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defineStruct, fieldSize } from './codec.ts';
import { NOT_UAPI_STRUCTS, UAPI_CONFLICTS, UAPI_CONSTANTS, UAPI_STRUCTS, type UapiConstant, type UapiStruct } from './uapi.ts';

const HEADERS = ['vhost.h', 'vhost_types.h', 'vduse.h', 'virtio_ring.h', 'virtio_config.h', 'virtio_net.h', 'virtio_blk.h'].map(
  (h) => `/usr/include/linux/${h}`,
);

interface Registry {
  readonly constants: readonly UapiConstant[];
  readonly structs: readonly UapiStruct[];
  readonly notUapi: Readonly<Record<string, string>>;
}

/** What the headers say; an absent key means the headers do not have it. */
interface HeaderFacts {
  readonly constants: ReadonlyMap<string, { readonly value: bigint; readonly kind: 'macro' | 'enumerator' }>;
  /** By UapiStruct.key. */
  readonly structSizes: ReadonlyMap<string, number>;
  /** By `${UapiStruct.key}#${field.name}`. */
  readonly fields: ReadonlyMap<string, { readonly offset: number; readonly size: number }>;
}

interface Comparison {
  readonly mismatches: string[];
  /** Constants the headers lack, from modules allowed to have such (reported, not failed). */
  readonly notInHeaders: string[];
  readonly counts: { constants: number; structs: number; offsets: number };
}

const cDesignator = (f: { name: string; cName?: string }): string => f.cName ?? f.name;

function compareWithHeaders(reg: Registry, facts: HeaderFacts): Comparison {
  const mismatches: string[] = [];
  const notInHeaders: string[] = [];
  const counts = { constants: 0, structs: 0, offsets: 0 };

  for (const c of reg.constants) {
    const h = facts.constants.get(c.name);
    if (h === undefined) {
      if (c.headerOnly) mismatches.push(`${c.name} (${c.module}): not defined by the headers`);
      else notInHeaders.push(c.name);
      continue;
    }
    counts.constants++;
    if (typeof c.value === 'number' && !Number.isInteger(c.value)) {
      mismatches.push(`${c.name}: spec value ${c.value} is not an integer`);
    } else if (BigInt(c.value) !== h.value) {
      mismatches.push(`${c.name}: spec ${String(c.value)}, header ${h.value} (${h.kind})`);
    }
  }

  for (const s of reg.structs) {
    const tag = s.spec.name;
    const where = `struct ${tag} (${s.key})`;
    const size = facts.structSizes.get(s.key);
    if (tag in reg.notUapi) {
      if (size !== undefined) mismatches.push(`${where}: marked not-UAPI in NOT_UAPI_STRUCTS but the headers define it`);
      continue;
    }
    if (size === undefined) {
      mismatches.push(`${where}: no such struct in the headers (mark it in NOT_UAPI_STRUCTS if intended)`);
      continue;
    }
    counts.structs++;
    if (size !== s.spec.size) mismatches.push(`${where}: size spec ${s.spec.size}, header ${size}`);
    for (const f of s.spec.fields) {
      const member = `${where}.${cDesignator(f)}`;
      const h = facts.fields.get(`${s.key}#${f.name}`);
      if (h === undefined) {
        mismatches.push(`${member}: no such member in the headers`);
        continue;
      }
      counts.offsets++;
      if (h.offset !== f.offset) mismatches.push(`${member}: offset spec ${f.offset}, header ${h.offset}`);
      if (h.size !== fieldSize(f)) mismatches.push(`${member}: size spec ${fieldSize(f)}, header ${h.size}`);
    }
  }
  return { mismatches, notInHeaders, counts };
}

// ---- the C probe ----

/** One thing the program asks about; `lines` are its source lines. */
interface ProbeItem {
  readonly id: string;
  readonly lines: readonly string[];
}

const cString = (s: string): string => JSON.stringify(s);

// Names are pasted into C source, so they must be what they claim to be.
const C_IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const C_DESIGNATOR = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\])*$/;

function probeItems(reg: Registry): ProbeItem[] {
  for (const c of reg.constants) if (!C_IDENT.test(c.name)) throw new Error(`constant name ${JSON.stringify(c.name)} is not a C identifier`);
  for (const s of reg.structs) {
    if (!C_IDENT.test(s.spec.name)) throw new Error(`${s.key}: table name ${JSON.stringify(s.spec.name)} is not a C struct tag`);
    for (const f of s.spec.fields) {
      if (!C_DESIGNATOR.test(cDesignator(f))) throw new Error(`${s.key}: ${JSON.stringify(cDesignator(f))} is not a C member designator`);
    }
  }
  const items: ProbeItem[] = [];
  for (const c of reg.constants) {
    // Magnitude and sign separately so values beyond long long (u64 masks) and
    // negative ones (VHOST_FILE_UNBIND) both print exactly.
    const emit = (kind: string) =>
      `emit(${cString(kind)}, ${cString(c.name)}, (${c.name}) < 0, (${c.name}) < 0 ? 0ULL - (unsigned long long)(long long)(${c.name}) : (unsigned long long)(${c.name}));`;
    items.push({ id: `c:${c.name}`, lines: [`#ifdef ${c.name}`, emit('macro'), '#else', emit('enumerator'), '#endif'] });
  }
  reg.structs.forEach((s, si) => {
    const type = `struct ${s.spec.name}`;
    items.push({ id: `s:${si}`, lines: [`printf("S %d %zu\\n", ${si}, sizeof(${type}));`] });
    s.spec.fields.forEach((f, fi) => {
      const m = cDesignator(f);
      items.push({
        id: `f:${si}:${fi}`,
        lines: [`printf("F %d %d %zu %zu\\n", ${si}, ${fi}, offsetof(${type}, ${m}), sizeof(((${type} *)0)->${m}));`],
      });
    });
  });
  return items;
}

function renderProgram(items: readonly ProbeItem[]): { source: string; owner: Map<number, string> } {
  const out = [
    '#include <stddef.h>',
    '#include <stdio.h>',
    ...HEADERS.map((h) => `#include "${h}"`),
    'static void emit(const char *kind, const char *name, int neg, unsigned long long mag) {',
    '  printf("C %s %s %s%llu\\n", kind, name, neg ? "-" : "", mag);',
    '}',
    'int main(void) {',
  ];
  const owner = new Map<number, string>();
  for (const item of items) {
    for (const l of item.lines) {
      out.push(l);
      owner.set(out.length, item.id); // 1-based line number of the line just pushed
    }
  }
  out.push('  return 0;', '}', '');
  return { source: out.join('\n'), owner };
}

function compile(dir: string, source: string): { ok: boolean; stderr: string; exe: string; src: string } {
  const src = join(dir, 'probe.c');
  const exe = join(dir, 'probe');
  writeFileSync(src, source);
  // -w: the sign test on unsigned constants warns; only errors matter here.
  const r = spawnSync('cc', ['-std=gnu11', '-w', '-o', exe, src], { encoding: 'utf8' });
  return { ok: r.status === 0, stderr: `${r.stderr ?? ''}${r.error ? String(r.error) : ''}`, exe, src };
}

/** Items whose lines the compiler complained about (errors, and notes "in expansion of macro" pointing back at them). */
function failedItems(stderr: string, src: string, owner: Map<number, string>): Set<string> {
  const failed = new Set<string>();
  const re = /^(.*?):(\d+):\d+: (?:error|note|fatal error):/gm;
  for (const m of stderr.matchAll(re)) {
    if (m[1] !== src) continue;
    const id = owner.get(Number(m[2]));
    if (id === undefined) throw new Error(`probe program failed outside any probe line:\n${stderr}`);
    failed.add(id);
  }
  return failed;
}

function readHeaderFacts(reg: Registry): HeaderFacts {
  const dir = mkdtempSync(join(tmpdir(), 'vhostcheck-headers-'));
  try {
    let items = probeItems(reg);
    let prog = renderProgram(items);
    let built = compile(dir, prog.source);
    if (!built.ok) {
      const failed = failedItems(built.stderr, built.src, prog.owner);
      if (failed.size === 0) throw new Error(`probe program does not compile:\n${built.stderr}`);
      items = items.filter((i) => !failed.has(i.id));
      prog = renderProgram(items);
      built = compile(dir, prog.source);
      if (!built.ok) throw new Error(`probe program still does not compile without the failing items:\n${built.stderr}`);
    }
    const run = spawnSync(built.exe, [], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`probe program exited ${run.status}: ${run.stderr}`);

    const constants = new Map<string, { value: bigint; kind: 'macro' | 'enumerator' }>();
    const structSizes = new Map<string, number>();
    const fields = new Map<string, { offset: number; size: number }>();
    for (const line of run.stdout.split('\n')) {
      const [tag, ...rest] = line.split(' ');
      if (tag === 'C') constants.set(rest[1], { kind: rest[0] as 'macro' | 'enumerator', value: BigInt(rest[2]) });
      else if (tag === 'S') structSizes.set(reg.structs[Number(rest[0])].key, Number(rest[1]));
      else if (tag === 'F') {
        const s = reg.structs[Number(rest[0])];
        fields.set(`${s.key}#${s.spec.fields[Number(rest[1])].name}`, { offset: Number(rest[2]), size: Number(rest[3]) });
      }
    }
    return { constants, structSizes, fields };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const hasCc = spawnSync('cc', ['--version'], { encoding: 'utf8' }).status === 0;
if (!hasCc) console.warn('header cross-check skipped: no C compiler `cc` on PATH');

const REGISTRY: Registry = { constants: UAPI_CONSTANTS, structs: UAPI_STRUCTS, notUapi: NOT_UAPI_STRUCTS };

describe('UAPI header cross-check', () => {
  it('no C name is exported with two different values', () => {
    expect(UAPI_CONFLICTS).toEqual([]);
  });

  it.skipIf(!hasCc)('every constant, struct size, member offset and member size in spec/ matches /usr/include/linux', () => {
    const { mismatches, notInHeaders, counts } = compareWithHeaders(REGISTRY, readHeaderFacts(REGISTRY));
    console.log(`header cross-check: compared ${counts.constants} constants, ${counts.structs} struct sizes, ${counts.offsets} field offsets`);
    if (notInHeaders.length > 0) console.log(`header cross-check: not in the installed headers (spec-only, not compared): ${notInHeaders.join(', ')}`);
    expect(mismatches).toEqual([]);
    // Floors from spec/ioctl.ts, spec/vhost and spec/vduse alone, so a probe
    // that silently compares nothing cannot pass.
    expect(counts.constants).toBeGreaterThanOrEqual(110);
    expect(counts.structs).toBeGreaterThanOrEqual(30);
    expect(counts.offsets).toBeGreaterThanOrEqual(130);
  });

  it.skipIf(!hasCc)('a wrong table, constant, member name or tag is reported through the real compiler', () => {
    const wrongAddr = defineStruct('vhost_vring_addr', 48, [
      { name: 'index', type: 'u32', offset: 0 },
      { name: 'flags', type: 'u16', offset: 4 },
      { name: 'desc_user_addr', type: 'u64', offset: 16 },
      { name: 'no_such_member', type: 'u64', offset: 24 },
    ] as const);
    const reg: Registry = {
      constants: [
        { name: 'VHOST_VIRTIO', value: 0xae, module: 'test', headerOnly: true },
        { name: 'VDUSE_SET_STATUS', value: 7, module: 'test', headerOnly: true },
        { name: 'VHOST_FILE_UNBIND', value: -1, module: 'test', headerOnly: true },
        { name: 'VHOST_NO_SUCH_MACRO', value: 1, module: 'test', headerOnly: true },
        { name: 'VIRTIO_NO_SUCH_FEATURE', value: 1, module: 'test', headerOnly: false },
      ],
      structs: [
        { key: 'test:wrongAddr', module: 'test', exportName: 'wrongAddr', spec: wrongAddr },
        { key: 'test:ghost', module: 'test', exportName: 'ghost', spec: defineStruct('vhost_no_such_struct', 4, [{ name: 'x', type: 'u32', offset: 0 }] as const) },
      ],
      notUapi: {},
    };
    const { mismatches, notInHeaders, counts } = compareWithHeaders(reg, readHeaderFacts(reg));
    expect(mismatches).toEqual([
      'VHOST_VIRTIO: spec 174, header 175 (macro)',
      'VDUSE_SET_STATUS: spec 7, header 1 (enumerator)',
      'VHOST_NO_SUCH_MACRO (test): not defined by the headers',
      'struct vhost_vring_addr (test:wrongAddr): size spec 48, header 40',
      'struct vhost_vring_addr (test:wrongAddr).flags: size spec 2, header 4',
      'struct vhost_vring_addr (test:wrongAddr).desc_user_addr: offset spec 16, header 8',
      'struct vhost_vring_addr (test:wrongAddr).no_such_member: no such member in the headers',
      'struct vhost_no_such_struct (test:ghost): no such struct in the headers (mark it in NOT_UAPI_STRUCTS if intended)',
    ]);
    expect(notInHeaders).toEqual(['VIRTIO_NO_SUCH_FEATURE']);
    expect(counts).toEqual({ constants: 3, structs: 1, offsets: 3 });
  });

  it('the comparison reports every kind of mismatch (no compiler needed)', () => {
    const t = defineStruct('vhost_vring_state', 8, [
      { name: 'index', type: 'u32', offset: 0 },
      { name: 'num', type: 'u32', offset: 4 },
    ] as const);
    const reg: Registry = {
      constants: [
        { name: 'A', value: 1, module: 'm', headerOnly: true },
        { name: 'B', value: 2n ** 63n, module: 'm', headerOnly: true },
        { name: 'C', value: 0.5, module: 'm', headerOnly: true },
      ],
      structs: [
        { key: 'm:t', module: 'm', exportName: 't', spec: t },
        { key: 'm:marked', module: 'm', exportName: 'marked', spec: defineStruct('private_layout', 2, [] as const) },
      ],
      notUapi: { private_layout: 'suite-internal' },
    };
    const facts: HeaderFacts = {
      constants: new Map([
        ['A', { value: 2n, kind: 'macro' as const }],
        ['B', { value: 2n ** 63n, kind: 'macro' as const }],
        ['C', { value: 0n, kind: 'macro' as const }],
      ]),
      structSizes: new Map([['m:t', 8], ['m:marked', 2]]),
      fields: new Map([['m:t#index', { offset: 0, size: 4 }], ['m:t#num', { offset: 2, size: 2 }]]),
    };
    expect(compareWithHeaders(reg, facts).mismatches).toEqual([
      'A: spec 1, header 2 (macro)',
      'C: spec value 0.5 is not an integer',
      'struct vhost_vring_state (m:t).num: offset spec 4, header 2',
      'struct vhost_vring_state (m:t).num: size spec 4, header 2',
      'struct private_layout (m:marked): marked not-UAPI in NOT_UAPI_STRUCTS but the headers define it',
    ]);
  });
});

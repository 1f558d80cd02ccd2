// The shape of a saved case's steps (properties/steps.ts) as JSON, checked
// before a replay touches a target: a step of an unknown kind or a field of the
// wrong type is the file's fault and must say so, not replay as "0 passed".
// Fields a newer generator added and this one does not know are let through;
// a file from an incompatible format is refused by its `format` number.
import { CHAIN_DEFECTS } from '../model/chain.ts';
import { RAW_CASE_KINDS } from '../properties/raw/rawCases.ts';

/** A field's type; a trailing `?` makes it optional. */
type FieldType = 'int' | 'ints' | 'bool' | 'string' | 'big' | 'bytes' | 'layout' | 'region' | 'regions' | 'req' | 'raw' | 'defect' | 'hostileAddr' | 'iotlbRegion';
type Shape = Readonly<Record<string, `${FieldType}` | `${FieldType}?`>>;

const LAYOUT: Shape = { cuts: 'ints', indirect: 'bool', crossRegion: 'bool', atRegionEnd: 'bool?', straddlePage: 'bool?' };
const REGION: Shape = { gpa: 'big', size: 'big', uaddr: 'big' };

const STEPS: Readonly<Record<string, Shape>> = {
  setup: { packed: 'bool', eventIdx: 'bool', indirect: 'bool', inOrder: 'bool', platform: 'bool', num: 'int', base: 'int?', enableRings: 'bool?', memSlots: 'bool?', log: 'bool?' },
  control: { req: 'req' },
  blk: { queue: 'int', type: 'int', sector: 'big', data: 'bytes', readLen: 'int', layout: 'layout' },
  netTx: { frame: 'bytes', layout: 'layout' },
  netRx: { size: 'int', layout: 'layout' },
  hostile: { queue: 'int', defect: 'defect?', addr: 'hostileAddr?', zeroLen: 'bool?', outAfterIn: 'bool?', indirect: 'bool' },
  kick: { queue: 'int' },
  notifyMode: { queue: 'int', suppress: 'bool', eventOffset: 'int' },
  runaway: { queue: 'int', extra: 'int' },
  stopRing: { queue: 'int' },
  restartRing: { queue: 'int' },
  enableRing: { queue: 'int', enable: 'bool' },
  reset: {},
  churn: { queue: 'int', count: 'int' },
  repeatGetInflight: { numQueues: 'int', queueSize: 'int', count: 'int' },
  raw: { frame: 'raw' },
  unmapIotlb: { region: 'iotlbRegion' },
  remapIotlb: { region: 'int', perm: 'int' },
  memSlot: { region: 'int', add: 'bool' },
  // A kernel suite's own fields are checked by that suite when it runs the step.
  kernel: { op: 'string' },
};

const VRING_FD: Shape = { index: 'int', invalid: 'bool?' };
const REQUESTS: Readonly<Record<string, Shape>> = {
  getFeatures: {},
  setFeatures: { features: 'big' },
  getProtocolFeatures: {},
  setProtocolFeatures: { features: 'big' },
  setOwner: {},
  resetDevice: {},
  getQueueNum: {},
  setMemTable: { regions: 'regions' },
  setVringNum: { index: 'int', num: 'int' },
  setVringAddr: { index: 'int', flags: 'int', desc: 'big', used: 'big', avail: 'big', log: 'big' },
  setVringBase: { index: 'int', base: 'int' },
  getVringBase: { index: 'int' },
  setVringKick: VRING_FD,
  setVringCall: VRING_FD,
  setVringErr: VRING_FD,
  setVringEnable: { index: 'int', enable: 'bool' },
  getConfig: { offset: 'int', size: 'int' },
  setConfig: { offset: 'int', data: 'bytes', flags: 'int' },
  setStatus: { status: 'int' },
  getStatus: {},
  iotlbUpdate: { iova: 'big', size: 'big', uaddr: 'big', perm: 'int' },
  iotlbInvalidate: { iova: 'big', size: 'big' },
  getMaxMemSlots: {},
  addMemReg: { region: 'region' },
  remMemReg: { region: 'region' },
  setLogBase: { size: 'big', offset: 'big' },
  setLogFd: {},
  getInflightFd: { numQueues: 'int', queueSize: 'int' },
  setInflightFd: { numQueues: 'int', queueSize: 'int', withFd: 'bool' },
};

const RAW: Shape = { kind: 'string', bytes: 'string', fds: 'int', requirement: 'string', description: 'string', mustRefuse: 'bool' };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Why `json` is not an array of steps ("step 3 (kick): queue must be an integer"), or undefined when it is. */
export function stepsProblem(json: unknown): string | undefined {
  if (!Array.isArray(json)) return 'steps must be an array';
  if (json.length === 0) return 'steps must not be empty';
  for (const [i, step] of json.entries()) {
    const where = `step ${i + 1}`;
    if (!isObject(step) || typeof step.t !== 'string') return `${where}: not a step (an object with a kind "t")`;
    const shape = Object.hasOwn(STEPS, step.t) ? STEPS[step.t] : undefined;
    if (!shape) return `${where}: unknown step kind '${step.t}' (known: ${Object.keys(STEPS).join(', ')})`;
    const problem = shapeProblem(step, shape);
    if (problem) return `${where} (${step.t}): ${problem}`;
  }
  return undefined;
}

function shapeProblem(value: Record<string, unknown>, shape: Shape): string | undefined {
  for (const [field, spec] of Object.entries(shape)) {
    const optional = spec.endsWith('?');
    const type = (optional ? spec.slice(0, -1) : spec) as FieldType;
    if (!Object.hasOwn(value, field) || value[field] === undefined) {
      if (optional) continue;
      return `missing field '${field}'`;
    }
    const problem = fieldProblem(value[field], type);
    if (problem) return `'${field}' ${problem}`;
  }
  return undefined;
}

function fieldProblem(v: unknown, type: FieldType): string | undefined {
  switch (type) {
    case 'int':
      return Number.isSafeInteger(v) ? undefined : 'must be an integer';
    case 'ints':
      return Array.isArray(v) && v.every(Number.isSafeInteger) ? undefined : 'must be a list of integers';
    case 'bool':
      return typeof v === 'boolean' ? undefined : 'must be true or false';
    case 'string':
      return typeof v === 'string' ? undefined : 'must be a string';
    case 'big':
      return isObject(v) && typeof v.$big === 'string' && /^(0x[0-9a-fA-F]+|\d+)$/.test(v.$big) ? undefined : 'must be {"$big": "0x…"}';
    case 'bytes':
      return isObject(v) && typeof v.$hex === 'string' && /^([0-9a-fA-F]{2})*$/.test(v.$hex) ? undefined : 'must be {"$hex": "…"} with an even number of hex digits';
    case 'layout':
      return isObject(v) ? shapeProblem(v, LAYOUT) : 'must be a layout object';
    case 'region':
      return isObject(v) ? shapeProblem(v, REGION) : 'must be a memory region {gpa, size, uaddr}';
    case 'regions':
      if (!Array.isArray(v)) return 'must be a list of memory regions';
      for (const r of v) {
        const problem = fieldProblem(r, 'region');
        if (problem) return problem;
      }
      return undefined;
    case 'req': {
      if (!isObject(v) || typeof v.op !== 'string') return 'must be a request with an "op"';
      const shape = Object.hasOwn(REQUESTS, v.op) ? REQUESTS[v.op] : undefined;
      if (!shape) return `names an unknown request '${v.op}'`;
      const problem = shapeProblem(v, shape);
      return problem && `(${v.op}): ${problem}`;
    }
    case 'raw':
      if (!isObject(v)) return 'must be a raw frame object';
      if (!(RAW_CASE_KINDS as readonly unknown[]).includes(v.kind)) return `has an unknown kind '${String(v.kind)}'`;
      if (typeof v.bytes !== 'string' || !/^([0-9a-f]{2})*$/.test(v.bytes)) return "'bytes' must be lowercase hex";
      return shapeProblem(v, RAW);
    case 'defect':
      return (CHAIN_DEFECTS as readonly unknown[]).includes(v) ? undefined : `must be one of ${CHAIN_DEFECTS.join(', ')}`;
    case 'hostileAddr':
      return ['unmapped', 'tail-unmapped', 'overflow'].includes(v as string) ? undefined : 'must be unmapped, tail-unmapped or overflow';
    case 'iotlbRegion':
      return Number.isSafeInteger(v) || ['all', 'span', 'all-but-rings'].includes(v as string) ? undefined : 'must be a region number, all, span or all-but-rings';
  }
}

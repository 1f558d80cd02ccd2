// One VDUSE case in the guest: the suite plays the device (/dev/vduse/control,
// /dev/vduse/$NAME) and the driver (/dev/vhost-vdpa-N of the same device),
// runs each step against the kernel, and asks the model (model/kernel/vduse.ts)
// what the kernel's answers mean. Whatever makes the kernel wait for the device
// (SET_STATUS, GET_VRING_BASE, IOTLB updates, opening and closing vhost-vdpa)
// runs CONCURRENT in the agent while `serve` reads and answers the requests.
// A step that cannot run in the current state (no device, node closed) does
// nothing and records nothing. close() undoes everything the case made.
import { decode, encode } from '../../../spec/codec.ts';
import { vduse_iotlb_entry, vduse_iova_info, vduse_vq_info__split, VDUSE_GET_VQ_STATE, VDUSE_REQ_RESULT_FAILED, VDUSE_REQ_RESULT_OK, VDUSE_SET_STATUS, VDUSE_UPDATE_IOTLB } from '../../../spec/vduse/types.ts';
import { VHOST_BACKEND_F_IOTLB_MSG_V2, VHOST_IOTLB_INVALIDATE, VHOST_IOTLB_MSG_V2, VHOST_IOTLB_UPDATE, vhost_msg_v2 } from '../../../spec/vhost/types.ts';
import { VIRTIO_ID_BLOCK } from '../../../spec/virtio/blk.ts';
import { VIRTIO_ID_NET, VIRTIO_NET_F_MAC, VIRTIO_NET_F_MTU, VIRTIO_NET_F_STATUS } from '../../../spec/virtio/net.ts';
import { bit, VIRTIO_F_ACCESS_PLATFORM, VIRTIO_F_RING_PACKED, VIRTIO_F_VERSION_1 } from '../../../spec/virtio/features.ts';
import { type AgentClient, type AgentReply, errnoName, GuestFlags } from '../../../implementations/guest/agent.ts';
import { Op, body } from '../../../implementations/guest/protocol.ts';
import { decodeRequest, encodePackedResponse, encodeResponse, nameBytes, readNow, type VduseRequest } from '../../../implementations/guest/vduse.ts';
import { agentIoctl, ioctlInfo, type IoctlArgValue, type IoctlOutcome } from '../../../implementations/guest/vhostIoctl.ts';
import * as M from '../../../model/kernel/vduse.ts';
import type { KernelCase, KernelContext, KernelObservation, KernelStep } from '../types.ts';
import { blkRoundTrip, type RingCursor, type RoundTripIo } from './blkRoundTrip.ts';
import type { VduseStep } from './steps.ts';

/** x86_64 and asm-generic fcntl.h. */
const O_WRONLY = 0o1;
const O_NONBLOCK = 0o4000;
/** The driver's memory: a memfd mapped MAP_SHARED (vhost_vdpa_va_map() maps only shared file mappings; VDUSE is a use_va parent). */
export const DRIVER_PAGES = 16;
const PAGE = 4096;
/** msg_timeout (s) the case gives its device when the kernel lets it (the sysfs attribute of vduse_dev.c): a lost reply costs this, not 30 s. */
const CASE_MSG_TIMEOUT_S = 5;
/** msg_timeout for the one step that leaves a request unanswered on purpose. */
const SHORT_MSG_TIMEOUT_S = 1;
/** How long an expected eventfd signal may take (a kernel workqueue under TCG). */
const SIGNAL_WAIT_MS = 600;
/** How long a notification that must not come is watched for. */
const NO_SIGNAL_WAIT_MS = 60;
/** The agent's bound for a syscall that waits for the device's answers. */
const SERVED_TIMEOUT_MS = (CASE_MSG_TIMEOUT_S + 5) * 1000;
/** How long a delayed answer waits (well within any msg_timeout). */
const LATE_ANSWER_MS = 150;
/** Largest vq count the driver side wires up eventfds for. */
const WIRED_VQS = 8;
/** A page-aligned user address nothing is mapped at (REG_UMEM is refused before it is touched). */
const UNMAPPED_UADDR = 0x7f00_0000_0000n;
/** VDUSE_BOUNCE_SIZE, the default bounce size REG_UMEM must match. */
const DEFAULT_BOUNCE = 64n << 20n;

export interface VduseCaseSettings {
  readonly deviceType: 'net' | 'blk';
  readonly model: M.VduseProfile;
  readonly msgTimeoutWritable: boolean;
  /** The kernel lets a net device be created (probe), for the config zero-fill step. */
  readonly netAllowed: boolean;
  /** Create driver memory for IOTLB steps. */
  readonly driverMemory: boolean;
}

/** How the device answers one request inside `serve`. */
interface Plan {
  readonly result: number;
  readonly avail?: number;
  readonly delayMs?: number;
  readonly garble?: boolean;
  /** Leave it unanswered. */
  readonly skip?: boolean;
  /** Answer GET_VQ_STATE with this packed state instead. */
  readonly packed?: M.PackedState;
}

interface Served<T> {
  readonly value: T;
  readonly requests: readonly VduseRequest[];
  readonly badWrites: { kind: M.BadResponse; r: M.Res<number> }[];
  goodWrite: M.Res<number> | null;
}

let caseSerial = 0;

/** A net device's offer for the zero-fill step: MAC, STATUS and MTU make the tool print every field past the mac. */
function validNetFeatures(): bigint {
  return bit(VIRTIO_F_VERSION_1) | bit(VIRTIO_F_ACCESS_PLATFORM) | bit(VIRTIO_NET_F_MAC) | bit(VIRTIO_NET_F_STATUS) | bit(VIRTIO_NET_F_MTU);
}

/** `vdpa -j dev config show NAME`: {"config":{NAME:{"mac":…,"link ":"up"|"down",…,"mtu":N}}} (iproute2 pads some keys with a space). */
function parseNetConfig(text: string, name: string): M.NetConfigShown | null {
  try {
    const fields = (JSON.parse(text) as { config?: Record<string, Record<string, unknown>> }).config?.[name];
    if (!fields) return null;
    const get = (key: string) => Object.entries(fields).find(([k]) => k.trim() === key)?.[1];
    const link = get('link');
    const mtu = get('mtu');
    return { ...(typeof link === 'string' ? { link } : {}), ...(typeof mtu === 'number' ? { mtu } : {}) };
  } catch {
    return null;
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function must(r: AgentReply, what: string): number {
  if (r.kind !== 'ok') throw new Error(`${what}: agent ${r.kind}`);
  return r.result;
}

function res(r: AgentReply, what: string): M.Res<number> {
  const n = must(r, what);
  return n < 0 ? { ok: false, errno: errnoName(n) } : { ok: true, value: n };
}

function ires(o: IoctlOutcome, what: string): M.Res<Buffer> {
  if (o.kind === 'ok') return { ok: true, value: o.out };
  if (o.kind === 'error') return { ok: false, errno: o.errno };
  throw new Error(`${what}: agent ${o.kind}`);
}

const unit = (r: M.Res<unknown>): M.Res => (r.ok ? { ok: true, value: null } : r);

/** The [start, last] of every UPDATE_IOTLB among `requests`. */
function updateRanges(requests: readonly VduseRequest[]): (readonly [bigint, bigint])[] {
  return requests.flatMap((q) => (q.type === VDUSE_UPDATE_IOTLB && 'start' in q ? [[q.start, q.last] as const] : []));
}

export class VduseCase implements KernelCase {
  #s: M.VduseState;
  readonly #agent: AgentClient;
  readonly #name = `vhc${process.pid % 10000}-${++caseSerial}`;
  #ctl = -1;
  #devFd = -1;
  readonly #created = new Set<string>();
  #attached = false;
  #vdpaFd = -1;
  #mem: { fd: number; addr: bigint; mirror: Buffer } | null = null;
  readonly #driverKick: number[] = [];
  readonly #driverCall: number[] = [];
  #configCall = -1;
  readonly #vduseKick = new Map<number, number>();
  readonly #settings: VduseCaseSettings;
  /** The device's own mapping of the driver memory (IOTLB_GET_FD of iova 0), dropped whenever the IOTLB changes. */
  #deviceView: { fd: number; addr: bigint } | null = null;
  /** Ring indices of the blk round trips, reset with the vq. */
  #cursor: RingCursor | null = null;
  /** The suite-as-device's RAM disk, by sector. */
  readonly #disk = new Map<number, Buffer>();

  private constructor(ctx: KernelContext, settings: VduseCaseSettings) {
    this.#agent = ctx.machine.agent;
    this.#settings = settings;
    this.#s = M.initialVduseState(settings.model);
  }

  static async open(ctx: KernelContext, settings: VduseCaseSettings): Promise<VduseCase> {
    const c = new VduseCase(ctx, settings);
    c.#ctl = must(await c.#agent.open('/dev/vduse/control', GuestFlags.O_RDWR), 'open /dev/vduse/control');
    if (c.#ctl < 0) throw new Error(`cannot open /dev/vduse/control: ${errnoName(c.#ctl)}`);
    if (settings.driverMemory) {
      const fd = must(await c.#agent.memfd(BigInt(DRIVER_PAGES * PAGE)), 'memfd');
      const m = await c.#agent.mmap(fd, BigInt(DRIVER_PAGES * PAGE));
      if (m.kind !== 'ok' || m.result < 0) throw new Error('mmap of the driver memfd failed in the guest');
      const mirror = Buffer.alloc(DRIVER_PAGES * PAGE);
      for (let i = 0; i < mirror.length; i++) mirror[i] = (i * 7 + (i >> 12) * 13 + 1) & 0xff;
      const addr = m.body.readBigUInt64LE(0);
      must(await c.#agent.memWrite(addr, mirror), 'fill driver memory');
      c.#mem = { fd, addr, mirror };
    }
    return c;
  }

  /** The model's state (tests read it to build fabricated answers). */
  get state(): M.VduseState {
    return this.#s;
  }

  async exec(k: KernelStep): Promise<readonly KernelObservation[]> {
    const step = k as VduseStep;
    const findings = await this.#run(step);
    return findings.map((x) => ({ requirement: x.requirement, verdict: x.verdict, detail: x.detail, expected: x.expected, trigger: `kernel:${step.op}/${x.verdict === 'PASS' ? 'pass' : 'deviation'}` }));
  }

  async finish(): Promise<readonly KernelObservation[]> {
    return [];
  }

  #apply(j: M.Judged): readonly M.Finding[] {
    this.#s = j.next;
    return j.findings;
  }

  #ctlIoctl(name: string, arg?: IoctlArgValue): Promise<IoctlOutcome> {
    return agentIoctl(this.#agent, this.#ctl, ioctlInfo(name), arg);
  }
  async #dev(name: string, arg?: IoctlArgValue): Promise<M.Res<Buffer>> {
    return ires(await agentIoctl(this.#agent, this.#devFd, ioctlInfo(name), arg), name);
  }
  #vdpa(name: string, arg?: IoctlArgValue): Promise<IoctlOutcome> {
    return agentIoctl(this.#agent, this.#vdpaFd, ioctlInfo(name), arg, { concurrent: true, timeoutMs: SERVED_TIMEOUT_MS });
  }

  /** Answers the kernel's requests with `plan` until `work` settles. */
  async #serve<T>(work: Promise<T>, plan: (req: VduseRequest) => Plan = () => ({ result: VDUSE_REQ_RESULT_OK })): Promise<Served<T>> {
    let settled = false;
    const done = work.finally(() => {
      settled = true;
    });
    const out: Served<T> = { value: undefined as T, requests: [], badWrites: [], goodWrite: null };
    const requests: VduseRequest[] = [];
    // Most driver-side ioctls never reach the device: do not spend a poll on them.
    await Promise.race([done, sleep(2)]);
    while (!settled && this.#devFd >= 0) {
      const r = await this.#agent.read(this.#devFd, M.VDUSE_MSG_SIZE, 5);
      const n = must(r, 'reading /dev/vduse/$NAME');
      if (n < 0) {
        const e = errnoName(n);
        if (e === 'ETIMEDOUT' || e === 'EAGAIN' || e === 'EWOULDBLOCK') continue;
        throw new Error(`reading /dev/vduse/$NAME: ${e}`);
      }
      const req = decodeRequest((r as { body: Buffer }).body);
      requests.push(req);
      const p = plan(req);
      if (p.skip) continue;
      if (p.delayMs) await sleep(p.delayMs);
      if (p.garble) {
        for (const kind of ['short', 'reserved', 'unknown-id'] as const) out.badWrites.push({ kind, r: await this.#writeBad(kind, req.requestId) });
      }
      const vq = 'vq' in req ? req.vq : 0;
      const bytes = p.packed && req.type === VDUSE_GET_VQ_STATE ? encodePackedResponse(req.requestId, vq, p.packed) : encodeResponse(req.requestId, p.result, vq, p.avail ?? 0);
      out.goodWrite = res(await this.#agent.write(this.#devFd, bytes), 'write response');
    }
    return { ...out, value: await done, requests };
  }

  async #writeBad(kind: M.BadResponse, requestId: number): Promise<M.Res<number>> {
    const reserved = new Uint8Array(16);
    if (kind === 'reserved') reserved[0] = 1;
    const bytes = kind === 'short' ? encodeResponse(requestId, VDUSE_REQ_RESULT_OK).subarray(0, 100) : encodeResponse(kind === 'unknown-id' ? (requestId ^ 0x40000000) >>> 0 : requestId, VDUSE_REQ_RESULT_OK, 0, 0, reserved);
    return res(await this.#agent.write(this.#devFd, bytes), 'write a malformed response');
  }

  async #writeSysfs(path: string, text: string): Promise<boolean> {
    const fd = must(await this.#agent.open(path, O_WRONLY), `open ${path}`);
    if (fd < 0) return false;
    const w = must(await this.#agent.write(fd, Buffer.from(text)), `write ${path}`);
    await this.#agent.closeFd(fd);
    return w >= 0;
  }

  async #eventfd(): Promise<number> {
    const fd = must(await this.#agent.eventfd(0, GuestFlags.EFD_NONBLOCK), 'eventfd');
    if (fd < 0) throw new Error(`eventfd: ${errnoName(fd)}`);
    return fd;
  }

  /** Waits up to `ms` for `fd` to be signalled, consuming the count. */
  async #signalled(fd: number, ms: number): Promise<boolean> {
    const r = await this.#agent.eventfdWait(fd, ms);
    return must(r, 'eventfd wait') >= 0;
  }

  #hasDev(): boolean {
    return this.#s.dev !== null && this.#devFd >= 0;
  }
  /** The driver side can act: attached, vhost-vdpa open, and the device node open to answer. */
  #driverReady(): boolean {
    return this.#s.dev !== null && this.#vdpaFd >= 0 && this.#devFd >= 0;
  }

  async #run(step: VduseStep): Promise<readonly M.Finding[]> {
    const s = this.#s;
    switch (step.op) {
      case 'getApiVersion': {
        const r = ires(await this.#ctlIoctl('VDUSE_GET_API_VERSION'), step.op);
        return this.#apply(M.judgeGetApiVersion(s, r.ok ? { ok: true, value: r.value.readBigUInt64LE(0) } : r));
      }
      case 'setApiVersion':
        return this.#apply(M.judgeSetApiVersion(s, step.version, unit(ires(await this.#ctlIoctl('VDUSE_SET_API_VERSION', step.version), step.op))));
      case 'create':
        return this.#create(step);
      case 'createLongName':
        return this.#createLongName();
      case 'destroy': {
        const name = step.known ? this.#name : `${this.#name}-none`;
        const r = unit(ires(await this.#ctlIoctl('VDUSE_DESTROY_DEV', { value: {}, trailing: nameBytes(name) }), step.op));
        if (r.ok && step.known) {
          this.#created.delete(name);
          // Destroyed under our feet (a finding of its own when they were still open): the device is gone, its fds are only fds.
          for (const fd of [this.#devFd, this.#vdpaFd]) if (fd >= 0) await this.#agent.closeFd(fd);
          this.#devFd = -1;
          this.#vdpaFd = -1;
          this.#attached = false;
        }
        return this.#apply(M.judgeDestroy(s, step.known, r));
      }
      case 'openDev': {
        const fd = res(await this.#agent.open(`/dev/vduse/${this.#name}`, GuestFlags.O_RDWR | O_NONBLOCK), step.op);
        const j = M.judgeOpenDev(s, unit(fd));
        if (fd.ok) {
          if (this.#devFd < 0 && s.dev && !s.dev.fdOpen) this.#devFd = fd.value;
          else await this.#agent.closeFd(fd.value);
        }
        return this.#apply(j);
      }
      case 'netConfigShow':
        return this.#settings.netAllowed ? this.#netConfigShow(step.config) : [];
      case 'closeDev':
        if (this.#devFd < 0) return [];
        await this.#agent.closeFd(this.#devFd);
        this.#devFd = -1;
        this.#s = M.closeDev(s);
        return [];
      default:
        return this.#hasDev() ? this.#deviceStep(step) : [];
    }
  }

  async #create(step: Extract<VduseStep, { op: 'create' }>): Promise<readonly M.Finding[]> {
    const s = this.#s;
    const reserved = new Uint8Array(52);
    if (step.reservedWord >= 0) reserved[step.reservedWord * 4] = 1;
    const name = step.emptyName ? '' : this.#name;
    const r = unit(
      ires(
        await this.#ctlIoctl('VDUSE_CREATE_DEV', {
          value: { name: nameBytes(name), vendor_id: 0, device_id: step.deviceId, features: step.features, vq_num: step.vqNum, vq_align: step.vqAlign, reserved, config_size: step.config.length },
          trailing: step.config,
        }),
        'VDUSE_CREATE_DEV',
      ),
    );
    if (r.ok) {
      this.#created.add(name);
      if (!step.emptyName && this.#settings.msgTimeoutWritable) await this.#writeSysfs(`/sys/class/vduse/${name}/msg_timeout`, `${CASE_MSG_TIMEOUT_S}`);
    }
    const cfg: M.CreateConfig = { emptyName: step.emptyName, deviceId: step.deviceId, features: step.features, vqNum: step.vqNum, vqAlign: step.vqAlign, configSize: step.config.length, reservedWord: step.reservedWord };
    return this.#apply(M.judgeCreate(s, cfg, [...step.config], this.#settings.model.pageSize, r));
  }

  async #createLongName(): Promise<readonly M.Finding[]> {
    const long = this.#name.padEnd(256, 'L');
    const cut = long.slice(0, 255);
    const create = unit(
      ires(
        await this.#ctlIoctl('VDUSE_CREATE_DEV', {
          value: { name: nameBytes(long, true), vendor_id: 0, device_id: VIRTIO_ID_BLOCK, features: bit(VIRTIO_F_VERSION_1) | bit(VIRTIO_F_ACCESS_PLATFORM), vq_num: 1, vq_align: PAGE, reserved: new Uint8Array(52), config_size: 8 },
          trailing: new Uint8Array(8),
        }),
        'VDUSE_CREATE_DEV',
      ),
    );
    if (!create.ok) return M.judgeLongName(create, false, create);
    this.#created.add(cut);
    const dir = await this.#agent.readdir('/dev/vduse');
    const found = dir.names?.includes(cut) ?? false;
    const destroyed = unit(ires(await this.#ctlIoctl('VDUSE_DESTROY_DEV', { value: {}, trailing: nameBytes(cut) }), 'VDUSE_DESTROY_DEV'));
    if (destroyed.ok) this.#created.delete(cut);
    return M.judgeLongName(create, found, destroyed);
  }

  /** A net device of its own, attached, its config read whole by the vdpa tool, then taken down again. */
  async #netConfigShow(config: Uint8Array): Promise<readonly M.Finding[]> {
    const a = this.#agent;
    const name = `${this.#name}-n`;
    const created = ires(
      await this.#ctlIoctl('VDUSE_CREATE_DEV', {
        value: { name: nameBytes(name), vendor_id: 0, device_id: VIRTIO_ID_NET, features: validNetFeatures(), vq_num: 2, vq_align: this.#settings.model.pageSize, reserved: new Uint8Array(52), config_size: config.length },
        trailing: config,
      }),
      'VDUSE_CREATE_DEV',
    );
    if (!created.ok) return [];
    this.#created.add(name);
    const saved = this.#devFd;
    const fd = must(await a.open(`/dev/vduse/${name}`, GuestFlags.O_RDWR | O_NONBLOCK), 'open');
    let shown: M.NetConfigShown | null = null;
    try {
      if (fd < 0) return [];
      this.#devFd = fd;
      for (const index of [0, 1]) await this.#dev('VDUSE_VQ_SETUP', { value: { index, max_size: 64, reserved: new Uint8Array(26) } });
      const add = await this.#serve(a.vdpa(['dev', 'add', 'name', name, 'mgmtdev', 'vduse'], { concurrent: true, timeoutMs: SERVED_TIMEOUT_MS }));
      if (add.value.kind !== 'ok' || add.value.result !== 0) return [];
      const show = await this.#serve(a.vdpa(['-j', 'dev', 'config', 'show', name], { concurrent: true, timeoutMs: SERVED_TIMEOUT_MS }));
      if (show.value.kind === 'ok' && show.value.result === 0) shown = parseNetConfig(show.value.body.toString(), name);
      await this.#serve(a.vdpa(['dev', 'del', name], { concurrent: true, timeoutMs: SERVED_TIMEOUT_MS }));
    } finally {
      if (fd >= 0) await a.closeFd(fd);
      this.#devFd = saved;
      const gone = await this.#ctlIoctl('VDUSE_DESTROY_DEV', { value: {}, trailing: nameBytes(name) });
      if (gone.kind === 'ok') this.#created.delete(name);
    }
    return M.judgeNetConfigShow([...config], shown);
  }

  async #deviceStep(step: VduseStep): Promise<readonly M.Finding[]> {
    const s = this.#s;
    const d = s.dev!;
    switch (step.op) {
      case 'vqSetup': {
        const reserved = new Uint8Array(26);
        if (step.reserved) reserved[0] = 1;
        return this.#apply(M.judgeVqSetup(s, step, unit(await this.#dev('VDUSE_VQ_SETUP', { value: { index: step.index, max_size: step.maxSize, reserved } }))));
      }
      case 'vqGetInfo': {
        const r = await this.#dev('VDUSE_VQ_GET_INFO', { value: { index: step.index, num: 0, desc_addr: 0n, driver_addr: 0n, device_addr: 0n, split_avail_index: 0, ready: 0 } });
        const info: M.Res<M.VqInfo> = r.ok ? (({ num, desc_addr, driver_addr, device_addr, split_avail_index, ready }) => ({ ok: true as const, value: { num, desc: desc_addr, driver: driver_addr, device: device_addr, avail: split_avail_index, ready: ready !== 0 } }))(decode(vduse_vq_info__split, r.value)) : r;
        return this.#apply(M.judgeVqGetInfo(s, step.index, info));
      }
      case 'setConfig':
        return this.#apply(M.judgeSetConfig(s, step.offset, [...step.bytes], unit(await this.#dev('VDUSE_DEV_SET_CONFIG', { value: { offset: step.offset, length: step.bytes.length }, trailing: step.bytes }))));
      case 'injectConfigIrq': {
        const watch = this.#configCall >= 0 && d.configCall;
        if (watch) await this.#signalled(this.#configCall, 0);
        const r = unit(await this.#dev('VDUSE_DEV_INJECT_CONFIG_IRQ'));
        const signalled = watch && r.ok ? await this.#signalled(this.#configCall, SIGNAL_WAIT_MS) : null;
        return this.#apply(M.judgeInjectConfigIrq(s, r, signalled));
      }
      case 'vqInjectIrq': {
        const vq = d.vqs[step.index];
        const call = vq?.call ? this.#driverCall[step.index] : undefined;
        if (call !== undefined) await this.#signalled(call, 0);
        const r = unit(await this.#dev('VDUSE_VQ_INJECT_IRQ', step.index));
        const signalled = call === undefined ? null : await this.#signalled(call, vq!.ready && d.status & 4 && r.ok ? SIGNAL_WAIT_MS : NO_SIGNAL_WAIT_MS);
        return this.#apply(M.judgeVqInjectIrq(s, step.index, r, signalled));
      }
      case 'setupKickfd':
        return this.#setupKickfd(step.index, step.arg);
      case 'getFeatures': {
        const r = await this.#dev('VDUSE_DEV_GET_FEATURES');
        return this.#apply(M.judgeGetFeatures(s, r.ok ? { ok: true, value: r.value.readBigUInt64LE(0) } : r));
      }
      case 'iotlbGetFd':
        return this.#iotlbGetFd(step.start, step.last);
      case 'iotlbGetInfo': {
        const reserved = new Uint8Array(24);
        if (step.reserved) reserved[0] = 1;
        const r = await this.#dev('VDUSE_IOTLB_GET_INFO', { value: { start: step.start, last: step.last, capability: 0n, reserved } });
        const v = r.ok ? decode(vduse_iova_info, r.value) : null;
        return this.#apply(M.judgeIotlbGetInfo(s, step.start, step.last, step.reserved, r.ok ? { ok: true, value: { start: v!.start, last: v!.last } } : r));
      }
      case 'regUmem': {
        const reserved = new Uint8Array(24);
        if (step.fault === 'reserved') reserved[0] = 1;
        const uaddr = this.#mem?.addr ?? UNMAPPED_UADDR;
        const arg = { uaddr: step.fault === 'unaligned' ? uaddr + 1n : uaddr, iova: step.fault === 'iova' ? BigInt(PAGE) : 0n, size: step.fault === 'size' ? BigInt(PAGE) : DEFAULT_BOUNCE, reserved };
        const r = unit(await this.#dev('VDUSE_IOTLB_REG_UMEM', { value: arg }));
        if (r.ok) await this.#dev('VDUSE_IOTLB_DEREG_UMEM', { value: { ...arg, reserved: new Uint8Array(24) } });
        return this.#apply(M.judgeRegUmem(s, step.fault, r));
      }
      case 'readShort':
        return [M.judgeShortRead(step.len, await this.#readNow(step.len))];
      case 'readEmpty':
        return [M.judgeEmptyRead(await this.#readNow(M.VDUSE_MSG_SIZE))];
      case 'writeBad':
        return [M.judgeBadResponse(step.kind, await this.#writeBad(step.kind, 0x3ffffff0))];
      case 'attach':
        return this.#attach();
      case 'detach':
        return this.#detach();
      case 'openVdpa':
        return this.#openVdpa();
      case 'closeVdpa':
        if (this.#vdpaFd < 0) return [];
        await this.#closeVdpa();
        return [];
      default:
        return this.#driverReady() ? this.#driverStep(step) : [];
    }
  }

  /** A read with no poll first; a request that was waiting after all is answered OK, so the kernel never waits on it. */
  async #readNow(len: number): Promise<M.Res<number>> {
    const r = await readNow(this.#agent, this.#devFd, len);
    const n = must(r, 'read /dev/vduse/$NAME');
    if (n < 0) return { ok: false, errno: errnoName(n) };
    const req = decodeRequest((r as { body: Buffer }).body);
    await this.#agent.write(this.#devFd, encodeResponse(req.requestId, VDUSE_REQ_RESULT_OK, 'vq' in req ? req.vq : 0));
    return { ok: true, value: req.type };
  }

  async #setupKickfd(index: number, arg: M.KickfdArg): Promise<readonly M.Finding[]> {
    const s = this.#s;
    const d = s.dev!;
    const fresh = arg === 'eventfd' ? await this.#eventfd() : -1;
    const fd = arg === 'eventfd' ? fresh : arg === 'deassign' ? -1 : arg === 'negative' ? -2 : this.#ctl;
    const r = unit(await this.#dev('VDUSE_VQ_SETUP_KICKFD', { value: { index, fd: fd >>> 0 } }));
    let signalled: boolean | null = null;
    if (arg === 'eventfd' && r.ok && index < d.vqNum) {
      const old = this.#vduseKick.get(index);
      if (old !== undefined) await this.#agent.closeFd(old);
      this.#vduseKick.set(index, fresh);
      if (d.vqs[index]!.kickPending && d.vqs[index]!.ready) signalled = await this.#signalled(fresh, SIGNAL_WAIT_MS);
    } else if (fresh >= 0) await this.#agent.closeFd(fresh);
    if (arg === 'deassign' && r.ok && index < d.vqNum) {
      const old = this.#vduseKick.get(index);
      if (old !== undefined) await this.#agent.closeFd(old);
      this.#vduseKick.delete(index);
    }
    return this.#apply(M.judgeSetupKickfd(s, index, arg, r, signalled));
  }

  /** VDUSE_IOTLB_GET_FD returns the new fd as the ioctl's value, so it is issued raw (agentIoctl keeps only the argument). */
  async #iotlbGetFd(start: bigint, last: bigint): Promise<readonly M.Finding[]> {
    const s = this.#s;
    const info = ioctlInfo('VDUSE_IOTLB_GET_FD');
    const r = await this.#agent.ioctl(this.#devFd, info.number, encode(vduse_iotlb_entry, { offset: 0n, start, last, perm: 0 }), info.size);
    const fd = must(r, 'VDUSE_IOTLB_GET_FD');
    if (fd < 0) return this.#apply(M.judgeIotlbGetFd(s, start, last, { ok: false, errno: errnoName(fd) }));
    const e = decode(vduse_iotlb_entry, (r as { body: Buffer }).body);
    const got = await this.#probeFd(fd, e);
    await this.#agent.closeFd(fd);
    return this.#apply(M.judgeIotlbGetFd(s, start, last, { ok: true, value: got }));
  }

  /** What the fd allows (mmap read, read-write) and whether both sides see the same bytes. */
  async #probeFd(fd: number, e: { offset: bigint; start: bigint; last: bigint; perm: number }): Promise<M.GetFdResult> {
    const len = BigInt(PAGE);
    const map = async (prot: number) => {
      const m = await this.#agent.mmap(fd, len, { prot, offset: e.offset });
      return must(m, 'mmap') >= 0 ? (m as { body: Buffer }).body.readBigUInt64LE(0) : null;
    };
    const ro = await map(GuestFlags.PROT_READ);
    const rw = await map(GuestFlags.PROT_READ | GuestFlags.PROT_WRITE);
    let dataMatches: boolean | null = null;
    let writeArrived: boolean | null = null;
    const mem = this.#mem;
    const off = Number(e.offset);
    if (mem && off + 16 <= mem.mirror.length && ro !== null) {
      const got = await this.#agent.memRead(ro, 16);
      dataMatches = got.kind === 'ok' && got.result >= 0 && got.body.equals(mem.mirror.subarray(off, off + 16));
    }
    if (mem && off + 16 <= mem.mirror.length && rw !== null && e.perm === 3) {
      const marker = Buffer.from([0xd0, 0x5e, off & 0xff, (off >> 8) & 0xff, 0xa5, 0x5a, 0x11, 0x22]);
      await this.#agent.memWrite(rw + 8n, marker);
      const got = await this.#agent.memRead(mem.addr + BigInt(off + 8), 8);
      writeArrived = got.kind === 'ok' && got.result >= 0 && got.body.equals(marker);
      marker.copy(mem.mirror, off + 8);
    }
    if (ro !== null) await this.#agent.munmap(ro, len);
    if (rw !== null) await this.#agent.munmap(rw, len);
    return { offset: e.offset, start: e.start, last: e.last, perm: e.perm, mapRead: ro !== null, mapWrite: rw !== null, dataMatches, writeArrived };
  }

  async #attach(): Promise<readonly M.Finding[]> {
    const s = this.#s;
    const add = await this.#serve(this.#agent.vdpa(['dev', 'add', 'name', this.#name, 'mgmtdev', 'vduse'], { concurrent: true, timeoutMs: SERVED_TIMEOUT_MS }));
    const ok = add.value.kind === 'ok' && add.value.result === 0;
    if (add.value.kind !== 'ok') throw new Error(`vdpa dev add: agent ${add.value.kind}`);
    if (ok) this.#attached = true;
    return this.#apply(M.judgeAttach(s, ok, add.value.body.toString().trim()));
  }

  async #detach(): Promise<readonly M.Finding[]> {
    if (!this.#attached) return [];
    if (this.#vdpaFd >= 0) await this.#closeVdpa();
    const del = await this.#serve(this.#agent.vdpa(['dev', 'del', this.#name], { concurrent: true, timeoutMs: SERVED_TIMEOUT_MS }));
    if (del.value.kind !== 'ok') throw new Error(`vdpa dev del: agent ${del.value.kind}`);
    if (del.value.result === 0) {
      this.#attached = false;
      this.#s = M.detach(this.#s);
    }
    return [];
  }

  async #openVdpa(): Promise<readonly M.Finding[]> {
    if (!this.#attached || this.#vdpaFd >= 0) return [];
    const dir = await this.#agent.readdir(`/sys/bus/vdpa/devices/${this.#name}`);
    const node = dir.names?.find((n) => /^vhost-vdpa-\d+$/.test(n));
    if (!node) return [];
    const opened = await this.#serve(this.#agent.open(`/dev/${node}`, GuestFlags.O_RDWR, { concurrent: true, timeoutMs: SERVED_TIMEOUT_MS }));
    const fd = must(opened.value, `open /dev/${node}`);
    if (fd < 0) return [];
    this.#vdpaFd = fd;
    this.#s = M.vdpaOpened(this.#s);
    // vhost_dev_ioctl() and the IOTLB path refuse everything (EPERM/EFAULT) until the driver owns the device.
    await this.#vdpa('VHOST_SET_OWNER');
    await this.#vdpa('VHOST_SET_BACKEND_FEATURES', bit(VHOST_BACKEND_F_IOTLB_MSG_V2));
    const vqs = Math.min(this.#s.dev!.vqNum, WIRED_VQS);
    for (let i = 0; i < vqs; i++) {
      this.#driverKick[i] ??= await this.#eventfd();
      await this.#vdpa('VHOST_SET_VRING_KICK', { value: { index: i, fd: this.#driverKick[i]! } });
    }
    return [];
  }

  async #closeVdpa(): Promise<void> {
    await this.#dropDeviceView();
    this.#cursor = null;
    const fd = this.#vdpaFd;
    this.#vdpaFd = -1;
    const served = await this.#serve(this.#agent.closeFd(fd, { concurrent: true, timeoutMs: SERVED_TIMEOUT_MS }));
    if (this.#s.dev) this.#s = M.vdpaClosed(this.#s, updateRanges(served.requests));
  }

  async #driverStep(step: VduseStep): Promise<readonly M.Finding[]> {
    const s = this.#s;
    const d = s.dev!;
    switch (step.op) {
      case 'setCalls': {
        const vqs = Math.min(d.vqNum, WIRED_VQS);
        const calls: boolean[] = [];
        for (let i = 0; i < vqs; i++) {
          this.#driverCall[i] ??= await this.#eventfd();
          calls.push((await this.#vdpa('VHOST_SET_VRING_CALL', { value: { index: i, fd: this.#driverCall[i]! } })).kind === 'ok');
        }
        if (this.#configCall < 0) this.#configCall = await this.#eventfd();
        const config = (await this.#vdpa('VHOST_VDPA_SET_CONFIG_CALL', this.#configCall)).kind === 'ok';
        this.#s = M.callsSet(s, calls, config);
        return [];
      }
      case 'setStatus':
        return this.#setStatus(step.status, step.answer);
      case 'setFeatures': {
        const r = await this.#serve(this.#vdpa('VHOST_SET_FEATURES', step.features));
        return this.#apply(M.judgeSetFeatures(s, step.features, unit(ires(r.value, step.op))));
      }
      case 'setVring': {
        const num = unit(ires((await this.#serve(this.#vdpa('VHOST_SET_VRING_NUM', { value: { index: step.index, num: step.num } }))).value, 'VHOST_SET_VRING_NUM'));
        const addr = unit(ires((await this.#serve(this.#vdpa('VHOST_SET_VRING_ADDR', { value: { index: step.index, flags: 0, desc_user_addr: step.desc, used_user_addr: step.device, avail_user_addr: step.driver, log_guest_addr: 0n } }))).value, 'VHOST_SET_VRING_ADDR'));
        const base = unit(ires((await this.#serve(this.#vdpa('VHOST_SET_VRING_BASE', { value: { index: step.index, num: step.base } }))).value, 'VHOST_SET_VRING_BASE'));
        this.#s = M.vringSet(s, step, num, addr, base);
        if (step.index === 0) this.#cursor = null;
        return [];
      }
      case 'enableVring': {
        const r = await this.#serve(this.#vdpa('VHOST_VDPA_SET_VRING_ENABLE', { value: { index: step.index, num: step.ready ? 1 : 0 } }));
        this.#s = M.vringEnabled(s, step.index, step.ready, unit(ires(r.value, step.op)));
        return [];
      }
      case 'kick': {
        const driverKick = this.#driverKick[step.index];
        if (driverKick === undefined) return [];
        const kickfd = this.#vduseKick.get(step.index);
        const watch = kickfd !== undefined && d.vqs[step.index]?.ready === true;
        if (watch) await this.#signalled(kickfd, 0);
        must(await this.#agent.eventfdSignal(driverKick), 'kick');
        const signalled = watch ? await this.#signalled(kickfd, SIGNAL_WAIT_MS) : null;
        return this.#apply(M.judgeKick(s, step.index, signalled));
      }
      case 'getVringBase': {
        const r = await this.#serve(this.#vdpa('VHOST_GET_VRING_BASE', { value: { index: step.index, num: 0 } }), (req) => ({ result: step.result === 'ok' ? VDUSE_REQ_RESULT_OK : VDUSE_REQ_RESULT_FAILED, avail: step.avail }));
        const out = ires(r.value, step.op);
        const messages = r.requests.filter((q) => q.type === VDUSE_GET_VQ_STATE).map((q) => ('vq' in q ? q.vq : -1));
        return this.#apply(M.judgeGetVringBase(s, step.index, step, messages, out.ok ? { ok: true, value: out.value.readUInt32LE(4) } : out));
      }
      case 'getVringBasePacked': {
        if (!(d.driverFeatures & bit(VIRTIO_F_RING_PACKED)) || !(d.features & bit(VIRTIO_F_RING_PACKED))) return [];
        const state = step.state as unknown as M.PackedState;
        const r = await this.#serve(this.#vdpa('VHOST_GET_VRING_BASE', { value: { index: step.index, num: 0 } }), () => ({ result: VDUSE_REQ_RESULT_OK, packed: state }));
        const out = ires(r.value, step.op);
        return this.#apply(M.judgeGetVringBasePacked(s, step.index, state, out.ok ? { ok: true, value: out.value.readUInt32LE(4) } : out));
      }
      case 'mapIotlb': {
        if (!this.#mem) return [];
        const size = BigInt(step.pages * PAGE);
        const o = await this.#iotlbWrite({ iotlb_iova: step.iova, iotlb_size: size, iotlb_uaddr: this.#mem.addr + BigInt(step.page * PAGE), iotlb_perm: step.perm, iotlb_type: VHOST_IOTLB_UPDATE }, step.answer);
        return this.#apply(M.judgeIotlbUpdate(s, { start: step.iova, last: step.iova + size - 1n, perm: step.perm, offset: BigInt(step.page * PAGE) }, step.answer, o));
      }
      case 'unmapIotlb': {
        const o = await this.#iotlbWrite({ iotlb_iova: step.iova, iotlb_size: step.size, iotlb_uaddr: 0n, iotlb_perm: 0, iotlb_type: VHOST_IOTLB_INVALIDATE }, step.answer);
        return this.#apply(M.judgeIotlbInvalidate(s, step.iova, step.iova + step.size - 1n, step.answer, o));
      }
      case 'driverConfigWrite': {
        await this.#serve(this.#vdpa('VHOST_VDPA_SET_CONFIG', { value: { off: step.offset, len: step.bytes.length }, trailing: step.bytes }));
        return this.#apply(M.judgeDriverConfigWrite(s, step.offset, await this.#readConfig(step.offset, step.bytes.length)));
      }
      case 'driverConfigRead':
        return this.#apply(M.judgeDriverConfigRead(s, step.offset, await this.#readConfig(step.offset, step.len)));
      case 'reconnect':
        return this.#reconnect();
      case 'blkRequest':
        return this.#blkRequest(step.write, step.sector, step.fill);
      default:
        return [];
    }
  }

  async #readConfig(offset: number, len: number): Promise<M.Res<readonly number[]>> {
    const r = ires((await this.#serve(this.#vdpa('VHOST_VDPA_GET_CONFIG', { value: { off: offset, len }, trailing: new Uint8Array(len) }))).value, 'VHOST_VDPA_GET_CONFIG');
    return r.ok ? { ok: true, value: [...r.value.subarray(8, 8 + len)] } : r;
  }

  /** One v2 IOTLB message on the vhost-vdpa fd, written CONCURRENT: the write waits for the device's UPDATE_IOTLB answer. */
  async #dropDeviceView(): Promise<void> {
    const v = this.#deviceView;
    this.#deviceView = null;
    if (!v) return;
    await this.#agent.munmap(v.addr, BigInt(DRIVER_PAGES * PAGE));
    await this.#agent.closeFd(v.fd);
  }

  async #iotlbWrite(msg: Omit<Parameters<typeof encode<typeof vhost_msg_v2>>[1], 'type' | 'asid'>, answer: 'ok' | 'failed'): Promise<M.IotlbUpdateObserved> {
    await this.#dropDeviceView();
    const bytes = encode(vhost_msg_v2, { type: VHOST_IOTLB_MSG_V2, asid: 0, ...msg });
    const served = await this.#serve(this.#agent.request(Op.write, body.write(this.#vdpaFd, bytes), SERVED_TIMEOUT_MS, true), () => ({ result: answer === 'ok' ? VDUSE_REQ_RESULT_OK : VDUSE_REQ_RESULT_FAILED }));
    return { write: res(served.value, 'IOTLB write'), messages: updateRanges(served.requests) };
  }

  async #setStatus(status: number, answer: M.Answer): Promise<readonly M.Finding[]> {
    const s = this.#s;
    const d = s.dev!;
    const none = answer === 'none' && this.#settings.msgTimeoutWritable && !d.broken;
    let actual: M.Answer = answer === 'none' && !none ? 'ok' : answer;
    if (actual !== 'none' && M.deviceRefusesStatus(d, status)) actual = 'failed';
    if (none) await this.#writeSysfs(`/sys/class/vduse/${this.#name}/msg_timeout`, `${SHORT_MSG_TIMEOUT_S}`);
    const plan = (req: VduseRequest): Plan => {
      if (req.type !== VDUSE_SET_STATUS) return { result: VDUSE_REQ_RESULT_OK };
      if (actual === 'none') return { result: VDUSE_REQ_RESULT_OK, skip: true };
      return { result: actual === 'failed' ? VDUSE_REQ_RESULT_FAILED : VDUSE_REQ_RESULT_OK, delayMs: actual === 'late' ? LATE_ANSWER_MS : 0, garble: actual === 'garbled' };
    };
    if (status === 0) this.#cursor = null;
    const served = await this.#serve(this.#vdpa('VHOST_VDPA_SET_STATUS', status), plan);
    const after = ires(await this.#vdpa('VHOST_VDPA_GET_STATUS'), 'VHOST_VDPA_GET_STATUS');
    const observed: M.SetStatusObserved = {
      ioctl: unit(ires(served.value, 'VHOST_VDPA_SET_STATUS')),
      messages: served.requests.filter((q) => q.type === VDUSE_SET_STATUS).map((q) => ('status' in q ? q.status : -1)),
      after: after.ok ? { ok: true, value: after.value.readUInt8(0) } : after,
      badWrites: served.badWrites,
      goodWrite: served.goodWrite,
    };
    const findings = [...this.#apply(M.judgeSetStatus(s, status, actual, observed))];
    // vhost-vdpa may refuse the status before VDUSE hears of it (clearing bits): then nothing timed out.
    if (none && !observed.messages.length) await this.#writeSysfs(`/sys/class/vduse/${this.#name}/msg_timeout`, `${CASE_MSG_TIMEOUT_S}`);
    if (none && observed.messages.length) {
      const ioctl = await this.#dev('VDUSE_VQ_GET_INFO', { value: { index: 0, num: 0, desc_addr: 0n, driver_addr: 0n, device_addr: 0n, split_avail_index: 0, ready: 0 } });
      // vduse_dev_poll() reports EPOLLERR on a broken device: the agent's poll then returns at once and read says EAGAIN, not ETIMEDOUT.
      const polled = must(await this.#agent.read(this.#devFd, M.VDUSE_MSG_SIZE, 0), 'poll');
      findings.push(...M.judgeBrokenAfterTimeout(ioctl, errnoName(polled) !== 'ETIMEDOUT'));
    }
    return findings;
  }

  async #reconnect(): Promise<readonly M.Finding[]> {
    const s = this.#s;
    const d = s.dev!;
    if (d.broken) return [];
    let first: VduseRequest | null = null;
    let again: VduseRequest | null = null;
    const work = this.#vdpa('VHOST_VDPA_SET_STATUS', d.status);
    const next = async (): Promise<VduseRequest | null> => {
      const r = await this.#agent.read(this.#devFd, M.VDUSE_MSG_SIZE, 2000);
      const n = must(r, 'reading /dev/vduse/$NAME');
      return n < 0 ? null : decodeRequest((r as { body: Buffer }).body);
    };
    first = await next();
    await this.#agent.closeFd(this.#devFd);
    const fd = must(await this.#agent.open(`/dev/vduse/${this.#name}`, GuestFlags.O_RDWR | O_NONBLOCK), 'reopen');
    this.#devFd = fd;
    if (fd < 0) throw new Error(`reopening /dev/vduse/${this.#name} failed: ${errnoName(fd)}`);
    if (first) again = await next();
    if (again) await this.#agent.write(this.#devFd, encodeResponse(again.requestId, VDUSE_REQ_RESULT_OK));
    await work;
    const asMsg = (q: VduseRequest | null) => (q ? { id: q.requestId, type: q.type } : null);
    const findings = M.judgeReconnect(asMsg(first), asMsg(again), again !== null);
    // Answered OK: the status is what it was (a reset when it was 0). Lost: the kernel waited msg_timeout and marked the device broken.
    this.#s = again ? (d.status === 0 ? M.afterReset(s) : s) : first ? M.markBroken(s) : s;
    return findings;
  }

  /**
   * A blk request end to end, when the driver side is set up for it: DRIVER_OK, vq 0 ready with a kickfd and a
   * call, and the driver's memory mapped read-write at iova 0 (so an iova is an offset in the memfd).
   */
  async #blkRequest(write: boolean, sector: number, fill: number): Promise<readonly M.Finding[]> {
    const s = this.#s;
    const d = s.dev!;
    const vq = d.vqs[0];
    const kickfd = this.#vduseKick.get(0);
    const call = this.#driverCall[0];
    const mem = this.#mem;
    const whole = d.deviceMaps?.find((m) => m.start === 0n && m.offset === 0n && m.perm === 3 && m.last >= BigInt(DRIVER_PAGES * PAGE - 1));
    if (!(d.status & 4) || !vq?.ready || !vq.kickfd || !vq.call || vq.num === 0 || kickfd === undefined || call === undefined || !mem || !whole || d.broken) return [];
    if (vq.desc + BigInt(vq.num * 16) > 0x1000n || vq.driver < 0x1000n || vq.driver + BigInt(4 + vq.num * 2) > 0x2000n || vq.device < 0x2000n || vq.device + BigInt(4 + vq.num * 8) > 0x4000n) return [];
    // The device finds the ring where VQ_GET_INFO says it is.
    const info = await this.#dev('VDUSE_VQ_GET_INFO', { value: { index: 0, num: 0, desc_addr: 0n, driver_addr: 0n, device_addr: 0n, split_avail_index: 0, ready: 0 } });
    if (!info.ok) return [];
    const i = decode(vduse_vq_info__split, info.value);
    const ring = { num: i.num, desc: i.desc_addr, driver: i.driver_addr, device: i.device_addr };
    if (ring.num !== vq.num || ring.desc !== vq.desc || ring.driver !== vq.driver || ring.device !== vq.device) return [];
    if (!this.#deviceView) {
      const info2 = ioctlInfo('VDUSE_IOTLB_GET_FD');
      const r = await this.#agent.ioctl(this.#devFd, info2.number, encode(vduse_iotlb_entry, { offset: 0n, start: 0n, last: 0n, perm: 0 }), info2.size);
      const fd = must(r, 'VDUSE_IOTLB_GET_FD');
      if (fd < 0) return [];
      const m = await this.#agent.mmap(fd, BigInt(DRIVER_PAGES * PAGE), { offset: decode(vduse_iotlb_entry, (r as { body: Buffer }).body).offset });
      if (must(m, 'mmap') < 0) {
        await this.#agent.closeFd(fd);
        return [];
      }
      this.#deviceView = { fd, addr: (m as { body: Buffer }).body.readBigUInt64LE(0) };
    }
    const view = this.#deviceView;
    const put = async (addr: bigint, iova: bigint, bytes: Uint8Array) => {
      must(await this.#agent.memWrite(addr + iova, bytes), 'memWrite');
      mem.mirror.set(bytes, Number(iova));
    };
    const get = async (addr: bigint, iova: bigint, len: number) => {
      const r = await this.#agent.memRead(addr + iova, len);
      if (must(r, 'memRead') < 0) throw new Error(`memRead at ${iova}: ${errnoName((r as { result: number }).result)}`);
      return (r as { body: Buffer }).body;
    };
    if (!this.#cursor) {
      // A fresh ring: the driver clears it and both indices start at the vq's base (VHOST_SET_VRING_BASE).
      this.#cursor = { driverAvail: vq.avail, deviceAvail: vq.avail, deviceUsed: vq.avail };
      const idx = Buffer.from([0, 0, vq.avail & 0xff, vq.avail >> 8]);
      await put(mem.addr, vq.desc, new Uint8Array(vq.num * 16));
      await put(mem.addr, vq.driver, Buffer.concat([idx, new Uint8Array(vq.num * 2)]));
      await put(mem.addr, vq.device, Buffer.concat([idx, new Uint8Array(vq.num * 8)]));
    }
    await this.#signalled(kickfd, 0);
    await this.#signalled(call, 0);
    const io: RoundTripIo = {
      driverWrite: (iova, bytes) => put(mem.addr, iova, bytes),
      driverRead: (iova, len) => get(mem.addr, iova, len),
      deviceRead: (iova, len) => get(view.addr, iova, len),
      deviceWrite: (iova, bytes) => put(view.addr, iova, bytes),
      kick: async () => void must(await this.#agent.eventfdSignal(this.#driverKick[0]!), 'kick'),
      kicked: () => this.#signalled(kickfd, SIGNAL_WAIT_MS),
      injectIrq: async () => unit(await this.#dev('VDUSE_VQ_INJECT_IRQ', 0)),
      called: () => this.#signalled(call, SIGNAL_WAIT_MS),
    };
    return this.#apply(M.judgeRoundTrip(s, await blkRoundTrip(io, ring, this.#cursor, this.#disk, write, sector, fill)));
  }

  async close(): Promise<void> {
    const a = this.#agent;
    await this.#dropDeviceView();
    if (this.#vdpaFd >= 0) {
      if (this.#devFd < 0 && this.#created.has(this.#name)) this.#devFd = Math.max(-1, must(await a.open(`/dev/vduse/${this.#name}`, GuestFlags.O_RDWR | O_NONBLOCK), 'reopen'));
      await this.#closeVdpa();
    }
    if (this.#attached) {
      if (this.#devFd < 0 && this.#created.has(this.#name)) this.#devFd = Math.max(-1, must(await a.open(`/dev/vduse/${this.#name}`, GuestFlags.O_RDWR | O_NONBLOCK), 'reopen'));
      await this.#serve(a.vdpa(['dev', 'del', this.#name], { concurrent: true, timeoutMs: SERVED_TIMEOUT_MS }));
      this.#attached = false;
    }
    if (this.#devFd >= 0) await a.closeFd(this.#devFd);
    this.#devFd = -1;
    for (const name of this.#created) await this.#ctlIoctl('VDUSE_DESTROY_DEV', { value: {}, trailing: nameBytes(name) });
    this.#created.clear();
    if (this.#ctl >= 0) await a.closeFd(this.#ctl);
    for (const fd of [...this.#driverKick, ...this.#driverCall, ...this.#vduseKick.values(), this.#configCall]) if (fd >= 0) await a.closeFd(fd);
    if (this.#mem) {
      await a.munmap(this.#mem.addr, BigInt(DRIVER_PAGES * PAGE));
      await a.closeFd(this.#mem.fd);
      this.#mem = null;
    }
  }
}

// The suite as a VDUSE device in the guest (Linux Documentation/userspace-api/
// vduse.rst, include/uapi/linux/vduse.h): created through /dev/vduse/control,
// then served through /dev/vduse/$NAME, whose reads are the kernel's requests
// (VDUSE_SET_STATUS, VDUSE_GET_VQ_STATE, VDUSE_UPDATE_IOTLB) and whose writes
// are the device's responses. The kernel waits for each response (up to the
// device's msg_timeout, then marks it broken), so whatever triggers a request
// (vdpa dev add, opening or resetting the vhost-vdpa node, SET_STATUS) must run
// CONCURRENT in the agent while serveWhile() answers. Not yet a Target.
import { decode, encode } from '../../spec/codec.ts';
import { VDUSE_API_VERSION } from '../../spec/vduse/ioctls.ts';
import {
  VDUSE_GET_VQ_STATE,
  VDUSE_NAME_MAX,
  VDUSE_REQ_RESULT_OK,
  VDUSE_SET_STATUS,
  VDUSE_UPDATE_IOTLB,
  vduse_dev_request,
  vduse_dev_request__iova,
  vduse_dev_request__s,
  vduse_dev_request__vq_state,
  vduse_dev_response__vq_state_packed,
  vduse_dev_response__vq_state_split,
} from '../../spec/vduse/types.ts';
import { type AgentClient, errnoName, GuestFlags } from './agent.ts';
import { body, Op } from './protocol.ts';
import type { KernelMachine } from './boot.ts';
import { agentIoctl, ioctlInfo, type IoctlArgValue, type IoctlOutcome } from './vhostIoctl.ts';

export interface VduseDeviceConfig {
  readonly name: string;
  /** VIRTIO_ID_*; 6.12 allows blk (2) and net (1) (vduse_dev.c device_is_allowed()). */
  readonly deviceId: number;
  readonly features: bigint;
  readonly vqNum: number;
  readonly vqMaxSize: number;
  /** The device's config space, as the driver side will read it. */
  readonly config: Uint8Array;
}

/** A kernel request, decoded by its type. */
export type VduseRequest =
  | { readonly type: typeof VDUSE_SET_STATUS; readonly requestId: number; readonly status: number }
  | { readonly type: typeof VDUSE_GET_VQ_STATE; readonly requestId: number; readonly vq: number }
  | { readonly type: typeof VDUSE_UPDATE_IOTLB; readonly requestId: number; readonly start: bigint; readonly last: bigint }
  | { readonly type: number; readonly requestId: number };

/** How the device answers a request: a result (VDUSE_REQ_RESULT_*) and, for GET_VQ_STATE, the split avail index. */
export type VduseAnswer = (req: VduseRequest) => { readonly result: number; readonly availIndex?: number };

const answerOk: VduseAnswer = () => ({ result: VDUSE_REQ_RESULT_OK });

/** How long serveWhile() polls the device fd between checks of whether the triggering request ended. */
const SERVE_POLL_MS = 50;

/** A request read from /dev/vduse/$NAME, decoded by its type. */
export function decodeRequest(bytes: Buffer): VduseRequest {
  const head = decode(vduse_dev_request, bytes);
  switch (head.type) {
    case VDUSE_SET_STATUS:
      return { type: VDUSE_SET_STATUS, requestId: head.request_id, status: decode(vduse_dev_request__s, bytes).s_status };
    case VDUSE_GET_VQ_STATE:
      return { type: VDUSE_GET_VQ_STATE, requestId: head.request_id, vq: decode(vduse_dev_request__vq_state, bytes).vq_state_index };
    case VDUSE_UPDATE_IOTLB: {
      const r = decode(vduse_dev_request__iova, bytes);
      return { type: VDUSE_UPDATE_IOTLB, requestId: head.request_id, start: r.iova_start, last: r.iova_last };
    }
    default:
      return { type: head.type, requestId: head.request_id };
  }
}

/** VDUSE_NAME_MAX bytes holding `name`, NUL-terminated unless `unterminated` (then all 256 bytes are name). */
export function nameBytes(name: string, unterminated = false): Uint8Array {
  const b = new Uint8Array(VDUSE_NAME_MAX);
  b.set(Buffer.from(name, 'latin1').subarray(0, unterminated ? VDUSE_NAME_MAX : VDUSE_NAME_MAX - 1));
  return b;
}

/** A response to `requestId` (struct vduse_dev_response); for GET_VQ_STATE, the split avail index of vq `vq`. */
export function encodeResponse(requestId: number, result: number, vq = 0, availIndex = 0, reserved = new Uint8Array(16)): Buffer {
  return encode(vduse_dev_response__vq_state_split, { request_id: requestId, result, reserved, vq_state_index: vq, vq_state_split_avail_index: availIndex });
}

/** A GET_VQ_STATE response for a packed vq: both wrap counters and indices, as given (the kernel must mask them). */
export function encodePackedResponse(requestId: number, vq: number, state: readonly [availCounter: number, availIdx: number, usedCounter: number, usedIdx: number]): Buffer {
  const [a, ai, u, ui] = state;
  return encode(vduse_dev_response__vq_state_packed, {
    request_id: requestId, result: VDUSE_REQ_RESULT_OK, reserved: new Uint8Array(16), vq_state_index: vq,
    vq_state_packed_last_avail_counter: a, vq_state_packed_last_avail_idx: ai, vq_state_packed_last_used_counter: u, vq_state_packed_last_used_idx: ui,
  });
}

/**
 * One read(2) of up to `len` bytes on an O_NONBLOCK fd with no poll first (agent op readNow), so the kernel's own
 * checks answer: the byte count, or -errno in `result`.
 */
export function readNow(agent: AgentClient, fd: number, len: number): ReturnType<AgentClient['request']> {
  return agent.request(Op.readNow, body.readNow(fd, len));
}

export class GuestVduseDevice {
  #destroyed = false;

  private constructor(
    readonly guest: KernelMachine,
    readonly config: VduseDeviceConfig,
    readonly controlFd: number,
    readonly fd: number,
    /** What VDUSE_GET_API_VERSION said before the suite set its own. */
    readonly apiVersion: bigint,
  ) {}

  /** Negotiates the API version, creates the device, opens its node and sets up every vq. */
  static async create(guest: KernelMachine, config: VduseDeviceConfig): Promise<GuestVduseDevice> {
    const { agent } = guest;
    const must = (o: IoctlOutcome, what: string): Buffer => {
      if (o.kind !== 'ok') throw new Error(`${what} failed in the guest: ${o.kind === 'error' ? o.errno : o.kind}`);
      return o.out;
    };
    const ctl = await agent.open('/dev/vduse/control', GuestFlags.O_RDWR);
    if (ctl.kind !== 'ok' || ctl.result < 0) throw new Error(`cannot open /dev/vduse/control: ${ctl.kind === 'ok' ? errnoName(ctl.result) : ctl.kind}`);
    const ioctl = (fd: number, name: string, arg?: IoctlArgValue) => agentIoctl(agent, fd, ioctlInfo(name), arg);
    const apiVersion = must(await ioctl(ctl.result, 'VDUSE_GET_API_VERSION'), 'VDUSE_GET_API_VERSION').readBigUInt64LE(0);
    must(await ioctl(ctl.result, 'VDUSE_SET_API_VERSION', BigInt(VDUSE_API_VERSION)), 'VDUSE_SET_API_VERSION');
    must(
      await ioctl(ctl.result, 'VDUSE_CREATE_DEV', {
        value: {
          name: nameBytes(config.name),
          vendor_id: 0,
          device_id: config.deviceId,
          features: config.features,
          vq_num: config.vqNum,
          // vduse_validate_config(): a power of two between VRING_USED_ALIGN_SIZE and PAGE_SIZE.
          vq_align: 4096,
          reserved: new Uint8Array(52),
          config_size: config.config.length,
        },
        trailing: config.config,
      }),
      'VDUSE_CREATE_DEV',
    );
    const dev = await agent.open(`/dev/vduse/${config.name}`, GuestFlags.O_RDWR);
    if (dev.kind !== 'ok' || dev.result < 0) throw new Error(`cannot open /dev/vduse/${config.name}: ${dev.kind === 'ok' ? errnoName(dev.result) : dev.kind}`);
    const device = new GuestVduseDevice(guest, config, ctl.result, dev.result, apiVersion);
    for (let index = 0; index < config.vqNum; index++) {
      must(await device.ioctl('VDUSE_VQ_SETUP', { value: { index, max_size: config.vqMaxSize, reserved: new Uint8Array(26) } }), 'VDUSE_VQ_SETUP');
    }
    return device;
  }

  /** An ioctl on the device node (/dev/vduse/$NAME). */
  ioctl(name: string, arg?: IoctlArgValue): Promise<IoctlOutcome> {
    return agentIoctl(this.guest.agent, this.fd, ioctlInfo(name), arg);
  }

  /** The next request the kernel sent, or null when none comes within `timeoutMs`. */
  async nextRequest(timeoutMs: number): Promise<VduseRequest | null> {
    const r = await this.guest.agent.read(this.fd, vduse_dev_request.size, timeoutMs);
    if (r.kind !== 'ok') throw new Error(`reading /dev/vduse/${this.config.name}: ${r.kind}`);
    if (r.result < 0) {
      if (errnoName(r.result) === 'ETIMEDOUT') return null;
      throw new Error(`reading /dev/vduse/${this.config.name}: ${errnoName(r.result)}`);
    }
    return decodeRequest(r.body);
  }

  async respond(req: VduseRequest, answer: ReturnType<VduseAnswer>): Promise<void> {
    const bytes = encodeResponse(req.requestId, answer.result, 'vq' in req ? req.vq : 0, answer.availIndex ?? 0);
    const w = await this.guest.agent.write(this.fd, bytes);
    if (w.kind !== 'ok' || w.result !== bytes.length) throw new Error(`writing a VDUSE response: ${w.kind === 'ok' ? errnoName(w.result) : w.kind}`);
  }

  /**
   * Answers the kernel's requests with `answer` until `work` (a CONCURRENT agent request that makes
   * the kernel ask) settles; returns its result and the requests seen, in order.
   */
  async serveWhile<T>(work: Promise<T>, answer: VduseAnswer = answerOk): Promise<{ readonly value: T; readonly requests: readonly VduseRequest[] }> {
    let settled = false;
    const done = work.finally(() => {
      settled = true;
    });
    const requests: VduseRequest[] = [];
    while (!settled) {
      const req = await this.nextRequest(SERVE_POLL_MS);
      if (!req) continue;
      requests.push(req);
      await this.respond(req, answer(req));
    }
    return { value: await done, requests };
  }

  /** Closes the device node and destroys the device (VDUSE_DESTROY_DEV). Idempotent. */
  async destroy(): Promise<IoctlOutcome | undefined> {
    if (this.#destroyed || this.guest.agent.crash) return undefined;
    this.#destroyed = true;
    const { agent } = this.guest;
    await agent.closeFd(this.fd);
    const r = await agentIoctl(agent, this.controlFd, ioctlInfo('VDUSE_DESTROY_DEV'), { value: {}, trailing: nameBytes(this.config.name) });
    await agent.closeFd(this.controlFd);
    return r;
  }
}

// A case of the control-plane and IOTLB suites: every step is predicted by the
// model (model/kernel/vhostNet.ts), issued to the kernel, and judged; the model
// follows the kernel's answer when more than one is allowed.
import { afterKick, initialState, judgeAnswer, messageFindings, missPermFinding, predict, type Prediction, readOnlyUsedFlags, type VhostNetAnswer, type VhostNetFacts, type VhostNetState } from '../../../model/kernel/vhostNet.ts';
import { violation } from '../../../model/outcome.ts';
import type { KernelCase, KernelContext, KernelObservation, KernelProfile, KernelStep } from '../types.ts';
import { type ControlStep, toRequest } from './steps.ts';
import { replyOf, VhostNetSession, WINDOW_SIZE } from './session.ts';

const POISON = Buffer.from([0xaa, 0xaa]);

/** How long a read waits for a miss the model says is queued (the vhost worker runs it asynchronously), and for one that only may be. */
const DUE_WAIT_MS = 2_000;
const MAY_WAIT_MS = 15;

/** What the case negotiates right after each SET_OWNER. */
export interface Negotiation {
  readonly features: bigint;
  readonly backendFeatures: bigint;
}

function factsOf(p: KernelProfile): VhostNetFacts {
  const max = p.facts.maxMemRegions;
  return { offeredBackendFeatures: BigInt(p.facts.backendFeatures ?? 0), ...(typeof max === 'number' ? { maxMemRegions: max } : {}) };
}

function expectedOf(p: Prediction): string[] {
  return p.allowed.map((a) => (a.kind === 'error' ? (a.errnos?.join(' or ') ?? 'an error') : a.kind === 'empty' ? 'no message' : 'ok'));
}

function answerText(a: VhostNetAnswer): string {
  return a.kind === 'error' ? a.errno : a.kind;
}

export class ControlCase implements KernelCase {
  #state: VhostNetState;

  private constructor(
    readonly session: VhostNetSession,
    readonly facts: VhostNetFacts,
    readonly negotiation: Negotiation,
  ) {
    this.#state = initialState({ base: session.windowBase, size: WINDOW_SIZE });
  }

  static async open(ctx: KernelContext, negotiation: Negotiation): Promise<ControlCase> {
    return new ControlCase(await VhostNetSession.open(ctx.machine), factsOf(ctx.profile), negotiation);
  }

  get state(): VhostNetState {
    return this.#state;
  }

  async #judged(step: KernelStep, req: NonNullable<ReturnType<typeof toRequest>>): Promise<KernelObservation[]> {
    const before = this.#state;
    const p = predict(before, req, this.facts);
    const wait = req.op === 'iotlbRead' ? (this.#state.misses.due > 0 ? DUE_WAIT_MS : MAY_WAIT_MS) : 0;
    const a = await this.session.answer(req, wait);
    const j = judgeAnswer(p, a, this.#state);
    this.#state = j.next;
    const out: KernelObservation[] = [{ requirement: j.requirement, verdict: j.verdict, detail: j.detail, trigger: `kernel:${step.op}/${answerText(a)}`, expected: expectedOf(p) }];
    // vhost_chr_write_iter() answers sizeof(struct vhost_msg_v2) once the 40 bytes it reads are there, even for a
    // shorter write(): more than write(2) was given. vhost.h is silent on it; recorded, not judged.
    if (req.op === 'iotlbWrite' && a.kind === 'ok' && a.ret > req.bytes.length)
      out.push({ requirement: 'vhost.iotlb.msg-size-mismatch', verdict: 'INFORMATIONAL', detail: `write() of ${req.bytes.length} bytes returned ${a.ret}`, trigger: `kernel:${step.op}/returned-more` });
    if (req.op === 'iotlbRead' && a.kind === 'ok' && a.ret === 72) {
      const perm = missPermFinding(before, a.out);
      if (perm) out.push({ requirement: perm.requirement, verdict: perm.problem ? violation(perm.requirement) : 'PASS', detail: perm.problem ?? 'the MISS asks for the access the device made', trigger: `kernel:${step.op}/miss-perm` });
    }
    if (req.op === 'iotlbRead' && a.kind === 'ok' && a.ret === 72)
      for (const f of messageFindings(a.out, this.#state.backendFeatures))
        out.push({ requirement: f.requirement, verdict: f.problem ? violation(f.requirement) : 'PASS', detail: f.problem ?? 'a well-formed MISS', trigger: `kernel:${step.op}/message` });
    return out;
  }

  async exec(k: KernelStep): Promise<readonly KernelObservation[]> {
    const step = k as ControlStep;
    if (step.op === 'kick') {
      await this.session.kick(step.index);
      this.#state = afterKick(this.#state, step.index);
      return [];
    }
    const req = toRequest(step, this.session.windowBase, this.negotiation.features)!;
    const wasOwner = this.#state.owner;
    const poisoned = req.op === 'setBackend' && req.attach ? await this.#poisonReadOnlyUsed(req.index) : null;
    const out = await this.#judged(k, req);
    if (poisoned) out.push(await this.#readOnlyUsedKept(k, poisoned));
    // Right after becoming the owner the case negotiates its features (vhost.h: SET_OWNER first).
    if (req.op === 'setOwner' && !wasOwner && this.#state.owner) {
      out.push(...(await this.#judged(k, { op: 'setFeatures', features: this.negotiation.features })));
      out.push(...(await this.#judged(k, { op: 'setBackendFeatures', features: this.negotiation.backendFeatures })));
    }
    return out;
  }

  /**
   * Starting a ring writes used->flags (vhost_vq_init_access() → vhost_update_used_flags()). When the
   * device IOTLB maps the used ring read-only, that write must not happen (vhost.iotlb.perm-enforced):
   * the flags are poisoned first, and read back after.
   */
  async #poisonReadOnlyUsed(index: number): Promise<{ at: bigint; perm: number } | null> {
    const ro = readOnlyUsedFlags(this.#state, index);
    if (!ro || ro.uaddr < this.session.windowBase || ro.uaddr + 2n > this.session.windowBase + WINDOW_SIZE) return null;
    replyOf(await this.session.guest.agent.memWrite(ro.uaddr, POISON), 'poison used->flags');
    return { at: ro.uaddr, perm: ro.perm };
  }

  async #readOnlyUsedKept(k: KernelStep, p: { at: bigint; perm: number }): Promise<KernelObservation> {
    const got = replyOf(await this.session.guest.agent.memRead(p.at, 2), 'read used->flags').body;
    const kept = got.equals(POISON);
    const requirement = 'vhost.iotlb.perm-enforced';
    return {
      requirement,
      // A device write into memory the IOTLB maps without write permission: memory the driver protected is changed.
      verdict: kept ? 'PASS' : violation(requirement, 'corruption'),
      detail: kept ? `used->flags under a perm-${p.perm} mapping left alone` : `used->flags under a mapping of perm ${p.perm} (no write permission) changed from 0xaaaa to 0x${got.readUInt16LE(0).toString(16)} when the ring started`,
      trigger: `kernel:${k.op}/${kept ? 'kept' : 'written'}`,
      expected: ['used->flags unchanged'],
    };
  }

  async finish(): Promise<readonly KernelObservation[]> {
    // The device still answers after everything the case did to it.
    const a = await this.session.answer({ op: 'getBackendFeatures' }, 0);
    const p = predict(this.#state, { op: 'getBackendFeatures' }, this.facts);
    const j = judgeAnswer(p, a, this.#state);
    return [{ requirement: j.requirement, verdict: j.verdict, detail: `after the case: ${j.detail}`, trigger: `kernel:finish/${answerText(a)}`, expected: expectedOf(p) }];
  }

  close(): Promise<void> {
    return this.session.close();
  }
}

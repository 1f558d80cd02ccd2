// The one place a broken rule becomes a verdict (DESIGN.md "Verdicts"): MUST → FAIL, SHOULD → NON_STRICT,
// DE_FACTO → FAIL only for a crash, a hang, a memory-safety or a data-corruption outcome.
import { describe, expect, it } from 'vitest';
import { anyOf, judge, violation } from './outcome.ts';

describe('violation: verdict of a broken rule from its catalogue level', () => {
  it('a MUST or MUST_NOT rule broken is FAIL, whatever the outcome', () => {
    expect(violation('virtio.status.features-ok-refusal')).toBe('FAIL');
    expect(violation('vhost-user.config.set-config-readonly', 'deviation')).toBe('FAIL');
  });

  it('a SHOULD rule broken is NON_STRICT', () => {
    expect(violation('vhost-user.mem.max-mem-slots')).toBe('NON_STRICT');
  });

  it('a DE_FACTO rule is FAIL only for crash, hang, memory-safety and corruption outcomes, NON_STRICT otherwise', () => {
    const id = 'vhost-user.robust.vring-index-range';
    expect(violation(id, 'deviation')).toBe('NON_STRICT');
    for (const harm of ['crash', 'hang', 'memory-safety', 'corruption'] as const) expect(violation(id, harm)).toBe('FAIL');
  });

  it('an id the catalogue does not hold is FAIL: a typo never softens a verdict', () => {
    expect(violation('no.such.requirement')).toBe('FAIL');
  });

  it('judge weighs a wrong value by the level of the check\'s rule', () => {
    const r = {
      outcomes: [{ kind: 'ok' as const, verdict: 'PASS' as const, requirement: 'vhost-user.mem.max-mem-slots', next: 1, note: 'n', check: () => 'wrong' }],
      otherwise: { verdict: 'FAIL' as const, requirement: 'vhost-user.mem.max-mem-slots' },
    };
    expect(judge(r, { ok: true, value: 0 }, 0).verdict).toBe('NON_STRICT');
  });

  it('anyOf: any listed answer passes; no answer at all is a hang, FAIL even for a DE_FACTO rule', () => {
    const r = anyOf(0, 1, 'vhost-user.robust.log-base-overflow', 'open');
    expect(judge(r, { ok: false, errno: 'EINVAL' }, 0)).toMatchObject({ verdict: 'PASS', next: 0 });
    expect(judge(r, { ok: true }, 0)).toMatchObject({ verdict: 'PASS', next: 1 });
    expect(judge(r, { timeout: true }, 0).verdict).toBe('FAIL');
  });
});

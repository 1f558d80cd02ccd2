// A mutant counts only when it is caught at one of its own requirement ids (runner/mutants.ts), so
// every id it names must be one an oracle can emit: an orphaned id would make the mutant's score rest
// on the other ids alone, or on none (issue 10, "The mutation score overstates").
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ALL_REQUIREMENTS } from '../../../spec/requirements/index.ts';
import { MUTANTS } from './index.ts';

const ROOT = new URL('../../../', import.meta.url).pathname;

/** Where verdicts are produced: the model's outcome lists and the oracles / harness. Suite lists only name ids. */
const EMITTERS = ['model', 'properties'];
const NOT_EMITTERS = [/\.test\.ts$/, /\.fixture\.ts$/, /\/suites\//, /\/suites\.ts$/, /\/unjudgeable\.ts$/];

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return sources(p);
    return p.endsWith('.ts') && !NOT_EMITTERS.some((re) => re.test(p)) ? [p] : [];
  });
}

function emittedIds(): Set<string> {
  const ids = new Set<string>();
  let perMessage = false;
  for (const dir of EMITTERS) {
    for (const file of sources(join(ROOT, dir))) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/'((?:virtio|vhost|vhost-user|vhost-vdpa|vduse)\.[a-z0-9.-]+)'/g)) ids.add(m[1]);
      perMessage ||= text.includes('replyRequirement(');
    }
  }
  // The reply rule's per-message ids are built, not quoted: emitted wherever the harness maps a judgement through replyRequirement.
  if (perMessage) for (const r of ALL_REQUIREMENTS) if (r.id.startsWith(`${PER_MESSAGE_PREFIX}.`)) ids.add(r.id);
  return ids;
}

const PER_MESSAGE_PREFIX = 'vhost-user.reply.required';

describe('mutant requirement ids', () => {
  it('every id a mutant names is emitted by the model or an oracle', () => {
    const emitted = emittedIds();
    expect(emitted.size).toBeGreaterThan(40);
    const orphans = MUTANTS.flatMap((m) => m.requirementIds.filter((id) => !emitted.has(id)).map((id) => `${m.name}: ${id}`));
    expect(orphans).toEqual([]);
  });

  it('the check fails for an id no oracle emits', () => {
    // The catalogue has it and a kernel family names it as unjudgeable, but nothing judges it: exactly the orphan the check is for.
    expect(emittedIds().has('vhost-vdpa.iotlb.batch-commit')).toBe(false);
  });
});

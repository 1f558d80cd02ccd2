// Every vduse.* requirement is judged by a VDUSE suite or has a reason in
// UNJUDGEABLE, never both, and every id the suites name exists.
import { describe, expect, it } from 'vitest';
import { VDUSE_REQUIREMENTS } from '../../../spec/requirements/vduse.ts';
import { requirementById } from '../../../spec/requirements/index.ts';
import { VDUSE_SUITES } from './suites.ts';
import { UNJUDGEABLE } from './unjudgeable.ts';

describe('VDUSE requirement coverage', () => {
  const judged = new Set(VDUSE_SUITES.flatMap((s) => s.requirements));
  it('each id is judged or explained, not both', () => {
    for (const r of VDUSE_REQUIREMENTS) expect(judged.has(r.id) !== (r.id in UNJUDGEABLE), r.id).toBe(true);
  });
  it('the suites and UNJUDGEABLE name only catalogue ids', () => {
    for (const id of [...judged, ...Object.keys(UNJUDGEABLE)]) expect(requirementById(id), id).toBeDefined();
  });
});

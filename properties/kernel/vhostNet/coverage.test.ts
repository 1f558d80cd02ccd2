// Every vhost.* requirement is either recorded by a guest:vhost-net suite or
// explained in unjudgeable.ts — never both, never neither — and every id named
// exists in the catalogue.
import { describe, expect, it } from 'vitest';
import { requirementById } from '../../../spec/requirements/index.ts';
import { VHOST_KERNEL_REQUIREMENTS } from '../../../spec/requirements/vhostKernel.ts';
import { VHOST_NET_SUITES } from './suites.ts';
import { UNJUDGEABLE } from './unjudgeable.ts';

describe('guest:vhost-net requirement coverage', () => {
  const judged = new Set(VHOST_NET_SUITES.flatMap((s) => s.requirements));
  it('names only catalogued ids', () => {
    for (const id of [...judged, ...Object.keys(UNJUDGEABLE)]) expect(requirementById(id), id).toBeDefined();
  });
  it('judges or explains each of the vhost.* ids, exactly once', () => {
    for (const { id } of VHOST_KERNEL_REQUIREMENTS) expect(judged.has(id) !== id in UNJUDGEABLE, id).toBe(true);
  });
});

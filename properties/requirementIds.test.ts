// Every requirement id the suite's code names must exist in the catalogue:
// an unknown id would make an oracle's verdict land nowhere.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MUTANTS } from '../implementations/simulated/mutants/index.ts';
import { requirementById } from '../spec/requirements/index.ts';
import { SUITES } from './suites/index.ts';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return sources(p);
    return p.endsWith('.ts') && !p.endsWith('.test.ts') && !p.endsWith('.fixture.ts') ? [p] : [];
  });
}

describe('requirement ids named in code', () => {
  it('every quoted id in model/, properties/, implementations/ and runner/ is in the catalogue', () => {
    const root = new URL('..', import.meta.url).pathname;
    const unknown: string[] = [];
    let seen = 0;
    for (const dir of ['model', 'properties', 'implementations', 'runner']) {
      for (const file of sources(join(root, dir))) {
        for (const m of readFileSync(file, 'utf8').matchAll(/'((?:virtio|vhost|vhost-user|vhost-vdpa|vduse)\.[a-z0-9.-]+)'/g)) {
          seen++;
          if (!requirementById(m[1])) unknown.push(`${m[1]} in ${file.slice(root.length)}`);
        }
      }
    }
    expect(seen).toBeGreaterThan(50);
    expect(unknown).toEqual([]);
  });

  it('every suite and mutant names only catalogued ids', () => {
    for (const s of SUITES) for (const id of s.requirements) expect(requirementById(id), `${s.name}: ${id}`).toBeDefined();
    for (const m of MUTANTS) for (const id of m.requirementIds) expect(requirementById(id), `${m.name}: ${id}`).toBeDefined();
  });
});

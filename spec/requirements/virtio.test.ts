import { describe, expect, it } from 'vitest';
import { featureByName } from '../features.ts';
import { DOCS, LEVELS, ROLES } from './types.ts';
import { VIRTIO_REQUIRED_IDS, VIRTIO_REQUIREMENTS } from './virtio.ts';

describe('virtio requirement catalogue', () => {
  it('has unique, well-formed ids', () => {
    const ids = VIRTIO_REQUIREMENTS.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^virtio\.[a-z0-9.-]+$/);
  });

  it('gives every entry a source section, a known doc, level and role, and a one-line summary', () => {
    for (const r of VIRTIO_REQUIREMENTS) {
      expect(r.source.section.trim().length, r.id).toBeGreaterThan(0);
      expect(Object.keys(DOCS), r.id).toContain(r.source.doc);
      expect(LEVELS, r.id).toContain(r.level);
      expect(ROLES, r.id).toContain(r.role);
      expect(r.summary.length, r.id).toBeGreaterThan(10);
      expect(r.summary, r.id).not.toMatch(/\n/);
    }
  });

  it('uses the spec label form and cites Linux only for de-facto rules', () => {
    for (const r of VIRTIO_REQUIREMENTS) {
      if (r.source.label !== undefined) {
        expect(r.source.label, r.id).toMatch(/^(devicenormative|drivernormative):\S/);
        const kind = r.source.label.startsWith('devicenormative:') ? 'device' : 'driver';
        expect(kind, r.id).toBe(r.role);
      }
      if (r.source.doc === 'linux-code') {
        expect(r.level, r.id).toBe('DE_FACTO');
        expect(r.source.section, r.id).toMatch(/^drivers\/vhost\//);
      }
      if (r.id.startsWith('virtio.robust.')) expect(r.source.doc, r.id).toBe('linux-code');
    }
  });

  it('names only features known to spec/features', () => {
    for (const r of VIRTIO_REQUIREMENTS) for (const f of r.features ?? []) expect(() => featureByName(f), `${r.id}: ${f}`).not.toThrow();
  });

  it('contains every id the rest of the suite refers to', () => {
    const ids = new Set(VIRTIO_REQUIREMENTS.map((r) => r.id));
    for (const id of VIRTIO_REQUIRED_IDS) expect(ids.has(id), id).toBe(true);
  });

  it('covers enough device- and driver-side rules', () => {
    const count = (role: string) => VIRTIO_REQUIREMENTS.filter((r) => r.role === role).length;
    expect(count('device')).toBeGreaterThanOrEqual(35);
    expect(count('driver')).toBeGreaterThanOrEqual(20);
  });
});

import { describe, expect, it } from 'vitest';
import { FEATURES } from '../features.ts';
import { PROTOCOL_FEATURES } from '../vhostUser/protocolFeatures.ts';
import { DOCS, LEVELS, ROLES, type Requirement } from './types.ts';
import { VDUSE_REQUIREMENTS } from './vduse.ts';
import { VHOST_KERNEL_REQUIREMENTS } from './vhostKernel.ts';
import { VHOST_USER_REQUIREMENTS } from './vhostUser.ts';
import { VHOST_VDPA_REQUIREMENTS } from './vhostVdpa.ts';

const PARTS: readonly { name: string; prefix: string; min: number; list: readonly Requirement[] }[] = [
  { name: 'vhost-user', prefix: 'vhost-user.', min: 40, list: VHOST_USER_REQUIREMENTS },
  { name: 'vhost kernel', prefix: 'vhost.', min: 8, list: VHOST_KERNEL_REQUIREMENTS },
  { name: 'vhost-vdpa', prefix: 'vhost-vdpa.', min: 12, list: VHOST_VDPA_REQUIREMENTS },
  { name: 'vduse', prefix: 'vduse.', min: 12, list: VDUSE_REQUIREMENTS },
];

const ALL = PARTS.flatMap((p) => p.list);

/** Ids other code refers to; renaming one breaks it. */
const REQUIRED: Record<string, readonly string[]> = {
  'vhost-user': [
    'vhost-user.ring.get-vring-base-stops',
    'vhost-user.ring.enabled-without-protocol-features',
    'vhost-user.ring.disabled-with-protocol-features',
    'vhost-user.ring.start-on-kick',
    'vhost-user.ring.stopped-no-processing',
    'vhost-user.ring.disabled-no-rx',
    'vhost-user.reply-ack.reply',
    'vhost-user.reply.required',
    'vhost-user.reply.header-flags',
    'vhost-user.features.get-features-stable',
    'vhost-user.vring.call-invalid-fd',
    'vhost-user.mem.table-replaced',
    'vhost-user.reset-device',
    'vhost-user.config.get-config',
    'vhost-user.status.get-status',
    'vhost-user.robust.vring-index-range',
    'vhost-user.robust.unexpected-fds-closed',
    'vhost-user.robust.bad-header',
    'vhost-user.robust.unknown-request',
    'vhost-user.robust.mem-region-overflow',
    'vhost-user.robust.too-many-regions',
    'vhost-user.robust.survives',
  ],
  'vhost kernel': [
    'vhost.iotlb.update-zero-size-rejected',
    'vhost.iotlb.translate-whole-range',
    'vhost.iotlb.perm-enforced',
    'vhost.iotlb.invalidate-removes',
    'vhost.iotlb.miss-on-unmapped',
    'vhost.iotlb.msg-size-mismatch',
    'vhost.iotlb.no-info-leak',
    'vhost.log.bound',
  ],
  'vhost-vdpa': ['vhost-vdpa.enable-after-driver-ok'],
  vduse: ['vduse.create.vq-num-limit', 'vduse.config.zero-fill'],
};

/** C names of vhost / vhost-user feature bits not covered by the two registries. */
const OTHER_FEATURE_NAMES = new Set([
  'VHOST_USER_F_PROTOCOL_FEATURES',
  'VHOST_F_LOG_ALL',
  'VHOST_BACKEND_F_IOTLB_MSG_V2',
  'VHOST_BACKEND_F_IOTLB_BATCH',
  'VHOST_BACKEND_F_IOTLB_ASID',
  'VHOST_BACKEND_F_SUSPEND',
  'VHOST_BACKEND_F_RESUME',
  'VHOST_BACKEND_F_ENABLE_AFTER_DRIVER_OK',
]);

const knownFeature = (name: string): boolean =>
  FEATURES.some((f) => f.name === name) ||
  Object.values(PROTOCOL_FEATURES).some((p) => p.cName === name) ||
  OTHER_FEATURE_NAMES.has(name);

const ID_SHAPE = /^[a-z0-9]+(-[a-z0-9]+)*(\.[a-z0-9]+(-[a-z0-9]+)*)+$/;

describe('vhost requirement catalogue', () => {
  it('has unique ids across the four parts', () => {
    const seen = new Map<string, number>();
    for (const r of ALL) seen.set(r.id, (seen.get(r.id) ?? 0) + 1);
    expect([...seen].filter(([, n]) => n > 1).map(([id]) => id)).toEqual([]);
  });

  for (const part of PARTS) {
    describe(part.name, () => {
      it(`has at least ${part.min} entries`, () => {
        expect(part.list.length).toBeGreaterThanOrEqual(part.min);
      });

      it(`uses the ${part.prefix} prefix and the id shape`, () => {
        for (const r of part.list) {
          expect(r.id.startsWith(part.prefix), r.id).toBe(true);
          expect(ID_SHAPE.test(r.id), r.id).toBe(true);
        }
      });

      it('contains the ids other code refers to', () => {
        const ids = new Set(part.list.map((r) => r.id));
        expect((REQUIRED[part.name] ?? []).filter((id) => !ids.has(id))).toEqual([]);
      });

      it('gives every entry a known doc, a section, a level, a role and a one-line summary', () => {
        for (const r of part.list) {
          expect(Object.keys(DOCS), r.id).toContain(r.source.doc);
          expect(r.source.section.trim().length, r.id).toBeGreaterThan(0);
          expect(LEVELS, r.id).toContain(r.level);
          expect(ROLES, r.id).toContain(r.role);
          expect(r.summary.trim().length, r.id).toBeGreaterThan(10);
          expect(r.summary.includes('\n'), r.id).toBe(false);
        }
      });

      it('cites code for every de-facto rule and names only known features', () => {
        for (const r of part.list) {
          if (r.level === 'DE_FACTO') expect(/\(\)|\.c\b/.test(r.source.section), r.id).toBe(true);
          if (r.source.doc === 'linux-code') {
            expect(r.level, r.id).toBe('DE_FACTO');
            expect(/^(drivers|include)\/\S+\.[ch]: \S/.test(r.source.section), r.id).toBe(true);
          }
          for (const f of r.features ?? []) expect(knownFeature(f), `${r.id}: ${f}`).toBe(true);
        }
      });
    });
  }
});

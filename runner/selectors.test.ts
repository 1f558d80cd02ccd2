import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseSelector, SelectorError, selectRequirements, UnknownSelectorError } from './selectors.ts';

const IDS = [
  'virtio.split.used.len-before-idx',
  'virtio.splitting.other',
  'virtio.packed.wrap-counter',
  'vhost-user.ring.get-vring-base-stops',
  'vhost-user.robust.survives',
  'vhost-vdpa.robust.bad-iotlb',
  'vhost-vdpa.enable-after-driver-ok',
].map((id) => ({ id }));

const ids = (selectors: string[]) => selectRequirements(selectors, IDS).map((r) => r.id);

describe('selectors', () => {
  it('an exact id selects itself', () => {
    expect(ids(['vhost-vdpa.enable-after-driver-ok'])).toEqual(['vhost-vdpa.enable-after-driver-ok']);
  });

  it('a prefix selects only at a dot boundary', () => {
    expect(ids(['virtio.split'])).toEqual(['virtio.split.used.len-before-idx']);
    expect(() => ids(['virtio.spl'])).toThrow(UnknownSelectorError);
  });

  it('globs match across dots and keep catalogue order', () => {
    expect(ids(['vhost-user.ring.*'])).toEqual(['vhost-user.ring.get-vring-base-stops']);
    expect(ids(['*.robust.*'])).toEqual(['vhost-user.robust.survives', 'vhost-vdpa.robust.bad-iotlb']);
    expect(ids(['vhost-vdpa.*', 'virtio.packed'])).toEqual([
      'virtio.packed.wrap-counter',
      'vhost-vdpa.robust.bad-iotlb',
      'vhost-vdpa.enable-after-driver-ok',
    ]);
  });

  it('no selector selects everything', () => {
    expect(ids([])).toHaveLength(IDS.length);
  });

  it('a selector matching nothing is an UnknownSelectorError naming it', () => {
    expect(() => ids(['virtio.split', 'virtio.nope'])).toThrow(/unknown selector 'virtio\.nope'/);
  });

  it('malformed selectors are rejected', () => {
    for (const bad of ['', '.virtio', 'virtio.', 'virtio..split', 'virtio split', 'a/b', 'x[1]']) {
      expect(() => parseSelector(bad), bad).toThrow(SelectorError);
    }
  });

  it('every id is selected by itself and by each of its dot prefixes, and a glob of them', () => {
    const segment = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,6}$/);
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 5 }), (segments) => {
        const id = segments.join('.');
        for (let n = 1; n <= segments.length; n++) {
          const prefix = segments.slice(0, n);
          expect(parseSelector(prefix.join('.')).matches(id)).toBe(true);
          expect(parseSelector(['*', ...prefix.slice(1)].join('.')).matches(id)).toBe(true);
        }
        expect(parseSelector(`${id}x`).matches(id)).toBe(false);
      }),
    );
  });
});

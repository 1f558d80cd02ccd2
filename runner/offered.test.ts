import { describe, expect, it } from 'vitest';
import type { Requirement } from '../spec/requirements/types.ts';
import { featuresNotOffered, offersFeature } from './offered.ts';
import { unjudged } from './unjudged.ts';

const EVENT_IDX = 1n << 29n;
const LOG_ALL = 1n << 26n;

describe('offersFeature: from the words the target reported', () => {
  it('virtio bits and VHOST_F_LOG_ALL from the feature word, backend bits from the backend word', () => {
    expect(offersFeature('EVENT_IDX', { features: EVENT_IDX })).toBe(true);
    expect(offersFeature('RING_PACKED', { features: EVENT_IDX })).toBe(false);
    expect(offersFeature('VHOST_F_LOG_ALL', { features: LOG_ALL })).toBe(true);
    expect(offersFeature('VHOST_BACKEND_F_SUSPEND', { backendFeatures: 1n << 4n })).toBe(true);
    expect(offersFeature('VHOST_BACKEND_F_IOTLB_BATCH', { backendFeatures: 1n << 4n })).toBe(false);
  });

  it('unknown when the word was not reported or the name is no feature: never counted as missing', () => {
    expect(offersFeature('EVENT_IDX', {})).toBeUndefined();
    expect(offersFeature('VHOST_BACKEND_F_SUSPEND', { features: -1n })).toBeUndefined();
    expect(offersFeature('NO_SUCH_FEATURE', { features: 0n })).toBeUndefined();
    expect(featuresNotOffered(['EVENT_IDX', 'VHOST_BACKEND_F_SUSPEND'], { features: 0n })).toEqual(['EVENT_IDX']);
  });
});

describe('unjudged: a rule for a feature the target does not offer', () => {
  const rule: Requirement = { id: 'virtio.split.notify.event-idx-must', source: { doc: 'virtio-1.2', section: 'x' }, level: 'MUST', role: 'device', summary: 's', features: ['EVENT_IDX'] };
  it('is UNSUPPORTED, naming the feature, instead of "never exercised"', () => {
    const r = unjudged(rule, { kind: 'kernel', deviceType: 'net', family: 'vhost-vdpa', offered: { features: 0n } }, [{ name: 'notification', requirements: [rule.id], status: { state: 'complete', runs: 20 } }]);
    expect(r).toMatchObject({ verdict: 'UNSUPPORTED', category: 'unsupported' });
    expect(r.detail).toContain('EVENT_IDX');
  });
  it('offered, or not known, it is judged as before', () => {
    const suites = [{ name: 'notification', requirements: [rule.id], status: { state: 'complete' as const, runs: 20 } }];
    expect(unjudged(rule, { kind: 'socket', deviceType: 'net', offered: { features: EVENT_IDX } }, suites).category).toBe('not-covered');
    expect(unjudged(rule, { kind: 'socket', deviceType: 'net' }, suites).category).toBe('not-covered');
  });
});

import { describe, expect, it } from 'vitest';
import {
  hasProtocolFeature,
  missingDependencies,
  PROTOCOL_FEATURE_NAMES,
  PROTOCOL_FEATURES,
  VHOST_USER_F_PROTOCOL_FEATURES,
  VHOST_USER_PROTOCOL_F_BACKEND_REQ,
  VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD,
  VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS,
  VHOST_USER_PROTOCOL_F_DEVICE_STATE,
  VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS,
  VHOST_USER_PROTOCOL_F_MQ,
  VHOST_USER_PROTOCOL_F_NET_MTU,
  VHOST_USER_PROTOCOL_F_REPLY_ACK,
  VHOST_USER_PROTOCOL_F_SHARED_OBJECT,
  VHOST_USER_PROTOCOL_F_XEN_MMAP,
} from './protocolFeatures.ts';

const bit = (n: number): bigint => 1n << BigInt(n);

describe('protocol features', () => {
  // The #define list in vhost-user.rst "Protocol features".
  it('have the doc bit numbers', () => {
    expect(VHOST_USER_F_PROTOCOL_FEATURES).toBe(30);
    expect(VHOST_USER_PROTOCOL_F_MQ).toBe(0);
    expect(VHOST_USER_PROTOCOL_F_REPLY_ACK).toBe(3);
    expect(VHOST_USER_PROTOCOL_F_NET_MTU).toBe(4);
    expect(VHOST_USER_PROTOCOL_F_BACKEND_REQ).toBe(5);
    expect(VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD).toBe(10);
    expect(VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS).toBe(14);
    expect(VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS).toBe(15);
    expect(VHOST_USER_PROTOCOL_F_XEN_MMAP).toBe(17);
    expect(VHOST_USER_PROTOCOL_F_SHARED_OBJECT).toBe(18);
    expect(VHOST_USER_PROTOCOL_F_DEVICE_STATE).toBe(19);
  });

  it('are listed in bit order 0..19, once each, with their C names', () => {
    expect(PROTOCOL_FEATURE_NAMES.map((n) => PROTOCOL_FEATURES[n].bit)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    for (const n of PROTOCOL_FEATURE_NAMES) expect(PROTOCOL_FEATURES[n].cName).toBe(`VHOST_USER_PROTOCOL_F_${n}`);
    expect(PROTOCOL_FEATURES.NET_MTU.aliases).toContain('VHOST_USER_PROTOCOL_F_MTU');
  });

  it('depend only on existing features, without cycles', () => {
    const visiting = new Set<string>();
    const visit = (n: (typeof PROTOCOL_FEATURE_NAMES)[number]): void => {
      expect(visiting.has(n), `cycle through ${n}`).toBe(false);
      visiting.add(n);
      for (const d of PROTOCOL_FEATURES[n].dependsOn) {
        expect(PROTOCOL_FEATURE_NAMES).toContain(d.feature);
        visit(d.feature);
      }
      visiting.delete(n);
    };
    for (const n of PROTOCOL_FEATURE_NAMES) visit(n);
  });

  // "In-band notifications": an error to negotiate it without BACKEND_REQ and REPLY_ACK.
  it('report INBAND_NOTIFICATIONS without BACKEND_REQ and REPLY_ACK as a stated violation', () => {
    const word = bit(VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS) | bit(VHOST_USER_PROTOCOL_F_REPLY_ACK);
    expect(missingDependencies(word)).toEqual([{ feature: 'INBAND_NOTIFICATIONS', missing: 'BACKEND_REQ', basis: 'stated' }]);
    expect(missingDependencies(word | bit(VHOST_USER_PROTOCOL_F_BACKEND_REQ))).toEqual([]);
  });

  it('report BACKEND_SEND_FD without BACKEND_REQ as an implied violation', () => {
    expect(missingDependencies(bit(VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD))).toEqual([
      { feature: 'BACKEND_SEND_FD', missing: 'BACKEND_REQ', basis: 'implied' },
    ]);
    expect(missingDependencies(0n)).toEqual([]);
  });

  it('test bits by name', () => {
    expect(hasProtocolFeature(bit(VHOST_USER_PROTOCOL_F_DEVICE_STATE), 'DEVICE_STATE')).toBe(true);
    expect(hasProtocolFeature(bit(VHOST_USER_PROTOCOL_F_DEVICE_STATE), 'MQ')).toBe(false);
  });
});

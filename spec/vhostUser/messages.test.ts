import { describe, expect, it } from 'vitest';
import { featureByName } from '../features.ts';
import {
  BACKEND_MESSAGES,
  effectiveRules,
  fdCountRange,
  FRONTEND_MESSAGES,
  messageSpec,
  VHOST_USER_ADD_MEM_REG,
  VHOST_USER_BACKEND_CONFIG_CHANGE_MSG,
  VHOST_USER_BACKEND_IOTLB_MSG,
  VHOST_USER_BACKEND_MAX_FDS,
  VHOST_USER_BACKEND_SHARED_OBJECT_LOOKUP,
  VHOST_USER_BACKEND_VRING_CALL,
  VHOST_USER_BACKEND_VRING_HOST_NOTIFIER_MSG,
  VHOST_USER_CHECK_DEVICE_STATE,
  VHOST_USER_GET_CONFIG,
  VHOST_USER_GET_FEATURES,
  VHOST_USER_GET_PROTOCOL_FEATURES,
  VHOST_USER_GET_VRING_BASE,
  VHOST_USER_IOTLB_MSG,
  VHOST_USER_RESET_DEVICE,
  VHOST_USER_SET_BACKEND_REQ_FD,
  VHOST_USER_SET_LOG_BASE,
  VHOST_USER_SET_MEM_TABLE,
  VHOST_USER_SET_STATUS,
  VHOST_USER_SET_VRING_ENABLE,
  VHOST_USER_VRING_KICK,
  type MessageSpec,
} from './messages.ts';
import { makeNoFdWord, PAYLOAD_TYPES, type Payload } from './payloads.ts';
import { PROTOCOL_FEATURES, VHOST_USER_PROTOCOL_F_LOG_SHMFD } from './protocolFeatures.ts';

const ALL = [...FRONTEND_MESSAGES, ...BACKEND_MESSAGES];

describe('message table', () => {
  it('has unique codes and names per direction, front-end 1..43 and back-end 1..8 without gaps', () => {
    for (const [list, last] of [
      [FRONTEND_MESSAGES, 43],
      [BACKEND_MESSAGES, 8],
    ] as const) {
      const codes = list.map((m) => m.code);
      expect(new Set(codes).size).toBe(codes.length);
      expect([...codes].sort((a, b) => a - b)).toEqual(Array.from({ length: last }, (_, i) => i + 1));
      expect(new Set(list.map((m) => m.name)).size).toBe(list.length);
    }
  });

  it('names front-end messages VHOST_USER_* and back-end ones VHOST_USER_BACKEND_*', () => {
    for (const m of FRONTEND_MESSAGES) expect(m.name).toMatch(/^VHOST_USER_(?!BACKEND_)[A-Z_]+$/);
    for (const m of BACKEND_MESSAGES) expect(m.name).toMatch(/^VHOST_USER_BACKEND_[A-Z_]+$/);
  });

  it('refers only to payload kinds that exist', () => {
    const rules = (m: MessageSpec) => [m.reply, m.postcopyReply, m.ifFeature?.reply].filter((r) => r !== undefined);
    for (const m of ALL) {
      expect(PAYLOAD_TYPES, m.name).toContain(m.payload);
      for (const r of rules(m)) expect(PAYLOAD_TYPES, m.name).toContain(r.payload);
    }
  });

  it('is gated only by protocol features that exist, and by known virtio features', () => {
    for (const m of ALL) {
      for (const f of m.features) expect(Object.keys(PROTOCOL_FEATURES), m.name).toContain(f);
      if (m.ifFeature) expect(Object.keys(PROTOCOL_FEATURES), m.name).toContain(m.ifFeature.feature);
      if (m.virtioFeature !== undefined) expect(() => featureByName(m.virtioFeature!), m.name).not.toThrow();
      if (m.features.length > 0) expect(m.needsProtocolFeatures, m.name).toBe(true);
    }
  });

  it('gates every back-end message by BACKEND_REQ, and allows at most 8 fds on that channel (Back-end communication)', () => {
    for (const m of BACKEND_MESSAGES) expect(m.features, m.name).toContain('BACKEND_REQ');
    expect(VHOST_USER_BACKEND_MAX_FDS).toBe(8);
  });

  // Values read in vhost-user.rst "Front-end message types" / "Back-end
  // message types" (the `:id:` of each entry).
  it('has the doc ids of well-known messages', () => {
    const expected: [number, number][] = [
      [VHOST_USER_GET_FEATURES, 1],
      [VHOST_USER_SET_MEM_TABLE, 5],
      [VHOST_USER_SET_LOG_BASE, 6],
      [VHOST_USER_GET_VRING_BASE, 11],
      [VHOST_USER_GET_PROTOCOL_FEATURES, 15],
      [VHOST_USER_SET_VRING_ENABLE, 18],
      [VHOST_USER_SET_BACKEND_REQ_FD, 21],
      [VHOST_USER_IOTLB_MSG, 22],
      [VHOST_USER_GET_CONFIG, 24],
      [VHOST_USER_RESET_DEVICE, 34],
      [VHOST_USER_VRING_KICK, 35],
      [VHOST_USER_ADD_MEM_REG, 37],
      [VHOST_USER_SET_STATUS, 39],
      [VHOST_USER_CHECK_DEVICE_STATE, 43],
      [VHOST_USER_BACKEND_IOTLB_MSG, 1],
      [VHOST_USER_BACKEND_CONFIG_CHANGE_MSG, 2],
      [VHOST_USER_BACKEND_VRING_HOST_NOTIFIER_MSG, 3],
      [VHOST_USER_BACKEND_VRING_CALL, 4],
      [VHOST_USER_BACKEND_SHARED_OBJECT_LOOKUP, 8],
    ];
    for (const [actual, doc] of expected) expect(actual).toBe(doc);
    expect(messageSpec('frontend', 21)?.aliases).toContain('VHOST_USER_SET_SLAVE_REQ_FD');
    expect(messageSpec('backend', 1)?.name).toBe('VHOST_USER_BACKEND_IOTLB_MSG');
    expect(messageSpec('frontend', 44)).toBeUndefined();
    expect(messageSpec('backend', 9)).toBeUndefined();
  });

  // "Communication": "There are several messages that the front-end sends
  // with file descriptors passed in the ancillary data", plus GPU_SET_SOCKET
  // ("passed as ancillary data") and REM_MEM_REG (MAY accept one).
  it('carries request fds exactly on the messages the doc lists', () => {
    const withFds = FRONTEND_MESSAGES.filter((m) => effectiveRules(m, { protocolFeatures: ~0n }).fds !== 'none').map((m) => m.name);
    expect(withFds.sort()).toEqual(
      [
        'VHOST_USER_ADD_MEM_REG',
        'VHOST_USER_SET_MEM_TABLE',
        'VHOST_USER_SET_LOG_BASE',
        'VHOST_USER_SET_LOG_FD',
        'VHOST_USER_SET_VRING_KICK',
        'VHOST_USER_SET_VRING_CALL',
        'VHOST_USER_SET_VRING_ERR',
        'VHOST_USER_SET_BACKEND_REQ_FD',
        'VHOST_USER_SET_INFLIGHT_FD',
        'VHOST_USER_SET_DEVICE_STATE_FD',
        'VHOST_USER_GPU_SET_SOCKET',
        'VHOST_USER_REM_MEM_REG',
      ].sort(),
    );
  });

  it('expects a reply from every message Communication lists, and from every GET_*', () => {
    const always = (name: string, features = 0n) => {
      const m = FRONTEND_MESSAGES.find((x) => x.name === name)!;
      return effectiveRules(m, { protocolFeatures: features }).reply.when;
    };
    for (const n of ['VHOST_USER_GET_FEATURES', 'VHOST_USER_GET_PROTOCOL_FEATURES', 'VHOST_USER_GET_VRING_BASE', 'VHOST_USER_GET_INFLIGHT_FD']) {
      expect(always(n), n).toBe('always');
    }
    expect(always('VHOST_USER_SET_LOG_BASE')).toBe('reply-ack-only');
    expect(always('VHOST_USER_SET_LOG_BASE', 1n << BigInt(VHOST_USER_PROTOCOL_F_LOG_SHMFD))).toBe('always');
    for (const m of FRONTEND_MESSAGES.filter((x) => x.name.startsWith('VHOST_USER_GET_'))) expect(m.reply.when, m.name).toBe('always');
    for (const m of ALL.filter((x) => x.reply.when === 'reply-ack-only')) {
      expect(m.reply, m.name).toEqual({ when: 'reply-ack-only', payload: 'u64', fds: 'none' });
    }
  });

  it('switches to the postcopy reply only for SET_MEM_TABLE and ADD_MEM_REG', () => {
    const withPostcopy = ALL.filter((m) => m.postcopyReply !== undefined).map((m) => m.name);
    expect(withPostcopy.sort()).toEqual(['VHOST_USER_ADD_MEM_REG', 'VHOST_USER_SET_MEM_TABLE']);
    expect(effectiveRules(messageSpec('frontend', VHOST_USER_SET_MEM_TABLE)!, { postcopy: true }).reply.payload).toBe('memoryTable');
  });
});

describe('fdCountRange', () => {
  const u64 = (v: bigint): Payload => ({ type: 'u64', value: { u64: v } });
  it('reads bit 8 of kick/call/err words and of the vring area', () => {
    expect(fdCountRange('optional-one', { type: 'vringFile', value: { u64: makeNoFdWord(2, false) } })).toEqual({ min: 1, max: 1 });
    expect(fdCountRange('optional-one', { type: 'vringFile', value: { u64: makeNoFdWord(2, true) } })).toEqual({ min: 0, max: 0 });
    expect(fdCountRange('optional-one', { type: 'vringArea', value: { u64: makeNoFdWord(0, true), size: 0n, offset: 0n } })).toEqual({
      min: 0,
      max: 0,
    });
  });

  it('counts one fd per region', () => {
    const table: Payload = { type: 'memoryTable', value: { nregions: 3, padding: 0, regions: [] } };
    expect(fdCountRange('per-region', table)).toEqual({ min: 3, max: 3 });
  });

  it('expects the shared-object fd only on success', () => {
    expect(fdCountRange('one-on-success', u64(0n))).toEqual({ min: 1, max: 1 });
    expect(fdCountRange('one-on-success', u64(22n))).toEqual({ min: 0, max: 0 });
  });

  it('gives fixed and loose ranges for the other rules', () => {
    expect(fdCountRange('none', { type: 'none' })).toEqual({ min: 0, max: 0 });
    expect(fdCountRange('one', { type: 'none' })).toEqual({ min: 1, max: 1 });
    expect(fdCountRange('zero-or-one', { type: 'opaque', value: new Uint8Array() })).toEqual({ min: 0, max: 1 });
    expect(fdCountRange('none-may-accept-one', { type: 'none' })).toEqual({ min: 0, max: 1 });
    expect(fdCountRange('optional-one', { type: 'none' })).toEqual({ min: 0, max: 1 });
  });
});

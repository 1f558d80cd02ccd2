import { describe, expect, it } from 'vitest';
import { checkFdGrowth } from './resources.ts';

describe('fd growth over repeated messages (vhost-user.robust.no-leak-on-repeat)', () => {
  it('fails when half the repetitions or more left an fd behind, passes when the previous one is released', () => {
    expect(checkFdGrowth('GET_INFLIGHT_FD', 16, 11, 27)).toMatchObject({ verdict: 'FAIL', requirement: 'vhost-user.robust.no-leak-on-repeat' });
    expect(checkFdGrowth('GET_INFLIGHT_FD', 16, 11, 19).verdict).toBe('FAIL');
    expect(checkFdGrowth('GET_INFLIGHT_FD', 16, 11, 12).verdict).toBe('PASS');
    expect(checkFdGrowth('GET_INFLIGHT_FD', 16, 11, 10).verdict).toBe('PASS');
  });
});

import { describe, expect, it } from 'vitest';
import { RESULT_SCHEMA_VERSION } from '../results.ts';
import { RUN } from '../runResult.fixture.ts';
import { renderJson } from './json.ts';

describe('JSON reporter', () => {
  it('round-trips the RunResult unchanged, schemaVersion included', () => {
    const text = renderJson(RUN);
    expect(JSON.parse(text)).toEqual(RUN);
    expect(JSON.parse(text).schemaVersion).toBe(RESULT_SCHEMA_VERSION);
    expect(text.endsWith('}\n')).toBe(true);
  });
});

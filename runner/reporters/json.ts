// index.json (DESIGN.md "runner/ and reports/"): the RunResult exactly as the
// run produced it, so tools read the same object the gate decided on. It
// carries `schemaVersion`; RunResult holds no bigint (feature words are hex
// strings), so plain JSON.stringify is lossless.
import type { RunResult } from '../results.ts';

export function renderJson(run: RunResult): string {
  return `${JSON.stringify(run, null, 2)}\n`;
}

// The fleet matrix: every suite against a healthy variant, in process or served
// over a socket, for one seed. A healthy device must raise no alarm: no FAIL,
// CRASH, TIMEOUT or ERROR, and no NON_STRICT in the default (non-strict) mode.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { executeRun } from '../../../runner/engine.ts';
import { VARIANTS, type VariantInfo } from './index.ts';

type Transport = 'in-process' | 'socket';

export interface FleetCell {
  readonly variant: string;
  readonly deviceType: 'blk' | 'net';
  readonly transport: Transport;
  readonly seed: number;
}

/** Every variant on every device type it serves, both transports, for `seeds`. */
export function fleetCells(seeds: readonly number[], variants: readonly VariantInfo[] = VARIANTS): FleetCell[] {
  const cells: FleetCell[] = [];
  for (const v of variants) {
    for (const deviceType of v.deviceType === undefined ? (['blk', 'net'] as const) : [v.deviceType]) {
      for (const transport of ['in-process', 'socket'] as const) for (const seed of seeds) cells.push({ variant: v.name, deviceType, transport, seed });
    }
  }
  return cells;
}

export function cellSpec(c: FleetCell): string {
  const options = `device=${c.deviceType},variant=${c.variant}`;
  return c.transport === 'in-process' ? `simulated:${options}` : `vhost-user:spawn=simulated,${options}`;
}

const ALARMS = new Set(['FAIL', 'CRASH', 'TIMEOUT', 'ERROR', 'NON_STRICT']);

/**
 * One line per alarm: requirement, verdict, detail, and the shrunk steps when there are some. An
 * internal error of the suite (a throw, exit 3 on the command line) is an alarm too.
 */
export async function fleetAlarms(c: FleetCell, runs: number, selectors: readonly string[] = []): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'vhostcheck-fleet-'));
  try {
    const r = await executeRun({ targetSpec: cellSpec(c), selectors, seed: c.seed, runs, strict: false, regressionDir: dir, replayRegressions: false, saveRegressions: false }).catch((e: unknown) => {
      throw new Error(`${cellSpec(c)} seed ${c.seed}: internal error: ${(e as Error).message}`);
    });
    return r.results
      .filter((x) => ALARMS.has(x.verdict))
      .map((x) => `${cellSpec(c)} seed ${c.seed}: ${x.id} ${x.verdict}: ${x.failure?.actual ?? x.detail ?? ''}${x.failure ? ` | steps: ${x.failure.steps.join(' ; ')}` : ''}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

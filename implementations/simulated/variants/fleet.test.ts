// Every suite against every healthy variant, in process and served over a
// socket: a healthy device must raise no alarm (issue 10 item 5). The full
// matrix (8 seeds) runs with VHOSTCHECK_FLEET_FULL=1; by default a fixed slice
// keeps CI to a few tens of seconds: every variant in process and a few served,
// one seed, few runs, and the slow variant on the data-path suites only.
import { describe, expect, it } from 'vitest';
import { type FleetCell, cellSpec, fleetAlarms, fleetCells } from './fleet.ts';

const FULL = process.env.VHOSTCHECK_FLEET_FULL === '1';
const FULL_RUNS = Number(process.env.VHOSTCHECK_FLEET_RUNS ?? 20);
const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8];

/**
 * The CI slice: what a cell costs is its runs times the sessions each run opens, and a slow session
 * takes seconds. Served: the variants whose refusals reach the front-end differently over a socket.
 */
function sliced(): { cell: FleetCell; runs: number; selectors?: readonly string[] }[] {
  const served = new Set(['strict', 'no-reply-ack', 'net-1qp']);
  // One slow cell each way: net in process (its loopback kicks two rings), blk served.
  const slow = (c: FleetCell) => (c.transport === 'in-process' ? c.deviceType === 'net' : c.deviceType === 'blk');
  return fleetCells([1])
    .filter((c) => (c.variant === 'slow' ? slow(c) : c.transport === 'in-process' || served.has(c.variant)))
    .map((cell) => (cell.variant === 'slow' ? { cell, runs: 1, selectors: ['virtio.split'] } : { cell, runs: cell.transport === 'socket' ? 1 : 3 }));
}

const matrix = FULL ? fleetCells(SEEDS).map((cell) => ({ cell, runs: FULL_RUNS, selectors: undefined })) : sliced();

describe(`the fleet raises no alarm (${FULL ? `full: 8 seeds, ${FULL_RUNS} runs` : 'CI slice'})`, () => {
  for (const { cell, runs, selectors } of matrix) {
    it(`${cellSpec(cell)} seed ${cell.seed}`, async () => {
      expect(await fleetAlarms(cell, runs, selectors)).toEqual([]);
    }, FULL ? 1_800_000 : 120_000);
  }
});

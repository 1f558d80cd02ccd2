// Small shared helpers for bench/: machine facts, table printing, statistics,
// and a cleanup registry so children and temp files go away on error and on
// SIGINT/SIGTERM as well as on the normal path.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, release } from 'node:os';

export interface MachineFacts {
  readonly node: string;
  readonly cpuModel: string;
  readonly nproc: number;
  readonly kernel: string;
  readonly date: string;
  readonly cc: string | null;
}

function firstLine(cmd: string, args: readonly string[]): string | null {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')[0].trim();
  } catch {
    return null;
  }
}

export function machineFacts(): MachineFacts {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpuModel = m[1].trim();
  } catch {
    // keep os.cpus()'s answer
  }
  const nproc = Number(firstLine('nproc', [])) || availableParallelism();
  return { node: process.version, cpuModel, nproc, kernel: release(), date: new Date().toISOString(), cc: firstLine('cc', ['--version']) };
}

export function quantile(sorted: Float64Array | readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/** Prints rows as an aligned table; numbers are right-aligned. */
export function table(headers: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [headers.map(String), ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number' || /^[\d.,\s%×x-]+$/.test(String(r[i]))));
  const fmt = (r: readonly string[]) => r.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [fmt(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(fmt)].join('\n');
}

export const fmtInt = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');

type Cleanup = () => Promise<void> | void;
const cleanups = new Set<Cleanup>();

/** Registers a cleanup run on SIGINT/SIGTERM; the returned function unregisters it (call it from your finally). */
export function onAbort(fn: Cleanup): () => void {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

let installed = false;
export function installSignalCleanup(): void {
  if (installed) return;
  installed = true;
  const handler = (sig: NodeJS.Signals) => {
    process.stderr.write(`\nbench: ${sig}, cleaning up\n`);
    void Promise.allSettled([...cleanups].map(async (f) => f())).then(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
}

// For tests that need the built guest: the image when it is built, otherwise
// a skip with a one-line reason — except under VHOSTCHECK_GUEST_REQUIRED=1
// (CI, once it builds the guest), where a missing guest or QEMU is an error,
// so no guest test can pass there by being skipped.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { bootGuest, type RunningGuest } from './boot.ts';
import { findGuest, type GuestImage, processAlive } from './image/build.ts';
import { QEMU_BINARY, qemuInstalled } from './qemu.ts';

export async function builtGuest(what: string): Promise<GuestImage | undefined> {
  const image = qemuInstalled() ? await findGuest() : undefined;
  if (image) return image;
  const why = qemuInstalled() ? "the guest is not built (run 'vhostcheck guest build')" : `${QEMU_BINARY} not installed (Debian package qemu-system-x86)`;
  if (process.env.VHOSTCHECK_GUEST_REQUIRED === '1') throw new Error(`${what}: ${why}, and VHOSTCHECK_GUEST_REQUIRED=1`);
  console.info(`${what} skipped: ${why}`);
  return undefined;
}

const LOCK = join(tmpdir(), 'vhostcheck-guest-test.lock');
const LOCK_WAIT_MS = 240_000;

/**
 * One QEMU at a time across vitest's parallel workers: TCG guests are CPU-heavy, and two booting
 * together on a 2-core runner double each other's boot time. A lock held by a dead process is taken over.
 */
async function acquireGuestLock(): Promise<void> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      mkdirSync(LOCK);
      writeFileSync(join(LOCK, 'pid'), String(process.pid));
      return;
    } catch {
      let owner = NaN;
      try {
        owner = Number(readFileSync(join(LOCK, 'pid'), 'utf8'));
      } catch {}
      if (Number.isInteger(owner) && !processAlive(owner)) rmSync(LOCK, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`another test's guest held ${LOCK} for ${LOCK_WAIT_MS} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** Runs `work` (which boots a guest of its own) holding the one-QEMU-at-a-time lock. */
export async function withGuestLock<T>(work: () => Promise<T>): Promise<T> {
  await acquireGuestLock();
  try {
    return await work();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

/** Boots one guest for the enclosing describe block (beforeAll) and stops it after (afterAll); call the result inside tests. */
export function sharedGuest(image: GuestImage | undefined, opts: { append?: readonly string[]; memoryMb?: number } = {}): () => RunningGuest {
  let g: RunningGuest | undefined;
  let locked = false;
  beforeAll(async () => {
    if (!image) return;
    await acquireGuestLock();
    locked = true;
    g = await bootGuest({ image, ...opts });
  }, LOCK_WAIT_MS + 90_000);
  afterAll(async () => {
    await g?.close();
    if (locked) rmSync(LOCK, { recursive: true, force: true });
  });
  return () => {
    if (!g) throw new Error('the shared guest did not boot');
    return g;
  };
}

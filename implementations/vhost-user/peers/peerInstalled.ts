// Whether a real back-end's binary is on this machine, for the tests that drive it. Without the
// Debian package such a test is skipped, with a line saying why. Under CI (.ci/run installs
// qemu-system-common and dpdk-dev and sets CI=true) a missing binary is an error instead, so a
// test against a real peer can never pass there by being skipped.
import { existsSync } from 'node:fs';

export function peerInstalled(binary: string, debianPackage: string, what: string): boolean {
  if (existsSync(binary)) return true;
  const why = `${binary} not installed (Debian package ${debianPackage})`;
  if (process.env.CI === 'true') throw new Error(`${what}: ${why}, which CI installs`);
  console.info(`${what} skipped: ${why}`);
  return false;
}

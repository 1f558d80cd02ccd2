/**
 * Round-trip latency of the addon's socket path: a 12-byte sendmsg + pollSync +
 * recvmsg ping-pong over a socketpair, echoed in the same thread (send on A,
 * recv on B, send on B, recv on A). Run: npx tsx native/bench-roundtrip.ts [iterations]
 */
import { isNativeAvailable, nativeUnavailableReason, pollSync, recvmsg, sendmsg, socketpair, close } from './index.ts';

if (!isNativeAvailable()) {
  console.error(nativeUnavailableReason());
  process.exit(2);
}
const iterations = Number(process.argv[2] ?? 10_000);
const [a, b] = socketpair();
const msg = new Uint8Array(12);
const samples = new Float64Array(iterations);

function once(): void {
  sendmsg(a, msg, []);
  if (!pollSync(b, 'in', 1000)) throw new Error('timeout on B');
  recvmsg(b, 64, 8);
  sendmsg(b, msg, []);
  if (!pollSync(a, 'in', 1000)) throw new Error('timeout on A');
  recvmsg(a, 64, 8);
}

for (let i = 0; i < 1000; i++) once(); // warm-up (JIT, caches)
for (let i = 0; i < iterations; i++) {
  const t0 = process.hrtime.bigint();
  once();
  samples[i] = Number(process.hrtime.bigint() - t0);
}
close(a);
close(b);
samples.sort();
const q = (p: number): number => samples[Math.min(iterations - 1, Math.floor(p * iterations))] / 1000;
console.log(
  `round trip (12 B, sendmsg+pollSync+recvmsg x2), n=${iterations}: ` +
    `median ${q(0.5).toFixed(2)} us, p90 ${q(0.9).toFixed(2)} us, p99 ${q(0.99).toFixed(2)} us`,
);

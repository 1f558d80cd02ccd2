// How the in-process device "dies". A real back-end that dereferences a bad
// pointer is killed by a signal, and one stuck in a loop stops answering; the
// simulated device raises these instead and the Target wrapper (index.ts)
// turns them into Health and into closed / timed-out replies.

/** The back-end process died (out-of-mapping access, abort). */
export class DeviceFault extends Error {
  readonly signal: string;
  constructor(signal: string, message: string) {
    super(message);
    this.name = 'DeviceFault';
    this.signal = signal;
  }
}

/** The back-end entered a loop it never leaves; raised at the point it would spin, never actually spinning. */
export class DeviceHang extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeviceHang';
  }
}

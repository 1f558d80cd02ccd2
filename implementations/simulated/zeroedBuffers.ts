// Every simulated session starts from zeroed guest memory and a zeroed disk, so
// a run replays identically (DESIGN.md "Reliability rules": same seed, same
// steps). Allocating those few MiB afresh per session made V8 collect external
// memory about once a session: half the wall time of `npm run bench` part 1.
// Sessions run one after another, so a closed session's buffers are kept and
// zeroed again for the next one instead.
const KEPT_PER_SIZE = 4;
const kept = new Map<number, Buffer[]>();

/** A zero-filled buffer of `size` bytes: a recycled one when one is kept, else a new one. */
export function takeZeroed(size: number): Buffer {
  const b = kept.get(size)?.pop();
  return b === undefined ? Buffer.alloc(size) : b.fill(0);
}

/** Hands back a buffer from takeZeroed that nothing will touch again. */
export function recycle(b: Buffer): void {
  let list = kept.get(b.length);
  if (list === undefined) kept.set(b.length, (list = []));
  if (list.length < KEPT_PER_SIZE && !list.includes(b)) list.push(b);
}

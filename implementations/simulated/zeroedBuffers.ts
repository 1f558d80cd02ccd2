// Every simulated session starts from zeroed guest memory and a zeroed disk, so
// a run replays identically (DESIGN.md "Reliability rules": same seed, same
// steps). Allocating those few MiB afresh per session made V8 collect external
// memory about once a session: half the wall time of `npm run bench` part 1.
// Sessions run one after another, so a closed session's buffers are kept and
// zeroed again for the next one instead: only the bytes it may have written,
// when its owner knows them (the RAM disk writes through one method).
const KEPT_PER_SIZE = 4;

/** Bytes [start, end) of a buffer that may be non-zero. */
export interface Written {
  readonly start: number;
  readonly end: number;
}

const kept = new Map<number, { buffer: Buffer; written: Written }[]>();

/** A zero-filled buffer of `size` bytes: a recycled one when one is kept, else a new one. */
export function takeZeroed(size: number): Buffer {
  const k = kept.get(size)?.pop();
  return k === undefined ? Buffer.alloc(size) : k.buffer.fill(0, k.written.start, k.written.end);
}

/** Hands back a buffer from takeZeroed that nothing will touch again; `written` bounds what was written to it since (all of it, unless said). */
export function recycle(b: Buffer, written: Written = { start: 0, end: b.length }): void {
  let list = kept.get(b.length);
  if (list === undefined) kept.set(b.length, (list = []));
  const known = list.find((k) => k.buffer === b);
  if (known !== undefined) known.written = { start: Math.min(known.written.start, written.start), end: Math.max(known.written.end, written.end) };
  else if (list.length < KEPT_PER_SIZE) list.push({ buffer: b, written });
}

// The bytes a stream socket has delivered and the reader has not yet taken.
// One buffer serves every recvmsg (native recvmsgInto writes into it), so a
// reply costs no allocation until a whole frame is taken, as a copy.

export class ReceiveBuffer {
  #buf: Buffer;
  #start = 0;
  #end = 0;

  constructor(capacity: number) {
    this.#buf = Buffer.alloc(capacity);
  }

  /** Bytes held and not yet taken. */
  get length(): number {
    return this.#end - this.#start;
  }

  /** The bytes held (a view, valid until the next room() or take()). */
  held(): Buffer {
    return this.#buf.subarray(this.#start, this.#end);
  }

  /**
   * Where the next bytes go: a view of at least `atLeast` free bytes after the held ones. Held bytes
   * move to the front to make room, and the buffer grows when they fill it, so nothing received is
   * ever dropped. Record what was written with filled().
   */
  room(atLeast: number): Buffer {
    if (this.#start === this.#end) this.#start = this.#end = 0;
    if (this.#buf.length - this.#end < atLeast) {
      const held = this.length;
      const buf = held + atLeast > this.#buf.length ? Buffer.alloc(Math.max(2 * this.#buf.length, held + atLeast)) : this.#buf;
      this.#buf.copy(buf, 0, this.#start, this.#end);
      this.#buf = buf;
      this.#start = 0;
      this.#end = held;
    }
    return this.#end === 0 ? this.#buf : this.#buf.subarray(this.#end);
  }

  /** `n` bytes were written at the start of the last room(). */
  filled(n: number): void {
    if (!Number.isInteger(n) || n < 0 || this.#end + n > this.#buf.length) throw new RangeError(`filled(${n}): more than the room given`);
    this.#end += n;
  }

  /** A copy of the first `n` held bytes, which are then no longer held. */
  take(n: number): Buffer {
    if (!Number.isInteger(n) || n < 0 || n > this.length) throw new RangeError(`take(${n}): only ${this.length} bytes held`);
    const out = Buffer.allocUnsafe(n);
    this.#buf.copy(out, 0, this.#start, this.#start + n);
    this.#start += n;
    return out;
  }

  /** Drops every held byte. */
  clear(): void {
    this.#start = this.#end = 0;
  }
}

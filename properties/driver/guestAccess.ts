// Driver-side access to guest memory by guest-physical address. A range may
// span two regions (they are GPA-contiguous but not host-contiguous): such an
// access goes piece by piece.
import type { GuestMemory } from '../../implementations/target.ts';

function pieces(mem: GuestMemory, gpa: bigint, len: number): { buf: Buffer; off: number; len: number; at: number }[] {
  const out: { buf: Buffer; off: number; len: number; at: number }[] = [];
  let done = 0;
  while (done < len) {
    const addr = gpa + BigInt(done);
    const r = mem.regions.find((x) => addr >= x.gpa && addr < x.gpa + BigInt(x.bytes.length));
    if (!r) throw new RangeError(`driver: GPA 0x${addr.toString(16)} is outside guest memory`);
    const off = Number(addr - r.gpa);
    const n = Math.min(len - done, r.bytes.length - off);
    out.push({ buf: r.bytes, off, len: n, at: done });
    done += n;
  }
  return out;
}

/**
 * Where [gpa, gpa+len) lies in the region that holds `gpa` (the one pieces() starts in), when that region holds
 * all of it: nearly every access does, and is then done in place without the piece list. Null otherwise, and for
 * an empty range: the piecewise path keeps its errors and its no-op.
 */
function inPlace(mem: GuestMemory, gpa: bigint, len: number): { bytes: Buffer; off: number } | null {
  if (len <= 0) return null;
  for (const r of mem.regions) {
    if (gpa < r.gpa) continue;
    const off = gpa - r.gpa;
    const size = BigInt(r.bytes.length);
    if (off >= size) continue;
    return off + BigInt(len) <= size ? { bytes: r.bytes, off: Number(off) } : null;
  }
  return null;
}

export function writeGpa(mem: GuestMemory, gpa: bigint, data: Uint8Array): void {
  const at = inPlace(mem, gpa, data.length);
  if (at !== null) return at.bytes.set(data, at.off);
  for (const p of pieces(mem, gpa, data.length)) p.buf.set(data.subarray(p.at, p.at + p.len), p.off);
}

export function readGpa(mem: GuestMemory, gpa: bigint, len: number): Uint8Array {
  const out = new Uint8Array(len);
  const at = inPlace(mem, gpa, len);
  if (at !== null) {
    out.set(new Uint8Array(at.bytes.buffer, at.bytes.byteOffset + at.off, len));
    return out;
  }
  for (const p of pieces(mem, gpa, len)) out.set(p.buf.subarray(p.off, p.off + p.len), p.at);
  return out;
}

export function fillGpa(mem: GuestMemory, gpa: bigint, len: number, byte: number): void {
  const at = inPlace(mem, gpa, len);
  if (at !== null) return void at.bytes.fill(byte, at.off, at.off + len);
  for (const p of pieces(mem, gpa, len)) p.buf.fill(byte, p.off, p.off + p.len);
}

/** Translates a GPA to the front-end virtual address (what SET_VRING_ADDR carries). */
export function gpaToUaddr(mem: GuestMemory, gpa: bigint): bigint {
  const r = mem.regions.find((x) => gpa >= x.gpa && gpa < x.gpa + BigInt(x.bytes.length));
  if (!r) throw new RangeError(`driver: GPA 0x${gpa.toString(16)} is outside guest memory`);
  return r.uaddr + (gpa - r.gpa);
}

export function u16At(mem: GuestMemory, gpa: bigint): number {
  const at = inPlace(mem, gpa, 2);
  if (at !== null) return at.bytes[at.off] | (at.bytes[at.off + 1] << 8);
  const b = readGpa(mem, gpa, 2);
  return b[0] | (b[1] << 8);
}

export function putU16(mem: GuestMemory, gpa: bigint, v: number): void {
  const at = inPlace(mem, gpa, 2);
  if (at !== null) {
    at.bytes[at.off] = v & 0xff;
    at.bytes[at.off + 1] = (v >> 8) & 0xff;
    return;
  }
  writeGpa(mem, gpa, Uint8Array.of(v & 0xff, (v >> 8) & 0xff));
}

// Just enough of ELF64 (little-endian, the only kind the guest builder meets:
// x86_64 kernel modules and Debian binaries) to read a module's `.modinfo`
// and a program's DT_NEEDED list, so the image needs neither modules.dep nor
// ldd. Layout: the System V gABI, "ELF Header" and "Sections" (e_shoff,
// e_shentsize, e_shnum, e_shstrndx; sh_name, sh_type, sh_offset, sh_size at
// 0, 4, 24, 32 of each 64-byte section header) and "Dynamic Section"
// (16-byte entries: d_tag, d_val; DT_NEEDED = 1, DT_NULL = 0).

const DT_NULL = 0n;
const DT_NEEDED = 1n;

export class ElfError extends Error {
  override readonly name = 'ElfError';
}

interface Section {
  readonly name: string;
  readonly bytes: Buffer;
}

function sections(file: Buffer): Section[] {
  if (file.length < 64 || file.readUInt32BE(0) !== 0x7f454c46) throw new ElfError('not an ELF file');
  if (file[4] !== 2 || file[5] !== 1) throw new ElfError('not a little-endian ELF64 file');
  const shoff = Number(file.readBigUInt64LE(0x28));
  const shentsize = file.readUInt16LE(0x3a);
  const shnum = file.readUInt16LE(0x3c);
  const shstrndx = file.readUInt16LE(0x3e);
  if (shentsize < 64 || shoff + shnum * shentsize > file.length || shstrndx >= shnum) throw new ElfError('section header table out of bounds');
  const raw = Array.from({ length: shnum }, (_, i) => {
    const h = shoff + i * shentsize;
    const offset = Number(file.readBigUInt64LE(h + 24));
    const size = Number(file.readBigUInt64LE(h + 32));
    const type = file.readUInt32LE(h + 4);
    // SHT_NOBITS (8) occupies no file bytes.
    const bytes = type === 8 ? Buffer.alloc(0) : file.subarray(offset, offset + size);
    if (type !== 8 && offset + size > file.length) throw new ElfError(`section ${i} out of bounds`);
    return { nameOffset: file.readUInt32LE(h), bytes };
  });
  const names = raw[shstrndx]!.bytes;
  return raw.map((s) => ({ name: cString(names, s.nameOffset), bytes: s.bytes }));
}

function cString(b: Buffer, offset: number): string {
  const end = b.indexOf(0, offset);
  return b.toString('latin1', offset, end < 0 ? b.length : end);
}

function section(file: Buffer, name: string): Buffer | undefined {
  return sections(file).find((s) => s.name === name)?.bytes;
}

/** A kernel module's `.modinfo` as key → values (a key such as `alias` repeats). */
export function modinfo(ko: Buffer): Map<string, string[]> {
  const info = section(ko, '.modinfo');
  if (!info) throw new ElfError('no .modinfo section (not a kernel module)');
  const out = new Map<string, string[]>();
  for (const entry of info.toString('latin1').split('\0')) {
    const eq = entry.indexOf('=');
    if (eq <= 0) continue;
    const key = entry.slice(0, eq);
    out.set(key, [...(out.get(key) ?? []), entry.slice(eq + 1)]);
  }
  return out;
}

/** The modules a module needs loaded first: its `depends=` list (comma-separated, empty for none). */
export function moduleDepends(ko: Buffer): string[] {
  const deps = modinfo(ko).get('depends')?.[0] ?? '';
  return deps.split(',').filter((d) => d.length > 0);
}

/** The shared libraries a dynamically linked program or library names (DT_NEEDED), in order. */
export function neededLibraries(file: Buffer): string[] {
  const dynamic = section(file, '.dynamic');
  const dynstr = section(file, '.dynstr');
  if (!dynamic || !dynstr) return [];
  const out: string[] = [];
  for (let o = 0; o + 16 <= dynamic.length; o += 16) {
    const tag = dynamic.readBigUInt64LE(o);
    if (tag === DT_NULL) break;
    if (tag === DT_NEEDED) out.push(cString(dynstr, Number(dynamic.readBigUInt64LE(o + 8))));
  }
  return out;
}

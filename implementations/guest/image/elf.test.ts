import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ElfError, moduleDepends, modinfo, neededLibraries } from './elf.ts';

/** A minimal ELF64 LE file with the given sections (after the null section and .shstrtab). */
function elf(sections: Record<string, Buffer>): Buffer {
  const names = ['', '.shstrtab', ...Object.keys(sections)];
  const shstrtab = Buffer.from(names.map((n) => `${n}\0`).join(''));
  const bodies = [Buffer.alloc(0), shstrtab, ...Object.values(sections)];
  let offset = 64;
  const placed = bodies.map((b) => {
    const at = offset;
    offset += b.length;
    return at;
  });
  const shoff = offset;
  const header = Buffer.alloc(64);
  header.writeUInt32BE(0x7f454c46, 0);
  header[4] = 2;
  header[5] = 1;
  header.writeBigUInt64LE(BigInt(shoff), 0x28);
  header.writeUInt16LE(64, 0x3a);
  header.writeUInt16LE(bodies.length, 0x3c);
  header.writeUInt16LE(1, 0x3e);
  const table = Buffer.alloc(64 * bodies.length);
  let nameAt = 0;
  names.forEach((n, i) => {
    table.writeUInt32LE(nameAt, i * 64);
    table.writeUInt32LE(i === 0 ? 0 : 1, i * 64 + 4);
    table.writeBigUInt64LE(BigInt(placed[i]!), i * 64 + 24);
    table.writeBigUInt64LE(BigInt(bodies[i]!.length), i * 64 + 32);
    nameAt += n.length + 1;
  });
  return Buffer.concat([header, ...bodies, table]);
}

describe('ELF reading for the guest builder', () => {
  it('reads .modinfo keys, repeated ones included, and the depends= list', () => {
    const ko = elf({ '.modinfo': Buffer.from('license=GPL\0alias=a\0alias=b\0depends=vhost,vhost_iotlb\0\0\0') });
    expect(modinfo(ko).get('alias')).toEqual(['a', 'b']);
    expect(moduleDepends(ko)).toEqual(['vhost', 'vhost_iotlb']);
    expect(moduleDepends(elf({ '.modinfo': Buffer.from('depends=\0') }))).toEqual([]);
  });

  it('refuses what is not a module, or not ELF64, or cut short', () => {
    expect(() => modinfo(elf({ '.text': Buffer.from('x') }))).toThrow(/no .modinfo/);
    expect(() => modinfo(Buffer.from('#!/bin/sh\n'.padEnd(80)))).toThrow(ElfError);
    const ko = elf({ '.modinfo': Buffer.from('depends=\0') });
    expect(() => modinfo(ko.subarray(0, ko.length - 10))).toThrow(/out of bounds/);
  });

  it("lists a real program's DT_NEEDED (the host's /bin/ls needs libc.so.6)", () => {
    expect(neededLibraries(readFileSync('/bin/ls'))).toContain('libc.so.6');
    expect(neededLibraries(elf({ '.modinfo': Buffer.from('') }))).toEqual([]);
  });
});

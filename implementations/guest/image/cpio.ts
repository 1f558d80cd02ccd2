// A cpio archive in the "newc" format, which is what the kernel unpacks as an
// initramfs (Documentation/driver-api/early-userspace/buffer-format.rst:
// 110-byte ASCII header "070701" + 13 eight-digit hex fields, the name with
// its NUL, padding to 4 bytes, the data, padding to 4 bytes; "TRAILER!!!"
// ends it). Pure: entries in, bytes out; the builder gzips it.

export type CpioEntry =
  | { readonly kind: 'dir'; readonly path: string; readonly mode?: number }
  | { readonly kind: 'file'; readonly path: string; readonly data: Uint8Array; readonly mode?: number }
  | { readonly kind: 'symlink'; readonly path: string; readonly target: string };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function pad4(n: number): Buffer {
  return Buffer.alloc((4 - (n % 4)) % 4);
}

function record(ino: number, mode: number, nlink: number, name: string, data: Uint8Array): Buffer[] {
  const nameBytes = Buffer.from(`${name}\0`, 'latin1');
  // Fields: ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check.
  const header = Buffer.from(
    '070701' + [ino, mode, 0, 0, nlink, 0, data.length, 0, 0, 0, 0, nameBytes.length, 0].map(hex8).join(''),
    'latin1',
  );
  return [header, nameBytes, pad4(header.length + nameBytes.length), Buffer.from(data), pad4(data.length)];
}

/** The archive; every entry is owned by root with mtime 0, so equal inputs give equal bytes. */
export function cpioNewc(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  entries.forEach((e, i) => {
    const path = e.path.replace(/^\/+/, '');
    if (e.kind === 'dir') parts.push(...record(i + 1, S_IFDIR | (e.mode ?? 0o755), 2, path, new Uint8Array()));
    else if (e.kind === 'file') parts.push(...record(i + 1, S_IFREG | (e.mode ?? 0o644), 1, path, e.data));
    else parts.push(...record(i + 1, S_IFLNK | 0o777, 1, path, Buffer.from(e.target, 'latin1')));
  });
  parts.push(...record(0, 0, 1, 'TRAILER!!!', new Uint8Array()));
  return Buffer.concat(parts);
}

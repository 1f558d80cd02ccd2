// Reports and expectations files are written atomically (DESIGN.md
// "Reliability rules"): a reader, or a run killed half-way, sees the old file
// or the new one, never a torn one. The temporary file lives in the same
// directory because rename(2) is atomic only within one file system.
import { randomBytes } from 'node:crypto';
import { mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export async function writeFileAtomic(path: string, data: string): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  // Leading dot and `.tmp` suffix: hidden from listings and matched by .gitignore.
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(temp, data, { flag: 'wx' });
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => {});
    throw err;
  }
}

// Paths the user names on the command line, checked before any work starts:
// a report or saved-case directory that cannot be written, or a socket path
// that cannot be listened on, is one line and exit 2 at once, not an error
// at the first failure or after the run. Directories are created one level
// at a time: a recursive mkdir under /proc never returns (ENOENT from a
// directory that exists, retried forever).
import { constants } from 'node:fs';
import { access, lstat, mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { UsageError } from './usageError.ts';

/** The deepest existing ancestor of `path` (or `path` itself) and the missing names below it, top first. */
async function existingAncestor(path: string): Promise<{ readonly existing: string; readonly missing: readonly string[] }> {
  const missing: string[] = [];
  let p = resolve(path);
  for (;;) {
    try {
      await lstat(p);
      return { existing: p, missing };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const parent = dirname(p);
      // ENOTDIR: an ancestor is a file, which the directory check then names.
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || parent === p) throw new UsageError(`${path}: ${code ?? (e as Error).message}`);
      missing.unshift(p);
      p = parent;
    }
  }
}

async function writableDirectory(dir: string, what: string, named: string): Promise<void> {
  const s = await stat(dir).catch((e: NodeJS.ErrnoException) => {
    throw new UsageError(`${what} ${named}: ${e.code ?? e.message}`);
  });
  if (!s.isDirectory()) throw new UsageError(`${what} ${named}: ${dir} is not a directory`);
  await access(dir, constants.W_OK | constants.X_OK).catch(() => {
    throw new UsageError(`${what} ${named}: ${dir} is not writable`);
  });
}

/** Creates `dir` (and missing parents) or throws a UsageError saying why it cannot. */
export async function ensureDirectory(dir: string, what: string): Promise<void> {
  const { existing, missing } = await existingAncestor(dir);
  await writableDirectory(existing, what, dir);
  for (const level of missing) {
    await mkdir(level).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw new UsageError(`cannot create ${what} ${dir}: ${e.code ?? e.message}`);
    });
  }
}

/** Checks that `dir` is, or could be created as, a writable directory, creating nothing. */
export async function checkDirectory(dir: string, what: string): Promise<void> {
  const { existing } = await existingAncestor(dir);
  await writableDirectory(existing, what, dir);
}

/** sun_path holds 108 bytes, the terminating NUL included (unix(7)). */
const SUN_PATH_MAX = 107;

/** A path a UNIX socket can be created at: a short enough name in a writable directory, not an existing non-socket. */
export async function checkSocketPath(path: string): Promise<void> {
  if (Buffer.byteLength(path) > SUN_PATH_MAX) throw new UsageError(`socket path ${path} is longer than ${SUN_PATH_MAX} bytes (unix(7))`);
  const dir = dirname(resolve(path));
  const s = await stat(dir).catch((e: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot listen on ${path}: ${e.code === 'ENOENT' ? `directory ${dir} does not exist` : (e.code ?? e.message)}`);
  });
  if (!s.isDirectory()) throw new UsageError(`cannot listen on ${path}: ${dir} is not a directory`);
  await access(dir, constants.W_OK | constants.X_OK).catch(() => {
    throw new UsageError(`cannot listen on ${path}: directory ${dir} is not writable`);
  });
  const existing = await lstat(path).catch(() => undefined);
  if (existing && !existing.isSocket()) throw new UsageError(`cannot listen on ${path}: it exists and is not a socket`);
}

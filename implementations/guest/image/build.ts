// `vhostcheck guest build`: the QEMU guest the kernel targets run in (issue 12,
// DESIGN.md "Kernel targets"), made from Debian packages only and cached under
// ${XDG_CACHE_HOME:-~/.cache}/vhostcheck/guest/<hash of inputs>. The inputs are
// the package versions apt offers now, the host compiler's version and this
// builder's own sources (so editing the agent or the init script rebuilds); a
// guest is rebuilt only when one of them changes.
//
// Steps: apt-get download → dpkg -x → vmlinux out of the vmlinuz with the
// kernel's scripts/extract-vmlinux → vdpa_sim, vdpa_sim_net, vdpa_sim_blk and
// vringh built out of tree from linux-source against the matching headers and
// kbuild (Debian does not ship them: CONFIG_VDPA_SIM is not set) → the agent
// built static → an initramfs of busybox, the decompressed modules in load
// order, iproute2's `vdpa` with its libraries, and the agent.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, lstatSync, readlinkSync, mkdirSync, readFileSync, readdirSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { type CpioEntry, cpioNewc } from './cpio.ts';
import { moduleDepends, neededLibraries } from './elf.ts';
import { loadOrder, moduleName } from './moduleOrder.ts';
import { type DebPackage, type GuestPackages, KERNEL_SERIES, MissingPackageError, resolveGuestPackages } from './packages.ts';

export { MissingPackageError } from './packages.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const AGENT_SOURCE = join(HERE, '..', 'agent', 'agent.c');
const INIT_SCRIPT = join(HERE, 'init.sh');

/**
 * The modules the guest loads (with what they depend on): the vDPA simulators behind
 * vhost-vdpa, VDUSE, and vhost-net with tun for its tap. Not virtio_vdpa: it would
 * bind the simulated devices to the guest's own virtio drivers instead of vhost-vdpa.
 */
const GUEST_MODULES = ['vhost_vdpa', 'vdpa_sim_net', 'vdpa_sim_blk', 'vduse', 'vhost_net', 'tun'] as const;

/**
 * What hostrun mode (init.sh, hostRun.ts) adds: 9p over virtio (with netfs and 9pnet,
 * which these depend on), to mount the host's root. Loaded in that mode only: in every
 * agent boot they cost about 150 ms of ~3.1 s, and the suites boot many guests.
 */
const HOSTRUN_MODULES = ['9pnet_virtio', '9p'] as const;

/** Sources built out of tree: drivers/vdpa/vdpa_sim (all of it) and drivers/vhost/vringh.c, which vdpa_sim needs. */
const OUT_OF_TREE = ['vringh', 'vdpa_sim', 'vdpa_sim_net', 'vdpa_sim_blk'] as const;

/**
 * vdpa_sim_blk's RAM disk in 512-byte sectors. Upstream's VDPASIM_BLK_CAPACITY is 0x40000
 * (128 MiB per device), which does not fit a 96–256 MiB guest; 0x4000 is 8 MiB.
 */
export const BLK_CAPACITY_SECTORS = 0x4000;

/** Host tools the build runs, with the Debian package that provides each. */
const HOST_TOOLS: readonly (readonly [string, string])[] = [
  ['apt-get', 'apt'],
  ['dpkg', 'dpkg'],
  ['tar', 'tar'],
  ['xz', 'xz-utils'],
  ['make', 'make'],
  ['gcc', 'gcc'],
  [`x86_64-linux-gnu-gcc-12`, 'gcc-12'],
  ['readelf', 'binutils'],
];

const STATIC_LIBC = '/usr/lib/x86_64-linux-gnu/libc.a';

export interface GuestManifest {
  readonly kernelAbi: string;
  /** `uname -r` inside the guest. */
  readonly kernelRelease: string;
  readonly packages: readonly DebPackage[];
  readonly compiler: string;
  /** Modules in the order init loads them. */
  readonly modules: readonly string[];
  /** Modules init loads after those in hostrun mode only, in that order. */
  readonly hostrunModules: readonly string[];
  readonly blkCapacitySectors: number;
  readonly builtAt: string;
  readonly buildSeconds: number;
  readonly bytes: { readonly vmlinux: number; readonly initramfs: number };
}

export interface GuestImage {
  readonly dir: string;
  readonly vmlinux: string;
  readonly initramfs: string;
  readonly manifest: GuestManifest;
}

function guestCacheRoot(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'vhostcheck', 'guest');
}

interface Inputs {
  readonly packages: GuestPackages;
  readonly compiler: string;
  readonly key: string;
}

async function run(cmd: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; stdout?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, LC_ALL: 'C', ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-8192)));
    child.once('error', reject);
    child.once('close', (code, signal) => {
      const stdout = Buffer.concat(out);
      if (opts.stdout) writeFileSync(opts.stdout, stdout);
      if (code === 0) resolve(opts.stdout ? '' : stdout.toString());
      else reject(new Error(`${cmd} ${args.join(' ')} failed (${signal ?? `exit ${code}`}): ${(err || stdout.toString()).trim().split('\n').slice(-5).join(' | ')}`));
    });
  });
}

function onPath(tool: string): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => d && existsSync(join(d, tool)));
}

/** The versions and sources the guest would be built from now, and their hash (the cache key). */
async function resolveInputs(): Promise<Inputs> {
  for (const [tool, pkg] of HOST_TOOLS) if (!onPath(tool)) throw new MissingPackageError(`${tool} not found: install the Debian package ${pkg} to build the guest`);
  // The agent is linked static: gcc needs the C library's archive, which only libc6-dev ships.
  if (!existsSync(STATIC_LIBC)) throw new MissingPackageError(`${STATIC_LIBC} not found: install the Debian package libc6-dev to build the guest`);
  const packages = resolveGuestPackages();
  const compiler = (await run('gcc', ['-dumpfullversion'])).trim();
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ packages, compiler, modules: GUEST_MODULES, hostrunModules: HOSTRUN_MODULES, blk: BLK_CAPACITY_SECTORS }));
  // The builder's own sources: a change to how the guest is made is a change of input.
  for (const f of [AGENT_SOURCE, INIT_SCRIPT, ...readdirSync(HERE).filter((n) => n.endsWith('.ts') && !n.endsWith('.test.ts')).sort().map((n) => join(HERE, n))]) {
    hash.update(f.slice(HERE.length)).update(readFileSync(f));
  }
  return { packages, compiler, key: hash.digest('hex').slice(0, 16) };
}

function readImage(dir: string): GuestImage | undefined {
  const manifestPath = join(dir, 'manifest.json');
  if (!existsSync(manifestPath)) return undefined;
  return { dir, vmlinux: join(dir, 'vmlinux'), initramfs: join(dir, 'initramfs.cpio.gz'), manifest: JSON.parse(readFileSync(manifestPath, 'utf8')) as GuestManifest };
}

/** The built guest for today's inputs, or undefined when it is not built (or apt cannot say which it would be). */
export async function findGuest(): Promise<GuestImage | undefined> {
  try {
    return readImage(join(guestCacheRoot(), (await resolveInputs()).key));
  } catch {
    return undefined;
  }
}

/** The guest for today's inputs, built first when the cache lacks it. `progress` gets one line per step. */
export async function ensureGuest(progress: (line: string) => void): Promise<GuestImage> {
  const inputs = await resolveInputs();
  const dir = join(guestCacheRoot(), inputs.key);
  const cached = readImage(dir);
  if (cached) {
    progress(`up to date (kernel ${cached.manifest.kernelRelease}): ${dir}`);
    return cached;
  }
  const started = Date.now();
  mkdirSync(guestCacheRoot(), { recursive: true });
  removeAbandonedBuilds();
  const work = join(guestCacheRoot(), `.build-${inputs.key}-${process.pid}`);
  mkdirSync(work, { recursive: true });
  try {
    const manifest = await buildInto(work, inputs, progress);
    const final = { ...manifest, buildSeconds: Math.round((Date.now() - started) / 100) / 10 };
    writeFileSync(join(work, 'manifest.json'), `${JSON.stringify(final, null, 2)}\n`);
    rmSync(join(work, 'tmp'), { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
    renameSync(work, dir);
    progress(`guest ready in ${final.buildSeconds} s: ${dir}`);
    return readImage(dir)!;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Work dirs of builds whose process is gone (killed mid-build): each holds some hundred MB of unpacked packages. */
function removeAbandonedBuilds(): void {
  for (const name of readdirSync(guestCacheRoot())) {
    const pid = Number(/^\.build-[0-9a-f]+-(\d+)$/.exec(name)?.[1]);
    if (!Number.isInteger(pid)) continue;
    // This process's own leftover can only be from an earlier call that failed to clean up.
    if (pid === process.pid || !processAlive(pid)) rmSync(join(guestCacheRoot(), name), { recursive: true, force: true });
  }
}

/** Whether a process exists (signal 0 probes without signalling). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function download(debs: string, pkgs: readonly DebPackage[]): Promise<void> {
  try {
    await run('apt-get', ['download', '-q', ...pkgs.map((p) => `${p.name}=${p.version}`)], { cwd: debs });
  } catch (e) {
    const msg = (e as Error).message;
    const named = pkgs.find((p) => msg.includes(p.name));
    throw new MissingPackageError(named ? `Debian package ${named.name}=${named.version} could not be downloaded (apt-get download): ${msg.split(': ').pop()}` : msg);
  }
}

async function buildInto(work: string, inputs: Inputs, progress: (line: string) => void): Promise<Omit<GuestManifest, 'buildSeconds'>> {
  const { packages } = inputs;
  const release = `${packages.kernelAbi}-amd64`;
  const tmp = join(work, 'tmp');
  const debs = join(tmp, 'debs');
  const root = join(tmp, 'root');
  mkdirSync(debs, { recursive: true });
  mkdirSync(root, { recursive: true });

  const all = [...packages.kernel, ...packages.user];
  progress(`downloading ${all.length} Debian packages (kernel ${packages.kernel[0]!.version})`);
  await download(debs, all);

  progress('unpacking');
  for (const deb of readdirSync(debs).filter((n) => n.endsWith('.deb'))) await run('dpkg', ['-x', join(debs, deb), root]);

  progress(`unpacking the needed parts of ${packages.kernel.at(-1)!.name}`);
  const src = join(tmp, 'src');
  mkdirSync(src, { recursive: true });
  const tarball = join(root, 'usr', 'src', `linux-source-${KERNEL_SERIES}.tar.xz`);
  const top = `linux-source-${KERNEL_SERIES}`;
  await run('tar', ['-xJf', tarball, '-C', src, `${top}/drivers/vdpa/vdpa_sim`, `${top}/drivers/vhost/vringh.c`, `${top}/scripts/extract-vmlinux`]);

  progress('extracting vmlinux from the vmlinuz');
  await run('sh', [join(src, top, 'scripts', 'extract-vmlinux'), join(root, 'boot', `vmlinuz-${release}`)], { stdout: join(work, 'vmlinux') });

  progress(`building ${OUT_OF_TREE.join(', ')} against linux-headers-${release}`);
  const ko = await buildModules(root, join(src, top), release, tmp);

  progress('building the agent (static)');
  const agent = join(tmp, 'vhostcheck-agent');
  await run('gcc', ['-static', '-pthread', '-O2', '-Wall', '-o', agent, AGENT_SOURCE]);

  progress('assembling the initramfs');
  const modulesDir = join(root, 'lib', 'modules', release, 'kernel');
  for (const f of findFiles(modulesDir, (n) => n.endsWith('.ko.xz'))) {
    const name = moduleName(f.slice(f.lastIndexOf('/') + 1));
    if (!ko.has(name)) ko.set(name, f);
  }
  const bytesOf = new Map<string, Buffer>();
  const load = async (name: string): Promise<Buffer> => {
    let b = bytesOf.get(name);
    if (!b) {
      const f = ko.get(name)!;
      b = f.endsWith('.xz') ? await decompressXz(f) : readFileSync(f);
      bytesOf.set(name, b);
    }
    return b;
  };
  const depends = new Map<string, string[]>();
  for (let pending: string[] = [...GUEST_MODULES, ...HOSTRUN_MODULES]; pending.length; ) {
    const name = moduleName(pending.pop()!);
    if (depends.has(name)) continue;
    if (!ko.has(name)) throw new Error(`module ${name} is in neither linux-image-${release} nor the out-of-tree build`);
    const deps = moduleDepends(await load(name)).map(moduleName);
    depends.set(name, deps);
    pending.push(...deps);
  }
  const order = loadOrder(GUEST_MODULES, (n) => depends.get(n));
  const hostrunOrder = loadOrder(HOSTRUN_MODULES, (n) => depends.get(n)).filter((m) => !order.includes(m));

  const entries: CpioEntry[] = ['bin', 'dev', 'proc', 'sys', 'etc', 'etc/vhostcheck', 'lib', 'lib/modules', 'lib64', 'lib/x86_64-linux-gnu', 'tmp'].map((path) => ({ kind: 'dir', path }));
  entries.push({ kind: 'file', path: 'init', data: readFileSync(INIT_SCRIPT), mode: 0o755 });
  entries.push({ kind: 'file', path: 'bin/busybox', data: readFileSync(join(root, 'bin', 'busybox')), mode: 0o755 });
  entries.push({ kind: 'file', path: 'bin/vhostcheck-agent', data: readFileSync(agent), mode: 0o755 });
  entries.push({ kind: 'file', path: 'etc/vhostcheck/modules', data: Buffer.from(`${order.join('\n')}\n`) });
  entries.push({ kind: 'file', path: 'etc/vhostcheck/hostrun-modules', data: Buffer.from(`${hostrunOrder.join('\n')}\n`) });
  for (const m of [...order, ...hostrunOrder]) entries.push({ kind: 'file', path: `lib/modules/${m}.ko`, data: await load(m) });
  entries.push(...vdpaToolEntries(root));

  const initramfs = gzipSync(cpioNewc(entries), { level: 9 });
  writeFileSync(join(work, 'initramfs.cpio.gz'), initramfs);
  return {
    kernelAbi: packages.kernelAbi,
    kernelRelease: release,
    packages: [...packages.kernel, ...packages.user],
    compiler: `gcc ${inputs.compiler}`,
    modules: order,
    hostrunModules: hostrunOrder,
    blkCapacitySectors: BLK_CAPACITY_SECTORS,
    builtAt: new Date().toISOString(),
    bytes: { vmlinux: statSync(join(work, 'vmlinux')).size, initramfs: initramfs.length },
  };
}

async function decompressXz(file: string): Promise<Buffer> {
  const out = `${file}.ko`;
  await run('xz', ['-dc', file], { stdout: out });
  return readFileSync(out);
}

/** Follows symlinks inside an unpacked tree, where an absolute target means the tree's root, not the host's. */
function resolveIn(root: string, path: string): string {
  for (let hops = 0; hops < 16; hops++) {
    if (!lstatSync(path).isSymbolicLink()) return path;
    const target = readlinkSync(path);
    path = isAbsolute(target) ? join(root, target) : join(dirname(path), target);
  }
  throw new Error(`too many symlinks at ${path}`);
}

function findFiles(dir: string, match: (name: string) => boolean): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...findFiles(p, match));
    else if (match(e.name)) out.push(p);
  }
  return out;
}

/**
 * Builds the out-of-tree modules; returns name → .ko path. The headers package's Makefile
 * includes the common headers by absolute path (/usr/src/…), so it is pointed at the
 * unpacked copy. No pahole: CONFIG_DEBUG_INFO_BTF_MODULES is switched off for the build.
 */
async function buildModules(root: string, source: string, release: string, tmp: string): Promise<Map<string, string>> {
  const headers = join(root, 'usr', 'src', `linux-headers-${release}`);
  const common = readFileSync(join(headers, 'Makefile'), 'utf8').match(/include\s+(\S+)/)?.[1];
  if (!common) throw new Error(`unexpected ${headers}/Makefile`);
  writeFileSync(join(headers, 'Makefile'), `include ${join(root, common)}\n`);
  const mod = join(tmp, 'modules');
  mkdirSync(mod, { recursive: true });
  for (const f of readdirSync(join(source, 'drivers', 'vdpa', 'vdpa_sim'))) if (/\.[ch]$/.test(f)) copyFileSync(join(source, 'drivers', 'vdpa', 'vdpa_sim', f), join(mod, f));
  copyFileSync(join(source, 'drivers', 'vhost', 'vringh.c'), join(mod, 'vringh.c'));
  const blk = join(mod, 'vdpa_sim_blk.c');
  const patched = readFileSync(blk, 'utf8').replace(/^#define VDPASIM_BLK_CAPACITY\s+0x[0-9a-fA-F]+$/m, `#define VDPASIM_BLK_CAPACITY\t0x${BLK_CAPACITY_SECTORS.toString(16)}`);
  if (!patched.includes(`0x${BLK_CAPACITY_SECTORS.toString(16)}`)) throw new Error('vdpa_sim_blk.c no longer defines VDPASIM_BLK_CAPACITY; the capacity patch needs a look');
  writeFileSync(blk, patched);
  writeFileSync(join(mod, 'Kbuild'), `obj-m := ${OUT_OF_TREE.map((m) => `${m}.o`).join(' ')}\n`);
  await run('make', ['-C', realpathSync(headers), `M=${mod}`, 'CONFIG_DEBUG_INFO_BTF_MODULES=', '-j2', 'modules']);
  return new Map(OUT_OF_TREE.map((m) => [m, join(mod, `${m}.ko`)]));
}

/** iproute2's `vdpa`, its ELF interpreter and every library it needs (recursively), all from the unpacked packages. */
function vdpaToolEntries(root: string): CpioEntry[] {
  const vdpa = [join(root, 'sbin', 'vdpa'), join(root, 'usr', 'sbin', 'vdpa')].find(existsSync);
  if (!vdpa) throw new MissingPackageError('iproute2 ships no vdpa tool (sbin/vdpa)');
  const libDirs = ['lib/x86_64-linux-gnu', 'usr/lib/x86_64-linux-gnu'].map((d) => join(root, d));
  const entries: CpioEntry[] = [{ kind: 'file', path: 'bin/vdpa', data: readFileSync(vdpa), mode: 0o755 }];
  const seen = new Set<string>();
  const pending = neededLibraries(readFileSync(vdpa));
  while (pending.length) {
    const lib = pending.pop()!;
    if (seen.has(lib)) continue;
    seen.add(lib);
    const found = libDirs.map((d) => join(d, lib)).find(existsSync);
    if (!found) throw new MissingPackageError(`library ${lib} (needed by vdpa) is in none of the unpacked packages; add its Debian package to USER_PACKAGES`);
    const data = readFileSync(resolveIn(root, found));
    entries.push({ kind: 'file', path: `lib/x86_64-linux-gnu/${lib}`, data, mode: 0o755 });
    pending.push(...neededLibraries(data));
  }
  const interp = 'ld-linux-x86-64.so.2';
  const loader = libDirs.map((d) => join(d, interp)).find(existsSync);
  if (!loader) throw new MissingPackageError(`${interp} not found in the unpacked libc6`);
  entries.push({ kind: 'file', path: `lib/x86_64-linux-gnu/${interp}`, data: readFileSync(resolveIn(root, loader)), mode: 0o755 });
  entries.push({ kind: 'symlink', path: `lib64/${interp}`, target: `/lib/x86_64-linux-gnu/${interp}` });
  return entries;
}

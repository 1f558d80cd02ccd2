// Which Debian packages the guest is built from, and at which versions: the
// newest 6.12 kernel for which image, headers, kbuild and source all exist
// (the point release moves every few weeks and the four do not always appear
// together), plus the user-space packages at apt's candidate version. Asks
// the local apt cache only (apt-cache; `apt-get update` is the set-up's job).
import { execFileSync } from 'node:child_process';

/** The kernel series the guest runs: the first Debian 12 kernel with vDPA and VDUSE as modules (issue 12). */
export const KERNEL_SERIES = '6.12';
const SOURCE_PACKAGE = `linux-source-${KERNEL_SERIES}`;

/**
 * User-space packages: the static shell, the `vdpa` tool and the libraries it needs. The
 * libraries are listed by package because the image holds no package manager to resolve
 * them; the builder checks every DT_NEEDED of `vdpa` is among what these unpack.
 */
export const USER_PACKAGES = ['busybox-static', 'iproute2', 'libmnl0', 'libcap2', 'libc6'] as const;

export interface DebPackage {
  readonly name: string;
  readonly version: string;
}

export interface GuestPackages {
  /** The kernel's ABI name, e.g. `6.12.118+deb12`; the flavour `-amd64` follows it in package and module directory names. */
  readonly kernelAbi: string;
  readonly kernel: readonly DebPackage[];
  readonly user: readonly DebPackage[];
}

/** A package apt does not know (at the version needed): the one line the user sees, exit 2. */
export class MissingPackageError extends Error {
  override readonly name = 'MissingPackageError';
}

/** `apt-cache madison` lines, `name | version | origin`. */
export function parseMadison(text: string): DebPackage[] {
  return text
    .split('\n')
    .map((l) => l.split('|').map((f) => f.trim()))
    .filter((f) => f.length >= 3 && f[0] && f[1])
    .map(([name, version]) => ({ name: name!, version: version! }));
}

/** `6.12.118-1~deb12u1` → `6.12.118+deb12`: the ABI name Debian gives the binary packages built from that source. */
export function kernelAbi(sourceVersion: string): string | undefined {
  const m = /^(\d+\.\d+\.\d+)-[^~]*~deb(\d+)u\d+$/.exec(sourceVersion) ?? /^(\d+\.\d+\.\d+)-\d+\+deb(\d+)/.exec(sourceVersion);
  return m ? `${m[1]}+deb${m[2]}` : undefined;
}

/** The binary packages of one kernel build that the guest needs (the source package is separate). */
export function kernelBinaryPackages(abi: string): string[] {
  return [`linux-image-${abi}-amd64`, `linux-headers-${abi}-amd64`, `linux-headers-${abi}-common`, `linux-kbuild-${abi}`];
}

function compareVersions(a: string, b: string): number {
  const pa = a.split(/[^0-9]+/).filter(Boolean).map(Number);
  const pb = b.split(/[^0-9]+/).filter(Boolean).map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? -1) - (pb[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * The newest source version whose four binary packages exist at that same version, or an error
 * naming what the newest one lacks. `available` holds `name=version` of every known package version.
 */
export function chooseKernel(sourceVersions: readonly string[], available: ReadonlySet<string>): { abi: string; version: string } {
  const sorted = [...sourceVersions].sort((a, b) => compareVersions(b, a));
  if (sorted.length === 0) throw new MissingPackageError(`Debian package ${SOURCE_PACKAGE} not found by apt-cache (run apt-get update; it is in bookworm-security / bookworm-backports)`);
  let firstMissing: string | undefined;
  for (const version of sorted) {
    const abi = kernelAbi(version);
    if (!abi) continue;
    const missing = kernelBinaryPackages(abi).find((p) => !available.has(`${p}=${version}`));
    if (!missing) return { abi, version };
    firstMissing ??= `${missing}=${version}`;
  }
  throw new MissingPackageError(`Debian package ${firstMissing ?? `linux-image for ${SOURCE_PACKAGE}`} not found: no ${KERNEL_SERIES} version has image, headers, kbuild and source together`);
}

function aptCache(args: string[]): string {
  try {
    return execFileSync('apt-cache', args, { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' }, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 16 << 20 });
  } catch (e) {
    const err = e as { code?: string; stdout?: string };
    if (err.code === 'ENOENT') throw new MissingPackageError('apt-cache not found: the guest image is built from Debian packages (Debian or Ubuntu host with apt)');
    // madison exits non-zero when some names are unknown but still prints the known ones.
    return err.stdout ?? '';
  }
}

/** `apt-cache policy` candidate versions of `names` (a package without one is missing). */
export function parseCandidates(policy: string): Map<string, string> {
  const out = new Map<string, string>();
  let current: string | undefined;
  for (const line of policy.split('\n')) {
    const head = /^(\S+):$/.exec(line);
    if (head) current = head[1];
    const cand = /^\s+Candidate:\s+(\S+)/.exec(line);
    if (current && cand && cand[1] !== '(none)') out.set(current, cand[1]!);
  }
  return out;
}

/** Every package and version the guest is built from, as apt knows them now. */
export function resolveGuestPackages(): GuestPackages {
  const sourceVersions = parseMadison(aptCache(['madison', SOURCE_PACKAGE])).filter((p) => p.name === SOURCE_PACKAGE).map((p) => p.version);
  const abis = sourceVersions.map(kernelAbi).filter((a): a is string => a !== undefined);
  const binaries = [...new Set(abis.flatMap(kernelBinaryPackages))];
  const available = new Set(binaries.length ? parseMadison(aptCache(['madison', ...binaries])).map((p) => `${p.name}=${p.version}`) : []);
  const { abi, version } = chooseKernel(sourceVersions, available);
  const candidates = parseCandidates(aptCache(['policy', ...USER_PACKAGES]));
  const user = USER_PACKAGES.map((name) => {
    const v = candidates.get(name);
    if (!v) throw new MissingPackageError(`Debian package ${name} not found by apt-cache (run apt-get update)`);
    return { name, version: v };
  });
  return {
    kernelAbi: abi,
    kernel: [...kernelBinaryPackages(abi), SOURCE_PACKAGE].map((name) => ({ name, version })),
    user,
  };
}

import { describe, expect, it } from 'vitest';
import { chooseKernel, kernelAbi, kernelBinaryPackages, MissingPackageError, parseCandidates, parseMadison } from './packages.ts';

const all = (abi: string, version: string) => kernelBinaryPackages(abi).map((p) => `${p}=${version}`);

describe('guest package resolution', () => {
  it('reads apt-cache madison and policy output', () => {
    expect(parseMadison(' linux-source-6.12 | 6.12.118-1~deb12u1 | http://mirror.example/debian-security bookworm-security/main amd64 Packages\n')).toEqual([
      { name: 'linux-source-6.12', version: '6.12.118-1~deb12u1' },
    ]);
    const policy = 'iproute2:\n  Installed: 6.1.0-3\n  Candidate: 6.1.0-3\nlibfoo:\n  Installed: (none)\n  Candidate: (none)\n';
    expect([...parseCandidates(policy)]).toEqual([['iproute2', '6.1.0-3']]);
  });

  it('derives the ABI name Debian gives the binary packages', () => {
    expect(kernelAbi('6.12.118-1~deb12u1')).toBe('6.12.118+deb12');
    expect(kernelAbi('garbage')).toBeUndefined();
  });

  it('takes the newest version for which image, headers, kbuild and source all exist', () => {
    const available = new Set([...all('6.12.117+deb12', '6.12.117-1~deb12u1'), ...all('6.12.118+deb12', '6.12.118-1~deb12u1').slice(1)]);
    // 6.12.118's image is missing, so 6.12.117 is chosen, whatever order the versions come in.
    expect(chooseKernel(['6.12.117-1~deb12u1', '6.12.118-1~deb12u1', '6.12.9-1~deb12u1'], available)).toEqual({ abi: '6.12.117+deb12', version: '6.12.117-1~deb12u1' });
    expect(chooseKernel(['6.12.118-1~deb12u1', '6.12.117-1~deb12u1'], new Set([...available, ...all('6.12.118+deb12', '6.12.118-1~deb12u1')]))).toEqual({
      abi: '6.12.118+deb12',
      version: '6.12.118-1~deb12u1',
    });
  });

  it('names the missing package when no version is complete', () => {
    expect(() => chooseKernel(['6.12.118-1~deb12u1'], new Set(all('6.12.118+deb12', '6.12.118-1~deb12u1').slice(1)))).toThrow(
      /linux-image-6\.12\.118\+deb12-amd64=6\.12\.118-1~deb12u1/,
    );
    expect(() => chooseKernel([], new Set())).toThrow(MissingPackageError);
    expect(() => chooseKernel([], new Set())).toThrow(/linux-source-6\.12/);
  });
});

// Feature-offer oracle (virtio 1.2 §2.2.1): a device MUST NOT offer a feature
// that requires another feature it does not offer. The dependency table is
// spec/features.ts; the offer is the device's own GET_FEATURES answer.
import { dependencyViolations } from '../../spec/features.ts';
import { fail, type Observation, pass } from './observation.ts';

const DEPENDENCIES_OFFERED = 'virtio.features.dependencies-offered';

export function checkOfferedDependencies(offered: bigint, deviceType: 'net' | 'blk' | 'fs'): Observation[] {
  // No virtio-fs feature bits are in the registry: only the transport bits could be judged, and none has a dependency.
  if (deviceType === 'fs') return [];
  const broken = dependencyViolations(offered, deviceType);
  return [broken.length === 0 ? pass(DEPENDENCIES_OFFERED) : fail(DEPENDENCIES_OFFERED, `offered features break their dependencies: ${broken.join('; ')}`)];
}

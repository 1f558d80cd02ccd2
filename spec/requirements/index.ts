// The whole requirement catalogue, and lookup by id. Each part lives in its
// own file by source document.
import type { Requirement } from './types.ts';
import { VDUSE_REQUIREMENTS } from './vduse.ts';
import { VHOST_KERNEL_REQUIREMENTS } from './vhostKernel.ts';
import { VHOST_USER_REQUIREMENTS } from './vhostUser.ts';
import { VHOST_VDPA_REQUIREMENTS } from './vhostVdpa.ts';
import { VIRTIO_REQUIREMENTS } from './virtio.ts';

export const ALL_REQUIREMENTS: readonly Requirement[] = [
  ...VIRTIO_REQUIREMENTS,
  ...VHOST_USER_REQUIREMENTS,
  ...VHOST_KERNEL_REQUIREMENTS,
  ...VHOST_VDPA_REQUIREMENTS,
  ...VDUSE_REQUIREMENTS,
];

const BY_ID = new Map(ALL_REQUIREMENTS.map((r) => [r.id, r]));

export function requirementById(id: string): Requirement | undefined {
  return BY_ID.get(id);
}

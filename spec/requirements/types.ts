// The shape of one entry of the requirement catalogue (DESIGN.md "spec/").
// Ids are stable and hierarchical and double as selectors; never renumber.

export const LEVELS = ['MUST', 'MUST_NOT', 'SHOULD', 'SHOULD_NOT', 'MAY', 'DE_FACTO'] as const;
export type Level = (typeof LEVELS)[number];

export const ROLES = ['device', 'driver', 'backend', 'frontend'] as const;
export type Role = (typeof ROLES)[number];

/** The documents requirements cite, in order of authority (DESIGN.md). */
export const DOCS = {
  'virtio-1.2': 'Virtual I/O Device (VIRTIO) Version 1.2, oasis-tcs/virtio-spec',
  'virtio-1.3': 'Virtual I/O Device (VIRTIO) Version 1.3 additions, oasis-tcs/virtio-spec',
  'vhost-user': 'QEMU docs/interop/vhost-user.rst',
  'linux-uapi': 'Linux UAPI headers include/uapi/linux/{vhost.h,vhost_types.h,vduse.h}',
  'vduse.rst': 'Linux Documentation/userspace-api/vduse.rst',
  'linux-code': 'Linux source (de-facto behaviour), path and function in the section field',
  profile: 'Behaviour the implementation itself declares (e.g. a loopback net device); checked only where the profile claims it',
} as const;
export type DocId = keyof typeof DOCS;

export interface RequirementSource {
  readonly doc: DocId;
  /** Section number and title, or for linux-code the file and function. */
  readonly section: string;
  /** The spec's LaTeX label (devicenormative:… / drivernormative:…) when one exists. */
  readonly label?: string;
}

export interface Requirement {
  readonly id: string;
  readonly source: RequirementSource;
  readonly level: Level;
  readonly role: Role;
  /** One line, in our own words. */
  readonly summary: string;
  /** Feature names (spec/features) that must be negotiated for the rule to apply. */
  readonly features?: readonly string[];
}

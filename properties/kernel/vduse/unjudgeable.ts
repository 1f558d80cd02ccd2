// VDUSE requirements no property judges, each with the concrete reason it
// cannot be judged from user space on this target.
export const UNJUDGEABLE: Readonly<Record<string, string>> = {
  'vduse.api.v1-asid':
    'a rule on the user-space device for API version 1 (ASID, vq groups); the suite creates every device with the version GET_API_VERSION reports, and a kernel that accepts only version 0 (the 6.12 guest: SET_API_VERSION(1) is EINVAL) has no ASID or vq-group interface to observe',
  'vduse.dataplane.after-driver-ok':
    'an obligation on the user-space device alone (when it starts reading the rings); no kernel operation has an outcome that depends on it, so there is nothing of the kernel to observe',
};

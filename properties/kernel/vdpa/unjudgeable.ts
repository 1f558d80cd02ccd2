// vhost-vdpa requirements no vdpa suite property judges, each with why it
// cannot be judged from the control plane this family drives.
export const UNJUDGEABLE: Readonly<Record<string, string>> = {
  'vhost-vdpa.frontend.enable-before-driver-ok':
    "an obligation on the suite's own driver (role frontend), not a device behaviour; the control suite breaks it on purpose to probe vhost-vdpa.enable-after-driver-ok",
  'vhost-vdpa.iotlb.batch-commit':
    "only the device's own memory accesses show whether a batched mapping is in effect; vhost-vdpa's tree (what the control plane sees through overlap refusals) is updated at each UPDATE, batch or not, so the check needs the harness data path",
};

// VDUSE requirements (ids `vduse.*`): /dev/vduse/control and /dev/vduse/$NAME, from
// Documentation/userspace-api/vduse.rst, include/uapi/linux/vduse.h and, where only
// code defines behaviour, drivers/vdpa/vdpa_user/vduse_dev.c (DE_FACTO).
//
// Roles: 'backend' = the kernel VDUSE module (what the suite tests); 'device' = the
// user-space device emulation (the part the suite plays, so these are rules the suite
// itself must follow when answering messages).
//
// Sources read (stored copies):
//   torvalds/linux Documentation/userspace-api/vduse.rst @ 7a9dc249e750975fc5bdb44439eaed57243b709d
//   torvalds/linux include/uapi/linux/vduse.h @ 079212f6877e5d07308c8998a8fbc7539ca3f8f3 (API v1, ASID)
//   /usr/include/linux/vduse.h (local, API version 0 only)
//   torvalds/linux drivers/vdpa/vdpa_user/vduse_dev.c @ 02e3f7ffe2906033da73b7c7ea8180b131d0cdbc (recent:
//     blk, net, fs allowed; vq groups) and @ 6243e3c78ace66d337a1e43b60a1aa8f5b61bd72 (old: blk only,
//     get_config without zero-fill — the L15 defect)
import type { Level, Requirement, Role } from './types.ts';

function doc(id: string, section: string, level: Level, role: Role, summary: string, features?: readonly string[]): Requirement {
  return features ? { id, source: { doc: 'vduse.rst', section }, level, role, summary, features } : { id, source: { doc: 'vduse.rst', section }, level, role, summary };
}
function uapi(id: string, section: string, level: Level, role: Role, summary: string, features?: readonly string[]): Requirement {
  return features ? { id, source: { doc: 'linux-uapi', section }, level, role, summary, features } : { id, source: { doc: 'linux-uapi', section }, level, role, summary };
}
function code(id: string, fn: string, summary: string, features?: readonly string[]): Requirement {
  const section = `drivers/vdpa/vdpa_user/vduse_dev.c: ${fn}`;
  return features ? { id, source: { doc: 'linux-code', section }, level: 'DE_FACTO', role: 'backend', summary, features } : { id, source: { doc: 'linux-code', section }, level: 'DE_FACTO', role: 'backend', summary };
}

export const VDUSE_REQUIREMENTS: readonly Requirement[] = [
  // -------------------------------------------------------------- API version
  uapi('vduse.api.get-version', 'vduse.h: VDUSE_GET_API_VERSION', 'MUST', 'backend',
    'GET_API_VERSION on a /dev/vduse/control fd returns VDUSE_API_VERSION until SET_API_VERSION changes it, then the value set.'),
  code('vduse.api.set-version-range', 'vduse_ioctl() (VDUSE_SET_API_VERSION)',
    'SET_API_VERSION above the highest version the kernel accepts fails with EINVAL and leaves the version unchanged.'),
  doc('vduse.api.v1-asid', 'Enabling ASID (API version 1)', 'MUST', 'device',
    'ASID and vq-group support are used only after SET_API_VERSION(VDUSE_API_VERSION_1) on the control fd, before CREATE_DEV.'),

  // ---------------------------------------------------------------- creation
  doc('vduse.create.sequence', 'Create/Destroy VDUSE devices', 'MUST', 'device',
    'A device is created with CREATE_DEV, each vq set up with VQ_SETUP, message processing started, and only then attached with VDPA_CMD_DEV_NEW.'),
  uapi('vduse.create.reserved-zero', 'vduse.h: struct vduse_dev_config (reserved); drivers/vdpa/vdpa_user/vduse_dev.c vduse_validate_config()', 'MUST', 'backend',
    'CREATE_DEV with any non-zero reserved word fails with EINVAL.'),
  code('vduse.create.vq-num-limit', 'vduse_validate_config()',
    'CREATE_DEV with vq_num > 0xffff fails with EINVAL and allocates nothing.'),
  code('vduse.create.config-size-limit', 'vduse_validate_config()',
    'CREATE_DEV with config_size or vq_align larger than PAGE_SIZE fails with EINVAL.'),
  code('vduse.create.name', 'vduse_validate_config(), vduse_ioctl() (VDUSE_CREATE_DEV), vduse_create_dev()',
    'An empty name fails with EINVAL; the name is cut to 255 bytes; a name already in use fails with EEXIST.'),
  doc('vduse.create.device-type', 'VDUSE - "vDPA Device in Userspace"; drivers/vdpa/vdpa_user/vduse_dev.c allowed_device_id[], device_is_allowed()', 'MUST', 'backend',
    'CREATE_DEV accepts only allowed device ids (blk; recent kernels also net and fs) and fails with EINVAL for any other; net needs CAP_NET_ADMIN (EPERM).'),
  code('vduse.create.features-access-platform', 'features_is_valid()',
    'CREATE_DEV whose features lack VIRTIO_F_ACCESS_PLATFORM fails with EINVAL.'),
  code('vduse.create.features-readonly-config', 'features_is_valid()',
    'CREATE_DEV offering a writable-config feature (blk CONFIG_WCE, net CTRL_VQ) fails with EINVAL; a net device without VERSION_1 fails too.'),
  code('vduse.create.ngroups', 'vduse_validate_config()',
    'With API version 0 ngroups must be 0; with version 1 it must be 1..0xffff; otherwise CREATE_DEV fails with EINVAL.'),
  code('vduse.create.attach-needs-vq-setup', 'vdpa_dev_add(), vduse_dev_is_ready()',
    'Attaching (VDPA_CMD_DEV_NEW) fails with EINVAL while any vq has max_size 0 (not set up with VQ_SETUP).'),

  // ------------------------------------------------------------------ destroy
  doc('vduse.destroy.sequence', 'Create/Destroy VDUSE devices', 'MUST', 'device',
    'A device is destroyed by detaching it (VDPA_CMD_DEV_DEL), closing /dev/vduse/$NAME, then DESTROY_DEV.'),
  code('vduse.destroy.busy', 'vduse_destroy_dev()',
    'DESTROY_DEV of a device still attached or with its fd open fails with EBUSY; of an unknown name with EINVAL.'),
  code('vduse.dev.single-open', 'vduse_dev_open()',
    '/dev/vduse/$NAME can be open only once at a time: a second open fails with EBUSY.'),
  code('vduse.dev.reconnect-replays', 'vduse_dev_release()',
    'Requests read but not answered when the fd is closed are queued again and delivered after reopening.'),

  // ---------------------------------------------------------- control messages
  doc('vduse.msg.response-id', 'How VDUSE works', 'MUST', 'device',
    'Every request read from /dev/vduse/$NAME is answered by writing a response with the same request_id and a result (0 OK, 1 FAILED).'),
  code('vduse.msg.read-size', 'vduse_dev_read_iter()',
    'read() with a buffer smaller than struct vduse_dev_request fails with EINVAL; with O_NONBLOCK and nothing queued, EAGAIN.'),
  code('vduse.msg.write-checked', 'vduse_dev_write_iter()',
    'A short response write fails with EINVAL, a non-zero reserved field with EINVAL, an unknown or already answered request_id with ENOENT.'),
  code('vduse.msg.result', 'vduse_dev_msg_sync()',
    'A response with result other than OK makes the kernel operation fail (vduse_dev_msg_sync returns EIO; the driver-side call reports an error of its own, e.g. vhost-vdpa an IOTLB write with EFAULT); the request is not retried.'),
  code('vduse.msg.timeout-broken', 'vduse_dev_msg_sync(), vduse_dev_broken(), vduse_dev_ioctl()',
    'A request left unanswered past msg_timeout marks the device broken: pending requests fail, poll reports EPOLLERR, device ioctls fail with EPERM.'),
  doc('vduse.msg.get-vq-state', 'How VDUSE works: VDUSE_GET_VQ_STATE', 'MUST', 'device',
    'The device answers GET_VQ_STATE with the avail index (split) or both wrap counters and avail/used indices (packed).'),
  code('vduse.msg.get-vq-state-masked', 'vduse_dev_get_vq_state_packed()',
    'Packed vq state from user space is masked (counters to 1 bit, indices to 15 bits) before use.', ['RING_PACKED']),
  doc('vduse.msg.set-status', 'How VDUSE works: VDUSE_SET_STATUS', 'MUST', 'device',
    'The device handles SET_STATUS per the virtio spec, failing FEATURES_OK if it cannot accept the features from VDUSE_DEV_GET_FEATURES.'),
  code('vduse.msg.set-status-failed', 'vduse_vdpa_set_status()',
    'If the device answers SET_STATUS with FAILED, the kernel keeps the previous status.'),
  doc('vduse.msg.update-iotlb', 'How VDUSE works: VDUSE_UPDATE_IOTLB', 'MUST', 'device',
    'On UPDATE_IOTLB the device drops its mappings for the given IOVA range, then re-maps via VDUSE_IOTLB_GET_FD.'),
  doc('vduse.dataplane.after-driver-ok', 'How VDUSE works', 'SHOULD', 'device',
    'The device starts dataplane processing only after DRIVER_OK was set through SET_STATUS.'),

  // ---------------------------------------------------------------- features
  uapi('vduse.features.get', 'vduse.h: VDUSE_DEV_GET_FEATURES', 'MUST', 'backend',
    'DEV_GET_FEATURES returns the driver features, a subset of those offered at creation, valid once FEATURES_OK is set.'),

  // ------------------------------------------------------------------- config
  code('vduse.config.zero-fill', 'vduse_vdpa_get_config()',
    'A driver config read is zero-filled first and clamped to config_size - offset; bytes beyond the config space read as zero, never stale memory.'),
  code('vduse.config.set-bounds', 'vduse_dev_ioctl() (VDUSE_DEV_SET_CONFIG)',
    'DEV_SET_CONFIG with length 0, offset > config_size or offset+length beyond config_size fails with EINVAL.'),
  code('vduse.config.read-only', 'vduse_vdpa_set_config()',
    'Driver writes to the config space are ignored: VDUSE config space is read-only to the driver.'),
  uapi('vduse.config.inject-irq', 'vduse.h: VDUSE_DEV_INJECT_CONFIG_IRQ; drivers/vdpa/vdpa_user/vduse_dev.c vduse_dev_queue_irq_work()', 'MUST', 'backend',
    'INJECT_CONFIG_IRQ signals a config change to the driver; before DRIVER_OK it fails with EINVAL.'),

  // ---------------------------------------------------------------- virtqueues
  code('vduse.vq.setup', 'vduse_dev_ioctl() (VDUSE_VQ_SETUP)',
    'VQ_SETUP with index >= vq_num, non-zero reserved fields, or a group invalid for the API version fails with EINVAL.'),
  code('vduse.vq.get-info', 'vduse_dev_ioctl() (VDUSE_VQ_GET_INFO)',
    'VQ_GET_INFO with index >= vq_num fails with EINVAL; otherwise it reports size, ring IOVAs, state and ready as set by the driver.'),
  uapi('vduse.vq.kickfd', 'vduse.h: VDUSE_VQ_SETUP_KICKFD; drivers/vdpa/vdpa_user/vduse_dev.c vduse_kickfd_setup()', 'MUST', 'backend',
    'VQ_SETUP_KICKFD installs the eventfd signalled on driver kicks (fd -1 removes it); an index >= vq_num fails with EINVAL.'),
  code('vduse.vq.kick-pending', 'vduse_vq_kick(), vduse_kickfd_setup()',
    'A kick on a ready vq with no kickfd is remembered and signalled as soon as a kickfd is installed.'),
  uapi('vduse.vq.inject-irq', 'vduse.h: VDUSE_VQ_INJECT_IRQ; drivers/vdpa/vdpa_user/vduse_dev.c vduse_dev_ioctl()', 'MUST', 'backend',
    'VQ_INJECT_IRQ notifies the driver of used buffers on that vq; index >= vq_num fails with EINVAL and a vq that is not ready gets no notification.'),
  code('vduse.reset.clears', 'vduse_vdpa_reset(), vduse_dev_reset()',
    'A driver reset clears status and driver features, marks every vq not ready, zeroes its addresses and state, and drops its kickfd.'),

  // --------------------------------------------------------------------- IOTLB
  uapi('vduse.iotlb.get-fd', 'vduse.h: VDUSE_IOTLB_GET_FD', 'MUST', 'backend',
    'IOTLB_GET_FD returns an fd for the first IOVA region overlapping [start, last] and fills offset, start, last, perm; no such region gives EINVAL.'),
  code('vduse.iotlb.get-fd-range', 'vduse_dev_ioctl() (VDUSE_IOTLB_GET_FD)',
    'IOTLB_GET_FD with start > last fails with EINVAL.'),
  code('vduse.iotlb.get-fd-perm', 'vduse_dev_ioctl() (VDUSE_IOTLB_GET_FD), perm_to_file_flags()',
    'The returned fd is opened read-only, write-only or read-write to match the region permission.'),
  code('vduse.iotlb.get-info', 'vduse_dev_ioctl() (VDUSE_IOTLB_GET_INFO)',
    'IOTLB_GET_INFO with start > last or non-zero reserved fails with EINVAL; it reports the first overlapping region and whether it supports user memory.'),
  code('vduse.iotlb.reg-umem', 'vduse_dev_reg_umem(), vduse_dev_dereg_umem()',
    'IOTLB_REG_UMEM needs iova 0, size equal to the bounce size and a page-aligned uaddr (else EINVAL); a second registration gives EEXIST.'),
];

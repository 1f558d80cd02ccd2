// vhost-vdpa requirements (ids `vhost-vdpa.*`): /dev/vhost-vdpa-N ioctls and IOTLB
// writes, from the UAPI header comments and drivers/vhost/vdpa.c (DE_FACTO).
//
// Sources read (stored copies):
//   /usr/include/linux/vhost.h, /usr/include/linux/vhost_types.h (local)
//   Mellanox/nic-kernel include/uapi/linux/vhost_types.h @ f8b9f339c2eeb1bfb2b219497061c8dcc3848fca
//     (comment of VHOST_BACKEND_F_ENABLE_AFTER_DRIVER_OK, RESUME, DESC_ASID, IOTLB_PERSIST)
//   torvalds/linux drivers/vhost/vdpa.c @ ee4c9c95ffca4fd0fb90bc964adcfeb4473579ff (6.x, SUSPEND)
//   ColinIanKing/linux-next drivers/vhost/vdpa.c @ 10cbf8dfaf936e3ef1f5d7fdc6e9dada268ba6bb (RESUME,
//     DESC_ASID, IOTLB_PERSIST)
//   Mellanox/nic-kernel drivers/vhost/vdpa.c @ 2700e5fdbce7fd840ab9548406b1804aa5ba0ccd (most recent)
//   The VHOST_VDPA_RESUME comment is quoted from include/uapi/linux/vhost.h in the
//   upstream review threads (the stored torvalds vhost.h predates it).
//
// IOTLB messages reach vdpa through vhost_chr_write_iter() (drivers/vhost/vhost.c), which
// reports any handler error as EFAULT: the EINVAL/EEXIST below are what the handler
// returns, write() sees EFAULT.
import type { Level, Requirement, Role } from './types.ts';

function uapi(id: string, section: string, level: Level, role: Role, summary: string, features?: readonly string[]): Requirement {
  return features ? { id, source: { doc: 'linux-uapi', section }, level, role, summary, features } : { id, source: { doc: 'linux-uapi', section }, level, role, summary };
}
function code(id: string, fn: string, summary: string, features?: readonly string[]): Requirement {
  const section = `drivers/vhost/vdpa.c: ${fn}`;
  return features ? { id, source: { doc: 'linux-code', section }, level: 'DE_FACTO', role: 'backend', summary, features } : { id, source: { doc: 'linux-code', section }, level: 'DE_FACTO', role: 'backend', summary };
}

export const VHOST_VDPA_REQUIREMENTS: readonly Requirement[] = [
  // ----------------------------------------------------------- open, identity
  code('vhost-vdpa.open-exclusive', 'vhost_vdpa_open()',
    'A second open() of a vhost-vdpa device that is already open fails with EBUSY.'),
  code('vhost-vdpa.open-release-reset', 'vhost_vdpa_open(), vhost_vdpa_release()',
    'Opening and closing the device reset it: a new session starts from status 0, and close unmaps every IOTLB entry.'),
  uapi('vhost-vdpa.device-id', 'vhost.h: VHOST_VDPA_GET_DEVICE_ID', 'MUST', 'backend',
    'GET_DEVICE_ID returns the virtio device id (1 net, 2 blk, ...).'),
  uapi('vhost-vdpa.config-size', 'vhost.h: VHOST_VDPA_GET_CONFIG_SIZE', 'MUST', 'backend',
    'GET_CONFIG_SIZE returns the size of the device config space.'),
  uapi('vhost-vdpa.vqs-count', 'vhost.h: VHOST_VDPA_GET_VQS_COUNT', 'MUST', 'backend',
    'GET_VQS_COUNT returns the number of virtqueues of the device.'),

  // ------------------------------------------------------------ status, reset
  uapi('vhost-vdpa.status.virtio-bits', 'vhost.h: VHOST_VDPA_GET_STATUS, VHOST_VDPA_SET_STATUS', 'MUST', 'backend',
    'GET/SET_STATUS carry the virtio device status byte with virtio semantics (FEATURES_OK reads back clear if refused).'),
  code('vhost-vdpa.status.no-bit-removal', 'vhost_vdpa_set_status()',
    'SET_STATUS with a non-zero value that clears a bit currently set fails with EINVAL; only 0 may remove bits.'),
  code('vhost-vdpa.status.reset', 'vhost_vdpa_set_status(), _compat_vdpa_reset()',
    'SET_STATUS 0 resets the device through the parent; afterwards status reads 0 and a failed reset is reported as an error.'),
  code('vhost-vdpa.features.locked-after-features-ok', 'vhost_vdpa_set_features()',
    'SET_FEATURES once FEATURES_OK is set fails with EBUSY.'),

  // ------------------------------------------------------------------ vrings
  code('vhost-vdpa.vring.index-range', 'vhost_vdpa_vring_ioctl() (idx >= v->nvqs)',
    'Any vring ioctl with an index >= the number of vqs fails with ENOBUFS.'),
  uapi('vhost-vdpa.vring.num-max', 'vhost.h: VHOST_VDPA_GET_VRING_NUM; drivers/vhost/vdpa.c vhost_vdpa_get_vring_num()', 'MUST', 'backend',
    'GET_VRING_NUM returns the maximum ring size (u16) the parent device supports.'),
  uapi('vhost-vdpa.enable-after-driver-ok', 'vhost_types.h: VHOST_BACKEND_F_ENABLE_AFTER_DRIVER_OK (0x6)', 'MAY', 'backend',
    'Only a device offering ENABLE_AFTER_DRIVER_OK supports enabling a vq after DRIVER_OK; without it a late SET_VRING_ENABLE may be rejected (EINVAL) or ineffective.'),
  uapi('vhost-vdpa.frontend.enable-before-driver-ok', 'vhost_types.h: VHOST_BACKEND_F_ENABLE_AFTER_DRIVER_OK (0x6)', 'SHOULD', 'frontend',
    'Unless ENABLE_AFTER_DRIVER_OK is negotiated, the suite enables every vq it uses before setting DRIVER_OK.'),
  uapi('vhost-vdpa.config-call', 'vhost.h: VHOST_VDPA_SET_CONFIG_CALL; drivers/vhost/vdpa.c vhost_vdpa_set_config_call()', 'MUST', 'backend',
    'SET_CONFIG_CALL installs the eventfd signalled on config changes; fd -1 removes it.'),

  // ------------------------------------------------------------------- config
  code('vhost-vdpa.config.bounds', 'vhost_vdpa_config_validate(), vhost_vdpa_get_config(), vhost_vdpa_set_config()',
    'GET/SET_CONFIG with len 0, off > config size, or off+len beyond the config size fails with EINVAL.'),
  code('vhost-vdpa.config.zero-init', 'vhost_vdpa_get_config() (kvzalloc)',
    'GET_CONFIG returns exactly len bytes; bytes the parent does not provide read as zero.'),

  // ------------------------------------------------------- backend features
  code('vhost-vdpa.backend-features.offered', 'vhost_vdpa_unlocked_ioctl() (VHOST_GET_BACKEND_FEATURES)',
    'GET_BACKEND_FEATURES includes IOTLB_MSG_V2, IOTLB_BATCH and IOTLB_ASID, plus SUSPEND/RESUME only if the parent implements them.'),
  code('vhost-vdpa.backend-features.unsupported-rejected', 'vhost_vdpa_unlocked_ioctl() (VHOST_SET_BACKEND_FEATURES)',
    'SET_BACKEND_FEATURES with an unknown bit, or SUSPEND/RESUME/DESC_ASID/IOTLB_PERSIST the parent lacks, fails with EOPNOTSUPP; DESC_ASID without IOTLB_ASID fails with EINVAL.'),
  code('vhost-vdpa.log-unsupported', 'vhost_vdpa_unlocked_ioctl() (VHOST_SET_LOG_BASE, VHOST_SET_LOG_FD)',
    'SET_LOG_BASE and SET_LOG_FD are not supported: they fail (ENOTTY) and change nothing.'),

  // -------------------------------------------------------------------- IOTLB
  uapi('vhost-vdpa.iotlb.v2', 'vhost_types.h: VHOST_BACKEND_F_IOTLB_MSG_V2', 'MUST', 'backend',
    'With IOTLB_MSG_V2 negotiated, IOTLB writes use struct vhost_msg_v2 (type 2, u32 asid).', ['VHOST_BACKEND_F_IOTLB_MSG_V2']),
  code('vhost-vdpa.iotlb.owner-required', 'vhost_vdpa_process_iotlb_msg() (vhost_dev_check_owner)',
    'IOTLB messages from a process that is not the owner fail and change no mapping.'),
  code('vhost-vdpa.iotlb.update-range', 'vhost_vdpa_process_iotlb_update()',
    'An UPDATE with size 0, iova below the IOVA range first, iova+size wrapping 2^64, or last byte above the range last is rejected and maps nothing.'),
  code('vhost-vdpa.iotlb.overlap-rejected', 'vhost_vdpa_process_iotlb_update() (EEXIST)',
    'An UPDATE overlapping an existing mapping of the same ASID is rejected; the existing mapping is unchanged.'),
  code('vhost-vdpa.iotlb.invalidate', 'vhost_vdpa_process_iotlb_msg(), vhost_vdpa_unmap(), vhost_vdpa_iotlb_unmap()',
    'INVALIDATE of [iova, iova+size-1] removes every map overlapping that range, whole maps included (a parent without use_va maps each physically contiguous page run of an UPDATE separately, so of an UPDATE only its pages overlapping the range are certain to go).'),
  uapi('vhost-vdpa.iotlb.batch', 'vhost_types.h: VHOST_IOTLB_BATCH_BEGIN, VHOST_IOTLB_BATCH_END; VHOST_BACKEND_F_IOTLB_BATCH', 'MUST', 'backend',
    'Between BATCH_BEGIN and BATCH_END any number of updates may be sent; fields other than type are ignored in BEGIN/END; atomicity is not promised.', ['VHOST_BACKEND_F_IOTLB_BATCH']),
  code('vhost-vdpa.iotlb.batch-commit', 'vhost_vdpa_process_iotlb_msg() (VHOST_IOTLB_BATCH_END), vhost_vdpa_map()',
    'Mappings changed inside a batch are in effect at the latest after BATCH_END.', ['VHOST_BACKEND_F_IOTLB_BATCH']),
  code('vhost-vdpa.iotlb.batch-asid-mismatch', 'vhost_vdpa_process_iotlb_msg() (in_batch && batch_asid != asid)',
    'Inside a batch, a message for an ASID other than the batch ASID is rejected.', ['VHOST_BACKEND_F_IOTLB_BATCH', 'VHOST_BACKEND_F_IOTLB_ASID']),
  uapi('vhost-vdpa.iova-range.get', 'vhost_types.h: struct vhost_vdpa_iova_range; vhost.h VHOST_VDPA_GET_IOVA_RANGE', 'MUST', 'backend',
    'GET_IOVA_RANGE returns the first and last IOVA that can be mapped; maps outside it are rejected.'),

  // ---------------------------------------------------------------------- ASID
  uapi('vhost-vdpa.asid.get-as-num', 'vhost.h: VHOST_VDPA_GET_AS_NUM', 'MUST', 'backend',
    'GET_AS_NUM returns the number of address spaces; valid ASIDs are 0..n-1.'),
  uapi('vhost-vdpa.asid.get-group-num', 'vhost.h: VHOST_VDPA_GET_GROUP_NUM', 'MUST', 'backend',
    'GET_GROUP_NUM returns the number of virtqueue groups.'),
  uapi('vhost-vdpa.asid.get-vring-group', 'vhost.h: VHOST_VDPA_GET_VRING_GROUP; drivers/vhost/vdpa.c vhost_vdpa_vring_ioctl()', 'MUST', 'backend',
    'GET_VRING_GROUP returns in num the group (< group count) of the vq named by index; without parent support it fails (EOPNOTSUPP).'),
  uapi('vhost-vdpa.asid.set-group-asid', 'vhost.h: VHOST_VDPA_SET_GROUP_ASID; drivers/vhost/vdpa.c vhost_vdpa_vring_ioctl()', 'MUST', 'backend',
    'SET_GROUP_ASID binds group index to ASID num; a group >= the group count or num >= the AS count fails with EINVAL (an index >= the vq count first fails with ENOBUFS, as for every vring ioctl), a parent without ASID support gives EOPNOTSUPP.'),
  code('vhost-vdpa.asid.alloc-limit', 'vhost_vdpa_alloc_as(), vhost_vdpa_process_iotlb_msg()',
    'An UPDATE or BATCH_BEGIN for an ASID >= the AS count is rejected; INVALIDATE of an ASID never mapped is rejected.', ['VHOST_BACKEND_F_IOTLB_ASID']),
  uapi('vhost-vdpa.asid.needs-feature', 'vhost_types.h: VHOST_BACKEND_F_IOTLB_ASID; drivers/vhost/vhost.c vhost_chr_write_iter()', 'MUST', 'backend',
    'Only with IOTLB_ASID is the asid field of a V2 message used; otherwise it is skipped and ASID 0 applies.', ['VHOST_BACKEND_F_IOTLB_MSG_V2']),

  // ---------------------------------------------------------- suspend/resume
  uapi('vhost-vdpa.suspend', 'vhost.h: VHOST_VDPA_SUSPEND', 'MUST', 'backend',
    'After SUSPEND returns the device processes no vq requests, keeps its state (vring bases) for later restore and does not change its config.', ['VHOST_BACKEND_F_SUSPEND']),
  code('vhost-vdpa.suspend.unsupported', 'vhost_vdpa_suspend()',
    'SUSPEND on a parent without suspend support fails with EOPNOTSUPP once DRIVER_OK is set (before it, newer kernels, 6.12 included, return 0 without asking the parent).'),
  code('vhost-vdpa.suspend.base-readable', 'vhost_vdpa_vring_ioctl() (VHOST_GET_VRING_BASE)',
    'After SUSPEND, GET_VRING_BASE reports the device index at which processing stopped (split: avail index; packed: indices and wrap counters).', ['VHOST_BACKEND_F_SUSPEND']),
  uapi('vhost-vdpa.resume', 'vhost.h: VHOST_VDPA_RESUME', 'MUST', 'backend',
    'After RESUME returns the device has restored its state and processes vq descriptors again as before the suspend.', ['VHOST_BACKEND_F_RESUME']),
  code('vhost-vdpa.resume.unsupported', 'vhost_vdpa_resume()',
    'RESUME on a parent without resume support fails with EOPNOTSUPP once DRIVER_OK is set (before it, newer kernels, 6.12 included, return 0 without asking the parent).'),
];

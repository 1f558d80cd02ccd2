// vhost kernel requirements (ids `vhost.*`): the generic vhost ioctls and the device
// IOTLB, from the UAPI header comments and, where only code defines behaviour, from
// drivers/vhost/vhost.c (DE_FACTO, citing file and function).
//
// Sources read (stored copies):
//   /usr/include/linux/vhost.h, /usr/include/linux/vhost_types.h (local, authoritative)
//   torvalds/linux include/uapi/linux/vhost_types.h @ 0723f1df5c3ec8a1112d150dab98e149361ef488
//   torvalds/linux drivers/vhost/vhost.c @ 737bdb643c4f488defd6c226eb40de2c8f6e3f75
//   ColinIanKing/linux-next drivers/vhost/vhost.c @ 06a1fa9a0b79be71b7426ed792cf189b2b0ffac6
//     (newer: VHOST_IOTLB_INVALIDATE with size 0 accepted, UPDATE with size 0 still EINVAL)
//
// Errno notes that matter to the model: vhost_chr_write_iter() turns any error from
// the IOTLB message handler into EFAULT; only framing errors and size-0 UPDATE are
// EINVAL. ENOIOCTLCMD from a driver reaches user space as ENOTTY.
import type { Level, Requirement, Role } from './types.ts';

function uapi(id: string, section: string, level: Level, role: Role, summary: string, features?: readonly string[]): Requirement {
  return features ? { id, source: { doc: 'linux-uapi', section }, level, role, summary, features } : { id, source: { doc: 'linux-uapi', section }, level, role, summary };
}
function code(id: string, fn: string, summary: string, features?: readonly string[]): Requirement {
  const section = `drivers/vhost/vhost.c: ${fn}`;
  return features ? { id, source: { doc: 'linux-code', section }, level: 'DE_FACTO', role: 'backend', summary, features } : { id, source: { doc: 'linux-code', section }, level: 'DE_FACTO', role: 'backend', summary };
}

export const VHOST_KERNEL_REQUIREMENTS: readonly Requirement[] = [
  // --------------------------------------------------------------- ownership
  uapi('vhost.owner.set-first', 'vhost.h: VHOST_SET_OWNER', 'MUST', 'frontend',
    'The suite issues VHOST_SET_OWNER before any other vhost command on a freshly opened fd.'),
  code('vhost.owner.required', 'vhost_dev_ioctl(), vhost_dev_check_owner()',
    'Device ioctls other than SET_OWNER (mem table, log, vring setup) fail with EPERM from a process that is not the owner.'),
  uapi('vhost.owner.exclusive', 'vhost.h: VHOST_SET_OWNER', 'MUST', 'backend',
    'A second VHOST_SET_OWNER fails (EBUSY in vhost_dev_set_owner) until VHOST_RESET_OWNER.'),
  uapi('vhost.owner.reset', 'vhost.h: VHOST_RESET_OWNER', 'MUST', 'backend',
    'VHOST_RESET_OWNER gives up ownership and resets the device to defaults; a later SET_OWNER succeeds.'),

  // ------------------------------------------------------------------- vrings
  code('vhost.vring.index-range', 'vhost_vring_ioctl() (idx >= d->nvqs)',
    'A vring ioctl whose 32-bit index is >= the number of vqs fails with ENOBUFS.'),
  uapi('vhost.vring.num-immutable', 'vhost.h: VHOST_SET_VRING_NUM', 'MUST_NOT', 'backend',
    'The ring size cannot change while the ring is running (bound to a device): SET_VRING_NUM then fails (the vhost core gives EBUSY; vhost.h names no errno).'),
  code('vhost.vring.num-valid', 'vhost_vring_set_num()',
    'SET_VRING_NUM with num 0, num > 0xffff or num not a power of two fails with EINVAL.'),
  uapi('vhost.vring.addr-alignment', 'vhost_types.h: struct vhost_vring_addr', 'MUST', 'frontend',
    'The suite passes a used ring address aligned to 4, an avail ring address aligned to 2 and a log_guest_addr aligned to 4.'),
  code('vhost.vring.addr-checked', 'vhost_vring_set_addr()',
    'SET_VRING_ADDR with flags other than VHOST_VRING_F_LOG fails with EOPNOTSUPP; a misaligned avail/used/log address fails with EINVAL.'),
  code('vhost.vring.base-busy', 'vhost_vring_ioctl() (VHOST_SET_VRING_BASE)',
    'SET_VRING_BASE on a running ring fails with EBUSY; for a split ring a base > 0xffff fails with EINVAL.'),
  uapi('vhost.vring.get-base', 'vhost.h: VHOST_GET_VRING_BASE', 'MUST', 'backend',
    'GET_VRING_BASE reads the index and writes the next avail index in num (packed: avail in bits 0-15, used in 16-31).'),
  uapi('vhost.vring.endian', 'vhost.h: VHOST_SET_VRING_ENDIAN', 'MUST', 'backend',
    'Where supported, SET_VRING_ENDIAN accepts only 0 (little) or 1 (big), else EINVAL; changing it while the device is active gives EBUSY.'),
  uapi('vhost.vring.file-unbind', 'vhost_types.h: struct vhost_vring_file; vhost.h VHOST_FILE_UNBIND', 'MUST', 'backend',
    'SET_VRING_KICK/CALL/ERR with fd -1 (VHOST_FILE_UNBIND) detaches the eventfd instead of failing.'),

  // ------------------------------------------------------------- memory table
  code('vhost.mem.region-limit', 'vhost_set_memory()',
    'SET_MEM_TABLE with non-zero padding fails with EOPNOTSUPP and with more than max_mem_regions (default 64) regions with E2BIG.'),
  code('vhost.mem.overflow', 'vhost_overflow(), vq_memory_access_ok()',
    'A region whose userspace_addr+memory_size wraps past 2^64 is refused (EFAULT) once a ring is active.'),
  uapi('vhost.mem.page-aligned', 'vhost_types.h: VHOST_PAGE_SIZE', 'MUST', 'frontend',
    'The suite gives memory regions addresses and sizes aligned to 4 KiB (except in hostile tests).'),

  // ---------------------------------------------------------------- dirty log
  uapi('vhost.log.all-live', 'vhost_types.h: VHOST_F_LOG_ALL', 'MAY', 'frontend',
    'VHOST_F_LOG_ALL may be set or cleared while the device is active.', ['VHOST_F_LOG_ALL']),
  code('vhost.log.base-checked', 'vhost_dev_ioctl() (VHOST_SET_LOG_BASE), log_access_ok()',
    'SET_LOG_BASE whose log area cannot cover guest memory, or whose base+offset overflows, fails with EFAULT for active rings.'),
  code('vhost.log.bound', 'vhost_get_vq_desc(), get_indirect(), vhost_log_write()',
    'Dirty-log entries are produced only for device-writable descriptors (log_num <= in_num) and the bytes logged never exceed the length written.',
    ['VHOST_F_LOG_ALL']),

  // ---------------------------------------------------------------- descriptors
  code('vhost.desc.avail-runaway', 'vhost_get_vq_desc()',
    'An avail index more than num ahead of the last seen index is an error (EFAULT, vq_err), no head is consumed.'),
  code('vhost.desc.head-range', 'vhost_get_vq_desc()',
    'A head or next index >= num is rejected (EINVAL); a chain longer than num is treated as a loop and rejected.'),
  code('vhost.desc.indirect-checked', 'get_indirect()',
    'An indirect table whose length is not a multiple of 16, holds more than 65536 entries, nests another indirect, or loops is rejected.'),
  code('vhost.desc.out-after-in', 'vhost_get_vq_desc(), get_indirect()',
    'A device-readable descriptor after a device-writable one in the same chain is rejected.'),

  // -------------------------------------------------------------------- IOTLB
  code('vhost.iotlb.update-zero-size-rejected', 'vhost_chr_write_iter()',
    'An IOTLB UPDATE with size 0 is rejected with EINVAL (never turned into a 2^64-long range).'),
  code('vhost.iotlb.invalidate-zero-size', 'vhost_chr_write_iter() (newer kernels)',
    'An IOTLB INVALIDATE with size 0 is rejected with EINVAL by older kernels and accepted by newer ones; both are conforming.'),
  code('vhost.iotlb.msg-size-mismatch', 'vhost_chr_write_iter()',
    'A write() shorter than the message (type, padding/asid, vhost_iotlb_msg) fails with EINVAL; a complete one returns sizeof(vhost_msg) or sizeof(vhost_msg_v2).'),
  code('vhost.iotlb.msg-type', 'vhost_chr_write_iter(), vhost_process_iotlb_msg()',
    'A message type other than VHOST_IOTLB_MSG/MSG_V2 fails with EINVAL; an iotlb type other than UPDATE/INVALIDATE fails (EFAULT).'),
  code('vhost.iotlb.update-uaddr-checked', 'umem_access_ok(), vhost_process_iotlb_msg()',
    'An UPDATE whose uaddr+size wraps, or which grants read or write access to memory that is not user memory, fails (EFAULT) and adds no mapping.'),
  code('vhost.iotlb.translate-whole-range', 'translate_desc()',
    'A buffer [addr, addr+len-1] is translated piecewise over every mapping it crosses, each piece min(remaining, mapping end); any gap fails the buffer.'),
  code('vhost.iotlb.perm-enforced', 'translate_desc(), iotlb_access_ok()',
    'A device write through a read-only mapping, or a read through a write-only one, is refused (EPERM) and no data moves.'),
  code('vhost.iotlb.invalidate-removes', 'vhost_process_iotlb_msg() (VHOST_IOTLB_INVALIDATE)',
    'After INVALIDATE of [iova, iova+size-1] no mapping in that range is used; the next access misses.'),
  code('vhost.iotlb.miss-on-unmapped', 'translate_desc(), iotlb_access_ok(), vhost_iotlb_miss()',
    'An access to an unmapped IOVA queues a MISS message (type 1, iova, perm) readable from the device fd, and the request waits for an UPDATE.'),
  code('vhost.iotlb.update-resumes', 'vhost_iotlb_notify_vq()',
    'An UPDATE covering the IOVA of a pending miss requeues the waiting ring so it makes progress.'),
  code('vhost.iotlb.no-info-leak', 'vhost_new_msg() (kzalloc), vhost_chr_read_iter()',
    'Every byte of a message read from the device fd is initialised: padding and unused fields are zero.'),
  code('vhost.iotlb.read-short-buffer', 'vhost_chr_read_iter()',
    'A read() with a buffer smaller than struct vhost_msg returns 0 and consumes no message.'),
  code('vhost.iotlb.asid-zero-only', 'vhost_process_iotlb_msg()',
    'The generic vhost IOTLB handler accepts only ASID 0; another ASID fails.'),
  uapi('vhost.iotlb.msg-v2', 'vhost_types.h: VHOST_BACKEND_F_IOTLB_MSG_V2, struct vhost_msg_v2', 'MUST', 'backend',
    'With backend feature IOTLB_MSG_V2, IOTLB messages use struct vhost_msg_v2 (u32 type, u32 asid) in both directions.', ['VHOST_BACKEND_F_IOTLB_MSG_V2']),
  uapi('vhost.backend-features.get', 'vhost.h: VHOST_GET_BACKEND_FEATURES, VHOST_SET_BACKEND_FEATURES', 'MUST', 'backend',
    'GET_BACKEND_FEATURES reports the vhost backend capability bits; SET_BACKEND_FEATURES selects a subset.'),
];

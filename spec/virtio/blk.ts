// virtio-blk: virtio 1.2 §5.2; linux/virtio_blk.h.
import { defineStruct } from '../codec.ts';

export const VIRTIO_ID_BLOCK = 2;

export const VIRTIO_BLK_F_BARRIER = 0;
export const VIRTIO_BLK_F_SIZE_MAX = 1;
export const VIRTIO_BLK_F_SEG_MAX = 2;
export const VIRTIO_BLK_F_GEOMETRY = 4;
export const VIRTIO_BLK_F_RO = 5;
export const VIRTIO_BLK_F_BLK_SIZE = 6;
export const VIRTIO_BLK_F_SCSI = 7;
export const VIRTIO_BLK_F_FLUSH = 9;
export const VIRTIO_BLK_F_TOPOLOGY = 10;
export const VIRTIO_BLK_F_CONFIG_WCE = 11;
export const VIRTIO_BLK_F_MQ = 12;
export const VIRTIO_BLK_F_DISCARD = 13;
export const VIRTIO_BLK_F_WRITE_ZEROES = 14;
export const VIRTIO_BLK_F_SECURE_ERASE = 16;

export const VIRTIO_BLK_T_IN = 0;
export const VIRTIO_BLK_T_OUT = 1;
export const VIRTIO_BLK_T_SCSI_CMD = 2;
export const VIRTIO_BLK_T_FLUSH = 4;
export const VIRTIO_BLK_T_GET_ID = 8;
export const VIRTIO_BLK_T_DISCARD = 11;
export const VIRTIO_BLK_T_WRITE_ZEROES = 13;
export const VIRTIO_BLK_T_SECURE_ERASE = 14;

export const VIRTIO_BLK_S_OK = 0;
export const VIRTIO_BLK_S_IOERR = 1;
export const VIRTIO_BLK_S_UNSUPP = 2;

export const VIRTIO_BLK_ID_BYTES = 20;

/** §5.2.6: sectors are always 512 bytes, whatever blk_size says. */
export const VIRTIO_BLK_SECTOR_SIZE = 512;

export const virtio_blk_outhdr = defineStruct('virtio_blk_outhdr', 16, [
  { name: 'type', type: 'u32', offset: 0 },
  { name: 'ioprio', type: 'u32', offset: 4 },
  { name: 'sector', type: 'u64', offset: 8 },
] as const);

export const virtio_blk_config = defineStruct('virtio_blk_config', 72, [
  { name: 'capacity', type: 'u64', offset: 0 },
  { name: 'size_max', type: 'u32', offset: 8 },
  { name: 'seg_max', type: 'u32', offset: 12 },
  { name: 'cylinders', type: 'u16', offset: 16, cName: 'geometry.cylinders' },
  { name: 'heads', type: 'u8', offset: 18, cName: 'geometry.heads' },
  { name: 'sectors', type: 'u8', offset: 19, cName: 'geometry.sectors' },
  { name: 'blk_size', type: 'u32', offset: 20 },
  { name: 'physical_block_exp', type: 'u8', offset: 24 },
  { name: 'alignment_offset', type: 'u8', offset: 25 },
  { name: 'min_io_size', type: 'u16', offset: 26 },
  { name: 'opt_io_size', type: 'u32', offset: 28 },
  { name: 'wce', type: 'u8', offset: 32 },
  { name: 'num_queues', type: 'u16', offset: 34 },
  { name: 'max_discard_sectors', type: 'u32', offset: 36 },
  { name: 'max_discard_seg', type: 'u32', offset: 40 },
  { name: 'discard_sector_alignment', type: 'u32', offset: 44 },
  { name: 'max_write_zeroes_sectors', type: 'u32', offset: 48 },
  { name: 'max_write_zeroes_seg', type: 'u32', offset: 52 },
  { name: 'write_zeroes_may_unmap', type: 'u8', offset: 56 },
  { name: 'max_secure_erase_sectors', type: 'u32', offset: 60 },
  { name: 'max_secure_erase_seg', type: 'u32', offset: 64 },
  { name: 'secure_erase_sector_alignment', type: 'u32', offset: 68 },
] as const);

// vhost.* requirements no guest:vhost-net property can judge, each with why.
// Three are rules on the front-end — this suite — not on the kernel: no answer
// of the kernel can break them. The suite follows them by construction
// (arbitraries.ts: SET_OWNER first, aligned rings, page-aligned regions) except
// in the hostile steps that probe the kernel's checks of the same rules.
export const UNJUDGEABLE: Readonly<Record<string, string>> = {
  'vhost.owner.set-first': 'a rule on the front-end (the suite issues SET_OWNER first); no answer of the kernel can break it — the kernel side is vhost.owner.required',
  'vhost.vring.addr-alignment': 'a rule on the front-end (the addresses the suite passes); the kernel side is judged as vhost.vring.addr-checked',
  'vhost.iotlb.asid-zero-only':
    'vhost-net never offers VHOST_BACKEND_F_IOTLB_ASID (drivers/vhost/net.c VHOST_NET_BACKEND_FEATURES), so vhost_chr_write_iter() skips the asid word unread and the ASID check in vhost_process_iotlb_msg() cannot be reached through /dev/vhost-net (the model judges it for a device that offers the bit)',
  'vhost.mem.page-aligned': 'a rule on the front-end (the regions the suite passes); the kernel does not check it (vhost_set_memory() takes any alignment), so no answer can break it',
};

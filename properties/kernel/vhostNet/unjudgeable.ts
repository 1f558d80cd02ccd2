// vhost.* requirements no guest:vhost-net property can judge, each with why.
// The three are rules on the front-end — this suite — not on the kernel: no
// answer of the kernel can break them. The suite follows them by construction
// (arbitraries.ts: SET_OWNER first, aligned rings, page-aligned regions) except
// in the hostile steps that probe the kernel's checks of the same rules.
export const UNJUDGEABLE: Readonly<Record<string, string>> = {
  'vhost.owner.set-first': 'a rule on the front-end (the suite issues SET_OWNER first); no answer of the kernel can break it — the kernel side is vhost.owner.required',
  'vhost.vring.addr-alignment': 'a rule on the front-end (the addresses the suite passes); the kernel side is judged as vhost.vring.addr-checked',
  'vhost.mem.page-aligned': 'a rule on the front-end (the regions the suite passes); the kernel does not check it (vhost_set_memory() takes any alignment), so no answer can break it',
};

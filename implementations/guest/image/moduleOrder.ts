// The order in which the guest's init insmods its modules: every module after
// the modules its `.modinfo` `depends=` names (what modprobe would read from
// modules.dep, which the image does not carry). Pure: the caller reads the
// modules and hands over their dependency lists.

/** Module names as the kernel spells them in `depends=`: '-' and '_' are the same. */
export function moduleName(fileOrName: string): string {
  return fileOrName.replace(/\.ko(\.xz|\.zst|\.gz)?$/, '').replace(/-/g, '_');
}

/**
 * Every module `roots` need, dependencies first. `dependsOf` gives a module's
 * dependency list, or undefined when no such module exists (an error naming it
 * and who needs it). A dependency cycle is an error too: insmod cannot break it.
 */
export function loadOrder(roots: readonly string[], dependsOf: (name: string) => readonly string[] | undefined): string[] {
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, neededBy: string | undefined): void => {
    const s = state.get(name);
    if (s === 'done') return;
    if (s === 'visiting') throw new Error(`module dependency cycle through ${name}`);
    const deps = dependsOf(name);
    if (deps === undefined) throw new Error(neededBy ? `module ${name} (needed by ${neededBy}) not found` : `module ${name} not found`);
    state.set(name, 'visiting');
    for (const d of deps) visit(moduleName(d), name);
    state.set(name, 'done');
    order.push(name);
  };
  for (const r of roots) visit(moduleName(r), undefined);
  return order;
}

// Requirement selectors (DESIGN.md "spec/": ids are hierarchical and double as
// selectors). One rule covers all three forms: a selector matches an id when
// it matches the whole id or a prefix of it ending at a dot. So `virtio.split`
// selects `virtio.split.used.len-before-idx` but not `virtio.splitx.a`; an exact
// id selects itself; `*` matches any run of characters, dots included, so
// `vhost-user.ring.*` and `*.robust` both reach any depth.
import { UsageError } from './usageError.ts';

export class SelectorError extends UsageError {
  override readonly name: string = 'SelectorError';
}

/** A selector that is well formed but matches no requirement in the catalogue. */
export class UnknownSelectorError extends SelectorError {
  override readonly name: string = 'UnknownSelectorError';
  constructor(readonly selector: string) {
    super(`unknown selector '${selector}': it matches no requirement (see 'vhostcheck list')`);
  }
}

interface Selector {
  readonly text: string;
  matches(id: string): boolean;
}

// Ids are lower-case words joined by `.` and `-`; the class is wider so that a
// mistyped but harmless selector reports "matches nothing" rather than "invalid".
const SELECTOR_SYNTAX = /^[A-Za-z0-9_*][A-Za-z0-9_.*-]*$/;

export function parseSelector(text: string): Selector {
  if (!SELECTOR_SYNTAX.test(text) || text.endsWith('.') || text.includes('..')) {
    throw new SelectorError(`invalid selector '${text}': expected an id, an id prefix, or a glob such as 'vhost-user.ring.*'`);
  }
  const body = text
    .split('*')
    // The syntax check leaves `.` as the only regex metacharacter to escape.
    .map((part) => part.replaceAll('.', '\\.'))
    .join('.*');
  const re = new RegExp(`^${body}(?:\\..*)?$`);
  return { text, matches: (id) => re.test(id) };
}

/**
 * The requirements any selector matches, in catalogue order; all of them when
 * there are no selectors. Every selector must match something: a typo that
 * silently selects nothing would make a CI gate pass vacuously.
 */
export function selectRequirements<T extends { readonly id: string }>(selectors: readonly string[], all: readonly T[]): T[] {
  if (selectors.length === 0) return [...all];
  const parsed = selectors.map(parseSelector);
  for (const s of parsed) {
    if (!all.some((r) => s.matches(r.id))) throw new UnknownSelectorError(s.text);
  }
  return all.filter((r) => parsed.some((s) => s.matches(r.id)));
}

// Bad input to the suite (DESIGN.md "Reliability rules"): the CLI prints the
// message as one line and exits 2. Every module that validates user input
// (selectors, target specs, expectations, corpus files) throws a subclass, so
// the CLI needs a single `instanceof` to tell the user's mistake from ours.
export class UsageError extends Error {
  override readonly name: string = 'UsageError';
}

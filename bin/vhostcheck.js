#!/usr/bin/env node
// The npm bin. The suite runs from its TypeScript sources (no build step), so
// this shim registers tsx's loader before importing the CLI. Paths resolve
// from this file, not the working directory, so it works from any cwd.
import { register } from 'tsx/esm/api';

// `vhostcheck list | head` closes the pipe early; that is the reader's choice,
// not a crash, so end quietly with the status a shell gives for SIGPIPE.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(141);
    throw err;
  });
}

register();
const { main } = await import('../runner/cli.ts');
process.exitCode = await main(process.argv.slice(2));

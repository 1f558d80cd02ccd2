// The help texts of the command line: `vhostcheck --help` shows all of them,
// `vhostcheck COMMAND --help` one command's. The defaults live here because
// the help states them; the targets come from the one list of what exists.
import { join } from 'node:path';
import { TARGET_FORMS } from './knownTargets.ts';
import { OUT_OF_PROCESS_SHRINK_MS, OUT_OF_PROCESS_SHRINK_RUNS } from './shrinkBudget.ts';

/**
 * A user's saved cases go under the directory they run in, never into the installed package;
 * the project's committed corpus is replayed from the package for targets it matches.
 */
export const DEFAULTS = { target: 'simulated', seed: 1, runs: 100, reportDir: 'vhostcheck-report', regressionDir: join('.vhostcheck', 'regressions') } as const;

/**
 * Cases per property against a target outside this process (a socket, a spawned back-end, a guest): each
 * case is a fresh session there, hundreds of times slower than in process, so the default stays within
 * minutes on a 2-core machine. `--runs` still sets any number.
 */
export const OUT_OF_PROCESS_RUNS = 20;

const TARGETS = TARGET_FORMS.map(([form, what]) => `                         ${form}\n                             ${what}`).join('\n');

export const EXIT_CODES = `Exit codes:
  0    every result was expected: PASS, SKIP, UNSUPPORTED, INFORMATIONAL, NON_STRICT
       (unless --strict), or the verdict listed for it in the expectations file;
       for replay: every file reproduced (with --expect-pass: none did)
  1    at least one unexpected result, including an unexpected pass, or requirements
       not run (a --time-budget that ran out)
  2    bad input: unknown command or option, bad selector, suite, target spec, number,
       path, expectations or saved-case file
  3    internal error in vhostcheck (set VHOSTCHECK_DEBUG=1 for the stack)
  130  interrupted by SIGINT, 143 by SIGTERM (partial reports are still written)
`;

/** Each command's usage and options; `vhostcheck COMMAND --help` prints one, `--help` all. */
export const COMMAND_HELP: Readonly<Record<string, string>> = {
  list: `vhostcheck list [SELECTOR…] [--level L] [--role R] [--json]

  --level L            MUST, MUST_NOT, SHOULD, SHOULD_NOT, MAY, DE_FACTO (repeatable)
  --role R             device, driver, backend, frontend (repeatable)
  --json               print the requirements as a JSON array
`,
  run: `vhostcheck run [SELECTOR…] [--suite NAME] [--target SPEC] [--seed N] [--runs N]
               [--time-budget S] [--strict] [--reply-timeout MS] [--report-dir D] [--regression-dir D]
               [--expectations FILE] [--update-expectations] [--json]

  --target SPEC        what to test (default ${DEFAULTS.target}):
${TARGETS}
  --suite NAME         run only these suites (repeatable or comma-separated; see 'vhostcheck suites')
  --seed N             fast-check seed; same seed, same target, same steps (default ${DEFAULTS.seed})
  --runs N             generated cases per property (default ${DEFAULTS.runs} for simulated targets in
                       process, ${OUT_OF_PROCESS_RUNS} for every other target: each case is a fresh session there;
                       there a failure is also shrunk in at most ${OUT_OF_PROCESS_SHRINK_RUNS} more cases and
                       ${OUT_OF_PROCESS_SHRINK_MS / 1000} s)
  --time-budget S      stop starting new work after S seconds; results so far are reported
  --strict             SHOULD violations count as FAIL instead of NON_STRICT
  --reply-timeout MS   how long a socket back-end gets to answer one message before it is a TIMEOUT
                       (default 2000)
  --report-dir D       where index.json, junit.xml and report.md go (default ${DEFAULTS.reportDir})
  --regression-dir D   where shrunk counterexamples are saved, and replayed from first
                       (default ${DEFAULTS.regressionDir} under the current directory;
                       the project's corpus/regressions is replayed too)
  --expectations FILE  known deviations (default expectations/<target name>.json, if present)
  --update-expectations
                       rewrite the expectations file so this run's results are the expected ones
  --json               print the summary as JSON on stdout (everything else goes to stderr)
`,
  replay: `vhostcheck replay FILE… [--target SPEC] [--expect-pass]

  Runs saved cases again and says, per file, "reproduced" (same requirement,
  same verdict), "reproduced differently" (and what failed instead) or
  "did not reproduce", with the steps.
  --target SPEC        replay against this target instead of the one recorded in FILE
  --expect-pass        checking a fix: exit 0 only if no file reproduces any failure
`,
  suites: `vhostcheck suites

  Lists the suites, the devices each applies to and what each covers.
`,
  mutants: `vhostcheck mutants [--list] [--json] [--strict] [--seed N] [--runs N]

  Runs the suite against every mutant of the simulated device (a known bug,
  re-created) and reports which were caught, how fast, with how many steps.
  --list               list the mutants without running anything
  --json               print the mutation report as JSON
  --strict             count a NON_STRICT verdict at a mutant's own requirement as a catch
                       (a separate figure: by default only a verdict that fails the gate counts)
`,
  serve: `vhostcheck serve --socket PATH [--target simulated[:…]]

  --socket PATH        listen there as a vhost-user back-end serving the simulated device
  --target SPEC        which simulated device (default simulated)
`,
  guest: `vhostcheck guest build

  Builds (or finds in ~/.cache/vhostcheck/guest) the QEMU guest for the kernel targets,
  from Debian packages, and prints its directory. No conformance suite runs in it yet.
`,
};

export const HELP = `vhostcheck — property-based conformance suite for virtio, vhost and vhost-user

Usage:
${Object.values(COMMAND_HELP).map((h) => `  ${h.split('\n\n')[0].replace(/\n/g, '\n  ')}`).join('\n')}
  vhostcheck COMMAND --help
  vhostcheck --help | --version

Selectors pick requirements by id: an exact id, an id prefix ending at a dot
(virtio.split), or a glob where * matches anything (vhost-user.ring.*, *.robust).
No selector means every requirement. A selector matching nothing is an error.

${Object.entries(COMMAND_HELP).map(([name, h]) => `${name}:\n${h.split('\n\n').slice(1).join('\n\n')}`).join('\n')}
${EXIT_CODES}`;

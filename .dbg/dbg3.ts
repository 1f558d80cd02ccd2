import { executeRun } from '../runner/engine.ts';
const r = await executeRun({ targetSpec: process.argv[2], selectors: [], seed: 1, runs: 300, timeBudgetS: 30, strict: true, regressionDir: '/tmp/mreg3', replayRegressions: false, stopAtFirstFailure: true });
console.log(r.suites, r.durationMs, r.interrupted, r.results.filter((x) => !['SKIP', 'PASS', 'UNSUPPORTED'].includes(x.verdict)).map((x) => [x.id, x.verdict, x.detail]));

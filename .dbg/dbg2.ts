import { runSteps } from '../runner/engine.ts';
import { targetFactory } from '../runner/targets.ts';
import { parseTargetSpec } from '../runner/targetSpec.ts';
import { deriveProfile } from '../runner/profile.ts';
import { suiteByName } from '../properties/suites/index.ts';
import fc from 'fast-check';
const f = targetFactory(parseTargetSpec(process.argv[2]));
const t = await f.open(); const p = await deriveProfile(t); await t.close();
const suite = suiteByName(process.argv[3])!;
const samples = fc.sample(suite.scenario(p), { seed: 1, numRuns: 100 });
let hostileHead = 0, lens: number[] = [];
for (const s of samples) { lens.push(s.length); if (s.some((x: any) => x.t === 'hostile' && x.defect === 'head-out-of-range') && !(s[0] as any).packed) hostileHead++; }
console.log('scenarios with split head-out-of-range:', hostileHead, 'mean len', lens.reduce((a, b) => a + b, 0) / lens.length);
const steps = JSON.parse(process.argv[4] ?? 'null');
if (steps) { const out = await runSteps(f, p, steps, (o) => o.verdict === 'FAIL'); console.log(out.failure?.message); }

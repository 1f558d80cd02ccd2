import { QsdDaemon } from '../implementations/vhost-user/peers/qsd.ts';
import { Harness } from '../properties/harness.ts';
import { deriveProfile } from '../runner/profile.ts';
import { loadRegression } from '../runner/regressions.ts';
const r = await loadRegression(process.argv[2]);
const d = await QsdDaemon.start();
const fresh = async () => d;
try {
  const t0 = await d.open(); const p = await deriveProfile(t0); await t0.close();
  const t = await d.open();
  const h = new Harness(t, p, { settleMs: 300, failsRun: () => false });
  try { for (const s of r.steps) await h.exec(s); } catch (e) { console.log('EXC', (e as Error).message); }
  for (const o of h.observations) if (o.verdict !== 'PASS') console.log(o.step, o.requirement, o.verdict, o.detail.slice(0, 160));
  await t.close();
  await new Promise((res) => setTimeout(res, 200));
  console.log('health', JSON.stringify(d.health()));
  console.log('LOG:', d.log.slice(-1500));
} finally { await d.stop(); }

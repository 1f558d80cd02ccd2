import { QsdDaemon } from '../implementations/vhost-user/peers/qsd.ts';
const t0 = performance.now();
for (let i = 0; i < 10; i++) { const d = await QsdDaemon.start(); const t = await d.open(); await t.send({ op: 'getFeatures' }); await t.close(); await d.stop(); }
console.log('per start+open+stop ms', ((performance.now() - t0) / 10).toFixed(1));

// `vhostcheck serve`: the simulated device as a real vhost-user back-end on a
// UNIX socket (implementations/vhost-user/backEnd.ts), so the suite's
// front-end — or QEMU — can drive it over the wire. Each connection gets a
// fresh device, as `vhostcheck run` gives each session a fresh one.
import { createSimulatedTarget } from '../implementations/simulated/index.ts';
import { serveVhostUser } from '../implementations/vhost-user/backEnd.ts';
import { parseTargetSpec } from './targetSpec.ts';
import { UsageError } from './usageError.ts';

/** Serves until `signal` aborts; the socket file is removed on the way out. */
export async function serve(opts: { readonly socketPath: string; readonly targetSpec: string; readonly signal: AbortSignal }): Promise<void> {
  const spec = parseTargetSpec(opts.targetSpec);
  if (spec.kind !== 'simulated') throw new UsageError(`serve: only simulated targets can be served, got '${opts.targetSpec}'`);
  const deviceType = spec.device ?? 'blk';
  const { mutant } = spec;
  // Built once now so an unknown mutant is a usage error before the socket exists.
  try {
    void createSimulatedTarget({ deviceType, mutant }).close();
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  await serveVhostUser(opts.socketPath, (memory, logArea, inflight) => createSimulatedTarget({ deviceType, mutant, memory, logArea, inflight }), opts.signal);
}

// `vhostcheck serve`: the simulated device as a real vhost-user back-end on a
// UNIX socket (implementations/vhost-user/backEnd.ts), so the suite's
// front-end — or QEMU — can drive it over the wire. Each connection gets a
// fresh device, as `vhostcheck run` gives each session a fresh one. It says
// where it listens and when each session starts and ends, so a user driving
// it from another terminal sees that something happened.
import { createSimulatedTarget } from '../implementations/simulated/index.ts';
import { serveVhostUser } from '../implementations/vhost-user/backEnd.ts';
import { parseTargetSpec } from './targetSpec.ts';
import { simulatedDevice } from './targets.ts';
import { UsageError } from './usageError.ts';

/** Serves until `signal` aborts; the socket file is removed on the way out. */
export async function serve(opts: { readonly socketPath: string; readonly targetSpec: string; readonly signal: AbortSignal; readonly write: (line: string) => void }): Promise<void> {
  const spec = parseTargetSpec(opts.targetSpec);
  if (spec.kind !== 'simulated') throw new UsageError(`serve: only simulated targets can be served, got '${opts.targetSpec}'`);
  const device = { ...simulatedDevice(spec), mutant: spec.mutant };
  const { deviceType, mutant } = device;
  const variant = device.variant ?? 'default';
  // Built once now so an unknown mutant (or a variant of another device type) is a usage error before the socket exists.
  try {
    void createSimulatedTarget(device).close();
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  let sessions = 0;
  const serving = serveVhostUser(
    opts.socketPath,
    (memory, logArea, inflight) => {
      const n = ++sessions;
      // A slow variant's kick settles when its requests are published: the back-end signals the call eventfds then.
      const served = createSimulatedTarget({ ...device, memory, logArea, inflight, awaitKicks: true });
      opts.write(`session ${n}: connected`);
      // The back-end closes the device when the session ends, whoever ended it.
      const close = served.close.bind(served);
      return Object.assign(served, {
        close: async () => {
          opts.write(`session ${n}: closed`);
          await close();
        },
      });
    },
    opts.signal,
  );
  // serveVhostUser binds and listens before its first await: a path it cannot listen on has
  // rejected the promise by now, which the next turn of the event loop makes visible.
  let failed = false;
  serving.catch(() => (failed = true));
  await new Promise((resolve) => setImmediate(resolve));
  if (!failed) opts.write(`listening on ${opts.socketPath} (${deviceType}, ${variant}${mutant ? `, mutant ${mutant}` : ''})`);
  try {
    await serving;
  } catch (e) {
    // Another back-end answering on the socket is the user's choice of path, not our fault.
    if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new UsageError(`cannot listen on ${opts.socketPath}: another back-end is listening there`);
    throw e;
  }
  opts.write(`stopped; ${sessions} session${sessions === 1 ? '' : 's'} served`);
}

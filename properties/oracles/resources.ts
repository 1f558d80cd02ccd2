// fd accounting of the back-end process (DESIGN.md oracles: "fd and memory
// accounting"): a configuration message repeated `count` times must release
// what the previous one held (vhost-user.robust.no-leak-on-repeat; bug-catalog
// D2, D7). A back-end may keep the last buffer it handed out, so only growth
// by half the repetitions or more counts as a leak.
import { fail, type Observation, pass } from './observation.ts';

export const NO_LEAK_ON_REPEAT = 'vhost-user.robust.no-leak-on-repeat';

export function checkFdGrowth(what: string, count: number, before: number, after: number): Observation {
  const grown = after - before;
  return grown * 2 >= count ? fail(NO_LEAK_ON_REPEAT, `${what} ${count} times: the back-end's open fds went from ${before} to ${after}`) : pass(NO_LEAK_ON_REPEAT);
}

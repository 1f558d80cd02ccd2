// The child process of localAgent.test.ts's lifecycle tests: starts the host
// agent, prints its pid and holds it until the process is signalled.
import { startLocalMachine } from './localAgent.ts';

const machine = await startLocalMachine();
process.stdout.write(`ready ${machine.process.pid}\n`);
setInterval(() => {}, 1 << 30);

/**
 * `node test/cluster/real-node/cli.ts down <stateDir>`: the real node's `down` as a command, so the
 * synchronous `scripts/cluster.ts` can stop a real-node cluster it finds in `.e2e/` (see `stopRealNodeSync`).
 */
import { resolve } from 'node:path';
import { downRealNode } from './cluster.ts';

const [cmd, stateDir] = process.argv.slice(2);
if (cmd !== 'down' || !stateDir) {
  process.stderr.write('usage: node test/cluster/real-node/cli.ts down <stateDir>\n');
  process.exit(2);
}
const left = await downRealNode(resolve(stateDir));
const dirty = Object.entries(left).filter(([, v]) => v.length > 0);
if (dirty.length) {
  process.stderr.write(`[real-node] left behind: ${JSON.stringify(Object.fromEntries(dirty))}\n`);
  process.exit(1);
}

/**
 * `npm run cluster:up` / `npm run cluster:down`: the local test cluster (tools/cluster/local.ts: KWOK on
 * the pinned binaries, or kind with `-- --kind`). Both commands are safe to run twice.
 */
import { down, up, upKind } from '../tools/cluster/local.ts';

const cmd = process.argv[2];
try {
  if (cmd === 'up' && process.argv.includes('--kind')) await upKind();
  else if (cmd === 'up') up();
  else if (cmd === 'down') down();
  else {
    process.stderr.write('usage: node scripts/cluster.ts up [--kind] | down\n');
    process.exit(2);
  }
} catch (err) {
  process.stderr.write(`[cluster] ${(err as Error).message}\n`);
  process.exit(1);
}

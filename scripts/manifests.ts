/**
 * `npm run manifests`: fetches the pinned upstream files (src/manifests/upstream.ts) into the cache outside
 * the repository (tools/manifests.ts), each checked against its sha256.
 *
 *   npm run manifests                 # fill the cache (instant when it is warm)
 *   npm run manifests -- --bundle     # also copy Argo CD's manifests into manifests/argocd/<version>/,
 *                                     # where `docker build` (and `install.source: bundled`) finds them
 */
import { bundle, ensureAll } from '../tools/manifests.ts';

try {
  const paths = await ensureAll((line) => process.stderr.write(`[manifests] ${line}\n`));
  for (const [key, path] of Object.entries(paths)) process.stdout.write(`${key}\t${path}\n`);
  if (process.argv.includes('--bundle')) {
    for (const path of await bundle()) process.stdout.write(`bundled\t${path}\n`);
  }
} catch (err) {
  process.stderr.write(`manifests: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}

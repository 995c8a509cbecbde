/**
 * Fetches the pinned upstream files (src/manifests/upstream.ts) into the cache outside the repository:
 * Argo CD's install manifests and Istio's networking CRDs. Each is checked against its sha256.
 *
 *   npm run manifests                 # fill the cache (instant when it is warm)
 *   npm run manifests -- --bundle     # also copy Argo CD's manifests into manifests/argocd/<version>/,
 *                                     # where `docker build` (and `install.source: bundled`) finds them
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureUpstream, UPSTREAM, type UpstreamKey } from '../src/manifests/upstream.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Every pinned file, cached; returns key → cached path. */
export async function ensureAll(log?: (line: string) => void): Promise<Record<UpstreamKey, string>> {
  const out = {} as Record<UpstreamKey, string>;
  for (const key of Object.keys(UPSTREAM) as UpstreamKey[]) out[key] = await ensureUpstream(key, { log });
  return out;
}

/** Copies the cached Argo CD manifests into `manifests/argocd/<version>/[ha/]install.yaml` (gitignored). */
export async function bundle(into = join(root, 'manifests', 'argocd')): Promise<string[]> {
  const written: string[] = [];
  for (const key of Object.keys(UPSTREAM) as UpstreamKey[]) {
    if (!key.startsWith('argocd/') && !key.startsWith('argocd-ha/')) continue;
    const profile = key.startsWith('argocd-ha/') ? ['ha'] : [];
    const target = join(into, UPSTREAM[key].version, ...profile, 'install.yaml');
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(await ensureUpstream(key), target);
    written.push(target);
  }
  return written;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
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
}

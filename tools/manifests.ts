/**
 * Fetches the pinned upstream files (src/manifests/upstream.ts) into the cache outside the repository:
 * Argo CD's install manifests and Istio's networking CRDs. Each is checked against its sha256.
 * Used by the test tiers' global setups, the image builds and `npm run manifests` (scripts/manifests.ts).
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ensureUpstream, UPSTREAM, type UpstreamKey } from '../src/manifests/upstream.ts';

const root = resolve(import.meta.dirname, '..');

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

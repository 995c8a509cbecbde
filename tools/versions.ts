/**
 * The pinned versions of the tooling, each defined once: the cluster pins in tools/versions.sh (shared with
 * the shell builds), Argo CD's in the product (src/config/bundled.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUNDLED_VERSIONS } from '../src/config/bundled.ts';

const pins = Object.fromEntries(
  readFileSync(join(import.meta.dirname, 'versions.sh'), 'utf8')
    .split('\n')
    .map((l) => /^([A-Z_]+)=(\S+)$/.exec(l))
    .filter((m) => m !== null)
    .map((m) => [m[1]!, m[2]!]),
);
const pin = (name: string): string => {
  const v = pins[name];
  if (!v) throw new Error(`tools/versions.sh defines no ${name}`);
  return v;
};

/** Kubernetes of both local clusters (KWOK and kind) and of the pinned binaries. */
export const KUBE_VERSION = pin('KUBE_VERSION');
/** kind's release whose base files make the kind node image. */
export const KIND_VERSION = pin('KIND_VERSION');
/** The Argo CD version the tooling builds images for by default: the product's default. */
export const ARGOCD_VERSION = BUNDLED_VERSIONS[0];
/** Every Argo CD version the tooling builds images for: the bundled ones (the upgrade test starts at the older). */
export const ARGOCD_VERSIONS = BUNDLED_VERSIONS;

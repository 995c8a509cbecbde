/**
 * Helm 3's release records, as its default storage driver keeps them: one Secret per revision, named
 * `sh.helm.release.v1.<release>.v<revision>`, type `helm.sh/release.v1`, labels `owner: helm`, `name`,
 * `status`, `version`; its key `release` holds base64(gzip(JSON of the release)) — base64 once more in the
 * API's `data`. Pure: decoding, the values the release was installed with, and (for tests and fixtures)
 * the same encoding Helm writes (helm.sh/helm/v3 pkg/storage/driver/util.go, encodeRelease/decodeRelease).
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import type { KubeObject } from '../kube/types.ts';

export const HELM_RELEASE_TYPE = 'helm.sh/release.v1';
export const HELM_OWNER_SELECTOR = 'owner=helm';

type Values = Record<string, unknown>;

/** The fields of a release this program reads. */
export interface HelmRelease {
  name: string;
  namespace: string;
  version: number;
  info?: { status?: string };
  chart?: { metadata?: { name?: string; version?: string }; values?: Values | null };
  /** The values given at install/upgrade (`-f`, `--set`), over the chart's defaults. */
  config?: Values | null;
}

type SecretObject = KubeObject & { type?: string; data?: Record<string, string> };

const GZIP_MAGIC = [0x1f, 0x8b];

/** A release Secret's body (the API's `data.release`), decoded as Helm decodes it. */
export function decodeHelmRelease(data: string): HelmRelease {
  const inner = Buffer.from(Buffer.from(data, 'base64').toString('latin1'), 'base64');
  const json = inner[0] === GZIP_MAGIC[0] && inner[1] === GZIP_MAGIC[1] ? gunzipSync(inner) : inner; // Helm reads both
  return JSON.parse(json.toString('utf8')) as HelmRelease;
}

/** The Secret Helm writes for a revision of a release (fixtures; the real encoding). */
export function helmReleaseSecret(release: HelmRelease & Record<string, unknown>): SecretObject {
  const body = gzipSync(Buffer.from(JSON.stringify(release), 'utf8')).toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: HELM_RELEASE_TYPE,
    metadata: {
      name: `sh.helm.release.v1.${release.name}.v${release.version}`,
      namespace: release.namespace,
      labels: {
        name: release.name,
        owner: 'helm',
        status: release.info?.status ?? 'deployed',
        version: String(release.version),
      },
    },
    data: { release: Buffer.from(body, 'latin1').toString('base64') },
  };
}

/**
 * The latest revision of each release among Helm's Secrets (by the `name` and `version` labels, so only
 * those are decoded).
 */
export function latestReleaseSecrets(secrets: readonly SecretObject[]): SecretObject[] {
  const latest = new Map<string, SecretObject>();
  const revision = (s: SecretObject) => Number(s.metadata.labels?.version ?? 0);
  for (const s of secrets) {
    if (s.type !== HELM_RELEASE_TYPE || !s.data?.release) continue;
    const name = s.metadata.labels?.name ?? s.metadata.name;
    const seen = latest.get(name);
    if (!seen || revision(s) > revision(seen)) latest.set(name, s);
  }
  return [...latest.values()];
}

const isObject = (v: unknown): v is Values => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Helm's coalescing of the release's values over the chart's defaults (maps merged, the rest replaced). */
export function mergeValues(defaults: Values, overrides: Values): Values {
  const out: Values = { ...defaults };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === null)
      delete out[k]; // Helm: a null value removes the default
    else out[k] = isObject(v) && isObject(out[k]) ? mergeValues(out[k], v) : v;
  }
  return out;
}

/** The values the release runs with: its config over its chart's defaults. */
export function releaseValues(release: HelmRelease): Values {
  return mergeValues(release.chart?.values ?? {}, release.config ?? {});
}

/** `gitops.git.secret` of a values tree; undefined when any part is missing. */
export function valueAt(values: Values, path: string): unknown {
  let cur: unknown = values;
  for (const key of path.split('.')) {
    if (!isObject(cur)) return undefined;
    cur = cur[key];
  }
  return cur;
}

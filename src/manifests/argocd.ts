/**
 * Argo CD's official install manifest: where it comes from (bundled, file, url), its checksum, and the
 * rewrites a namespace other than `argocd` needs. The manifest has no `metadata.namespace` on namespaced
 * objects (`kubectl apply -n` adds it), and its ClusterRoleBindings name ServiceAccounts in `argocd`.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAll } from 'js-yaml';
import type { Config } from '../config/types.ts';
import { ConfigError, StepError } from '../errors.ts';
import type { KubeObject } from '../kube/types.ts';
import { applyImageSettings } from './registry.ts';
import { argocdKey, cachedPath, ensureUpstream } from './upstream.ts';

/** sha256 of the upstream `manifests/install.yaml` at each tag the image bundles (`sha256sum install.yaml`). */
export const BUNDLED_SHA256: Readonly<Record<string, string>> = Object.freeze({
  'v3.5.1': '795a3a972224da6a7f9d32c3e946445f062b60fb46028476715affeb688236e3',
  'v2.14.21': 'ee39d40847bbb36154ebcdf2f5c93e0a9001ab60131afb60dbe42981a069699e',
});

/** sha256 of the upstream `manifests/ha/install.yaml` at each bundled tag (`argocd.install.profile: ha`). */
export const BUNDLED_HA_SHA256: Readonly<Record<string, string>> = Object.freeze({
  'v3.5.1': '1d7b6baa0769ff8a5757c61e2c677ae0939a15e86e149f64df6b12435db5c4b2',
  'v2.14.21': '0fd3798afc491023fc4fae35961e976a7cfdcd611a67abbf333443cee720f44c',
});

export type InstallProfile = 'standard' | 'ha';

/** The pins of a profile's bundled manifests, by version. */
export const bundledSha256 = (profile: InstallProfile = 'standard'): Readonly<Record<string, string>> =>
  profile === 'ha' ? BUNDLED_HA_SHA256 : BUNDLED_SHA256;

/**
 * sha256 of each pinned manifest's documents as the sidecar holds them (`JSON.stringify(loadAll(yaml))`),
 * by the YAML's sha256: what proves a sidecar's documents are that YAML's without parsing it. A test checks
 * them against the cached manifests (src/manifests/argocd.test.ts).
 */
export const BUNDLED_DOCUMENTS_SHA256: Readonly<Record<string, string>> = Object.freeze({
  '795a3a972224da6a7f9d32c3e946445f062b60fb46028476715affeb688236e3':
    'd7e4a8f423ea5288bf76dcd0bc41de3830c2d86d06ceb5f3d0a7dc4ea6d3ad0d',
  ee39d40847bbb36154ebcdf2f5c93e0a9001ab60131afb60dbe42981a069699e:
    '8e07382e5d825cf70973c15b00998d7c0a07e9fdd0beff2e4b11917e3c848aa7',
  '1d7b6baa0769ff8a5757c61e2c677ae0939a15e86e149f64df6b12435db5c4b2':
    '88063c4a9b789344b160e14465c732159b0c12c39137a2465c2979f90ff480c1',
  '0fd3798afc491023fc4fae35961e976a7cfdcd611a67abbf333443cee720f44c':
    'cbed2c5549ae0fffc3600d75b94796958ee75646dc0aaea2d87143be26cf8c7b',
});

/** Kinds without a namespace. The install manifest uses the first three; the rest make `file`/`url` sources safe. */
export const CLUSTER_SCOPED_KINDS: ReadonlySet<string> = new Set([
  'CustomResourceDefinition',
  'ClusterRole',
  'ClusterRoleBinding',
  'Namespace',
  'PriorityClass',
  'StorageClass',
  'PersistentVolume',
  'IngressClass',
  'RuntimeClass',
  'APIService',
  'MutatingWebhookConfiguration',
  'ValidatingWebhookConfiguration',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
  'CSIDriver',
]);

const UPSTREAM_NAMESPACE = 'argocd';
const STEP = 'install-argocd';

export function sha256Hex(text: string | Uint8Array): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * The package root: the nearest folder above this module with a package.json. The module is
 * `src/manifests/argocd.ts`, `dist/manifests/argocd.js`, or part of the one-file bundle `dist/main.js` (the
 * image), so the depth is not fixed.
 */
export function packageRoot(): string {
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return resolve(start, '..', '..');
  }
}

/**
 * Where a bundled version's manifest is looked for: `manifests/argocd/<version>/install.yaml` in the package
 * (the image copies them there at build; the HA profile's `<version>/ha/install.yaml`), then the cache
 * outside the repository (a checkout: see `upstream.ts`, filled by `npm run manifests` or on first use).
 */
export function bundledManifestPaths(
  version: string,
  root: string = packageRoot(),
  env: NodeJS.ProcessEnv = process.env,
  profile: InstallProfile = 'standard',
): string[] {
  const paths = [
    join(root, 'manifests', 'argocd', version, ...(profile === 'ha' ? ['ha'] : []), 'install.yaml'),
  ];
  const key = argocdKey(version, profile);
  if (key) paths.push(cachedPath(key, env));
  return paths;
}

/**
 * Parses a multi-document manifest and places it in `namespace`: every namespaced object gets
 * `metadata.namespace`, and ServiceAccount subjects of (Cluster)RoleBindings in `argocd` move to `namespace`.
 */
export function parseInstallManifest(text: string, namespace: string): KubeObject[] {
  return placeDocuments(loadAll(text), namespace);
}

function placeDocuments(docs: unknown[], namespace: string): KubeObject[] {
  const objects: KubeObject[] = [];
  docs.forEach((doc, index) => {
    if (doc === null || doc === undefined) return;
    if (!isObject(doc) || typeof doc.apiVersion !== 'string' || typeof doc.kind !== 'string') {
      throw new StepError(STEP, `document ${index + 1} of the install manifest is not a Kubernetes object`);
    }
    const metadata = isObject(doc.metadata) ? doc.metadata : {};
    if (typeof metadata.name !== 'string') {
      throw new StepError(
        STEP,
        `document ${index + 1} (${doc.kind}) of the install manifest has no metadata.name`,
      );
    }
    objects.push(placeInNamespace(doc as KubeObject, namespace));
  });
  return objects;
}

function placeInNamespace(obj: KubeObject, namespace: string): KubeObject {
  const copy = structuredClone(obj);
  if (!CLUSTER_SCOPED_KINDS.has(copy.kind)) copy.metadata.namespace = namespace;
  if ((copy.kind === 'ClusterRoleBinding' || copy.kind === 'RoleBinding') && Array.isArray(copy.subjects)) {
    for (const subject of copy.subjects as Record<string, unknown>[]) {
      if (subject.kind === 'ServiceAccount' && subject.namespace === UPSTREAM_NAMESPACE) {
        subject.namespace = namespace;
      }
    }
  }
  return copy;
}

export interface LoadedManifest {
  objects: KubeObject[];
  sha256: string;
  /** The file or URL it was read from. */
  origin: string;
  /** True when a known digest was compared. */
  verified: boolean;
}

export interface LoadOptions {
  root?: string;
  fetch?: typeof fetch;
  /** For `url`: give up after this long. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Where the upstream cache is (`SD_GITOPS_BOOTSTRAP_CACHE`, `XDG_CACHE_HOME`); default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Test seam: the documents' sha256 by the YAML's (default BUNDLED_DOCUMENTS_SHA256). */
  documentsSha256?: Readonly<Record<string, string>>;
  /** `bundled`: fetch a pinned manifest missing from the package and cache (default true). */
  download?: boolean;
}

/** Reads the manifest of `argocd.install` (not `skip`), checks its digest, and places it in `argocd.namespace`. */
export async function loadArgocdManifest(
  argocd: Config['argocd'],
  opts: LoadOptions = {},
): Promise<LoadedManifest> {
  const { install, version } = argocd;
  let text: string;
  let origin: string;
  let expected: string | undefined = install.sha256?.toLowerCase();
  switch (install.source) {
    case 'bundled': {
      const profile = install.profile ?? 'standard';
      expected ??= bundledSha256(profile)[version];
      let found = await readFirst(bundledManifestPaths(version, opts.root, opts.env, profile));
      const key = argocdKey(version, profile);
      if (!found && key && opts.download !== false) {
        // A checkout without the cache yet: fetch the pinned file (Go module proxy, else the release URL).
        try {
          const path = await ensureUpstream(key, {
            fetch: opts.fetch,
            env: opts.env,
            timeoutMs: opts.timeoutMs,
          });
          found = { text: await readFile(path, 'utf8'), path };
        } catch (err) {
          throw new StepError(
            STEP,
            `Argo CD ${version}${profile === 'ha' ? ' (HA)' : ''} is bundled but not in this checkout: ${errorMessage(err)}`,
            {
              cause: err,
            },
          );
        }
      }
      if (!found) {
        const known = Object.keys(BUNDLED_SHA256).join(', ');
        throw new StepError(
          STEP,
          `Argo CD ${version} is not bundled (bundled: ${known}); set argocd.install.source to "url" (with sha256) or "file"`,
        );
      }
      ({ text, path: origin } = found);
      break;
    }
    case 'file': {
      if (!install.file) throw new StepError(STEP, 'argocd.install.file is required with source "file"');
      origin = install.file;
      try {
        text = await readFile(install.file, 'utf8');
      } catch (err) {
        throw new StepError(
          STEP,
          `cannot read the Argo CD manifest ${install.file} (argocd.install.file): ${errorMessage(err)}: point argocd.install.file at a readable install.yaml (in the pod: a mounted file)`,
          { cause: err },
        );
      }
      break;
    }
    case 'url': {
      if (!install.url) throw new StepError(STEP, 'argocd.install.url is required with source "url"');
      origin = install.url;
      text = await download(install.url, opts);
      break;
    }
    case 'skip':
      throw new StepError(STEP, 'argocd.install.source is "skip": there is no manifest to load');
  }
  const digest = sha256Hex(text);
  if (install.sha256 !== undefined && digest !== expected) {
    // The user's pin: bad input (exit 2, nothing written), named by its key.
    throw new ConfigError([
      {
        path: 'argocd.install.sha256',
        message: `the Argo CD manifest ${origin} has sha256 ${digest}, not ${expected}: refusing to install it; set argocd.install.sha256 to the digest of the manifest you mean to install (\`sha256sum install.yaml\`), or point argocd.install.${install.source === 'file' ? 'file' : 'url'} at the manifest this digest is of`,
      },
    ]);
  }
  if (expected !== undefined && digest !== expected) {
    throw new StepError(
      STEP,
      `the Argo CD manifest ${origin} has sha256 ${digest}, expected ${expected} (the pin of the bundled ${version}): refusing to install it; the image or the cache is damaged: rebuild the image, or delete ${origin} (\`npm run manifests\` fetches it again)`,
    );
  }
  let docs =
    install.source === 'bundled'
      ? await readSidecar(origin, digest, opts.documentsSha256 ?? BUNDLED_DOCUMENTS_SHA256)
      : undefined;
  if (!docs) {
    docs = loadAll(text);
    if (install.source === 'bundled') await writeSidecar(origin, digest, docs);
  }
  return {
    // argocd.images: the site's registry, on the objects every reader of the manifest gets.
    objects: applyImageSettings(placeDocuments(docs, argocd.namespace), argocd.images),
    sha256: digest,
    origin,
    verified: expected !== undefined,
  };
}

/**
 * A bundled manifest's documents as JSON beside it (`install.yaml.json`, with the YAML's sha256): parsing
 * 1.8 MB of YAML costs ~0.3 s and ~40 MiB of heap that Node keeps for the rest of the run; JSON.parse of
 * the same documents costs ~15 ms and next to nothing. Written by the first run that can (and by the
 * image build). Used only when its documents are proven to be the verified YAML's: their sha256 must be
 * the one pinned for that YAML's sha256 (`BUNDLED_DOCUMENTS_SHA256`); the sidecar's own `sha256` field
 * proves nothing, anyone who can write the file can write it. Anything else (no pin for the YAML,
 * different documents, unreadable JSON) falls back to parsing the verified YAML, and the sidecar is
 * written again from it.
 */
export const sidecarPath = (yamlPath: string) => `${yamlPath}.json`;

async function readSidecar(
  yamlPath: string,
  sha256: string,
  pins: Readonly<Record<string, string>>,
): Promise<unknown[] | undefined> {
  const pinned = pins[sha256];
  if (!pinned) return undefined;
  try {
    const parsed = JSON.parse(await readFile(sidecarPath(yamlPath), 'utf8')) as {
      sha256?: string;
      documents?: unknown[];
    };
    if (parsed.sha256 !== sha256 || !Array.isArray(parsed.documents)) return undefined;
    return sha256Hex(JSON.stringify(parsed.documents)) === pinned ? parsed.documents : undefined;
  } catch {
    return undefined;
  }
}

/** Best effort (a read-only file system, a shared cache): without it the YAML is parsed again next time. */
export async function writeSidecar(yamlPath: string, sha256: string, documents: unknown[]): Promise<void> {
  const tmp = `${sidecarPath(yamlPath)}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, JSON.stringify({ sha256, documents }));
    await rename(tmp, sidecarPath(yamlPath));
  } catch {
    await rm(tmp, { force: true }).catch(() => {});
  }
}

async function readFirst(paths: string[]): Promise<{ text: string; path: string } | undefined> {
  for (const path of paths) {
    try {
      return { text: await readFile(path, 'utf8'), path };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return undefined;
}

async function download(url: string, opts: LoadOptions): Promise<string> {
  const doFetch = opts.fetch ?? fetch;
  const timeout = AbortSignal.timeout(opts.timeoutMs ?? 60_000);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  let response: Response;
  try {
    response = await doFetch(url, { signal, redirect: 'follow' });
  } catch (err) {
    throw new StepError(STEP, `cannot download the Argo CD manifest ${url}: ${errorMessage(err)}`, {
      cause: err,
    });
  }
  if (!response.ok) {
    throw new StepError(STEP, `cannot download the Argo CD manifest ${url}: HTTP ${response.status}`);
  }
  return response.text();
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return `${err.message}${cause}`;
  }
  return String(err);
}

/** The CRDs the bootstrap reads (the report's install check, the environments): Argo CD's own. */
export const ARGO_CRDS = ['applications.argoproj.io', 'appprojects.argoproj.io'];

/**
 * Manifest kinds (`group/kind`) whose objects the run reads, applies and escalates by name (the chart
 * grants those of the bundled manifests by `resourceNames`): where a leak or an escalation would hurt.
 */
export const NAMED_KINDS: ReadonlySet<string> = new Set([
  '/Secret',
  'apiextensions.k8s.io/CustomResourceDefinition',
  'rbac.authorization.k8s.io/ClusterRole',
  'rbac.authorization.k8s.io/ClusterRoleBinding',
  'rbac.authorization.k8s.io/Role',
  'rbac.authorization.k8s.io/RoleBinding',
]);

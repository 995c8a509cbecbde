/**
 * `npm run images`: builds every image the kind tier needs — the project's own image, from the real
 * Dockerfile, and Argo CD's (tools/images/argocd.ts) — for the kind cluster `npm run cluster:up -- --kind`
 * started: the project image loaded into its node (as `kind load docker-image` does), Argo CD's pushed to
 * its local registry (its manifest pulls with `Always`); or all of them pushed to `--registry HOST:PORT`.
 *
 * Nothing can be pulled here, so the Dockerfile's `BASE_IMAGE` is a local stand-in for the official
 * `node:24-slim`: `sd-local/node:24-slim`, the debootstrap'd Debian bookworm base
 * (tools/images/docker.ts, `ensureBaseImage`) plus the real Node 24 binary of the `node` npm
 * package (node_modules/node/bin/node) and this machine's npm — and this machine's extra CA certificates,
 * so `npm ci` inside the build reaches the npm registry the way the host does.
 *
 * Argo CD's manifests come from the upstream cache (`npm run manifests`) through the build context, and the
 * Dockerfile checks their sha256.
 *
 * Cache: the image is tagged `sd-local/sd-gitops-bootstrap:<content hash>` (Dockerfile, every file of the
 * build context, the base image's id); an existing tag skips the build, so a warm run only loads or pushes.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { load } from 'js-yaml';
import { BUNDLED_VERSIONS } from '../../src/config/bundled.ts';
import { BUNDLED_HA_SHA256, BUNDLED_SHA256, sha256Hex } from '../../src/manifests/argocd.ts';
import { upstreamPathSync } from '../../src/manifests/upstream.ts';
import { docker, ensureBaseImage, localPath, pushAs } from './docker.ts';

const root = resolve(import.meta.dirname, '../..');
const chartDir = join(root, 'helm', 'sd-gitops-bootstrap');

export const NODE_BASE = 'sd-local/node:24-slim';
const NODE_BASE_RECIPE = 'v2'; // bump when the recipe below changes in a way its key cannot see

export function log(msg: string): void {
  process.stderr.write(`[images] ${msg}\n`);
}

const inspect = (image: string, format: string): string | undefined => {
  const r = docker(['image', 'inspect', '--format', format, image], { allowFail: true });
  return r.status === 0 ? r.stdout.trim() : undefined;
};

/** The image the chart runs by default: values.yaml's `image.repository` and Chart.yaml's appVersion. */
export function chartImage(): string {
  const values = load(readFileSync(join(chartDir, 'values.yaml'), 'utf8')) as {
    image: { repository: string };
  };
  const chart = load(readFileSync(join(chartDir, 'Chart.yaml'), 'utf8')) as { appVersion: string };
  return `${values.image.repository}:${chart.appVersion}`;
}

function hashFiles(h: ReturnType<typeof createHash>, files: Record<string, string>): void {
  for (const name of Object.keys(files).sort()) {
    h.update(`\0${name}\0`);
    h.update(readFileSync(files[name]!));
  }
}

// ---------------------------------------------------------------------------------- local Node 24 base

/** This machine's extra CA certificates (e.g. an egress proxy's), which containers would not trust. */
function extraCaCertificates(): Record<string, string> {
  const dir = '/usr/local/share/ca-certificates';
  if (!existsSync(dir)) return {};
  return Object.fromEntries(
    readdirSync(dir)
      .filter((f) => f.endsWith('.crt'))
      .map((f) => [`ca/${f}`, join(dir, f)]),
  );
}

/** The npm package of this machine's npm (the `npm` on PATH, through its symlink to npm-cli.js). */
function npmDir(): string {
  const r = spawnSync('sh', ['-c', 'readlink -f "$(command -v npm)"'], { encoding: 'utf8' });
  const dir = dirname(dirname((r.stdout ?? '').trim()));
  if (r.status !== 0 || !existsSync(join(dir, 'bin', 'npm-cli.js'))) {
    throw new Error(
      `npm not found (${(r.stdout ?? '').trim() || 'not on PATH'}): install Debian's npm or Node's`,
    );
  }
  return dir;
}

/** debian:bookworm-slim's dpkg filter (debuerreotype's `--slimify`). */
const DPKG_SLIM = [
  'path-exclude /usr/share/doc/*',
  'path-include /usr/share/doc/*/copyright',
  'path-exclude /usr/share/groff/*',
  'path-exclude /usr/share/info/*',
  'path-exclude /usr/share/linda/*',
  'path-exclude /usr/share/lintian/overrides/*',
  'path-exclude /usr/share/locale/*',
  'path-exclude /usr/share/man/*',
];

/**
 * `sd-local/node:24-slim`: a stand-in for the official `node:24-slim` (Debian bookworm, Node 24 in
 * /usr/local/bin with npm, a `node` user with uid 1000), reused while its key is unchanged.
 */
export function ensureNodeBase(): string {
  const debian = ensureBaseImage(log);
  const debianId = inspect(debian, '{{.Id}}')!;
  const nodeBin = join(root, 'node_modules', 'node', 'bin', 'node');
  if (!existsSync(nodeBin)) throw new Error(`${nodeBin} is missing: run npm ci (the node@24 package)`);
  const npm = npmDir();
  const npmVersion = (JSON.parse(readFileSync(join(npm, 'package.json'), 'utf8')) as { version: string })
    .version;
  const cas = extraCaCertificates();
  const h = createHash('sha256').update(`${NODE_BASE_RECIPE}\0${debianId}\0npm ${npmVersion}\0`);
  const st = statSync(nodeBin);
  h.update(`node ${st.size} ${st.mtimeMs}\0`);
  hashFiles(h, cas);
  const key = h.digest('hex').slice(0, 16);
  if (inspect(NODE_BASE, '{{ index .Config.Labels "sd.base-key" }}') === key) return NODE_BASE;

  log(`making ${NODE_BASE} (Node from node_modules/node, npm ${npmVersion}, on ${debian})`);
  const ctx = mkdtempSync(join(tmpdir(), 'sd-node-base-'));
  try {
    copyFileSync(nodeBin, join(ctx, 'node'));
    const tar = spawnSync('tar', ['-C', dirname(npm), '-cf', join(ctx, 'npm.tar'), 'npm']);
    if (tar.status !== 0) throw new Error(`tar of ${npm} failed: ${tar.stderr}`);
    mkdirSync(join(ctx, 'ca'));
    for (const [name, file] of Object.entries(cas)) copyFileSync(file, join(ctx, name));
    writeFileSync(
      join(ctx, 'Dockerfile'),
      [
        `FROM ${debian}`,
        // Like debian:bookworm-slim, under the official image: packages installed later leave out docs,
        // manual pages and translations.
        `RUN printf '%s\\n' ${DPKG_SLIM.map((l) => `'${l}'`).join(' ')} > /etc/dpkg/dpkg.cfg.d/docker-slim`,
        'COPY ca/ /usr/local/share/ca-certificates/',
        'RUN update-ca-certificates >/dev/null',
        'COPY node /usr/local/bin/node',
        'ADD npm.tar /usr/local/lib/node_modules/',
        'RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\',
        ' && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\',
        ' && groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \\',
        ' && node --version && npm --version',
        // The host's trust, for Node too (npm ci in builds on this base).
        'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt',
        `LABEL sd.base-key=${key}`,
        'CMD ["node"]',
        '',
      ].join('\n'),
    );
    docker(['build', '--quiet', '--tag', NODE_BASE, ctx]);
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
  return NODE_BASE;
}

// ------------------------------------------------------------------------------------ the project image

/**
 * The build context: what .dockerignore lets through, plus the bundled Argo CD manifests from the upstream
 * cache (`npm run manifests`; `main` below fills it first).
 */
export function projectContext(): Record<string, string> {
  const files: Record<string, string> = {};
  for (const f of [
    'Dockerfile',
    'package.json',
    'package-lock.json',
    'tsconfig.json',
    'tsconfig.build.json',
    'scripts/bundle.ts',
  ]) {
    files[f] = join(root, f);
  }
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (!path.endsWith('.test.ts')) files[relative(root, path)] = path;
    }
  };
  walk(join(root, 'src'));
  files['manifests/argocd/README.md'] = join(root, 'manifests', 'argocd', 'README.md');
  for (const version of BUNDLED_VERSIONS) {
    const file = upstreamPathSync(`argocd/${version}`);
    // Checked here too, so a wrong file fails with its path rather than deep in a docker build.
    const sum = sha256Hex(readFileSync(file));
    if (sum !== BUNDLED_SHA256[version])
      throw new Error(`${file}: sha256 ${sum}, expected ${BUNDLED_SHA256[version]}`);
    files[`manifests/argocd/${version}/install.yaml`] = file;
    const ha = upstreamPathSync(`argocd-ha/${version}`);
    const haSum = sha256Hex(readFileSync(ha));
    if (haSum !== BUNDLED_HA_SHA256[version])
      throw new Error(`${ha}: sha256 ${haSum}, expected ${BUNDLED_HA_SHA256[version]}`);
    files[`manifests/argocd/${version}/ha/install.yaml`] = ha;
  }
  return files;
}

export interface ProjectImage {
  /** `sd-local/sd-gitops-bootstrap:<content hash>`. */
  local: string;
  /** The upstream name the chart uses (`ghcr.io/seldonio/sd-gitops-bootstrap:<appVersion>`). */
  upstream: string;
  built: boolean;
  buildSeconds: number;
  sizeBytes: number;
}

/** Builds the project image from the real Dockerfile on the local Node base, unless its hash is cached. */
export function buildProjectImage(): ProjectImage {
  const t0 = Date.now();
  const base = ensureNodeBase();
  const files = projectContext();
  const h = createHash('sha256').update(`${inspect(base, '{{.Id}}')}\0`);
  hashFiles(h, files);
  const local = `sd-local/sd-gitops-bootstrap:${h.digest('hex').slice(0, 16)}`;
  const upstream = chartImage();
  const cached = inspect(local, '{{.Id}}') !== undefined;
  if (!cached) {
    log(`building ${local} from the Dockerfile (BASE_IMAGE=${base})`);
    const ctx = mkdtempSync(join(tmpdir(), 'sd-project-image-'));
    try {
      for (const [name, file] of Object.entries(files)) {
        mkdirSync(dirname(join(ctx, name)), { recursive: true });
        copyFileSync(file, join(ctx, name));
      }
      docker(['build', '--build-arg', `BASE_IMAGE=${base}`, '--tag', local, ctx]);
    } finally {
      rmSync(ctx, { recursive: true, force: true });
    }
  }
  // Older builds of the project image are only disk space now (their layers shared with this one stay).
  const stale = docker(['images', 'sd-local/sd-gitops-bootstrap', '--format', '{{.Repository}}:{{.Tag}}'])
    .stdout.split('\n')
    .filter((t) => t && t !== local);
  if (stale.length > 0) docker(['rmi', ...stale], { allowFail: true });
  const sizeBytes = Number(inspect(local, '{{.Size}}'));
  const buildSeconds = (Date.now() - t0) / 1000;
  log(
    `${upstream}: ${cached ? 'cached' : 'built'} ${local} (${(sizeBytes / 1e6).toFixed(0)} MB) in ${buildSeconds.toFixed(1)}s`,
  );
  return { local, upstream, built: !cached, buildSeconds, sizeBytes };
}

// ------------------------------------------------------------------------------------------- everything

/** Whether the local registry serves `upstream` (through the mirror), by its manifest. */
export async function inRegistry(registry: string, upstream: string): Promise<boolean> {
  const path = localPath(upstream);
  const colon = path.lastIndexOf(':');
  const url = `http://${registry}/v2/${path.slice(0, colon)}/manifests/${path.slice(colon + 1)}`;
  const res = await fetch(url, {
    method: 'HEAD',
    headers: {
      accept: [
        'application/vnd.docker.distribution.manifest.v2+json',
        'application/vnd.docker.distribution.manifest.list.v2+json',
        'application/vnd.oci.image.manifest.v1+json',
        'application/vnd.oci.image.index.v1+json',
      ].join(', '),
    },
  }).catch(() => undefined);
  return res?.ok === true;
}

export interface ImagesResult {
  project: ProjectImage & { pushed?: { ref: string; digest: string } };
  /** Argo CD's images (upstream names) the registry serves after this run, and those it lacks and why. */
  argocd: { present: string[]; missing: string[]; why?: string };
}

/** The upstream image names of Argo CD's manifest at `version` (argocd, dex, redis). */
export function argocdManifestImages(version = BUNDLED_VERSIONS[0]): string[] {
  const text = readFileSync(upstreamPathSync(`argocd/${version}`), 'utf8');
  return [...new Set([...text.matchAll(/^\s+image: (\S+)$/gm)].map((m) => m[1]!))].sort();
}

/** What ensureImages and `--help` use of tools/images/argocd.ts, loaded only when needed. */
interface ArgocdImagesModule {
  buildArgocdImages: (o: {
    registry?: string;
  }) => Promise<{ dexMissing?: string; images: { local: string; upstream: string }[] }>;
  USAGE: string;
}

/**
 * tools/images/argocd.ts, imported while this module may still be evaluating its own top-level await
 * (`npm run images`): it must not import this module back, or the two wait on each other and Node exits
 * 13 ("unsettled top-level await"). What both need lives in tools/images/docker.ts.
 */
export function loadArgocdImages(): Promise<ArgocdImagesModule> {
  return import('./argocd.ts') as Promise<ArgocdImagesModule>;
}

export const USAGE = `usage: npm run images -- [--registry HOST:PORT] [--project-only]
  Builds the project image from the Dockerfile and, unless --project-only, Argo CD's images
  (tools/images/argocd.ts); pushes them to --registry, else loads them into the kind cluster of
  npm run cluster:up -- --kind; with neither, only builds.`;

/**
 * Builds and pushes the project image; then Argo CD's (tools/images/argocd.ts, built by the Argo CD
 * tests' own script when it exists — its failure is reported, not thrown: the chart tests that need a
 * running Argo CD decide what that means).
 */
export async function ensureImages(
  opts: { registry?: string; argocd?: boolean; kind?: { container: string; registry: string } } = {},
): Promise<ImagesResult> {
  const project = buildProjectImage();
  const result: ImagesResult = { project, argocd: { present: [], missing: argocdManifestImages() } };
  const built: { local: string; upstream: string }[] = [project];
  if (opts.registry) result.project.pushed = pushAs(opts.registry, project.local, project.upstream);
  if (opts.argocd !== false) {
    const script = join(root, 'tools', 'images', 'argocd.ts');
    if (!existsSync(script)) {
      result.argocd.why = 'tools/images/argocd.ts does not exist';
    } else {
      try {
        const mod = await loadArgocdImages();
        const r = await mod.buildArgocdImages(opts.registry ? { registry: opts.registry } : {});
        built.push(...r.images);
        if (r.dexMissing) result.argocd.why = `dex: ${r.dexMissing}`;
      } catch (err) {
        result.argocd.why = `tools/images/argocd.ts failed: ${(err as Error).message.split('\n').slice(0, 8).join('\n')}`;
      }
    }
  }
  if (opts.registry) {
    const present: string[] = [];
    const missing: string[] = [];
    for (const image of argocdManifestImages()) {
      ((await inRegistry(opts.registry, image)) ? present : missing).push(image);
    }
    result.argocd = { ...result.argocd, present, missing };
  } else if (opts.kind) {
    // The project image is loaded into the node (the chart's pullPolicy decides); Argo CD's manifest pulls
    // with `imagePullPolicy: Always`, so its images go to the cluster's registry (tools/kind/registry.ts).
    const { loadImageInto } = await import('../kind/kind-container.ts');
    docker(['tag', project.local, project.upstream]);
    await loadImageInto(opts.kind.container, project.upstream);
    log(`loaded ${project.upstream} into the kind node`);
    for (const image of built.slice(1)) {
      pushAs(opts.kind.registry, image.local, image.upstream);
      log(`pushed ${image.upstream} to the kind cluster's registry`);
    }
    const pushed = new Set(built.slice(1).map((b) => b.upstream));
    const all = argocdManifestImages();
    result.argocd = {
      ...result.argocd,
      present: all.filter((i) => pushed.has(i)),
      missing: all.filter((i) => !pushed.has(i)),
    };
  }
  return result;
}

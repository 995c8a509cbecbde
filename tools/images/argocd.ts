/**
 * Argo CD's images for the kind tier, built here because nothing can be pulled: the names are the ones
 * Argo CD's own manifest uses (read from the bundled `install.yaml`), so it runs unchanged once they are
 * loaded into the kind node under those names (test/e2e-kind/support/kind.ts, `npm run images`).
 *
 * - `quay.io/argoproj/argocd:<version>`: like Argo CD's Dockerfile, on the Debian bookworm base
 *   (`sd-local/debian:bookworm`): git, git-lfs, openssh-client, gpg, tini, helm and kustomize, the
 *   `argocd` binary from its Go module (tools/argocd/build.sh) linked under every component name,
 *   user 999, the `/app/config` layout.
 * - redis (`public.ecr.aws/docker/library/redis:<tag>`): Debian's `redis-server` as uid 999, with an
 *   entrypoint that, like the official image's, prepends `redis-server` to arguments starting with `-`
 *   (the manifest gives only `args`).
 * - dex (`ghcr.io/dexidp/dex:<tag>`): the `dex` binary from its Go module, uid 1001 like upstream's image —
 *   only with `--dex`, and only once dex builds from what the module proxy serves: today it does not
 *   (tools/argocd/README.md), so there is no dex image and `argocd-dex-server` cannot start.
 *
 * Cache: each image is first tagged `sd-local/<name>-<tag>:<content hash>` (Dockerfile, every file of the
 * context, the base image's key); an existing tag skips the build. Pushing a pushed image only sends a
 * manifest.
 *
 * CLI: `node tools/images/argocd.ts [--registry host:port] [--dex] [--argocd-version v2.14.21]`: builds,
 * and pushes to `--registry` when given (`npm run images` also loads them into a running kind cluster).
 * `--argocd-version`: one of ARGOCD_IMAGE_VERSIONS (default v3.5.1), read from that version's manifest.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAll } from 'js-yaml';
import { bundledManifestPaths } from '../../src/manifests/argocd.ts';
import { toolsBin } from '../cluster/bin.ts';
import { ARGOCD_VERSION, ARGOCD_VERSIONS } from '../versions.ts';
import { buildImage, docker, ensureBaseImage, type ImageBuild, pushAs, registryArg } from './docker.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export { ARGOCD_VERSION };
/**
 * Every release the images can be built for (tools/versions.ts: the bundled ones): the default, and the
 * older one for the kind tier's upgrade test (tools/argocd/build.sh builds each from its own wrapper module).
 */
export const ARGOCD_IMAGE_VERSIONS = ARGOCD_VERSIONS;

/**
 * Names Argo CD's `cmd/main.go` dispatches on (the base name of argv[0]), linked to the one binary as in
 * Argo CD's Dockerfile.
 */
export const ARGOCD_COMMANDS = [
  'argocd-server',
  'argocd-repo-server',
  'argocd-cmp-server',
  'argocd-application-controller',
  'argocd-dex',
  'argocd-notifications',
  'argocd-applicationset-controller',
  'argocd-k8s-auth',
  'argocd-commit-server',
] as const;

export interface ArgocdImageNames {
  argocd: string;
  redis: string;
  dex: string;
}

function log(msg: string): void {
  process.stderr.write(`[argocd-images] ${msg}\n`);
}

function manifestPath(version: string): string {
  const path = bundledManifestPaths(version, root).find((p) => existsSync(p));
  if (!path)
    throw new Error(
      `no bundled install.yaml for ${version} (looked in manifests/ and the cache: run npm run manifests)`,
    );
  return path;
}

interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string }[];
  volumeMounts?: { mountPath: string }[];
  securityContext?: { runAsUser?: number };
}

/** Every container and init container of the bundled manifest's workloads. */
export function manifestContainers(version: string = ARGOCD_VERSION): { init: boolean; c: Container }[] {
  const out: { init: boolean; c: Container }[] = [];
  for (const doc of loadAll(readFileSync(manifestPath(version), 'utf8'))) {
    const spec = (doc as { spec?: { template?: { spec?: Record<string, unknown> } } } | null)?.spec?.template
      ?.spec;
    if (!spec) continue;
    for (const c of (spec.initContainers as Container[] | undefined) ?? []) out.push({ init: true, c });
    for (const c of (spec.containers as Container[] | undefined) ?? []) out.push({ init: false, c });
  }
  return out;
}

/** The image names of the bundled manifest, by role; throws if one is missing or unexpected. */
export function manifestImages(version: string = ARGOCD_VERSION): ArgocdImageNames {
  const path = manifestPath(version);
  const images = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) {
        if (k === 'image' && typeof v === 'string') images.add(v);
        else walk(v);
      }
    }
  };
  for (const doc of loadAll(readFileSync(path, 'utf8'))) walk(doc);
  const pick = (re: RegExp, role: string): string => {
    const found = [...images].filter((i) => re.test(i));
    if (found.length !== 1) {
      throw new Error(`${path}: expected one ${role} image, found ${found.join(', ') || 'none'}`);
    }
    return found[0]!;
  };
  const names = {
    argocd: pick(/\/argoproj\/argocd:/, 'argocd'),
    redis: pick(/(^|\/)redis:/, 'redis'),
    dex: pick(/\/dexidp\/dex:/, 'dex'),
  };
  const unknown = [...images].filter((i) => !Object.values(names).includes(i));
  if (unknown.length) throw new Error(`${path}: images this script does not build: ${unknown.join(', ')}`);
  return names;
}

// ---------------------------------------------------------------- binaries

export interface ArgocdBinaries {
  argocd: string;
  kustomize: string;
  dex?: string;
  helm: string;
  /** Argo CD's module in the Go module cache: its Dockerfile's helper scripts are copied from there. */
  argocdModuleDir: string;
}

/** Builds or reuses every binary the images need (cold: tens of minutes on 2 cores; warm: seconds). */
export function argocdBinaries(opts: { dex?: boolean; version?: string } = {}): ArgocdBinaries {
  const version = opts.version ?? ARGOCD_VERSION;
  const major = /^v(\d+)\./.exec(version)?.[1];
  // The wrapper module of each release: v3's in tools/, v2's in tools/v2 (build.sh says the same).
  const tools = join(root, 'tools/argocd', major === '3' ? '' : `v${major}`);
  const out = execFileSync(join(root, 'tools/argocd/build.sh'), {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ARGOCD_VERSION: version, ...(opts.dex ? { ARGOCD_TOOLS_DEX: '1' } : {}) },
  });
  const bin = out.trim().split('\n').pop()!;
  // `go mod download` (not `go list -m`): it also fetches the module when a cached binary outlived a
  // cleaned module cache.
  const moduleDir = (
    JSON.parse(
      execFileSync('go', ['mod', 'download', '-json', `github.com/argoproj/argo-cd/v${major}@${version}`], {
        cwd: tools,
        encoding: 'utf8',
      }),
    ) as { Dir: string }
  ).Dir;
  return {
    argocd: join(bin, 'argocd'),
    kustomize: join(bin, 'kustomize'),
    ...(existsSync(join(bin, 'dex')) ? { dex: join(bin, 'dex') } : {}),
    helm: join(toolsBin(), 'helm'),
    argocdModuleDir: moduleDir,
  };
}

// ---------------------------------------------------------------- image recipes

// apt inside `docker build` is the only network step: retries keep a mirror hiccup from failing a run.
const APT_INSTALL =
  'apt-get -o Acquire::Retries=5 update -qq && DEBIAN_FRONTEND=noninteractive ' +
  'apt-get -o Acquire::Retries=5 install -y -qq --no-install-recommends';
const APT_CLEAN = 'apt-get clean && rm -rf /var/lib/apt/lists/* /tmp/* /var/tmp/* /usr/share/doc/*';

/** Argo CD's image, following its Dockerfile's `argocd-base` and final stages. */
// Binaries keep their mode through the build context (copyFileSync copies it) and are not chmod-ed in the
// image: a RUN touching a file copies it into a layer of its own (another 150 MB for argocd).
export function argocdImage(base: string, bins: ArgocdBinaries): ImageBuild {
  const hack = (name: string) => ({ copyFrom: join(bins.argocdModuleDir, name) });
  const links = ARGOCD_COMMANDS.map((c) => `ln -s /usr/local/bin/argocd /usr/local/bin/${c}`).join(' && ');
  return {
    dockerfile: `FROM ${base}
USER root
ENV ARGOCD_USER_ID=999 DEBIAN_FRONTEND=noninteractive
RUN groupadd -g $ARGOCD_USER_ID argocd && \\
    useradd -r -u $ARGOCD_USER_ID -g argocd argocd && \\
    mkdir -p /home/argocd && chown argocd:0 /home/argocd && chmod g=u /home/argocd && \\
    ${APT_INSTALL} git git-lfs tini ca-certificates gpg gpg-agent tzdata connect-proxy openssh-client \\
      >/dev/null && \\
    ${APT_CLEAN}
COPY gpg-wrapper.sh git-verify-wrapper.sh entrypoint.sh /usr/local/bin/
COPY helm kustomize /usr/local/bin/
RUN chmod 0755 /usr/local/bin/*.sh && \\
    git lfs install --system >/dev/null && \\
    ln -s /usr/local/bin/entrypoint.sh /usr/local/bin/uid_entrypoint.sh
WORKDIR /app/config/ssh
RUN touch ssh_known_hosts && ln -s /app/config/ssh/ssh_known_hosts /etc/ssh/ssh_known_hosts
WORKDIR /app/config
RUN mkdir -p tls gpg/source gpg/keys && chown argocd gpg/keys && chmod 0700 gpg/keys
ENV USER=argocd GRPC_ENABLE_TXT_SERVICE_CONFIG=false
COPY argocd /usr/local/bin/argocd
RUN ${links}
ENTRYPOINT ["/usr/bin/tini", "--"]
USER $ARGOCD_USER_ID
WORKDIR /home/argocd
`,
    files: {
      'gpg-wrapper.sh': hack('hack/gpg-wrapper.sh'),
      'git-verify-wrapper.sh': hack('hack/git-verify-wrapper.sh'),
      'entrypoint.sh': hack('entrypoint.sh'),
      helm: { copyFrom: bins.helm },
      kustomize: { copyFrom: bins.kustomize },
      argocd: { copyFrom: bins.argocd },
    },
  };
}

/**
 * Like the official image's `docker-entrypoint.sh`: arguments that start with `-` (or a `.conf` file)
 * are redis-server's. No privilege drop: the manifest runs the pod as uid 999, which the image's user is.
 */
const REDIS_ENTRYPOINT = `#!/bin/sh
set -e
case "$1" in
  -* | *.conf) set -- redis-server "$@" ;;
esac
exec "$@"
`;

/** redis from Debian's `redis-server`, uid/gid 999 like the official image. */
export function redisImage(base: string): ImageBuild {
  return {
    dockerfile: `FROM ${base}
RUN groupadd -r -g 999 redis && useradd -r -g redis -u 999 -d /data -s /usr/sbin/nologin redis && \\
    ${APT_INSTALL} redis-server >/dev/null && ${APT_CLEAN} && \\
    mkdir -p /data && chown redis:redis /data
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN chmod 0755 /usr/local/bin/docker-entrypoint.sh
WORKDIR /data
USER 999:999
EXPOSE 6379
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["redis-server"]
`,
    files: { 'docker-entrypoint.sh': REDIS_ENTRYPOINT },
  };
}

/** dex: its binary (web assets are embedded), uid 1001 and the directories of upstream's image. */
export function dexImage(base: string, dex: string): ImageBuild {
  return {
    dockerfile: `FROM ${base}
RUN groupadd -r -g 1001 dex && useradd -r -u 1001 -g dex -M -s /usr/sbin/nologin dex && \\
    mkdir -p /var/dex /etc/dex /srv/dex && chown dex:dex /var/dex /etc/dex
COPY dex /usr/local/bin/dex
USER 1001:1001
CMD ["dex", "serve", "/etc/dex/config.docker.yaml"]
`,
    files: { dex: { copyFrom: dex } },
  };
}

// ---------------------------------------------------------------- build, cache, push

/** A docker command whose failure the caller handles. */
const dockerTry = (args: string[]) => docker(args, { allowFail: true });
const dockerOk = (args: string[]): string => docker(args).stdout;

async function fileHash(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** The content hash of a build: its Dockerfile, every context file's bytes, and the base image's key. */
export async function buildKey(build: ImageBuild, baseId: string): Promise<string> {
  const h = createHash('sha256').update(baseId).update('\0').update(build.dockerfile);
  for (const [name, content] of Object.entries(build.files ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    h.update(`\0${name}\0`);
    h.update(typeof content === 'string' ? content : await fileHash(content.copyFrom));
  }
  return h.digest('hex').slice(0, 16);
}

export interface BuiltImage {
  /** Upstream name, as in the manifest. */
  upstream: string;
  /** `sd-local/<name>-<tag>:<content hash>`. */
  local: string;
  built: boolean;
  seconds: number;
  sizeBytes: number;
  /** When pushed: the registry reference and its digest. */
  pushed?: { ref: string; digest: string };
}

/**
 * Builds `build` unless `sd-local/<name>-<tag>:<hash>` exists; pushes it to `registry` as `upstream`. A fresh
 * build is checked with `verify` (it throws to refuse the image, which is then removed).
 */
export async function ensureImage(
  upstream: string,
  build: ImageBuild,
  opts: { baseId: string; registry?: string; verify?: (image: string) => void },
): Promise<BuiltImage> {
  const t0 = Date.now();
  // One local repository per upstream name and tag (`sd-local/argocd-v3.5.1`): the older builds removed
  // below are then only those of the same image, never another version's (the upgrade test needs two).
  const name = upstream
    .slice(upstream.lastIndexOf('/') + 1)
    .replace(':', '-')
    .replace(/[^a-z0-9._-]/g, '-');
  const local = `sd-local/${name}:${await buildKey(build, opts.baseId)}`;
  const exists = dockerTry(['image', 'inspect', local]).status === 0;
  if (!exists) {
    log(`building ${upstream} as ${local}`);
    buildImage(local, build);
    try {
      opts.verify?.(local);
    } catch (err) {
      dockerTry(['rmi', '-f', local]);
      throw new Error(`${upstream}: the image built as ${local} failed its check: ${(err as Error).message}`);
    }
  }
  // Older builds of this image are only disk space now (layers shared with this one stay).
  const stale = dockerOk(['images', `sd-local/${name}`, '--format', '{{.Repository}}:{{.Tag}}'])
    .split('\n')
    .filter((t) => t && t !== local);
  if (stale.length > 0) dockerTry(['rmi', ...stale]);
  const sizeBytes = Number(dockerOk(['image', 'inspect', '--format', '{{.Size}}', local]).trim());
  const result: BuiltImage = { upstream, local, built: !exists, seconds: 0, sizeBytes };
  if (opts.registry) result.pushed = pushAs(opts.registry, local, upstream);
  result.seconds = (Date.now() - t0) / 1000;
  log(
    `${upstream}: ${exists ? 'cached' : 'built'} ${local} (${(sizeBytes / 1e6).toFixed(0)} MB)` +
      `${result.pushed ? `, pushed ${result.pushed.ref}` : ''} in ${result.seconds.toFixed(1)}s`,
  );
  return result;
}

/**
 * Runs the manifest's `copyutil` init containers in the Argo CD image the way the kubelet would (read-only
 * root, the manifest's user, an empty volume at each mount): they copy the binary with `/bin/cp` (`-n` for
 * dex), so this is where a `cp` lacking an option the manifest uses would show.
 */
export function verifyCopyutils(image: string, upstream: string, version: string = ARGOCD_VERSION): void {
  const copyutils = manifestContainers(version).filter((x) => x.init && x.c.name === 'copyutil');
  if (copyutils.length === 0) throw new Error('the manifest has no copyutil init container');
  for (const { c } of copyutils) {
    if (c.image !== upstream) continue;
    const user = String(c.securityContext?.runAsUser ?? 999);
    const mounts = (c.volumeMounts ?? []).flatMap((m) => ['--tmpfs', `${m.mountPath}:uid=${user}`]);
    const [entry, ...rest] = [...(c.command ?? []), ...(c.args ?? [])];
    const r = dockerTry([
      'run',
      '--rm',
      '--read-only',
      '--user',
      user,
      ...mounts,
      '--entrypoint',
      entry!,
      image,
      ...rest,
    ]);
    if (r.status !== 0) {
      throw new Error(`copyutil ${JSON.stringify([entry, ...rest])} exited ${r.status}: ${r.stderr.trim()}`);
    }
  }
}

/**
 * Starts the redis image with the manifest's own args (`$(REDIS_PASSWORD)` expanded as the kubelet does)
 * as uid 999 on a read-only root, and asks it for PONG with the password.
 */
export function verifyRedis(image: string, upstream: string, version: string = ARGOCD_VERSION): void {
  const redis = manifestContainers(version).find((x) => !x.init && x.c.image === upstream)?.c;
  if (!redis) throw new Error(`no container runs ${upstream} in the manifest`);
  const password = 'sd-check-password';
  const args = (redis.args ?? []).map((a) => a.replaceAll('$(REDIS_PASSWORD)', password));
  const name = `sd-redis-check-${process.pid}`;
  dockerOk(['run', '-d', '--name', name, '--read-only', '--user', '999', image, ...args]);
  try {
    for (let i = 0; ; i++) {
      const r = dockerTry(['exec', name, 'redis-cli', '--no-auth-warning', '-a', password, 'ping']);
      if (r.stdout.trim() === 'PONG') break;
      if (i >= 50) {
        throw new Error(
          `redis did not answer PONG: ${r.stdout}${r.stderr}${dockerTry(['logs', name]).stderr}`,
        );
      }
      spawnSync('sleep', ['0.2']);
    }
    const anon = dockerTry(['exec', name, 'redis-cli', 'ping']);
    if (!/NOAUTH/.test(anon.stdout + anon.stderr))
      throw new Error(`redis answered without a password: ${anon.stdout}`);
  } finally {
    dockerTry(['rm', '-f', name]);
  }
}

export interface ArgocdImagesResult {
  images: BuiltImage[];
  /** Why dex has no image, when it has none. */
  dexMissing?: string;
}

/**
 * Builds (or reuses) Argo CD's and redis's images, and dex's with `dex: true`, and pushes them to
 * `registry` when given. A dex binary that could not be built is reported in `dexMissing`, not thrown.
 */
export async function buildArgocdImages(
  opts: { registry?: string; dex?: boolean; version?: string } = {},
): Promise<ArgocdImagesResult> {
  const version = opts.version ?? ARGOCD_VERSION;
  const names = manifestImages(version);
  const base = ensureBaseImage(log);
  // The base's own content key (its recipe and mirror), not its image id: a re-import of the same root
  // filesystem gets a new id but changes nothing these images contain.
  const baseId =
    dockerOk(['image', 'inspect', '--format', '{{ index .Config.Labels "sd.base-key" }}', base]).trim() ||
    dockerOk(['image', 'inspect', '--format', '{{.Id}}', base]).trim();
  const bins = argocdBinaries({ dex: opts.dex, version });
  const common = { baseId, ...(opts.registry ? { registry: opts.registry } : {}) };
  const images = [
    await ensureImage(names.argocd, argocdImage(base, bins), {
      ...common,
      verify: (image) => verifyCopyutils(image, names.argocd, version),
    }),
    await ensureImage(names.redis, redisImage(base), {
      ...common,
      verify: (image) => verifyRedis(image, names.redis, version),
    }),
  ];
  let dexMissing: string | undefined;
  if (!opts.dex) dexMissing = 'not requested (--dex): dex does not build from the module proxy today';
  else if (!bins.dex) dexMissing = 'the dex binary did not build (tools/argocd/build.sh said why)';
  else images.push(await ensureImage(names.dex, dexImage(base, bins.dex), common));
  return { images, ...(dexMissing ? { dexMissing } : {}) };
}

export const USAGE = `usage: node tools/images/argocd.ts [--registry HOST:PORT] [--dex] [--argocd-version VERSION]
  Builds Argo CD's and redis's images (and dex's with --dex) and pushes them to --registry if given.
  VERSION: ${ARGOCD_IMAGE_VERSIONS.join(' (default), ')}.`;

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  if (args.includes('--help')) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const registry = registryArg(args);
  const vi = args.indexOf('--argocd-version');
  const version = vi >= 0 ? args[vi + 1] : ARGOCD_VERSION;
  if (!version || !(ARGOCD_IMAGE_VERSIONS as readonly string[]).includes(version)) {
    process.stderr.write(`--argocd-version: one of ${ARGOCD_IMAGE_VERSIONS.join(', ')}\n${USAGE}\n`);
    process.exit(2);
  }
  try {
    const t0 = Date.now();
    const r = await buildArgocdImages({
      ...(registry ? { registry } : {}),
      dex: args.includes('--dex'),
      version,
    });
    if (!registry) log('no --registry: built only (npm run images also loads them into a kind cluster)');
    if (r.dexMissing) log(`no dex image: ${r.dexMissing}`);
    log(`done in ${((Date.now() - t0) / 1000).toFixed(0)}s`);
    process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  } catch (err) {
    log((err as Error).message);
    process.exit(1);
  }
}

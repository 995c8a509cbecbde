/**
 * Images for the tests, without any registry to pull from.
 *
 * - Docker builds them (Debian's `docker.io`, the legacy builder: it resolves `FROM` against local images
 *   and never contacts a registry); the kind tier loads them into its node (tools/kind/kind-container.ts,
 *   `loadImageInto`) under the upstream names the manifests use.
 * - Base images cannot be pulled either: `ensureBaseImage` makes a Debian bookworm root filesystem with
 *   debootstrap from the host's own Debian mirror and imports it as `sd-local/debian:bookworm`, built once
 *   and cached (keyed by what goes into it).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const DOCKER_ENV = { ...process.env, DOCKER_BUILDKIT: '0', DOCKER_CLI_HINTS: 'false' };

/**
 * One docker command, with the legacy builder (it never contacts a registry for `FROM`). Throws with the
 * output's tail when it fails, unless `allowFail`.
 */
export function docker(
  args: string[],
  opts: { input?: string; allowFail?: boolean } = {},
): { status: number; stdout: string; stderr: string } {
  const r = spawnSync('docker', args, {
    encoding: 'utf8',
    env: DOCKER_ENV,
    input: opts.input,
    maxBuffer: 256 * 1024 * 1024,
  });
  const result = { status: r.status ?? 1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  if (result.status !== 0 && !opts.allowFail) {
    const out = `${result.stdout}${result.stderr}`.trim().split('\n').slice(-30).join('\n');
    throw new Error(`docker ${args.slice(0, 2).join(' ')} failed (exit ${r.status}):\n${out}`);
  }
  return result;
}

/** True when the local Docker has an image by this reference. */
export const imageExists = (ref: string): boolean =>
  docker(['image', 'inspect', ref], { allowFail: true }).status === 0;

/** Pushes `ref`; returns its digest (what a pod's `imageID` shows). */
export function pushRef(ref: string): string {
  const out = docker(['push', ref]).stdout;
  const digest = /digest: (sha256:[0-9a-f]{64})/.exec(out)?.[1];
  if (!digest) throw new Error(`docker push ${ref}: no digest in its output:\n${out}`);
  return digest;
}

/** Tags `local` under `upstream` in `registry` and pushes it; returns the pushed reference and digest. */
export function pushAs(registry: string, local: string, upstream: string): { ref: string; digest: string } {
  const ref = localRef(registry, upstream);
  docker(['tag', local, ref]);
  return { ref, digest: pushRef(ref) };
}

/**
 * Where an upstream image name lives in another registry (e.g. a local one to publish to): the registry
 * host is dropped and Docker Hub's implicit `library/` is made explicit.
 * `quay.io/argoproj/argocd:v3.5.1` → `argoproj/argocd:v3.5.1`; `redis:7` → `library/redis:7`.
 */
export function localPath(upstream: string): string {
  if (upstream.includes('@'))
    throw new Error(`${upstream}: digests cannot be copied under another name; name a tag`);
  const slash = upstream.indexOf('/');
  const first = slash < 0 ? '' : upstream.slice(0, slash);
  const hasHost = first.includes('.') || first.includes(':') || first === 'localhost';
  let path = hasHost ? upstream.slice(slash + 1) : upstream;
  const host = hasHost ? first : 'docker.io';
  if (host === 'docker.io' && !path.includes('/')) path = `library/${path}`;
  const lastSlash = path.lastIndexOf('/');
  if (!path.slice(lastSlash + 1).includes(':')) path = `${path}:latest`;
  return path;
}

/** The reference to push for an upstream name: `<registry>/<localPath>`. */
export function localRef(registry: string, upstream: string): string {
  return `${registry}/${localPath(upstream)}`;
}

export interface ImageBuild {
  /** Dockerfile text. */
  dockerfile: string;
  /** Extra files of the build context: name → contents, or `{ copyFrom: path }` for a file or folder on disk. */
  files?: Record<string, string | { copyFrom: string }>;
  /** `host`: RUN steps reach the Debian mirror the way the host does (apt-get in the build). */
  network?: 'host';
}

/** Builds an image with Docker under `tag` (no pull, no registry involved). */
export function buildImage(tag: string, build: ImageBuild): void {
  const ctx = mkdtempSync(join(tmpdir(), 'sd-image-'));
  try {
    writeFileSync(join(ctx, 'Dockerfile'), build.dockerfile);
    for (const [name, content] of Object.entries(build.files ?? {})) {
      mkdirSync(dirname(join(ctx, name)), { recursive: true });
      if (typeof content === 'string') writeFileSync(join(ctx, name), content);
      else if (statSync(content.copyFrom).isDirectory())
        cpSync(content.copyFrom, join(ctx, name), { recursive: true });
      else copyFileSync(content.copyFrom, join(ctx, name));
    }
    const network = build.network ? ['--network', build.network] : [];
    docker(['build', '--quiet', ...network, '--tag', tag, ctx]);
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
}

/**
 * `sd-local/<name>:<hash>` of an image on the Debian base: built once, reused while the base, the
 * Dockerfile and every file of the context stay the same.
 */
export function ensureBaseDerivedImage(
  name: string,
  build: ImageBuild,
  log: (m: string) => void = () => {},
): string {
  ensureBaseImage(log);
  const h = createHash('sha256').update(
    docker(['image', 'inspect', '--format', '{{.Id}}', BASE_IMAGE]).stdout.trim(),
  );
  h.update(build.dockerfile);
  for (const [file, content] of Object.entries(build.files ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    h.update(`\0${file}\0`);
    h.update(typeof content === 'string' ? content : readFileSync(content.copyFrom));
  }
  const tag = `sd-local/${name}:${h.digest('hex').slice(0, 16)}`;
  if (imageExists(tag)) return tag;
  log(`building ${tag}`);
  buildImage(tag, build);
  return tag;
}

// ---------------------------------------------------------------- Debian base image

export const BASE_IMAGE = 'sd-local/debian:bookworm';
/** What tests and image builds need without network access at build time. */
const BASE_PACKAGES = ['ca-certificates', 'curl', 'busybox', 'procps', 'netbase'];
const BASE_RECIPE = 'v1'; // bump when the recipe below changes in a way the key cannot see

/** The host's Debian mirror (`/etc/apt/sources.list` or a deb822 `.sources` file), else deb.debian.org. */
export function debianMirror(): string {
  if (process.env.DEBIAN_MIRROR) return process.env.DEBIAN_MIRROR;
  const candidates: string[] = [];
  const legacy = '/etc/apt/sources.list';
  if (existsSync(legacy)) {
    for (const line of readFileSync(legacy, 'utf8').split('\n')) {
      const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/.exec(line);
      if (m) candidates.push(m[1]!);
    }
  }
  const dir = '/etc/apt/sources.list.d';
  if (existsSync(dir)) {
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.sources') || n.endsWith('.list'))) {
      const text = readFileSync(join(dir, f), 'utf8');
      for (const stanza of text.split(/\n\s*\n/)) {
        const uris = /^URIs:\s*(\S+)/m.exec(stanza)?.[1];
        const suites = /^Suites:\s*(.*)$/m.exec(stanza)?.[1]?.split(/\s+/) ?? [];
        if (uris && suites.includes('bookworm')) candidates.push(uris);
      }
      for (const line of text.split('\n')) {
        const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/.exec(line);
        if (m) candidates.push(m[1]!);
      }
    }
  }
  return (candidates.find((u) => !u.includes('security')) ?? 'http://deb.debian.org/debian').replace(
    /\/$/,
    '',
  );
}

function cacheRoot(): string {
  return (
    process.env.SD_TOOLS_CACHE ??
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'sd-gitops-bootstrap')
  );
}

function baseKey(mirror: string): string {
  return createHash('sha256')
    .update(JSON.stringify({ suite: 'bookworm', variant: 'minbase', mirror, BASE_PACKAGES, BASE_RECIPE }))
    .digest('hex')
    .slice(0, 16);
}

function imageLabel(image: string, label: string): string | undefined {
  const r = spawnSync(
    'docker',
    ['image', 'inspect', '--format', `{{ index .Config.Labels "${label}" }}`, image],
    {
      encoding: 'utf8',
    },
  );
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/**
 * `sd-local/debian:bookworm`: reused when Docker has it with the same key; else imported from the cached
 * root filesystem tarball; else made with debootstrap (a few minutes, once per machine and key).
 */
export function ensureBaseImage(log: (m: string) => void = () => {}): string {
  const mirror = debianMirror();
  const key = baseKey(mirror);
  if (imageLabel(BASE_IMAGE, 'sd.base-key') === key) return BASE_IMAGE;
  const dir = join(cacheRoot(), 'images');
  const tarball = join(dir, `debian-bookworm-${key}.tar`);
  if (!existsSync(tarball)) {
    const t0 = Date.now();
    log(`making the Debian bookworm base image with debootstrap from ${mirror} (once per machine)`);
    mkdirSync(dir, { recursive: true });
    const rootfs = mkdtempSync(join(dir, 'rootfs-'));
    try {
      const r = spawnSync(
        'debootstrap',
        ['--variant=minbase', `--include=${BASE_PACKAGES.join(',')}`, 'bookworm', rootfs, mirror],
        // debootstrap lives in /usr/sbin, which a non-login PATH may lack.
        {
          encoding: 'utf8',
          env: { ...process.env, PATH: `/usr/sbin:/sbin:${process.env.PATH ?? '/usr/bin:/bin'}` },
        },
      );
      if (r.status !== 0) {
        throw new Error(
          `debootstrap failed (exit ${r.status}):\n${`${r.stdout}${r.stderr}`.trim().split('\n').slice(-20).join('\n')}`,
        );
      }
      writeFileSync(join(rootfs, 'etc/apt/sources.list'), `deb ${mirror} bookworm main\n`);
      rmSync(join(rootfs, 'etc/apt/sources.list.d/debian.sources'), { force: true });
      // No caches, no host identity in the image.
      for (const d of ['var/cache/apt/archives', 'var/lib/apt/lists']) {
        for (const f of readdirSync(join(rootfs, d))) {
          if (f !== 'partial' && f !== 'lock') rmSync(join(rootfs, d, f), { recursive: true, force: true });
        }
      }
      writeFileSync(join(rootfs, 'etc/hostname'), 'localhost\n');
      rmSync(join(rootfs, 'etc/resolv.conf'), { force: true });
      execFileSync('tar', ['--numeric-owner', '-C', rootfs, '-cf', `${tarball}.tmp`, '.']);
      renameSync(`${tarball}.tmp`, tarball);
    } finally {
      rmSync(rootfs, { recursive: true, force: true });
    }
    log(`debootstrap done in ${((Date.now() - t0) / 1000).toFixed(0)}s`);
  }
  docker([
    'import',
    '--change',
    `LABEL sd.base-key=${key}`,
    '--change',
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    '--change',
    'CMD ["/bin/bash"]',
    tarball,
    BASE_IMAGE,
  ]);
  return BASE_IMAGE;
}

/** `--registry HOST:PORT` from the command line (where `npm run images` pushes), if given. */
export function registryArg(args: readonly string[]): string | undefined {
  const i = args.indexOf('--registry');
  return i >= 0 ? args[i + 1] : undefined;
}

/**
 * Upstream files the project needs but does not commit — Argo CD's install manifests and Istio's networking
 * CRDs — each pinned by sha256 and cached outside the repository
 * (`$SD_GITOPS_BOOTSTRAP_CACHE` or `~/.cache/sd-gitops-bootstrap`, under `manifests/`).
 *
 * They come from the Go module proxy (`$GOPROXY`, else `go env GOPROXY`, else https://proxy.golang.org):
 * the module zip of `github.com/argoproj/argo-cd/v3@v3.5.1` carries `manifests/install.yaml` byte for byte
 * as the release does, and `istio.io/api` carries the CRDs. Where the proxy fails, the release URL on
 * GitHub is tried. Whatever the source, a file whose digest differs from the pin is refused.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { inflateRawSync } from 'node:zlib';

export interface UpstreamFile {
  /** Go module path and version whose zip holds the file. */
  module: string;
  version: string;
  /** The file's path inside the module. */
  path: string;
  /** The same file from the release, where the internet is reachable. */
  url: string;
  /** Turns the module's file into what is cached (default: unchanged). */
  extract?: (text: string) => string;
  /** sha256 of what is cached (after `extract`). */
  sha256: string;
  /** Where it is cached, relative to `<cache>/manifests/`. */
  cachePath: string;
}

/** Gateway and VirtualService CRDs out of Istio's generated CRD file (documents kept verbatim, in order). */
export function istioNetworkingCrds(text: string): string {
  const wanted = ['gateways.networking.istio.io', 'virtualservices.networking.istio.io'];
  const docs = text
    .split(/^---$/m)
    .filter((doc) => wanted.some((name) => doc.includes(`\n  name: ${name}\n`)));
  if (docs.length !== wanted.length)
    throw new Error('Istio CRD file: Gateway and VirtualService not both found');
  return `${docs.map((d) => d.replace(/^\n+/, '').replace(/\n+$/, '\n')).join('---\n')}`;
}

const ARGO = 'github.com/argoproj/argo-cd';
const ISTIO_API = 'v1.32.0';

export const UPSTREAM = {
  'argocd/v3.5.1': {
    module: `${ARGO}/v3`,
    version: 'v3.5.1',
    path: 'manifests/install.yaml',
    url: 'https://raw.githubusercontent.com/argoproj/argo-cd/v3.5.1/manifests/install.yaml',
    sha256: '795a3a972224da6a7f9d32c3e946445f062b60fb46028476715affeb688236e3',
    cachePath: 'argocd/v3.5.1/install.yaml',
  },
  'argocd/v2.14.21': {
    module: `${ARGO}/v2`,
    version: 'v2.14.21',
    path: 'manifests/install.yaml',
    url: 'https://raw.githubusercontent.com/argoproj/argo-cd/v2.14.21/manifests/install.yaml',
    sha256: 'ee39d40847bbb36154ebcdf2f5c93e0a9001ab60131afb60dbe42981a069699e',
    cachePath: 'argocd/v2.14.21/install.yaml',
  },
  // The HA profile (argocd.install.profile: ha): the same modules' `manifests/ha/install.yaml`.
  'argocd-ha/v3.5.1': {
    module: `${ARGO}/v3`,
    version: 'v3.5.1',
    path: 'manifests/ha/install.yaml',
    url: 'https://raw.githubusercontent.com/argoproj/argo-cd/v3.5.1/manifests/ha/install.yaml',
    sha256: '1d7b6baa0769ff8a5757c61e2c677ae0939a15e86e149f64df6b12435db5c4b2',
    cachePath: 'argocd/v3.5.1/ha/install.yaml',
  },
  'argocd-ha/v2.14.21': {
    module: `${ARGO}/v2`,
    version: 'v2.14.21',
    path: 'manifests/ha/install.yaml',
    url: 'https://raw.githubusercontent.com/argoproj/argo-cd/v2.14.21/manifests/ha/install.yaml',
    sha256: '0fd3798afc491023fc4fae35961e976a7cfdcd611a67abbf333443cee720f44c',
    cachePath: 'argocd/v2.14.21/ha/install.yaml',
  },
  'istio/networking-crds': {
    module: 'istio.io/api',
    version: ISTIO_API,
    path: 'kubernetes/customresourcedefinitions.gen.yaml',
    url: `https://raw.githubusercontent.com/istio/api/${ISTIO_API}/kubernetes/customresourcedefinitions.gen.yaml`,
    extract: istioNetworkingCrds,
    sha256: '5f44f4c9b37d7349c3d77f8c2b793ce29b6f9a25f01fd25da7f33b6ef73953b6',
    cachePath: `istio/${ISTIO_API}/networking-crds.yaml`,
  },
} as const satisfies Record<string, UpstreamFile>;

export type UpstreamKey = keyof typeof UPSTREAM;

/** The key of Argo CD's install manifest at `version` (`ha`: manifests/ha/install.yaml), when one is pinned. */
export function argocdKey(version: string, profile: 'standard' | 'ha' = 'standard'): UpstreamKey | undefined {
  const key = `${profile === 'ha' ? 'argocd-ha' : 'argocd'}/${version}`;
  return key in UPSTREAM ? (key as UpstreamKey) : undefined;
}

export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SD_GITOPS_BOOTSTRAP_CACHE) return env.SD_GITOPS_BOOTSTRAP_CACHE;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'sd-gitops-bootstrap');
}

/** Where `key` is cached (whether or not it is there yet). */
export function cachedPath(key: UpstreamKey, env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheRoot(env), 'manifests', UPSTREAM[key].cachePath);
}

function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The proxies of `$GOPROXY` (or `go env GOPROXY`) that can be fetched from; `direct` and `off` are not. */
export function goProxies(env: NodeJS.ProcessEnv = process.env): string[] {
  let value = env.GOPROXY;
  if (value === undefined) {
    try {
      value = execFileSync('go', ['env', 'GOPROXY'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
    } catch {
      value = '';
    }
  }
  const list = value
    .split(/[,|]/)
    .map((s) => s.trim().replace(/\/+$/, ''))
    .filter((s) => s !== '' && s !== 'direct' && s !== 'off');
  return list.length > 0 ? list : ['https://proxy.golang.org'];
}

/** A module path as the proxy protocol spells it: capitals become `!` and the lower-case letter. */
function escapeModule(path: string): string {
  return path.replace(/[A-Z]/g, (c) => `!${c.toLowerCase()}`);
}

/** One file out of a zip archive (no zip64: module zips are far below 4 GiB). */
export function unzipFile(zip: Buffer, name: string): Buffer | undefined {
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 65_557); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a zip archive (no end of central directory)');
  const entries = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  for (let n = 0; n < entries; n++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error('corrupt zip central directory');
    const method = zip.readUInt16LE(at + 10);
    const size = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    const entryName = zip.toString('utf8', at + 46, at + 46 + nameLength);
    if (entryName === name) {
      const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
      const data = zip.subarray(start, start + size);
      if (method === 0) return Buffer.from(data);
      if (method === 8) return inflateRawSync(data);
      throw new Error(`zip entry ${name}: compression method ${method} is not supported`);
    }
    at += 46 + nameLength + extraLength + commentLength;
  }
  return undefined;
}

export interface EnsureOptions {
  fetch?: typeof fetch;
  env?: NodeJS.ProcessEnv;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
  timeoutMs?: number;
}

async function get(url: string, opts: EnsureOptions): Promise<Buffer> {
  const doFetch = opts.fetch ?? fetch;
  const res = await doFetch(url, {
    redirect: 'follow',
    signal: AbortSignal.timeout(opts.timeoutMs ?? 300_000),
  });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

/**
 * The cached path of `key`, downloading and verifying it first when it is missing or its digest is wrong.
 * Throws one sentence naming every source tried when none served the pinned file.
 */
export async function ensureUpstream(key: UpstreamKey, opts: EnsureOptions = {}): Promise<string> {
  const file: UpstreamFile = UPSTREAM[key];
  const env = opts.env ?? process.env;
  const target = cachedPath(key, env);
  if (existsSync(target) && sha256(readFileSync(target)) === file.sha256) return target;
  const failures: string[] = [];
  const accept = (data: Buffer, from: string): boolean => {
    const text = file.extract ? Buffer.from(file.extract(data.toString('utf8'))) : data;
    const digest = sha256(text);
    if (digest !== file.sha256) {
      failures.push(`${from}: sha256 ${digest}, expected ${file.sha256}`);
      return false;
    }
    mkdirSync(dirname(target), { recursive: true });
    const tmp = `${target}.${process.pid}.tmp`;
    writeFileSync(tmp, text);
    renameSync(tmp, target);
    opts.log?.(`${key}: cached ${target} (from ${from})`);
    return true;
  };
  for (const proxy of goProxies(env)) {
    const url = `${proxy}/${escapeModule(file.module)}/@v/${file.version}.zip`;
    try {
      opts.log?.(`${key}: downloading ${url}`);
      const inner = unzipFile(await get(url, opts), `${file.module}@${file.version}/${file.path}`);
      if (!inner) failures.push(`${url}: no ${file.path} in the module`);
      else if (accept(inner, url)) return target;
    } catch (err) {
      failures.push(`${url}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  try {
    opts.log?.(`${key}: downloading ${file.url}`);
    if (accept(await get(file.url, opts), file.url)) return target;
  } catch (err) {
    failures.push(`${file.url}: ${err instanceof Error ? err.message : String(err)}`);
  }
  throw new Error(
    `cannot obtain ${key} (${file.module}@${file.version} ${file.path}): ${failures.join('; ')}`,
  );
}

/** The cached path of `key` for synchronous callers; throws how to fetch it when it is not cached yet. */
export function upstreamPathSync(key: UpstreamKey, env: NodeJS.ProcessEnv = process.env): string {
  const target = cachedPath(key, env);
  if (!existsSync(target)) {
    throw new Error(
      `${target} is not cached yet: run \`npm run manifests\` (downloads the pinned upstream files)`,
    );
  }
  return target;
}

/**
 * Container image references as the container runtimes read them (distribution/reference): a registry
 * host, a repository path, a tag and/or a digest. The config layer's checks of `argocd.images` (each bad
 * value refused by its class, with the fix) and the parser the registry rewrite uses.
 */

export interface ImageRef {
  /** The registry host (and port) as written, or `docker.io` when the reference names none. */
  registry: string;
  /** The repository path under the registry (`library/redis` for a bare `redis`). */
  path: string;
  /** `:tag`, `@sha256:…`, or both, exactly as written (kept by every rewrite). */
  suffix: string;
}

/** Whether the first component of a reference is a registry host (as the runtimes decide it). */
const isRegistryHost = (component: string): boolean =>
  component.includes('.') || component.includes(':') || component === 'localhost';

/** Parses an image reference; undefined when it has no repository. */
export function parseImage(image: string): ImageRef | undefined {
  const at = image.indexOf('@');
  const beforeDigest = at < 0 ? image : image.slice(0, at);
  const digest = at < 0 ? '' : image.slice(at);
  const slash = beforeDigest.lastIndexOf('/');
  const colon = beforeDigest.lastIndexOf(':');
  const tagAt = colon > slash ? colon : -1;
  const name = tagAt < 0 ? beforeDigest : beforeDigest.slice(0, tagAt);
  const suffix = `${tagAt < 0 ? '' : beforeDigest.slice(tagAt)}${digest}`;
  if (name === '') return undefined;
  const parts = name.split('/');
  if (parts.length > 1 && isRegistryHost(parts[0]!)) {
    return { registry: parts[0]!, path: parts.slice(1).join('/'), suffix };
  }
  return { registry: 'docker.io', path: parts.length === 1 ? `library/${name}` : name, suffix };
}

const HOST = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*(:[0-9]{1,5})?$/;
const PATH_COMPONENT = /^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*$/;

/**
 * What is wrong with a registry prefix or a repository (`what`), by class, with the fix; undefined when it
 * is fine. A prefix is `host[:port][/path…]`; a repository the same with at least one path component.
 */
export function repositoryProblem(value: string, what: 'prefix' | 'repository'): string | undefined {
  const example =
    what === 'prefix' ? '"registry.example.com/mirror"' : '"registry.example.com/mirror/argoproj/argocd"';
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(value)) {
    return `must not start with a scheme (${value.slice(0, value.indexOf('://') + 3)}): the runtime always pulls over HTTPS; write ${example}`;
  }
  if (value.includes('@')) {
    return `must not carry a digest: every image keeps its own tag and digest; write only the ${what}, e.g. ${example}`;
  }
  const parts = value.split('/');
  if (parts.length > 1 && /:/.test(parts.at(-1)!)) {
    return `must not carry a tag (${parts.at(-1)!.slice(parts.at(-1)!.indexOf(':'))}): every image keeps its own tag and digest; write only the ${what}, e.g. ${example}`;
  }
  if (value.endsWith('/') || value.includes('//')) {
    return `must not have an empty path component (a trailing or double "/"): write ${example}`;
  }
  if (/\s/.test(value)) return `must not contain spaces: write ${example}`;
  if (value !== value.toLowerCase()) {
    return `must be lower case (registries refuse upper-case repository names): write ${example}`;
  }
  const [host, ...path] = parts;
  if (!isRegistryHost(host!) || !HOST.test(host!)) {
    return `must start with a registry host name (with a "." or a port, or "localhost"), e.g. ${example}: "${host}" would be read as a Docker Hub path`;
  }
  if (what === 'repository' && path.length === 0) {
    return `must name a repository under the registry host, e.g. ${example}`;
  }
  const bad = path.find((c) => !PATH_COMPONENT.test(c));
  if (bad !== undefined) {
    return `path component "${bad}" is not a valid repository name part (lower-case letters and digits, separated by ".", "_", "__" or "-"): write ${example}`;
  }
  return undefined;
}

/** What is wrong with a key of `argocd.images.map`: a repository as the manifest names it, no tag or digest. */
export function mapKeyProblem(value: string): string | undefined {
  const ref = /\s/.test(value) ? undefined : parseImage(value);
  if (!ref) return 'must be a repository as the manifest names it, e.g. "quay.io/argoproj/argocd"';
  if (ref.suffix !== '') {
    return `must not carry a tag or digest (${ref.suffix}): name the repository, e.g. "quay.io/argoproj/argocd"; every image keeps its own tag and digest`;
  }
  return undefined;
}

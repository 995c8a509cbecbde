/**
 * Cross-field checks: what the schema cannot say about one key alone. Each rule is a small named function
 * over the normalised config that returns its problems (empty when satisfied). `RULES` runs them in order;
 * each declares the top-level sections it reads, so a rule still runs when only an unrelated section is
 * invalid and the user sees every problem in one go.
 */
import type { ConfigProblem } from '../errors.ts';
import { BUNDLED_VERSIONS, DEFAULT_ARGOCD_VERSION } from './bundled.ts';
import { environmentsOf, NAMESPACE_PLACEHOLDER } from './environments.ts';
import { INPUT_RULES } from './guards.ts';
import { isDnsSubdomain, subdomainHint } from './schema.ts';
import type { Config } from './types.ts';
import { URL_RULES } from './url-rules.ts';
import { repositoryPathOf, repositorySegmentsOk, WEBHOOK_PROVIDERS } from './webhooks.ts';

const SUPPORTED = 'supported versions are 2.14.x and 3.x';

const INSTALL_FIELD_SOURCE = { file: ['file'], url: ['url'], sha256: ['url', 'file'] } as const;

/** source url needs url + sha256; file needs file (sha256 optional); file/url/sha256 only with their source. */
export function installSource(c: Pick<Config, 'argocd'>): ConfigProblem[] {
  const install = c.argocd.install;
  const problems: ConfigProblem[] = [];
  if (install.source === 'url') {
    if (install.url === undefined) {
      problems.push({ path: 'argocd.install.url', message: 'required when install.source is "url"' });
    }
    if (install.sha256 === undefined) {
      problems.push({
        path: 'argocd.install.sha256',
        message:
          'required when install.source is "url": a downloaded manifest is applied only if its checksum matches (get it with `sha256sum install.yaml`)',
      });
    }
  }
  if (install.source === 'file' && install.file === undefined) {
    problems.push({ path: 'argocd.install.file', message: 'required when install.source is "file"' });
  }
  for (const [field, sources] of Object.entries(INSTALL_FIELD_SOURCE)) {
    const used: readonly string[] = sources;
    if (install[field as keyof typeof INSTALL_FIELD_SOURCE] !== undefined && !used.includes(install.source)) {
      problems.push({
        path: `argocd.install.${field}`,
        message: `only used with install.source ${used.map((s) => `"${s}"`).join(' or ')} (source is "${install.source}"): remove it, or set argocd.install.source: ${used[0]}`,
      });
    }
  }
  return problems;
}

function parseVersion(v: string): [number, number, number] | undefined {
  const m = /^v(\d+)\.(\d+)\.(\d+)$/.exec(v);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

/** 2.14.x and 3.x, except v3.6.0. */
export function supportedVersion(c: Pick<Config, 'argocd'>): ConfigProblem[] {
  const version = c.argocd.version;
  const parsed = parseVersion(version);
  if (!parsed) return []; // the schema reports the format
  const [major, minor, patch] = parsed;
  const problem = (message: string): ConfigProblem[] => [{ path: 'argocd.version', message }];
  if (major === 3 && minor === 6 && patch === 0) {
    // https://github.com/argoproj/argo-cd/issues/30763
    return problem(
      `Argo CD ${version} is not supported (argo-cd#30763): its UI breaks under a sub-path; use v3.6.1 or later`,
    );
  }
  if (major < 2) {
    return problem(
      `Argo CD ${version} cannot be installed: its CRDs use apiextensions.k8s.io/v1beta1, which current Kubernetes no longer serves; ${SUPPORTED} (default ${DEFAULT_ARGOCD_VERSION})`,
    );
  }
  if ((major === 2 && minor < 14) || major > 3) {
    return problem(`Argo CD ${version} is not supported: ${SUPPORTED} (default ${DEFAULT_ARGOCD_VERSION})`);
  }
  return [];
}

/** With install.source bundled, the version must be one whose manifest ships in the image. */
export function bundledVersion(c: Pick<Config, 'argocd'>): ConfigProblem[] {
  const { version, install } = c.argocd;
  if (install.source !== 'bundled') return [];
  if ((BUNDLED_VERSIONS as readonly string[]).includes(version)) return [];
  if (supportedVersion(c).length > 0) return []; // already reported, with the reason
  return [
    {
      path: 'argocd.version',
      message: `${version} is not bundled in this image (bundled: ${BUNDLED_VERSIONS.join(', ')}): use one of those, or set argocd.install.source to "url" (with sha256) or "file"`,
    },
  ];
}

/**
 * `install.profile` picks one of the bundled manifests; `images` and the profile's components change the
 * manifest the bootstrap installs: neither means anything when someone else installs Argo CD.
 */
export function installProfile(c: Pick<Config, 'argocd'>): ConfigProblem[] {
  const { install, images, components } = c.argocd;
  const problems: ConfigProblem[] = [];
  if (install.profile !== undefined && install.source !== 'bundled') {
    problems.push({
      path: 'argocd.install.profile',
      message: `selects a bundled manifest, only with install.source "bundled" (source is "${install.source}"): remove it${install.source === 'skip' ? '' : `, and point argocd.install.${install.source} at the manifest you mean (Argo CD's HA one is manifests/ha/install.yaml)`}`,
    });
  }
  if (install.source === 'skip') {
    const used = [
      ...(images.registry !== undefined ? ['registry'] : []),
      ...(Object.keys(images.map).length > 0 ? ['map'] : []),
      ...(images.pullSecrets.length > 0 ? ['pullSecrets'] : []),
    ];
    if (used.length > 0) {
      problems.push({
        path: `argocd.images.${used[0]}`,
        message: `only when the bootstrap installs Argo CD (install.source is "skip": its images are set where Argo CD is managed): remove argocd.images`,
      });
    }
  }
  if (install.source === 'bundled') {
    const ha = install.profile === 'ha';
    const other = Object.keys(components).filter((n) =>
      ha ? n === 'argocd-redis' : n === 'argocd-redis-ha-server' || n === 'argocd-redis-ha-haproxy',
    );
    for (const name of other) {
      problems.push({
        path: `argocd.components.${name}`,
        message: ha
          ? 'is not in the HA manifest (install.profile: ha runs argocd-redis-ha-server and argocd-redis-ha-haproxy instead): shape those, or remove it'
          : 'is only in the HA manifest: set argocd.install.profile: ha, or remove it',
      });
    }
  }
  return problems;
}

/** No namespace twice, and none equal to the logging namespace when logging is an environment. */
export function uniqueNamespaces(c: Pick<Config, 'environments'>): ConfigProblem[] {
  const { namespaces, logging } = c.environments;
  const problems: ConfigProblem[] = [];
  const first = new Map<string, number>();
  namespaces.forEach((ns, i) => {
    const path = `environments.namespaces[${i}]`;
    const seen = first.get(ns.name);
    if (seen !== undefined) {
      problems.push({
        path,
        message: `"${ns.name}" is listed twice (first at environments.namespaces[${seen}]): remove one`,
      });
      return;
    }
    first.set(ns.name, i);
    if (logging.enabled && ns.name === logging.namespace) {
      problems.push({
        path,
        message: `"${ns.name}" is also the logging namespace (environments.logging.namespace): remove it here, or set environments.logging.enabled: false`,
      });
    }
  });
  return problems;
}

/** Several environments need `{namespace}` in the Application name, else they would share one Application. */
export function applicationNameTemplate(c: Pick<Config, 'environments'>): ConfigProblem[] {
  const template = c.environments.applicationName;
  const path = 'environments.applicationName';
  const unknown = [...template.matchAll(/\{[^}]*\}/g)]
    .map((m) => m[0])
    .filter((p) => p !== NAMESPACE_PLACEHOLDER);
  if (unknown.length > 0) {
    return [
      {
        path,
        message: `unknown placeholder ${unknown.join(', ')}: the only placeholder is ${NAMESPACE_PLACEHOLDER}`,
      },
    ];
  }
  const namespaces = [...new Set(environmentsOf(c).map((e) => e.namespace))];
  if (!template.includes(NAMESPACE_PLACEHOLDER) && namespaces.length > 1) {
    return [
      {
        path,
        message: `must contain "${NAMESPACE_PLACEHOLDER}": there are ${namespaces.length} environments (${namespaces.join(', ')}) and each needs its own Application`,
      },
    ];
  }
  return [];
}

/** Each rendered Application name must be a valid object name. */
export function applicationNames(c: Pick<Config, 'environments'>): ConfigProblem[] {
  const template = c.environments.applicationName;
  if (/\{(?!namespace\})[^}]*\}/.test(template)) return []; // applicationNameTemplate reports it
  const bad = environmentsOf(c).find((env) => !isDnsSubdomain(env.applicationName));
  if (!bad) return [];
  return [
    {
      path: 'environments.applicationName',
      message: `gives "${bad.applicationName}" for namespace "${bad.namespace}", which is not a valid Application name: it ${subdomainHint('seldon-gitops-staging')}`,
    },
  ];
}

/** "/argocd/" would make Argo CD's links end in "//". */
export function rootPathNoTrailingSlash(c: Pick<Config, 'argocd'>): ConfigProblem[] {
  const rootPath = c.argocd.server.rootPath;
  if (rootPath === '/' || !rootPath.endsWith('/')) return [];
  return [
    {
      path: 'argocd.server.rootPath',
      message: `must not end with '/' (write "${rootPath.replace(/\/+$/, '') || '/'}")`,
    },
  ];
}

/**
 * argocd.url is where argocd-server answers: its path is the root path (Argo CD appends `/auth/callback`
 * and its UI's routes to it), with no query or fragment.
 */
export function argocdUrlMatchesRootPath(c: Pick<Config, 'argocd'>): ConfigProblem[] {
  const raw = c.argocd.url;
  if (!raw) return [];
  const url = new URL(raw);
  const want = c.argocd.server.rootPath.replace(/\/+$/, '');
  const path = url.pathname.replace(/\/+$/, '');
  if (url.search || url.hash)
    return [
      { path: 'argocd.url', message: `must have no query or fragment: write "${url.origin}${url.pathname}"` },
    ];
  if (path === want) return [];
  return [
    {
      path: 'argocd.url',
      message: `must end with argocd.server.rootPath ("${want || '/'}"), where argocd-server answers: write "${url.origin}${want}"`,
    },
  ];
}

/**
 * Enabled webhooks need a provider, Argo CD's public webhook URL and a repository (explicit, or derivable
 * from git.repoUrl in the provider's form); two hooks with one URL would be one hook.
 */
export function webhookSettingsComplete(c: Pick<Config, 'webhooks' | 'git'>): ConfigProblem[] {
  const w = c.webhooks;
  if (!w.enabled) return [];
  const problems: ConfigProblem[] = [];
  if (!w.provider) {
    problems.push({
      path: 'webhooks.provider',
      message: `required when webhooks.enabled is true: one of ${WEBHOOK_PROVIDERS.join(', ')}`,
    });
  }
  if (!w.argocdUrl) {
    problems.push({
      path: 'webhooks.argocdUrl',
      message:
        "required when webhooks.enabled is true: Argo CD's public URL plus /api/webhook, e.g. https://deploy.example.com/argocd/api/webhook",
    });
  } else if (!/\/api\/webhook\/?$/.test(new URL(w.argocdUrl).pathname)) {
    problems.push({
      path: 'webhooks.argocdUrl',
      message: `must end with /api/webhook (Argo CD's webhook endpoint), e.g. https://deploy.example.com/argocd/api/webhook; got ${w.argocdUrl}`,
    });
  }
  if (w.argocdUrl && w.seldonDeployUrl && w.argocdUrl === w.seldonDeployUrl) {
    problems.push({
      path: 'webhooks.seldonDeployUrl',
      message: 'must differ from webhooks.argocdUrl: Seldon Deploy listens on /api/git-webhook',
    });
  }
  if (w.provider) {
    const derived = w.repository === undefined;
    const repository = w.repository ?? repositoryPathOf(c.git.repoUrl);
    const form =
      w.provider === 'gitlab'
        ? '"group/project" or "group/subgroup/project"'
        : w.provider === 'github'
          ? '"owner/name"'
          : '"workspace/repo-slug"';
    if (!repository || !repositorySegmentsOk(w.provider, repository)) {
      problems.push({
        path: 'webhooks.repository',
        message: derived
          ? `cannot be derived from git.repoUrl (${c.git.repoUrl}${repository ? ` gives "${repository}"` : ''}): set it to the ${w.provider} repository as ${form}`
          : `must be the ${w.provider} repository as ${form}`,
      });
    }
  }
  return problems;
}

/** A CA bundle is for TLS: an SSH (or plain HTTP) repository never uses it. */
export function caBundleNeedsHttps(c: Pick<Config, 'git'>): ConfigProblem[] {
  if (!c.git.caBundle || c.git.repoUrl.startsWith('https://')) return [];
  return [
    {
      path: 'git.caBundle',
      message: `is for an https:// repository, and git.repoUrl is ${c.git.repoUrl}: remove git.caBundle, or use the repository's https:// URL`,
    },
  ];
}

/**
 * The storage Secret's source may not sit in a batch environment: its copy there would be the source itself,
 * taken over (labels, inventory) and deleted when batch is turned off. An unset namespace is the run's, never
 * an environment (src/config/guards.ts reserves it).
 */
export function batchSourceOutsideEnvironments(c: Pick<Config, 'environments'>): ConfigProblem[] {
  const { batch, namespaces } = c.environments;
  const ns = batch.storageSecret?.secretRef.namespace;
  if (!ns) return [];
  const env = namespaces.find((n) => n.name === ns && (n.batch ?? batch.enabled));
  if (!env) return [];
  return [
    {
      path: 'environments.batch.storageSecret.secretRef.namespace',
      message: `is ${ns}, an environment with batch jobs, where the copy would replace the source: keep the source Secret in another namespace (e.g. the bootstrap's own)`,
    },
  ];
}

export interface Rule {
  /** The top-level sections the rule reads: it runs only when all of them are valid. */
  needs: readonly (keyof Config)[];
  check: (config: Config) => ConfigProblem[];
}

/** Every cross-field rule, in the order their problems are reported. */
/** Keys the bootstrap writes from other config keys cannot also be extra keys. */
const OWNED_KEYS: Record<'cm' | 'cmdParams' | 'rbac', Record<string, string>> = {
  cm: { url: 'argocd.url', 'oidc.config': 'argocd.sso', 'admin.enabled': 'argocd.sso.disableAdmin' },
  cmdParams: { 'server.insecure': 'argocd.server.insecure', 'server.rootpath': 'argocd.server.rootPath' },
  rbac: {},
};

/** argocd.settings keys that another key writes; argocd.sso complete when enabled. */
export function argocdSettings(c: Pick<Config, 'argocd'>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const [map, owned] of Object.entries(OWNED_KEYS) as [
    keyof typeof OWNED_KEYS,
    Record<string, string>,
  ][]) {
    for (const key of Object.keys(c.argocd.settings[map])) {
      const by = owned[key];
      if (by)
        problems.push({
          path: `argocd.settings.${map}.${key}`,
          message: `written by ${by}: set it there instead`,
        });
    }
  }
  const components = Object.keys(c.argocd.components);
  if (components.length > 0 && c.argocd.install.source === 'skip')
    problems.push({
      path: 'argocd.components',
      message: `only when the bootstrap installs Argo CD (install.source is "skip": ${components.join(', ')} are someone else's): remove it, or shape them where Argo CD is managed`,
    });
  const sso = c.argocd.sso;
  if (sso.enabled) {
    if (!sso.issuer)
      problems.push({
        path: 'argocd.sso.issuer',
        message: "required when argocd.sso.enabled: the provider's https issuer URL",
      });
    if (!sso.clientID)
      problems.push({
        path: 'argocd.sso.clientID',
        message: 'required when argocd.sso.enabled: the OIDC client ID registered for Argo CD',
      });
    if (!c.argocd.url)
      problems.push({
        path: 'argocd.url',
        message: `required when argocd.sso.enabled: Argo CD's URL as browsers reach it, e.g. https://deploy.example.com${c.argocd.server.rootPath.replace(/\/+$/, '')} (the redirect URI to register with the provider is <url>/auth/callback)`,
      });
  } else if (sso.disableAdmin) {
    problems.push({
      path: 'argocd.sso.disableAdmin',
      message:
        'would lock everyone out without SSO: set argocd.sso.enabled: true (and check SSO works) first',
    });
  }
  return problems;
}

export const RULES: readonly Rule[] = [
  { needs: ['argocd'], check: argocdSettings },
  { needs: ['argocd'], check: installSource },
  { needs: ['argocd'], check: supportedVersion },
  { needs: ['argocd'], check: bundledVersion },
  { needs: ['argocd'], check: installProfile },
  { needs: ['argocd'], check: rootPathNoTrailingSlash },
  { needs: ['argocd'], check: argocdUrlMatchesRootPath },
  { needs: ['environments'], check: uniqueNamespaces },
  { needs: ['environments'], check: applicationNameTemplate },
  { needs: ['environments'], check: applicationNames },
  { needs: ['webhooks', 'git'], check: webhookSettingsComplete },
  { needs: ['git'], check: caBundleNeedsHttps },
  { needs: ['environments'], check: batchSourceOutsideEnvironments },
  // Collisions, reserved namespaces, label values, policy strings: src/config/guards.ts.
  ...INPUT_RULES,
];

/**
 * Runs every rule whose sections are present in `config` (a complete config, or the valid sections of an
 * invalid one) and returns all their problems.
 */
export function checkRules(config: Partial<Config>): ConfigProblem[] {
  return [...RULES, ...URL_RULES]
    .filter((r) => r.needs.every((k) => config[k] !== undefined))
    .flatMap((r) => r.check(config as Config));
}

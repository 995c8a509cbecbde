/**
 * Rules for the URLs of the config, by class (issue 21): no credential inside a URL, and no repository URL
 * that git or ssh would misread, or that would only fail once git runs. A URL is copied into places anyone
 * with read access to them sees (the namespaces' `git-repo` annotation, the AppProject, the Applications,
 * the chart's config ConfigMap, the Job's pod spec, git's command line), so a credential belongs in a
 * Secret, never in a URL. Pure functions; no import of schema.ts (the schema uses `repoUrlProblem` for
 * the message of its own pattern).
 */

/**
 * What `git.repoUrl` accepts, as a JSON-Schema/RE2-compatible pattern (no look-arounds): `https://` or
 * `http://` with no user-info (no `@` before the path), `ssh://` with at most a user name, or scp-like
 * `user@host:path`. Hosts start with a letter, digit or `[` (never `-`: an option to ssh or git); no
 * query, fragment, whitespace or control character anywhere; a path is required.
 */
export const GIT_URL =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  /^(?:https?:\/\/[A-Za-z0-9[][^\s\x00-\x1f\x7f/@?#]*\/[^\s\x00-\x1f\x7f?#]+|ssh:\/\/(?:[A-Za-z0-9_][A-Za-z0-9._~-]*@)?[A-Za-z0-9[][^\s\x00-\x1f\x7f/@?#]*\/[^\s\x00-\x1f\x7f?#]+|[A-Za-z0-9_][A-Za-z0-9._-]*@[A-Za-z0-9][A-Za-z0-9.-]*:\/?[^\s\x00-\x1f\x7f/?#-][^\s\x00-\x1f\x7f?#]*)$/;

export const GIT_URL_HINT =
  'must be a Git URL: ssh://git@host/path.git, https://host/path.git, http://… or scp-like git@host:path.git';

/** Where the Git credentials go, for messages. */
export const CREDENTIALS_SECRET = 'the Secret named by git.credentials.secretRef';

/**
 * Query (or fragment) parameters that carry a credential: GitLab's `private_token`, OAuth's
 * `access_token`, `token`, API keys, signatures of pre-signed URLs, passwords.
 */
const CREDENTIAL_PARAM =
  /^(?:.*(?:token|secret|password|passwd|signature|credential|api[_-]?key|apikey)|key|sig|pwd|auth|jwt)$/i;

/** The names of credential-carrying parameters in a URL's query and fragment. */
export function credentialParams(url: URL): string[] {
  const names = new Set<string>();
  const scan = (text: string) => {
    for (const [name] of new URLSearchParams(text)) if (CREDENTIAL_PARAM.test(name)) names.add(name);
  };
  scan(url.search);
  scan(url.hash.replace(/^#/, ''));
  return [...names];
}

/** The URL without user-info, query and fragment: what a message may show and the user should write. */
export function withoutCredentials(url: URL): string {
  const host = url.port ? `${url.hostname}:${url.port}` : url.hostname;
  // An ssh:// user name is not a credential: kept.
  const user = url.protocol === 'ssh:' && url.username ? `${url.username}@` : '';
  return `${url.protocol}//${user}${host}${url.pathname === '/' ? '' : url.pathname}`;
}

const parseUrl = (text: string): URL | undefined => {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
};

// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
const CONTROL = /[\x00-\x1f\x7f]/;

/**
 * What is wrong with a repository URL's shape, with the fix, or undefined. Never repeats the credential:
 * the URL is shown without user-info and query. Used for the schema's pattern message and by the rule.
 */
export function repoUrlProblem(raw: string): string | undefined {
  if (raw.trim() === '') return `${GIT_URL_HINT}; got an empty string`;
  if (CONTROL.test(raw))
    return 'contains a control character (a pasted newline or tab?): write the URL on one line, without them';
  if (raw.startsWith('-'))
    return 'starts with "-", which git and ssh would read as an option: write ssh://git@host/path.git or https://host/path.git';
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(raw)?.[1]?.toLowerCase();
  const helper = /^([a-z][a-z0-9+.-]*)::/i.exec(raw)?.[1];
  if (helper !== undefined || (scheme !== undefined && !['https', 'http', 'ssh'].includes(scheme))) {
    const name = helper !== undefined ? `${helper}::` : `${scheme}://`;
    return `uses the ${name} transport: only https://, ssh:// (or scp-like git@host:path) and, with git.allowInsecureHttp, http:// are supported (Argo CD clones the same URL)`;
  }
  if (/\s/.test(raw))
    return 'contains whitespace: remove it (a URL has none; encode a space in a path as %20)';
  if (scheme === undefined) {
    const scp = /^([^@/:]*)@([^:/]*):(.*)$/.exec(raw);
    if (!scp) {
      return /^[^/:]+:/.test(raw)
        ? `${GIT_URL_HINT}; an scp-like URL needs the user (git@host:path), else write ssh://host/path`
        : `${GIT_URL_HINT} (a local path or a URL without a scheme is not a remote repository)`;
    }
    const [, user, host, path] = scp as unknown as [string, string, string, string];
    if (user === '' || !/^[A-Za-z0-9_][A-Za-z0-9._-]*$/.test(user))
      return `the user "${user}" of this scp-like URL is not a user name (letters, digits, '.', '_', '-'): write ssh://user@host/path`;
    if (host === '' || host.startsWith('-') || !/^[A-Za-z0-9][A-Za-z0-9.-]*$/.test(host))
      return `the host of this scp-like URL ("${host}") is not a host name${host.startsWith('-') ? ' (a leading "-" is an option to ssh)' : ''}: write ssh://${user}@host/path`;
    const port = /^(\d+)(\/.*)?$/.exec(path);
    if (port)
      return `git reads the scp-like form ${user}@${host}:${path} as the path "${path}" on port 22, not as port ${port[1]}: write ssh://${user}@${host}:${port[1]}${port[2] ?? '/'}`;
    if (path === '' || path === '/') return 'has no repository path: write git@host:group/repo.git';
    if (path.startsWith('-')) return 'the path starts with "-", which git would read as an option';
    if (/[?#]/.test(path)) return 'has a "?" or "#": a repository path has no query or fragment';
    return undefined;
  }
  // ssh://, https://, http://: WHATWG URL parsing checks the port range and the host.
  const authority = /^[a-z]+:\/\/([^/?#]*)/i.exec(raw)?.[1] ?? '';
  const url = parseUrl(raw);
  const portText = /:(\d*)$/.exec(authority.replace(/^.*@/, '').replace(/^\[[^\]]*\]/, ''))?.[1];
  if (portText !== undefined && (portText === '' || Number(portText) < 1 || Number(portText) > 65535))
    return `port "${portText}" is not a TCP port (1–65535): write ${scheme}://host:PORT/path, or leave the port out`;
  if (!url) return `${GIT_URL_HINT} (it does not parse as a URL)`;
  const host = authority.replace(/^.*@/, '');
  if (host === '' || host.startsWith('-'))
    return `the host ${host === '' ? 'is missing' : `"${host}" starts with "-", which ssh and git would read as an option`}: write ${scheme}://host/path`;
  if (url.pathname === '' || url.pathname === '/')
    return `has no repository path: write ${withoutCredentials(url).replace(/\/$/, '')}/group/repo.git`;
  if (url.search || url.hash) {
    const params = credentialParams(url);
    if (params.length === 0)
      return `has a query or fragment, which git would append its own paths to: write ${withoutCredentials(url)}`;
  }
  return undefined;
}

/** Where a credential found in a URL belongs, for each URL-valued key. */
const CREDENTIAL_HOME: Record<string, string> = {
  'git.repoUrl': `the user name and token go in ${CREDENTIALS_SECRET}, under "username" and "password"`,
  'argocd.install.url':
    'serve the manifest where it can be read without a credential, or download it and use argocd.install.source: file',
  'argocd.url': "Argo CD's URL takes no credential",
  'argocd.sso.issuer': 'the OIDC client secret goes in the Secret named by argocd.sso.clientSecret.secretRef',
  'webhooks.apiUrl':
    'the API token goes in the Secret named by webhooks.token.secretRef (key webhooks.token.secretRef.key)',
  'webhooks.argocdUrl':
    'deliveries are authenticated by the secret the bootstrap generates (webhooks.secretName), not by the URL',
  'webhooks.seldonDeployUrl':
    'deliveries are authenticated by the secret the bootstrap generates (webhooks.secretName), not by the URL',
};
const SSH_HOME = `SSH authenticates with the key in ${CREDENTIALS_SECRET} (key "ssh-privatekey")`;

/**
 * The credential inside one URL (user-info password, an https user name, which providers accept as a
 * token, or a credential parameter), as a sentence naming where it belongs; undefined when there is none.
 * An ssh:// user name is not a credential (`ssh://git@host/…`); an ssh:// password is.
 */
export function urlCredentialProblem(key: string, raw: string): string | undefined {
  const home = (ssh: boolean) =>
    ssh && key === 'git.repoUrl' ? SSH_HOME : (CREDENTIAL_HOME[key] ?? 'keep it in a Secret');
  const scp = !/^[a-z][a-z0-9+.-]*:\/\//i.test(raw);
  if (scp) return undefined; // scp-like git@host:path: a user name only, by its shape
  const url = parseUrl(raw);
  if (!url) return undefined;
  const ssh = url.protocol === 'ssh:';
  const leak =
    'a URL is copied where others can read it (annotations, Argo CD objects, the chart ConfigMap, logs)';
  if (url.password !== '' || (!ssh && url.username !== '')) {
    const what =
      url.password !== ''
        ? 'a password or token ("user:…@")'
        : 'a user name, which servers accept as a token ("…@")';
    return `holds ${what} in the URL, and ${leak}: write ${withoutCredentials(url)} instead; ${home(ssh)}`;
  }
  const params = credentialParams(url);
  if (params.length > 0) {
    return `holds a credential in its ${url.search ? 'query' : 'fragment'} (${params.join(', ')}), and ${leak}: write ${withoutCredentials(url)} instead; ${home(ssh)}`;
  }
  return undefined;
}

/** The schema's message for a git.repoUrl its pattern refuses: the class and its fix. */
export function repoUrlMessage(input: unknown): string {
  if (typeof input !== 'string') return GIT_URL_HINT;
  return urlCredentialProblem('git.repoUrl', input) ?? repoUrlProblem(input) ?? GIT_URL_HINT;
}

/**
 * The proxy variables the chart sets from `proxy.httpsProxy`/`proxy.httpProxy`: a credential in them
 * would sit in the Job's pod spec and the release, readable by whoever can read pods there. The program
 * has no way to take a proxy password from a Secret: a proxy must admit the Job by its network address.
 */
export const PROXY_VARIABLES: Readonly<Record<string, string>> = {
  HTTPS_PROXY: 'proxy.httpsProxy',
  https_proxy: 'proxy.httpsProxy',
  HTTP_PROXY: 'proxy.httpProxy',
  http_proxy: 'proxy.httpProxy',
};

/** Variables git and curl also read; not set by the chart. */
const OTHER_PROXY_VARIABLES = ['ALL_PROXY', 'all_proxy'];

/** Every proxy variable whose value is checked. */
export const CHECKED_PROXY_VARIABLES: readonly string[] = [
  ...Object.keys(PROXY_VARIABLES),
  ...OTHER_PROXY_VARIABLES,
];

export function proxyCredentialProblem(name: string, raw: string): string | undefined {
  const url = parseUrl(raw.includes('://') ? raw : `http://${raw}`);
  if (!url) return undefined;
  if (url.username === '' && url.password === '' && credentialParams(url).length === 0) return undefined;
  const from = PROXY_VARIABLES[name] ? ` (chart value ${PROXY_VARIABLES[name]})` : '';
  return `holds a credential${from}: the proxy URL is stored in the Job's pod spec and the Helm release, readable by whoever can read them; write ${withoutCredentials(url)} and have the proxy admit the Job by its network address (the bootstrap has no proxy password setting)`;
}

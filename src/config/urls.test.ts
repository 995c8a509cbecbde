import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.ts';
import { loadEnv } from './env.ts';
import { checkConfig } from './load.ts';
import { configJsonSchema } from './schema.ts';
import { GIT_URL, repoUrlProblem, urlCredentialProblem } from './urls.ts';

const SECRET = 'glpat-S3cr3tT0ken';
const base = (git: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  git,
  environments: { namespaces: ['staging'] },
  ...extra,
});

/** The problems of a config, asserting it is refused and that no message repeats the secret. */
function refused(input: unknown): { path: string; message: string }[] {
  const result = checkConfig(input);
  expect(result.ok).toBe(false);
  const problems = result.ok ? [] : result.problems;
  for (const p of problems) expect(p.message).not.toContain(SECRET);
  return problems;
}

describe('credentials inside URLs are refused, naming the key and where the credential goes', () => {
  it.each([
    ['https user:token', `https://oauth2:${SECRET}@gitlab.example.com/acme/gitops.git`, /password or token/],
    [
      'https token as user name',
      `https://${SECRET}@github.com/acme/gitops.git`,
      /user name, which servers accept as a token/,
    ],
    ['http user:token', `http://bot:${SECRET}@git.local:3000/acme/gitops`, /password or token/],
    ['ssh password', `ssh://git:${SECRET}@git.example.com/acme/gitops.git`, /password or token/],
    [
      'private_token query',
      `https://gitlab.example.com/acme/gitops.git?private_token=${SECRET}`,
      /query \(private_token\)/,
    ],
    ['access_token query', `https://git.example.com/acme/gitops.git?access_token=${SECRET}`, /access_token/],
    ['token query', `https://git.example.com/acme/gitops.git?ref=main&token=${SECRET}`, /\(token\)/],
  ])('git.repoUrl: %s', (_name, repoUrl, what) => {
    const problems = refused(base({ repoUrl }));
    expect(problems).toEqual([{ path: 'git.repoUrl', message: expect.stringMatching(what) }]);
    expect(problems[0]!.message).toContain('git.credentials.secretRef');
    expect(problems[0]!.message).toMatch(/write (https?:\/\/[^@\s]+|ssh:\/\/git@[^:@\s]+)\/acme\/gitops/);
  });

  it('an ssh:// user name and an scp-like user are not credentials', () => {
    for (const repoUrl of ['ssh://git@git.example.com/acme/gitops.git', 'git@github.com:acme/gitops.git']) {
      expect(checkConfig(base({ repoUrl })).ok).toBe(true);
    }
  });

  it.each([
    [
      'argocd.install.url',
      {
        argocd: {
          install: {
            source: 'url',
            sha256: 'a'.repeat(64),
            url: `https://u:${SECRET}@example.com/install.yaml`,
          },
        },
      },
      /argocd.install.source: file/,
    ],
    [
      'argocd.install.url',
      {
        argocd: {
          install: {
            source: 'url',
            sha256: 'a'.repeat(64),
            url: `https://s3.example.com/install.yaml?X-Amz-Signature=${SECRET}`,
          },
        },
      },
      /X-Amz-Signature/,
    ],
    ['argocd.url', { argocd: { url: `https://admin:${SECRET}@deploy.example.com/argocd` } }, /no credential/],
    [
      'argocd.sso.issuer',
      { argocd: { sso: { issuer: `https://sso.example.com/realms/acme?client_secret=${SECRET}` } } },
      /clientSecret\.secretRef/,
    ],
    [
      'webhooks.apiUrl',
      { webhooks: { apiUrl: `https://gitlab.example.com/api/v4?private_token=${SECRET}` } },
      /webhooks\.token\.secretRef/,
    ],
    [
      'webhooks.argocdUrl',
      { webhooks: { argocdUrl: `https://u:${SECRET}@deploy.example.com/argocd/api/webhook` } },
      /webhooks\.secretName/,
    ],
    [
      'webhooks.seldonDeployUrl',
      { webhooks: { seldonDeployUrl: `https://deploy.example.com/api/git-webhook#access_token=${SECRET}` } },
      /fragment/,
    ],
  ])('%s', (path, extra, home) => {
    const problems = refused(base({ repoUrl: 'ssh://git@h/acme/gitops.git' }, extra));
    expect(problems).toContainEqual({ path, message: expect.stringMatching(home) });
  });
});

describe('plain http:// repositories', () => {
  it('are refused without git.allowInsecureHttp', () => {
    expect(refused(base({ repoUrl: 'http://gitea.local:3000/acme/gitops' }))).toEqual([
      {
        path: 'git.repoUrl',
        message: expect.stringMatching(/^is plain http:\/\/.*set git\.allowInsecureHttp: true/),
      },
    ]);
  });
  it('are allowed with git.allowInsecureHttp: true', () => {
    expect(
      checkConfig(base({ repoUrl: 'http://gitea.local:3000/acme/gitops', allowInsecureHttp: true })).ok,
    ).toBe(true);
  });
  it('git.allowInsecureHttp with an https repository is a mistake', () => {
    expect(refused(base({ repoUrl: 'https://h/acme/gitops.git', allowInsecureHttp: true }))).toEqual([
      { path: 'git.allowInsecureHttp', message: expect.stringContaining('only for an http://') },
    ]);
  });
});

describe('repository URLs git or ssh would misread, refused with the fix', () => {
  it.each([
    ['a leading "-" (option injection)', '-oProxyCommand=touch /tmp/x', /starts with "-"/],
    [
      'an ssh host starting with "-"',
      'ssh://-oProxyCommand=x/acme/gitops.git',
      /"-oProxyCommand=x" starts with "-"/,
    ],
    ['an https host starting with "-"', 'https://-host/acme/gitops.git', /starts with "-"/],
    [
      'an scp-like host starting with "-"',
      'git@-oProxyCommand=x:acme/gitops.git',
      /leading "-" is an option/,
    ],
    ['whitespace', 'https://git.example.com/acme/git ops.git', /whitespace/],
    ['a newline', 'https://git.example.com/acme/gitops.git\nfoo', /control character/],
    ['a control character', 'https://git.example.com/acme/\u0001gitops.git', /control character/],
    [
      'scp-like with a port',
      'git@git.example.com:2222/acme/gitops.git',
      /ssh:\/\/git@git\.example\.com:2222\/acme\/gitops\.git/,
    ],
    ['scp-like without a user', 'git.example.com:acme/gitops.git', /needs the user/],
    ['file://', 'file:///srv/git/gitops.git', /file:\/\/ transport/],
    ['ext::', 'ext::sh -c touch% /tmp/pwned', /ext:: transport/],
    ['git://', 'git://git.example.com/acme/gitops.git', /git:\/\/ transport/],
    ['a local path', '/srv/git/gitops.git', /local path/],
    ['no path (https)', 'https://git.example.com/', /has no repository path|must be a Git URL/],
    ['no path (ssh)', 'ssh://git@git.example.com', /has no repository path|must be a Git URL/],
    ['no path (scp)', 'git@git.example.com:', /has no repository path/],
    ['port 0', 'ssh://git@git.example.com:0/acme/gitops.git', /port "0" is not a TCP port/],
    ['port 65536', 'https://git.example.com:65536/acme/gitops.git', /port "65536" is not a TCP port/],
    ['an empty port', 'ssh://git@git.example.com:/acme/gitops.git', /port "" is not a TCP port/],
    ['a query', 'https://git.example.com/acme/gitops.git?ref=main', /query or fragment/],
  ])('%s', (_name, repoUrl, message) => {
    expect(refused(base({ repoUrl }))).toEqual([
      { path: 'git.repoUrl', message: expect.stringMatching(message) },
    ]);
  });

  it('accepts the usual forms', () => {
    for (const repoUrl of [
      'https://github.com/acme/gitops.git',
      'https://git.example.com:8443/acme/gitops',
      'ssh://git@git.example.com:2222/acme/gitops.git',
      'ssh://git.example.com/acme/gitops.git',
      'git@github.com:acme/gitops.git',
      'git@127.0.0.1:/srv/git/gitops.git',
      'https://[::1]:8443/acme/gitops.git',
    ]) {
      expect(repoUrlProblem(repoUrl), repoUrl).toBeUndefined();
      expect(GIT_URL.test(repoUrl), repoUrl).toBe(true);
      expect(checkConfig(base({ repoUrl })).ok, repoUrl).toBe(true);
    }
  });

  it('the chart refuses the same: the values schema carries the pattern, which refuses user-info', () => {
    const json = JSON.stringify(configJsonSchema());
    expect(json).toContain(JSON.stringify(GIT_URL.source).slice(1, -1));
    expect(GIT_URL.test(`https://u:${SECRET}@h/acme/gitops.git`)).toBe(false);
    expect(GIT_URL.test(`https://${SECRET}@h/acme/gitops.git`)).toBe(false);
    expect(GIT_URL.test(`ssh://git:${SECRET}@h/acme/gitops.git`)).toBe(false);
  });

  it('no message repeats a credential', () => {
    expect(urlCredentialProblem('git.repoUrl', `https://u:${SECRET}@h/a/b.git`)).not.toContain(SECRET);
  });
});

describe('proxy variables with credentials', () => {
  it.each(['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'])(
    '%s with a password: exit 2 naming it',
    (name) => {
      let error: unknown;
      try {
        loadEnv({ [name]: `http://proxyuser:${SECRET}@proxy.corp.example.com:3128` });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      const problems = (error as ConfigError).problems;
      expect(problems).toEqual([
        {
          path: name,
          message: expect.stringMatching(
            /chart value proxy\.https?Proxy.*write http:\/\/proxy\.corp\.example\.com:3128 and have the proxy admit the Job by its network address/,
          ),
        },
      ]);
      expect(problems[0]!.message).not.toContain(SECRET);
    },
  );
  it('a proxy without credentials is fine', () => {
    expect(() => loadEnv({ HTTPS_PROXY: 'http://proxy.corp.example.com:3128' })).not.toThrow();
  });
});

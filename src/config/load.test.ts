import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, type ConfigProblem } from '../errors.ts';
import { checkConfig, editDistance, formatPath, loadConfigFile, parseConfig } from './load.ts';

const REPO = 'ssh://git@git.example.com/acme/gitops.git';
const minimal = { git: { repoUrl: REPO }, environments: { namespaces: ['staging'] } };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The minimal config with `patch` merged in (objects deeply, everything else replaced). */
function withMinimal(patch: Obj, target: Obj = minimal): Obj {
  const out: Obj = { ...target };
  for (const [k, v] of Object.entries(patch)) {
    out[k] = isObj(v) && isObj(out[k]) ? withMinimal(v, out[k] as Obj) : v;
  }
  return out;
}

function problemsOf(input: unknown): ConfigProblem[] {
  try {
    parseConfig(input);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('parseConfig: valid input', () => {
  it('normalises the minimal config, filling every default', () => {
    expect(parseConfig(minimal)).toMatchInlineSnapshot(`
      {
        "argocd": {
          "adminPassword": {
            "generate": true,
            "secretRef": {
              "key": "password",
              "name": "argocd-admin-password",
            },
          },
          "allowDowngrade": false,
          "components": {},
          "images": {
            "map": {},
            "pullSecrets": [],
          },
          "install": {
            "source": "bundled",
          },
          "namespace": "argocd",
          "rolloutTimeout": 600000,
          "server": {
            "insecure": true,
            "rootPath": "/argocd",
          },
          "settings": {
            "cm": {},
            "cmdParams": {},
            "rbac": {},
          },
          "sso": {
            "clientSecret": {
              "secretRef": {
                "key": "clientSecret",
                "name": "argocd-oidc",
              },
            },
            "disableAdmin": false,
            "enabled": false,
            "groups": {},
            "name": "SSO",
            "scopes": [
              "openid",
              "profile",
              "email",
              "groups",
            ],
          },
          "version": "v3.5.1",
          "virtualService": {
            "enabled": "auto",
            "gateway": "istio-system/seldon-gateway",
            "hosts": [
              "*",
            ],
          },
        },
        "environments": {
          "applicationName": "seldon-gitops-{namespace}",
          "batch": {
            "enabled": false,
            "rules": [
              {
                "apiGroups": [
                  "",
                ],
                "resources": [
                  "pods",
                ],
                "verbs": [
                  "*",
                ],
              },
              {
                "apiGroups": [
                  "apps",
                ],
                "resources": [
                  "deployments",
                ],
                "verbs": [
                  "*",
                ],
              },
              {
                "apiGroups": [
                  "",
                ],
                "resources": [
                  "pods/log",
                ],
                "verbs": [
                  "*",
                ],
              },
              {
                "apiGroups": [
                  "machinelearning.seldon.io",
                ],
                "resources": [
                  "*",
                ],
                "verbs": [
                  "*",
                ],
              },
            ],
          },
          "deleteRemovedResources": false,
          "logging": {
            "enabled": true,
            "namespace": "seldon-logs",
            "restricted": false,
          },
          "namespaces": [
            {
              "name": "staging",
              "restricted": false,
            },
          ],
          "project": "seldon",
          "prune": false,
          "selfHeal": false,
          "syncOptions": [],
          "syncTimeout": 300000,
          "waitForSync": true,
        },
        "git": {
          "allowInsecureHttp": false,
          "credentials": {
            "secretRef": {
              "name": "gitops-source-creds",
            },
          },
          "repoUrl": "ssh://git@git.example.com/acme/gitops.git",
          "verify": true,
          "verifyWrite": true,
        },
        "report": {
          "configMap": "sd-gitops-bootstrap-report",
        },
        "seldonDeploy": {
          "gitCredentialsSecret": "git-creds",
          "namespace": "seldon-system",
          "sshKeyName": "id_rsa",
        },
        "webhooks": {
          "enabled": false,
          "insecureSkipTlsVerify": false,
          "secretName": "sd-gitops-bootstrap-webhook",
          "token": {
            "secretRef": {
              "key": "token",
              "name": "git-webhook-token",
            },
          },
        },
      }
    `);
  });

  it.each([
    {
      name: "a plain-string namespace is open to every Seldon Deploy user (the seed's restricted: false)",
      input: minimal,
      expected: { environments: { namespaces: [{ name: 'staging', restricted: false }] } },
    },
    {
      name: 'object and string namespaces mix',
      input: withMinimal({
        environments: { namespaces: ['production', { name: 'staging', restricted: true }, { name: 'qa' }] },
      }),
      expected: {
        environments: {
          namespaces: [
            { name: 'production', restricted: false },
            { name: 'staging', restricted: true },
            { name: 'qa', restricted: false },
          ],
        },
      },
    },
    {
      name: 'durations in h/m/s',
      input: withMinimal({ argocd: { rolloutTimeout: '1h30m' }, environments: { syncTimeout: '90s' } }),
      expected: { argocd: { rolloutTimeout: 5_400_000 }, environments: { syncTimeout: 90_000 } },
    },
    {
      name: 'a duration as a number of seconds',
      input: withMinimal({ argocd: { rolloutTimeout: 600 }, environments: { syncTimeout: 2.5 } }),
      expected: { argocd: { rolloutTimeout: 600_000 }, environments: { syncTimeout: 2_500 } },
    },
    {
      name: 'one environment needs no {namespace} in the Application name',
      input: withMinimal({
        environments: { applicationName: 'seldon-staging', logging: { enabled: false } },
      }),
      expected: { environments: { applicationName: 'seldon-staging' } },
    },
    {
      name: 'a key without a value counts as not set',
      input: withMinimal({ argocd: null, seldonDeploy: { namespace: null }, report: null }),
      expected: { argocd: { namespace: 'argocd' }, seldonDeploy: { namespace: 'seldon-system' } },
    },
    {
      name: 'install from a URL, checksum lower-cased',
      input: withMinimal({
        argocd: {
          version: 'v3.6.1',
          install: { source: 'url', url: 'https://example.com/install.yaml', sha256: 'AB'.repeat(32) },
        },
      }),
      expected: { argocd: { version: 'v3.6.1', install: { source: 'url', sha256: 'ab'.repeat(32) } } },
    },
    {
      name: 'source skip accepts any supported version',
      input: withMinimal({ argocd: { version: 'v3.9.4', install: { source: 'skip' } } }),
      expected: { argocd: { version: 'v3.9.4', install: { source: 'skip' } } },
    },
    {
      name: 'the 2.x bundled version',
      input: withMinimal({ argocd: { version: 'v2.14.21' } }),
      expected: { argocd: { version: 'v2.14.21', install: { source: 'bundled' } } },
    },
    {
      name: 'VirtualService off, root path /',
      input: withMinimal({ argocd: { virtualService: { enabled: false }, server: { rootPath: '/' } } }),
      expected: { argocd: { virtualService: { enabled: false }, server: { rootPath: '/' } } },
    },
    {
      name: 'scp-like repository URL with an absolute path',
      input: withMinimal({ git: { repoUrl: 'git@127.0.0.1:/srv/git/gitops.git' } }),
      expected: { git: { repoUrl: 'git@127.0.0.1:/srv/git/gitops.git' } },
    },
    {
      name: 'https and http repository URLs',
      input: withMinimal({
        git: { repoUrl: 'http://gitea.local:3000/acme/gitops', allowInsecureHttp: true },
      }),
      expected: { git: { repoUrl: 'http://gitea.local:3000/acme/gitops', allowInsecureHttp: true } },
    },
    {
      name: 'secret references in other namespaces',
      input: withMinimal({
        argocd: { adminPassword: { secretRef: { namespace: 'platform' }, generate: false } },
        git: { credentials: { secretRef: { name: 'token', namespace: 'platform' } } },
      }),
      expected: {
        argocd: {
          adminPassword: {
            secretRef: { name: 'argocd-admin-password', key: 'password', namespace: 'platform' },
            generate: false,
          },
        },
        git: { credentials: { secretRef: { name: 'token', namespace: 'platform' } } },
      },
    },
  ])('$name', ({ input, expected }) => {
    expect(parseConfig(input)).toMatchObject(expected);
  });
});

describe('parseConfig: invalid input', () => {
  it.each([
    {
      name: 'typo in a nested key',
      input: withMinimal({ argocd: { namesapce: 'argocd' } }),
      path: 'argocd.namesapce',
      message: 'unknown key (did you mean "namespace"?)',
    },
    {
      name: 'typo in a top-level key',
      input: withMinimal({ enviroments: {} }),
      path: 'enviroments',
      message: 'unknown key (did you mean "environments"?)',
    },
    {
      name: 'unknown top-level key, nothing close',
      input: withMinimal({ cluster: 'prod' }),
      path: 'cluster',
      message: 'unknown key (known keys here: argocd, git, environments',
    },
    {
      name: 'a key at the wrong level',
      input: withMinimal({ waitForSync: false }),
      path: 'waitForSync',
      message: 'did you mean "environments.waitForSync"?',
    },
    {
      name: 'unknown key in a namespace entry',
      input: withMinimal({ environments: { namespaces: [{ name: 'staging', restriced: true }] } }),
      path: 'environments.namespaces[0].restriced',
      message: 'did you mean "restricted"?',
    },
    {
      name: 'missing repoUrl',
      input: { environments: { namespaces: ['staging'] } },
      path: 'git',
      message: 'required',
    },
    {
      name: 'missing repoUrl inside git',
      input: withMinimal({ git: { repoUrl: undefined, verify: true } }),
      path: 'git.repoUrl',
      message: 'required',
    },
    {
      name: 'repoUrl without a scheme',
      input: withMinimal({ git: { repoUrl: 'github.com/acme/gitops' } }),
      path: 'git.repoUrl',
      message: 'must be a Git URL',
    },
    {
      name: 'repoUrl with an unsupported scheme',
      input: withMinimal({ git: { repoUrl: 'ftp://example.com/gitops.git' } }),
      path: 'git.repoUrl',
      message: 'uses the ftp:// transport',
    },
    {
      name: 'capital letters in a namespace',
      input: withMinimal({ environments: { namespaces: ['Staging'] } }),
      path: 'environments.namespaces[0]',
      message:
        'must be a DNS-1123 label (lowercase letters, digits and \'-\', at most 63 characters, e.g. "staging")',
    },
    {
      name: 'capital letters in a namespace object',
      input: withMinimal({ environments: { namespaces: ['staging', { name: 'Prod' }] } }),
      path: 'environments.namespaces[1].name',
      message: 'must be a DNS-1123 label',
    },
    {
      name: 'namespace longer than 63 characters',
      input: withMinimal({ environments: { namespaces: ['n'.repeat(64)] } }),
      path: 'environments.namespaces[0]',
      message: 'at most 63 characters',
    },
    {
      name: 'namespace entry of the wrong type',
      input: withMinimal({ environments: { namespaces: [42] } }),
      path: 'environments.namespaces[0]',
      message: 'must be a namespace name (e.g. "staging") or an object {name, restricted}',
    },
    {
      name: 'namespace object without a name',
      input: withMinimal({ environments: { namespaces: [{ restricted: false }] } }),
      path: 'environments.namespaces[0].name',
      message: 'required',
    },
    {
      name: 'no namespaces',
      input: withMinimal({ environments: { namespaces: [] } }),
      path: 'environments.namespaces',
      message: 'must list at least one namespace',
    },
    {
      name: 'a boolean as a string',
      input: withMinimal({ environments: { waitForSync: 'no' } }),
      path: 'environments.waitForSync',
      message: 'expected a boolean (true or false), got "no"',
    },
    {
      name: 'a version as a number',
      input: withMinimal({ argocd: { version: 3.5 } }),
      path: 'argocd.version',
      message: 'expected a string, got 3.5 (a number): put the value in quotes',
    },
    {
      name: 'a section that is not a mapping',
      input: withMinimal({ argocd: ['v3.5.1'] }),
      path: 'argocd',
      message: 'expected a mapping, got a list',
    },
    {
      name: 'an image registry with a scheme',
      input: withMinimal({ argocd: { images: { registry: 'https://registry.example.com' } } }),
      path: 'argocd.images.registry',
      message:
        'must not start with a scheme (https://): the runtime always pulls over HTTPS; write "registry.example.com/mirror"',
    },
    {
      name: 'an image registry with a tag',
      input: withMinimal({ argocd: { images: { registry: 'registry.example.com/mirror/argocd:v3.5.1' } } }),
      path: 'argocd.images.registry',
      message: 'must not carry a tag (:v3.5.1): every image keeps its own tag and digest',
    },
    {
      name: 'an image registry without a host',
      input: withMinimal({ argocd: { images: { registry: 'mirror/argoproj' } } }),
      path: 'argocd.images.registry',
      message: '"mirror" would be read as a Docker Hub path',
    },
    {
      name: 'an image map key with a tag',
      input: withMinimal({
        argocd: { images: { map: { 'quay.io/argoproj/argocd:v3.5.1': 'registry.example.com/argocd' } } },
      }),
      path: 'argocd.images.map."quay.io/argoproj/argocd:v3.5.1"',
      message: 'must not carry a tag or digest (:v3.5.1)',
    },
    {
      name: 'an image map value in upper case',
      input: withMinimal({
        argocd: { images: { map: { 'quay.io/argoproj/argocd': 'registry.example.com/ArgoCD' } } },
      }),
      path: 'argocd.images.map.quay.io/argoproj/argocd',
      message: 'must be lower case',
    },
    {
      name: 'a pull Secret that is not a name',
      input: withMinimal({ argocd: { images: { pullSecrets: ['Registry Creds'] } } }),
      path: 'argocd.images.pullSecrets[0]',
      message: 'must be a DNS-1123 subdomain',
    },
    {
      name: 'the HA profile with a manifest file',
      input: withMinimal({ argocd: { install: { source: 'file', file: '/m/install.yaml', profile: 'ha' } } }),
      path: 'argocd.install.profile',
      message:
        'only with install.source "bundled" (source is "file"): remove it, and point argocd.install.file at the manifest you mean (Argo CD\'s HA one is manifests/ha/install.yaml)',
    },
    {
      name: 'argocd-redis shaped under the HA profile',
      input: withMinimal({
        argocd: { install: { profile: 'ha' }, components: { 'argocd-redis': { replicas: 1 } } },
      }),
      path: 'argocd.components.argocd-redis',
      message: 'is not in the HA manifest',
    },
    {
      name: 'images with install.source skip',
      input: withMinimal({
        argocd: { install: { source: 'skip' }, images: { registry: 'registry.example.com' } },
      }),
      path: 'argocd.images.registry',
      message: 'only when the bootstrap installs Argo CD',
    },
    {
      name: 'unknown install source',
      input: withMinimal({ argocd: { install: { source: 'helm' } } }),
      path: 'argocd.install.source',
      message: 'must be one of "bundled", "file", "url", "skip" (got "helm")',
    },
    {
      name: 'url without sha256',
      input: withMinimal({ argocd: { install: { source: 'url', url: 'https://example.com/install.yaml' } } }),
      path: 'argocd.install.sha256',
      message: 'required when install.source is "url"',
    },
    {
      name: 'url source without url',
      input: withMinimal({ argocd: { install: { source: 'url', sha256: 'a'.repeat(64) } } }),
      path: 'argocd.install.url',
      message: 'required when install.source is "url"',
    },
    {
      name: 'url that is not http(s)',
      input: withMinimal({
        argocd: { install: { source: 'url', url: 'file:///tmp/x', sha256: 'a'.repeat(64) } },
      }),
      path: 'argocd.install.url',
      message: 'must be an http(s) URL',
    },
    {
      name: 'sha256 of the wrong length',
      input: withMinimal({
        argocd: { install: { source: 'url', url: 'https://e.com/i.yaml', sha256: 'abc' } },
      }),
      path: 'argocd.install.sha256',
      message: 'must be a sha256 checksum: 64 hexadecimal characters',
    },
    {
      name: 'file source without file',
      input: withMinimal({ argocd: { install: { source: 'file' } } }),
      path: 'argocd.install.file',
      message: 'required when install.source is "file"',
    },
    {
      name: 'url given with the file source',
      input: withMinimal({
        argocd: { install: { source: 'file', file: 'x.yaml', url: 'https://e.com/i.yaml' } },
      }),
      path: 'argocd.install.url',
      message: 'only used with install.source "url" (source is "file")',
    },
    {
      name: 'sha256 given with the bundled source',
      input: withMinimal({ argocd: { install: { sha256: 'a'.repeat(64) } } }),
      path: 'argocd.install.sha256',
      message: 'only used with install.source "url" or "file" (source is "bundled")',
    },
    {
      name: 'file given with the bundled source',
      input: withMinimal({ argocd: { install: { file: 'install.yaml' } } }),
      path: 'argocd.install.file',
      message: 'only used with install.source "file" (source is "bundled")',
    },
    {
      name: 'v3.6.0',
      input: withMinimal({ argocd: { version: 'v3.6.0', install: { source: 'skip' } } }),
      path: 'argocd.version',
      message: 'argo-cd#30763): its UI breaks under a sub-path; use v3.6.1 or later',
    },
    {
      name: 'v1.6.2 (the seed document)',
      input: withMinimal({ argocd: { version: 'v1.6.2' } }),
      path: 'argocd.version',
      message: 'its CRDs use apiextensions.k8s.io/v1beta1, which current Kubernetes no longer serves',
    },
    {
      name: 'v2.13 is out of support',
      input: withMinimal({ argocd: { version: 'v2.13.4', install: { source: 'skip' } } }),
      path: 'argocd.version',
      message: 'supported versions are 2.14.x and 3.x',
    },
    {
      name: 'a future major version',
      input: withMinimal({ argocd: { version: 'v4.0.0', install: { source: 'skip' } } }),
      path: 'argocd.version',
      message: 'supported versions are 2.14.x and 3.x',
    },
    {
      name: 'a version the image does not bundle',
      input: withMinimal({ argocd: { version: 'v3.4.2' } }),
      path: 'argocd.version',
      message: 'v3.4.2 is not bundled in this image (bundled: v3.5.1, v2.14.21)',
    },
    {
      name: 'a version without the v',
      input: withMinimal({ argocd: { version: '3.5.1' } }),
      path: 'argocd.version',
      message: 'with the leading "v"',
    },
    {
      name: 'duplicate namespace',
      input: withMinimal({ environments: { namespaces: ['staging', 'production', { name: 'staging' }] } }),
      path: 'environments.namespaces[2]',
      message: '"staging" is listed twice (first at environments.namespaces[0])',
    },
    {
      name: 'the logging namespace listed as an environment',
      input: withMinimal({ environments: { namespaces: ['staging', 'seldon-logs'] } }),
      path: 'environments.namespaces[1]',
      message: 'is also the logging namespace',
    },
    {
      name: 'rootPath without a leading /',
      input: withMinimal({ argocd: { server: { rootPath: 'argocd' } } }),
      path: 'argocd.server.rootPath',
      message: "must be a URL path starting with '/'",
    },
    {
      name: 'rootPath with a trailing /',
      input: withMinimal({ argocd: { server: { rootPath: '/argocd/' } } }),
      path: 'argocd.server.rootPath',
      message: 'must not end with \'/\' (write "/argocd")',
    },
    {
      name: 'bad duration',
      input: withMinimal({ argocd: { rolloutTimeout: '10 minutes' } }),
      path: 'argocd.rolloutTimeout',
      message: 'must be a duration like "10m", "90s", "1h30m" or a number of seconds',
    },
    {
      name: 'zero duration',
      input: withMinimal({ environments: { syncTimeout: 0 } }),
      path: 'environments.syncTimeout',
      message: 'must be a duration',
    },
    {
      name: 'duration of the wrong type',
      input: withMinimal({ environments: { syncTimeout: true } }),
      path: 'environments.syncTimeout',
      message: 'must be a duration',
    },
    {
      name: 'virtualService.enabled neither auto nor a boolean',
      input: withMinimal({ argocd: { virtualService: { enabled: 'yes' } } }),
      path: 'argocd.virtualService.enabled',
      message: 'must be "auto", true or false',
    },
    {
      name: 'gateway without its namespace',
      input: withMinimal({ argocd: { virtualService: { gateway: 'seldon-gateway' } } }),
      path: 'argocd.virtualService.gateway',
      message: 'must be "namespace/name" of an Istio Gateway',
    },
    {
      name: 'no hosts',
      input: withMinimal({ argocd: { virtualService: { hosts: [] } } }),
      path: 'argocd.virtualService.hosts',
      message: 'must list at least one host',
    },
    {
      name: 'Secret name with capitals',
      input: withMinimal({ git: { credentials: { secretRef: { name: 'Git_Creds' } } } }),
      path: 'git.credentials.secretRef.name',
      message: 'must be a DNS-1123 subdomain',
    },
    {
      name: 'Secret key with a slash',
      input: withMinimal({ seldonDeploy: { sshKeyName: 'ssh/id_rsa' } }),
      path: 'seldonDeploy.sshKeyName',
      message: 'must be a Secret data key',
    },
    {
      name: 'Application name without {namespace} for several environments',
      input: withMinimal({ environments: { applicationName: 'seldon-gitops' } }),
      path: 'environments.applicationName',
      message: 'must contain "{namespace}": there are 2 environments (staging, seldon-logs)',
    },
    {
      name: 'Application name with an unknown placeholder',
      input: withMinimal({ environments: { applicationName: 'app-{ns}' } }),
      path: 'environments.applicationName',
      message: 'unknown placeholder {ns}',
    },
    {
      name: 'Application name that renders invalid',
      input: withMinimal({ environments: { applicationName: 'Seldon-{namespace}' } }),
      path: 'environments.applicationName',
      message: 'gives "Seldon-staging" for namespace "staging", which is not a valid Application name',
    },
    {
      name: 'webhooks enabled without a provider',
      input: withMinimal({ webhooks: { enabled: true } }),
      path: 'webhooks.provider',
      message: 'required when webhooks.enabled is true: one of github, gitlab, bitbucket',
    },
    {
      name: 'webhooks enabled without the Argo CD URL',
      input: withMinimal({ webhooks: { enabled: true, provider: 'github' } }),
      path: 'webhooks.argocdUrl',
      message: "required when webhooks.enabled is true: Argo CD's public URL plus /api/webhook",
    },
    {
      name: 'an Argo CD webhook URL that is not /api/webhook',
      input: withMinimal({
        webhooks: { enabled: true, provider: 'github', argocdUrl: 'https://d.example.com/argocd/' },
      }),
      path: 'webhooks.argocdUrl',
      message: 'must end with /api/webhook',
    },
    {
      name: 'an unknown provider',
      input: withMinimal({ webhooks: { enabled: true, provider: 'gitea' } }),
      path: 'webhooks.provider',
      message: 'github',
    },
    {
      name: 'a GitHub repository that git.repoUrl cannot give',
      input: withMinimal({
        git: { repoUrl: 'ssh://git@git.example.com/srv/git/acme/gitops.git' },
        webhooks: {
          enabled: true,
          provider: 'github',
          argocdUrl: 'https://d.example.com/argocd/api/webhook',
        },
      }),
      path: 'webhooks.repository',
      message:
        'cannot be derived from git.repoUrl (ssh://git@git.example.com/srv/git/acme/gitops.git gives "srv/git/acme/gitops"): set it to the github repository as "owner/name"',
    },
    {
      name: 'a repository with a leading slash',
      input: withMinimal({ webhooks: { repository: '/acme/gitops' } }),
      path: 'webhooks.repository',
      message: 'must be the repository as the provider names it',
    },
    {
      name: 'a token key that is no Secret key',
      input: withMinimal({ webhooks: { token: { secretRef: { key: 'a b' } } } }),
      path: 'webhooks.token.secretRef.key',
      message: 'must be a Secret data key',
    },
    {
      name: 'insecureSkipTlsVerify as a string',
      input: withMinimal({ webhooks: { insecureSkipTlsVerify: 'yes' } }),
      path: 'webhooks.insecureSkipTlsVerify',
      message: 'boolean',
    },
    {
      name: 'not a mapping at all',
      input: ['git'],
      path: '',
      message: 'the configuration must be a mapping of keys',
    },
    {
      name: 'nothing at all',
      input: null,
      path: '',
      message: 'the configuration is empty',
    },
  ])('$name', ({ input, path, message }) => {
    const problems = problemsOf(input);
    const atPath = problems.filter((p) => p.path === path);
    expect(atPath, `problems: ${JSON.stringify(problems, null, 2)}`).not.toHaveLength(0);
    expect(atPath.map((p) => p.message).join('\n')).toContain(message);
  });

  it('collects every problem instead of stopping at the first', () => {
    const err = (() => {
      try {
        parseConfig(
          withMinimal({
            argocd: { namesapce: 'argocd', server: { rootPath: '/argocd/' } },
            environments: { namespaces: ['Staging', 'prod', 'prod'] },
            webhooks: { enabled: true, provider: 'github' },
          }),
        );
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems;
    expect(problems.map((p) => p.path)).toEqual([
      'argocd.namesapce',
      'environments.namespaces[0]',
      // the rules still run on the sections that are valid (webhooks and git) and skip the invalid ones
      'webhooks.argocdUrl',
    ]);
    expect((err as ConfigError).message).toMatch(
      /^invalid configuration \(3 problems\):\n {2}- argocd\.namesapce: /,
    );
  });

  it('reports two rule problems of different sections together', () => {
    const problems = problemsOf(
      withMinimal({
        argocd: { server: { rootPath: '/argocd/' } },
        webhooks: { enabled: true, argocdUrl: 'https://d.example.com/argocd/api/webhook' },
      }),
    );
    expect(problems).toEqual([
      { path: 'argocd.server.rootPath', message: expect.stringContaining("must not end with '/'") },
      { path: 'webhooks.provider', message: expect.stringContaining('required when webhooks.enabled') },
    ]);
  });

  it('reports a problem once, even when two checks of a key fail with the same message', () => {
    const problems = problemsOf(withMinimal({ environments: { namespaces: [`Bad_${'n'.repeat(70)}`] } }));
    expect(problems).toHaveLength(1);
  });

  it('checkConfig returns the problems without throwing', () => {
    expect(checkConfig(minimal).ok).toBe(true);
    const result = checkConfig({});
    expect(result).toEqual({
      ok: false,
      problems: [
        { path: 'git', message: 'required: at least git.repoUrl' },
        { path: 'environments', message: 'required: at least environments.namespaces' },
      ],
    });
  });
});

describe('helpers', () => {
  it.each([
    { name: 'empty', path: [], expected: '' },
    { name: 'keys', path: ['argocd', 'install', 'source'], expected: 'argocd.install.source' },
    {
      name: 'indexes',
      path: ['environments', 'namespaces', 1, 'name'],
      expected: 'environments.namespaces[1].name',
    },
  ])('formatPath: $name', ({ path, expected }) => {
    expect(formatPath(path)).toBe(expected);
  });

  it.each([
    { name: 'transposition', a: 'namesapce', b: 'namespace', d: 1 },
    { name: 'missing letter', a: 'argcd', b: 'argocd', d: 1 },
    { name: 'unrelated', a: 'cluster', b: 'git', d: 6 },
  ])('editDistance: $name', ({ a, b, d }) => {
    expect(editDistance(a, b)).toBe(d);
  });
});

describe('loadConfigFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sd-config-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const write = async (name: string, text: string): Promise<string> => {
    const file = join(dir, name);
    await writeFile(file, text);
    return file;
  };

  const failure = async (file: string): Promise<ConfigError> => {
    const err = await loadConfigFile(file).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  };

  it('loads and normalises a YAML file', async () => {
    const file = await write(
      'ok.yaml',
      `git: { repoUrl: "${REPO}" }\nenvironments:\n  namespaces: [staging, { name: prod, restricted: true }]\n`,
    );
    const config = await loadConfigFile(file);
    expect(config.environments.namespaces).toEqual([
      { name: 'staging', restricted: false },
      { name: 'prod', restricted: true },
    ]);
  });

  it('names a missing file', async () => {
    const err = await failure(join(dir, 'absent.yaml'));
    expect(err.message).toContain(`config file ${join(dir, 'absent.yaml')} does not exist`);
  });

  it('names the file and the line of a YAML syntax error', async () => {
    const file = await write('syntax.yaml', 'git:\n  repoUrl: x\n bad: indent\n');
    const err = await failure(file);
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]!.message).toContain(`YAML syntax error in ${file} at line 3`);
  });

  it.each([
    { name: 'empty file', text: '' },
    { name: 'comments only', text: '# nothing here\n' },
    { name: 'a null document', text: '~\n' },
  ])('refuses an empty file: $name', async ({ name, text }) => {
    const file = await write(`${name.replaceAll(' ', '-')}.yaml`, text);
    const err = await failure(file);
    expect(err.message).toContain(`config file ${file} is empty`);
  });

  it('refuses several YAML documents', async () => {
    const file = await write('multi.yaml', 'git: {}\n---\nenvironments: {}\n');
    expect((await failure(file)).message).toContain('holds 2 YAML documents');
  });

  it('names the file in the error', async () => {
    const file = await write(
      'bad.yaml',
      `git: { repoUrl: "${REPO}" }\nenvironments: { namespaces: [Bad] }\n`,
    );
    const err = await failure(file);
    expect(err.message).toMatch(new RegExp(`^invalid configuration in ${file} \\(1 problem\\)`));
    expect(err.problems[0]!.path).toBe('environments.namespaces[0]');
  });

  it("resolves a relative install.file against the config file's directory", async () => {
    await write('install.yaml', 'kind: List\n');
    const file = await write(
      'file.yaml',
      `argocd: { install: { source: file, file: ./install.yaml } }\ngit: { repoUrl: "${REPO}" }\nenvironments: { namespaces: [staging] }\n`,
    );
    const config = await loadConfigFile(file);
    expect(config.argocd.install.file).toBe(join(dir, 'install.yaml'));
  });

  it('refuses an install.file that does not exist', async () => {
    const file = await write(
      'nofile.yaml',
      `argocd: { install: { source: file, file: missing.yaml } }\ngit: { repoUrl: "${REPO}" }\nenvironments: { namespaces: [staging] }\n`,
    );
    const err = await failure(file);
    expect(err.problems).toEqual([
      {
        path: 'argocd.install.file',
        message: expect.stringContaining(`${join(dir, 'missing.yaml')} does not exist`),
      },
    ]);
  });
});

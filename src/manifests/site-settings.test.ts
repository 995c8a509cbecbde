import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { sampleConfig } from '../../test/fixtures/sample-config.ts';
import { parseConfig } from '../config/load.ts';
import { ConfigError } from '../errors.ts';
import { shapeWorkload, unknownComponents } from './argocd-components.ts';
import {
  argocdCmData,
  argocdConfigTargets,
  cmdParamsConfigMap,
  oidcConfig,
  rbacCmData,
  serverConfigHash,
  ssoSecretLabelPatch,
} from './argocd-settings.ts';
import { seldonDeployHandoff } from './seldon-deploy.ts';
import { SELDON_HEALTH_CHECKS } from './seldon-health.ts';
import { argocdUrl } from './virtualservice.ts';

const SSO = {
  enabled: true,
  issuer: 'https://sso.example.com/realms/acme',
  clientID: 'argocd',
  groups: { 'platform-admins': 'role:admin', 'ml-team': 'role:readonly' },
};

describe('Argo CD shaped to the site: extra keys of its ConfigMaps', () => {
  it("adds the extra keys beside the bootstrap's own; none: argocd-cm has only Seldon's health checks, no argocd-rbac-cm patch", () => {
    expect(argocdConfigTargets(sampleConfig()).map((o) => o.metadata.name)).toEqual([
      'argocd-secret',
      'argocd-cmd-params-cm',
      'argocd-server',
      'argocd-cm',
    ]);
    const config = sampleConfig((c) => {
      c.argocd.settings.cmdParams = { 'controller.status.processors': '50' };
      c.argocd.settings.cm = { 'timeout.reconciliation': '300s' };
      c.argocd.settings.rbac = { 'policy.default': 'role:readonly' };
    });
    expect(cmdParamsConfigMap(config).data).toEqual({
      'controller.status.processors': '50',
      'server.insecure': 'true',
      'server.rootpath': '/argocd',
    });
    const patches = argocdConfigTargets(config);
    expect(patches.map((o) => o.metadata.name)).toEqual([
      'argocd-secret',
      'argocd-cmd-params-cm',
      'argocd-server',
      'argocd-cm',
      'argocd-rbac-cm',
    ]);
    expect(patches[3]!.data).toEqual({ ...SELDON_HEALTH_CHECKS, 'timeout.reconciliation': '300s' });
    // argocd-server restarts for a cmd-params change; a config without extras keeps its old hash.
    expect(serverConfigHash(config)).not.toBe(serverConfigHash(sampleConfig()));
    expect(serverConfigHash(sampleConfig())).toBe(serverConfigHash(sampleConfig()));
  });

  it.each([
    [
      'argocd.settings.cmdParams.server.rootpath',
      { cmdParams: { 'server.rootpath': '/x' } },
      'argocd.server.rootPath',
    ],
    ['argocd.settings.cm.oidc.config', { cm: { 'oidc.config': 'x' } }, 'argocd.sso'],
  ])('%s is refused: another key writes it', (path, settings, by) => {
    let err: unknown;
    try {
      parseConfig({
        git: { repoUrl: 'ssh://git@git.example.com/a/b.git' },
        environments: { namespaces: ['staging'] },
        argocd: { settings },
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain(`${path}: written by ${by}`);
  });

  it('a value that is not a string is refused with the fix', () => {
    expect(() =>
      parseConfig({
        git: { repoUrl: 'ssh://git@git.example.com/a/b.git' },
        environments: { namespaces: ['staging'] },
        argocd: { settings: { cmdParams: { 'controller.status.processors': 50 } } },
      }),
    ).toThrow(/argocd\.settings\.cmdParams\.controller\.status\.processors: must be a string/);
  });
});

describe('SSO (argocd.sso)', () => {
  const config = sampleConfig((c) => Object.assign(c.argocd.sso, SSO, { disableAdmin: true }));

  it('rootCA: the PEM as oidc.config rootCA, read back by YAML as the same text; not PEM is refused', () => {
    const pem = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----';
    const text = oidcConfig(sampleConfig((c) => Object.assign(c.argocd.sso, SSO, { rootCA: `${pem}\n\n` })));
    expect((load(text) as { rootCA: string }).rootCA).toBe(`${pem}\n`);
    expect(() =>
      parseConfig({
        git: { repoUrl: 'ssh://git@git.example.com/a/b.git' },
        environments: { namespaces: ['staging'] },
        argocd: { sso: { ...SSO, rootCA: 'not a certificate' } },
      }),
    ).toThrow(/argocd\.sso\.rootCA: must be PEM certificates/);
  });

  it('oidc.config references the client secret, never a value', () => {
    expect(oidcConfig(config)).toBe(
      [
        'name: "SSO"',
        'issuer: "https://sso.example.com/realms/acme"',
        'clientID: "argocd"',
        'clientSecret: "$argocd-oidc:clientSecret"',
        'requestedScopes: ["openid","profile","email","groups"]',
        '',
      ].join('\n'),
    );
    expect(argocdCmData(config)).toEqual({
      ...SELDON_HEALTH_CHECKS,
      'oidc.config': oidcConfig(config),
      'admin.enabled': 'false',
    });
    expect(ssoSecretLabelPatch(config)).toEqual([
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {
          name: 'argocd-oidc',
          namespace: 'argocd',
          labels: { 'app.kubernetes.io/part-of': 'argocd' },
        },
      },
    ]);
  });

  it("maps groups to roles in policy.csv, after the user's own lines", () => {
    expect(rbacCmData(config)).toEqual({
      'policy.csv': 'g, platform-admins, role:admin\ng, ml-team, role:readonly\n',
    });
    const both = sampleConfig((c) => {
      Object.assign(c.argocd.sso, SSO);
      c.argocd.settings.rbac = {
        'policy.csv': 'p, role:ops, applications, sync, */*, allow',
        'policy.default': '',
      };
    });
    expect(rbacCmData(both)).toEqual({
      'policy.csv':
        'p, role:ops, applications, sync, */*, allow\ng, platform-admins, role:admin\ng, ml-team, role:readonly\n',
      'policy.default': '',
    });
  });

  it('argocd.url: argocd-cm url without a trailing slash, and the address the report and handoff give', () => {
    const withUrl = sampleConfig((c) => {
      Object.assign(c.argocd.sso, SSO);
      c.argocd.url = 'https://deploy.example.com/argocd/';
    });
    expect(argocdCmData(withUrl).url).toBe('https://deploy.example.com/argocd');
    expect(argocdUrl(withUrl)).toBe('https://deploy.example.com/argocd/');
    expect(argocdCmData(sampleConfig())).toEqual(SELDON_HEALTH_CHECKS);
  });

  const base = {
    git: { repoUrl: 'ssh://git@git.example.com/a/b.git' },
    environments: { namespaces: ['staging'] },
  };
  const SSO_AND_URL = { sso: SSO, url: 'https://deploy.example.com/argocd' };

  it('argocd.url: accepted with SSO; its path must be the root path', () => {
    expect(parseConfig({ ...base, argocd: SSO_AND_URL }).argocd.url).toBe(
      'https://deploy.example.com/argocd',
    );
    expect(
      parseConfig({ ...base, argocd: { url: 'https://d.example.com/', server: { rootPath: '/' } } }).argocd
        .url,
    ).toBe('https://d.example.com/');
  });

  it.each([
    [{ sso: SSO }, 'argocd.url: required when argocd.sso.enabled'],
    [{ url: 'https://deploy.example.com' }, 'argocd.url: must end with argocd.server.rootPath ("/argocd")'],
    [
      { url: 'https://deploy.example.com/gitops', server: { rootPath: '/argocd' } },
      'write "https://deploy.example.com/argocd"',
    ],
    [{ url: 'https://deploy.example.com/argocd?x=1' }, 'argocd.url: must have no query or fragment'],
    [{ url: 'ftp://deploy.example.com/argocd' }, 'argocd.url: must be an http(s) URL'],
    [
      { ...SSO_AND_URL, settings: { cm: { url: 'https://x' } } },
      'argocd.settings.cm.url: written by argocd.url',
    ],
  ])('argocd.url: validates %j', (argocd, message) => {
    expect(() => parseConfig({ ...base, argocd })).toThrow(message);
  });

  it.each([
    [{ enabled: true, clientID: 'a' }, 'argocd.sso.issuer: required when argocd.sso.enabled'],
    [{ enabled: true, issuer: 'https://x.example.com' }, 'argocd.sso.clientID: required'],
    [
      { enabled: true, issuer: 'http://x.example.com', clientID: 'a' },
      'argocd.sso.issuer: must be an https URL',
    ],
    [{ disableAdmin: true }, 'argocd.sso.disableAdmin: would lock everyone out without SSO'],
    [
      { enabled: true, issuer: 'https://x.example.com', clientID: 'a', groups: { g: 'admin' } },
      'must be an Argo CD role',
    ],
  ])('validates %j', (sso, message) => {
    expect(() =>
      parseConfig({
        git: { repoUrl: 'ssh://git@git.example.com/a/b.git' },
        environments: { namespaces: ['staging'] },
        argocd: { sso },
      }),
    ).toThrow(message);
  });
});

describe('Seldon Deploy hand-off', () => {
  it("is the gitops block of Seldon Deploy's chart values", () => {
    expect(seldonDeployHandoff(sampleConfig(), '/argocd/')).toEqual({
      values:
        'gitops:\n  git:\n    secret: git-creds\n  argocd:\n    enabled: true\n    namespace: argocd\n    url: /argocd/\n',
      secret: { namespace: 'seldon-system', name: 'git-creds' },
    });
  });
});

describe('Argo CD components shaped to the site', () => {
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'argocd-repo-server', namespace: 'argocd' },
    spec: {
      replicas: 1,
      template: {
        spec: {
          nodeSelector: { 'kubernetes.io/os': 'linux' },
          containers: [
            { name: 'copyutil' },
            {
              name: 'argocd-repo-server',
              args: ['/usr/local/bin/argocd-repo-server'],
              env: [{ name: 'A', value: '1' }],
            },
          ],
        },
      },
    },
  };
  const config = sampleConfig((c) => {
    c.argocd.components = {
      'argocd-repo-server': {
        replicas: 2,
        resources: { requests: { cpu: '250m' } },
        nodeSelector: { pool: 'infra' },
        tolerations: [{ key: 'infra', operator: 'Exists', effect: 'NoSchedule' }],
        extraArgs: ['--parallelismlimit', '4'],
        env: [
          { name: 'A', value: '2' },
          { name: 'B', value: 'x' },
        ],
      },
    };
  });

  it('changes only the configured workload, in its own container', () => {
    expect(shapeWorkload(deployment, config)).toEqual({
      ...deployment,
      spec: {
        replicas: 2,
        template: {
          spec: {
            nodeSelector: { 'kubernetes.io/os': 'linux', pool: 'infra' },
            tolerations: [{ key: 'infra', operator: 'Exists', effect: 'NoSchedule' }],
            containers: [
              { name: 'copyutil' },
              {
                name: 'argocd-repo-server',
                args: ['/usr/local/bin/argocd-repo-server', '--parallelismlimit', '4'],
                env: [
                  { name: 'A', value: '2' },
                  { name: 'B', value: 'x' },
                ],
                resources: { requests: { cpu: '250m' } },
              },
            ],
          },
        },
      },
    });
    const other = { ...deployment, metadata: { ...deployment.metadata, name: 'argocd-server' } };
    expect(shapeWorkload(other, config)).toBe(other);
    expect(unknownComponents([other], config)).toEqual(['argocd-repo-server']);
  });

  it('is refused with install.source skip, and for an unknown name', () => {
    const base = {
      git: { repoUrl: 'ssh://git@git.example.com/a/b.git' },
      environments: { namespaces: ['staging'] },
    };
    expect(() =>
      parseConfig({
        ...base,
        argocd: { install: { source: 'skip' }, components: { 'argocd-server': { replicas: 2 } } },
      }),
    ).toThrow(/argocd\.components: only when the bootstrap installs Argo CD/);
    expect(() =>
      parseConfig({ ...base, argocd: { components: { 'argocd-srever': { replicas: 2 } } } }),
    ).toThrow(/argocd\.components/);
  });
});

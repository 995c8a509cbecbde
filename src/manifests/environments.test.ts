import { describe, expect, it } from 'vitest';
import { environmentRow } from '../../test/fixtures/environments.ts';
import { sampleConfig } from '../../test/fixtures/sample-config.ts';
import { parseConfig } from '../config/load.ts';
import { application, describeSyncPolicy, syncPolicyOf } from './application.ts';
import { appProject, appProjectKeepingOthers } from './appproject.ts';
import { environmentsOf } from './common.ts';
import { namespaceFor } from './namespace.ts';

describe('environments', () => {
  it('lists the configured namespaces and then the logging namespace', () => {
    expect(environmentsOf(sampleConfig())).toEqual([
      environmentRow('staging', false, false, 'seldon-gitops-staging'),
      environmentRow('production', false, false, 'seldon-gitops-production'),
      environmentRow('seldon-logs', false, true, 'seldon-gitops-seldon-logs'),
    ]);
  });

  it('leaves out the logging namespace when disabled', () => {
    const disabled = sampleConfig((c) => {
      c.environments.logging.enabled = false;
    });
    expect(environmentsOf(disabled).map((e) => e.namespace)).toEqual(['staging', 'production']);
  });
});

describe('namespaceFor', () => {
  it('labels and annotates as the seed does', () => {
    const config = sampleConfig();
    const [staging] = environmentsOf(config);
    expect(namespaceFor(config, staging!)).toMatchInlineSnapshot(`
      {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
          "annotations": {
            "git-repo": "ssh://git@git.example.com/acme/gitops.git",
          },
          "labels": {
            "seldon.gitops": "enabled",
            "seldon.restricted": "false",
          },
          "name": "staging",
        },
      }
    `);
  });

  it('adds argocdapp only when the Application name is not seldon-gitops-<ns>', () => {
    const config = sampleConfig((c) => {
      c.environments.applicationName = 'gitops-{namespace}';
    });
    const labels = environmentsOf(config).map((env) => namespaceFor(config, env).metadata.labels);
    expect(labels[1]).toEqual({
      'seldon.restricted': 'false',
      'seldon.gitops': 'enabled',
      argocdapp: 'gitops-production',
    });
  });
});

describe('appProject', () => {
  it('covers every environment, the repo, and the seldon-admin role', () => {
    expect(appProject(sampleConfig())).toMatchInlineSnapshot(`
      {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {
          "labels": {
            "app.kubernetes.io/managed-by": "sd-gitops-bootstrap",
          },
          "name": "seldon",
          "namespace": "argocd",
        },
        "spec": {
          "clusterResourceWhitelist": [
            {
              "group": "*",
              "kind": "*",
            },
          ],
          "description": "Seldon Deploy Project",
          "destinations": [
            {
              "namespace": "staging",
              "server": "https://kubernetes.default.svc",
            },
            {
              "namespace": "production",
              "server": "https://kubernetes.default.svc",
            },
            {
              "namespace": "seldon-logs",
              "server": "https://kubernetes.default.svc",
            },
          ],
          "roles": [
            {
              "name": "seldon-admin",
              "policies": [
                "p, proj:seldon:seldon-admin, applications, get, seldon/*, allow",
                "p, proj:seldon:seldon-admin, applications, create, seldon/*, allow",
                "p, proj:seldon:seldon-admin, applications, update, seldon/*, allow",
                "p, proj:seldon:seldon-admin, applications, delete, seldon/*, allow",
                "p, proj:seldon:seldon-admin, applications, sync, seldon/*, allow",
              ],
            },
          ],
          "sourceRepos": [
            "ssh://git@git.example.com/acme/gitops.git",
          ],
        },
      }
    `);
  });

  it('uses the project name in the policies', () => {
    const project = appProject(sampleConfig((c) => (c.environments.project = 'ml')));
    const spec = project.spec as { roles: { policies: string[] }[] };
    expect(spec.roles[0]!.policies[0]).toBe('p, proj:ml:seldon-admin, applications, get, ml/*, allow');
  });
});

describe('appProjectKeepingOthers', () => {
  it("keeps users' repositories, destinations and roles after ours; the same live gives the same object", () => {
    const config = sampleConfig();
    const ours = appProject(config);
    const live = structuredClone(ours) as typeof ours & { spec: Record<string, unknown[]> };
    live.spec.sourceRepos!.push('https://example.com/extra.git');
    live.spec.destinations!.push({ namespace: 'hand-added', server: 'https://kubernetes.default.svc' });
    live.spec.roles!.push({ name: 'auditor', policies: [] });
    const kept = appProjectKeepingOthers(config, live);
    expect(kept.spec).toEqual(live.spec);
    expect(appProjectKeepingOthers(config, kept)).toEqual(kept);
    expect(appProjectKeepingOthers(config, null)).toEqual(ours);
  });

  it('puts our own entries back when a user removed or changed them', () => {
    const config = sampleConfig();
    const ours = appProject(config);
    const live = structuredClone(ours) as typeof ours & { spec: Record<string, unknown[]> };
    live.spec.roles = [{ name: 'seldon-admin', policies: ['changed'] }];
    live.spec.destinations = [];
    const kept = appProjectKeepingOthers(config, live);
    expect(kept.spec).toEqual(ours.spec);
  });
});

describe('application', () => {
  it('syncs the folder named like the namespace, recursively and automatically', () => {
    const config = sampleConfig();
    expect(application(config, environmentsOf(config)[1]!)).toMatchInlineSnapshot(`
      {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
          "labels": {
            "app.kubernetes.io/managed-by": "sd-gitops-bootstrap",
          },
          "name": "seldon-gitops-production",
          "namespace": "argocd",
        },
        "spec": {
          "destination": {
            "namespace": "production",
            "server": "https://kubernetes.default.svc",
          },
          "project": "seldon",
          "source": {
            "directory": {
              "recurse": true,
            },
            "path": "production",
            "repoURL": "ssh://git@git.example.com/acme/gitops.git",
          },
          "syncPolicy": {
            "automated": {
              "prune": false,
              "selfHeal": false,
            },
          },
        },
      }
    `);
  });

  it('carries prune, selfHeal, the target revision and the sync options of the environments', () => {
    const config = sampleConfig((c) => {
      c.environments.prune = true;
      c.environments.selfHeal = true;
      c.environments.targetRevision = 'main';
      c.environments.syncOptions = ['CreateNamespace=false', 'ServerSideApply=true'];
    });
    const spec = application(config, environmentsOf(config)[1]!).spec as Record<
      string,
      Record<string, unknown>
    >;
    expect(spec.syncPolicy).toEqual({
      automated: { prune: true, selfHeal: true },
      syncOptions: ['CreateNamespace=false', 'ServerSideApply=true'],
    });
    expect(spec.source?.targetRevision).toBe('main');
  });

  it("lets one environment's own keys replace the defaults; the logging namespace takes the defaults", () => {
    const config = parseConfig({
      git: { repoUrl: 'ssh://git@git.example.com/acme/gitops.git' },
      environments: {
        prune: true,
        targetRevision: 'main',
        syncOptions: ['ServerSideApply=true'],
        namespaces: [
          'staging',
          { name: 'production', prune: false, selfHeal: true, targetRevision: 'prod', syncOptions: [] },
        ],
      },
    });
    const [staging, production, logs] = environmentsOf(config);
    expect(syncPolicyOf(config, staging!)).toEqual({
      prune: true,
      selfHeal: false,
      targetRevision: 'main',
      syncOptions: ['ServerSideApply=true'],
    });
    expect(syncPolicyOf(config, production!)).toEqual({
      prune: false,
      selfHeal: true,
      targetRevision: 'prod',
      syncOptions: [],
    });
    expect(syncPolicyOf(config, logs!)).toEqual(syncPolicyOf(config, staging!));
    const prod = application(config, production!).spec as Record<string, Record<string, unknown>>;
    // An empty list writes no syncOptions at all; prune: false is written (an empty automated after a
    // custom policy would be stored as null by server-side apply, which the CRD refuses).
    expect(prod.syncPolicy).toEqual({ automated: { prune: false, selfHeal: true } });
    expect(prod.source?.targetRevision).toBe('prod');
  });

  it('describes the policy for plan: the seed default, then every key', () => {
    const config = sampleConfig();
    expect(describeSyncPolicy(syncPolicyOf(config, environmentsOf(config)[0]!))).toBe(
      'sync: automated, revision HEAD',
    );
    expect(
      describeSyncPolicy({
        prune: true,
        selfHeal: true,
        targetRevision: 'main',
        syncOptions: ['ServerSideApply=true'],
      }),
    ).toBe('sync: automated (prune, selfHeal), revision main, options ServerSideApply=true');
  });

  it('refuses a sync option that is not Name=value and a revision with spaces, naming the key', () => {
    const bad = () =>
      parseConfig({
        git: { repoUrl: 'ssh://git@git.example.com/acme/gitops.git' },
        environments: {
          syncOptions: ['ServerSideApply'],
          namespaces: [{ name: 'staging', targetRevision: 'my branch' }],
        },
      });
    expect(bad).toThrow(/environments\.syncOptions\[0\]: must be an Argo CD sync option Name=value/);
    expect(bad).toThrow(/environments\.namespaces\[0\]\.targetRevision: must be a branch, tag or commit/);
  });
});

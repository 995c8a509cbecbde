import { describe, expect, it } from 'vitest';
import { environmentRow } from '../../test/fixtures/environments.ts';
import { sampleConfig } from '../../test/fixtures/sample-config.ts';
import { application } from './application.ts';
import { appProject, appProjectKeepingOthers } from './appproject.ts';
import { environmentsOf } from './common.ts';
import { namespaceFor } from './namespace.ts';

describe('environments', () => {
  it('lists the configured namespaces and then the logging namespace', () => {
    expect(environmentsOf(sampleConfig())).toEqual([
      environmentRow('staging', false, false, 'seldon-gitops-staging'),
      environmentRow('production', true, false, 'seldon-gitops-production'),
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
      'seldon.restricted': 'true',
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
            "automated": {},
          },
        },
      }
    `);
  });
});

import { beforeEach, describe, expect, it } from 'vitest';
import { FakeKube } from '../../test/fakes/kube.ts';
import { sampleConfig } from '../../test/fixtures/sample-config.ts';
import {
  credentialsCluster as cluster,
  RUN_ENV as ENV,
  environmentsGit as fakeGit,
  HOST_KEY,
  RUN_KEY as KEY,
  secret,
} from '../../test/fixtures/step-run.ts';
import type { Config } from '../config/types.ts';
import { ApiError } from '../errors.ts';
import type { GitRunner } from '../git/git.ts';
import type { KubeObject, ObjectChange } from '../kube/types.ts';
import { createLogger } from '../log.ts';
import { fromB64 } from '../manifests/common.ts';
import { helmReleaseSecret } from '../manifests/helm-release.ts';
import { applysetId, parseInventory } from '../manifests/inventory.ts';
import { passwordMatches } from '../manifests/password.ts';
import { buildReport } from '../report/build.ts';
import { formatPlan } from '../report/changes.ts';
import { createContext, type Mode, type StepContext } from './context.ts';
import { runSteps, runToEnd, UNINSTALL_STEPS } from './runner.ts';

type ContextOptions = Parameters<typeof createContext>[0];

/** A context over `kube`; `extra` overrides the options (its `deps` are merged over the fakes). */
function context(
  kube: FakeKube,
  mode: Mode,
  config: Config = sampleConfig(),
  extra: Partial<ContextOptions> = {},
): StepContext {
  return createContext({
    mode,
    config,
    env: ENV,
    kube,
    log: createLogger({ level: 'silent' }),
    ...extra,
    deps: { git: fakeGit, pollIntervalMs: 10, ...extra.deps },
  });
}

async function runOnce(kube: FakeKube, mode: Mode, config?: Config) {
  const ctx = context(kube, mode, config);
  const writesBefore = kube.stats.writes;
  const result = await runSteps(ctx);
  return { ctx, result, writes: kube.stats.writes - writesBefore };
}

const secretData = (kube: FakeKube, ns: string, name: string) => {
  const obj = [...kube.objects.values()].find(
    (o) => o.kind === 'Secret' && o.metadata.namespace === ns && o.metadata.name === name,
  ) as (KubeObject & { data: Record<string, string> }) | undefined;
  return obj ? Object.fromEntries(Object.entries(obj.data).map(([k, v]) => [k, fromB64(v)!])) : undefined;
};
const count = (changes: readonly ObjectChange[], action: string) =>
  changes.filter((c) => c.action === action).length;
const failing = (checks: { id: string; ready: boolean; required: boolean }[]) =>
  checks.filter((c) => c.required && !c.ready).map((c) => c.id);

describe('runner on an empty cluster', () => {
  let kube: FakeKube;
  beforeEach(() => {
    kube = cluster();
  });

  it('apply converges: every required check ready', async () => {
    const { ctx, result } = await runOnce(kube, 'apply');
    expect(result.failed).toBeUndefined();
    expect(failing(result.checks)).toEqual([]);
    const ids = result.checks.map((c) => c.id);
    expect(ids).toEqual(
      expect.arrayContaining([
        'preflight.permissions',
        'preflight.lease',
        'argocd.install',
        'argocd.rollout.argocd-server',
        'argocd.rollout.argocd-application-controller',
        'argocd.admin-password',
        'argocd.server-config',
        'git.credentials.argocd',
        'git.credentials.seldon-deploy',
        'git.known-hosts',
        'git.repo.reachable',
        'git.repo.folder.staging',
        'git.repo.folder.production',
        'git.repo.folder.seldon-logs',
        'env.namespace.staging',
        'env.project',
        'env.application.staging',
        'env.application.staging.sync',
      ]),
    );
    // No Istio here: the VirtualService is skipped (auto), informatively.
    expect(result.checks.find((c) => c.id === 'argocd.virtualservice')).toMatchObject({
      ready: false,
      required: false,
    });
    expect(count(ctx.changes, 'created')).toBeGreaterThan(50);

    const generated = secretData(kube, 'seldon-system', 'argocd-admin-password');
    expect(generated?.password).toMatch(/^[\w-]{24}$/);
    const argocdSecret = secretData(kube, 'argocd', 'argocd-secret')!;
    expect(await passwordMatches(generated!.password!, argocdSecret['admin.password'])).toBe(true);
    expect(argocdSecret['admin.passwordMtime']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(argocdSecret['server.secretkey']).toBeUndefined();

    expect(secretData(kube, 'seldon-system', 'git-creds')).toEqual({
      id_rsa: KEY,
      known_hosts: `${HOST_KEY}\n`,
      passphrase: '',
      username: 'git',
      email: '',
    });
    const knownHosts = kube.objects.get('/ConfigMap/argocd/argocd-ssh-known-hosts-cm')!.data as Record<
      string,
      string
    >;
    expect(knownHosts.ssh_known_hosts).toContain('github.com ssh-ed25519');
    expect(knownHosts.ssh_known_hosts).toContain(HOST_KEY);
  });

  it('a second apply changes nothing (only the Lease is written), and status agrees', async () => {
    await runOnce(kube, 'apply');
    const hashBefore = secretData(kube, 'argocd', 'argocd-secret');
    const again = await runOnce(kube, 'apply');
    expect(again.result.failed).toBeUndefined();
    expect(count(again.ctx.changes, 'created') + count(again.ctx.changes, 'updated')).toBe(0);
    expect(again.writes).toBe(2); // Lease taken and released
    expect(secretData(kube, 'argocd', 'argocd-secret')).toEqual(hashBefore);

    const status = await runOnce(kube, 'status');
    expect(status.writes).toBe(0);
    expect(failing(status.result.checks)).toEqual([]);
    expect(status.result.checks.some((c) => c.id.startsWith('preflight.'))).toBe(false);
  });

  it("status checks Seldon Deploy's Helm release; apply does not look for it", async () => {
    const applied = await runOnce(kube, 'apply');
    expect(applied.result.checks.some((c) => c.id === 'seldon-deploy.gitops-secret')).toBe(false);
    const check = async () =>
      (await runOnce(kube, 'status')).result.checks.find((c) => c.id === 'seldon-deploy.gitops-secret');
    expect(await check()).toMatchObject({ ready: false, required: false });
    const sd = (version: number, secretName: string) =>
      helmReleaseSecret({
        name: 'seldon-deploy',
        namespace: 'seldon-system',
        version,
        info: { status: 'deployed' },
        chart: {
          metadata: { name: 'seldon-deploy' },
          values: { gitops: { argocd: { namespace: 'argocd' } } },
        },
        config: { gitops: { git: { secret: secretName }, argocd: { enabled: true } } },
      });
    kube.seed(sd(1, 'git-creds'), sd(2, 'elsewhere'));
    const wrong = await check();
    expect(wrong).toMatchObject({ ready: false, required: true });
    expect(wrong!.message).toContain('(revision 2): gitops.git.secret is "elsewhere", not "git-creds"');
    kube.seed(sd(3, 'git-creds'));
    expect(await check()).toMatchObject({ ready: true, required: true });
  });

  it("status: a refused LIST of Helm's Secrets is said, not required", async () => {
    await runOnce(kube, 'apply');
    const list = kube.list.bind(kube);
    kube.list = (async (
      apiVersion: string,
      kind: string,
      opts?: { namespace?: string; labelSelector?: string },
    ) => {
      if (kind === 'Secret' && opts?.labelSelector === 'owner=helm')
        throw new ApiError('secrets is forbidden', {
          status: 403,
          method: 'GET',
          path: '/api/v1/namespaces/seldon-system/secrets',
        });
      return list(apiVersion, kind, opts);
    }) as typeof kube.list;
    const { result } = await runOnce(kube, 'status');
    const c = result.checks.find((x) => x.id === 'seldon-deploy.gitops-secret');
    expect(c).toMatchObject({ ready: false, required: false });
    expect(c!.message).toMatch(/cannot list Secrets in seldon-system/);
    expect(failing(result.checks)).toEqual([]);
  });

  it('plan writes nothing and lists what apply would create', async () => {
    const { ctx, result, writes } = await runOnce(kube, 'plan');
    expect(result.failed).toBeUndefined();
    expect(writes).toBe(0);
    expect(result.checks).toEqual([]);
    expect(count(ctx.changes, 'created')).toBeGreaterThan(50);
    const project = ctx.changes.find((c) => c.ref.kind === 'AppProject');
    expect(project?.note).toMatch(/CRD/);
    expect(ctx.changes.find((c) => c.ref.name === 'argocd-admin-password')?.action).toBe('created');
  });

  it('a changed password replaces the hash and moves the mtime', async () => {
    kube.seed(secret('seldon-system', 'argocd-admin-password', { password: 'first-password' }));
    await runOnce(kube, 'apply');
    const first = secretData(kube, 'argocd', 'argocd-secret')!;
    kube.seed(secret('seldon-system', 'argocd-admin-password', { password: 'second-password' }));
    const { ctx } = await runOnce(kube, 'apply');
    const second = secretData(kube, 'argocd', 'argocd-secret')!;
    expect(await passwordMatches('second-password', second['admin.password'])).toBe(true);
    expect(ctx.changes.find((c) => c.ref.name === 'argocd-secret')?.action).toBe('updated');
    expect(second['admin.password']).not.toBe(first['admin.password']);
  });

  it('keeps known hosts someone else added', async () => {
    await runOnce(kube, 'apply');
    const key = '/ConfigMap/argocd/argocd-ssh-known-hosts-cm';
    const cm = kube.objects.get(key)! as KubeObject & { data: Record<string, string> };
    cm.data.ssh_known_hosts += 'extra.example.com ssh-rsa AAAAextra\n';
    await runOnce(kube, 'apply');
    const after = (kube.objects.get(key)!.data as Record<string, string>).ssh_known_hosts;
    expect(after).toContain('extra.example.com ssh-rsa AAAAextra');
    expect(after).toContain(HOST_KEY);
  });
});

describe('runner failures', () => {
  it('a missing source Secret stops the run in preflight, before any write', async () => {
    const kube = new FakeKube().seed({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'seldon-system' },
    });
    const { result, writes } = await runOnce(kube, 'apply');
    expect(writes).toBe(0);
    expect(result.failed?.step).toBe('preflight');
    expect(result.failed?.message).toMatch(
      /Secret seldon-system\/gitops-source-creds \(git\.credentials\.secretRef\) does not exist/,
    );
    expect(result.checks[0]).toMatchObject({ id: 'step.preflight', ready: false, required: true });
  });

  it("Seldon Deploy's namespace missing stops the run in preflight, before Argo CD is installed", async () => {
    const config = sampleConfig((c) => (c.seldonDeploy.namespace = 'seldon-absent'));
    const { result, writes } = await runOnce(cluster(), 'apply', config);
    expect(writes).toBe(0);
    expect(result.failed?.step).toBe('preflight');
    expect(result.failed?.message).toMatch(
      /namespace seldon-absent \(seldonDeploy\.namespace\) does not exist/,
    );
  });

  it('missing permissions are all listed, and nothing is written', async () => {
    const kube = cluster();
    kube.denied.add('create argoproj.io/applications argocd');
    kube.denied.add('patch /namespaces ');
    const { result, writes } = await runOnce(kube, 'apply');
    expect(writes).toBe(0);
    expect(result.failed?.message).toContain('create argoproj.io/applications in argocd');
    expect(result.failed?.message).toContain('patch namespaces (cluster-wide)');
    const check = result.checks.find((c) => c.id === 'preflight.permissions');
    expect(check).toMatchObject({ ready: false, required: true });
  });

  it('skip: Argo CD must already be there', async () => {
    const config = sampleConfig((c) => (c.argocd.install = { source: 'skip' }));
    const { result } = await runOnce(cluster(), 'apply', config);
    expect(result.failed?.step).toBe('configure-argocd');
    expect(result.failed?.message).toMatch(/Argo CD is not installed in namespace argocd/);
  });

  it('an unreachable repository stops before the environments, with git translated', async () => {
    const kube = cluster();
    const ctx = context(kube, 'apply', sampleConfig(), {
      deps: {
        git: async () => ({
          exitCode: 128,
          stdout: '',
          stderr:
            'git@git.example.com: Permission denied (publickey).\nfatal: Could not read from remote repository.',
          timedOut: false,
        }),
      },
    });
    const result = await runSteps(ctx);
    expect(result.failed?.step).toBe('check-repository');
    expect(result.failed?.message).toMatch(/permission denied: git\.example\.com refused the credentials/);
    expect(ctx.changes.some((c) => c.ref.kind === 'Application')).toBe(false);
    expect(result.checks.find((c) => c.id === 'git.repo.reachable')).toMatchObject({ ready: false });
  });

  it('a rollout that does not finish: the timeout names the workload and its last state', async () => {
    const kube = cluster();
    kube.controllers = false;
    const config = sampleConfig((c) => (c.argocd.rolloutTimeout = 50));
    const { result } = await runOnce(kube, 'apply', config);
    expect(result.failed?.step).toBe('wait-rollout');
    expect(result.failed?.message).toMatch(/timed out after \d+ms waiting for .* to roll out: /);
  });

  it('an image that cannot be pulled: the timeout and the report name the image and the fix', async () => {
    const kube = cluster();
    kube.controllers = false;
    const image = 'registry.example.com/mirror/argoproj/argocd:v3.5.1';
    kube.seed({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'argocd-application-controller-0', namespace: 'argocd' },
      status: {
        containerStatuses: [
          {
            name: 'argocd-application-controller',
            image,
            state: { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}"` } },
          },
        ],
      },
    } as KubeObject);
    const config = sampleConfig((c) => {
      c.argocd.rolloutTimeout = 50;
      c.argocd.images = { registry: 'registry.example.com/mirror', map: {}, pullSecrets: ['registry-creds'] };
    });
    const { result } = await runOnce(kube, 'apply', config);
    expect(result.failed?.step).toBe('wait-rollout');
    const sentence = `image ${image} cannot be pulled (ImagePullBackOff in pod argocd-application-controller-0: Back-off pulling image "${image}"): push it to that name in the site's registry`;
    expect(result.failed?.message).toContain(sentence);
    expect(result.failed?.message).toContain('argocd/registry-creds (argocd.images.pullSecrets)');
    const check = result.checks.find((c) => c.id === 'argocd.rollout.argocd-application-controller');
    expect(check).toMatchObject({ ready: false });
    expect(check?.message).toContain(sentence);
    // Only the workload whose pods fail names it.
    expect(result.checks.find((c) => c.id === 'argocd.rollout.argocd-server')?.message).not.toContain(
      'cannot be pulled',
    );
  });

  it('an interrupted run says it was stopped, and releases the Lease', async () => {
    const kube = cluster();
    kube.controllers = false;
    const controller = new AbortController();
    const ctx = context(kube, 'apply', sampleConfig(), { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('interrupted by SIGTERM')), 300);
    const result = await runSteps(ctx);
    expect(result.failed?.message).toBe('wait-rollout failed: stopped: interrupted by SIGTERM');
    const lease = kube.objects.get('coordination.k8s.io/Lease/seldon-system/sd-gitops-bootstrap') as
      | (KubeObject & { spec: { holderIdentity?: string } })
      | undefined;
    expect(lease?.spec.holderIdentity).toBeUndefined();
  });

  it('skip after an install: only the settings are applied, and nothing the install applied is lost', async () => {
    const kube = cluster();
    await runOnce(kube, 'apply');
    const skip = sampleConfig((c) => {
      c.argocd.install = { source: 'skip' };
      c.argocd.server.rootPath = '/cd';
    });
    const { result, ctx } = await runOnce(kube, 'apply', skip);
    expect(result.failed).toBeUndefined();
    expect(failing(result.checks)).toEqual([]);
    const server = kube.objects.get('apps/Deployment/argocd/argocd-server') as KubeObject & {
      spec: { selector?: unknown; template: { spec: { containers: unknown[] } } };
    };
    expect(server.spec.selector).toBeDefined();
    expect(server.spec.template.spec.containers).toHaveLength(1);
    expect(
      ctx.changes
        .filter((c) => c.action === 'updated')
        .map((c) => c.ref.name)
        .sort(),
    ).toEqual(['argocd-cmd-params-cm', 'argocd-server']);
    const again = await runOnce(kube, 'apply', skip);
    expect(again.ctx.changes.every((c) => c.action === 'unchanged')).toBe(true);
  });
});

describe('inventory (ApplySet) and removals', () => {
  const INVENTORY = '/ConfigMap/seldon-system/sd-gitops-bootstrap-inventory';
  const inventoryOf = (kube: FakeKube) =>
    parseInventory(kube.objects.get(INVENTORY) ?? null) as ReturnType<typeof parseInventory>;
  const labels = (kube: FakeKube, key: string) => kube.objects.get(key)?.metadata.labels ?? {};
  const ID = applysetId('seldon-system');

  it('records what the run created, labelled part-of; an object that existed before is not a member', async () => {
    const kube = cluster();
    kube.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'staging', labels: { team: 'a' } } });
    await runOnce(kube, 'apply');
    const parent = kube.objects.get(INVENTORY)!;
    expect(parent.metadata.labels?.['applyset.kubernetes.io/id']).toBe(ID);
    expect(parent.metadata.annotations?.['applyset.kubernetes.io/contains-group-kinds']).toContain(
      'Application.argoproj.io',
    );
    const members = inventoryOf(kube).members;
    const has = (kind: string, name: string) => members.some((m) => m.kind === kind && m.name === name);
    expect(has('Deployment', 'argocd-server')).toBe(true);
    expect(has('Application', 'seldon-gitops-staging')).toBe(true);
    expect(has('Secret', 'git-creds')).toBe(true);
    // Namespaces of environments are never members (given back, never deleted); nor is Seldon Deploy's.
    expect(has('Namespace', 'staging')).toBe(false);
    expect(has('Namespace', 'seldon-system')).toBe(false);
    expect(labels(kube, 'apps/Deployment/argocd/argocd-server')['applyset.kubernetes.io/part-of']).toBe(ID);
    expect(labels(kube, '/Namespace//staging')['applyset.kubernetes.io/part-of']).toBeUndefined();
    // Nor labelled when the run created it: it is given back, never deleted.
    expect(labels(kube, '/Namespace//production')['applyset.kubernetes.io/part-of']).toBeUndefined();
    expect(
      inventoryOf(kube)
        .environments.map((e) => e.namespace)
        .sort(),
    ).toEqual(['production', 'seldon-logs', 'staging']);
    expect(inventoryOf(kube).argocd).toEqual({ namespace: 'argocd', version: 'v3.5.1', installed: true });
  });

  it('an environment taken out: Application deleted, destination gone, namespace given back; plan shows it first', async () => {
    const kube = cluster();
    await runOnce(kube, 'apply');
    kube.seed({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'workload', namespace: 'production' },
    });
    const without = sampleConfig(
      (c) => (c.environments.namespaces = [{ name: 'staging', restricted: false }]),
    );

    const plan = await runOnce(kube, 'plan', without);
    expect(plan.writes).toBe(0);
    const text = formatPlan(plan.ctx.changes);
    expect(text.split('\n')[0]).toBe('Removals (no longer in the configuration): 2');
    expect(text.split('\n')[1]).toMatch(
      /^- delete +Application\.argoproj\.io argocd\/seldon-gitops-production/,
    );
    expect(text.split('\n')[2]).toMatch(/^~ update +Namespace production .*no longer an environment/);

    const { ctx, result } = await runOnce(kube, 'apply', without);
    expect(result.failed).toBeUndefined();
    expect(kube.objects.has('argoproj.io/Application/argocd/seldon-gitops-production')).toBe(false);
    const project = kube.objects.get('argoproj.io/AppProject/argocd/seldon') as KubeObject & {
      spec: { destinations: { namespace: string }[] };
    };
    expect(project.spec.destinations.map((d) => d.namespace)).toEqual(['staging', 'seldon-logs']);
    const ns = kube.objects.get('/Namespace//production')!;
    expect(ns.metadata.labels?.['seldon.gitops']).toBeUndefined();
    expect(ns.metadata.annotations?.['git-repo']).toBeUndefined();
    expect(kube.objects.has('/ConfigMap/production/workload')).toBe(true);
    expect(inventoryOf(kube).members.some((m) => m.name === 'seldon-gitops-production')).toBe(false);
    const report = buildReport({
      checks: result.checks,
      changes: ctx.changes,
      argocd: { namespace: 'argocd', version: 'v3.5.1', url: '/argocd/' },
      startedAt: new Date(0),
      finishedAt: new Date(1),
    });
    expect(report.changes.deleted).toBe(1);
    expect(report.removed).toEqual([
      'Application argocd/seldon-gitops-production: deleted (no longer an environment; what it deployed stays)',
      'Namespace production: updated (no longer an environment: GitOps labels and git-repo annotation removed)',
    ]);
    const again = await runOnce(kube, 'apply', without);
    expect(again.writes).toBe(2); // the Lease only
  });

  it('deleteRemovedResources puts the resources-finalizer on the Application before deleting it', async () => {
    const kube = cluster();
    await runOnce(kube, 'apply');
    const applies: KubeObject[] = [];
    const apply = kube.apply.bind(kube);
    kube.apply = async (obj, opts) => {
      if (opts?.fieldManager === 'sd-gitops-bootstrap-removal') applies.push(obj);
      return apply(obj, opts);
    };
    const config = sampleConfig((c) => {
      c.environments.namespaces = [{ name: 'staging', restricted: false }];
      c.environments.deleteRemovedResources = true;
    });
    await runOnce(kube, 'apply', config);
    expect(applies.map((o) => [o.metadata.name, o.metadata.finalizers])).toEqual([
      ['seldon-gitops-production', ['resources-finalizer.argocd.argoproj.io']],
    ]);
  });

  it('never deletes an object that lost its part-of label (a user re-created it)', async () => {
    const kube = cluster();
    await runOnce(kube, 'apply');
    const app = kube.objects.get('argoproj.io/Application/argocd/seldon-gitops-production')!;
    delete app.metadata.labels!['applyset.kubernetes.io/part-of'];
    const without = sampleConfig(
      (c) => (c.environments.namespaces = [{ name: 'staging', restricted: false }]),
    );
    await runOnce(kube, 'apply', without);
    expect(kube.objects.has('argoproj.io/Application/argocd/seldon-gitops-production')).toBe(true);
    expect(inventoryOf(kube).members.some((m) => m.name === 'seldon-gitops-production')).toBe(false);
  });

  it('refuses a downgrade across a major version unless argocd.allowDowngrade', async () => {
    const kube = cluster();
    await runOnce(kube, 'apply');
    const down = sampleConfig((c) => (c.argocd.version = 'v2.14.21'));
    const { result, writes } = await runOnce(kube, 'apply', down);
    expect(result.failed?.step).toBe('install-argocd');
    expect(result.failed?.message).toMatch(
      /argocd\.version v2\.14\.21 would downgrade Argo CD v3\.5\.1 in argocd across a major version.*set argocd\.allowDowngrade: true/,
    );
    expect(writes).toBe(2); // the Lease only
  });
});

describe('uninstall', () => {
  it('deletes every inventory member, gives the namespaces back, leaves what existed before', async () => {
    const kube = cluster();
    kube.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'staging', labels: { team: 'a' } } });
    kube.seed({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'mine', namespace: 'staging' } });
    const before = new Set(kube.objects.keys());
    await runOnce(kube, 'apply');
    const ctx = context(kube, 'uninstall');
    const result = await runSteps(ctx, UNINSTALL_STEPS);
    expect(result.failed).toBeUndefined();
    expect(failing(result.checks)).toEqual([]);
    const left = [...kube.objects.keys()].filter((k) => !before.has(k));
    // Environment namespaces are given back, never deleted; the Lease is deleted after the steps (runToEnd).
    expect(left.sort()).toEqual(
      [
        '/Namespace//production',
        '/Namespace//seldon-logs',
        'coordination.k8s.io/Lease/seldon-system/sd-gitops-bootstrap',
      ].sort(),
    );
    expect(kube.objects.get('/Namespace//staging')?.metadata.labels).toEqual({ team: 'a' });
    expect(kube.objects.get('/Namespace//production')?.metadata.labels ?? {}).toEqual({});
    expect(kube.objects.has('/ConfigMap/staging/mine')).toBe(true);
    expect(kube.objects.has('/ConfigMap/seldon-system/sd-gitops-bootstrap-inventory')).toBe(false);
    // Applications first, CRDs and the Argo CD namespace last.
    const order = ctx.changeLog.filter((c) => c.action === 'deleted').map((c) => c.ref.kind);
    expect(order[0]).toBe('Application');
    expect(order.at(-1)).toBe('Namespace');
    expect(order.indexOf('CustomResourceDefinition')).toBeGreaterThan(order.indexOf('Deployment'));
  });

  it('never deletes a namespace that is an environment, even when this program created it', async () => {
    // Argo CD's namespace listed as an environment (refused by the config rules now; an inventory written before
    // them, or a config edited past them, still says so): the install created it, so it is an inventory member.
    const kube = cluster();
    const shared = sampleConfig((c) => c.environments.namespaces.push({ name: 'argocd', restricted: true }));
    await runOnce(kube, 'apply', shared);
    expect(
      parseInventory(kube.objects.get('/ConfigMap/seldon-system/sd-gitops-bootstrap-inventory') ?? null)
        .members,
    ).toContainEqual(expect.objectContaining({ kind: 'Namespace', name: 'argocd' }));
    kube.seed({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'workload', namespace: 'argocd' } });
    const ctx = context(kube, 'uninstall', shared);
    const result = await runSteps(ctx, UNINSTALL_STEPS);
    expect(result.failed).toBeUndefined();
    expect(failing(result.checks)).toEqual([]);
    expect(ctx.changeLog.filter((c) => c.action === 'deleted' && c.ref.kind === 'Namespace')).toEqual([]);
    expect(kube.objects.has('/Namespace//argocd')).toBe(true);
    expect(kube.objects.has('/ConfigMap/argocd/workload')).toBe(true);
    // Given back like every environment: without this program's labels (the inventory's part-of label stays
    // where an apply put it; it names an inventory that no longer exists).
    const labels = { ...kube.objects.get('/Namespace//argocd')?.metadata.labels };
    delete labels['applyset.kubernetes.io/part-of'];
    expect(labels).toEqual({});
  });

  it('with install.source skip, Argo CD stays', async () => {
    const kube = cluster();
    await runOnce(kube, 'apply');
    const skip = sampleConfig((c) => (c.argocd.install = { source: 'skip' }));
    await runOnce(kube, 'apply', skip);
    const result = await runSteps(context(kube, 'uninstall', skip), UNINSTALL_STEPS);
    expect(result.failed).toBeUndefined();
    expect(kube.objects.has('apps/Deployment/argocd/argocd-server')).toBe(true);
    expect(kube.objects.has('argoproj.io/Application/argocd/seldon-gitops-staging')).toBe(false);
  });
});

describe('a run to its end', () => {
  it('uninstall: the Lease goes last, after a clean removal', async () => {
    const kube = cluster();
    await runOnce(kube, 'apply');
    const end = await runToEnd(context(kube, 'uninstall'), UNINSTALL_STEPS);
    expect(end.failed).toBeUndefined();
    expect(end.wrote).toBe(true);
    expect(end.noReport).toBeUndefined();
    expect(kube.objects.has('coordination.k8s.io/Lease/seldon-system/sd-gitops-bootstrap')).toBe(false);
  });

  it('apply stopped by missing permissions: wrote nothing, says why no report, no write request', async () => {
    const kube = cluster();
    kube.denied.add('create argoproj.io/applications argocd');
    const before = kube.stats.writes;
    const end = await runToEnd(context(kube, 'apply'));
    expect(end.failed?.step).toBe('preflight');
    expect(end.wrote).toBe(false);
    expect(end.noReport).toBe('preflight found missing permissions, so this run writes nothing');
    expect(kube.stats.writes).toBe(before);
  });

  it('apply that held the Lease: wrote, and its report may be written', async () => {
    const kube = cluster();
    const end = await runToEnd(context(kube, 'apply'));
    expect(end.failed).toBeUndefined();
    expect(end.wrote).toBe(true);
    expect(end.lost).toBeUndefined();
    expect(end.noReport).toBeUndefined();
  });
});

describe('batch jobs and write access (issue #22)', () => {
  const batchConfig = (staging: boolean, production: boolean) =>
    sampleConfig((c) => {
      c.environments.batch.enabled = false;
      c.environments.batch.storageSecret = { secretRef: { name: 'seldon-bucket' } };
      c.environments.namespaces = c.environments.namespaces.map((n) =>
        n.name === 'staging'
          ? { ...n, batch: staging }
          : n.name === 'production'
            ? { ...n, batch: production }
            : n,
      );
    });
  const batchRefs = (kube: FakeKube) =>
    [...kube.objects.values()]
      .filter((o) => ['Role', 'ServiceAccount', 'RoleBinding', 'Secret'].includes(o.kind))
      .filter((o) => ['staging', 'production'].includes(o.metadata.namespace ?? ''))
      .map((o) => `${o.metadata.namespace}/${o.kind}/${o.metadata.name}`)
      .sort();
  const withBucket = () =>
    cluster().seed(
      secret('seldon-system', 'seldon-bucket', { RCLONE_CONFIG_S3_SECRET_ACCESS_KEY: 'bucket-secret-1' }),
    );

  it('apply creates the workflow objects and the bucket Secret per batch environment; a re-run writes none; off prunes them', async () => {
    const kube = withBucket();
    const first = await runOnce(kube, 'apply', batchConfig(true, true));
    expect(first.result.failed).toBeUndefined();
    expect(failing(first.result.checks)).toEqual([]);
    expect(first.result.checks.find((c) => c.id === 'env.batch.staging')).toMatchObject({ ready: true });
    expect(batchRefs(kube)).toEqual([
      'production/Role/workflow',
      'production/RoleBinding/workflow',
      'production/Secret/seldon-bucket',
      'production/ServiceAccount/workflow',
      'staging/Role/workflow',
      'staging/RoleBinding/workflow',
      'staging/Secret/seldon-bucket',
      'staging/ServiceAccount/workflow',
    ]);
    expect(secretData(kube, 'staging', 'seldon-bucket')).toEqual({
      RCLONE_CONFIG_S3_SECRET_ACCESS_KEY: 'bucket-secret-1',
    });
    // Checks and changes (what the report and plan are made of) never carry the copy's values.
    expect(JSON.stringify([first.result.checks, first.ctx.changes])).not.toContain('bucket-secret-1');

    const again = await runOnce(kube, 'apply', batchConfig(true, true));
    const batchChanges = again.ctx.changes.filter(
      (c) => ['staging', 'production'].includes(c.ref.namespace ?? '') && c.ref.kind !== 'Namespace',
    );
    expect(batchChanges.filter((c) => c.action !== 'unchanged')).toEqual([]);

    const off = await runOnce(kube, 'apply', batchConfig(true, false));
    expect(off.result.failed).toBeUndefined();
    expect(count(off.ctx.changes, 'deleted')).toBe(4);
    expect(batchRefs(kube).filter((r) => r.startsWith('production/'))).toEqual([]);
    expect(off.result.checks.find((c) => c.id === 'env.batch.production')).toBeUndefined();
  });

  it('plan lists the batch objects with their note and writes nothing', async () => {
    const kube = withBucket();
    const { ctx, result, writes } = await runOnce(kube, 'plan', batchConfig(true, false));
    expect(result.failed).toBeUndefined();
    expect(writes).toBe(0);
    const planned = ctx.changes
      .filter((c) => c.ref.namespace === 'staging' && c.ref.kind !== 'Namespace')
      .map((c) => `${c.action} ${c.ref.kind}/${c.ref.name}`)
      .sort();
    expect(planned).toEqual([
      'created Role/workflow',
      'created RoleBinding/workflow',
      'created Secret/seldon-bucket',
      'created ServiceAccount/workflow',
    ]);
    expect(ctx.changes.find((c) => c.ref.kind === 'Role' && c.ref.namespace === 'staging')?.note).toBe(
      'batch: Role/ServiceAccount/RoleBinding workflow (4 rules), Secret seldon-bucket from seldon-system',
    );
  });

  it('a missing source Secret stops the run in preflight, naming the key, before any write', async () => {
    const kube = cluster();
    const { result, writes } = await runOnce(kube, 'apply', batchConfig(true, false));
    expect(result.failed?.step).toBe('preflight');
    expect(result.failed?.message).toMatch(/environments\.batch\.storageSecret\.secretRef/);
    // Only the Lease (the run's own bookkeeping) was written.
    expect(
      [...kube.objects.values()].filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name),
    ).toEqual(['seldon-system']);
    expect(writes).toBeLessThanOrEqual(2);
  });

  it('a server that refuses the push handshake: git.repo.writable not ready, the rest converges', async () => {
    const readOnly: GitRunner = async (command, args, opts) =>
      args.includes('push')
        ? {
            exitCode: 128,
            stdout: '',
            stderr:
              'ERROR: The key you are authenticating with has been marked as read only.\nfatal: Could not read from remote repository.\n',
            timedOut: false,
          }
        : fakeGit(command, args, opts);
    const ctx = context(cluster(), 'apply', sampleConfig(), { deps: { git: readOnly } });
    const result = await runSteps(ctx);
    expect(failing(result.checks)).toEqual(['git.repo.writable']);
    expect(result.checks.find((c) => c.id === 'git.repo.writable')?.message).toMatch(
      /^read-only: .*marked as read only.*git\.verifyWrite: false$/,
    );
  });
});

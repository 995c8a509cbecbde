/**
 * The chart end to end on kind (a node started through testcontainers: tools/kind/): `helm install` with the
 * project image built by Docker from the real Dockerfile and loaded into the node under the chart's own
 * image name (`pullPolicy: Never`: nothing is pulled), the hook Job really running in a pod under Pod
 * Security "restricted" — no simulated completion.
 *
 * Three groups:
 * - `install.source: skip` against an Argo CD stand-in (its CRDs, ConfigMaps and Secret, and its
 *   Deployments/StatefulSet running the pause image, so they roll out for real): install, report,
 *   restricted PSA, idempotent upgrade, converging upgrade, uninstall.
 * - a config error only the program can see: the failed Job stays, its RBAC hooks do not.
 * - the default install, as users run it: Argo CD v3.5.1 from the bundled manifest with its images built
 *   here (tools/images/argocd.ts; dex cannot be built from the module proxy, so argocd-dex-server is
 *   pre-created at zero replicas, as a site without SSO may), a real Git server over SSH in a container of
 *   its own on the cluster's network (tools/hosts/git-host.ts), reached by name by the Job and by Argo CD:
 *   report ready, both environments Synced and Healthy, an upgrade with the same values moves nothing, an
 *   upgrade adding an environment converges, login under /argocd, the admin password rotated by changing
 *   its Secret and upgrading.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GitSshServer, startGitSshServer } from '../../tools/git/git-ssh-server.ts';
import { type GitHost, startGitHost } from '../../tools/hosts/git-host.ts';
import { buildArgocdImages } from '../../tools/images/argocd.ts';
import { ciScenarios, helm, helmOk, valuesFile } from '../e2e/support/helm.ts';
import { kubectl, kubectlJson, target, uniqueName } from '../e2e/support/target.ts';
import { unusedSourceSecret } from '../support/ssh-keys.ts';
import { withArgocdServer } from './support/argocd.ts';
import {
  applicationSpecs,
  argocdStandIn,
  createNamespace,
  imageValues as imageValuesOf,
  install,
  JOB,
  notReady,
  prepareRelease,
  RELEASE,
  RESTRICTED,
  removeDefaultInstall,
  report,
  withoutDex,
} from './support/chart.ts';
import { apply, eventually, versions } from './support/cluster.ts';
import { kind, type LoadedProjectImage, nodeImageIds, projectImage, publish } from './support/kind.ts';

const scenario = (name: string) => ciScenarios().find((s) => s.name === name)!.file;
const onKind = !!target().kind;

function say(msg: string): void {
  process.stderr.write(`[chart] ${msg}\n`);
}

let image: LoadedProjectImage;
const imageValues = () => imageValuesOf(image);

beforeAll(async () => {
  if (!onKind) return;
  const t0 = Date.now();
  image = await projectImage();
  say(
    `project image ${image.local} (${(image.sizeBytes / 1e6).toFixed(0)} MB) loaded as ${image.upstream} ` +
      `in ${((Date.now() - t0) / 1000).toFixed(0)}s`,
  );
}, 60 * 60_000);

// ------------------------------------------------------------------------------------------- helpers

/** A Git credentials source Secret with a fresh SSH key (the repository is never contacted: verify false). */
async function gitSourceSecret(namespace: string): Promise<void> {
  await apply(unusedSourceSecret(namespace, 'sd-chart-rn-').secret);
}

interface Job {
  metadata: { uid: string; name: string };
  status: {
    succeeded?: number;
    failed?: number;
    conditions?: { type: string; status: string; reason?: string }[];
  };
}
interface Pod {
  metadata: { name: string };
  spec: { containers: { image: string }[] };
  status: {
    phase: string;
    containerStatuses?: {
      imageID: string;
      state: { terminated?: { exitCode: number; message?: string; reason?: string } };
    }[];
  };
}

async function jobPods(namespace: string): Promise<Pod[]> {
  return (await kubectlJson<{ items: Pod[] }>(['get', 'pods', '-n', namespace, '-l', `job-name=${JOB}`]))
    .items;
}

// ------------------------------------------------------------------------- skip mode, no Argo CD images

describe.skipIf(!onKind)('install.source skip: the hook Job runs the real image', () => {
  const id = uniqueName('x').slice(2);
  const ns = `sdb-${id}`;
  const argoNs = `argocd-standin-${id}`;
  const seldonNs = `seldon-${id}`;
  const envs = [`stg-${id}`, `prod-${id}`];
  const logsNs = `logs-${id}`;
  const config = (namespaces: string[]) => ({
    config: {
      argocd: { namespace: argoNs, rolloutTimeout: '3m' },
      git: { verify: false },
      environments: { namespaces, logging: { namespace: logsNs }, waitForSync: false },
      seldonDeploy: { namespace: seldonNs },
    },
  });
  let values: string;
  let first: Awaited<ReturnType<typeof install>>;
  let firstJobUid: string;

  beforeAll(async () => {
    await createNamespace(ns, RESTRICTED);
    await createNamespace(seldonNs);
    await argocdStandIn(argoNs);
    await gitSourceSecret(ns);
    values = valuesFile('kind-skip', { ...imageValues(), ...config(envs.slice(0, 1)) });
    first = await install(ns, [scenario('skip'), values]);
    say(`helm install --wait (skip mode, hook Job included): ${first.seconds.toFixed(1)}s`);
  }, 20 * 60_000);

  afterAll(async () => {
    await helm(['uninstall', RELEASE, '-n', ns]);
    for (const n of [ns, argoNs, seldonNs, logsNs, ...envs])
      await kubectl(['delete', 'namespace', n, '--wait=false']).catch(() => {});
  });

  it('helm install --wait succeeds; the report says ready; the Job ran the loaded image', async () => {
    expect(first.code, `${first.stderr}\n${first.logs}`).toBe(0);
    const r = await report(ns);
    expect(notReady(r)).toEqual([]);
    expect(r.ready).toBe(true);
    const job = await kubectlJson<Job>(['get', 'job', JOB, '-n', ns]);
    expect(job.status.succeeded).toBe(1);
    firstJobUid = job.metadata.uid;
    const [pod] = await jobPods(ns);
    const status = pod!.status.containerStatuses![0]!;
    // The very image built from the Dockerfile and loaded into the node (pullPolicy Never).
    const ids = nodeImageIds(image.upstream);
    expect(ids).toContain(image.id);
    expect(ids.some((i) => status.imageID.includes(i.replace(/^.*@/, '')))).toBe(true);
    // Its termination message is the report summary the program wrote to /dev/termination-log.
    expect(status.state.terminated?.exitCode).toBe(0);
    expect(status.state.terminated?.message).toMatch(/^ready: \d+\/\d+ checks$/);
  });

  it('the restricted Pod Security namespace admitted the Job (and the pod runs as 10001, read-only)', async () => {
    const nsObj = await kubectlJson<{ metadata: { labels: Record<string, string> } }>([
      'get',
      'namespace',
      ns,
    ]);
    expect(nsObj.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
    interface PodSpec {
      spec: {
        securityContext: { runAsUser?: number };
        containers: { securityContext: { readOnlyRootFilesystem?: boolean } }[];
      };
    }
    const pods = await kubectlJson<{ items: PodSpec[] }>(['get', 'pods', '-n', ns, '-l', `job-name=${JOB}`]);
    const pod = pods.items[0]!;
    expect(pod.spec.securityContext.runAsUser).toBe(10001);
    expect(pod.spec.containers[0]!.securityContext.readOnlyRootFilesystem).toBe(true);
  });

  it('helm upgrade with the same values: the Job runs again and no object changes', async () => {
    const envNames = (n: string) => [...envs, logsNs, argoNs, seldonNs, ns].includes(n);
    const snapshot = async () =>
      new Map([
        ...(await versions('serviceaccounts,configmaps,roles,rolebindings,secrets', ns)),
        ...(await versions('configmaps,secrets,deployments,statefulsets,roles,rolebindings', argoNs)),
        ...(await versions('applications.argoproj.io,appprojects.argoproj.io', argoNs)),
        ...(await versions('secrets', seldonNs)),
        ...(await versions('namespaces', undefined, envNames)),
        ...(await versions('clusterroles,clusterrolebindings', undefined, (n) => n.startsWith(`${ns}-`))),
      ]);
    const before = await snapshot();
    const again = await install(ns, [scenario('skip'), values]);
    expect(again.code, `${again.stderr}\n${again.logs}`).toBe(0);
    const job = await kubectlJson<Job>(['get', 'job', JOB, '-n', ns]);
    expect(job.metadata.uid).not.toBe(firstJobUid);
    expect(job.status.succeeded).toBe(1);
    const after = await snapshot();
    // The report (rewritten by each run) is the run's output; Helm records each release in a Secret.
    const changed = [...after].filter(
      ([k, v]) =>
        before.get(k) !== v &&
        !k.endsWith('/sd-gitops-bootstrap-report') &&
        !k.includes('/Secret/sh.helm.release.v1.'),
    );
    expect(changed).toEqual([]);
    expect([...before.keys()].filter((k) => !after.has(k))).toEqual([]);
    const r = await report(ns);
    expect(r.ready).toBe(true);
    expect(r.changes.created + r.changes.updated).toBe(0);
  });

  it('helm upgrade adding an environment converges to it', async () => {
    const more = valuesFile('kind-skip-more', { ...imageValues(), ...config(envs) });
    const up = await install(ns, [scenario('skip'), more]);
    expect(up.code, `${up.stderr}\n${up.logs}`).toBe(0);
    const r = await report(ns);
    expect(notReady(r)).toEqual([]);
    expect(r.checks.map((c) => c.id)).toEqual(expect.arrayContaining([`env.application.${envs[1]}`]));
    const newNs = await kubectlJson<{
      metadata: { labels: Record<string, string>; annotations: Record<string, string> };
    }>(['get', 'namespace', envs[1]!]);
    expect(newNs.metadata.labels['seldon.gitops']).toBe('enabled');
    await kubectl(['get', 'applications.argoproj.io', `seldon-gitops-${envs[1]}`, '-n', argoNs]);
    const project = await kubectlJson<{ spec: { destinations: { namespace: string }[] } }>([
      'get',
      'appprojects.argoproj.io',
      'seldon',
      '-n',
      argoNs,
    ]);
    expect(project.spec.destinations.map((d) => d.namespace)).toEqual(expect.arrayContaining(envs));
  });

  it('helm uninstall removes the release objects and leaves Argo CD and the environments', async () => {
    await helmOk(['uninstall', RELEASE, '-n', ns, '--wait']);
    const left = await kubectl([
      'get',
      'serviceaccounts,configmaps,roles,rolebindings',
      '-n',
      ns,
      '-o',
      'name',
    ]);
    expect(left).not.toMatch(/sd-gitops-bootstrap(-config)?$/m);
    expect(await kubectl(['get', 'roles,rolebindings', '-n', argoNs, '-o', 'name'])).not.toMatch(
      /sd-gitops-bootstrap/,
    );
    expect(await kubectl(['get', 'clusterroles,clusterrolebindings', '-o', 'name'])).not.toContain(
      `${ns}-${JOB}`,
    );
    // What the bootstrap made stays: namespaces, AppProject, Applications, Seldon's git-creds, the report.
    for (const n of envs) await kubectl(['get', 'namespace', n]);
    await kubectl(['get', 'appprojects.argoproj.io', 'seldon', '-n', argoNs]);
    for (const e of envs)
      await kubectl(['get', 'applications.argoproj.io', `seldon-gitops-${e}`, '-n', argoNs]);
    await kubectl(['get', 'deployment', 'argocd-server', '-n', argoNs]);
    await kubectl(['get', 'secret', 'git-creds', '-n', seldonNs]);
    await kubectl(['get', 'configmap', 'sd-gitops-bootstrap-report', '-n', ns]);
  });
});

describe.skipIf(!onKind)('a config error only the program can see', () => {
  const id = uniqueName('x').slice(2);
  const ns = `sdb-bad-${id}`;
  let result: Awaited<ReturnType<typeof install>>;

  beforeAll(async () => {
    await createNamespace(ns, RESTRICTED);
    // The default scenario's Seldon namespace: its Role is a hook created before the Job, and a namespace
    // must exist before `helm install` (README). Shared with other files, so created here, never deleted.
    await createNamespace('seldon-system');
    // v3.6.0 matches the schema's version pattern; only the program knows it is refused (argo-cd#30763).
    const bad = valuesFile('kind-bad', { ...imageValues(), config: { argocd: { version: 'v3.6.0' } } });
    result = await install(ns, [scenario('default'), bad], ['--timeout', '5m']);
  }, 10 * 60_000);

  afterAll(async () => {
    await helm(['uninstall', RELEASE, '-n', ns]);
    // Belt and braces: Helm deletes a failed run's RBAC hooks itself (see the test above).
    await kubectl(['delete', 'clusterrole,clusterrolebinding', `${ns}-${JOB}`, '--ignore-not-found']).catch(
      () => {},
    );
    await kubectl([
      'delete',
      'role,rolebinding',
      `${ns}-${JOB}`,
      '-n',
      'seldon-system',
      '--ignore-not-found',
    ]).catch(() => {});
    await kubectl(['delete', 'namespace', ns, '--wait=false']).catch(() => {});
  });

  it('removes the ServiceAccount and its RBAC hooks even after a failed run; the failed Job stays', async () => {
    // Helm 3.22 (pkg/action/hooks.go execHook): when a hook fails, the hooks of the same event that already
    // succeeded are deleted by their hook-succeeded policy. So privilege ends with a failed run too; the Job
    // (before-hook-creation only) and its pod stay for `kubectl logs`.
    expect(result.code).not.toBe(0);
    const gone = async (args: string[]) =>
      expect(await kubectl([...args, '--ignore-not-found', '-o', 'name'])).toBe('');
    await gone(['get', 'serviceaccount', JOB, '-n', ns]);
    await gone(['get', 'rolebinding', JOB, '-n', ns]);
    await gone(['get', 'clusterrolebinding', `${ns}-${JOB}`]);
    await kubectl(['get', 'job', JOB, '-n', ns]);
  });

  it('makes helm install fail, and the failed Job with its termination message remains', async () => {
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/failed post-install|job failed|BackoffLimitExceeded|PodFailurePolicy/i);
    const job = await kubectlJson<Job>(['get', 'job', JOB, '-n', ns]);
    expect(job.status.conditions?.find((c) => c.type === 'Failed')?.status).toBe('True');
    const pods = await jobPods(ns);
    // Exit code 2 (a config error) is not retried (podFailurePolicy FailJob).
    expect(pods).toHaveLength(1);
    const terminated = pods[0]!.status.containerStatuses![0]!.state.terminated!;
    expect(terminated.exitCode).toBe(2);
    // Nothing was written to /dev/termination-log: the log's tail (FallbackToLogsOnError) names the key.
    expect(terminated.message).toContain('argocd.version');
    expect(terminated.message).toContain('v3.6.0');
    expect(await kubectl(['logs', '-n', ns, `job/${JOB}`])).toContain('argocd.version');
    // Nothing was written: no report.
    expect(await kubectl(['get', 'configmaps', '-n', ns, '-o', 'name'])).not.toContain(
      'sd-gitops-bootstrap-report',
    );
  });
});

// ------------------------------------------------- the default install: Argo CD running, syncing from Git

interface Application {
  metadata: { name: string };
  status?: { sync?: { status?: string; revision?: string }; health?: { status?: string } };
}

const cmYaml = (name: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  from: git\n`;

describe.skipIf(!onKind)('the default install: Argo CD from the bundled manifest, syncing from Git', () => {
  const id = uniqueName('x').slice(2);
  const ns = `sdb-full-${id}`;
  const seldonNs = `seldon-full-${id}`;
  const envs = [`stg-full-${id}`, `prod-full-${id}`];
  const logsNs = `logs-full-${id}`;
  const passwords = { first: `first-${id}`, second: `second-${id}` };
  let gitHost: GitHost;
  let git: GitSshServer;
  let repoUrl: string;
  let first: Awaited<ReturnType<typeof install>>;
  const values = (namespaces: string[], deleteRemovedResources = false) =>
    valuesFile(`kind-full-${namespaces.length}${deleteRemovedResources ? '-delete' : ''}`, {
      ...imageValues(),
      config: {
        argocd: { adminPassword: { generate: false } },
        git: { repoUrl, verify: true },
        environments: {
          namespaces,
          logging: { namespace: logsNs },
          waitForSync: true,
          syncTimeout: '5m',
          ...(deleteRemovedResources ? { deleteRemovedResources } : {}),
        },
        seldonDeploy: { namespace: seldonNs },
      },
    });
  const setPassword = (password: string) =>
    apply({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'argocd-admin-password', namespace: ns },
      stringData: { password },
    });
  const applications = async () =>
    (await kubectlJson<{ items: Application[] }>(['get', 'applications.argoproj.io', '-n', 'argocd'])).items;

  beforeAll(async () => {
    const t0 = Date.now();
    const argo = await buildArgocdImages();
    for (const i of argo.images) publish(i.local, i.upstream);
    say(
      `Argo CD images pushed to the cluster's registry in ${((Date.now() - t0) / 1000).toFixed(0)}s: ${argo.images.map((i) => i.upstream).join(', ')}`,
    );
    // dex cannot be built here (tools/argocd/README.md): argocd-dex-server at zero replicas.
    if (argo.dexMissing) await withoutDex();

    gitHost = await startGitHost({ network: kind().network, clusterId: kind().id, log: say });
    git = await startGitSshServer({ on: gitHost, root: join(gitHost.dir, 'ssh') });
    const files: Record<string, string> = {};
    // A folder per environment, and one for the logging namespace (its Application is made too).
    for (const e of [...envs, logsNs]) files[`${e}/cm.yaml`] = cmYaml(`from-git-${e}`);
    repoUrl = git.createRepo('gitops', files);
    say(`Git over SSH in its own container: ${repoUrl}`);

    await prepareRelease(ns, seldonNs, git);
    await setPassword(passwords.first);
    first = await install(ns, [scenario('default'), values(envs.slice(0, 1))]);
    say(`helm install --wait (installs Argo CD, waits for the sync): ${first.seconds.toFixed(1)}s`);
  }, 30 * 60_000);

  afterAll(async () => {
    await git?.stop();
    await gitHost?.stop();
    await removeDefaultInstall(ns, [seldonNs, logsNs, ...envs]);
  }, 600_000);

  it('helm install --wait succeeds; Argo CD really rolls out; the report says ready', async () => {
    expect(first.code, `${first.stderr}\n${first.logs}`).toBe(0);
    const r = await report(ns);
    expect(notReady(r)).toEqual([]);
    expect(r.checks.map((c) => c.id)).toEqual(
      expect.arrayContaining(['argocd.rollout.argocd-server', 'git.repo.reachable']),
    );
    const [pod] = await jobPods(ns);
    expect(pod!.status.containerStatuses![0]!.state.terminated?.message).toMatch(/^ready: /);
    const deployments = await kubectlJson<{
      items: {
        metadata: { name: string };
        spec: { replicas?: number };
        status: { readyReplicas?: number };
      }[];
    }>(['get', 'deployments', '-n', 'argocd']);
    expect(deployments.items.length).toBeGreaterThanOrEqual(6);
    for (const d of deployments.items) {
      expect(d.status.readyReplicas ?? 0, d.metadata.name).toBe(d.spec.replicas ?? 1);
    }
  });

  it('the environment syncs over SSH from the Git container: Synced, Healthy, its ConfigMap exists', async () => {
    const app = (await applications()).find((a) => a.metadata.name === `seldon-gitops-${envs[0]}`);
    expect(app?.status?.sync?.status).toBe('Synced');
    expect(app?.status?.health?.status).toBe('Healthy');
    const cm = await kubectlJson<{ data: Record<string, string> }>([
      'get',
      'configmap',
      `from-git-${envs[0]}`,
      '-n',
      envs[0]!,
    ]);
    expect(cm.data.from).toBe('git');
  });

  it('logs in under /argocd with the password of its Secret; a wrong one is refused', async () => {
    await withArgocdServer('argocd', async (api) => {
      expect((await api.login(passwords.first)).status).toBe(200);
      expect((await api.login('not-the-password')).status).toBe(401);
    });
  });

  it('helm upgrade with the same values changes no object Argo CD does not itself write', async () => {
    const snapshot = async () =>
      new Map([
        ...(await versions(
          'configmaps,serviceaccounts,services,roles,rolebindings,networkpolicies',
          'argocd',
        )),
        ...(await versions('deployments,statefulsets', 'argocd')),
        ...(await versions('secrets', seldonNs)),
        ...(await versions('namespaces', undefined, (n) => envs.includes(n))),
        ...(await versions('crd,clusterroles,clusterrolebindings', undefined, (n) => n.includes('argo'))),
      ]);
    const specs = () => applicationSpecs('argocd');
    const before = await snapshot();
    const s0 = await specs();
    const again = await install(ns, [scenario('default'), values(envs.slice(0, 1))]);
    expect(again.code, `${again.stderr}\n${again.logs}`).toBe(0);
    const after = await snapshot();
    expect([...after].filter(([k, v]) => before.get(k) !== v)).toEqual([]);
    expect(await specs()).toBe(s0);
    const r = await report(ns);
    expect(r.ready).toBe(true);
    expect(r.changes.created + r.changes.updated).toBe(0);
  });

  it('helm upgrade adding an environment converges: its Application Synced and Healthy', async () => {
    const up = await install(ns, [scenario('default'), values(envs)]);
    expect(up.code, `${up.stderr}\n${up.logs}`).toBe(0);
    const r = await report(ns);
    expect(notReady(r)).toEqual([]);
    const app = (await applications()).find((a) => a.metadata.name === `seldon-gitops-${envs[1]}`);
    expect(app?.status?.sync?.status).toBe('Synced');
    expect(app?.status?.health?.status).toBe('Healthy');
    await kubectl(['get', 'configmap', `from-git-${envs[1]}`, '-n', envs[1]!]);
  });

  it('rotates the admin password: its Secret changed, helm upgrade; the new one logs in, the old not', async () => {
    await setPassword(passwords.second);
    const up = await install(ns, [scenario('default'), values(envs)]);
    expect(up.code, `${up.stderr}\n${up.logs}`).toBe(0);
    expect((await report(ns)).ready).toBe(true);
    // argocd-server reads argocd-secret through its informer: a moment after the write.
    await eventually(
      () =>
        withArgocdServer('argocd', async (api) => {
          expect((await api.login(passwords.second)).status).toBe(200);
          expect((await api.login(passwords.first)).status).toBe(401);
        }),
      30_000,
      1_000,
    );
  });

  it('helm upgrade removing an environment with deleteRemovedResources: Argo CD deletes what it deployed', async () => {
    // README's promise, with real Argo CD: the Application goes with resources-finalizer, so the controller
    // deletes the ConfigMap it synced from Git before the Application itself goes; the namespace stays,
    // given back without the bootstrap's labels.
    const removed = envs[1]!;
    await kubectl(['get', 'configmap', `from-git-${removed}`, '-n', removed]);
    const up = await install(ns, [scenario('default'), values(envs.slice(0, 1), true)]);
    expect(up.code, `${up.stderr}\n${up.logs}`).toBe(0);
    expect((await report(ns)).ready).toBe(true);
    await eventually(
      async () => {
        expect((await applications()).map((a) => a.metadata.name)).not.toContain(`seldon-gitops-${removed}`);
        const left = await kubectlJson<{ items: unknown[] }>(['get', 'configmaps', '-n', removed]);
        const names = (left.items as { metadata: { name: string } }[]).map((c) => c.metadata.name);
        expect(names).not.toContain(`from-git-${removed}`);
      },
      120_000,
      2_000,
    );
    const namespace = await kubectlJson<{
      metadata: { labels?: Record<string, string> };
      status: { phase: string };
    }>(['get', 'namespace', removed]);
    expect(namespace.status.phase).toBe('Active');
    expect(namespace.metadata.labels?.['seldon.gitops']).toBeUndefined();
    // The environment that stays keeps what Argo CD deployed.
    await kubectl(['get', 'configmap', `from-git-${envs[0]}`, '-n', envs[0]!]);
  });

  it('helm uninstall leaves Argo CD running and the Applications in place', async () => {
    await helmOk(['uninstall', RELEASE, '-n', ns, '--wait']);
    await kubectl(['rollout', 'status', 'deployment/argocd-server', '-n', 'argocd', '--timeout=60s']);
    // The environment removed by the case above has no Application any more; every other one stays.
    for (const e of envs.slice(0, 1))
      await kubectl(['get', 'applications.argoproj.io', `seldon-gitops-${e}`, '-n', 'argocd']);
  });
});

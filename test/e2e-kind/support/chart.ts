/**
 * The chart on kind, shared by the tier's chart files (chart.test.ts, helm-test.test.ts, webhooks.test.ts):
 * the release name, namespaces, the report, `helm upgrade --install --wait`, an Argo CD stand-in for
 * `install.source: skip`, argocd-dex-server at zero replicas for the default install.
 */
import { readFileSync } from 'node:fs';
import type { ReadinessReport } from '../../../src/report/types.ts';
import { type GitSshServer, sourceSecret } from '../../../tools/git/git-ssh-server.ts';
import { buildArgocdImages } from '../../../tools/images/argocd.ts';
import { ARGOCD_VERSION, type ARGOCD_VERSIONS } from '../../../tools/versions.ts';
import { upstreamFile } from '../../e2e/support/bootstrap.ts';
import { CHART, ciScenarios, helm, parseObjects } from '../../e2e/support/helm.ts';
import { dataOf, kubectl, kubectlJson, uniqueName } from '../../e2e/support/target.ts';
import { apply } from './cluster.ts';
import { type LoadedProjectImage, publish } from './kind.ts';

export const RELEASE = 'sdb';
export const JOB = `${RELEASE}-sd-gitops-bootstrap`;

/** Values that make the chart run exactly the image built and loaded for this run, never pulling. */
export const imageValues = (image: LoadedProjectImage) => ({
  image: {
    repository: image.upstream.replace(/:[^:/]+$/, ''),
    tag: image.upstream.replace(/^.*:/, ''),
    pullPolicy: 'Never',
  },
});

/**
 * A test's unique names: the release namespace `sdb-<tag>-<id>`, Seldon Deploy's, one environment and its
 * Application.
 */
export function releaseNames(tag: string) {
  const id = uniqueName('x').slice(2);
  const env = `stg-${tag}-${id}`;
  return { id, ns: `sdb-${tag}-${id}`, seldonNs: `seldon-${tag}-${id}`, env, app: `seldon-gitops-${env}` };
}

export async function createNamespace(name: string, labels: Record<string, string> = {}): Promise<void> {
  await apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
}

export const RESTRICTED = {
  'pod-security.kubernetes.io/enforce': 'restricted',
  'pod-security.kubernetes.io/enforce-version': 'latest',
};

export async function report(
  namespace: string,
  configMap = 'sd-gitops-bootstrap-report',
): Promise<ReadinessReport> {
  const cm = await dataOf('configmap', configMap, namespace);
  return JSON.parse(cm['report.json']!) as ReadinessReport;
}

export { notReady } from '../../support/report.ts';

/**
 * The config keys of one environment synced from `repoUrl` (SSH, verified) and waited for, with Seldon
 * Deploy's namespace: what the upgrade, webhooks and SSO files install besides their own keys.
 */
export const oneEnvironment = (repoUrl: string, env: string, seldonNamespace: string) => ({
  git: { repoUrl, verify: true },
  environments: {
    namespaces: [env],
    logging: { enabled: false },
    waitForSync: true,
    syncTimeout: '5m',
  },
  seldonDeploy: { namespace: seldonNamespace },
});

/** The values file of the CI scenario `default` (the chart's defaults for a Seldon Deploy install). */
export const defaultScenario = () => ciScenarios().find((s) => s.name === 'default')!.file;

/**
 * Argo CD v3.5.1's images, built or reused, published to the cluster's registry; argocd-dex-server at zero
 * replicas when no dex image could be built (its module is not served here).
 */
export async function publishArgocdImages(): Promise<void> {
  const argo = await buildArgocdImages();
  for (const i of argo.images) publish(i.local, i.upstream);
  if (argo.dexMissing) await withoutDex();
}

/**
 * What a release needs before `helm install`: its namespace (restricted Pod Security), Seldon Deploy's, and
 * the Git source Secret; with `knownHostsIn`, the Git host already in that Argo CD namespace's
 * `argocd-ssh-known-hosts-cm` (so Argo CD's first comparison trusts it).
 */
export async function prepareRelease(
  namespace: string,
  seldonNamespace: string,
  git: Pick<GitSshServer, 'privateKey' | 'knownHosts' | 'user'>,
  knownHostsIn?: string,
): Promise<void> {
  if (knownHostsIn !== undefined) {
    await createNamespace(knownHostsIn);
    await apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'argocd-ssh-known-hosts-cm', namespace: knownHostsIn },
      data: { ssh_known_hosts: git.knownHosts },
    });
  }
  await createNamespace(namespace, RESTRICTED);
  await createNamespace(seldonNamespace);
  await apply(sourceSecret(git, namespace));
}

/**
 * The specs of the AppProjects and Applications in `argocdNamespace`, as one string. Argo CD's controller
 * writes their status (the CRD has no status subresource, so even generation moves): what the bootstrap owns
 * there is the spec, which a re-run must not change.
 */
export async function applicationSpecs(argocdNamespace: string): Promise<string> {
  const { items } = await kubectlJson<{ items: { metadata: { name: string }; spec: unknown }[] }>([
    'get',
    'applications.argoproj.io,appprojects.argoproj.io',
    '-n',
    argocdNamespace,
  ]);
  return JSON.stringify(items.map((o) => [o.metadata.name, o.spec]));
}

/** `helm upgrade --install --wait`, timed; on failure the error carries the Job's log. */
export async function install(namespace: string, files: string[], extra: string[] = []) {
  const t0 = Date.now();
  const args = [
    'upgrade',
    '--install',
    RELEASE,
    CHART,
    '-n',
    namespace,
    '--wait',
    '--timeout',
    '15m',
    ...extra,
  ];
  for (const f of files) args.push('-f', f);
  const r = await helm(args);
  const seconds = (Date.now() - t0) / 1000;
  if (r.code !== 0) {
    const logs = await kubectl(['logs', '-n', namespace, `job/${JOB}`, '--tail=40']).catch(
      (e: Error) => e.message,
    );
    return { ...r, seconds, logs };
  }
  return { ...r, seconds, logs: '' };
}

/**
 * An Argo CD "managed elsewhere" for `install.source: skip`: Argo CD's own CRDs, the ConfigMaps and Secret
 * the bootstrap configures, and its workloads (labelled as Argo CD's are) running the pause image, so
 * they really roll out on the node.
 */
export async function argocdStandIn(namespace: string): Promise<void> {
  const crds = parseObjects(readFileSync(upstreamFile(`argocd/${ARGOCD_VERSION}`), 'utf8')).filter(
    (o) => o.kind === 'CustomResourceDefinition',
  );
  await kubectl(['apply', '--server-side', '--field-manager=argocd-standin', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: crds }),
  });
  // Established a moment after creation (a `kubectl wait` issued at once can find no conditions yet).
  for (let i = 0; ; i++) {
    const list = await kubectlJson<{
      items: { status?: { conditions?: { type: string; status: string }[] } }[];
    }>(['get', ...crds.map((c) => `crd/${c.metadata.name}`)]);
    const established = list.items.filter((c) =>
      c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True'),
    ).length;
    if (established === crds.length) break;
    if (i > 60) throw new Error(`${crds.length - established} of Argo CD's CRDs not established after 60s`);
    await new Promise((r) => setTimeout(r, 1000));
  }
  const labels = (name: string) => ({
    'app.kubernetes.io/name': name,
    'app.kubernetes.io/part-of': 'argocd',
  });
  const pod = (name: string) => ({
    metadata: { labels: labels(name) },
    spec: {
      terminationGracePeriodSeconds: 1,
      securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name,
          image: 'registry.k8s.io/pause:3.10.2',
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
        },
      ],
    },
  });
  const workload = (kind: 'Deployment' | 'StatefulSet', name: string) => ({
    apiVersion: 'apps/v1',
    kind,
    metadata: { name, namespace, labels: labels(name) },
    spec: {
      replicas: 1,
      selector: { matchLabels: { 'app.kubernetes.io/name': name } },
      ...(kind === 'StatefulSet' ? { serviceName: name } : {}),
      template: pod(name),
    },
  });
  const cm = (name: string) => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace, labels: labels(name) },
  });
  await createNamespace(namespace);
  await kubectl(['apply', '--server-side', '--field-manager=argocd-standin', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        cm('argocd-cm'),
        cm('argocd-cmd-params-cm'),
        cm('argocd-ssh-known-hosts-cm'),
        {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: 'argocd-secret', namespace, labels: labels('argocd-secret') },
        },
        workload('Deployment', 'argocd-server'),
        workload('Deployment', 'argocd-repo-server'),
        workload('StatefulSet', 'argocd-application-controller'),
      ],
    }),
  });
}

/**
 * argocd-dex-server at zero replicas under a field manager of its own, as an installation without SSO
 * may: the manifest sets no `replicas`, so the bootstrap's server-side apply leaves it at 0. `version`:
 * the manifest whose Deployment is pre-created (its image is never pulled at zero replicas).
 */
export async function withoutDex(version: (typeof ARGOCD_VERSIONS)[number] = ARGOCD_VERSION): Promise<void> {
  const dex = parseObjects(readFileSync(upstreamFile(`argocd/${version}`), 'utf8')).find(
    (o) => o.kind === 'Deployment' && o.metadata.name === 'argocd-dex-server',
  )!;
  await createNamespace('argocd');
  await kubectl(['apply', '--server-side', '--field-manager=sd-e2e-without-sso', '-f', '-'], {
    input: JSON.stringify({
      ...dex,
      metadata: { ...dex.metadata, namespace: 'argocd' },
      spec: { ...(dex.spec as object), replicas: 0 },
    }),
  });
}

/**
 * Undoes a default install in the shared cluster: the release, the Applications (while their controller
 * still runs: finalizers), the test's namespaces, then Argo CD's namespace, waited for so that the next
 * file installing Argo CD there does not find it terminating.
 */
export async function removeDefaultInstall(releaseNamespace: string, namespaces: string[]): Promise<void> {
  await helm(['uninstall', RELEASE, '-n', releaseNamespace]).catch(() => {});
  await kubectl(['delete', 'applications.argoproj.io', '--all', '-n', 'argocd', '--timeout=60s']).catch(
    () => {},
  );
  for (const n of [releaseNamespace, ...namespaces])
    await kubectl(['delete', 'namespace', n, '--wait=false']).catch(() => {});
  await kubectl(['delete', 'namespace', 'argocd', '--timeout=300s']).catch(() => {});
}

/** The cluster-scoped objects of Argo CD's manifest that removeDefaultInstall leaves behind. */
export const ARGOCD_CRDS = [
  'applications.argoproj.io',
  'applicationsets.argoproj.io',
  'appprojects.argoproj.io',
];

/**
 * Removes Argo CD's CRDs from the shared cluster, for a file that must start from a cluster without them
 * (an earlier file's install left a newer release's schemas, which an older manifest's apply does not
 * take away). Any custom resource still held by a finalizer whose controller is gone is released first,
 * or the CRD's deletion would wait on it forever.
 */
export async function removeArgocdCrds(): Promise<void> {
  for (const crd of ARGOCD_CRDS) {
    const left = await kubectlJson<{ items: { metadata: { name: string; namespace: string } }[] }>([
      'get',
      crd,
      '--all-namespaces',
    ]).catch(() => ({ items: [] }));
    for (const o of left.items)
      await kubectl([
        'patch',
        crd,
        o.metadata.name,
        '-n',
        o.metadata.namespace,
        '--type=merge',
        '-p',
        '{"metadata":{"finalizers":null}}',
      ]).catch(() => {});
  }
  await kubectl(['delete', 'crd', ...ARGOCD_CRDS, '--ignore-not-found', '--timeout=120s']);
}

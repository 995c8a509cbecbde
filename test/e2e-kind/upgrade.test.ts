/**
 * An Argo CD upgrade in place with real Argo CD in pods (issue #12, item 3): the chart installs Argo CD
 * v2.14.21 (`argocd.version: v2.14.21`, the bundled manifest, its images built here from the Go module of
 * that release: tools/argocd/build.sh with ARGOCD_VERSION=v2.14.21), one environment syncs over SSH
 * from the Git container on the cluster's network; then `helm upgrade` with `argocd.version: v3.5.1`.
 *
 * - CRDs updated: fields v3.5.1's schema added (`spec.source.tagPrefix` of Application,
 *   `spec.strategy.deletionOrder` of ApplicationSet) are absent before and present after. The kind files
 *   share one cluster and an earlier one leaves v3.5.1's CRDs behind, so this file removes Argo CD's CRDs
 *   before its first install;
 * - every workload rolled to v3.5.1's images (Deployments and the StatefulSet fully updated, their pods
 *   running them and ready), the API reports v3.5.1;
 * - the Application compared again by v3.5.1's controller (`reconciledAt` after the upgrade) and still
 *   Synced and Healthy;
 * - an object of the old install that the new manifest lacks is deleted through the inventory. The two
 *   bundled manifests have the same objects (kind and name), so nothing is dropped between them: before
 *   the upgrade the test records one ConfigMap in the inventory's `argocd` set (and labels it as a member),
 *   exactly as the v2.14.21 run would have had its manifest carried it. The chart grants the hook Job get
 *   and delete on the inventory's `argocd` members by name, which this deletion needs;
 * - a second `helm upgrade` with the same values changes no resourceVersion.
 *
 * dex cannot be built from the module proxy (tools/argocd/README.md): argocd-dex-server is pre-created
 * at zero replicas from v2.14.21's manifest, and stays there across the upgrade (the manifest sets no
 * `replicas`).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applysetId, INVENTORY_CONFIGMAP, INVENTORY_KEY } from '../../src/manifests/inventory.ts';
import { type GitSshServer, startGitSshServer } from '../../tools/git/git-ssh-server.ts';
import { type GitHost, startGitHost } from '../../tools/hosts/git-host.ts';
import { buildArgocdImages, manifestImages } from '../../tools/images/argocd.ts';
import { valuesFile } from '../e2e/support/helm.ts';
import { kubectl, kubectlJson, target } from '../e2e/support/target.ts';
import { withArgocdServer } from './support/argocd.ts';
import {
  applicationSpecs,
  defaultScenario,
  imageValues,
  install,
  notReady,
  oneEnvironment,
  prepareRelease,
  releaseNames,
  removeArgocdCrds,
  removeDefaultInstall,
  report,
  withoutDex,
} from './support/chart.ts';
import { apply, eventually, versions } from './support/cluster.ts';
import { kind, projectImage, publish } from './support/kind.ts';

const onKind = !!target().kind;
const OLD = 'v2.14.21';
const NEW = 'v3.5.1';
const ARGO = 'argocd';
/** The object "v2.14.21's manifest had and v3.5.1's dropped" (see above). */
const DROPPED = 'argocd-dropped-by-v3-cm';

function say(msg: string): void {
  process.stderr.write(`[upgrade] ${msg}\n`);
}

interface Application {
  metadata: { name: string };
  status?: { sync?: { status?: string }; health?: { status?: string }; reconciledAt?: string };
}
interface Workload {
  kind: string;
  metadata: { name: string; generation: number };
  spec: {
    replicas?: number;
    template: { spec: { containers: { image: string }[]; initContainers?: { image: string }[] } };
  };
  status: { observedGeneration?: number; updatedReplicas?: number; readyReplicas?: number };
}
interface Pod {
  metadata: { name: string; deletionTimestamp?: string };
  spec: { containers: { image: string }[] };
  status: { phase: string; containerStatuses?: { ready: boolean }[] };
}
interface Crd {
  spec: { versions: { schema: { openAPIV3Schema: SchemaNode } }[] };
}
interface SchemaNode {
  properties?: Record<string, SchemaNode>;
}

/** Does the CRD's first version's schema have the property at `path` (dot-separated)? */
async function crdHasField(crd: string, path: string): Promise<boolean> {
  const c = await kubectlJson<Crd>(['get', 'crd', crd]);
  let node: SchemaNode | undefined = c.spec.versions[0]!.schema.openAPIV3Schema;
  for (const p of path.split('.')) node = node?.properties?.[p];
  return node !== undefined;
}

const workloads = async () =>
  (await kubectlJson<{ items: Workload[] }>(['get', 'deployments,statefulsets', '-n', ARGO])).items;

describe.skipIf(!onKind)(`Argo CD ${OLD} → ${NEW} in place, through helm upgrade`, () => {
  const { ns, seldonNs, env, app } = releaseNames('up');
  let gitHost: GitHost;
  let git: GitSshServer;
  let repoUrl: string;
  let first: Awaited<ReturnType<typeof install>>;
  /** The image names of each release's manifest (read once the global setup has fetched them). */
  const images = (version: string) => Object.values(manifestImages(version));
  const values = async (version: string) =>
    valuesFile(`kind-upgrade-${version}`, {
      ...imageValues(await projectImage()),
      config: {
        argocd: { version },
        ...oneEnvironment(repoUrl, env, seldonNs),
      },
    });
  const application = async () =>
    kubectlJson<Application>(['get', 'applications.argoproj.io', app, '-n', ARGO]);

  beforeAll(async () => {
    const t0 = Date.now();
    await projectImage();
    // Both releases' images in the cluster's registry before the first install: the upgrade pulls v3.5.1's.
    for (const version of [OLD, NEW]) {
      const argo = await buildArgocdImages({ version });
      for (const i of argo.images) publish(i.local, i.upstream);
      say(`${version}: ${argo.images.map((i) => i.upstream).join(', ')} pushed`);
    }
    say(`images ready in ${((Date.now() - t0) / 1000).toFixed(0)}s`);
    // The kind files share one cluster: an earlier file's install left v3.5.1's CRDs, which v2.14.21's
    // apply would not take back to its own schemas.
    await removeArgocdCrds();
    await withoutDex(OLD);

    gitHost = await startGitHost({ network: kind().network, clusterId: kind().id, log: say });
    git = await startGitSshServer({ on: gitHost, root: join(gitHost.dir, 'ssh') });
    repoUrl = git.createRepo('gitops', {
      [`${env}/cm.yaml`]:
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-git\ndata:\n  from: git\n',
    });
    // The Git host in Argo CD's known hosts before its repo-server starts (as webhooks.test.ts does): the
    // first comparison then does not wait for the kubelet to refresh the mounted copy.
    await prepareRelease(ns, seldonNs, git, ARGO);
    first = await install(ns, [defaultScenario(), await values(OLD)]);
    say(`helm install --wait, Argo CD ${OLD}: ${first.seconds.toFixed(1)}s`);
  }, 40 * 60_000);

  afterAll(async () => {
    await git?.stop();
    await gitHost?.stop();
    await removeDefaultInstall(ns, [seldonNs, env]);
  }, 600_000);

  it(`${OLD}: report ready, every workload on ${OLD}'s images, the Application Synced and Healthy`, async () => {
    expect(first.code, `${first.stderr}\n${first.logs}`).toBe(0);
    const r = await report(ns);
    expect(notReady(r)).toEqual([]);
    expect(r.argocd.version).toBe(OLD);
    for (const w of await workloads()) {
      const imgs = w.spec.template.spec.containers.map((c) => c.image);
      expect(
        imgs.every((i) => images(OLD).includes(i)),
        `${w.metadata.name}: ${imgs}`,
      ).toBe(true);
    }
    const a = await application();
    expect(a.status?.sync?.status).toBe('Synced');
    expect(a.status?.health?.status).toBe('Healthy');
    await kubectl(['get', 'configmap', 'from-git', '-n', env]);
    // What v3.5.1's CRDs add is not there yet.
    expect(await crdHasField('applications.argoproj.io', 'spec.source.tagPrefix')).toBe(false);
    expect(await crdHasField('applicationsets.argoproj.io', 'spec.strategy.deletionOrder')).toBe(false);
  });

  it(`helm upgrade to ${NEW}: CRDs updated, workloads rolled, the dropped object pruned, still Synced`, async () => {
    // The object the old manifest had and the new one lacks, recorded as the v2.14.21 run records its
    // manifest's objects: the part-of label on the object, a member of the `argocd` set in the inventory.
    await apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: DROPPED,
        namespace: ARGO,
        labels: { 'applyset.kubernetes.io/part-of': applysetId(ns) },
      },
      data: { from: OLD },
    });
    const inv = await kubectlJson<{ data: Record<string, string> }>([
      'get',
      'configmap',
      INVENTORY_CONFIGMAP,
      '-n',
      ns,
    ]);
    const doc = JSON.parse(inv.data[INVENTORY_KEY]!) as { argocd?: { version: string }; members: unknown[] };
    expect(doc.argocd?.version).toBe(OLD);
    doc.members.push({ set: 'argocd', apiVersion: 'v1', kind: 'ConfigMap', namespace: ARGO, name: DROPPED });
    await kubectl([
      'patch',
      'configmap',
      INVENTORY_CONFIGMAP,
      '-n',
      ns,
      '--type',
      'merge',
      '-p',
      JSON.stringify({ data: { [INVENTORY_KEY]: `${JSON.stringify(doc, null, 2)}\n` } }),
    ]);

    const startedAt = new Date();
    const up = await install(ns, [defaultScenario(), await values(NEW)]);
    say(`helm upgrade --wait to ${NEW}: ${up.seconds.toFixed(1)}s`);
    expect(up.code, `${up.stderr}\n${up.logs}`).toBe(0);
    const r = await report(ns);
    expect(notReady(r)).toEqual([]);
    expect(r.argocd.version).toBe(NEW);

    // CRDs: v3.5.1's schema.
    expect(await crdHasField('applications.argoproj.io', 'spec.source.tagPrefix')).toBe(true);
    expect(await crdHasField('applicationsets.argoproj.io', 'spec.strategy.deletionOrder')).toBe(true);

    // Workloads: every one on v3.5.1's images and fully rolled out; their pods run those images, ready.
    const newImages = images(NEW);
    for (const w of await workloads()) {
      const name = `${w.kind}/${w.metadata.name}`;
      const imgs = [...w.spec.template.spec.containers, ...(w.spec.template.spec.initContainers ?? [])].map(
        (c) => c.image,
      );
      expect(
        imgs.every((i) => newImages.includes(i)),
        `${name}: ${imgs}`,
      ).toBe(true);
      expect(w.status.observedGeneration, name).toBe(w.metadata.generation);
      expect(w.status.updatedReplicas ?? 0, name).toBe(w.spec.replicas ?? 1);
      expect(w.status.readyReplicas ?? 0, name).toBe(w.spec.replicas ?? 1);
    }
    expect(
      (await workloads()).find((w) => w.metadata.name === 'argocd-dex-server')?.spec.replicas,
      'argocd-dex-server stays at the zero replicas set for it',
    ).toBe(0);
    await eventually(
      async () => {
        const pods = (await kubectlJson<{ items: Pod[] }>(['get', 'pods', '-n', ARGO])).items.filter(
          (p) => !p.metadata.deletionTimestamp,
        );
        const stale = pods.filter(
          (p) =>
            p.status.phase !== 'Running' ||
            !p.spec.containers.every((c) => newImages.includes(c.image)) ||
            !(p.status.containerStatuses ?? []).every((s) => s.ready),
        );
        expect(stale.map((p) => p.metadata.name)).toEqual([]);
        expect(pods.length).toBeGreaterThanOrEqual(6);
      },
      120_000,
      2_000,
    );
    const version = await withArgocdServer(ARGO, (api) => api.version());
    expect(String(version.body.Version)).toMatch(/^v3\.5\.1\b/);

    // The dropped object: deleted by the run, out of the inventory.
    expect(r.removed).toContain(`ConfigMap ${ARGO}/${DROPPED}: deleted (not in the Argo CD ${NEW} manifest)`);
    expect(await kubectl(['get', 'configmap', DROPPED, '-n', ARGO, '--ignore-not-found', '-o', 'name'])).toBe(
      '',
    );
    const after = JSON.parse(
      (
        await kubectlJson<{ data: Record<string, string> }>([
          'get',
          'configmap',
          INVENTORY_CONFIGMAP,
          '-n',
          ns,
        ])
      ).data[INVENTORY_KEY]!,
    ) as { argocd?: { version: string }; members: { name: string }[] };
    expect(after.argocd?.version).toBe(NEW);
    expect(after.members.map((m) => m.name)).not.toContain(DROPPED);

    // The Application, compared again by v3.5.1's controller: Synced and Healthy.
    await eventually(
      async () => {
        const a = await application();
        expect(Date.parse(a.status?.reconciledAt ?? '')).toBeGreaterThan(startedAt.getTime());
        expect(a.status?.sync?.status).toBe('Synced');
        expect(a.status?.health?.status).toBe('Healthy');
      },
      5 * 60_000,
      5_000,
    );
    await kubectl(['get', 'configmap', 'from-git', '-n', env]);
  });

  it('a second helm upgrade with the same values changes no resourceVersion', async () => {
    const snapshot = async () =>
      new Map([
        ...(await versions('configmaps,serviceaccounts,services,roles,rolebindings,networkpolicies', ARGO)),
        ...(await versions('deployments,statefulsets', ARGO)),
        ...(await versions('configmaps', ns, (n) => n === INVENTORY_CONFIGMAP)),
        ...(await versions('secrets', seldonNs)),
        ...(await versions('namespaces', undefined, (n) => n === env || n === ARGO)),
        ...(await versions('crd,clusterroles,clusterrolebindings', undefined, (n) => n.includes('argo'))),
      ]);
    const specs = () => applicationSpecs(ARGO);
    const before = await snapshot();
    const s0 = await specs();
    const again = await install(ns, [defaultScenario(), await values(NEW)]);
    expect(again.code, `${again.stderr}\n${again.logs}`).toBe(0);
    const after = await snapshot();
    expect([...after].filter(([k, v]) => before.get(k) !== v)).toEqual([]);
    expect([...before.keys()].filter((k) => !after.has(k))).toEqual([]);
    expect(await specs()).toBe(s0);
    const r = await report(ns);
    expect(r.ready).toBe(true);
    expect(r.changes.created + r.changes.updated + r.changes.deleted).toBe(0);
  });
});

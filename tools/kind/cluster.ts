/**
 * The one way a kind cluster starts, for `npm run cluster:up -- --kind` (tools/cluster/local.ts) and the
 * e2e-kind tier's global setup alike: the node image (given, `KIND_NODE_IMAGE`, or the offline build of
 * tools/kind/node-image.ts), one node container through testcontainers (tools/kind/kind-container.ts), the
 * cluster's local registry (tools/kind/registry.ts; Argo CD's manifest pulls with `imagePullPolicy:
 * Always`), and the two kubeconfigs written into `dir`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toolsBin } from '../cluster/bin.ts';
import { KUBE_VERSION } from '../versions.ts';
import { KindContainer, type StartedKindCluster } from './kind-container.ts';
import { ensureNodeImage } from './node-image.ts';
import { type KindRegistry, startKindRegistry } from './registry.ts';

export interface KindCluster {
  cluster: StartedKindCluster;
  /** Where the kubeconfigs are. */
  dir: string;
  registry: KindRegistry;
  /** `dir`/kubeconfig: admin.conf with the server at the port Docker mapped on the host. */
  kubeconfig: string;
  /** `dir`/kubeconfig.internal: admin.conf as seen from containers on the cluster's network. */
  internalKubeconfig: string;
  /** The pinned kubectl and helm (tools/cluster/build.sh). */
  binDir: string;
}

export async function startKindCluster(opts: {
  /** Where the kubeconfigs go (created): a path, or one made from the cluster's id. */
  dir: string | ((clusterId: string) => string);
  /** The node image; default `KIND_NODE_IMAGE`, else the offline build. */
  image?: string;
  log?: (m: string) => void;
}): Promise<KindCluster> {
  const log = opts.log ?? (() => {});
  const binDir = toolsBin();
  const image = opts.image ?? process.env.KIND_NODE_IMAGE ?? ensureNodeImage(log);
  const t0 = Date.now();
  const cluster = await new KindContainer({ image, kubernetesVersion: KUBE_VERSION, log }).startCluster();
  log(`cluster ${cluster.id} ready in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  try {
    const registry = await startKindRegistry({
      network: cluster.network.getName(),
      clusterId: cluster.id,
      nodeContainer: cluster.containerId,
      log,
    });
    const dir = typeof opts.dir === 'string' ? opts.dir : opts.dir(cluster.id);
    mkdirSync(dir, { recursive: true });
    const kubeconfig = join(dir, 'kubeconfig');
    const internalKubeconfig = join(dir, 'kubeconfig.internal');
    writeFileSync(kubeconfig, cluster.kubeconfig, { mode: 0o600 });
    writeFileSync(internalKubeconfig, cluster.internalKubeconfig, { mode: 0o600 });
    return { cluster, dir, registry, kubeconfig, internalKubeconfig, binDir };
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}

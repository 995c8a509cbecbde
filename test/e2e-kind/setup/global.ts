/**
 * Global setup of the `e2e-kind` project: the kind node image, and one kind cluster (one node, started
 * through testcontainers by tools/kind/cluster.ts, as `npm run cluster:up -- --kind` starts it) that the
 * project's files share, one after another.
 *
 * - `KIND_NODE_IMAGE` set (e.g. the official `kindest/node:v1.36.x` on a machine that can pull): that image.
 * - Otherwise the offline build (tools/kind/node-image.ts), cached by the hash of its inputs.
 * - Prerequisites missing (no Docker; for the local build, no Go or debootstrap): one line saying what to
 *   install, and the suite is skipped; in CI (`CI=true`) that is an error instead.
 * - No host-wide state: several runs (other checkouts) each start their own cluster on their own network.
 *   `KIND_KEEP_CLUSTER=1` leaves the cluster running after the run (its kubeconfig in `.e2e-kind/`).
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startKindCluster } from '../../../tools/kind/cluster.ts';
import { ensureNodeImage } from '../../../tools/kind/node-image.ts';
import { registryMissing } from '../../../tools/kind/registry.ts';
import { ensureAll } from '../../../tools/manifests.ts';
import type { E2eTarget } from '../../e2e/support/target.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    kindNodeImage: string;
  }
}

const root = resolve(import.meta.dirname, '../../..');
export const KIND_STATE_DIR = join(root, '.e2e-kind');

const say = (m: string): void => {
  process.stderr.write(`[e2e-kind] ${m}\n`);
};
const ok = (cmd: string, args: string[]): boolean =>
  spawnSync(cmd, args, {
    stdio: 'ignore',
    env: { ...process.env, PATH: `/usr/sbin:/sbin:${process.env.PATH ?? ''}` },
  }).status === 0;

const NO_TARGET: E2eTarget = {
  mode: 'local',
  kubeconfig: '',
  auditLog: undefined,
  binDir: '',
  realNode: false,
};

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const skip = (why: string): undefined => {
    if (process.env.CI === 'true') throw new Error(`e2e-kind cannot run: ${why}`);
    say(`skipped: ${why}`);
    project.provide('kindNodeImage', '');
    project.provide('e2eTarget', NO_TARGET);
    return undefined;
  };
  if (!ok('docker', ['info'])) return skip('Docker is not running (install Docker, or start dockerd)');
  let image = process.env.KIND_NODE_IMAGE;
  if (!image) {
    if (!ok('go', ['version']))
      return skip(
        'no Go toolchain to build the kind node image (or set KIND_NODE_IMAGE=kindest/node:v1.36.x)',
      );
    if (!ok('which', ['debootstrap']))
      return skip(
        'no debootstrap for the node image base (apt-get install debootstrap, or set KIND_NODE_IMAGE)',
      );
    const t0 = Date.now();
    image = ensureNodeImage(say);
    say(`node image ${image} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
  }
  const noRegistry = registryMissing();
  if (noRegistry) return skip(noRegistry);
  project.provide('kindNodeImage', image);
  // The pinned upstream files (Argo CD's manifests) the suite and the image build read.
  await ensureAll();

  const { cluster, dir, registry, kubeconfig, internalKubeconfig, binDir } = await startKindCluster({
    dir: (id) => join(KIND_STATE_DIR, id),
    image,
    log: say,
  });
  project.provide('e2eTarget', {
    mode: 'local',
    kubeconfig,
    auditLog: undefined,
    binDir,
    realNode: true,
    registry: registry.pushTo,
    kind: {
      id: cluster.id,
      container: cluster.containerId,
      network: cluster.network.getName(),
      internalKubeconfig,
    },
  });
  return async () => {
    if (process.env.KIND_KEEP_CLUSTER === '1') {
      say(`KIND_KEEP_CLUSTER=1: cluster ${cluster.id} left running (kubeconfig ${kubeconfig})`);
      return;
    }
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}

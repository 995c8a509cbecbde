/**
 * Global setup of the `e2e-real-node` project: a cluster where pods really run.
 *
 * - Reuses a real-node cluster a developer started in `.e2e/` (`npm run cluster:up -- --real-node`) and
 *   leaves it running.
 * - Otherwise starts (or joins) its own in `.e2e-real-node/` — beside the KWOK cluster the `e2e` project
 *   keeps in `.e2e/`, so one `vitest run` runs both suites — and the last test run using it stops it
 *   (`E2E_KEEP_CLUSTER=1` keeps it for fast reruns). One real node per host: a run in another checkout
 *   waits (up to 20 min) for that checkout's node to stop.
 * - Prerequisites missing (not root, no containerd, no Docker…): one line saying what to install, and the
 *   suite is skipped; in CI (`CI=true`) that is an error instead.
 * - `E2E_CLUSTER=existing`: skipped (in CI too) — these tests need the local registry mirror.
 */
import { join, resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { AUDIT_POLICY, KUBE_VERSION, toolsBin } from '../../../scripts/cluster.ts';
import { ensureAll } from '../../../scripts/manifests.ts';
import {
  acquireRealNode,
  healthyRealNode,
  type RealNodeInfo,
  realNodeMissing,
} from '../../cluster/real-node/cluster.ts';
import { ensureBaseImage } from '../../cluster/real-node/images.ts';
import type { E2eTarget } from '../../e2e/support/target.ts';

const root = resolve(import.meta.dirname, '../../..');
/** Where the suite's own real node lives (the developer's, if any, is in `.e2e/`). */
export const SUITE_STATE_DIR = join(root, '.e2e-real-node');

function say(msg: string): void {
  process.stderr.write(`[e2e-real-node] ${msg}\n`);
}

export function targetOf(info: RealNodeInfo): E2eTarget {
  return {
    mode: 'local',
    kubeconfig: info.kubeconfig,
    auditLog: info.auditLog,
    binDir: info.binDir,
    realNode: true,
    registry: info.registry,
  };
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  // The pinned upstream files the suite and the image build read: cached outside the repository.
  await ensureAll();
  const skip = (why: string, evenInCI = false) => {
    if (process.env.CI === 'true' && !evenInCI) throw new Error(`e2e-real-node cannot run: ${why}`);
    say(`skipped: ${why}`);
    project.provide('e2eTarget', {
      mode: 'local',
      kubeconfig: '',
      auditLog: undefined,
      binDir: '',
      realNode: false,
    });
    return undefined;
  };
  if ((process.env.E2E_CLUSTER ?? 'local') !== 'local') {
    // A choice, not a missing prerequisite: skipped in CI too.
    return skip(
      'E2E_CLUSTER=existing: the real-node tests need the local cluster and its registry mirror',
      true,
    );
  }
  const missing = realNodeMissing();
  if (missing) return skip(missing);

  const t0 = Date.now();
  ensureBaseImage(say);
  const devCluster = await healthyRealNode(join(root, '.e2e'));
  let release: ((opts?: { keep?: boolean }) => Promise<void>) | undefined;
  let info: RealNodeInfo;
  if (devCluster) {
    info = devCluster;
    say(`using the real-node cluster in .e2e (${info.kubeconfig})`);
  } else {
    // Another checkout's real node (one per host) is usually a test run about to finish: wait for it.
    const acquired = await acquireRealNode({
      stateDir: SUITE_STATE_DIR,
      binDir: toolsBin(),
      kubeVersion: KUBE_VERSION,
      auditPolicy: AUDIT_POLICY,
      waitForHostMs: 20 * 60_000,
      log: say,
    });
    info = acquired.info;
    release = acquired.release;
  }
  say(`ready in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  project.provide('e2eTarget', targetOf(info));

  // The suite's own cluster stops when the last test run using it ends (E2E_KEEP_CLUSTER=1 keeps it).
  return async () => {
    await release?.({ keep: process.env.E2E_KEEP_CLUSTER === '1' });
  };
}

/**
 * Global setup of the e2e project: decides which cluster the suite runs against.
 *
 * - `E2E_CLUSTER=local` (default): starts, or reuses, the project's own cluster (`npm run cluster:up`).
 * - `E2E_CLUSTER=existing`: any cluster `KUBECONFIG` points at (e.g. `kind create cluster`). Tests about
 *   the local cluster itself (its audit log, its pinned version) are skipped there; everything about the
 *   product's behaviour runs unchanged.
 */
import { existsSync } from 'node:fs';
import { delimiter } from 'node:path';
import type { TestProject } from 'vitest/node';
import { toolsBin } from '../../../tools/cluster/bin.ts';
import { up } from '../../../tools/cluster/local.ts';
import { ensureAll } from '../../../tools/manifests.ts';
import type { E2eTarget } from '../support/target.ts';

export default async function setup(project: TestProject): Promise<void> {
  // The pinned upstream files the suite reads (Argo CD's manifests, Istio's CRDs): cached outside the repo.
  await ensureAll();
  const mode = process.env.E2E_CLUSTER ?? 'local';
  let target: E2eTarget;
  if (mode === 'local') {
    const info = up();
    target = {
      mode,
      kubeconfig: info.kubeconfig,
      auditLog: info.auditLog,
      binDir: info.binDir,
      realNode: false,
    };
  } else if (mode === 'existing') {
    const kubeconfig = process.env.KUBECONFIG;
    if (!kubeconfig || !existsSync(kubeconfig.split(delimiter)[0]!)) {
      throw new Error('E2E_CLUSTER=existing needs KUBECONFIG pointing at the cluster to test');
    }
    // kubectl and helm: the pinned builds (a warm cache is instant) unless the user has their own on PATH.
    target = {
      mode,
      kubeconfig,
      auditLog: undefined,
      binDir: process.env.E2E_BIN_DIR ?? toolsBin(),
      realNode: false,
    };
  } else {
    throw new Error(`E2E_CLUSTER must be "local" or "existing", got "${mode}"`);
  }
  project.provide('e2eTarget', target);
}

declare module 'vitest' {
  export interface ProvidedContext {
    e2eTarget: E2eTarget;
  }
}

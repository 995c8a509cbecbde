import type { ObjectChange } from '../kube/types.ts';
import { countChanges, removedOf, updatedObjects } from './changes.ts';
import type { Check, ReadinessReport } from './types.ts';

/** `ready` is true when every required check is ready (a report without required checks is ready). */
export function buildReport(input: {
  checks: readonly Check[];
  changes: readonly ObjectChange[];
  argocd: ReadinessReport['argocd'];
  seldonDeploy?: ReadinessReport['seldonDeploy'];
  images?: readonly string[];
  startedAt: Date;
  finishedAt: Date;
}): ReadinessReport {
  return {
    kind: 'ReadinessReport',
    version: 1,
    ready: input.checks.every((c) => c.ready || !c.required),
    generatedAt: input.finishedAt.toISOString(),
    durationMs: Math.max(0, input.finishedAt.getTime() - input.startedAt.getTime()),
    argocd: { ...input.argocd },
    changes: countChanges(input.changes),
    updated: updatedObjects(input.changes),
    ...(input.seldonDeploy ? { seldonDeploy: input.seldonDeploy } : {}),
    ...(input.images?.length ? { images: [...input.images] } : {}),
    ...removedOf(input.changes),
    checks: input.checks.map((c) => ({ id: c.id, ready: c.ready, required: c.required, message: c.message })),
  };
}

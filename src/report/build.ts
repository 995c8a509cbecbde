import { describeRef } from '../kube/objects.ts';
import type { ObjectChange } from '../kube/types.ts';
import type { ChangeCounts, Check, ReadinessReport } from './types.ts';

export function countChanges(changes: readonly ObjectChange[]): ChangeCounts {
  const counts: ChangeCounts = { created: 0, updated: 0, unchanged: 0, deleted: 0 };
  for (const change of changes) counts[change.action]++;
  return counts;
}

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

/** `Kind namespace/name (field, field)` of each updated object, once each, in the order applied. */
export function updatedObjects(changes: readonly ObjectChange[]): string[] {
  const out = new Map<string, Set<string>>();
  for (const c of changes) {
    if (c.action !== 'updated') continue;
    const name = describeRef(c.ref);
    const fields = out.get(name) ?? new Set<string>();
    for (const f of c.fields ?? []) fields.add(f);
    out.set(name, fields);
  }
  return [...out].map(([name, fields]) => (fields.size ? `${name} (${[...fields].join(', ')})` : name));
}

/** The removals of a run, one sentence each (absent when there were none). */
function removedOf(changes: readonly ObjectChange[]): { removed?: string[] } {
  const removed = changes
    .filter((c) => c.removal && c.action !== 'unchanged')
    .map((c) => `${describeRef(c.ref)}: ${c.action}${c.note ? ` (${c.note})` : ''}`);
  return removed.length > 0 ? { removed } : {};
}

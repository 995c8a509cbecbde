/**
 * A run's changes, counted and said: the counts (report, plan), a step's progress line, the report's
 * updated and removed objects, and the output of `plan` (what an apply would do, object by object, from
 * server-side dry-runs). The one module that counts and formats changes.
 */
import { describeRef } from '../kube/objects.ts';
import type { ObjectChange } from '../kube/types.ts';
import type { ChangeCounts } from './types.ts';

export function countChanges(changes: readonly ObjectChange[]): ChangeCounts {
  const counts: ChangeCounts = { created: 0, updated: 0, unchanged: 0, deleted: 0 };
  for (const change of changes) counts[change.action]++;
  return counts;
}

/** `3 created, 1 updated, 50 unchanged` (plan: `3 to create, …`), or `` when nothing was applied. */
export function describeChanges(changes: readonly ObjectChange[], mode: string): string {
  const n = { created: 0, updated: 0, unchanged: 0, deleted: 0 };
  for (const c of changes) n[c.action]++;
  const parts =
    mode === 'plan'
      ? [
          [n.deleted, 'to delete'],
          [n.created, 'to create'],
          [n.updated, 'to update'],
          [n.unchanged, 'unchanged'],
        ]
      : [
          [n.deleted, 'deleted'],
          [n.created, 'created'],
          [n.updated, 'updated'],
          [n.unchanged, 'unchanged'],
        ];
  return parts
    .filter(([count]) => (count as number) > 0)
    .map(([count, word]) => `${count} ${word}`)
    .join(', ');
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
export function removedOf(changes: readonly ObjectChange[]): { removed?: string[] } {
  const removed = changes
    .filter((c) => c.removal && c.action !== 'unchanged')
    .map((c) => `${describeRef(c.ref)}: ${c.action}${c.note ? ` (${c.note})` : ''}`);
  return removed.length > 0 ? { removed } : {};
}

const SYMBOL = { created: '+', updated: '~', unchanged: '=', deleted: '-' } as const;
const VERB = { created: 'create', updated: 'update', unchanged: 'unchanged', deleted: 'delete' } as const;

function planLine(change: ObjectChange): string {
  const fields = change.action === 'updated' && change.fields?.length ? ` (${change.fields.join(', ')})` : '';
  const note = change.note ? ` — ${change.note}` : '';
  return `${SYMBOL[change.action]} ${VERB[change.action].padEnd(9)} ${describeRef(change.ref, { group: true })}${fields}${note}`;
}

/**
 * Removals first, under their own heading (what leaves the config is what a reader must not miss), then
 * `+ create`, `~ update (fields…)`, `= unchanged`, one line per object, then a summary line.
 */
export function formatPlan(changes: readonly ObjectChange[], images?: readonly string[]): string {
  const removals = changes.filter((c) => c.removal || c.action === 'deleted');
  const rest = changes.filter((c) => !(c.removal || c.action === 'deleted'));
  const lines: string[] = [];
  if (removals.length > 0) {
    lines.push(
      `Removals (no longer in the configuration): ${removals.length}`,
      ...removals.map(planLine),
      '',
    );
  }
  lines.push(...rest.map(planLine));
  // What the run pulls, so a site knows what to mirror (`images` prints only this list); the summary stays last.
  if (images?.length) lines.push('', `Images (${images.length}):`, ...images.map((i) => `  ${i}`));
  const { created, updated, unchanged, deleted } = countChanges(changes);
  lines.push(
    '',
    `Plan: ${deleted > 0 ? `${deleted} to delete, ` : ''}${created} to create, ${updated} to update, ${unchanged} unchanged.`,
  );
  return `${lines.join('\n')}\n`;
}

/** `--output json`: a versioned document (like the report) so fields can be added without breaking readers. */
export interface PlanDocument {
  kind: 'Plan';
  version: 1;
  summary: { created: number; updated: number; unchanged: number; deleted: number };
  changes: readonly ObjectChange[];
  /** The container images the run needs (see ReadinessReport.images). */
  images?: string[];
}

export function planJson(changes: readonly ObjectChange[], images?: readonly string[]): string {
  // Removals first, as in the text.
  const ordered = [
    ...changes.filter((c) => c.removal || c.action === 'deleted'),
    ...changes.filter((c) => !(c.removal || c.action === 'deleted')),
  ];
  const doc: PlanDocument = {
    kind: 'Plan',
    version: 1,
    summary: countChanges(changes),
    changes: ordered,
    ...(images?.length ? { images: [...images] } : {}),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

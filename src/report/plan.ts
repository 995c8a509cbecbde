/** The output of `plan`: what an apply would do, object by object, from server-side dry-runs. */
import { describeRef } from '../kube/objects.ts';
import type { ObjectChange } from '../kube/types.ts';
import { countChanges } from './build.ts';

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

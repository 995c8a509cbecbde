/** The output of `plan`: what an apply would do, object by object, from server-side dry-runs. */
import { describeRef } from '../kube/objects.ts';
import type { ObjectChange } from '../kube/types.ts';
import { countChanges } from './build.ts';

const SYMBOL = { created: '+', updated: '~', unchanged: '=' } as const;
const VERB = { created: 'create', updated: 'update', unchanged: 'unchanged' } as const;

/** `+ create`, `~ update (fields…)`, `= unchanged`, one line per object, then a summary line. */
export function formatPlan(changes: readonly ObjectChange[]): string {
  const lines = changes.map((change) => {
    const fields =
      change.action === 'updated' && change.fields?.length ? ` (${change.fields.join(', ')})` : '';
    const note = change.note ? ` — ${change.note}` : '';
    return `${SYMBOL[change.action]} ${VERB[change.action].padEnd(9)} ${describeRef(change.ref, { group: true })}${fields}${note}`;
  });
  const { created, updated, unchanged } = countChanges(changes);
  lines.push('', `Plan: ${created} to create, ${updated} to update, ${unchanged} unchanged.`);
  return `${lines.join('\n')}\n`;
}

/** `--output json`: a versioned document (like the report) so fields can be added without breaking readers. */
export interface PlanDocument {
  kind: 'Plan';
  version: 1;
  summary: { created: number; updated: number; unchanged: number };
  changes: readonly ObjectChange[];
}

export function planJson(changes: readonly ObjectChange[]): string {
  const doc: PlanDocument = { kind: 'Plan', version: 1, summary: countChanges(changes), changes };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

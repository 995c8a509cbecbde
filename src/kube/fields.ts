/**
 * Server-side apply's field ownership (`metadata.managedFields[].fieldsV1`), read locally: which part of a
 * live object a field manager owns, and whether applying an object would change nothing — so a re-run that
 * finds everything as it applied it last sends no PATCH at all.
 */
import { isDeepStrictEqual } from 'node:util';
import type { KubeObject } from './types.ts';

const isMap = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** A fieldsV1 node with no children but `.`: the whole value is owned. */
const isLeaf = (node: unknown) => !isMap(node) || Object.keys(node).every((k) => k === '.');

/** The part of `value` that the fieldsV1 tree `fields` names (`f:` keys, `k:` list items, `v:` set values). */
export function projectFields(value: unknown, fields: unknown): unknown {
  if (isLeaf(fields)) return structuredClone(value);
  const tree = fields as FieldsV1;
  if (Array.isArray(value)) {
    // Items in the live order: the order of an applied list is the order the next apply keeps.
    const keyed = Object.entries(tree)
      .filter(([k]) => k.startsWith('k:'))
      .map(([k, sub]) => ({ key: JSON.parse(k.slice(2)) as Record<string, unknown>, sub }));
    const sets = new Set(Object.keys(tree).filter((k) => k.startsWith('v:')));
    const out: unknown[] = [];
    value.forEach((item, index) => {
      const match = keyed.find(
        ({ key }) => isMap(item) && Object.entries(key).every(([kk, vv]) => isDeepStrictEqual(item[kk], vv)),
      );
      if (match) out.push({ ...match.key, ...(projectFields(item, match.sub) as Record<string, unknown>) });
      else if (sets.has(`v:${JSON.stringify(item)}`)) out.push(structuredClone(item));
      else if (`i:${index}` in tree) out.push(projectFields(item, tree[`i:${index}`]));
    });
    return out;
  }
  if (!isMap(value)) return structuredClone(value);
  const out: Record<string, unknown> = {};
  for (const [k, sub] of Object.entries(tree)) {
    if (!k.startsWith('f:')) continue;
    const name = k.slice(2);
    if (name in value) out[name] = projectFields(value[name], sub);
  }
  return out;
}

interface OwnerEntry {
  manager?: string;
  operation?: string;
  subresource?: string;
  apiVersion?: string;
  fieldsV1?: FieldsV1;
}

type FieldsV1 = Record<string, unknown>;

/** Without what changes nothing when applied: `null` (server-side apply drops it) and empty maps. */
function normalise(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalise);
  if (!isMap(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === null || v === undefined) continue;
    const n = normalise(v);
    if (isMap(n) && Object.keys(n).length === 0) continue;
    out[k] = n;
  }
  return out;
}

const isEmpty = (v: unknown) => v === undefined || (isMap(v) && Object.keys(v).length === 0);

/**
 * `desired` (normalised) holds with its values in `live`, which may have more: inside a value owned whole
 * (an atomic struct or list) the server adds defaults (`protocol: TCP`, `fieldRef.apiVersion: v1`).
 */
function holds(live: unknown, desired: unknown): boolean {
  if (Array.isArray(desired)) {
    return (
      Array.isArray(live) && live.length === desired.length && desired.every((d, i) => holds(live[i], d))
    );
  }
  if (isMap(desired)) {
    return isMap(live) && Object.entries(desired).every(([k, v]) => holds(live[k], v));
  }
  return isDeepStrictEqual(live, desired);
}

/**
 * The part of `live` that `fields` says the manager owns is exactly `desired` (normalised): the same owned
 * fields — none the apply would add, none it would remove — with the same values.
 */
function ownedIs(live: unknown, fields: unknown, desired: unknown): boolean {
  if (isLeaf(fields)) return holds(live, desired);
  const tree = fields as FieldsV1;
  if (Array.isArray(live)) {
    if (!Array.isArray(desired)) return false;
    // The owned items in the live order, each with what of it is owned; the apply keeps that order.
    const keyed = Object.entries(tree)
      .filter(([k]) => k.startsWith('k:'))
      .map(([k, sub]) => ({ key: JSON.parse(k.slice(2)) as Record<string, unknown>, sub }));
    const owned: { item: unknown; sub: unknown }[] = [];
    live.forEach((item, index) => {
      const match = keyed.find(
        ({ key }) => isMap(item) && Object.entries(key).every(([kk, vv]) => isDeepStrictEqual(item[kk], vv)),
      );
      if (match) owned.push({ item, sub: match.sub });
      else if (`v:${JSON.stringify(item)}` in tree) owned.push({ item, sub: {} });
      else if (`i:${index}` in tree) owned.push({ item, sub: tree[`i:${index}`] });
    });
    return (
      owned.length === desired.length && owned.every(({ item, sub }, i) => ownedIs(item, sub, desired[i]))
    );
  }
  if (!isMap(live)) return false;
  const want = isMap(desired) ? desired : {};
  const ownedKeys = new Set<string>();
  for (const [k, sub] of Object.entries(tree)) {
    if (!k.startsWith('f:') || !(k.slice(2) in live)) continue;
    const name = k.slice(2);
    ownedKeys.add(name);
    if (!(name in want)) {
      // Owned but not sent: the apply would remove it, unless it is empty anyway.
      if (!isEmpty(normalise(projectFields(live[name], sub)))) return false;
    } else if (!ownedIs(live[name], sub, want[name])) return false;
  }
  return Object.keys(want).every((k) => ownedKeys.has(k));
}

/**
 * True when a server-side apply of `body` by `manager` would change nothing in `live`: the manager's Apply
 * entry (same apiVersion) owns exactly the fields of `body`, and `live` holds `body`'s values in them. Then
 * the apply would neither set a value nor remove a field the manager applied before. Anything this cannot
 * tell (another version, a value the server normalises, list order) answers false: the PATCH is sent, and
 * the server decides, as without this check.
 */
export function appliesNothing(live: KubeObject, body: KubeObject, manager: string): boolean {
  const entries = (live.metadata.managedFields ?? []) as OwnerEntry[];
  const own = entries.filter((e) => e.manager === manager && e.operation === 'Apply' && !e.subresource);
  if (own.length !== 1 || own[0]!.apiVersion !== body.apiVersion || !own[0]!.fieldsV1) return false;
  const { apiVersion: _a, kind: _k, ...rest } = body;
  const { name: _n, namespace: _ns, ...metadata } = body.metadata;
  return ownedIs(live, own[0]!.fieldsV1, normalise({ ...rest, metadata }));
}

/**
 * Whether `manager`'s Apply entry owns the label `key` of `live` (`f:metadata` → `f:labels` → `f:<key>`):
 * the label is there because this program applied it, not because a person or another tool set it.
 */
export function ownsLabel(live: KubeObject, manager: string, key: string): boolean {
  const entries = (live.metadata.managedFields ?? []) as OwnerEntry[];
  return entries.some((e) => {
    if (e.manager !== manager || e.operation !== 'Apply' || e.subresource) return false;
    const labels = (e.fieldsV1?.['f:metadata'] as FieldsV1 | undefined)?.['f:labels'] as FieldsV1 | undefined;
    return labels !== undefined && `f:${key}` in labels;
  });
}

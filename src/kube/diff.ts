/**
 * Pure comparison of two Kubernetes objects, for `plan` (server-side dry-run result vs. live object) and for
 * naming the fields an apply changed. Output is a list of dot paths, never values, so it is safe for Secrets.
 */

type Json = unknown;

/**
 * Fields the API server owns. They differ between any two reads of the same object, so they are dropped
 * before comparing: a plan must say "unchanged" when only these moved.
 */
const SERVER_METADATA = [
  'managedFields',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'uid',
  'selfLink',
] as const;

/** A copy of `obj` without `status` and the server-owned metadata listed above. */
export function stripServerFields<T>(obj: T): T {
  if (!isPlainObject(obj)) return obj;
  const copy: Record<string, Json> = { ...obj };
  delete copy.status;
  if (isPlainObject(copy.metadata)) {
    const metadata: Record<string, Json> = { ...copy.metadata };
    for (const key of SERVER_METADATA) delete metadata[key];
    copy.metadata = metadata;
  }
  return copy as T;
}

/** When a whole subtree exists on one side only, list its leaves if there are at most this many. */
const MAX_LEAVES_OF_ADDED_SUBTREE = 3;

/**
 * Dot paths of the fields that differ between `before` and `after` (both already normalised), sorted.
 * Map keys are joined with `.` as they are (`metadata.labels.seldon.gitops`, `data.server.rootpath`).
 * Arrays: lists whose items all carry a unique `name` (containers, env, ports) are matched by name
 * (`spec.template.spec.containers[argocd-server].image`); other arrays of equal length by index
 * (`spec.sourceRepos[1]`); arrays whose length or order changed are reported as a whole.
 */
export function diffPaths(before: Json, after: Json): string[] {
  const out: string[] = [];
  walk(before, after, '', out);
  return [...new Set(out)].sort();
}

/** Changed dot paths between a live object and a desired/dry-run one, server-owned fields ignored. */
export function diffObjects(live: Json, desired: Json): string[] {
  return diffPaths(stripServerFields(live), stripServerFields(desired));
}

function walk(a: Json, b: Json, path: string, out: string[]): void {
  if (a === b) return;
  if (isPlainObject(a) && isPlainObject(b)) {
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const child = join(path, key);
      if (!(key in a)) added(b[key], child, out);
      else if (!(key in b)) added(a[key], child, out);
      else walk(a[key], b[key], child, out);
    }
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    const namesA = itemNames(a);
    const namesB = itemNames(b);
    if (namesA && namesB) {
      const sameOrder =
        namesA.filter((n) => namesB.includes(n)).join('\0') ===
        namesB.filter((n) => namesA.includes(n)).join('\0');
      if (!sameOrder) {
        out.push(path);
        return;
      }
      const byName = (list: Json[]) => new Map(list.map((item) => [(item as { name: string }).name, item]));
      const mapA = byName(a);
      const mapB = byName(b);
      for (const name of new Set([...namesA, ...namesB])) {
        const child = `${path}[${name}]`;
        if (!mapA.has(name)) out.push(child);
        else if (!mapB.has(name)) out.push(child);
        else walk(mapA.get(name), mapB.get(name), child, out);
      }
      return;
    }
    if (a.length !== b.length) {
      out.push(path);
      return;
    }
    a.forEach((item, i) => {
      walk(item, b[i], `${path}[${i}]`, out);
    });
    return;
  }
  out.push(path);
}

/** A subtree present on one side only: its leaves when there are few, else the subtree itself. */
function added(value: Json, path: string, out: string[]): void {
  if (isPlainObject(value)) {
    const leaves: string[] = [];
    collectLeaves(value, path, leaves, MAX_LEAVES_OF_ADDED_SUBTREE + 1);
    if (leaves.length > 0 && leaves.length <= MAX_LEAVES_OF_ADDED_SUBTREE) {
      out.push(...leaves);
      return;
    }
  }
  out.push(path);
}

function collectLeaves(value: Json, path: string, out: string[], limit: number): void {
  if (out.length >= limit) return;
  if (isPlainObject(value) && Object.keys(value).length > 0) {
    for (const [key, child] of Object.entries(value)) collectLeaves(child, join(path, key), out, limit);
    return;
  }
  out.push(path);
}

function itemNames(list: Json[]): string[] | null {
  if (list.length === 0) return null;
  const names: string[] = [];
  for (const item of list) {
    if (!isPlainObject(item) || typeof item.name !== 'string') return null;
    names.push(item.name);
  }
  return new Set(names).size === names.length ? names : null;
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

export function isPlainObject(value: unknown): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

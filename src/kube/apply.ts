/**
 * Server-side apply as a raw PATCH. Not KubernetesObjectApi: with plain objects its serializer drops every
 * field its generated models do not know (kubernetes-client/javascript#2962) — CRD schemas lose
 * `x-kubernetes-preserve-unknown-fields`, NetworkPolicies lose `ingress[].from` and silently allow all.
 * Here the object goes to the server byte for byte as the manifest has it.
 */
import { ApiError } from '../errors.ts';
import { diffObjects } from './diff.ts';
import { type Discovery, type ResourceInfo, resourcePath, splitApiVersion } from './discovery.ts';
import { appliesNothing, ownsLabel } from './fields.ts';
import { describeRef, refOf } from './objects.ts';
import { crdEstablished } from './status.ts';
import type { ApplyOptions, Kube, KubeObject, ObjectChange, ObjectRef } from './types.ts';
import { waitFor } from './wait.ts';

export const FIELD_MANAGER = 'sd-gitops-bootstrap';

/** `application/apply-patch+yaml`: the body is JSON, which is valid YAML. */
export const APPLY_PATCH_CONTENT_TYPE = 'application/apply-patch+yaml';

/** KEP-3659's member label (src/manifests/inventory.ts builds the parent). */
export const PART_OF = 'applyset.kubernetes.io/part-of';

/** Set on an object created for a run (by the chart, before the run) that the run should own as if it had. */
export const CREATED_FOR = 'sd-gitops-bootstrap/created-for';

export const NOTE_NO_CRD = 'its CRD does not exist yet; cannot dry-run';

export interface ApplyContext {
  request: Kube['request'];
  discovery: Discovery;
  /** How long applyAll waits for CRDs to become Established (default 60 s). */
  crdTimeoutMs?: number;
  crdIntervalMs?: number;
}

export type ApplyResult = ObjectChange & { object: KubeObject | null };

/** The body to send: the object unchanged, except what the server would refuse or the scope forbids. */
function prepare(obj: KubeObject, info: ResourceInfo): KubeObject {
  const metadata = { ...obj.metadata };
  delete metadata.managedFields; // the server rejects an apply that carries managedFields
  if (!info.namespaced) delete metadata.namespace;
  else if (!metadata.namespace) {
    // Never fall back to the context's namespace: Argo CD's manifest has no namespaces, and installing it
    // into "default" by accident is worse than failing.
    throw new Error(`${describeRef(refOf(obj))} is namespaced but has no metadata.namespace`);
  }
  return { ...obj, metadata };
}

async function getOrNull(ctx: ApplyContext, path: string): Promise<KubeObject | null> {
  try {
    return await ctx.request<KubeObject>('GET', path);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
}

/**
 * The object's place in the ApplySet `partOf`: whether it is (to be) a member, and the part-of label the
 * apply must carry (none: the body leaves the label out).
 * - Absent, so this apply creates it: a member (`adopt`).
 * - Labelled with `partOf`: a member.
 * - (`adopt`) Annotated as created for this run (`CREATED_FOR`: the chart's hook that creates Argo CD's
 *   namespace before the run): as good as created by it, a member.
 * - (`adopt`) Labelled with another ApplySet by this program's own field manager — created by this program
 *   for another inventory (a run from another namespace, a release installed again elsewhere). Applying
 *   without that label would silently remove it (the field manager owns it), leaving the object in no
 *   inventory at all. A namespaced object is taken over (a member, relabelled); a cluster-scoped one (a CRD,
 *   Argo CD's ClusterRoles) is shared by every install in the cluster, so it keeps the other inventory's
 *   label and is not a member: this release's uninstall never deletes what another release uses.
 * - A part-of label anyone else set is left alone, and the object is not a member.
 */
function membership(
  live: KubeObject | null,
  partOf: string,
  adopt: boolean,
  fieldManager: string,
  createdFor: string | undefined,
): { member: boolean; label?: string } {
  const member = { member: true, label: partOf };
  if (live === null) return adopt ? member : { member: false };
  const label = live.metadata.labels?.[PART_OF];
  if (label === partOf) return member;
  if (!adopt) return { member: false };
  if (createdFor !== undefined && live.metadata.annotations?.[CREATED_FOR] === createdFor) return member;
  if (label === undefined || !ownsLabel(live, fieldManager, PART_OF)) return { member: false };
  return live.metadata.namespace !== undefined ? member : { member: false, label };
}

interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  subresource?: string;
  fieldsV1?: unknown;
}

function ownEntry(obj: KubeObject, fieldManager: string): string {
  const entries = (obj.metadata.managedFields ?? []) as ManagedFieldsEntry[];
  const mine = entries.find((e) => e.manager === fieldManager && e.operation === 'Apply' && !e.subresource);
  return JSON.stringify(mine ?? null);
}

/**
 * Server-side apply of one object (field manager `sd-gitops-bootstrap`, conflicts forced, strict field
 * validation). The live object is read first (or given, from a LIST): absent → `created`; holding exactly
 * what this manager would apply (`appliesNothing`) → `unchanged`, and no PATCH is sent. After a real apply the object is
 * `unchanged` iff its resourceVersion did not move. When it moved, it is still `unchanged` if neither
 * the object (status and server fields aside) nor our managedFields entry changed: the move was another
 * writer's, typically a controller updating status between our GET and PATCH.
 * In dry-run the server's answer is compared with the live object, server-owned fields dropped.
 */
export async function applyObject(
  ctx: ApplyContext,
  obj: KubeObject,
  opts: ApplyOptions = {},
  /** The live object when the caller already read it (a LIST): null for absent, undefined to GET it. */
  prefetched?: KubeObject | null,
): Promise<ApplyResult> {
  const fieldManager = opts.fieldManager ?? FIELD_MANAGER;
  const dryRun = opts.dryRun === true;
  // A real apply of an unknown kind fails with a sentence naming it; a plan notes it and goes on.
  const info = dryRun
    ? await ctx.discovery.resolve(obj.apiVersion, obj.kind)
    : await ctx.discovery.require(obj);
  if (!info) return { ref: refOf(obj), action: 'created', note: NOTE_NO_CRD, object: null };
  const prepared = prepare(obj, info);
  const ref = refOf(prepared);
  const path = resourcePath(info, prepared.metadata.namespace, prepared.metadata.name);
  const live = prefetched !== undefined ? prefetched : await getOrNull(ctx, path);
  const { member, label } =
    opts.partOf !== undefined
      ? membership(live, opts.partOf, !opts.partOfKeepOnly, fieldManager, opts.createdFor)
      : { member: false, label: undefined };
  const body =
    label !== undefined
      ? {
          ...prepared,
          metadata: { ...prepared.metadata, labels: { ...prepared.metadata.labels, [PART_OF]: label } },
        }
      : prepared;
  const tag = member ? { member: true } : {};
  // Already as this manager applied it: the PATCH would change nothing, so it is not sent (nor dry-run).
  if (live !== null && appliesNothing(live, body, fieldManager)) {
    return { ref, action: 'unchanged', fields: [], ...tag, object: live };
  }

  let result: KubeObject;
  try {
    result = await ctx.request<KubeObject>('PATCH', path, {
      body,
      contentType: APPLY_PATCH_CONTENT_TYPE,
      query: { fieldManager, force: 'true', fieldValidation: 'Strict', dryRun: dryRun ? 'All' : undefined },
    });
  } catch (err) {
    // A dry-run into a namespace this same plan would create cannot be evaluated by the server.
    const ns = body.metadata.namespace;
    if (
      dryRun &&
      live === null &&
      ns &&
      err instanceof ApiError &&
      err.status === 404 &&
      err.message.includes(`namespaces "${ns}" not found`)
    ) {
      return {
        ref,
        action: 'created',
        note: `namespace ${ns} does not exist yet; cannot dry-run`,
        object: null,
      };
    }
    throw err;
  }

  if (live === null) return { ref, action: 'created', ...tag, object: result };
  if (dryRun) {
    const fields = redactFields(ref, diffObjects(live, result));
    return { ref, action: fields.length > 0 ? 'updated' : 'unchanged', fields, ...tag, object: result };
  }
  if (result.metadata.resourceVersion === live.metadata.resourceVersion) {
    return { ref, action: 'unchanged', fields: [], ...tag, object: result };
  }
  const fields = redactFields(ref, diffObjects(live, result));
  const ownershipMoved = ownEntry(live, fieldManager) !== ownEntry(result, fieldManager);
  if (fields.length === 0 && !ownershipMoved)
    return { ref, action: 'unchanged', fields: [], ...tag, object: result };
  return {
    ref,
    action: 'updated',
    fields: fields.length > 0 ? fields : ['metadata.managedFields'],
    ...tag,
    object: result,
  };
}

/**
 * Paths are names, never values; for Secrets make sure nothing below a key name can appear
 * (`data.password`, not `data.password[0]`), whatever shape a diff takes.
 */
function redactFields(ref: ObjectRef, fields: string[]): string[] {
  if (ref.kind !== 'Secret' || ref.apiVersion !== 'v1') return fields;
  return [
    ...new Set(
      fields.map((f) => {
        const m = /^(data|stringData)\.(.+?)(\[.*)?$/.exec(f);
        return m ? `${m[1]}.${m[2]}` : f;
      }),
    ),
  ];
}

function isFirstStage(obj: KubeObject): boolean {
  return (
    (obj.kind === 'CustomResourceDefinition' &&
      splitApiVersion(obj.apiVersion).group === 'apiextensions.k8s.io') ||
    (obj.kind === 'Namespace' && obj.apiVersion === 'v1')
  );
}

/**
 * Apply in two stages, like Flux: CustomResourceDefinitions and Namespaces first, then (for a real apply)
 * wait until every applied CRD is Established and discovery serves its kind, then everything else; within a
 * stage a few objects at a time, the changes in the given order. Stops at the first failure. In dry-run, custom resources whose CRD does not exist yet are
 * reported as `created` with a note instead of failing.
 */
export async function applyObjects(
  ctx: ApplyContext,
  objs: KubeObject[],
  opts: ApplyOptions = {},
): Promise<ObjectChange[]> {
  const first = objs.filter(isFirstStage);
  const rest = objs.filter((o) => !isFirstStage(o));
  const changes: ObjectChange[] = [];
  const strip = ({ object: _object, ...change }: ApplyResult): ObjectChange => change;

  const firstResults: ApplyResult[] = [];
  firstResults.push(...(await inParallel(first, (obj) => applyObject(ctx, obj, opts))));
  changes.push(...firstResults.map(strip));
  if (!opts.dryRun) {
    for (const [i, crd] of first.entries()) {
      if (crd.kind !== 'CustomResourceDefinition') continue;
      // Unchanged and already Established (as just read): only discovery is left to check.
      const seen = firstResults[i]!;
      await waitForCrd(ctx, crd, seen.action === 'unchanged' ? (seen.object ?? undefined) : undefined);
    }
  }
  const live = await listLive(ctx, rest, opts);
  const results = await inParallel(rest, (obj) => applyObject(ctx, obj, opts, live.get(obj)));
  changes.push(...results.map(strip));
  return changes;
}

/** How many applies are in flight at once (each is one or two requests). */
const APPLY_CONCURRENCY = 8;

/**
 * `fn` over `items`, a few at a time, results in the items' order. The first failure stops new work and is
 * thrown once the ones in flight are done.
 */
export async function inParallel<T, R>(
  items: T[],
  fn: (item: T) => Promise<R>,
  limit = APPLY_CONCURRENCY,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let failed: { err: unknown } | undefined;
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!);
      } catch (err) {
        failed ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed) throw failed.err;
  return results;
}

/**
 * Kinds never LISTed: each object is read by name. RBAC may grant them by name only (the chart does), and a
 * LIST of Secrets would read every Secret of the namespace.
 */
const READ_BY_NAME = new Set([
  '/Secret',
  '/Namespace',
  'apiextensions.k8s.io/CustomResourceDefinition',
  'rbac.authorization.k8s.io/ClusterRole',
  'rbac.authorization.k8s.io/ClusterRoleBinding',
  'rbac.authorization.k8s.io/Role',
  'rbac.authorization.k8s.io/RoleBinding',
]);

/**
 * The live objects of `objs`, one LIST per kind and namespace where two or more objects share them
 * (instead of a GET each): a no-op run's reads grow with the number of kinds, not of objects. A kind whose
 * LIST is refused or not served is left to `applyObject`'s GET (absent from the map).
 */
async function listLive(
  ctx: ApplyContext,
  objs: KubeObject[],
  opts: ApplyOptions,
): Promise<Map<KubeObject, KubeObject | null>> {
  const groups = new Map<string, { info: ResourceInfo; namespace: string | undefined; objs: KubeObject[] }>();
  for (const obj of objs) {
    const { group } = splitApiVersion(obj.apiVersion);
    if (READ_BY_NAME.has(`${group}/${obj.kind}`)) continue;
    const info = opts.dryRun
      ? await ctx.discovery.resolve(obj.apiVersion, obj.kind)
      : await ctx.discovery.require(obj);
    if (!info) continue;
    const namespace = info.namespaced ? obj.metadata.namespace : undefined;
    const key = `${info.group}/${info.version}/${info.plural}/${namespace ?? ''}`;
    const g = groups.get(key) ?? { info, namespace, objs: [] };
    g.objs.push(obj);
    groups.set(key, g);
  }
  const out = new Map<KubeObject, KubeObject | null>();
  for (const { info, namespace, objs: members } of groups.values()) {
    if (members.length < 2 || (info.namespaced && !namespace)) continue;
    let items: KubeObject[];
    try {
      items = await listAll(ctx, resourcePath(info, namespace));
    } catch (err) {
      if (err instanceof ApiError && (err.status === 403 || err.status === 404 || err.status === 405))
        continue;
      throw err;
    }
    const byName = new Map(items.map((item) => [item.metadata.name, item]));
    for (const obj of members) {
      const item = byName.get(obj.metadata.name);
      // Items of a list carry no apiVersion and kind: put them back.
      out.set(obj, item ? { ...item, apiVersion: obj.apiVersion, kind: obj.kind } : null);
    }
  }
  return out;
}

async function listAll(ctx: ApplyContext, path: string): Promise<KubeObject[]> {
  const items: KubeObject[] = [];
  let token: string | undefined;
  do {
    const page = await ctx.request<{ items?: KubeObject[]; metadata?: { continue?: string } }>('GET', path, {
      query: { limit: '500', continue: token },
    });
    items.push(...(page.items ?? []));
    token = page.metadata?.continue || undefined;
  } while (token);
  return items;
}

interface CrdSpec {
  group?: string;
  names?: { kind?: string };
  versions?: { name: string; served?: boolean }[];
}

/** Until the CRD is Established and discovery lists its kind in every served version. */
export async function waitForCrd(ctx: ApplyContext, crd: KubeObject, seen?: KubeObject): Promise<void> {
  const name = crd.metadata.name;
  const spec = (crd.spec ?? {}) as CrdSpec;
  const kind = spec.names?.kind ?? '';
  const versions = (spec.versions ?? [])
    .filter((v) => v.served !== false)
    .map((v) => `${spec.group}/${v.name}`);
  const path = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${encodeURIComponent(name)}`;
  await waitFor(
    `CustomResourceDefinition ${name} to be established`,
    async () => {
      // The first probe may use the object the caller just read.
      const live = seen ?? (await ctx.request<KubeObject>('GET', path));
      seen = undefined;
      const readiness = crdEstablished(live);
      if (!readiness.done) return readiness;
      for (const apiVersion of versions) {
        if (!(await ctx.discovery.hasKind(apiVersion, kind))) {
          return { done: false, state: `established, but ${apiVersion} ${kind} is not served yet` };
        }
      }
      return { done: true, state: 'established', value: undefined };
    },
    { timeoutMs: ctx.crdTimeoutMs ?? 60_000, intervalMs: ctx.crdIntervalMs ?? 500 },
  );
}

/**
 * Server-side apply as a raw PATCH. Not KubernetesObjectApi: with plain objects its serializer drops every
 * field its generated models do not know (kubernetes-client/javascript#2962) — CRD schemas lose
 * `x-kubernetes-preserve-unknown-fields`, NetworkPolicies lose `ingress[].from` and silently allow all.
 * Here the object goes to the server byte for byte as the manifest has it.
 */
import { ApiError } from '../errors.ts';
import { diffObjects } from './diff.ts';
import { type Discovery, type ResourceInfo, resourcePath, splitApiVersion } from './discovery.ts';
import { describeRef, refOf } from './objects.ts';
import { crdEstablished } from './status.ts';
import type { ApplyOptions, Kube, KubeObject, ObjectChange, ObjectRef } from './types.ts';
import { waitFor } from './wait.ts';

export const FIELD_MANAGER = 'sd-gitops-bootstrap';

/** `application/apply-patch+yaml`: the body is JSON, which is valid YAML. */
export const APPLY_PATCH_CONTENT_TYPE = 'application/apply-patch+yaml';

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
 * validation). The live object is read first: absent → `created`. After a real apply the object is
 * `unchanged` iff its resourceVersion did not move. When it moved, it is still `unchanged` if neither
 * the object (status and server fields aside) nor our managedFields entry changed: the move was another
 * writer's, typically a controller updating status between our GET and PATCH.
 * In dry-run the server's answer is compared with the live object, server-owned fields dropped.
 */
export async function applyObject(
  ctx: ApplyContext,
  obj: KubeObject,
  opts: ApplyOptions = {},
): Promise<ApplyResult> {
  const fieldManager = opts.fieldManager ?? FIELD_MANAGER;
  const dryRun = opts.dryRun === true;
  // A real apply of an unknown kind fails with a sentence naming it; a plan notes it and goes on.
  const info = dryRun
    ? await ctx.discovery.resolve(obj.apiVersion, obj.kind)
    : await ctx.discovery.require(obj);
  if (!info) return { ref: refOf(obj), action: 'created', note: NOTE_NO_CRD, object: null };
  const body = prepare(obj, info);
  const ref = refOf(body);
  const path = resourcePath(info, body.metadata.namespace, body.metadata.name);
  const live = await getOrNull(ctx, path);

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

  if (live === null) return { ref, action: 'created', object: result };
  if (dryRun) {
    const fields = redactFields(ref, diffObjects(live, result));
    return { ref, action: fields.length > 0 ? 'updated' : 'unchanged', fields, object: result };
  }
  if (result.metadata.resourceVersion === live.metadata.resourceVersion) {
    return { ref, action: 'unchanged', fields: [], object: result };
  }
  const fields = redactFields(ref, diffObjects(live, result));
  const ownershipMoved = ownEntry(live, fieldManager) !== ownEntry(result, fieldManager);
  if (fields.length === 0 && !ownershipMoved) return { ref, action: 'unchanged', fields: [], object: result };
  return {
    ref,
    action: 'updated',
    fields: fields.length > 0 ? fields : ['metadata.managedFields'],
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
 * wait until every applied CRD is Established and discovery serves its kind, then everything else in the
 * given order. Stops at the first failure. In dry-run, custom resources whose CRD does not exist yet are
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

  for (const obj of first) changes.push(strip(await applyObject(ctx, obj, opts)));
  if (!opts.dryRun) {
    for (const crd of first.filter((o) => o.kind === 'CustomResourceDefinition')) await waitForCrd(ctx, crd);
  }
  for (const obj of rest) changes.push(strip(await applyObject(ctx, obj, opts)));
  return changes;
}

interface CrdSpec {
  group?: string;
  names?: { kind?: string };
  versions?: { name: string; served?: boolean }[];
}

/** Until the CRD is Established and discovery lists its kind in every served version. */
export async function waitForCrd(ctx: ApplyContext, crd: KubeObject): Promise<void> {
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
      const live = await ctx.request<KubeObject>('GET', path);
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

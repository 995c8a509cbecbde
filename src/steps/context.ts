/**
 * What every step gets: the config, the cluster, the mode, and `apply`, which records every change.
 * Steps are `{ name, reconcile, report }` (like Flux's Reconcile and Report methods): reconcile reads, then writes
 * only the difference; report only reads, and says check by check whether the result works.
 */
import type { Config, Env } from '../config/types.ts';
import type { GitRunner } from '../git/git.ts';
import { InventoryKeeper } from '../inventory/keeper.ts';
import type { LeaseHandle } from '../kube/lease.ts';
import { describeRef, refKey } from '../kube/objects.ts';
import type { Permission } from '../kube/rbac.ts';
import type { Kube, KubeObject, ObjectChange, ObjectRef } from '../kube/types.ts';
import type { Logger } from '../log.ts';
import { type Inventory, type InventoryMember, type InventorySet, isMember } from '../manifests/inventory.ts';
import type { Check } from '../report/types.ts';

/** `apply` converges, `plan` dry-runs every write, `status` only reports, `uninstall` removes the inventory. */
export type Mode = 'apply' | 'plan' | 'status' | 'uninstall';

/**
 * What an `apply` may write: `full` (the hook Job) everything; `drift` (the scheduled CronJob) only sets back
 * existing objects outside the Argo CD namespace and compares the rest read-only (src/steps/repair-drift.ts).
 */
export type Scope = 'full' | 'drift';

export interface ApplyStepOptions {
  /**
   * The inventory set the objects this apply creates belong to (src/manifests/inventory.ts; default
   * `settings`); false: never members (environment namespaces: released, never deleted).
   */
  set?: InventorySet | false;
  /** Marks the changes as part of a removal (plan shows them first), with this note. */
  removal?: string;
  /** A note for plan and the report on the change of each object (e.g. an Application's sync policy). */
  noteFor?: (change: ObjectChange) => string | undefined;
}

export interface RemoveOptions {
  /** What the removal means, for plan and the report (`no longer an environment`). */
  note: string;
  /** Put this finalizer on the object first (Argo CD's resources-finalizer: delete what it deployed too). */
  finalizer?: string;
}

export interface Step {
  /** verb-noun, as in the progress lines: `install-argocd`. */
  readonly name: string;
  /**
   * Brings the cluster to the desired state; throws a StepError with an actionable sentence when it cannot.
   * May return a short summary for the progress line (otherwise the change counts are shown).
   */
  reconcile(ctx: StepContext): Promise<string | undefined>;
  /** Read-only: the checks this step is responsible for, as the cluster is now. Never throws for a "not ready". */
  report(ctx: StepContext): Promise<Check[]>;
  /**
   * The permissions this step uses in a run of this kind — pure, from the config and what the preflight
   * found. The preflight reviews the union of the run's steps before any step writes; the chart's RBAC is
   * checked against the same union (test/unit/chart-rbac.test.ts).
   */
  needs?(config: Config, inputs: NeedsInputs): Permission[];
  /**
   * Reads and checks this step's inputs (Secrets and their keys, namespaces), called by the preflight in
   * run order, so bad input stops the run before anything is written.
   */
  inputs?(ctx: StepContext): Promise<void>;
}

/** One object of the install manifest, as the permissions see it. */
export interface ManifestKind {
  apiVersion: string;
  kind: string;
  name?: string | undefined;
  /** A binding's role. */
  roleRef?: string | undefined;
}

/** What a full run (`apply`, `plan`) touches beyond the config, found by the preflight before any write. */
export interface FullNeedsInputs {
  run: 'full';
  mode: 'apply' | 'plan';
  runNamespace: string;
  /** Kinds of the install manifest (empty with `skip`). */
  manifestKinds: ManifestKind[];
  virtualServiceApiVersion: string | undefined;
  adminPasswordNamespace: string;
  /** The admin password Secret must be created (generated). */
  createAdminPasswordSecret: boolean;
  credentialsNamespace: string;
  /**
   * What this run removes (from the inventory): members to delete and environment namespaces to give back.
   * Absent: nothing (e.g. a first install, or the chart's rendering without a cluster).
   */
  removals?: { delete: InventoryMember[]; release: string[] };
}

/** `apply --scope drift` (the scheduled CronJob). */
export interface DriftNeedsInputs {
  run: 'drift';
  runNamespace: string;
  /** Kinds and names of the install manifest (empty with `skip`). */
  manifestKinds: ManifestKind[];
  virtualServiceApiVersion: string | undefined;
  credentialsNamespace: string;
}

/** `uninstall`: what the inventory says the bootstrap created. */
export interface UninstallNeedsInputs {
  run: 'uninstall';
  runNamespace: string;
  inventory: Inventory;
}

export type NeedsInputs = FullNeedsInputs | DriftNeedsInputs | UninstallNeedsInputs;

/** Facts one step learns and a later step (or the report) needs. */
export interface RunState {
  /** Preflight: how many permissions were reviewed, and the missing ones. */
  permissions?: { reviewed: number; missing: string[] };
  lease?: LeaseHandle;
  /** Install: what was applied, for the `argocd.install` message. */
  install?: { objects: number; origin: string; sha256: string; verified: boolean };
  /** The Argo CD version argocd-server runs (from its image tag), when read. */
  argocdVersion?: string;
  /** register-webhooks: what it found and did, or the provider's refusal (the report says it, once). */
  webhooks?: {
    error?: string;
    hooks?: { role: string; url: string; id?: string | undefined; duplicates: string[] }[];
  };
  /** repair-drift: what differs (or is missing) and was not written; what left the config, not removed. */
  drift?: { ref: ObjectRef; what: 'missing' | string[] }[];
  driftRemovals?: string[];
}

export interface StepContext {
  readonly mode: Mode;
  readonly scope: Scope;
  readonly config: Config;
  readonly env: Env;
  readonly kube: Kube;
  readonly log: Logger;
  /** Where the run's own objects live (Lease, report, generated password): POD_NAMESPACE or the context's. */
  readonly runNamespace: string;
  /** Aborted at the run's overall deadline (SD_BOOTSTRAP_TIMEOUT) or on SIGTERM. */
  readonly signal: AbortSignal;
  /** Every object change of the run, one entry per object (the strongest action wins). */
  readonly changes: readonly ObjectChange[];
  /** Changes in the order they were applied, duplicates included (progress lines). */
  readonly changeLog: readonly ObjectChange[];
  readonly state: RunState;
  /**
   * Server-side apply (dry-run in plan mode) of the objects, changes recorded, created objects recorded in
   * the inventory. Not allowed in status mode.
   */
  apply(objs: KubeObject[], opts?: ApplyStepOptions): Promise<ObjectChange[]>;
  /**
   * Deletes an inventory member (dry-run in plan mode), only if the live object still carries our part-of
   * label; records a `deleted` change and drops it from the inventory. Returns whether it was (or would be)
   * deleted.
   */
  remove(ref: ObjectRef, opts: RemoveOptions): Promise<boolean>;
  /** What the bootstrap created (the ApplySet), as found and as updated by this run. */
  readonly inventory: InventoryKeeper;
  /**
   * Records a change made (or, in plan, to be made) outside the cluster — a Git provider's webhook — so
   * it shows in the progress line, the plan and the report's counts like an object's.
   */
  record(change: ObjectChange): void;
  now(): Date;
  /** Milliseconds left before the run's deadline. */
  remainingMs(): number;
  readonly deps: StepDeps;
}

/** The field manager that puts a finalizer on an object about to be deleted (never fights the main one). */
export const REMOVAL_FIELD_MANAGER = 'sd-gitops-bootstrap-removal';

/** Seams for tests; production defaults in `createContext`. */
export interface StepDeps {
  /** Package root for bundled manifests. */
  packageRoot?: string;
  fetch?: typeof fetch;
  git?: GitRunner;
  /** Poll interval of waits (rollouts, Application sync). */
  pollIntervalMs?: number;
}

const RANK = { unchanged: 0, updated: 1, created: 2, deleted: 3 } as const;

/** Merges an object applied twice in one run (e.g. the webhook Secret, before and after the hooks) into one change. */
export function recordChange(changes: ObjectChange[], change: ObjectChange): void {
  const i = changes.findIndex((c) => refKey(c.ref) === refKey(change.ref));
  if (i < 0) {
    changes.push({ ...change });
    return;
  }
  const prev = changes[i]!;
  const strongest = RANK[change.action] > RANK[prev.action] ? change : prev;
  const fields = [...new Set([...(prev.fields ?? []), ...(change.fields ?? [])])].sort();
  changes[i] = {
    ...strongest,
    ...(fields.length > 0 && strongest.action === 'updated' ? { fields } : {}),
    ...((prev.note ?? change.note) ? { note: prev.note ?? change.note } : {}),
    ...(prev.removal || change.removal ? { removal: true } : {}),
  };
}

export interface ContextOptions {
  mode: Mode;
  /** Default `full`. */
  scope?: Scope;
  config: Config;
  env: Env;
  /** Where the run's own objects live; default POD_NAMESPACE, else the kubeconfig context's namespace. */
  runNamespace?: string;
  kube: Kube;
  log: Logger;
  signal?: AbortSignal;
  now?: () => Date;
  deps?: StepDeps;
}

export function createContext(opts: ContextOptions): StepContext {
  const changes: ObjectChange[] = [];
  const changeLog: ObjectChange[] = [];
  const now = opts.now ?? (() => new Date());
  const deadline = now().getTime() + opts.env.SD_BOOTSTRAP_TIMEOUT_MS;
  const deadlineSignal = AbortSignal.timeout(Math.max(1, opts.env.SD_BOOTSTRAP_TIMEOUT_MS));
  const signal = opts.signal ? AbortSignal.any([opts.signal, deadlineSignal]) : deadlineSignal;
  const runNamespace = opts.runNamespace ?? opts.env.POD_NAMESPACE ?? opts.kube.defaultNamespace;
  const scope = opts.scope ?? 'full';
  const writes = opts.mode === 'apply' || opts.mode === 'uninstall';
  // A drift run never writes the inventory: it creates and deletes nothing.
  const inventory = new InventoryKeeper(opts.kube, runNamespace, writes && scope === 'full');
  const record = (change: ObjectChange) => {
    changeLog.push(change);
    recordChange(changes, change);
  };
  return {
    mode: opts.mode,
    scope,
    config: opts.config,
    env: opts.env,
    kube: opts.kube,
    log: opts.log,
    runNamespace,
    inventory,
    signal,
    changes,
    changeLog,
    state: {},
    deps: opts.deps ?? {},
    now,
    remainingMs: () => Math.max(0, deadline - now().getTime()),
    record(change: ObjectChange): void {
      if (opts.mode === 'status') throw new Error('bug: record called in status mode');
      record(change);
    },
    async apply(objs: KubeObject[], applyOpts: ApplyStepOptions = {}): Promise<ObjectChange[]> {
      if (opts.mode === 'status') throw new Error('bug: apply called in status mode');
      if (objs.length === 0) return [];
      const set = applyOpts.set === undefined ? 'settings' : applyOpts.set;
      // One field manager: each object is built once (src/manifests/) and applied by one step with all
      // of its fields, so no apply of a run removes what another applied (docs/lifecycle.md, "Who writes
      // each object"; src/steps/writers.test.ts holds it to the code).
      await inventory.previous();
      const result = (
        await opts.kube.applyAll(objs, {
          dryRun: opts.mode === 'plan',
          // Not a set: the label is kept where an earlier apply put it (one field manager: leaving it out
          // would remove it), never added.
          partOf: inventory.id,
          createdFor: runNamespace,
          ...(set ? {} : { partOfKeepOnly: true }),
        })
      ).map((c) => {
        if (applyOpts.removal) return { ...c, removal: true, note: applyOpts.removal };
        const note = applyOpts.noteFor?.(c);
        return note ? { ...c, note } : c;
      });
      for (const change of result) record(change);
      if (set && writes) await inventory.noteApplied(result, set);
      return result;
    },
    async remove(ref: ObjectRef, removeOpts: RemoveOptions): Promise<boolean> {
      if (opts.mode === 'status') throw new Error('bug: remove called in status mode');
      const dryRun = opts.mode === 'plan';
      const live = await opts.kube.get(ref);
      if (!live || !isMember(live, inventory.id)) {
        if (live)
          opts.log.warn(`${describeRef(ref)} no longer carries this inventory's label: left in place`);
        if (writes) await inventory.noteRemoved([ref]);
        return false;
      }
      if (
        removeOpts.finalizer &&
        !((live.metadata.finalizers as string[] | undefined) ?? []).includes(removeOpts.finalizer)
      ) {
        await opts.kube.apply(
          {
            apiVersion: ref.apiVersion,
            kind: ref.kind,
            metadata: { name: ref.name, namespace: ref.namespace, finalizers: [removeOpts.finalizer] },
          },
          { dryRun, fieldManager: REMOVAL_FIELD_MANAGER },
        );
      }
      const uid = live.metadata.uid as string | undefined;
      await opts.kube.delete(ref, { dryRun, ...(uid ? { uid } : {}) });
      record({ ref, action: 'deleted', removal: true, note: removeOpts.note });
      if (writes) await inventory.noteRemoved([ref]);
      return true;
    },
  };
}

/**
 * `fn`, computed once per run (context) and shared by every caller: inputs such as the credentials
 * (src/inputs/inputs.ts), never live targets.
 */
export function perRun<T>(fn: (ctx: StepContext) => Promise<T>): (ctx: StepContext) => Promise<T> {
  const memo = new WeakMap<StepContext, Promise<T>>();
  return (ctx) => {
    let p = memo.get(ctx);
    if (!p) {
      p = fn(ctx);
      memo.set(ctx, p);
    }
    return p;
  };
}

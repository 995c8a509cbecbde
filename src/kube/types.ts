/**
 * The contract of the Kubernetes access layer (src/kube/). Steps depend on this interface only, so the
 * runner can hand them the real client (src/kube/client.ts).
 */

/** Any Kubernetes object as plain JSON. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    resourceVersion?: string;
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string | undefined;
}

export type ChangeAction = 'created' | 'updated' | 'unchanged' | 'deleted';

/** What one apply (or dry-run apply) did to one object. */
export interface ObjectChange {
  ref: ObjectRef;
  action: ChangeAction;
  /** Dot paths of changed fields (only for `updated`; in plan mode always computed). */
  fields?: string[];
  /** Why the object could not be dry-run (e.g. its CRD does not exist yet), or what a removal means. */
  note?: string;
  /** The apply labelled it a member of the inventory (`ApplyOptions.partOf`): created now, or already one. */
  member?: boolean;
  /** Part of removing what left the config (a deletion, or a namespace given back): shown first by plan. */
  removal?: boolean;
}

export interface ApplyOptions {
  /** Server-side dry-run (`dryRun=All`): nothing is persisted. */
  dryRun?: boolean;
  /**
   * Field manager (default `sd-gitops-bootstrap`). Server-side apply removes fields a manager owned and
   * no longer sends: an object applied from two places with different content (e.g. `argocd-secret` from
   * the install manifest, without data, and from the configuration step, with `admin.password`) needs a
   * distinct manager per place, or each apply undoes the other.
   */
  fieldManager?: string;
  /**
   * The inventory's ApplySet id: the object gets the `applyset.kubernetes.io/part-of` label when this apply
   * creates it, or when it already carries it — never when it existed without it (it is not ours to delete).
   */
  partOf?: string;
  /** With `partOf`: only keep the label where the object already carries it (never label a new object). */
  partOfKeepOnly?: boolean;
  /**
   * With `partOf`: an existing object annotated `sd-gitops-bootstrap/created-for: <createdFor>` (the run's
   * namespace) is a member too — created for this inventory by someone else, the chart's Argo CD namespace
   * hook, before the run could create it.
   */
  createdFor?: string;
}

export interface RequestStats {
  requests: number;
  /** POST, PUT, PATCH, DELETE that were not dry-run (access reviews, which persist nothing, excluded). */
  writes: number;
}

export interface Kube {
  /** Namespace of the current context (kubeconfig) or of the ServiceAccount (in a pod). */
  readonly defaultNamespace: string;
  /** Where defaultNamespace came from; `fallback`: neither the kubeconfig context nor the pod named one. */
  readonly defaultNamespaceSource?: 'context' | 'pod' | 'fallback' | undefined;
  /** Cluster API URL, for messages. */
  readonly server: string;
  readonly stats: RequestStats;

  /** Raw request with authentication, retries (429/5xx/resets with backoff) and counting. Throws ApiError. */
  request<T = unknown>(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    path: string,
    opts?: { body?: unknown; contentType?: string; query?: Record<string, string | undefined> },
  ): Promise<T>;

  /**
   * From now on every request (each attempt and each wait between retries) ends when `signal` aborts:
   * the run's deadline binds the requests in flight, not only the steps between them. Undefined: none.
   */
  useSignal?(signal: AbortSignal | undefined): void;

  /**
   * From now on every write attempt (each retry too; not dry-runs, not access reviews) first awaits
   * `guard`, which throws to stop it (the run's Lease: `LeaseHandle.beforeWrite`). Undefined: none.
   */
  useWriteGuard?(guard: WriteGuard | undefined): void;

  /** GET one object; null on 404. */
  get<T extends KubeObject = KubeObject>(ref: ObjectRef): Promise<T | null>;
  /** LIST objects of a kind (optionally in a namespace / by label selector). */
  list<T extends KubeObject = KubeObject>(
    apiVersion: string,
    kind: string,
    opts?: { namespace?: string; labelSelector?: string },
  ): Promise<T[]>;
  /**
   * Server-side apply, field manager `sd-gitops-bootstrap`, force, fieldValidation=Strict.
   * `unchanged` iff resourceVersion did not move; in dry-run, compares with the live object after
   * dropping server-managed fields.
   */
  apply(obj: KubeObject, opts?: ApplyOptions): Promise<ObjectChange & { object: KubeObject | null }>;
  /**
   * Apply many objects: CRDs and Namespaces first, wait until CRDs are Established, then the rest.
   * In dry-run, custom resources whose CRD does not exist yet are reported with a note, not failed.
   */
  applyAll(objs: KubeObject[], opts?: ApplyOptions): Promise<ObjectChange[]>;
  /**
   * Delete (background propagation). 404 is fine. `uid`: only that incarnation (a precondition, 409 when it was
   * replaced); `dryRun`: server-side dry-run.
   */
  delete(ref: ObjectRef, opts?: { dryRun?: boolean; uid?: string }): Promise<void>;
  /** SelfSubjectAccessReview. */
  can(attrs: AccessAttributes): Promise<boolean>;
  /**
   * SelfSubjectRulesReview: the rules that apply in `namespace` (with the cluster-wide ones). Optional: a
   * client without it is asked permission by permission (`can`).
   */
  rules?(namespace: string): Promise<RulesReview>;
  /** Does the API serve this group/version + kind (discovery, cached per run)? */
  hasKind(apiVersion: string, kind: string): Promise<boolean>;
}

/** Called before each write attempt; throws (e.g. LeaseLostError) to stop it. */
export type WriteGuard = (req: { method: string; url: string }) => Promise<void>;

/** What a SelfSubjectAccessReview asks about (its `spec.resourceAttributes`). */
export interface AccessAttributes {
  verb: string;
  group: string;
  resource: string;
  namespace?: string;
  name?: string;
  subresource?: string;
}

/** One rule of a SelfSubjectRulesReview (`status.resourceRules[]`). */
export interface ResourceRule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
}

export interface RulesReview {
  rules: ResourceRule[];
  /** The authorizer could not list every rule (e.g. a webhook): a rule not listed may still be granted. */
  incomplete: boolean;
}

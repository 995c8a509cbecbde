/**
 * The real `Kube`: credentials from @kubernetes/client-node's KubeConfig, every request through one raw
 * request function (retries, counting, errors as sentences). No typed or object API clients: see apply.ts
 * for why the object API cannot be trusted with Argo CD's manifest, and one path means one place to
 * count, retry and redact.
 */
import { existsSync, readFileSync } from 'node:fs';
import { delimiter } from 'node:path';
import { IsomorphicFetchHttpLibrary, KubeConfig, RequestContext } from '@kubernetes/client-node';
import { ApiError, LeaseLostError, UsageError } from '../errors.ts';
import { type ApplyContext, applyObject, applyObjects } from './apply.ts';
import { Discovery, resourcePath } from './discovery.ts';
import { errorCode, type HttpResponse, type RetryOptions, type Transport, withRetry } from './retry.ts';
import type {
  ApplyOptions,
  Kube,
  KubeObject,
  ObjectChange,
  ObjectRef,
  RequestStats,
  ResourceRule,
  RulesReview,
  WriteGuard,
} from './types.ts';

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
type RequestOpts = { body?: unknown; contentType?: string; query?: Record<string, string | undefined> };

const SERVICEACCOUNT_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';
const USER_AGENT = 'sd-gitops-bootstrap';

export interface KubeClientOptions {
  transport: Transport;
  server: string;
  defaultNamespace: string;
  /** Kubeconfig context in use (undefined in a pod). */
  context?: string | undefined;
  /** Where defaultNamespace came from; `fallback`: neither context nor pod named one ("default"). */
  defaultNamespaceSource?: 'context' | 'pod' | 'fallback';
  retry?: RetryOptions;
  /** How long applyAll waits for CRDs to become Established (default 60 s). */
  crdTimeoutMs?: number;
  crdIntervalMs?: number;
  /** Called when the client is closed (releases connections). */
  onClose?: () => Promise<void>;
}

/** Writes that persist something: every non-GET except dry-runs and access reviews. */
function isWrite(req: { method: string; url: string }): boolean {
  if (req.method === 'GET') return false;
  const url = new URL(req.url);
  if (url.searchParams.has('dryRun')) return false;
  return !/\/apis\/(authorization|authentication)\.k8s\.io\/[^/]+\/(namespaces\/[^/]+\/)?\w*reviews$/.test(
    url.pathname,
  );
}

export class KubeClient implements Kube {
  readonly defaultNamespace: string;
  readonly defaultNamespaceSource: 'context' | 'pod' | 'fallback' | undefined;
  readonly server: string;
  readonly context: string | undefined;
  readonly stats: RequestStats = { requests: 0, writes: 0 };
  /** Retries made (each is also counted in `stats.requests`). */
  retries = 0;
  readonly discovery: Discovery;
  private readonly send: Transport;
  private readonly applyCtx: ApplyContext;
  private readonly onClose: (() => Promise<void>) | undefined;
  private signal: AbortSignal | undefined;
  private writeGuard: WriteGuard | undefined;

  constructor(opts: KubeClientOptions) {
    this.server = opts.server.replace(/\/+$/, '');
    this.defaultNamespace = opts.defaultNamespace;
    this.defaultNamespaceSource = opts.defaultNamespaceSource;
    this.context = opts.context;
    this.onClose = opts.onClose;
    const counted: Transport = async (req) => {
      const write = isWrite(req);
      // Per attempt: a retry after a pause is a write like any other.
      if (write && this.writeGuard) await this.writeGuard(req);
      this.stats.requests++;
      if (write) this.stats.writes++;
      return opts.transport(req);
    };
    this.send = withRetry(counted, {
      ...opts.retry,
      onRetry: (info) => {
        this.retries++;
        opts.retry?.onRetry?.(info);
      },
    });
    this.discovery = new Discovery((path) => this.request('GET', path));
    this.applyCtx = {
      request: this.request.bind(this),
      discovery: this.discovery,
      ...(opts.crdTimeoutMs !== undefined && { crdTimeoutMs: opts.crdTimeoutMs }),
      ...(opts.crdIntervalMs !== undefined && { crdIntervalMs: opts.crdIntervalMs }),
    };
  }

  useSignal(signal: AbortSignal | undefined): void {
    this.signal = signal;
  }

  useWriteGuard(guard: WriteGuard | undefined): void {
    this.writeGuard = guard;
  }

  async request<T = unknown>(method: Method, path: string, opts: RequestOpts = {}): Promise<T> {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': USER_AGENT };
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      headers['Content-Type'] = opts.contentType ?? 'application/json';
    }
    let res: HttpResponse;
    try {
      res = await this.send({ method, url: url.toString(), headers, body, signal: this.signal });
    } catch (err) {
      if (err instanceof LeaseLostError) throw err; // the write guard stopped it: not a network error
      // The request body is deliberately not part of the error (it may hold Secret data).
      throw new ApiError(`cannot reach the Kubernetes API at ${this.server}: ${describeNetworkError(err)}`, {
        method,
        path,
        cause: err,
      });
    }
    if (res.status >= 200 && res.status < 300) return parseBody(res.body) as T;
    throw apiErrorFromResponse(method, path, res);
  }

  async get<T extends KubeObject = KubeObject>(ref: ObjectRef): Promise<T | null> {
    const info = await this.discovery.resolve(ref.apiVersion, ref.kind);
    if (!info) return null; // the kind is not served, so no such object exists
    try {
      return await this.request<T>(
        'GET',
        resourcePath(info, ref.namespace ?? this.defaultNamespace, ref.name),
      );
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return null;
      throw err;
    }
  }

  /** Without `namespace`, a namespaced kind is listed across all namespaces. Unserved kind → []. */
  async list<T extends KubeObject = KubeObject>(
    apiVersion: string,
    kind: string,
    opts: { namespace?: string; labelSelector?: string } = {},
  ): Promise<T[]> {
    const info = await this.discovery.resolve(apiVersion, kind);
    if (!info) return [];
    const items: T[] = [];
    let continueToken: string | undefined;
    do {
      const page = await this.request<{ items?: T[]; metadata?: { continue?: string } }>(
        'GET',
        resourcePath(info, opts.namespace),
        { query: { labelSelector: opts.labelSelector, limit: '500', continue: continueToken } },
      );
      // Items in a list carry no apiVersion/kind; put them back so they are usable as objects.
      for (const item of page.items ?? []) items.push({ ...item, apiVersion, kind });
      continueToken = page.metadata?.continue || undefined;
    } while (continueToken);
    return items;
  }

  apply(obj: KubeObject, opts?: ApplyOptions): Promise<ObjectChange & { object: KubeObject | null }> {
    return applyObject(this.applyCtx, obj, opts);
  }

  applyAll(objs: KubeObject[], opts?: ApplyOptions): Promise<ObjectChange[]> {
    return applyObjects(this.applyCtx, objs, opts);
  }

  async delete(ref: ObjectRef, opts: { dryRun?: boolean; uid?: string } = {}): Promise<void> {
    const info = await this.discovery.resolve(ref.apiVersion, ref.kind);
    if (!info) return;
    try {
      await this.request('DELETE', resourcePath(info, ref.namespace ?? this.defaultNamespace, ref.name), {
        // The API server reads DeleteOptions from the body when there is one, else from the query: never both.
        // dryRun stays in the query too, where the audit log shows it.
        query: { dryRun: opts.dryRun ? 'All' : undefined },
        ...(opts.uid
          ? {
              body: {
                apiVersion: 'v1',
                kind: 'DeleteOptions',
                propagationPolicy: 'Background',
                preconditions: { uid: opts.uid },
                ...(opts.dryRun ? { dryRun: ['All'] } : {}),
              },
            }
          : { query: { propagationPolicy: 'Background', dryRun: opts.dryRun ? 'All' : undefined } }),
      });
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) throw err;
    }
  }

  async can(attrs: Parameters<Kube['can']>[0]): Promise<boolean> {
    const review = await this.request<{ status?: { allowed?: boolean } }>(
      'POST',
      '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
      {
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SelfSubjectAccessReview',
          spec: { resourceAttributes: attrs },
        },
      },
    );
    return review.status?.allowed === true;
  }

  async rules(namespace: string): Promise<RulesReview> {
    const review = await this.request<{ status?: { resourceRules?: ResourceRule[]; incomplete?: boolean } }>(
      'POST',
      '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews',
      {
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SelfSubjectRulesReview',
          spec: { namespace },
        },
      },
    );
    return { rules: review.status?.resourceRules ?? [], incomplete: review.status?.incomplete === true };
  }

  hasKind(apiVersion: string, kind: string): Promise<boolean> {
    return this.discovery.hasKind(apiVersion, kind);
  }

  /** Releases pooled connections. Idle connections do not keep the process alive either way. */
  async close(): Promise<void> {
    await this.onClose?.();
  }
}

const NETWORK_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  UND_ERR_SOCKET: 'connection closed by the server',
  timeout: 'no answer in time',
};

/** "connection refused (ECONNREFUSED)"; certificate problems get a hint at the kubeconfig. */
export function describeNetworkError(err: unknown): string {
  const code = errorCode(err);
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL/.test(code)) {
    return `the TLS handshake failed (${code}): check certificate-authority and client certificate in the kubeconfig`;
  }
  const text = NETWORK_ERRORS[code];
  if (text) return `${text} (${code})`;
  // undici's "fetch failed" says nothing: the innermost cause does ("bad port", "invalid URL"…).
  let inner: unknown = err;
  while (inner instanceof Error && inner.cause instanceof Error) inner = inner.cause;
  return code === 'fetch failed' && inner instanceof Error && inner !== err ? inner.message : code;
}

function parseBody(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text; // e.g. /healthz answers "ok"
  }
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  410: 'Gone',
  413: 'Request Entity Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

interface StatusObject {
  kind?: string;
  message?: string;
  reason?: string;
  code?: number;
}

/**
 * An ApiError whose message is `<code> <text>: <sentence>`, the sentence taken from the API's Status
 * object (RBAC denials rephrased: "serviceaccount seldon-system/bootstrap cannot patch configmaps
 * "argocd-cm" in namespace argocd"). Only the response is quoted, never the request body.
 */
export function apiErrorFromResponse(method: string, path: string, res: HttpResponse): ApiError {
  let status: StatusObject | undefined;
  try {
    const parsed = JSON.parse(res.body) as StatusObject;
    if (parsed && typeof parsed === 'object' && parsed.kind === 'Status') status = parsed;
  } catch {
    // not JSON: a proxy or load balancer answered
  }
  const head = `${res.status} ${STATUS_TEXT[res.status] ?? 'Error'}`;
  const schema = /^failed to create typed (?:patch|live) object \(([^)]*)\): (.*)$/s.exec(
    status?.message ?? '',
  );
  if (schema) {
    // See isSchemaError: reported as the validation error it is, with the reason a 422 would carry.
    return new ApiError(`${head}: the object does not match its schema (${schema[1]}): ${schema[2]}`, {
      status: res.status,
      reason: 'Invalid',
      method,
      path,
    });
  }
  let sentence: string;
  if (status?.message) sentence = humanizeStatusMessage(status.message);
  else if (res.status === 401) sentence = 'the credentials were not accepted (expired token or certificate?)';
  else {
    const text = res.body.replace(/\s+/g, ' ').trim().slice(0, 200);
    sentence = text || 'no details given';
  }
  // Generic messages ("the server could not find the requested resource") are useless without the path.
  const where = status?.message && /"/.test(status.message) ? '' : ` (${method} ${path.split('?')[0]})`;
  return new ApiError(`${head}: ${sentence}${where}`, {
    status: res.status,
    ...(status?.reason !== undefined && { reason: status.reason }),
    method,
    path,
  });
}

const FORBIDDEN =
  /^(?:\S+?(?: "(?<name>[^"]*)")? is forbidden: )?User "(?<user>[^"]+)" cannot (?<verb>\S+) resource "(?<resource>[^"]+)"(?: in API group "(?<group>[^"]*)")?(?: in the namespace "(?<ns>[^"]+)"| at the cluster scope)?(?<rest>.*)$/s;

/** Rephrases RBAC denials; other messages pass through. */
export function humanizeStatusMessage(message: string): string {
  const m = FORBIDDEN.exec(message);
  if (!m?.groups) return message;
  const g = m.groups;
  const sa = /^system:serviceaccount:([^:]+):(.+)$/.exec(g.user ?? '');
  const who = sa ? `serviceaccount ${sa[1]}/${sa[2]}` : `user ${g.user}`;
  const group = g.group ? ` (API group ${g.group})` : '';
  const name = g.name ? ` "${g.name}"` : '';
  const scope = g.ns ? ` in namespace ${g.ns}` : ' at cluster scope';
  return `${who} cannot ${g.verb} ${g.resource}${group}${name}${scope}${g.rest ?? ''}`;
}

/**
 * A transport over the client library's own fetch (undici 8) and dispatcher. `applySecurityAuthentication`
 * runs per request so rotating tokens (projected ServiceAccount tokens, exec plugins) stay fresh; it builds
 * a new dispatcher every time, so the first one (cluster CA, client certificate) is kept and reused —
 * one TLS connection pool for the run instead of one per request.
 */
export function kubeConfigTransport(
  kc: KubeConfig,
  attemptTimeoutMs = 30_000,
): { transport: Transport; close: () => Promise<void> } {
  const http = new IsomorphicFetchHttpLibrary();
  type Dispatcher = NonNullable<ReturnType<RequestContext['getDispatcher']>>;
  let dispatcher: Dispatcher | undefined;
  const transport: Transport = async (req) => {
    const ctx = new RequestContext(req.url, req.method as ConstructorParameters<typeof RequestContext>[1]);
    await kc.applySecurityAuthentication(ctx);
    const fresh = ctx.getDispatcher();
    if (fresh) {
      if (dispatcher === undefined) dispatcher = fresh;
      else if (fresh !== dispatcher) {
        fresh.close().catch(() => {});
        ctx.setDispatcher(dispatcher);
      }
    }
    for (const [k, v] of Object.entries(req.headers)) ctx.setHeaderParam(k, v);
    if (req.body !== undefined) ctx.setBody(req.body);
    const timeout = AbortSignal.timeout(attemptTimeoutMs);
    ctx.setSignal(req.signal ? AbortSignal.any([req.signal, timeout]) : timeout);
    const res = await http.send(ctx).toPromise();
    const body = await res.body.text();
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) headers[k.toLowerCase()] = v;
    return { status: res.httpStatusCode, headers, body };
  };
  return {
    transport,
    close: async () => {
      await dispatcher?.close();
    },
  };
}

export interface ConnectOptions {
  /** `--kubeconfig`; otherwise KUBECONFIG, ~/.kube/config, or the pod's ServiceAccount. */
  kubeconfig?: string | undefined;
  /** `--context`. */
  context?: string | undefined;
  retry?: RetryOptions;
  attemptTimeoutMs?: number;
  crdTimeoutMs?: number;
}

/** Loads credentials the way kubectl does (in a pod: its ServiceAccount) and returns a client. */
export async function connect(opts: ConnectOptions = {}): Promise<KubeClient> {
  const kc = new KubeConfig();
  const inPod = Boolean(process.env.KUBERNETES_SERVICE_HOST) && !opts.kubeconfig && !process.env.KUBECONFIG;
  const envFile = process.env.KUBECONFIG?.split(delimiter).find((f) => f.trim() !== '');
  if (opts.kubeconfig) loadKubeconfigFile(kc, opts.kubeconfig, '--kubeconfig');
  else if (inPod) kc.loadFromCluster();
  else if (envFile && !process.env.KUBECONFIG?.includes(delimiter))
    loadKubeconfigFile(kc, envFile, 'KUBECONFIG');
  else kc.loadFromDefault();

  if (opts.context) {
    if (!kc.getContextObject(opts.context)) {
      const known = kc.getContexts().map((c) => c.name);
      throw new UsageError(
        `--context ${opts.context}: no such context in the kubeconfig (known: ${known.join(', ') || 'none'})`,
      );
    }
    kc.setCurrentContext(opts.context);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) {
    throw new UsageError(
      'no Kubernetes cluster configured: pass --kubeconfig FILE, set KUBECONFIG, or run in a pod with a ServiceAccount',
    );
  }
  const contextNamespace = kc.getContextObject(kc.getCurrentContext())?.namespace?.trim();
  const podNamespace = inPod ? readServiceAccountNamespace() : undefined;
  const defaultNamespace = contextNamespace || podNamespace || 'default';
  const defaultNamespaceSource = contextNamespace ? 'context' : podNamespace ? 'pod' : 'fallback';

  const { transport, close } = kubeConfigTransport(kc, opts.attemptTimeoutMs);
  return new KubeClient({
    transport,
    server: cluster.server,
    defaultNamespace,
    context: inPod ? undefined : kc.getCurrentContext(),
    defaultNamespaceSource,
    ...(opts.retry && { retry: opts.retry }),
    ...(opts.crdTimeoutMs !== undefined && { crdTimeoutMs: opts.crdTimeoutMs }),
    onClose: close,
  });
}

/** A kubeconfig file the user named: missing or unreadable is a usage error, in one line (exit 2). */
function loadKubeconfigFile(kc: KubeConfig, file: string, from: string): void {
  if (!existsSync(file)) throw new UsageError(`${from} ${file}: kubeconfig file not found`);
  try {
    kc.loadFromFile(file);
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new UsageError(`${from} ${file}: not a usable kubeconfig (${reason})`);
  }
}

function readServiceAccountNamespace(): string | undefined {
  try {
    return readFileSync(SERVICEACCOUNT_NAMESPACE_FILE, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Stand-ins for the Git providers' hook APIs (the real ones cannot be reached here): one HTTP server per
 * provider on 127.0.0.1, following each provider's documented contract for the endpoints the bootstrap
 * uses — list with pagination, create, update — with its auth header checked and its documented error
 * bodies. Everything else answers 404. Hooks live in memory; every request is counted.
 *
 * - GitHub, https://docs.github.com/en/rest/repos/webhooks: `GET|POST /repos/{owner}/{repo}/hooks`,
 *   `PATCH /repos/{owner}/{repo}/hooks/{hook_id}`; `Authorization: Bearer|token <t>`; pagination by
 *   `per_page` and the Link header (rel="next"/"last"), "Using pagination in the REST API"; a listed
 *   secret is `********`; errors `{"message", "documentation_url"}` ("Bad credentials" 401, "Not Found"
 *   404, "Must have admin rights to Repository." 403), 422 "Validation Failed" with `errors[]` — also for a
 *   second hook with the same URL ("Hook already exists on this repository"); rate limit: 403 or 429 with
 *   `x-ratelimit-remaining: 0` and `x-ratelimit-reset` (epoch s), "Rate limits for the REST API".
 * - GitLab, https://docs.gitlab.com/api/project_webhooks/: `GET|POST /projects/:id/hooks`,
 *   `PUT /projects/:id/hooks/:hook_id`, `:id` the URL-encoded path; `PRIVATE-TOKEN` header; pagination
 *   (https://docs.gitlab.com/api/rest/#pagination) `page`/`per_page` with `X-Next-Page` (empty on the last
 *   page), `X-Page`, `X-Total-Pages`, `Link`; the hook token is never returned; errors `{"message": "401
 *   Unauthorized"}`, `"403 Forbidden"`, `"404 Project Not Found"`, 422 `{"error": "Invalid url given"}`;
 *   rate limit 429 with `RateLimit-Reset` and `Retry-After` (https://docs.gitlab.com/security/rate_limits/).
 * - Bitbucket Cloud, https://developer.atlassian.com/cloud/bitbucket/rest/api-group-repositories/ (hooks):
 *   `GET|POST /repositories/{workspace}/{repo_slug}/hooks`, `PUT …/hooks/{uid}`; `Authorization: Bearer`
 *   (or Basic); paginated `{pagelen, values, page, size, next}`
 *   (https://developer.atlassian.com/cloud/bitbucket/rest/intro/#pagination); a hook's `uuid` is `{…}`;
 *   errors `{"type": "error", "error": {"message", "fields"}}`, 400 for a bad URL; 429 when rate limited.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

export type FakeProviderKind = 'github' | 'gitlab' | 'bitbucket';

export interface FakeHook {
  id: string;
  url: string;
  /** The secret/token it was given (GitHub `config.secret`, GitLab `token`); never returned by a list. */
  secret?: string | undefined;
  /** The provider's hook object as stored (without the secret). */
  fields: Record<string, unknown>;
}

export interface RecordedRequest {
  method: string;
  /** Path and query, below the API prefix. */
  path: string;
  /** The value of the auth header the provider reads (tests check it is never leaked elsewhere). */
  auth: string | undefined;
  body: unknown;
}

export interface ScriptedFailure {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** How many requests answer this way (default 1). */
  times?: number;
  /** Only requests with this method (default any). */
  method?: string;
}

export interface FakeProvider {
  kind: FakeProviderKind;
  /** What webhooks.apiUrl is set to. */
  apiUrl: string;
  /** The repository as the provider names it. */
  repository: string;
  /** The token with hook-admin scope; `readOnlyToken` is valid but lacks it. */
  token: string;
  readOnlyToken: string;
  hooks: FakeHook[];
  requests: RecordedRequest[];
  /** Requests that were not GET. */
  writes(): RecordedRequest[];
  /** Hooks with this URL. */
  hooksFor(url: string): FakeHook[];
  /** Adds a hook directly (someone else's, or one left by the seed's curl). */
  addHook(url: string, fields?: Record<string, unknown>): FakeHook;
  /** The next matching requests answer with this instead. */
  failNext(f: ScriptedFailure): void;
  close(): Promise<void>;
}

const GITHUB_DOCS = 'https://docs.github.com/rest/repos/webhooks';

interface Options {
  /** Hooks per page at most (small, so the tests cross pages). Default 2. */
  pageSize?: number;
  repository?: string;
  /** Serve HTTPS with this key and certificate (PEM), e.g. a self-signed one made at test time. */
  tls?: { key: string; cert: string };
  /**
   * Where to listen and the host name clients use (default 127.0.0.1, a free port): the kind tier runs
   * the stand-in in a container on the cluster's network (test/e2e-kind/support/provider-host.ts).
   */
  listen?: { host: string; port: number; advertise: string };
}

export async function startFakeProvider(kind: FakeProviderKind, opts: Options = {}): Promise<FakeProvider> {
  const pageSize = opts.pageSize ?? 2;
  const repository = opts.repository ?? (kind === 'gitlab' ? 'acme/platform/gitops' : 'acme/gitops');
  const token = `${kind}-admin-${randomUUID()}`;
  const readOnlyToken = `${kind}-read-${randomUUID()}`;
  const hooks: FakeHook[] = [];
  const requests: RecordedRequest[] = [];
  const failures: (ScriptedFailure & { left: number })[] = [];
  let nextId = 100;
  let origin = '';

  const newId = () => (kind === 'bitbucket' ? `{${randomUUID()}}` : String(nextId++));

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(body === undefined ? '' : JSON.stringify(body));
  };

  const error = (
    res: ServerResponse,
    status: number,
    message: string,
    extra: Record<string, unknown> = {},
  ) => {
    if (kind === 'github') return send(res, status, { message, documentation_url: GITHUB_DOCS, ...extra });
    if (kind === 'gitlab') return send(res, status, extra.error ? extra : { message });
    return send(res, status, { type: 'error', error: { message, ...extra } });
  };

  /** GitHub shows `********` for a set secret; GitLab and Bitbucket show nothing of it. */
  const view = (h: FakeHook): Record<string, unknown> => {
    if (kind === 'github') {
      const config: Record<string, unknown> = { ...(h.fields.config as Record<string, unknown>), url: h.url };
      if (h.secret) config.secret = '********';
      return {
        type: 'Repository',
        id: Number(h.id),
        ...h.fields,
        config,
        url: `${origin}/repos/${repository}/hooks/${h.id}`,
      };
    }
    if (kind === 'gitlab') return { id: Number(h.id), ...h.fields, url: h.url };
    return { type: 'webhook_subscription', uuid: h.id, ...h.fields, url: h.url };
  };

  const authOf = (req: IncomingMessage): string | undefined => {
    if (kind === 'gitlab') return req.headers['private-token'] as string | undefined;
    return req.headers.authorization;
  };

  const tokenOf = (auth: string | undefined): string | undefined => {
    if (!auth) return undefined;
    if (kind === 'gitlab') return auth;
    const m = /^(Bearer|token|Basic) (.+)$/.exec(auth);
    if (!m) return undefined;
    if (m[1] === 'Basic') return Buffer.from(m[2]!, 'base64').toString().split(':').slice(1).join(':');
    return m[2];
  };

  const validUrl = (u: unknown): u is string => {
    if (typeof u !== 'string') return false;
    try {
      return /^https?:$/.test(new URL(u).protocol);
    } catch {
      return false;
    }
  };

  const hooksPath = (() => {
    if (kind === 'github') return `/repos/${repository}/hooks`;
    if (kind === 'gitlab') return `/projects/${encodeURIComponent(repository)}/hooks`;
    return `/repositories/${repository}/hooks`;
  })();

  const fieldsFrom = (body: Record<string, unknown>, previous: Record<string, unknown> = {}) => {
    if (kind === 'github') {
      const { secret: _s, url: _u, ...config } = (body.config ?? {}) as Record<string, unknown>;
      return {
        name: 'web',
        active: body.active ?? previous.active ?? true,
        events: body.events ?? previous.events ?? ['push'],
        config: { content_type: 'form', insecure_ssl: '0', ...(previous.config as object), ...config },
      };
    }
    if (kind === 'gitlab') {
      const { token: _t, url: _u, id: _i, ...rest } = body;
      return { push_events: true, enable_ssl_verification: true, ...previous, ...rest };
    }
    const { url: _u, ...rest } = body;
    return { active: true, events: [], skip_cert_verification: false, ...previous, ...rest };
  };

  const secretFrom = (body: Record<string, unknown>): string | undefined =>
    kind === 'github'
      ? ((body.config as Record<string, unknown> | undefined)?.secret as string | undefined)
      : kind === 'gitlab'
        ? (body.token as string | undefined)
        : undefined;

  const urlFrom = (body: Record<string, unknown>): unknown =>
    kind === 'github' ? (body.config as Record<string, unknown> | undefined)?.url : body.url;

  const rejectUrl = (res: ServerResponse, url: unknown) => {
    if (kind === 'github')
      return error(res, 422, 'Validation Failed', {
        errors: [
          { resource: 'Hook', code: 'custom', message: `Config url ${String(url)} is not a valid URL` },
        ],
      });
    if (kind === 'gitlab') return send(res, 422, { error: 'Invalid url given' });
    return error(res, 400, 'Bad request', { fields: { url: ['Enter a valid URL.'] } });
  };

  const list = (res: ServerResponse, query: URLSearchParams) => {
    const per = Math.min(
      pageSize,
      Number(query.get(kind === 'bitbucket' ? 'pagelen' : 'per_page') ?? 30) || 30,
    );
    const page = Math.max(1, Number(query.get('page') ?? 1) || 1);
    const pages = Math.max(1, Math.ceil(hooks.length / per));
    const items = hooks.slice((page - 1) * per, page * per).map(view);
    const pageUrl = (p: number) => {
      const q = new URLSearchParams(query);
      q.set('page', String(p));
      if (kind === 'bitbucket') q.set('pagelen', String(per));
      else q.set('per_page', String(per));
      return `${origin}${hooksPath}?${q}`;
    };
    if (kind === 'bitbucket') {
      return send(res, 200, {
        pagelen: per,
        size: hooks.length,
        page,
        values: items,
        ...(page < pages ? { next: pageUrl(page + 1) } : {}),
      });
    }
    const links = [
      ...(page < pages ? [`<${pageUrl(page + 1)}>; rel="next"`, `<${pageUrl(pages)}>; rel="last"`] : []),
      ...(page > 1 ? [`<${pageUrl(1)}>; rel="first"`, `<${pageUrl(page - 1)}>; rel="prev"`] : []),
    ];
    const headers: Record<string, string> = links.length ? { link: links.join(', ') } : {};
    if (kind === 'gitlab') {
      Object.assign(headers, {
        'x-page': String(page),
        'x-per-page': String(per),
        'x-total': String(hooks.length),
        'x-total-pages': String(pages),
        'x-next-page': page < pages ? String(page + 1) : '',
        'x-prev-page': page > 1 ? String(page - 1) : '',
      });
    }
    return send(res, 200, items, headers);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString();
    let body: Record<string, unknown> = {};
    try {
      body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      return error(res, 400, 'Problems parsing JSON');
    }
    const url = new URL(req.url ?? '/', origin);
    // GitLab's router takes the encoded project path: compare the raw path.
    const rawPath = (req.url ?? '/').split('?')[0]!;
    const method = req.method ?? 'GET';
    const auth = authOf(req);
    requests.push({ method, path: req.url ?? '/', auth, body: text ? body : undefined });

    const failure = failures.find((f) => f.left > 0 && (!f.method || f.method === method));
    if (failure) {
      failure.left--;
      return send(
        res,
        failure.status,
        failure.body ?? { message: `scripted ${failure.status}` },
        failure.headers,
      );
    }

    const given = tokenOf(auth);
    if (given !== token && given !== readOnlyToken) {
      if (kind === 'github') return error(res, 401, 'Bad credentials');
      if (kind === 'gitlab') return send(res, 401, { message: '401 Unauthorized' });
      return error(res, 401, 'Unauthorized');
    }
    if (!rawPath.startsWith(hooksPath)) {
      if (kind === 'github') return error(res, 404, 'Not Found');
      if (kind === 'gitlab') return send(res, 404, { message: '404 Project Not Found' });
      return error(res, 404, `Repository ${url.pathname.split('/').slice(2, 4).join('/')} not found`);
    }
    if (given === readOnlyToken) {
      if (kind === 'github') return error(res, 403, 'Must have admin rights to Repository.');
      if (kind === 'gitlab') return send(res, 403, { message: '403 Forbidden' });
      return error(res, 403, 'Your credentials lack one or more required privilege scopes.', {
        detail: { granted: ['repository'], required: ['webhook'] },
      });
    }
    const rest = rawPath.slice(hooksPath.length);
    if (rest === '' || rest === '/') {
      if (method === 'GET') return list(res, url.searchParams);
      if (method === 'POST') {
        const target = urlFrom(body);
        if (!validUrl(target)) return rejectUrl(res, target);
        if (kind === 'github' && hooks.some((h) => h.url === target)) {
          return error(res, 422, 'Validation Failed', {
            errors: [{ resource: 'Hook', code: 'custom', message: 'Hook already exists on this repository' }],
          });
        }
        const hook: FakeHook = {
          id: newId(),
          url: target,
          secret: secretFrom(body),
          fields: fieldsFrom(body),
        };
        hooks.push(hook);
        return send(res, 201, view(hook));
      }
    } else {
      const id = decodeURIComponent(rest.slice(1));
      const hook = hooks.find((h) => h.id === id);
      const updateMethod = kind === 'github' ? 'PATCH' : 'PUT';
      if (hook && method === updateMethod) {
        const target = urlFrom(body) ?? hook.url;
        if (!validUrl(target)) return rejectUrl(res, target);
        hook.url = target;
        hook.fields = fieldsFrom(body, hook.fields);
        const secret = secretFrom(body);
        if (secret !== undefined) hook.secret = secret;
        return send(res, 200, view(hook));
      }
      if (hook && method === 'GET') return send(res, 200, view(hook));
    }
    if (kind === 'github') return error(res, 404, 'Not Found');
    if (kind === 'gitlab') return send(res, 404, { message: '404 Not found' });
    return error(res, 404, 'Not found');
  };

  const prefix = kind === 'github' ? '' : kind === 'gitlab' ? '/api/v4' : '/2.0';
  // The API lives under a prefix like the real ones; the handler sees paths without it.
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    if (prefix && req.url?.startsWith(prefix)) req.url = req.url.slice(prefix.length) || '/';
    else if (prefix) return send(res, 404, { message: 'no such API' });
    handle(req, res).catch((err: unknown) => send(res, 500, { message: String(err) }));
  };
  const server: Server = opts.tls ? createHttpsServer(opts.tls, onRequest) : createServer(onRequest);
  const at = opts.listen ?? { host: '127.0.0.1', port: 0, advertise: '127.0.0.1' };
  await new Promise<void>((resolve) => server.listen(at.port, at.host, resolve));
  const port = (server.address() as AddressInfo).port;
  origin = `${opts.tls ? 'https' : 'http'}://${at.advertise}:${port}${prefix}`;

  return {
    kind,
    apiUrl: origin,
    repository,
    token,
    readOnlyToken,
    hooks,
    requests,
    writes: () => requests.filter((r) => r.method !== 'GET'),
    hooksFor: (u) => hooks.filter((h) => h.url === u),
    addHook(u, fields = {}) {
      const hook: FakeHook = {
        id: newId(),
        url: u,
        fields: fieldsFrom(kind === 'github' ? { config: { url: u }, ...fields } : { url: u, ...fields }),
      };
      hooks.push(hook);
      return hook;
    },
    failNext(f) {
      failures.push({ ...f, left: f.times ?? 1 });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

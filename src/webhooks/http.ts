/**
 * The one request path to a Git provider's API: JSON in and out, the token in the provider's auth header,
 * rate limits waited out with the provider's reset headers (within the run's deadline), and every failure
 * turned into a `ProviderError` whose sentence says what to fix. The token never appears in a message: it
 * is registered for redaction, and messages are built from the status and the provider's own text.
 *
 * Redirects: followed only on the same origin; one to another host is an error, so no auth header (GitHub's
 * and Bitbucket's `Authorization`, GitLab's `PRIVATE-TOKEN`) ever reaches a host other than webhooks.apiUrl's.
 *
 * Node's fetch (undici). TLS is verified unless `insecureSkipTlsVerify` is set; then, and only then, the
 * request goes through an undici Agent that does not verify certificates.
 */
import { Agent, fetch as undiciFetch } from 'undici';
import type { WebhookProvider } from '../config/webhooks.ts';
import { messageOf } from '../errors.ts';

/** A provider API request that failed; `message` is a sentence a person can act on. */
export class ProviderError extends Error {
  override name = 'ProviderError';
  readonly status: number | undefined;
  constructor(message: string, opts: { status?: number | undefined; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.status = opts.status;
  }
}

export interface ProviderHttpOptions {
  provider: WebhookProvider;
  apiUrl: string;
  repository: string;
  /** Headers that authenticate (the token inside: never logged). */
  auth: Record<string, string>;
  /** Where the token comes from, for messages: `Secret seldon-system/git-webhook-token (key token)`. */
  tokenSource: string;
  insecureSkipTlsVerify: boolean;
  signal?: AbortSignal | undefined;
  /** Longest wait for a rate limit to reset before giving up; default 60 s (bounded by the signal too). */
  maxRateLimitWaitMs?: number;
  /** Test seams. */
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Every request sent (method and URL, never headers), for logs and tests. */
  onRequest?: (method: string, url: string) => void;
}

export interface ProviderResponse {
  status: number;
  headers: Headers;
  body: unknown;
}

/** What each provider's token needs, for the 403/404 sentence (docs/webhooks.md says the same). */
export const TOKEN_SCOPES: Readonly<Record<WebhookProvider, string>> = {
  github:
    'a classic token with the admin:repo_hook scope, or a fine-grained token with the repository permission "Webhooks: Read and write"',
  gitlab: 'the api scope, from a user or project/group access token with at least the Maintainer role',
  bitbucket: 'a repository or workspace access token (or API token) with the webhook scope',
};

const sleepFor = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(signal.reason);
      },
      { once: true },
    );
  });

let insecureAgent: Agent | undefined;

/** The provider's own explanation in an error body (GitHub `message`, GitLab `message`/`error`, Bitbucket `error.message`). */
export function providerMessage(body: unknown): string {
  if (typeof body === 'string') return body.slice(0, 200);
  if (!body || typeof body !== 'object') return '';
  const b = body as Record<string, unknown>;
  const parts: string[] = [];
  const add = (v: unknown) => {
    if (typeof v === 'string' && v) parts.push(v);
    else if (v && typeof v === 'object') parts.push(JSON.stringify(v));
  };
  if (b.error && typeof b.error === 'object') {
    const e = b.error as Record<string, unknown>;
    add(e.message);
    if (e.fields) add(e.fields);
  } else {
    add(b.message);
    add(b.error);
  }
  if (Array.isArray(b.errors)) {
    for (const e of b.errors) add((e as Record<string, unknown>)?.message ?? e);
  }
  return parts.join('; ').slice(0, 300);
}

/**
 * How long a rate-limited answer asks us to wait, or undefined when the answer is not a rate limit:
 * 429 (all three), or GitHub's 403 with `x-ratelimit-remaining: 0`. `retry-after` (seconds) first, then
 * the reset time: GitHub's `x-ratelimit-reset` and GitLab's `ratelimit-reset` (epoch seconds).
 */
export function rateLimitWaitMs(status: number, headers: Headers, now: number): number | undefined {
  const exhausted = headers.get('x-ratelimit-remaining') === '0';
  if (status !== 429 && !(status === 403 && exhausted)) return undefined;
  const retryAfter = Number(headers.get('retry-after'));
  if (headers.get('retry-after') !== null && Number.isFinite(retryAfter))
    return Math.max(0, retryAfter * 1000);
  const reset = Number(headers.get('x-ratelimit-reset') ?? headers.get('ratelimit-reset'));
  if (Number.isFinite(reset) && reset > 0) return Math.max(0, reset * 1000 - now);
  return 60_000; // a 429 without a hint: GitHub's secondary limits say "wait at least one minute"
}

export class ProviderHttp {
  readonly opts: ProviderHttpOptions;
  /** Write requests sent (POST/PUT/PATCH/DELETE): plan must leave this at 0. */
  writes = 0;
  constructor(opts: ProviderHttpOptions) {
    this.opts = opts;
  }

  /** `path` relative to the API URL, or an absolute URL on the same origin (a pagination link). */
  url(path: string): string {
    if (/^https?:\/\//.test(path)) {
      // Never send the token to another host, whatever a Link header says.
      if (new URL(path).origin !== new URL(this.opts.apiUrl).origin) {
        throw new ProviderError(
          `${this.opts.provider} answered with a pagination link to another host (${new URL(path).origin}); webhooks.apiUrl is ${this.opts.apiUrl}`,
        );
      }
      return path;
    }
    return `${this.opts.apiUrl}${path}`;
  }

  /**
   * Every page of a list, from `first` on: `page` says what one response holds and where the next page is
   * (each provider paginates its own way). At most 100 pages: a server that always says "next" ends there.
   */
  async listPages<T>(
    first: string,
    page: (res: ProviderResponse) => { items: T[]; next?: string | undefined },
  ): Promise<T[]> {
    const items: T[] = [];
    let next: string | undefined = first;
    for (let n = 0; next && n < 100; n++) {
      const got = page(await this.request('GET', next));
      items.push(...got.items);
      next = got.next;
    }
    return items;
  }

  async request(method: string, path: string, body?: unknown): Promise<ProviderResponse> {
    const { opts } = this;
    let url = this.url(path);
    let redirects = 0;
    const now = opts.now ?? Date.now;
    const sleep = opts.sleep ?? sleepFor;
    const maxWait = opts.maxRateLimitWaitMs ?? 60_000;
    for (let attempt = 1; ; attempt++) {
      if (method !== 'GET') this.writes++;
      opts.onRequest?.(method, url);
      let res: Awaited<ReturnType<typeof undiciFetch>>;
      try {
        const init = {
          method,
          headers: {
            accept: 'application/json',
            'user-agent': 'sd-gitops-bootstrap',
            ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
            ...opts.auth,
          },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
          ...(opts.signal ? { signal: opts.signal } : {}),
          // Redirects are followed here, not by fetch: fetch would send PRIVATE-TOKEN (it strips only
          // Authorization) to whatever host a redirect names.
          redirect: 'manual' as const,
        };
        if (opts.insecureSkipTlsVerify) {
          insecureAgent ??= new Agent({ connect: { rejectUnauthorized: false } });
          res = await undiciFetch(url, { ...init, dispatcher: insecureAgent });
        } else {
          res = (await fetch(url, init)) as unknown as Awaited<ReturnType<typeof undiciFetch>>;
        }
      } catch (err) {
        const cause = (err as { cause?: unknown }).cause;
        const why = messageOf(cause ?? err);
        const tls = /certificate|self[- ]signed|CERT|TLS|SSL/i.test(
          `${why} ${(cause as { code?: string })?.code ?? ''}`,
        );
        throw new ProviderError(
          `cannot reach the ${opts.provider} API at ${opts.apiUrl} (${method} ${new URL(url).pathname}): ${why}${
            tls
              ? ' — its certificate is not trusted; use a certificate from a public CA, or (test setups only) webhooks.insecureSkipTlsVerify: true'
              : ''
          }`,
          { cause: err },
        );
      }
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON: keep the text
      }
      const headers = res.headers as unknown as Headers;
      if (res.ok) return { status: res.status, headers, body: parsed };
      if (res.status >= 300 && res.status < 400) {
        const next = this.redirectTarget(method, url, res.status, headers.get('location'), redirects);
        redirects++;
        attempt--; // a redirect is not a failed attempt
        url = next;
        continue;
      }
      const wait = rateLimitWaitMs(res.status, headers, now());
      if (wait !== undefined) {
        const resetAt = new Date(now() + wait).toISOString();
        if (attempt < 4 && wait <= maxWait) {
          await sleep(wait + 250, opts.signal);
          continue;
        }
        throw new ProviderError(
          `${opts.provider} rate limit reached (${res.status}); it resets at ${resetAt}: run again after that${providerMessage(parsed) ? ` (${providerMessage(parsed)})` : ''}`,
          { status: res.status },
        );
      }
      // A 5xx is retried twice, except a POST: the hook may exist already, and the next run finds it.
      if (res.status >= 500 && method !== 'POST' && attempt < 3) {
        await sleep(500 * attempt, opts.signal);
        continue;
      }
      throw new ProviderError(this.sentence(method, url, res.status, parsed, body), { status: res.status });
    }
  }

  /**
   * Where a redirect may be followed: only on the same origin (scheme, host and port), at most 5 times,
   * and for a write only with 307/308 (which keep the method and body). Anything else is a ProviderError
   * naming the target's origin (never its query) and the fix: the token goes to no other address.
   */
  private redirectTarget(
    method: string,
    url: string,
    status: number,
    location: string | null,
    redirects: number,
  ): string {
    const { provider, apiUrl } = this.opts;
    const where = `${method} ${new URL(url).pathname}`;
    let target: URL | undefined;
    try {
      target = location ? new URL(location, url) : undefined;
    } catch {
      target = undefined;
    }
    if (!target) {
      throw new ProviderError(
        `${provider} API answered ${where} with a redirect (${status}) without a valid Location: check webhooks.apiUrl (${apiUrl})`,
        { status },
      );
    }
    if (target.origin !== new URL(url).origin) {
      throw new ProviderError(
        `${provider} API answered ${where} with a redirect (${status}) to another address, ${target.origin}: the token is not sent there; set webhooks.apiUrl to the address the API answers at (webhooks.apiUrl is ${apiUrl})`,
        { status },
      );
    }
    if (method !== 'GET' && status !== 307 && status !== 308) {
      throw new ProviderError(
        `${provider} API answered ${where} with a redirect (${status}) to ${target.pathname}, which would turn the request into a GET: set webhooks.apiUrl (or webhooks.repository, if the repository was renamed) to the current address`,
        { status },
      );
    }
    if (redirects >= 5) {
      throw new ProviderError(
        `${provider} API redirected ${where} more than 5 times: check webhooks.apiUrl (${apiUrl})`,
        { status },
      );
    }
    return target.href;
  }

  private sentence(method: string, url: string, status: number, parsed: unknown, body: unknown): string {
    const { provider, repository, tokenSource } = this.opts;
    const said = providerMessage(parsed);
    const detail = said ? ` (${provider} said: ${said})` : '';
    if (status === 401) {
      return `${provider} refused the token in ${tokenSource} (401 Unauthorized): it is invalid or expired; create a new one with ${TOKEN_SCOPES[provider]}, and put it in that Secret${detail}`;
    }
    if (status === 403 || status === 404) {
      return `the token in ${tokenSource} cannot manage the hooks of ${provider} repository ${repository} (${status}): it lacks the hook-admin scope for this repository — it needs ${TOKEN_SCOPES[provider]} — or the repository (webhooks.repository) does not exist${detail}`;
    }
    if (status === 422 || (status === 400 && method !== 'GET')) {
      const target =
        (body as { url?: string; config?: { url?: string } } | undefined)?.url ??
        (body as { config?: { url?: string } } | undefined)?.config?.url;
      return `${provider} rejected the webhook${target ? ` URL ${target}` : ''} (${status})${detail}: check webhooks.argocdUrl / webhooks.seldonDeployUrl (a public http(s) URL the provider can reach; some servers refuse local addresses)`;
    }
    return `${provider} API ${method} ${new URL(url).pathname} failed with ${status}${detail}`;
  }
}

/**
 * A browser, as far as an OpenID Connect login needs one: an HTTP client with a cookie jar that follows
 * redirects across hosts and fills in the provider's login and consent forms (tools/hosts/oidc-runner.ts's
 * `data-prompt` forms). Node built-ins only: the kind tier's SSO test runs this file, alone, in a pod
 * (mounted from a ConfigMap), so that it reaches Argo CD and the provider by the same names argocd-server
 * does.
 *
 * Run as a program (`node oidc-flow.ts`), it logs in each user of `FLOW_USERS` through
 * `${ARGOCD_URL}/auth/login` and, with the `argocd.token` cookie Argo CD set, calls Argo CD's API as that
 * user: userinfo, list Applications, and a dry-run sync of `FLOW_APP`. One JSON line per user on stdout,
 * with status codes and the redirect chain — never the token.
 */

/** Cookies per host, by name (one flow at a time: paths need no telling apart). */
export class CookieJar {
  readonly #byHost = new Map<string, Map<string, string>>();

  store(url: URL, setCookies: string[]): void {
    const jar = this.#byHost.get(url.host) ?? new Map<string, string>();
    this.#byHost.set(url.host, jar);
    for (const line of setCookies) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const expired = attrs.some((a) => {
        const [k, v] = a.trim().split('=');
        const key = k!.toLowerCase();
        return (
          (key === 'max-age' && Number(v) <= 0) || (key === 'expires' && Date.parse(v ?? '') < Date.now())
        );
      });
      if (expired || value === '') jar.delete(name);
      else jar.set(name, value);
    }
  }

  get(url: URL, name: string): string | undefined {
    return this.#byHost.get(url.host)?.get(name);
  }

  header(url: URL): string {
    return [...(this.#byHost.get(url.host) ?? new Map<string, string>())]
      .map(([k, v]) => `${k}=${v}`)
      .join('; ');
  }
}

export interface FlowResult {
  /** The last response's status (200 once Argo CD's UI is reached after the callback). */
  status: number;
  /** `GET host/path → 303`, one per request, without query strings (they carry codes and state). */
  steps: string[];
  jar: CookieJar;
  /** The callback URL Argo CD was sent back to, without its query. */
  callback?: string;
  body: string;
}

/** Follows the login from `start` to its end, answering the login form with the user's credentials. */
export async function browserLogin(start: string, username: string, password: string): Promise<FlowResult> {
  const jar = new CookieJar();
  const steps: string[] = [];
  let url = new URL(start);
  let method = 'GET';
  let body: string | undefined;
  let callback: string | undefined;
  for (let i = 0; i < 25; i++) {
    const headers: Record<string, string> = {};
    const cookie = jar.header(url);
    if (cookie) headers.cookie = cookie;
    if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await fetch(url, {
      method,
      headers,
      redirect: 'manual',
      signal: AbortSignal.timeout(20_000),
      ...(body !== undefined ? { body } : {}),
    });
    jar.store(url, res.headers.getSetCookie());
    steps.push(`${method} ${url.host}${url.pathname} → ${res.status}`);
    if (url.pathname.endsWith('/auth/callback')) callback = `${url.origin}${url.pathname}`;
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      await res.arrayBuffer();
      url = new URL(location, url);
      method = 'GET';
      body = undefined;
      continue;
    }
    const text = await res.text();
    const prompt = /<form data-prompt="(\w+)" method="post" action="([^"]+)"/.exec(text);
    if (res.status === 200 && prompt) {
      url = new URL(prompt[2]!, url);
      method = 'POST';
      body = prompt[1] === 'login' ? new URLSearchParams({ username, password }).toString() : '';
      continue;
    }
    return { status: res.status, steps, jar, body: text.slice(0, 500), ...(callback ? { callback } : {}) };
  }
  throw new Error(`login did not end after 25 requests: ${steps.join(', ')}`);
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

async function api(base: string, path: string, token: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(`${base}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    signal: AbortSignal.timeout(20_000),
  });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) as Record<string, unknown> };
  } catch {
    return { status: res.status, body: { text: text.slice(0, 300) } };
  }
}

/** What one user's login and API calls gave. */
export interface UserOutcome {
  user: string;
  login: {
    status: number;
    steps: string[];
    callback?: string;
    token: boolean;
    /** From the first request to the last response of the login. */
    seconds?: number;
    error?: string;
  };
  userinfo?: { status: number; loggedIn?: unknown; username?: unknown; iss?: unknown; groups?: unknown };
  applications?: { status: number; names: string[] };
  sync?: { status: number; error?: unknown };
}

async function asUser(argocd: string, app: string, user: string, password: string): Promise<UserOutcome> {
  const t0 = performance.now();
  const flow = await browserLogin(`${argocd}/auth/login`, user, password);
  const seconds = Math.round(performance.now() - t0) / 1000;
  const token = flow.jar.get(new URL(argocd), 'argocd.token');
  const out: UserOutcome = {
    user,
    login: {
      status: flow.status,
      steps: flow.steps,
      token: !!token,
      seconds,
      ...(flow.callback ? { callback: flow.callback } : {}),
      ...(flow.status >= 400 ? { error: flow.body } : {}),
    },
  };
  if (!token) return out;
  const info = await api(argocd, '/api/v1/session/userinfo', token);
  out.userinfo = {
    status: info.status,
    loggedIn: info.body.loggedIn,
    username: info.body.username,
    iss: info.body.iss,
    groups: info.body.groups,
  };
  const list = await api(argocd, '/api/v1/applications', token);
  const items = (list.body.items as { metadata: { name: string } }[] | null | undefined) ?? [];
  out.applications = { status: list.status, names: items.map((i) => i.metadata.name) };
  const sync = await api(argocd, `/api/v1/applications/${app}/sync`, token, {
    method: 'POST',
    body: JSON.stringify({ dryRun: true }),
  });
  out.sync = { status: sync.status, ...(sync.status >= 400 ? { error: sync.body.error ?? sync.body } : {}) };
  return out;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const argocd = process.env.ARGOCD_URL!.replace(/\/$/, '');
  const app = process.env.FLOW_APP!;
  const users = JSON.parse(process.env.FLOW_USERS ?? '[]') as { username: string; password: string }[];
  for (const u of users) {
    const outcome = await asUser(argocd, app, u.username, u.password).catch(
      (err: unknown): UserOutcome => ({
        user: u.username,
        login: { status: 0, steps: [], token: false, error: String(err) },
      }),
    );
    process.stdout.write(`${JSON.stringify(outcome)}\n`);
  }
}

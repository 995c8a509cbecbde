/**
 * Talking to a real Argo CD in the kind cluster: `kubectl port-forward` to argocd-server and its REST API
 * (plain HTTP: the bootstrap sets `server.insecure`), under the root path the bootstrap configures.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { target } from '../../e2e/support/target.ts';

export interface PortForward {
  port: number;
  close(): void;
}

/** `kubectl port-forward` of `resource` (e.g. `service/argocd-server`) on a free local port. */
export function portForward(namespace: string, resource: string, remote: number): Promise<PortForward> {
  const t = target();
  const child: ChildProcess = spawn(
    join(t.binDir, 'kubectl'),
    ['--kubeconfig', t.kubeconfig, 'port-forward', '-n', namespace, resource, `:${remote}`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return new Promise((resolvePromise, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`port-forward ${resource} did not start: ${out}`));
    }, 30_000);
    const onData = (d: Buffer) => {
      out += d;
      const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolvePromise({ port: Number(m[1]), close: () => child.kill() });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`port-forward ${resource} exited (${code}): ${out}`));
    });
  });
}

export interface ApiAnswer {
  status: number;
  body: Record<string, unknown>;
  text: string;
}

async function call(url: string, init: RequestInit = {}): Promise<ApiAnswer> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(15_000) });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON (e.g. the UI's index.html): keep the text
  }
  return { status: res.status, body, text };
}

/** Argo CD's REST API at `http://127.0.0.1:<port><rootPath>`. */
export function argocdApi(port: number, rootPath = '/argocd') {
  const base = `http://127.0.0.1:${port}${rootPath.replace(/\/$/, '')}`;
  return {
    base,
    /** `POST /api/v1/session`: a token when the password is right, 401 when not. */
    login: (password: string, username = 'admin') =>
      call(`${base}/api/v1/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username, password }),
      }),
    /** `GET /api/v1/session/userinfo` with a bearer token: `loggedIn` says whether it is still valid. */
    userinfo: (token: string) =>
      call(`${base}/api/v1/session/userinfo`, { headers: { authorization: `Bearer ${token}` } }),
    version: () => call(`${base}/api/version`),
    get: (path: string, token?: string) =>
      call(`${base}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {}),
  };
}

/** Port-forwards to argocd-server's HTTP port for the length of `fn`. */
export async function withArgocdServer<T>(
  namespace: string,
  fn: (api: ReturnType<typeof argocdApi>) => Promise<T>,
  rootPath = '/argocd',
): Promise<T> {
  const pf = await portForward(namespace, 'service/argocd-server', 80);
  try {
    return await fn(argocdApi(pf.port, rootPath));
  } finally {
    pf.close();
  }
}

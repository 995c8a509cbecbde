/**
 * Talking to a real Argo CD on the real node: `kubectl port-forward` to argocd-server and its REST API
 * (plain HTTP: the bootstrap sets `server.insecure`), under the root path the bootstrap configures.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import type { ReadinessReport } from '../../../src/report/types.ts';
import { type CliResult, MAIN } from '../../e2e/support/bootstrap.ts';
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

/**
 * The real CLI, like `runCli` of the e2e support, with a longer timeout: a first `apply` on the real node
 * pulls Argo CD's images, waits for the rollout and (with `waitForSync`) for the sync.
 */
export async function runCliLong(
  args: string[],
  opts: { kubeconfig: string; env?: Record<string, string>; timeoutMs: number },
): Promise<CliResult> {
  const res = await execa(process.execPath, [MAIN, ...args, '--kubeconfig', opts.kubeconfig], {
    reject: false,
    env: { LOG_FORMAT: 'json', LOG_LEVEL: 'info', ...opts.env, KUBECONFIG: '' },
    extendEnv: true,
    timeout: opts.timeoutMs,
  });
  let report: ReadinessReport | undefined;
  if (res.stdout.trim().startsWith('{')) {
    const parsed = JSON.parse(res.stdout) as { kind?: string };
    if (parsed.kind === 'ReadinessReport') report = parsed as ReadinessReport;
  }
  return { code: res.exitCode ?? 1, stdout: res.stdout, stderr: res.stderr, report };
}

/**
 * Argo CD's namespace on the real node is a singleton: its ClusterRoleBindings name one namespace, and the
 * bootstrap configures one argocd-secret. One vitest process runs its files one after another, but test
 * runs of other checkouts may share the real node (test/cluster/real-node: "last user stops it"); a file
 * that installs Argo CD in `argocd` holds this host-wide lock from its first install to its cleanup.
 */
export const ARGOCD_NAMESPACE_LOCK = '/run/sd-gitops-bootstrap/argocd-namespace.lock';

function startOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' ? undefined : fields[19];
  } catch {
    return undefined;
  }
}

/** Takes the lock (waiting up to `timeoutMs` for a live holder); returns its release. */
export async function holdArgocdNamespace(
  what: string,
  log: (msg: string) => void,
  timeoutMs = 30 * 60_000,
): Promise<() => void> {
  mkdirSync(dirname(ARGOCD_NAMESPACE_LOCK), { recursive: true });
  const me = { pid: process.pid, start: startOf(process.pid), what };
  const deadline = Date.now() + timeoutMs;
  let told = false;
  for (;;) {
    try {
      writeFileSync(ARGOCD_NAMESPACE_LOCK, JSON.stringify(me), { flag: 'wx' });
      return () => {
        try {
          const holder = JSON.parse(readFileSync(ARGOCD_NAMESPACE_LOCK, 'utf8')) as typeof me;
          if (holder.pid === me.pid && holder.start === me.start)
            rmSync(ARGOCD_NAMESPACE_LOCK, { force: true });
        } catch {
          // already gone
        }
      };
    } catch {
      let holder: typeof me | undefined;
      try {
        holder = JSON.parse(readFileSync(ARGOCD_NAMESPACE_LOCK, 'utf8')) as typeof me;
      } catch {
        holder = undefined; // being written or removed: look again
      }
      if (holder && (startOf(holder.pid) === undefined || startOf(holder.pid) !== holder.start)) {
        rmSync(ARGOCD_NAMESPACE_LOCK, { force: true }); // its holder died
        continue;
      }
      if (Date.now() > deadline) {
        throw new Error(`Argo CD's namespace is held by pid ${holder?.pid} (${holder?.what}) for too long`);
      }
      if (!told && holder) log(`waiting for Argo CD's namespace: held by pid ${holder.pid} (${holder.what})`);
      told = true;
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

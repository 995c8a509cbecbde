/**
 * Small real HTTP servers for git and API clients, for tests that must see what a client sends: a Git
 * smart-HTTP server (`git http-backend` run as CGI per request, optional basic auth), a server that
 * answers every request with a redirect, and a server that records requests and answers JSON. Each
 * records every request's method, URL and headers. Plain HTTP on 127.0.0.1; nothing is written outside
 * the repositories' directory.
 */
import { spawn } from 'node:child_process';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

export interface TestServer {
  /** `http://127.0.0.1:<port>` (or `http://localhost:<port>` with `host: 'localhost'`: another host name). */
  origin: string;
  seen: SeenRequest[];
  close(): Promise<void>;
}

async function listen(server: Server, seen: SeenRequest[], hostName: string): Promise<TestServer> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://${hostName}:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A Git server over plain HTTP serving the bare repositories of `root`; with `auth`, Basic auth required. */
export function startGitHttpBackend(opts: {
  root: string;
  auth?: { username: string; password: string };
  hostName?: string;
}): Promise<TestServer> {
  const seen: SeenRequest[] = [];
  const expected = opts.auth
    ? `Basic ${Buffer.from(`${opts.auth.username}:${opts.auth.password}`).toString('base64')}`
    : undefined;
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    if (expected && req.headers.authorization !== expected) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="git"' });
      res.end('unauthorized\n');
      return;
    }
    const u = new URL(req.url ?? '/', 'http://x');
    const child = spawn('git', ['http-backend'], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        GIT_PROJECT_ROOT: opts.root,
        GIT_HTTP_EXPORT_ALL: '1',
        PATH_INFO: u.pathname,
        QUERY_STRING: u.search.slice(1),
        REQUEST_METHOD: req.method ?? 'GET',
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
        REMOTE_USER: opts.auth?.username ?? '',
        REMOTE_ADDR: '127.0.0.1',
      },
    });
    req.pipe(child.stdin);
    const out: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.on('close', () => {
      const all = Buffer.concat(out);
      const sep = all.indexOf('\r\n\r\n');
      const headers: Record<string, string> = {};
      let status = 200;
      for (const line of all.subarray(0, Math.max(sep, 0)).toString().split('\r\n')) {
        const i = line.indexOf(':');
        if (i < 0) continue;
        const key = line.slice(0, i).trim();
        const value = line.slice(i + 1).trim();
        if (key.toLowerCase() === 'status') status = Number(value.split(' ')[0]);
        else headers[key] = value;
      }
      res.writeHead(status, headers);
      res.end(sep < 0 ? all : all.subarray(sep + 4));
    });
  });
  return listen(server, seen, opts.hostName ?? '127.0.0.1');
}

/** Answers every request with `status` and `Location: <to>` + the request's path (`rewrite` changes it). */
export function startRedirector(opts: {
  to: string;
  status?: number;
  rewrite?: (path: string) => string;
}): Promise<TestServer> {
  const seen: SeenRequest[] = [];
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    req.resume();
    const path = opts.rewrite ? opts.rewrite(req.url ?? '/') : (req.url ?? '/');
    res.writeHead(opts.status ?? 301, { location: `${opts.to}${path}` });
    res.end();
  });
  return listen(server, seen, '127.0.0.1');
}

/** Records every request and answers `answer(req)` (default 200 `[]`) as JSON. */
export function startRecorder(
  opts: {
    hostName?: string;
    answer?: (req: SeenRequest) => { status: number; body?: unknown; headers?: Record<string, string> };
  } = {},
): Promise<TestServer> {
  const seen: SeenRequest[] = [];
  const server = createServer((req, res) => {
    const r = { method: req.method ?? '', url: req.url ?? '', headers: req.headers };
    seen.push(r);
    req.resume();
    const a = opts.answer?.(r) ?? { status: 200, body: [] };
    res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers });
    res.end(a.body === undefined ? '' : JSON.stringify(a.body));
  });
  return listen(server, seen, opts.hostName ?? '127.0.0.1');
}

/**
 * A real Git server over HTTPS for tests: Debian's nginx with basic auth in front of `git http-backend`
 * through fcgiwrap, serving the bare repositories of a directory (e.g. the SSH server's `repos/`, so one
 * repository is reachable both ways). TLS with a test CA made at run time by openssl (never committed);
 * the server certificate names `host` (an IP address or a DNS name).
 *
 * `host` is the address nginx listens on; `on` runs it elsewhere (a container on a kind cluster's network,
 * tools/hosts/git-host.ts), where the URLs and the certificate name the container.
 */
import { type ChildProcess, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localServerHost, type ServerHost, waitForPort } from './net.ts';

const NGINX = '/usr/sbin/nginx';
const FCGIWRAP = '/usr/sbin/fcgiwrap';
const HTTP_BACKEND = '/usr/lib/git-core/git-http-backend';

export interface GitHttpsServer {
  host: string;
  port: number;
  /** `https://host:port` — append `/<name>.git`. */
  baseUrl: string;
  username: string;
  /** The accepted password (a token, as a Git host would issue). */
  token: string;
  /** The test CA's certificate (PEM): what a client must trust. */
  caCert: string;
  /** The CA certificate as a file, for `GIT_SSL_CAINFO`. */
  caFile: string;
  /** A user whose token reads but may not push: `git-receive-pack` answers 403, as for a read-only token. */
  readOnly: { username: string; token: string };
  /** Replaces the accepted token (the old one is refused from then on). */
  setToken(token: string): void;
  stop(): Promise<void>;
}

/** What is missing to run the server, or undefined. */
export function gitHttpsMissing(): string | undefined {
  const missing = [
    [NGINX, 'nginx'],
    [FCGIWRAP, 'fcgiwrap'],
    [HTTP_BACKEND, 'git'],
  ].filter(([path]) => !existsSync(path!));
  return missing.length > 0
    ? `install Debian packages ${missing.map(([, pkg]) => pkg).join(', ')} (for the HTTPS Git server)`
    : undefined;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

/** A CA and a server certificate for `host` signed by it, in `dir`. */
export function makeCertificates(dir: string, host: string): void {
  const san = /^[0-9.]+$|:/.test(host) ? `IP:${host}` : `DNS:${host}`;
  openssl(['genrsa', '-out', 'ca.key', '2048'], dir);
  openssl(
    [
      'req',
      '-x509',
      '-new',
      '-key',
      'ca.key',
      '-sha256',
      '-days',
      '2',
      '-subj',
      '/CN=sd-e2e test CA',
      '-out',
      'ca.crt',
    ],
    dir,
  );
  openssl(['genrsa', '-out', 'server.key', '2048'], dir);
  openssl(['req', '-new', '-key', 'server.key', '-subj', `/CN=${host}`, '-out', 'server.csr'], dir);
  writeFileSync(
    join(dir, 'server.ext'),
    `subjectAltName=${san}\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n`,
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-sha256',
      '-days',
      '2',
      '-extfile',
      'server.ext',
      '-out',
      'server.crt',
    ],
    dir,
  );
}

function htpasswdLine(user: string, password: string): string {
  const hash = execFileSync('openssl', ['passwd', '-apr1', '-stdin'], { input: `${password}\n` })
    .toString()
    .trim();
  return `${user}:${hash}\n`;
}

export async function startGitHttpsServer(opts: {
  /** Directory of bare repositories (`<name>.git`). */
  reposDir: string;
  host?: string;
  /** Where nginx and fcgiwrap run (default: this host, on `host`); its directories must be shared. */
  on?: ServerHost;
  /** Parent directory of the server's own files (default: the system's temp dir). */
  parent?: string;
  username?: string;
  token?: string;
}): Promise<GitHttpsServer> {
  const missing = opts.on ? undefined : gitHttpsMissing();
  if (missing) throw new Error(missing);
  const on = opts.on ?? localServerHost(opts.host);
  const host = on.advertise;
  const username = opts.username ?? 'gitops-bot';
  let token = opts.token ?? `tok-${Math.random().toString(36).slice(2)}`;
  const root = mkdtempSync(join(opts.parent ?? tmpdir(), 'sd-git-https-'));
  for (const d of ['tmp', 'logs']) mkdirSync(join(root, d));
  makeCertificates(root, host);
  const htpasswd = join(root, 'htpasswd');
  const readOnly = { username: 'gitops-reader', token: `ro-${Math.random().toString(36).slice(2)}` };
  const users = () => htpasswdLine(username, token) + htpasswdLine(readOnly.username, readOnly.token);
  writeFileSync(htpasswd, users());
  const port = await on.port();
  const socket = join(root, 'fcgiwrap.sock');

  const children: ChildProcess[] = [];
  let stderr = '';
  const track = (c: ChildProcess, name: string) => {
    children.push(c);
    c.stderr?.on('data', (d: Buffer) => {
      stderr += `${name}: ${d}`;
    });
  };
  // One fcgiwrap process (no -c: no children of its own) serving the socket; git http-backend runs per
  // request as its child.
  track(on.spawn(FCGIWRAP, ['-s', `unix:${socket}`], { stdio: ['ignore', 'ignore', 'pipe'] }), 'fcgiwrap');

  const conf = `
daemon off;
master_process on;
worker_processes 1;
user root root;
pid ${join(root, 'nginx.pid')};
error_log stderr warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${join(root, 'tmp', 'body')};
  fastcgi_temp_path ${join(root, 'tmp', 'fastcgi')};
  proxy_temp_path ${join(root, 'tmp', 'proxy')};
  uwsgi_temp_path ${join(root, 'tmp', 'uwsgi')};
  scgi_temp_path ${join(root, 'tmp', 'scgi')};
  client_max_body_size 0;
  # The read-only user may not push: receive-pack's advertisement and its POST are refused.
  map "$remote_user $arg_service $uri" $push_refused {
    default 0;
    "~^${readOnly.username} (git-receive-pack .*|.*/git-receive-pack)$" 1;
  }
  server {
    listen ${on.listen.includes(':') ? `[${on.listen}]` : on.listen}:${port} ssl;
    ssl_certificate ${join(root, 'server.crt')};
    ssl_certificate_key ${join(root, 'server.key')};
    location / {
      if ($push_refused) { return 403; }
      auth_basic "git";
      auth_basic_user_file ${htpasswd};
      include /etc/nginx/fastcgi_params;
      fastcgi_pass unix:${socket};
      fastcgi_param SCRIPT_FILENAME ${HTTP_BACKEND};
      fastcgi_param GIT_PROJECT_ROOT ${opts.reposDir};
      fastcgi_param GIT_HTTP_EXPORT_ALL "";
      fastcgi_param PATH_INFO $uri;
      fastcgi_param REMOTE_USER $remote_user;
    }
  }
}
`;
  writeFileSync(join(root, 'nginx.conf'), conf);
  // Wait for fcgiwrap's socket before nginx answers requests with it.
  for (let i = 0; i < 100 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 50));
  const nginx = on.spawn(NGINX, ['-c', join(root, 'nginx.conf'), '-p', root, '-e', 'stderr'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  track(nginx, 'nginx');
  try {
    await waitForPort('nginx', on.probe, port, () =>
      children.some((c) => c.exitCode !== null) ? `nginx or fcgiwrap exited: ${stderr}` : undefined,
    );
  } catch (err) {
    for (const c of children) c.kill('SIGTERM');
    rmSync(root, { recursive: true, force: true });
    throw err;
  }

  return {
    host,
    port,
    baseUrl: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    username,
    get token() {
      return token;
    },
    readOnly,
    caCert: readFileSync(join(root, 'ca.crt'), 'utf8'),
    caFile: join(root, 'ca.crt'),
    setToken(next: string) {
      token = next;
      writeFileSync(htpasswd, users()); // nginx reads it per request
    },
    async stop() {
      await Promise.all(
        children.map(
          (c) =>
            new Promise<void>((resolve) => {
              if (c.exitCode !== null || c.signalCode !== null) return resolve();
              c.once('exit', () => resolve());
              c.kill('SIGTERM');
            }),
        ),
      );
      rmSync(root, { recursive: true, force: true });
    },
  };
}

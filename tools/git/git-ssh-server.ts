/**
 * A real Git server over SSH for tests and the demo: Debian's OpenSSH `sshd` on loopback, with a host key
 * and a user key generated at run time (never committed), serving bare repositories from a temp dir.
 *
 * sshd runs as the current user. As root it accepts root with a key only; as anyone else it can only
 * authenticate that same user — either way the URL is `ssh://<current user>@<host>:<port>/<path>`.
 *
 * `host` (default 127.0.0.1) is the address sshd listens on; `on` runs it elsewhere instead (a container on
 * a kind cluster's network, tools/hosts/git-host.ts), where the URLs and known_hosts name the container.
 */
import { type ChildProcess, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { localServerHost, type ServerHost, waitForPort } from './net.ts';

const SSHD_CANDIDATES = ['/usr/sbin/sshd', '/usr/bin/sshd'];

export interface GitSshServer {
  port: number;
  /** The address sshd listens on (and the URLs and known_hosts lines name). */
  host: string;
  user: string;
  /** `ssh://user@host:port` — append a repository path. */
  baseUrl: string;
  /** The user's private key (OpenSSH PEM) and the matching known_hosts line for this server. */
  privateKey: string;
  knownHosts: string;
  /** A known_hosts line with a different key for the same host: what a spoofed server would present. */
  wrongKnownHosts: string;
  /** A private key the server does not accept. */
  unknownPrivateKey: string;
  /**
   * A private key the server accepts for reading only: `git-receive-pack` is refused with GitHub's words for
   * a read-only deploy key, before any ref is sent (an authorized_keys `command=`).
   */
  readOnlyPrivateKey: string;
  root: string;
  /** Creates a bare repository whose first commit holds `files` (path → content); returns its URL. */
  createRepo(name: string, files: Record<string, string>): string;
  /**
   * Adds a commit with a folder that is an empty tree: git's porcelain cannot make one, its plumbing can,
   * and a repository can hold one (some tools write them). The closest thing git has to an empty folder.
   */
  addEmptyFolder(name: string, folder: string): void;
  /** Adds a commit with these files (content null = delete). */
  commit(name: string, files: Record<string, string | null>, message?: string): void;
  /** Removes the user key from authorized_keys (a revoked key). */
  revokeUserKey(): void;
  stop(): Promise<void>;
}

/**
 * The `gitops-source-creds` Secret the chart's default `git.credentialsSecret` names, holding this server's
 * user key, host key line and user: what a platform engineer prepares before a run (the demos, the bench).
 */
export function sourceSecret(
  git: Pick<GitSshServer, 'privateKey' | 'knownHosts' | 'user'>,
  namespace: string,
) {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'gitops-source-creds', namespace },
    type: 'kubernetes.io/ssh-auth',
    stringData: { 'ssh-privatekey': git.privateKey, known_hosts: git.knownHosts, username: git.user },
  };
}

export function sshdPath(): string | undefined {
  return SSHD_CANDIDATES.find((p) => existsSync(p));
}

function keygen(file: string, comment: string): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
}

/** Who the commits the test server makes are by. */
const GIT_IDENTITY = {
  GIT_AUTHOR_NAME: 'e2e',
  GIT_AUTHOR_EMAIL: 'e2e@example.com',
  GIT_COMMITTER_NAME: 'e2e',
  GIT_COMMITTER_EMAIL: 'e2e@example.com',
};

function git(cwd: string, args: string[]): void {
  execFileSync('git', args, {
    cwd,
    stdio: 'pipe',
    env: { ...process.env, ...GIT_IDENTITY, GIT_CONFIG_GLOBAL: '/dev/null' },
  });
}

export async function startGitSshServer(
  opts: { port?: number; root?: string; host?: string; on?: ServerHost } = {},
): Promise<GitSshServer> {
  const on = opts.on ?? localServerHost(opts.host);
  const host = on.advertise;
  const sshd = opts.on ? '/usr/sbin/sshd' : sshdPath();
  if (!sshd) throw new Error('sshd not found: install Debian package openssh-server');
  const root = opts.root ?? mkdtempSync(join(tmpdir(), 'sd-git-ssh-'));
  mkdirSync(join(root, 'repos'), { recursive: true });
  for (const k of ['host_key', 'other_host_key', 'user_key', 'unknown_user_key', 'readonly_user_key']) {
    if (!existsSync(join(root, k))) keygen(join(root, k), k);
  }
  const authorized = join(root, 'authorized_keys');
  const readOnlyCommand = join(root, 'read-only-key.sh');
  writeFileSync(
    readOnlyCommand,
    [
      '#!/bin/sh',
      'case "$SSH_ORIGINAL_COMMAND" in',
      '  git-receive-pack*) echo "ERROR: The key you are authenticating with has been marked as read only." >&2; exit 1;;',
      '  *) exec /bin/sh -c "$SSH_ORIGINAL_COMMAND";;',
      'esac',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  writeFileSync(
    authorized,
    `${readFileSync(join(root, 'user_key.pub'), 'utf8').trim()}\ncommand="${readOnlyCommand}",no-port-forwarding,no-pty ${readFileSync(join(root, 'readonly_user_key.pub'), 'utf8').trim()}\n`,
    { mode: 0o600 },
  );
  const port = await on.port(opts.port);
  const user = userInfo().username;
  const config = [
    `Port ${port}`,
    `ListenAddress ${on.listen}`,
    `HostKey ${join(root, 'host_key')}`,
    `AuthorizedKeysFile ${authorized}`,
    `PidFile ${join(root, 'sshd.pid')}`,
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'PermitRootLogin prohibit-password',
    'UsePAM no',
    'StrictModes no',
    `AllowUsers ${user}`,
    'LogLevel ERROR',
  ].join('\n');
  writeFileSync(join(root, 'sshd_config'), `${config}\n`);
  // sshd insists on this directory for privilege separation, even when it is not used (a container's
  // is made by its image).
  if (!opts.on) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const child: ChildProcess = on.spawn(sshd, ['-D', '-e', '-f', join(root, 'sshd_config')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  // A detached start (ServerHost.spawn of a persistent Git host) exits 0 at once: only a failure counts.
  await waitForPort('sshd', on.probe, port, () =>
    child.exitCode !== null && child.exitCode !== 0 ? `sshd exited: ${stderr}` : undefined,
  );

  const hostPub = readFileSync(join(root, 'host_key.pub'), 'utf8').trim().split(' ');
  const otherPub = readFileSync(join(root, 'other_host_key.pub'), 'utf8').trim().split(' ');
  const hostPattern = `[${host}]:${port}`;
  const baseUrl = `ssh://${user}@${host}:${port}`;

  return {
    port,
    host,
    user,
    baseUrl,
    root,
    privateKey: readFileSync(join(root, 'user_key'), 'utf8'),
    unknownPrivateKey: readFileSync(join(root, 'unknown_user_key'), 'utf8'),
    readOnlyPrivateKey: readFileSync(join(root, 'readonly_user_key'), 'utf8'),
    knownHosts: `${hostPattern} ${hostPub[0]} ${hostPub[1]}\n`,
    wrongKnownHosts: `${hostPattern} ${otherPub[0]} ${otherPub[1]}\n`,
    createRepo(name, files) {
      const bare = join(root, 'repos', `${name}.git`);
      rmSync(bare, { recursive: true, force: true });
      git(root, ['init', '-q', '--bare', '-b', 'main', bare]);
      const work = mkdtempSync(join(root, 'work-'));
      git(work, ['init', '-q', '-b', 'main']);
      writeFiles(work, files);
      git(work, ['add', '-A']);
      git(work, ['commit', '-q', '--allow-empty', '-m', 'initial']);
      git(work, ['push', '-q', bare, 'main']);
      rmSync(work, { recursive: true, force: true });
      return `${baseUrl}${bare}`;
    },
    commit(name, files, message = 'update') {
      const bare = join(root, 'repos', `${name}.git`);
      const work = mkdtempSync(join(root, 'work-'));
      git(root, ['clone', '-q', bare, work]);
      writeFiles(work, files);
      git(work, ['add', '-A']);
      git(work, ['commit', '-q', '-m', message]);
      git(work, ['push', '-q', 'origin', 'main']);
      rmSync(work, { recursive: true, force: true });
    },
    addEmptyFolder(name, folder) {
      const gitDir = join(root, 'repos', `${name}.git`);
      const plumbing = (args: string[], input?: string) =>
        execFileSync('git', [`--git-dir=${gitDir}`, ...args], {
          input,
          env: { ...process.env, ...GIT_IDENTITY },
        })
          .toString()
          .trim();
      const empty = plumbing(['hash-object', '-t', 'tree', '-w', '--stdin'], '');
      const listing = plumbing(['ls-tree', 'main']);
      const tree = plumbing(['mktree'], `${listing}\n040000 tree ${empty}\t${folder}\n`);
      const commit = plumbing(['commit-tree', tree, '-p', 'main', '-m', `empty folder ${folder}`]);
      plumbing(['update-ref', 'refs/heads/main', commit]);
    },
    revokeUserKey() {
      writeFileSync(authorized, '');
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
      if (!opts.root) rmSync(root, { recursive: true, force: true });
    },
  };
}

function writeFiles(dir: string, files: Record<string, string | null>): void {
  for (const [path, content] of Object.entries(files)) {
    const full = join(dir, path);
    if (content === null) {
      rmSync(full, { recursive: true, force: true });
      continue;
    }
    mkdirSync(join(full, '..'), { recursive: true });
    writeFileSync(full, content);
  }
}

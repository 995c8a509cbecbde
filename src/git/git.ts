/**
 * Running git and ssh with the user's credentials, safely: credentials live in files (mode 0600) in a
 * private directory under SD_BOOTSTRAP_SECRET_DIR (memory-backed storage in the chart), never in argv or
 * a child's environment; the directory is removed when its work settles, and on every process exit Node
 * sees (`exit`: the end of a run, `process.exit` after a second SIGTERM, an uncaught error). A SIGKILL is
 * not seen: then only memory-backed storage makes the files vanish with the pod. SSH host keys are always
 * checked against the known_hosts the user gave; HTTPS credentials come from a credential helper scoped
 * to the repository URL, and git follows no redirect (with the credentials it would send them on to the
 * host the redirect names). git's stderr is turned into a sentence.
 */
import { rmSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { GitCredentials } from '../manifests/git-credentials.ts';
import { repoHost, stableOpensshKey } from '../manifests/git-credentials.ts';
import { redact, registerBasicAuth, registerSecret } from '../report/redact.ts';

export interface GitResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs a program (git, ssh-keygen) and never throws for a non-zero exit. */
export type GitRunner = (
  command: 'git' | 'ssh-keygen',
  args: string[],
  opts: { env: Record<string, string>; timeoutMs: number; signal?: AbortSignal | undefined },
) => Promise<GitResult>;

export const execaRunner: GitRunner = async (command, args, opts) => {
  const result = await execa(command, args, {
    env: opts.env,
    extendEnv: true,
    stdin: 'ignore',
    reject: false,
    timeout: opts.timeoutMs,
    ...(opts.signal ? { cancelSignal: opts.signal } : {}),
  });
  const stderr = typeof result.stderr === 'string' ? result.stderr : '';
  return {
    exitCode: result.exitCode ?? -1,
    stdout: typeof result.stdout === 'string' ? result.stdout : '',
    // A spawn failure (no git installed) has no stderr, only a message.
    stderr: stderr || (result.failed && result.exitCode === undefined ? (result.originalMessage ?? '') : ''),
    timedOut: result.timedOut,
  };
};

/** Messages in English whatever the locale, so they can be recognised. */
const BASE_ENV = { LC_ALL: 'C', LANG: 'C', GIT_TERMINAL_PROMPT: '0' };

const quote = (path: string) => `'${path.replaceAll("'", "'\\''")}'`;

/** Where key material is written: SD_BOOTSTRAP_SECRET_DIR (memory-backed in the chart), else the temp dir. */
export function secretParentDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.SD_BOOTSTRAP_SECRET_DIR?.trim() || tmpdir();
}

/** Directories that exist now, removed synchronously if the process exits before their `finally`. */
const liveDirs = new Set<string>();
let exitHook = false;

/** Removes every live directory now (the `exit` handler; also for tests). */
export function removeLiveDirsSync(): void {
  for (const dir of liveDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // nothing more can be done while exiting
    }
  }
  liveDirs.clear();
}

/**
 * A private directory, removed (with the credentials in it) when `fn` settles, or at process exit.
 * `secret`: under `secretParentDir()` (key material); else under the temp dir (a clone).
 */
export async function withTempDir<T>(
  fn: (dir: string) => Promise<T>,
  opts: { secret?: boolean } = {},
): Promise<T> {
  const parent = opts.secret ? secretParentDir() : tmpdir();
  // The chart mounts SD_BOOTSTRAP_SECRET_DIR; a run elsewhere (a laptop, the chart's pod spec run by hand)
  // may name one that does not exist yet: made private, as the volume is.
  if (opts.secret) await mkdir(parent, { recursive: true, mode: 0o700 });
  const dir = await mkdtemp(join(parent, 'sd-gitops-bootstrap-'));
  liveDirs.add(dir);
  if (!exitHook) {
    process.on('exit', removeLiveDirsSync);
    exitHook = true;
  }
  try {
    await chmod(dir, 0o700);
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
    liveDirs.delete(dir);
  }
}

async function writePrivate(path: string, content: string, mode = 0o600): Promise<void> {
  await writeFile(path, content, { mode });
  await chmod(path, mode);
}

/**
 * A credential helper that answers only `get`, from a file: git runs it with the request on stdin and
 * reads `username=`/`password=` from its stdout, so the credential is in no argv and no environment.
 */
const credentialHelper = (file: string) => `!f() { test "$1" = get && cat ${quote(file)}; }; f`;

/**
 * The environment that makes git use `creds`: for SSH a `GIT_SSH_COMMAND` with the key and known_hosts
 * files in `dir` and strict host-key checking; for HTTPS a credential helper scoped to `repoUrl`
 * (`credential.<url>.helper`, git ≥ 2.31 reads it from `GIT_CONFIG_*`) answering from a file in `dir`,
 * other helpers off, and `http.followRedirects=false`: git would otherwise send the credentials to
 * whatever host a redirect of the first request names (even an `http.<url>.extraHeader` travels: git
 * reads its config once, for the URL it was given).
 */
export async function gitAuthEnv(
  creds: GitCredentials,
  dir: string,
  opts: { privateKey?: string | undefined; repoUrl?: string } = {},
): Promise<Record<string, string>> {
  if (creds.kind === 'ssh') {
    const key = join(dir, 'id_key');
    const knownHosts = join(dir, 'known_hosts');
    await writePrivate(key, ensureTrailingNewline(opts.privateKey ?? creds.privateKey));
    await writePrivate(knownHosts, ensureTrailingNewline(creds.knownHosts));
    return {
      ...BASE_ENV,
      GIT_SSH_COMMAND: [
        'ssh',
        `-i ${quote(key)}`,
        '-o IdentitiesOnly=yes',
        `-o UserKnownHostsFile=${quote(knownHosts)}`,
        '-o StrictHostKeyChecking=yes',
        '-o BatchMode=yes',
      ].join(' '),
    };
  }
  registerBasicAuth(creds.username, creds.password);
  const file = join(dir, 'credentials');
  await writePrivate(file, `username=${creds.username}\npassword=${creds.password}\n`);
  const config: [string, string][] = [
    // An empty helper first clears any helper of the system or user config (a credential store).
    ['credential.helper', ''],
    [opts.repoUrl ? `credential.${opts.repoUrl}.helper` : 'credential.helper', credentialHelper(file)],
    ['http.followRedirects', 'false'],
  ];
  return {
    ...BASE_ENV,
    GIT_CONFIG_COUNT: String(config.length),
    ...Object.fromEntries(
      config.flatMap(([key, value], i) => [
        [`GIT_CONFIG_KEY_${i}`, key],
        [`GIT_CONFIG_VALUE_${i}`, value],
      ]),
    ),
  };
}

/** git trusts exactly these CA certificates (git.caBundle) for HTTPS, from a file in `dir`. */
export async function gitCaEnv(caBundle: string, dir: string): Promise<Record<string, string>> {
  const file = join(dir, 'ca-bundle.pem');
  await writePrivate(file, ensureTrailingNewline(caBundle));
  return { GIT_SSL_CAINFO: file };
}

function ensureTrailingNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}

/**
 * The key without its passphrase (Argo CD cannot use an encrypted key, and BatchMode ssh cannot ask).
 * ssh-keygen reads the old passphrase from an askpass helper that prints a 0600 file, so the passphrase
 * is in no argv and no environment.
 */
export async function decryptPrivateKey(
  privateKey: string,
  passphrase: string,
  opts: { run?: GitRunner; signal?: AbortSignal } = {},
): Promise<string> {
  if (passphrase === '') return privateKey;
  const run = opts.run ?? execaRunner;
  return withTempDir(
    async (dir) => {
      const key = join(dir, 'id_key');
      const askpass = join(dir, 'askpass.sh');
      const secret = join(dir, 'passphrase');
      await writePrivate(key, ensureTrailingNewline(privateKey));
      // The passphrase in a file the helper prints: in no argv and no child's environment.
      await writePrivate(secret, `${passphrase}\n`);
      await writePrivate(askpass, `#!/bin/sh\ncat ${quote(secret)}\n`, 0o700);
      const result = await run('ssh-keygen', ['-p', '-N', '', '-f', key], {
        env: {
          ...BASE_ENV,
          SSH_ASKPASS: askpass,
          SSH_ASKPASS_REQUIRE: 'force',
          DISPLAY: ':0',
        },
        timeoutMs: 30_000,
        signal: opts.signal,
      });
      if (result.exitCode !== 0) {
        const why = /incorrect passphrase|bad passphrase/i.test(result.stderr)
          ? 'the passphrase is wrong'
          : lastLine(result.stderr) || `ssh-keygen exited with ${result.exitCode}`;
        throw new Error(`cannot decrypt the SSH private key: ${redact(why)}`);
      }
      // Deterministic: ssh-keygen's random check bytes would change the repository Secret on every run.
      const plain = stableOpensshKey(await readFile(key, 'utf8'));
      registerSecret(plain);
      return plain;
    },
    { secret: true },
  );
}

export function lastLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^warning: /i.test(l) && !l.startsWith('@@@'));
  return (lines.at(-1) ?? '').replace(/^(fatal|error|ERROR):\s*/, '');
}

export interface GitErrorContext {
  repoUrl: string;
  /** `namespace/name` of the source Secret, named in the advice. */
  secret: string;
}

/** The stderr line that matched (what git or ssh actually said), cleaned; else the last line. */
function lineMatching(stderr: string, pattern: RegExp): string {
  const line = stderr.split('\n').find((l) => pattern.test(l));
  // The key file is a temporary path of ours: not useful to the reader.
  return redact(line ? lastLine(line) : lastLine(stderr)).replace(/Load key "[^"]*"/, 'loading the key');
}

const REDIRECT = /requested URL returned error: (30[12378])\b/;
const HOST_KEY_CHANGED = /REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for \S+ has changed/i;
const HOST_KEY_UNKNOWN = /No \S+ host key is known for|Host key verification failed/i;
const BAD_KEY = /Load key .*?:|invalid format|error in libcrypto|incorrect passphrase/i;
const DENIED =
  /Permission denied \(|Authentication failed|HTTP Basic: Access denied|could not read (Username|Password)|returned error: 40[13]|Invalid username or (password|token)/i;
const NOT_FOUND =
  /Repository not found|does not appear to be a git repository|returned error: 404|not found|No such file or directory|does not exist/i;
const DNS =
  /Could not resolve host|Name or service not known|Temporary failure in name resolution|nodename nor servname/i;
const CONNECT =
  /Connection refused|Connection timed out|Operation timed out|No route to host|Network is unreachable|Failed to connect|Connection reset|Connection closed/i;
const TLS =
  /SSL certificate problem|server certificate verification failed|unable to get local issuer certificate|certificate verify failed/i;

/** One sentence a person can act on, for a failed git command (the raw stderr goes to debug logs). */
export function translateGitError(stderr: string, ctx: GitErrorContext, timedOut = false): string {
  const { host, port } = repoHost(ctx.repoUrl);
  const keyscan = `ssh-keyscan ${port ? `-p ${port} ` : ''}${host}`;
  if (timedOut) return `git timed out talking to ${host}: is the host reachable from the cluster?`;
  const redirect = REDIRECT.exec(stderr);
  if (redirect) {
    return `${host} answered git.repoUrl with a redirect (HTTP ${redirect[1]}): the credentials are not sent on to the address a redirect names; set git.repoUrl to the repository's current URL (the one the server redirects to, e.g. after a rename)`;
  }
  if (HOST_KEY_CHANGED.test(stderr)) {
    return `host key mismatch: the SSH host key of ${host} does not match known_hosts in Secret ${ctx.secret} (the server's key changed, or the entry is wrong): compare with \`${keyscan}\` and fix the known_hosts key`;
  }
  if (HOST_KEY_UNKNOWN.test(stderr)) {
    return `unknown host key: ${host} is not in known_hosts of Secret ${ctx.secret}: add its keys (\`${keyscan}\`) to the known_hosts key`;
  }
  if (BAD_KEY.test(stderr)) {
    return `the SSH private key in Secret ${ctx.secret} (ssh-privatekey) cannot be used: ${lineMatching(stderr, BAD_KEY)}`;
  }
  if (DENIED.test(stderr)) {
    return `permission denied: ${host} refused the credentials in Secret ${ctx.secret} (${lineMatching(stderr, DENIED)})`;
  }
  if (NOT_FOUND.test(stderr)) {
    return `repository not found: ${ctx.repoUrl} does not exist, or the credentials in Secret ${ctx.secret} cannot see it (${lineMatching(stderr, NOT_FOUND)})`;
  }
  if (DNS.test(stderr)) return `cannot resolve ${host}: check git.repoUrl and the cluster's DNS`;
  if (CONNECT.test(stderr)) {
    return `cannot connect to ${host}${port ? `:${port}` : ''}: ${lineMatching(stderr, CONNECT)}`;
  }
  if (TLS.test(stderr))
    return `the TLS certificate of ${host} is not trusted: ${lineMatching(stderr, TLS)}: if a private or corporate CA signed it, name its certificates in git.caBundle (a Secret or ConfigMap)`;
  if (/spawn git ENOENT|git: not found|ENOENT/.test(stderr)) {
    return 'git is not installed (the image needs git and openssh-client)';
  }
  return `git failed: ${redact(lastLine(stderr)) || 'no error message'}`;
}

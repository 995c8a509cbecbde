/**
 * Step 8: the repository works with the credentials Argo CD and Seldon Deploy were given. Reconciled means:
 * `git ls-remote` succeeds (host key checked), and a shallow, blob-less clone shows a folder named like each
 * environment's namespace with at least one file in it. An unreachable repository stops the run (the
 * Applications would only fail); a missing folder is reported, not fatal: Argo CD syncs it once it appears.
 */
import { join } from 'node:path';
import { messageOf, StepError } from '../errors.ts';
import {
  execaRunner,
  type GitErrorContext,
  type GitResult,
  type GitRunner,
  gitAuthEnv,
  gitCaEnv,
  translateGitError,
  withTempDir,
} from '../git/git.ts';
import {
  credentialsSecretRef,
  readCaBundle,
  readGitCredentials,
  unencryptedPrivateKey,
} from '../inputs/inputs.ts';
import { environmentsOf } from '../manifests/common.ts';
import type { GitCredentials } from '../manifests/git-credentials.ts';
import { redact } from '../report/redact.ts';
import type { Check } from '../report/types.ts';
import { perRun, type Step, type StepContext } from './context.ts';

const NAME = 'check-repository';
const GIT_TIMEOUT_MS = 120_000;

export interface FolderCheck {
  namespace: string;
  ok: boolean;
  message: string;
}

export interface RepositoryCheck {
  reachable: boolean;
  message: string;
  folders: FolderCheck[];
  /** The push handshake's outcome (git.verifyWrite); undefined when not checked. */
  write?: { ok: boolean; message: string };
}

/**
 * The write check's sentence for a refused push handshake: what the server said, and what to change.
 * Exported for tests.
 */
export function readOnlyMessage(repoUrl: string, secret: string, said: string): string {
  return `read-only: ${repoUrl} refuses pushes with the credentials in Secret ${secret} (${said}), and Seldon Deploy pushes every model it deploys: give the key or token write access (a GitHub deploy key's "Allow write access", a GitLab deploy key's "Grant write permissions", a token with write scope), or set git.verifyWrite: false`;
}

export function folderMissing(namespace: string, repoUrl: string): string {
  return `folder missing: ${repoUrl} has no folder ${namespace}/ at HEAD: create it with the environment's manifests (or a .gitkeep)`;
}

export function folderEmpty(namespace: string): string {
  return `folder empty: ${namespace}/ has no files at HEAD`;
}

/**
 * What `git ls-tree -r -t HEAD -- <folders>` says about each folder: entries are `<mode> <type> <object>\t<path>`.
 * `-t` lists the trees too, so a folder committed as an empty tree (possible with git's plumbing) is seen
 * as present-but-empty rather than missing.
 */
export function folderStates(lsTree: string, namespaces: string[], repoUrl: string): FolderCheck[] {
  const entries = lsTree
    .split('\n')
    .filter((l) => l.includes('\t'))
    .map((l) => {
      const [meta, path] = l.split('\t') as [string, string];
      return { type: meta.split(' ')[1] ?? '', path };
    });
  return namespaces.map((namespace) => {
    if (entries.some((e) => e.path === namespace && e.type !== 'tree')) {
      return { namespace, ok: false, message: `${namespace} is a file in ${repoUrl}, not a folder` };
    }
    const inside = entries.filter((e) => e.path.startsWith(`${namespace}/`));
    if (inside.length === 0 && !entries.some((e) => e.path === namespace))
      return { namespace, ok: false, message: folderMissing(namespace, repoUrl) };
    const files = inside.filter((e) => e.type === 'blob');
    if (files.length === 0) return { namespace, ok: false, message: folderEmpty(namespace) };
    const manifests = files.filter((e) => !(e.path.split('/').at(-1) ?? '').startsWith('.'));
    const message =
      manifests.length > 0
        ? `${namespace}/ exists (${files.length} file${files.length === 1 ? '' : 's'})`
        : `${namespace}/ exists, no manifests yet (only ${files.map((f) => f.path.split('/').at(-1)).join(', ')})`;
    return { namespace, ok: true, message };
  });
}

/** Runs the checks with the given credentials; never throws for a git failure (it is the result). */
export async function checkRepository(input: {
  creds: GitCredentials;
  privateKey?: string | undefined;
  repoUrl: string;
  secret: string;
  /** PEM CA certificates the HTTPS server's certificate must chain to (git.caBundle); else the system's. */
  caBundle?: string | undefined;
  folders: string[];
  /** Also prove push access with the receive-pack handshake (git.verifyWrite). */
  verifyWrite?: boolean;
  run?: GitRunner;
  signal?: AbortSignal;
  debug?: (msg: string) => void;
}): Promise<RepositoryCheck> {
  const run = input.run ?? execaRunner;
  const errCtx: GitErrorContext = { repoUrl: input.repoUrl, secret: input.secret };
  const notChecked = (why: string) =>
    input.folders.map((namespace) => ({ namespace, ok: false, message: `not checked: ${why}` }));
  // Key material in the secret directory (memory-backed in the chart); the clone in the temp dir.
  return withTempDir(
    (secrets) =>
      withTempDir(async (dir) => {
        const env = await gitAuthEnv(input.creds, secrets, {
          privateKey: input.privateKey,
          repoUrl: input.repoUrl,
        });
        if (input.caBundle !== undefined) Object.assign(env, await gitCaEnv(input.caBundle, secrets));
        return runChecks(env, dir);
      }),
    { secret: true },
  );

  async function runChecks(env: Record<string, string>, dir: string): Promise<RepositoryCheck> {
    const git = async (args: string[]) => {
      const result = await run('git', args, { env, timeoutMs: GIT_TIMEOUT_MS, signal: input.signal });
      if (result.exitCode !== 0)
        input.debug?.(`git ${args[0]} failed (${result.exitCode}): ${redact(result.stderr)}`);
      return result;
    };
    const ls = await git(['ls-remote', '--symref', '--', input.repoUrl, 'HEAD']);
    if (ls.exitCode !== 0) {
      const message = translateGitError(ls.stderr, errCtx, ls.timedOut);
      return { reachable: false, message, folders: notChecked('the repository is not reachable') };
    }
    if (ls.stdout.trim() === '') {
      return {
        reachable: true,
        message: `${input.repoUrl} is reachable but has no commits`,
        folders: input.folders.map((namespace) => ({
          namespace,
          ok: false,
          message: folderMissing(namespace, input.repoUrl),
        })),
      };
    }
    const repo = join(dir, 'repo');
    const clone = await git([
      'clone',
      '--quiet',
      '--depth=1',
      '--filter=blob:none',
      '--no-checkout',
      '--',
      input.repoUrl,
      repo,
    ]);
    if (clone.exitCode !== 0) {
      const message = translateGitError(clone.stderr, errCtx, clone.timedOut);
      return { reachable: false, message, folders: notChecked(message) };
    }
    const tree = await git(['-C', repo, 'ls-tree', '-r', '-t', 'HEAD', '--', ...input.folders]);
    if (tree.exitCode !== 0) {
      const message = translateGitError(tree.stderr, errCtx, tree.timedOut);
      return { reachable: true, message: `${input.repoUrl} is reachable`, folders: notChecked(message) };
    }
    const head = /^ref: (\S+)\s+HEAD/m.exec(ls.stdout)?.[1]?.replace(/^refs\/heads\//, '');
    return {
      reachable: true,
      message: `${input.repoUrl} is reachable${head ? ` (HEAD is ${head})` : ''}`,
      folders: folderStates(tree.stdout, input.folders, input.repoUrl),
      ...(input.verifyWrite ? { write: await writeCheck(git, repo, head) } : {}),
    };
  }

  /**
   * Push access without pushing: a dry-run push of the commit the server's HEAD branch already points at,
   * to that branch. git opens the receive-pack service (SSH `git-receive-pack`, HTTP
   * `info/refs?service=git-receive-pack`), where GitHub, GitLab and an SSH server restricting a key refuse
   * read-only credentials; the ref is already there, so nothing is sent, no ref is made and no hook runs.
   */
  async function writeCheck(
    git: (args: string[]) => Promise<GitResult>,
    repo: string,
    head: string | undefined,
  ): Promise<{ ok: boolean; message: string }> {
    if (!head) return { ok: false, message: `not checked: ${input.repoUrl} names no HEAD branch` };
    const push = await git([
      '-C',
      repo,
      'push',
      '--dry-run',
      '--porcelain',
      '--no-verify',
      '--',
      'origin',
      `HEAD:refs/heads/${head}`,
    ]);
    if (push.exitCode === 0)
      return {
        ok: true,
        message: `${input.repoUrl} accepts pushes with the credentials in Secret ${input.secret} (receive-pack handshake; nothing pushed)`,
      };
    if (push.timedOut) return { ok: false, message: translateGitError(push.stderr, errCtx, true) };
    return { ok: false, message: readOnlyMessage(input.repoUrl, input.secret, pushRefusal(push.stderr)) };
  }
}

/** What the server said when it refused the handshake, one line, redacted. */
function pushRefusal(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^warning: /i.test(l));
  const said =
    lines.find((l) => /^(remote: )?(ERROR|error):|denied|read.only|forbidden|403|not allowed/i.test(l)) ??
    lines.at(-1) ??
    'no message';
  return redact(said.replace(/^(fatal|error|ERROR|remote):\s*/, ''));
}

/** The check of this run, shared by reconcile and report. */
const runCheck = perRun(async (ctx): Promise<RepositoryCheck> => {
  const creds = await readGitCredentials(ctx);
  return checkRepository({
    creds,
    privateKey: await unencryptedPrivateKey(ctx),
    repoUrl: ctx.config.git.repoUrl,
    secret: credentialsSecretRef(ctx).text,
    caBundle: await readCaBundle(ctx),
    folders: environmentsOf(ctx.config).map((e) => e.namespace),
    verifyWrite: ctx.config.git.verifyWrite,
    ...(ctx.deps.git ? { run: ctx.deps.git } : {}),
    signal: ctx.signal,
    debug: (msg) => ctx.log.debug(msg),
  });
});

async function reconcile(ctx: StepContext): Promise<string> {
  if (!ctx.config.git.verify) return 'skipped (git.verify: false)';
  if (ctx.mode !== 'apply') return 'not run in plan (apply and status check the repository)';
  const result = await runCheck(ctx);
  if (!result.reachable) throw new StepError(NAME, result.message);
  for (const folder of result.folders) {
    if (folder.ok) ctx.log.debug(folder.message);
    else ctx.log.warn(`✗ ${folder.message}`);
  }
  if (result.write && !result.write.ok) ctx.log.warn(`✗ ${result.write.message}`);
  const found = result.folders.filter((f) => f.ok).length;
  return `${result.message}; ${found}/${result.folders.length} environment folders found`;
}

async function report(ctx: StepContext): Promise<Check[]> {
  if (!ctx.config.git.verify) {
    return [
      {
        id: 'git.repo.reachable',
        ready: false,
        required: false,
        message: 'not verified (git.verify: false)',
      },
    ];
  }
  let result: RepositoryCheck;
  try {
    result = await runCheck(ctx);
  } catch (err) {
    return [{ id: 'git.repo.reachable', ready: false, required: true, message: messageOf(err) }];
  }
  return [
    { id: 'git.repo.reachable', ready: result.reachable, required: true, message: result.message },
    ...(result.write
      ? [{ id: 'git.repo.writable', ready: result.write.ok, required: true, message: result.write.message }]
      : ctx.config.git.verifyWrite && !result.reachable
        ? [
            {
              id: 'git.repo.writable',
              ready: false,
              required: true,
              message: 'not checked: the repository is not reachable',
            },
          ]
        : []),
    ...result.folders.map((f) => ({
      id: `git.repo.folder.${f.namespace}`,
      ready: f.ok,
      required: true,
      message: f.message,
    })),
  ];
}

export const checkRepositoryStep: Step = { name: NAME, reconcile, report };

/**
 * Credentials and real git (issue 21): the HTTPS credential reaches the repository's own server through
 * the scoped credential helper and nowhere else — not to the host a redirect names, not into any argv or
 * environment — and key material lives under SD_BOOTSTRAP_SECRET_DIR only while it is used, removed on
 * every exit path a process sees (the end of the work, a thrown error, SIGTERM, `process.exit`).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startGitHttpBackend,
  startRedirector,
  type TestServer,
} from '../../test/support/git-http-backend.ts';
import { execaRunner, type GitRunner } from '../git/git.ts';
import { checkRepository } from './check-repository.ts';

const USER = 'gitops-bot';
const TOKEN = `tok-${Math.random().toString(36).slice(2)}-secret`;
const CREDS = { kind: 'https' as const, username: USER, password: TOKEN, email: '' };
const FORMS = [
  TOKEN,
  Buffer.from(`${USER}:${TOKEN}`).toString('base64'),
  Buffer.from(TOKEN).toString('base64'),
  encodeURIComponent(TOKEN),
];

let work: string;
let reposDir: string;
const servers: TestServer[] = [];

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'git-trust-'));
  reposDir = join(work, 'repos');
  mkdirSync(reposDir);
  const bare = join(reposDir, 'gitops.git');
  const git = (args: string[], cwd?: string) =>
    execFileSync('git', args, { cwd, stdio: 'pipe', env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1' } });
  git(['init', '-q', '--bare', '-b', 'main', bare]);
  const clone = join(work, 'clone');
  git(['init', '-q', '-b', 'main', clone]);
  mkdirSync(join(clone, 'staging'));
  writeFileSync(join(clone, 'staging', 'app.yaml'), 'kind: ConfigMap\n');
  git(['add', '.'], clone);
  git(['-c', 'user.email=t@example.com', '-c', 'user.name=t', 'commit', '-qm', 'init'], clone);
  git(['push', '-q', bare, 'main'], clone);
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  rmSync(work, { recursive: true, force: true });
});

/** A runner that records each git call's argv and environment, and what the secret directory holds. */
function recordingRunner(secretDir?: string) {
  const calls: { args: string[]; env: Record<string, string>; secretFiles: string[] }[] = [];
  const run: GitRunner = async (command, args, opts) => {
    const secretFiles = secretDir
      ? readdirSync(secretDir).flatMap((d) => readdirSync(join(secretDir, d)).map((f) => `${d}/${f}`))
      : [];
    calls.push({ args, env: opts.env, secretFiles });
    return execaRunner(command, args, opts);
  };
  return { run, calls };
}

describe('HTTPS credentials with a real git over HTTP', () => {
  it('reach the repository through the scoped credential helper; in no argv or environment, in no form', async () => {
    const server = await startGitHttpBackend({ root: reposDir, auth: { username: USER, password: TOKEN } });
    servers.push(server);
    const secretDir = join(work, 'secrets-1');
    mkdirSync(secretDir);
    process.env.SD_BOOTSTRAP_SECRET_DIR = secretDir;
    try {
      const { run, calls } = recordingRunner(secretDir);
      const result = await checkRepository({
        creds: CREDS,
        repoUrl: `${server.origin}/gitops.git`,
        secret: 'seldon-system/gitops-source-creds',
        folders: ['staging'],
        run,
      });
      expect(result).toMatchObject({ reachable: true, folders: [{ namespace: 'staging', ok: true }] });
      // The server asked (401) and git answered with the Secret's credential.
      expect(server.seen.some((r) => r.headers.authorization)).toBe(true);
      const visible = JSON.stringify(calls.map((c) => ({ args: c.args, env: c.env })));
      for (const form of FORMS) expect(visible).not.toContain(form);
      // While git ran, the credential file was in the secret directory; afterwards nothing is.
      expect(calls[0]!.secretFiles).toContain(`${calls[0]!.secretFiles[0]!.split('/')[0]}/credentials`);
      expect(readdirSync(secretDir)).toEqual([]);
    } finally {
      delete process.env.SD_BOOTSTRAP_SECRET_DIR;
    }
  });

  it('a redirect to another host: git follows none, that host sees no request and no credential', async () => {
    // The other host: the same repositories, asking for the same credential (a hostile copy would).
    const other = await startGitHttpBackend({
      root: reposDir,
      auth: { username: USER, password: TOKEN },
      hostName: 'localhost',
    });
    const redirector = await startRedirector({ to: other.origin, rewrite: (p) => p.replace('/acme/', '/') });
    servers.push(other, redirector);
    const result = await checkRepository({
      creds: CREDS,
      repoUrl: `${redirector.origin}/acme/gitops.git`,
      secret: 'seldon-system/gitops-source-creds',
      folders: ['staging'],
    });
    expect(result.reachable).toBe(false);
    expect(result.message).toMatch(
      /answered git\.repoUrl with a redirect \(HTTP 301\).*set git\.repoUrl to the repository's current URL/,
    );
    expect(redirector.seen.length).toBeGreaterThan(0);
    expect(other.seen).toEqual([]);
  });

  it('why redirects are refused: git carries even a URL-scoped http.<url>.extraHeader to the host of a redirect', async () => {
    const other = await startGitHttpBackend({ root: reposDir, hostName: 'localhost' });
    const redirector = await startRedirector({ to: other.origin, rewrite: (p) => p.replace('/acme/', '/') });
    servers.push(other, redirector);
    const url = `${redirector.origin}/acme/gitops.git`;
    const header = `Authorization: Basic ${Buffer.from(`${USER}:${TOKEN}`).toString('base64')}`;
    const r = await execaRunner('git', ['ls-remote', '--', url], {
      env: {
        GIT_TERMINAL_PROMPT: '0',
        GIT_CONFIG_COUNT: '1',
        GIT_CONFIG_KEY_0: `http.${url}.extraHeader`,
        GIT_CONFIG_VALUE_0: header,
      },
      timeoutMs: 60_000,
    });
    expect(r.exitCode).toBe(0);
    // git reads its config once, for the URL it was given, then talks to the new host with it.
    expect(other.seen.map((s) => s.headers.authorization)).toContain(header.slice('Authorization: '.length));
  });
});

/** A child process that holds a credential directory, as a run does while git works. */
function driver(mode: 'abort' | 'exit' | 'throw' | 'none'): string {
  const file = join(work, `driver-${mode}.ts`);
  const git = join(import.meta.dirname, '../git/git.ts');
  writeFileSync(
    file,
    `import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { withTempDir } from ${JSON.stringify(git)};
const mode = ${JSON.stringify(mode)};
const controller = new AbortController();
// As main.ts: the first SIGTERM aborts the run (its finally blocks run), a second one exits at once.
if (mode === 'abort') process.on('SIGTERM', () => controller.abort());
if (mode === 'exit') process.on('SIGTERM', () => process.exit(143));
await withTempDir(async (dir) => {
  await writeFile(join(dir, 'id_key'), 'KEY', { mode: 0o600 });
  process.stdout.write('ready\\n');
  if (mode === 'throw') setTimeout(() => { throw new Error('boom'); }, 10);
  await new Promise((resolve) => {
    controller.signal.addEventListener('abort', resolve);
    setTimeout(resolve, 600_000);
  });
}, { secret: true });
process.exit(0);
`,
  );
  return file;
}

describe('key material is removed on every exit path the process sees', () => {
  it.each([
    ['SIGTERM that aborts the run (the finally block)', 'abort' as const, true],
    ['SIGTERM that exits at once (process.exit: the exit hook)', 'exit' as const, true],
    ['an uncaught error (the exit hook)', 'throw' as const, false],
  ])('%s', async (_name, mode, kill) => {
    const secretDir = join(work, `secrets-${mode}`);
    mkdirSync(secretDir);
    const child = spawn(process.execPath, [driver(mode)], {
      env: { ...process.env, SD_BOOTSTRAP_SECRET_DIR: secretDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      child.on('exit', () => reject(new Error('driver exited before it was ready')));
    });
    // The key is there while the work runs…
    expect(readdirSync(secretDir).length).toBe(1);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    if (kill) child.kill('SIGTERM');
    const code = await exited;
    expect(code).not.toBe(null);
    // …and gone once the process has exited.
    expect(readdirSync(secretDir)).toEqual([]);
  });

  it('SIGKILL is not seen: the directory stays (in the chart it is memory-backed and goes with the pod)', async () => {
    const secretDir = join(work, 'secrets-kill');
    mkdirSync(secretDir);
    const child = spawn(process.execPath, [driver('none')], {
      env: { ...process.env, SD_BOOTSTRAP_SECRET_DIR: secretDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await new Promise<void>((resolve) =>
      child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()),
    );
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
    expect(readdirSync(secretDir).length).toBe(1);
  });
});

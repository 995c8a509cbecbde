import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execaRunner, type GitRunner } from '../git/git.ts';
import { checkRepository, folderStates } from './check-repository.ts';

const URL = 'ssh://git@git.example.com/acme/gitops.git';

describe('folderStates', () => {
  const tree = [
    '100644 blob a1\tstaging/model.yaml',
    '100644 blob a2\tstaging/sub/other.yaml',
    '100644 blob b1\tproduction/.gitkeep',
    '160000 commit c1\tempty/submodule',
    '100644 blob d1\tfile-not-folder',
  ].join('\n');

  it.each([
    { ns: 'staging', ok: true, message: 'staging/ exists (2 files)' },
    { ns: 'production', ok: true, message: 'production/ exists, no manifests yet (only .gitkeep)' },
    { ns: 'missing', ok: false, message: /^folder missing: .* has no folder missing\// },
    { ns: 'empty', ok: false, message: /^folder empty: empty\/ has no files/ },
    { ns: 'file-not-folder', ok: false, message: /is a file .*, not a folder/ },
  ])('$ns', ({ ns, ok, message }) => {
    const [state] = folderStates(tree, [ns], URL);
    expect(state!.ok).toBe(ok);
    expect(state!.message).toMatch(message);
  });
});

describe('checkRepository against a real repository', () => {
  let dir: string;
  let remote: string;
  const creds = {
    kind: 'ssh' as const,
    privateKey: 'unused for file:// URLs',
    knownHosts: 'h k K',
    passphrase: '',
    username: 'git',
    email: '',
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gitops-repo-'));
    const work = join(dir, 'work');
    remote = join(dir, 'remote.git');
    const git = (...args: string[]) =>
      execa('git', args, {
        cwd: work,
        env: {
          GIT_AUTHOR_NAME: 't',
          GIT_AUTHOR_EMAIL: 't@e',
          GIT_COMMITTER_NAME: 't',
          GIT_COMMITTER_EMAIL: 't@e',
        },
      });
    await mkdir(join(work, 'staging'), { recursive: true });
    await mkdir(join(work, 'seldon-logs'), { recursive: true });
    await writeFile(join(work, 'staging', 'model.yaml'), 'kind: ConfigMap\n');
    await writeFile(join(work, 'seldon-logs', '.gitkeep'), '');
    await git('init', '-q', '-b', 'main');
    await git('add', '.');
    await git('commit', '-q', '-m', 'init');
    await execa('git', ['clone', '-q', '--bare', work, remote]);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('reachable; each folder found, missing or placeholder-only', async () => {
    const result = await checkRepository({
      creds,
      repoUrl: `file://${remote}`,
      secret: 'ns/creds',
      folders: ['staging', 'production', 'seldon-logs'],
    });
    expect(result.reachable).toBe(true);
    expect(result.message).toBe(`file://${remote} is reachable (HEAD is main)`);
    expect(result.folders.map((f) => [f.namespace, f.ok])).toEqual([
      ['staging', true],
      ['production', false],
      ['seldon-logs', true],
    ]);
  });

  it('verifyWrite: the push handshake passes for a writable repository, and no ref moves or appears', async () => {
    const refs = async () => (await execa('git', ['--git-dir', remote, 'show-ref'])).stdout;
    const before = await refs();
    const pushes: string[][] = [];
    const run: GitRunner = (cmd, args, opts) => {
      if (args.includes('push')) pushes.push(args);
      return execaRunner(cmd, args, opts);
    };
    const result = await checkRepository({
      creds,
      repoUrl: `file://${remote}`,
      secret: 'ns/creds',
      folders: ['staging'],
      verifyWrite: true,
      run,
    });
    expect(result.write).toEqual({
      ok: true,
      message: `file://${remote} accepts pushes with the credentials in Secret ns/creds (receive-pack handshake; nothing pushed)`,
    });
    expect(pushes).toHaveLength(1);
    expect(pushes[0]).toEqual(expect.arrayContaining(['push', '--dry-run', 'HEAD:refs/heads/main']));
    expect(await refs()).toBe(before);
  });

  it('verifyWrite: a server that refuses receive-pack gives a not-ok sentence with what it said and the fix', async () => {
    // What GitHub answers a read-only deploy key on git-receive-pack, before any ref is sent.
    const refuse = join(dir, 'refuse-receive-pack');
    await writeFile(
      refuse,
      '#!/bin/sh\necho "ERROR: The key you are authenticating with has been marked as read only." >&2\nexit 1\n',
      { mode: 0o755 },
    );
    const run: GitRunner = (cmd, args, opts) =>
      execaRunner(
        cmd,
        args.includes('push') ? ['-c', `remote.origin.receivepack=${refuse}`, ...args] : args,
        opts,
      );
    const result = await checkRepository({
      creds,
      repoUrl: `file://${remote}`,
      secret: 'ns/creds',
      folders: ['staging'],
      verifyWrite: true,
      run,
    });
    expect(result.reachable).toBe(true);
    expect(result.write?.ok).toBe(false);
    expect(result.write?.message).toBe(
      `read-only: file://${remote} refuses pushes with the credentials in Secret ns/creds (The key you are authenticating with has been marked as read only.), and Seldon Deploy pushes every model it deploys: give the key or token write access (a GitHub deploy key's "Allow write access", a GitLab deploy key's "Grant write permissions", a token with write scope), or set git.verifyWrite: false`,
    );
  });

  it('without verifyWrite no push is attempted', async () => {
    const pushes: string[][] = [];
    const run: GitRunner = (cmd, args, opts) => {
      if (args.includes('push')) pushes.push(args);
      return execaRunner(cmd, args, opts);
    };
    const result = await checkRepository({
      creds,
      repoUrl: `file://${remote}`,
      secret: 'ns/creds',
      folders: ['staging'],
      run,
    });
    expect(result.write).toBeUndefined();
    expect(pushes).toEqual([]);
  });

  it('an unreachable repository is a sentence, and no folder is checked', async () => {
    const result = await checkRepository({
      creds,
      repoUrl: `file://${dir}/nope.git`,
      secret: 'ns/creds',
      folders: ['staging'],
    });
    expect(result.reachable).toBe(false);
    expect(result.message).toMatch(/^repository not found: /);
    expect(result.folders[0]!.message).toMatch(/^not checked/);
  });
});

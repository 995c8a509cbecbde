import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

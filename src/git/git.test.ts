import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { decryptPrivateKey, gitAuthEnv, translateGitError, withTempDir } from './git.ts';

const SSH = {
  repoUrl: 'ssh://git@git.example.com:2222/acme/gitops.git',
  secret: 'seldon-system/gitops-source-creds',
};
const HTTPS = {
  repoUrl: 'https://git.example.com/acme/gitops.git',
  secret: 'seldon-system/gitops-source-creds',
};

describe('translateGitError', () => {
  it.each([
    {
      name: 'host key mismatch',
      ctx: SSH,
      stderr:
        '@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\nHost key verification failed.\nfatal: Could not read from remote repository.',
      expected:
        /^host key mismatch: the SSH host key of git\.example\.com does not match known_hosts in Secret seldon-system\/gitops-source-creds.*ssh-keyscan -p 2222 git\.example\.com/,
    },
    {
      name: 'unknown host key',
      ctx: SSH,
      stderr:
        'No ED25519 host key is known for [git.example.com]:2222 and you have requested strict checking.\nHost key verification failed.\nfatal: Could not read from remote repository.',
      expected:
        /^unknown host key: git\.example\.com is not in known_hosts of Secret seldon-system\/gitops-source-creds/,
    },
    {
      name: 'ssh permission denied',
      ctx: SSH,
      stderr:
        'git@git.example.com: Permission denied (publickey).\r\nfatal: Could not read from remote repository.',
      expected:
        /^permission denied: git\.example\.com refused the credentials in Secret seldon-system\/gitops-source-creds/,
    },
    {
      name: 'https permission denied',
      ctx: HTTPS,
      stderr:
        "remote: HTTP Basic: Access denied\nfatal: Authentication failed for 'https://git.example.com/acme/gitops.git/'",
      expected: /^permission denied: git\.example\.com refused/,
    },
    {
      name: 'https 401 without prompt',
      ctx: HTTPS,
      stderr: "fatal: could not read Username for 'https://git.example.com': terminal prompts disabled",
      expected: /^permission denied/,
    },
    {
      name: 'ssh repository not found',
      ctx: SSH,
      stderr:
        "fatal: '/srv/git/acme/nope.git' does not appear to be a git repository\nfatal: Could not read from remote repository.",
      expected: /^repository not found: ssh:\/\/git@git\.example\.com:2222\/acme\/gitops\.git does not exist/,
    },
    {
      name: 'https repository not found',
      ctx: HTTPS,
      stderr:
        "remote: Repository not found.\nfatal: repository 'https://git.example.com/acme/gitops.git/' not found",
      expected: /^repository not found/,
    },
    {
      name: 'DNS',
      ctx: HTTPS,
      stderr:
        "fatal: unable to access 'https://git.example.com/acme/gitops.git/': Could not resolve host: git.example.com",
      expected: /^cannot resolve git\.example\.com/,
    },
    {
      name: 'connection refused',
      ctx: SSH,
      stderr:
        'ssh: connect to host git.example.com port 2222: Connection refused\nfatal: Could not read from remote repository.',
      expected: /^cannot connect to git\.example\.com:2222/,
    },
    {
      name: 'TLS',
      ctx: HTTPS,
      stderr:
        "fatal: unable to access 'https://git.example.com/acme/gitops.git/': SSL certificate problem: self-signed certificate",
      expected: /^the TLS certificate of git\.example\.com is not trusted/,
    },
    {
      name: 'bad key',
      ctx: SSH,
      stderr: 'Load key "/tmp/x/id_key": invalid format\ngit@git.example.com: Permission denied (publickey).',
      expected:
        /^the SSH private key in Secret seldon-system\/gitops-source-creds \(ssh-privatekey\) cannot be used/,
    },
    {
      name: 'anything else',
      ctx: HTTPS,
      stderr: 'fatal: the remote end hung up unexpectedly',
      expected: /^git failed: the remote end hung up unexpectedly$/,
    },
  ])('$name', ({ ctx, stderr, expected }) => {
    expect(translateGitError(stderr, ctx)).toMatch(expected);
  });

  it('a timeout says so', () => {
    expect(translateGitError('', HTTPS, true)).toMatch(/^git timed out talking to git\.example\.com/);
  });

  it('never repeats a credential that git printed', () => {
    const msg = translateGitError(
      "fatal: unable to access 'https://bot:s3cr3t@git.example.com/r.git/': boom",
      HTTPS,
    );
    expect(msg).not.toContain('s3cr3t');
  });
});

describe('gitAuthEnv', () => {
  it('SSH: key and known_hosts in 0600 files, host keys checked strictly', async () => {
    await withTempDir(async (dir) => {
      const env = await gitAuthEnv(
        { kind: 'ssh', privateKey: 'KEY', knownHosts: 'h k K', passphrase: '', username: 'git', email: '' },
        dir,
      );
      expect(env.GIT_SSH_COMMAND).toContain('-o StrictHostKeyChecking=yes');
      expect(env.GIT_SSH_COMMAND).toContain('-o BatchMode=yes');
      expect(env.GIT_SSH_COMMAND).toContain('-o IdentitiesOnly=yes');
      expect(env.GIT_SSH_COMMAND).toContain(`-o UserKnownHostsFile='${join(dir, 'known_hosts')}'`);
      expect((await stat(join(dir, 'id_key'))).mode & 0o777).toBe(0o600);
      expect(await readFile(join(dir, 'known_hosts'), 'utf8')).toBe('h k K\n');
    });
  });

  it('HTTPS: a credential helper scoped to the repository URL, reading a 0600 file; no redirect followed', async () => {
    await withTempDir(async (dir) => {
      const url = 'https://git.example.com/acme/gitops.git';
      const env = await gitAuthEnv(
        { kind: 'https', username: 'bot', password: 's3cr3t-tok', email: '' },
        dir,
        {
          repoUrl: url,
        },
      );
      expect(env).toMatchObject({
        GIT_CONFIG_COUNT: '3',
        GIT_CONFIG_KEY_0: 'credential.helper',
        GIT_CONFIG_VALUE_0: '',
        GIT_CONFIG_KEY_1: `credential.${url}.helper`,
        GIT_CONFIG_KEY_2: 'http.followRedirects',
        GIT_CONFIG_VALUE_2: 'false',
        GIT_TERMINAL_PROMPT: '0',
      });
      // The credential is in the file only: in no variable, in no encoding.
      const all = JSON.stringify(env);
      for (const form of ['s3cr3t-tok', Buffer.from('bot:s3cr3t-tok').toString('base64')])
        expect(all).not.toContain(form);
      expect((await stat(join(dir, 'credentials'))).mode & 0o777).toBe(0o600);
      expect(await readFile(join(dir, 'credentials'), 'utf8')).toBe('username=bot\npassword=s3cr3t-tok\n');
    });
  });

  it('removes the temporary directory afterwards, even on failure', async () => {
    let seen = '';
    await expect(
      withTempDir(async (dir) => {
        seen = dir;
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    await expect(stat(seen)).rejects.toThrow();
  });
});

describe('decryptPrivateKey (real ssh-keygen)', () => {
  it('removes the passphrase without putting it in argv', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keygen-'));
    try {
      const file = join(dir, 'k');
      await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'correct horse', '-C', 't', '-f', file]);
      const encrypted = await readFile(file, 'utf8');
      const seenArgs: string[][] = [];
      const plain = await decryptPrivateKey(encrypted, 'correct horse', {
        run: async (command, args, opts) => {
          seenArgs.push(args);
          const { execaRunner } = await import('./git.ts');
          return execaRunner(command, args, opts);
        },
      });
      expect(plain).toMatch(/BEGIN OPENSSH PRIVATE KEY/);
      expect(plain).not.toBe(encrypted);
      // The same text every time (ssh-keygen alone writes random check bytes): a re-run changes nothing.
      expect(await decryptPrivateKey(encrypted, 'correct horse')).toBe(plain);
      expect(seenArgs.flat().join(' ')).not.toContain('correct horse');
      // The result really has no passphrase: ssh-keygen -y reads it without asking.
      const check = join(dir, 'plain');
      await import('node:fs/promises').then((fs) => fs.writeFile(check, plain, { mode: 0o600 }));
      await expect(execa('ssh-keygen', ['-y', '-P', '', '-f', check])).resolves.toBeTruthy();
      await expect(decryptPrivateKey(encrypted, 'wrong')).rejects.toThrow(
        /passphrase is wrong|cannot decrypt/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('an empty passphrase returns the key as is', async () => {
    expect(await decryptPrivateKey('KEY', '')).toBe('KEY');
  });
});

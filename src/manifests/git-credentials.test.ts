import { describe, expect, it } from 'vitest';
import { sampleConfig } from '../../test/fixtures/sample-config.ts';
import { fromB64 } from './common.ts';
import {
  argocdRepositorySecret,
  type GitCredentials,
  privateKeyProblem,
  repoHost,
  repoTransport,
  seldonGitCredsSecret,
} from './git-credentials.ts';

const SSH: GitCredentials = {
  kind: 'ssh',
  privateKey: '-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n',
  knownHosts: 'git.example.com ssh-ed25519 AAAA\n',
  passphrase: '',
  username: 'git',
  email: 'bot@example.com',
};
const HTTPS: GitCredentials = { kind: 'https', username: 'bot', password: 'tok3n', email: '' };

const decode = (data: unknown) =>
  Object.fromEntries(Object.entries(data as Record<string, string>).map(([k, v]) => [k, fromB64(v)]));

describe('repoTransport / repoHost', () => {
  it.each([
    {
      url: 'ssh://git@git.example.com/acme/gitops.git',
      transport: 'ssh',
      host: { host: 'git.example.com', user: 'git' },
    },
    {
      url: 'ssh://git@git.example.com:2222/a.git',
      transport: 'ssh',
      host: { host: 'git.example.com', port: '2222', user: 'git' },
    },
    { url: 'git@github.com:acme/gitops.git', transport: 'ssh', host: { host: 'github.com', user: 'git' } },
    { url: 'https://git.example.com/acme/gitops.git', transport: 'https', host: { host: 'git.example.com' } },
    { url: 'http://git.local:8080/r.git', transport: 'https', host: { host: 'git.local', port: '8080' } },
  ])('$url', ({ url, transport, host }) => {
    expect(repoTransport(url)).toBe(transport);
    expect(repoHost(url)).toEqual(host);
  });
});

describe('argocdRepositorySecret', () => {
  it('SSH: type, exact url and the private key, labelled as a repository', () => {
    const secret = argocdRepositorySecret(sampleConfig(), SSH);
    expect(secret.metadata).toEqual({
      name: 'sd-gitops-bootstrap-repo',
      namespace: 'argocd',
      labels: {
        'app.kubernetes.io/managed-by': 'sd-gitops-bootstrap',
        'argocd.argoproj.io/secret-type': 'repository',
      },
    });
    expect(decode(secret.data)).toEqual({
      type: 'git',
      url: 'ssh://git@git.example.com/acme/gitops.git',
      sshPrivateKey: SSH.privateKey,
    });
  });

  it('SSH with a passphrase: stores the decrypted key it is given', () => {
    const secret = argocdRepositorySecret(
      sampleConfig(),
      { ...SSH, passphrase: 'p' },
      { unencryptedPrivateKey: 'PLAIN' },
    );
    expect(decode(secret.data).sshPrivateKey).toBe('PLAIN');
  });

  it('HTTPS: username and password', () => {
    const config = sampleConfig((c) => (c.git.repoUrl = 'https://git.example.com/acme/gitops.git'));
    expect(decode(argocdRepositorySecret(config, HTTPS).data)).toEqual({
      type: 'git',
      url: 'https://git.example.com/acme/gitops.git',
      username: 'bot',
      password: 'tok3n',
    });
  });
});

describe('seldonGitCredsSecret', () => {
  it('SSH: the keys of the seed, private key under sshKeyName', () => {
    const config = sampleConfig((c) => (c.seldonDeploy.sshKeyName = 'id_ed25519'));
    const secret = seldonGitCredsSecret(config, SSH);
    expect(secret.metadata.name).toBe('git-creds');
    expect(secret.metadata.namespace).toBe('seldon-system');
    expect(decode(secret.data)).toEqual({
      id_ed25519: SSH.privateKey,
      known_hosts: SSH.knownHosts,
      passphrase: '',
      username: 'git',
      email: 'bot@example.com',
    });
  });

  it('HTTPS: username, token, email', () => {
    expect(decode(seldonGitCredsSecret(sampleConfig(), HTTPS).data)).toEqual({
      username: 'bot',
      token: 'tok3n',
      email: '',
    });
  });
});

describe('privateKeyProblem', () => {
  const openssh = (cipher: string, magic = 'openssh-key-v1\0') => {
    const str = (s: string) => Buffer.concat([Buffer.from([0, 0, 0, s.length]), Buffer.from(s, 'latin1')]);
    const raw = Buffer.concat([Buffer.from(magic, 'latin1'), str(cipher), str('bcrypt')]);
    return `-----BEGIN OPENSSH PRIVATE KEY-----\n${raw.toString('base64')}\n-----END OPENSSH PRIVATE KEY-----\n`;
  };

  it('accepts an unencrypted OpenSSH key, and an encrypted one with a passphrase', () => {
    expect(privateKeyProblem(openssh('none'), '')).toBeUndefined();
    expect(privateKeyProblem(openssh('aes256-ctr'), 'pass')).toBeUndefined();
  });

  it('names what is wrong: no armour, not base64, wrong magic, encrypted without passphrase', () => {
    expect(privateKeyProblem('ssh-ed25519 AAAA user@host', '')).toMatch(/^is not a private key file/);
    expect(privateKeyProblem(openssh('none').replace(/\n[A-Za-z0-9+/=]+\n/, '\n%%%\n'), '')).toMatch(
      /not base64/,
    );
    expect(privateKeyProblem(openssh('none', 'something-else\0'), '')).toMatch(/not an OpenSSH private key/);
    expect(privateKeyProblem(openssh('aes256-ctr'), '')).toMatch(/passphrase-protected/);
    expect(
      privateKeyProblem(
        '-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----',
        '',
      ),
    ).toMatch(/passphrase-protected/);
  });
});

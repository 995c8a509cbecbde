import { describe, expect, it } from 'vitest';
import { FakeKube } from '../../test/fakes/kube.ts';
import { sampleConfig } from '../../test/fixtures/sample-config.ts';
import { fakeOpensshKey } from '../../test/fixtures/ssh-key.ts';
import { RUN_ENV, secret } from '../../test/fixtures/step-run.ts';
import type { Env } from '../config/types.ts';
import { StepError } from '../errors.ts';
import { parseGitCredentials } from '../inputs/inputs.ts';
import type { KubeObject, ObjectChange } from '../kube/types.ts';
import { createLogger } from '../log.ts';
import { fromB64 } from '../manifests/common.ts';
import { createContext, recordChange } from './context.ts';
import { desiredInstallObjects, imageVersion } from './install-argocd.ts';

const ref = (kind: string, name: string) => ({ apiVersion: 'v1', kind, name, namespace: 'argocd' });

describe('change records', () => {
  it('one entry per object; the strongest action wins; fields are merged', () => {
    const changes: ObjectChange[] = [];
    recordChange(changes, { ref: ref('Secret', 'argocd-secret'), action: 'updated', fields: ['data.b'] });
    recordChange(changes, { ref: ref('Secret', 'argocd-secret'), action: 'unchanged' });
    recordChange(changes, { ref: ref('Secret', 'argocd-secret'), action: 'updated', fields: ['data.a'] });
    recordChange(changes, { ref: ref('ConfigMap', 'x'), action: 'unchanged' });
    recordChange(changes, { ref: ref('ConfigMap', 'x'), action: 'created' });
    expect(changes).toEqual([
      { ref: ref('Secret', 'argocd-secret'), action: 'updated', fields: ['data.a', 'data.b'] },
      { ref: ref('ConfigMap', 'x'), action: 'created' },
    ]);
  });
});

describe('parseGitCredentials', () => {
  const K = fakeOpensshKey();
  const H = 'git.example.com ssh-ed25519 AAAAhost';
  const SSH_URL = 'ssh://git@git.example.com/acme/gitops.git';
  const HTTPS_URL = 'https://git.example.com/acme/gitops.git';

  it.each<{ name: string; url: string; data: Record<string, string>; expected: unknown }>([
    {
      name: 'ssh with every key',
      url: SSH_URL,
      data: { 'ssh-privatekey': K, known_hosts: H, passphrase: 'P', username: 'bot', email: 'e@x' },
      expected: {
        kind: 'ssh',
        privateKey: K,
        knownHosts: H,
        passphrase: 'P',
        username: 'bot',
        email: 'e@x',
      },
    },
    {
      name: 'ssh, username from the URL',
      url: 'deploy@git.example.com:acme/gitops.git',
      data: { 'ssh-privatekey': K, known_hosts: H },
      expected: {
        kind: 'ssh',
        privateKey: K,
        knownHosts: H,
        passphrase: '',
        username: 'deploy',
        email: '',
      },
    },
    {
      name: 'https with a token',
      url: HTTPS_URL,
      data: { username: 'bot', password: 'tok', email: 'e@x' },
      expected: { kind: 'https', username: 'bot', password: 'tok', email: 'e@x' },
    },
  ])('$name', ({ url, data, expected }) => {
    expect(parseGitCredentials(data, url, 'ns/src')).toEqual(expected);
  });

  it.each<{ name: string; url: string; data: Record<string, string>; missing: RegExp }>([
    {
      name: 'ssh without known_hosts',
      url: SSH_URL,
      data: { 'ssh-privatekey': 's3cr3t-key' },
      missing: /no "known_hosts" key/,
    },
    {
      name: 'ssh with neither',
      url: SSH_URL,
      data: {},
      missing: /no "ssh-privatekey" and "known_hosts" keys/,
    },
    {
      name: 'https URL, ssh Secret',
      url: HTTPS_URL,
      data: { 'ssh-privatekey': 's3cr3t-key', known_hosts: 'H' },
      missing: /no "username" and "password" keys: .* is an HTTPS URL/,
    },
    {
      name: 'ssh with a key that is not a key',
      url: SSH_URL,
      data: { 'ssh-privatekey': 's3cr3t-key', known_hosts: H },
      missing: /key "ssh-privatekey" is not a private key file .*--from-file=ssh-privatekey=/,
    },
    {
      name: 'ssh with a truncated key body',
      url: SSH_URL,
      data: {
        'ssh-privatekey':
          '-----BEGIN OPENSSH PRIVATE KEY-----\ns3cr3t!!\n-----END OPENSSH PRIVATE KEY-----\n',
        known_hosts: H,
      },
      missing: /key "ssh-privatekey" is malformed: its body is not base64/,
    },
    {
      name: 'ssh with an encrypted key and no passphrase',
      url: SSH_URL,
      data: {
        'ssh-privatekey':
          '-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nczNjcjN0\n-----END RSA PRIVATE KEY-----\n',
        known_hosts: H,
      },
      missing: /is passphrase-protected but the Secret has no "passphrase" key: add its passphrase/,
    },
    {
      name: 'ssh with known_hosts for another host',
      url: 'ssh://git@git.example.com:2222/acme/gitops.git',
      data: { 'ssh-privatekey': K, known_hosts: H },
      missing:
        /key "known_hosts" has no host key for \[git\.example\.com\]:2222 .*ssh-keyscan -p 2222 git\.example\.com/,
    },
    {
      name: 'https with an empty password',
      url: HTTPS_URL,
      data: { username: 'bot', password: ' ' },
      missing: /no "password" key/,
    },
  ])('$name: a StepError naming the Secret and keys, never the values', ({ url, data, missing }) => {
    let err: unknown;
    try {
      parseGitCredentials(data, url, 'seldon-system/src');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StepError);
    expect((err as Error).message).toMatch(/^Secret seldon-system\/src (has|key) /);
    expect((err as Error).message).toMatch(missing);
    expect((err as Error).message).not.toContain('s3cr3t');
  });
});

describe('install objects', () => {
  it("merges the settings into the manifest objects, keeps live known hosts, adds the Git server's", async () => {
    const env: Env = { ...RUN_ENV, SD_BOOTSTRAP_CONFIG: '' };
    const configMap = (name: string, data?: Record<string, string>): KubeObject => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name, namespace: 'argocd' },
      ...(data && { data }),
    });
    const kube = new FakeKube().seed(
      secret('seldon-system', 'argocd-admin-password', { password: 'pw' }),
      configMap('argocd-ssh-known-hosts-cm', { ssh_known_hosts: 'mine.example.com ssh-rsa AAAAmine\n' }),
      secret('seldon-system', 'gitops-source-creds', {
        'ssh-privatekey': fakeOpensshKey(),
        known_hosts: 'git.example.com ssh-ed25519 AAAAhost\n',
      }),
    );
    const ctx = createContext({
      mode: 'apply',
      config: sampleConfig(),
      env,
      kube,
      log: createLogger({ level: 'silent' }),
    });
    const manifest: KubeObject[] = [
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'argocd-secret', namespace: 'argocd', labels: { x: 'y' } },
      },
      configMap('argocd-cmd-params-cm'),
      configMap('argocd-ssh-known-hosts-cm', { ssh_known_hosts: 'github.com ssh-ed25519 AAAAgh\n' }),
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'argocd-server', namespace: 'argocd' },
        spec: {
          template: {
            metadata: { labels: { a: 'b' } },
            spec: { containers: [{ name: 's', image: 'quay.io/argoproj/argocd:v3.5.1' }] },
          },
        },
      },
    ];
    const objs = await desiredInstallObjects(ctx, {
      objects: manifest,
      sha256: 'x',
      origin: 'test',
      verified: false,
    });
    type Loose = KubeObject & {
      data: Record<string, string>;
      spec: { template: { metadata: unknown } };
    };
    const byName = (name: string) => objs.find((o) => o.metadata.name === name) as Loose;
    expect(objs[0]).toEqual({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'argocd', labels: { 'app.kubernetes.io/managed-by': 'sd-gitops-bootstrap' } },
    });
    expect(byName('argocd-secret').metadata.labels).toEqual({ x: 'y' });
    expect(Object.keys(byName('argocd-secret').data)).toEqual(['admin.password', 'admin.passwordMtime']);
    expect(fromB64(byName('argocd-secret').data['admin.password'])).toMatch(/^\$2a\$10\$/);
    expect(byName('argocd-cmd-params-cm').data).toEqual({
      'server.insecure': 'true',
      'server.rootpath': '/argocd',
    });
    expect(byName('argocd-server').spec.template.metadata).toEqual({
      labels: { a: 'b' },
      annotations: { 'sd-gitops-bootstrap/server-config-hash': expect.stringMatching(/^[0-9a-f]{16}$/) },
    });
    // The Git server's key is there from the first apply: repo-server mounts the ConfigMap at its start.
    expect(byName('argocd-ssh-known-hosts-cm').data.ssh_known_hosts).toBe(
      'mine.example.com ssh-rsa AAAAmine\ngithub.com ssh-ed25519 AAAAgh\ngit.example.com ssh-ed25519 AAAAhost\n',
    );
    // argocd-cm: Seldon's health checks, by default (the manifest has none, so it is created).
    expect(Object.keys(byName('argocd-cm').data)).toEqual(
      expect.arrayContaining(['resource.customizations.health.mlops.seldon.io_Model']),
    );
    expect(objs).toHaveLength(6);
    expect(imageVersion(byName('argocd-server'))).toBe('v3.5.1');
  });
});

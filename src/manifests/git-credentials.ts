import { createHash } from 'node:crypto';
import type { Config } from '../config/types.ts';
import type { KubeObject } from '../kube/types.ts';
import { b64, MANAGED_BY_LABELS } from './common.ts';

/** Git credentials as read from the user's source Secret (DESIGN step 6). */
export type GitCredentials =
  | {
      kind: 'ssh';
      privateKey: string;
      knownHosts: string;
      /** '' when the key has none. */
      passphrase: string;
      username: string;
      email: string;
    }
  | { kind: 'https'; username: string; password: string; email: string };

/** `ssh://…` and scp-like `user@host:path` are SSH; `http(s)://…` is HTTPS. */
export function repoTransport(repoUrl: string): 'ssh' | 'https' {
  return /^https?:\/\//.test(repoUrl) ? 'https' : 'ssh';
}

/** Host (and user) of a Git URL, for messages: `ssh://git@h:22/x` → {host: 'h', port: '22', user: 'git'}. */
export function repoHost(repoUrl: string): { host: string; port?: string; user?: string } {
  const scp = /^(?:([^@/]+)@)?([^:/]+):(?!\/\/)/.exec(repoUrl);
  if (scp && !/^[a-z]+:\/\//.test(repoUrl)) return { host: scp[2]!, ...(scp[1] ? { user: scp[1] } : {}) };
  try {
    const url = new URL(repoUrl);
    return {
      host: url.hostname,
      ...(url.port ? { port: url.port } : {}),
      ...(url.username ? { user: decodeURIComponent(url.username) } : {}),
    };
  } catch {
    return { host: repoUrl };
  }
}

export const REPOSITORY_SECRET_NAME = 'sd-gitops-bootstrap-repo';

/**
 * Argo CD's declarative repository: a Secret labelled `argocd.argoproj.io/secret-type: repository` whose
 * `url` equals the Applications' `repoURL` exactly (that is how Argo CD finds credentials for them).
 * `sshPrivateKey` is the key without passphrase: Argo CD cannot use an encrypted key.
 */
export function argocdRepositorySecret(
  config: Config,
  creds: GitCredentials,
  opts: { unencryptedPrivateKey?: string } = {},
): KubeObject {
  const data: Record<string, string> = { type: b64('git'), url: b64(config.git.repoUrl) };
  if (creds.kind === 'ssh') {
    data.sshPrivateKey = b64(opts.unencryptedPrivateKey ?? creds.privateKey);
  } else {
    data.username = b64(creds.username);
    data.password = b64(creds.password);
  }
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: REPOSITORY_SECRET_NAME,
      namespace: config.argocd.namespace,
      labels: { ...MANAGED_BY_LABELS, 'argocd.argoproj.io/secret-type': 'repository' },
    },
    type: 'Opaque',
    data,
  };
}

/**
 * Seldon Deploy's Git credentials, with the keys the seed's `kubectl create secret generic git-creds`
 * produces: the private key under its file name (`id_rsa` by default), `known_hosts`, `passphrase`,
 * `username`, `email` — or for HTTPS `username`, `token`, `email`. Empty values are kept as the seed's
 * `--from-literal` would.
 */
export function seldonGitCredsSecret(config: Config, creds: GitCredentials): KubeObject {
  const { seldonDeploy } = config;
  const values: Record<string, string> =
    creds.kind === 'ssh'
      ? {
          [seldonDeploy.sshKeyName]: creds.privateKey,
          known_hosts: creds.knownHosts,
          passphrase: creds.passphrase,
          username: creds.username,
          email: creds.email,
        }
      : { username: creds.username, token: creds.password, email: creds.email };
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: seldonDeploy.gitCredentialsSecret,
      namespace: seldonDeploy.namespace,
      labels: { ...MANAGED_BY_LABELS },
    },
    type: 'Opaque',
    data: Object.fromEntries(Object.entries(values).map(([k, v]) => [k, b64(v)])),
  };
}

const PEM = /^-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----\r?\n([\s\S]*?)\r?\n?-----END \1PRIVATE KEY-----\s*$/;
const OPENSSH_MAGIC = 'openssh-key-v1\0';

/**
 * What is wrong with a private key's shape, or undefined: not PEM/OpenSSH armour, a body that is not
 * base64, an OpenSSH key without its magic, or a passphrase-protected key with no passphrase. Pure: the
 * passphrase itself is checked by decrypting (git.ts).
 */
export function privateKeyProblem(key: string, passphrase: string): string | undefined {
  const m = PEM.exec(key.trim());
  if (!m) return 'is not a private key file (no "-----BEGIN … PRIVATE KEY-----" … "-----END …" armour)';
  const type = m[1]!.trim();
  const lines = m[2]!.split(/\r?\n/).map((l) => l.trim());
  const headers = lines.filter((l) => l.includes(':'));
  const body = lines.filter((l) => !l.includes(':') && l !== '').join('');
  if (body === '' || !/^[A-Za-z0-9+/]+={0,2}$/.test(body) || body.length % 4 !== 0)
    return 'is malformed: its body is not base64 (a truncated or re-wrapped copy?)';
  let encrypted = type === 'ENCRYPTED' || headers.some((h) => /^Proc-Type:\s*4,ENCRYPTED/i.test(h));
  if (type === 'OPENSSH') {
    const raw = Buffer.from(body, 'base64');
    if (raw.subarray(0, OPENSSH_MAGIC.length).toString('latin1') !== OPENSSH_MAGIC)
      return 'is malformed: not an OpenSSH private key inside its armour';
    const at = OPENSSH_MAGIC.length;
    const len = raw.length >= at + 4 ? raw.readUInt32BE(at) : -1;
    if (len < 0 || raw.length < at + 4 + len) return 'is malformed: truncated';
    encrypted = raw.subarray(at + 4, at + 4 + len).toString('latin1') !== 'none';
  }
  if (encrypted && passphrase === '') return 'is passphrase-protected but the Secret has no "passphrase" key';
  return undefined;
}

/**
 * The same unencrypted OpenSSH key text for the same key, every time. ssh-keygen writes a fresh random
 * "checkint" pair into every private key it writes, so decrypting the same key twice gives two texts, and
 * the repository Secret would change on every run. The pair only has to match itself: it is set from the
 * public key. Anything else (an encrypted or non-OpenSSH key, a parse problem) comes back unchanged.
 */
export function stableOpensshKey(key: string): string {
  const m = PEM.exec(key.trim());
  if (!m || m[1]!.trim() !== 'OPENSSH') return key;
  try {
    const raw = Buffer.from(m[2]!.replace(/\s+/g, ''), 'base64');
    if (raw.subarray(0, OPENSSH_MAGIC.length).toString('latin1') !== OPENSSH_MAGIC) return key;
    let at = OPENSSH_MAGIC.length;
    const str = () => {
      const len = raw.readUInt32BE(at);
      const value = raw.subarray(at + 4, at + 4 + len);
      at += 4 + len;
      return value;
    };
    if (str().toString('latin1') !== 'none') return key;
    str(); // kdf name
    str(); // kdf options
    const keys = raw.readUInt32BE(at);
    at += 4;
    const publicKeys = Array.from({ length: keys }, str);
    const privateStart = at + 4;
    if (keys < 1 || privateStart + 8 > raw.length) return key;
    const check = createHash('sha256').update(publicKeys[0]!).digest().subarray(0, 4);
    const out = Buffer.from(raw);
    check.copy(out, privateStart);
    check.copy(out, privateStart + 4);
    const body = out.toString('base64').replace(/.{1,70}/g, '$&\n');
    return `-----BEGIN OPENSSH PRIVATE KEY-----\n${body}-----END OPENSSH PRIVATE KEY-----\n`;
  } catch {
    return key;
  }
}

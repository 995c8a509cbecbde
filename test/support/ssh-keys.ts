/**
 * SSH keys and the Git credentials source Secret for tests. Keys are generated at run time in a temporary
 * directory, never committed.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SshKey {
  /** The directory holding `key` and `key.pub`. */
  dir: string;
  privateKey: string;
  /** `ssh-ed25519 AAAA…`: the key's type and body, as known_hosts and authorized_keys take it. */
  publicKey: string;
}

/** A fresh ed25519 key pair without a passphrase. */
export function newSshKey(prefix = 'sd-key-'): SshKey {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'key')]);
  return {
    dir,
    privateKey: readFileSync(join(dir, 'key'), 'utf8'),
    publicKey: readFileSync(join(dir, 'key.pub'), 'utf8').split(' ').slice(0, 2).join(' '),
  };
}

/**
 * The `gitops-source-creds` Secret the chart's default `git.credentialsSecret` names, holding a fresh key
 * for a repository on `git.example.com` that the run never contacts (tests that set `git.verify: false`).
 * Returns the object and the key's directory.
 */
export function unusedSourceSecret(namespace: string, prefix?: string) {
  const key = newSshKey(prefix);
  return {
    keyDir: key.dir,
    secret: {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'gitops-source-creds', namespace },
      type: 'kubernetes.io/ssh-auth',
      stringData: { 'ssh-privatekey': key.privateKey, known_hosts: `git.example.com ${key.publicKey}\n` },
    },
  };
}

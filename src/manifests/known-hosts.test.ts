import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { knownHostsConfigMap, knownHostsCovers, knownHostsEntries, mergeKnownHosts } from './known-hosts.ts';

const UPSTREAM = `# This file was automatically generated. DO NOT EDIT
github.com ssh-ed25519 AAAAgithub
gitlab.com ssh-ed25519 AAAAgitlab
`;

describe('mergeKnownHosts', () => {
  it('appends the missing entries after the existing text, which it keeps as is', () => {
    const { text, added } = mergeKnownHosts(UPSTREAM, 'git.example.com ssh-ed25519 AAAAexample\n');
    expect(added).toEqual(['git.example.com ssh-ed25519 AAAAexample']);
    expect(text).toBe(`${UPSTREAM}git.example.com ssh-ed25519 AAAAexample\n`);
  });

  it('is idempotent: merging the same additions again changes nothing', () => {
    const additions = 'git.example.com ssh-ed25519 AAAAexample\n[git.example.com]:2222 ssh-rsa AAAArsa\n';
    const once = mergeKnownHosts(UPSTREAM, additions).text;
    const twice = mergeKnownHosts(once, additions);
    expect(twice.text).toBe(once);
    expect(twice.added).toEqual([]);
  });

  it('never drops existing lines, comments or entries absent from the additions', () => {
    const existing = `${UPSTREAM}# added by hand\nbitbucket.org ssh-rsa AAAAbb`;
    const { text } = mergeKnownHosts(existing, 'git.example.com ssh-ed25519 AAAAexample');
    expect(text.startsWith(`${existing}\n`)).toBe(true);
    expect(knownHostsEntries(text)).toEqual([
      'github.com ssh-ed25519 AAAAgithub',
      'gitlab.com ssh-ed25519 AAAAgitlab',
      'bitbucket.org ssh-rsa AAAAbb',
      'git.example.com ssh-ed25519 AAAAexample',
    ]);
  });

  it('treats whitespace differences as the same entry and skips comments, blanks and duplicates', () => {
    const additions = '# comment\n\n  github.com   ssh-ed25519\tAAAAgithub  \nh ssh-rsa X\nh  ssh-rsa X\n';
    const { text, added } = mergeKnownHosts(UPSTREAM, additions);
    expect(added).toEqual(['h ssh-rsa X']);
    expect(text).toBe(`${UPSTREAM}h ssh-rsa X\n`);
  });

  it('keeps the order of the additions (stable output whatever the existing order)', () => {
    expect(mergeKnownHosts(undefined, 'b k B\na k A\n').text).toBe('b k B\na k A\n');
    expect(mergeKnownHosts('', '').text).toBe('');
    expect(mergeKnownHosts('x k X', '').text).toBe('x k X');
  });

  it('builds a patch with only the ssh_known_hosts key', () => {
    expect(knownHostsConfigMap('argocd', 'h k K\n')).toEqual({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'argocd-ssh-known-hosts-cm', namespace: 'argocd' },
      data: { ssh_known_hosts: 'h k K\n' },
    });
  });
});

describe('knownHostsCovers', () => {
  const hashed = (name: string) => {
    const salt = randomBytes(20);
    return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
  };

  it('finds plain names, [host]:port, lists, patterns and hashed names as ssh does', () => {
    expect(knownHostsCovers(UPSTREAM, 'github.com')).toBe(true);
    expect(knownHostsCovers(UPSTREAM, 'github.com', '22')).toBe(true);
    expect(knownHostsCovers(UPSTREAM, 'github.com', '2222')).toBe(false);
    expect(knownHostsCovers('[127.0.0.1]:2222 ssh-ed25519 AAAA\n', '127.0.0.1', '2222')).toBe(true);
    expect(knownHostsCovers('a.example,git.example.com ssh-ed25519 AAAA', 'git.example.com')).toBe(true);
    expect(knownHostsCovers('*.example.com ssh-ed25519 AAAA', 'git.example.com')).toBe(true);
    expect(knownHostsCovers('*.example.com,!git.example.com ssh-rsa A', 'git.example.com')).toBe(false);
    expect(knownHostsCovers(`${hashed('git.example.com')} ssh-ed25519 AAAA`, 'git.example.com')).toBe(true);
    expect(knownHostsCovers(`${hashed('[h]:2222')} ssh-ed25519 AAAA`, 'h', 2222)).toBe(true);
    expect(knownHostsCovers(`${hashed('other')} ssh-ed25519 AAAA`, 'git.example.com')).toBe(false);
  });

  it('does not count @revoked lines, comments or a name without a key', () => {
    expect(knownHostsCovers('@revoked git.example.com ssh-rsa AAAA', 'git.example.com')).toBe(false);
    expect(knownHostsCovers('@cert-authority *.example.com ssh-rsa AAAA', 'git.example.com')).toBe(true);
    expect(knownHostsCovers('# git.example.com ssh-rsa AAAA\n', 'git.example.com')).toBe(false);
    expect(knownHostsCovers('git.example.com', 'git.example.com')).toBe(false);
    expect(knownHostsCovers(undefined, 'git.example.com')).toBe(false);
  });
});

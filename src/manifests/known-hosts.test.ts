import { describe, expect, it } from 'vitest';
import { knownHostsConfigMap, knownHostsEntries, mergeKnownHosts } from './known-hosts.ts';

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

import { createHmac } from 'node:crypto';
import type { KubeObject } from '../kube/types.ts';

export const KNOWN_HOSTS_CONFIGMAP = 'argocd-ssh-known-hosts-cm';
export const KNOWN_HOSTS_KEY = 'ssh_known_hosts';

/** Comparison form of a known_hosts line: trimmed, whitespace collapsed. Blank lines and comments have none. */
function entryKey(line: string): string | undefined {
  const trimmed = line.trim();
  if (trimmed === '' || trimmed.startsWith('#')) return undefined;
  return trimmed.split(/\s+/).join(' ');
}

/** The host-key entries of a known_hosts text (no comments or blank lines), normalised. */
export function knownHostsEntries(text: string | undefined): string[] {
  return (text ?? '').split('\n').flatMap((line) => entryKey(line) ?? []);
}

/**
 * Adds the entries of `additions` that `existing` lacks. Existing lines are never dropped or reordered
 * (comments included); new entries are appended in the order given. Merging again with the same additions
 * returns the text unchanged, so a re-run does not touch the ConfigMap.
 */
export function mergeKnownHosts(
  existing: string | undefined,
  additions: string | undefined,
): { text: string; added: string[] } {
  const present = new Set(knownHostsEntries(existing));
  const added: string[] = [];
  for (const line of (additions ?? '').split('\n')) {
    const key = entryKey(line);
    if (key === undefined || present.has(key)) continue;
    present.add(key);
    added.push(key);
  }
  const base = existing ?? '';
  if (added.length === 0) return { text: base, added };
  const prefix = base === '' || base.endsWith('\n') ? base : `${base}\n`;
  return { text: `${prefix}${added.join('\n')}\n`, added };
}

/** Apply patch of Argo CD's known-hosts ConfigMap: only the `ssh_known_hosts` key. */
export function knownHostsConfigMap(namespace: string, text: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: KNOWN_HOSTS_CONFIGMAP, namespace },
    data: { [KNOWN_HOSTS_KEY]: text },
  };
}

/** How ssh names a host in known_hosts: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port?: string | number): string {
  return port !== undefined && String(port) !== '22' ? `[${host}]:${port}` : host;
}

function globMatch(pattern: string, name: string): boolean {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 'i').test(name);
}

/** One host field of a known_hosts line (`a,b,!c`, `[h]:p`, `*.x`, or hashed `|1|salt|hash`) against a name. */
function hostFieldMatches(field: string, name: string): boolean {
  if (field.startsWith('|1|')) {
    const [, , salt, hash] = field.split('|');
    if (!salt || !hash) return false;
    const mac = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
    return mac === hash;
  }
  let matched = false;
  for (const pattern of field.split(',')) {
    if (pattern.startsWith('!')) {
      if (globMatch(pattern.slice(1), name)) return false;
    } else if (globMatch(pattern, name)) matched = true;
  }
  return matched;
}

/**
 * Whether a known_hosts text has a host key for `host` (and port), as ssh would look it up: plain names,
 * `[host]:port`, wildcard patterns, negations and hashed names (`ssh-keygen -H`); `@revoked` lines do not
 * count, `@cert-authority` ones do.
 */
export function knownHostsCovers(text: string | undefined, host: string, port?: string | number): boolean {
  const name = knownHostsName(host, port);
  for (const line of knownHostsEntries(text)) {
    const fields = line.split(' ');
    if (fields[0] === '@revoked') continue;
    const hosts = fields[0]!.startsWith('@') ? fields[1] : fields[0];
    if (hosts && fields.length >= (fields[0]!.startsWith('@') ? 4 : 3) && hostFieldMatches(hosts, name))
      return true;
  }
  return false;
}

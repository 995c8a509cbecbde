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

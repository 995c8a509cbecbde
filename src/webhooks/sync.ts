/**
 * Which hook is ours, and what to do with it — pure, so the rules are unit-tested without a server:
 * a hook whose URL is the target's is ours (the first listed, when the seed's hand-run `curl` left
 * several); else the hook this program registered last time (its id is recorded in our Secret), whose URL
 * then changed; else none, and one is created. Every other hook is foreign and left alone.
 */
import type { DesiredHook, HookRole, LiveHook, ProviderClient } from './types.ts';

export interface HookDecision {
  role: HookRole;
  url: string;
  action: 'create' | 'update' | 'unchanged';
  /** The hook's id (absent for a create). */
  id?: string | undefined;
  /** What an update changes. */
  fields: string[];
  /** Other hooks with the same URL: not ours to delete, but worth saying. */
  duplicates: string[];
}

export function decideHooks(
  live: readonly LiveHook[],
  desired: readonly DesiredHook[],
  client: Pick<ProviderClient, 'differences'>,
  opts: { recorded?: Partial<Record<HookRole, string>>; rotateSecret?: boolean } = {},
): HookDecision[] {
  const desiredUrls = new Set(desired.map((d) => d.url));
  return desired.map((hook) => {
    const sameUrl = live.filter((h) => h.url === hook.url);
    const recordedId = opts.recorded?.[hook.role];
    const byId = recordedId
      ? live.find((h) => h.id === recordedId && !desiredUrls.has(h.url) && h.url !== hook.url)
      : undefined;
    const mine = sameUrl[0] ?? byId;
    const duplicates = sameUrl.slice(1).map((h) => h.id);
    if (!mine) return { role: hook.role, url: hook.url, action: 'create', fields: [], duplicates };
    const fields = [...(mine.url !== hook.url ? ['url'] : []), ...client.differences(mine, hook)];
    // A secret cannot be read back: when ours is new (its Secret was lost), every hook that carries one
    // gets it again, or Argo CD would refuse the provider's deliveries.
    if (opts.rotateSecret && hook.secret !== undefined && !fields.some((f) => /secret|token/.test(f))) {
      fields.push('secret');
    }
    return {
      role: hook.role,
      url: hook.url,
      action: fields.length > 0 ? 'update' : 'unchanged',
      id: mine.id,
      fields,
      duplicates,
    };
  });
}

/** Carries out the decisions (apply mode only); returns each role's hook id afterwards. */
export async function applyDecisions(
  client: ProviderClient,
  decisions: readonly HookDecision[],
  desired: readonly DesiredHook[],
): Promise<Partial<Record<HookRole, string>>> {
  const ids: Partial<Record<HookRole, string>> = {};
  for (const d of decisions) {
    const hook = desired.find((h) => h.role === d.role)!;
    if (d.action === 'create') ids[d.role] = (await client.create(hook)).id;
    else if (d.action === 'update') ids[d.role] = (await client.update(d.id!, hook)).id || d.id!;
    else ids[d.role] = d.id!;
  }
  return ids;
}

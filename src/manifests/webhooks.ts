/**
 * The bootstrap's own webhook Secret (the generated Argo CD webhook secret, and the ids of the hooks it
 * registered, so a changed URL updates its hook instead of adding one) and the argocd-secret keys Argo CD
 * checks deliveries against. Pure builders.
 */
import { randomBytes } from 'node:crypto';
import { ARGOCD_WEBHOOK_KEYS, type WebhookProvider } from '../config/webhooks.ts';
import type { KubeObject } from '../kube/types.ts';
import { b64, MANAGED_BY_LABELS } from './common.ts';

/** Keys of the bootstrap's webhook Secret. */
export const WEBHOOK_SECRET_KEY = 'secret';
export const WEBHOOK_RECORD_KEY = 'hooks.json';

/** Which hooks this program registered, on which repository. */
export interface HookRecord {
  provider: WebhookProvider;
  apiUrl: string;
  repository: string;
  /** role → the provider's hook id (Bitbucket: its `{uuid}`). */
  hooks: { argocd?: string | undefined; seldonDeploy?: string | undefined };
}

/** 32 random bytes as hex: what GitHub's HMAC and GitLab's token comparison are keyed with. */
export function generateWebhookSecret(): string {
  return randomBytes(32).toString('hex');
}

/** Stable text (fixed key order), so an unchanged record never moves the Secret's resourceVersion. */
export function recordText(r: HookRecord): string {
  return JSON.stringify({
    provider: r.provider,
    apiUrl: r.apiUrl,
    repository: r.repository,
    hooks: {
      ...(r.hooks.argocd ? { argocd: r.hooks.argocd } : {}),
      ...(r.hooks.seldonDeploy ? { seldonDeploy: r.hooks.seldonDeploy } : {}),
    },
  });
}

export function parseRecord(text: string | undefined): HookRecord | undefined {
  if (!text) return undefined;
  try {
    const r = JSON.parse(text) as HookRecord;
    return r && typeof r === 'object' && r.hooks && typeof r.hooks === 'object' ? r : undefined;
  } catch {
    return undefined;
  }
}

export function webhookStateSecret(
  namespace: string,
  name: string,
  state: { secret?: string | undefined; record?: HookRecord | undefined },
): KubeObject {
  const data: Record<string, string> = {};
  if (state.secret !== undefined) data[WEBHOOK_SECRET_KEY] = b64(state.secret);
  if (state.record) data[WEBHOOK_RECORD_KEY] = b64(recordText(state.record));
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name,
      namespace,
      labels: { ...MANAGED_BY_LABELS },
      annotations: {
        'sd-gitops-bootstrap/generated':
          'Argo CD webhook secret (also in argocd-secret) and the ids of the hooks registered with the Git provider',
      },
    },
    type: 'Opaque',
    data,
  };
}

/** The argocd-secret data (base64) for a provider: its secret, or Bitbucket's hook UUID. */
export function argocdWebhookData(provider: WebhookProvider, value: string): Record<string, string> {
  return { [ARGOCD_WEBHOOK_KEYS[provider]]: b64(value) };
}

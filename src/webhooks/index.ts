/**
 * The provider clients (one module each, same interface) and the one place that picks one and sets its
 * authentication: GitHub `Authorization: Bearer`, GitLab `PRIVATE-TOKEN`, Bitbucket `Bearer` (or Basic
 * with a `username` in the token Secret: an app password or API token).
 */
import type { WebhookSettings } from '../config/webhooks.ts';
import { registerBasicAuth } from '../report/redact.ts';
import { bitbucketClient } from './bitbucket.ts';
import { githubClient } from './github.ts';
import { gitlabClient } from './gitlab.ts';
import { ProviderHttp, type ProviderHttpOptions } from './http.ts';
import type { ProviderClient } from './types.ts';

export { bareUuid } from './bitbucket.ts';
export { ProviderError, TOKEN_SCOPES } from './http.ts';
export { applyDecisions, decideHooks, type HookDecision } from './sync.ts';
export type { DesiredHook, HookRole, LiveHook, ProviderClient } from './types.ts';

export interface ProviderToken {
  token: string;
  /** Bitbucket only: Basic authentication with this user. */
  username?: string | undefined;
  /** `Secret ns/name (key token)`, for messages. */
  source: string;
}

export function authHeaders(provider: WebhookSettings['provider'], t: ProviderToken): Record<string, string> {
  // The header's base64 of user:token, should a server or proxy quote it back.
  if (t.username) registerBasicAuth(t.username, t.token);
  switch (provider) {
    case 'github':
      return { authorization: `Bearer ${t.token}`, 'x-github-api-version': '2022-11-28' };
    case 'gitlab':
      return { 'private-token': t.token };
    case 'bitbucket':
      return {
        authorization: t.username
          ? `Basic ${Buffer.from(`${t.username}:${t.token}`).toString('base64')}`
          : `Bearer ${t.token}`,
      };
  }
}

export function providerClient(
  settings: WebhookSettings,
  token: ProviderToken,
  extra: Pick<ProviderHttpOptions, 'signal' | 'onRequest' | 'maxRateLimitWaitMs' | 'sleep' | 'now'> = {},
): ProviderClient {
  const http = new ProviderHttp({
    provider: settings.provider,
    apiUrl: settings.apiUrl,
    repository: settings.repository,
    auth: authHeaders(settings.provider, token),
    tokenSource: token.source,
    insecureSkipTlsVerify: settings.insecureSkipTlsVerify,
    ...extra,
  });
  switch (settings.provider) {
    case 'github':
      return githubClient(http, settings.repository);
    case 'gitlab':
      return gitlabClient(http, settings.repository);
    case 'bitbucket':
      return bitbucketClient(http, settings.repository);
  }
}

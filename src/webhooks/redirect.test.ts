/**
 * The hook-registration client and redirects, against real local HTTP servers: a redirect to another host
 * is refused (that host records every request and must see none), a same-origin one is followed with the
 * token, and a write is never turned into a GET. For every provider's auth header — GitLab's
 * PRIVATE-TOKEN is one fetch itself would have sent on.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startRecorder, startRedirector, type TestServer } from '../../test/support/git-http-backend.ts';
import type { WebhookSettings } from '../config/webhooks.ts';
import { ProviderError } from './http.ts';
import { providerClient } from './index.ts';

const TOKEN = 'glpat-redirect-test-token';
const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const settings = (provider: WebhookSettings['provider'], apiUrl: string): WebhookSettings => ({
  provider,
  apiUrl,
  repository: 'acme/gitops',
  token: { namespace: 'seldon-system', name: 'git-webhook-token', key: 'token' },
  targets: [{ role: 'argocd', url: 'https://deploy.example.com/argocd/api/webhook' }],
  secretName: 'sd-gitops-bootstrap-webhook',
  insecureSkipTlsVerify: false,
});

const HEADERS = { github: 'authorization', gitlab: 'private-token', bitbucket: 'authorization' } as const;

describe('webhook API requests and redirects', () => {
  it.each(['github', 'gitlab', 'bitbucket'] as const)(
    '%s: a redirect to another host is an error naming it; that host receives nothing',
    async (provider) => {
      const other = await startRecorder({ hostName: 'localhost' });
      const api = await startRedirector({ to: other.origin, status: 302 });
      servers.push(other, api);
      const seen: string[] = [];
      const client = providerClient(
        settings(provider, `${api.origin}/api`),
        { token: TOKEN, source: 'Secret seldon-system/git-webhook-token (key token)' },
        { onRequest: (method, url) => seen.push(`${method} ${url}`) },
      );
      const err = await client.list().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProviderError);
      expect((err as Error).message).toMatch(
        new RegExp(
          `redirect \\(302\\) to another address, ${other.origin.replace(/[.]/g, '\\.')}: the token is not sent there; set webhooks\\.apiUrl`,
        ),
      );
      expect((err as Error).message).not.toContain(TOKEN);
      // The API host got the token (it is webhooks.apiUrl); the other host got no request at all.
      expect(api.seen).toHaveLength(1);
      expect(api.seen[0]!.headers[HEADERS[provider]]).toBeTruthy();
      expect(other.seen).toEqual([]);
      expect(seen).toHaveLength(1);
    },
  );

  it('a same-origin redirect of a GET is followed, with the token (a renamed repository)', async () => {
    let first = true;
    const api = await startRecorder({
      answer: (r) => {
        if (first) {
          first = false;
          return { status: 301, headers: { location: r.url.replace('/acme%2Fgitops/', '/42/') } };
        }
        return { status: 200, body: [{ id: 7, url: 'https://deploy.example.com/argocd/api/webhook' }] };
      },
    });
    servers.push(api);
    const hooks = await providerClient(settings('gitlab', `${api.origin}/api/v4`), {
      token: TOKEN,
      source: 'Secret s/t (key token)',
    }).list();
    expect(hooks.map((h) => h.id)).toEqual(['7']);
    expect(api.seen.map((r) => r.url)).toEqual([
      '/api/v4/projects/acme%2Fgitops/hooks?per_page=100',
      '/api/v4/projects/42/hooks?per_page=100',
    ]);
    expect(api.seen.every((r) => r.headers['private-token'] === TOKEN)).toBe(true);
  });

  it('a 301 answering a write is refused (fetch would resend it as a GET); 307 keeps the method and is followed', async () => {
    const answers = [
      { status: 301, headers: { location: '/api/v4/projects/42/hooks' } },
      { status: 307, headers: { location: '/api/v4/projects/42/hooks' } },
      { status: 201, body: { id: 9, url: 'https://deploy.example.com/argocd/api/webhook' } },
    ];
    const api = await startRecorder({ answer: () => answers.shift()! });
    servers.push(api);
    const client = providerClient(settings('gitlab', `${api.origin}/api/v4`), {
      token: TOKEN,
      source: 'Secret s/t (key token)',
    });
    const hook = {
      role: 'argocd' as const,
      url: 'https://deploy.example.com/argocd/api/webhook',
      insecureSsl: false,
    };
    await expect(client.create(hook)).rejects.toThrow(
      /redirect \(301\) to \/api\/v4\/projects\/42\/hooks, which would turn the request into a GET/,
    );
    const created = await client.create(hook);
    expect(created.id).toBe('9');
    expect(api.seen.map((r) => `${r.method} ${r.url}`)).toEqual([
      'POST /api/v4/projects/acme%2Fgitops/hooks',
      'POST /api/v4/projects/acme%2Fgitops/hooks',
      'POST /api/v4/projects/42/hooks',
    ]);
  });
});

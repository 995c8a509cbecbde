import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startFakeProvider } from '../../test/fakes/git-providers.ts';
import {
  DEFAULT_API_URLS,
  repositoryPathOf,
  repositorySegmentsOk,
  type WebhookSettings,
} from '../config/webhooks.ts';
import { bareUuid } from './bitbucket.ts';
import { githubClient } from './github.ts';
import { ProviderHttp, providerMessage, rateLimitWaitMs } from './http.ts';
import { providerClient } from './index.ts';
import { nextLink } from './link.ts';
import { signedPushEvent, verifyPushEvent } from './sign.ts';
import { decideHooks } from './sync.ts';
import type { DesiredHook, LiveHook } from './types.ts';

describe('repositoryPathOf', () => {
  it.each([
    ['ssh://git@github.com/acme/gitops.git', 'acme/gitops'],
    ['git@github.com:acme/gitops.git', 'acme/gitops'],
    ['git@gitlab.example.com:/platform/team/gitops.git', 'platform/team/gitops'],
    ['https://bitbucket.org/acme/gitops.git', 'acme/gitops'],
    ['https://x-token-auth@bitbucket.org/acme/gitops', 'acme/gitops'],
    ['ssh://git@host:2222/srv/git/gitops.git', 'srv/git/gitops'],
  ])('%s → %s', (url, path) => {
    expect(repositoryPathOf(url)).toBe(path);
  });

  it('GitHub and Bitbucket need owner/name; GitLab allows subgroups', () => {
    expect(repositorySegmentsOk('github', 'a/b')).toBe(true);
    expect(repositorySegmentsOk('github', 'a/b/c')).toBe(false);
    expect(repositorySegmentsOk('bitbucket', 'a/b/c')).toBe(false);
    expect(repositorySegmentsOk('gitlab', 'a/b/c')).toBe(true);
  });
});

describe('nextLink', () => {
  it('finds rel="next" among the others', () => {
    expect(
      nextLink(
        '<https://api.github.com/repositories/1/hooks?page=3>; rel="next", <https://api.github.com/repositories/1/hooks?page=5>; rel="last"',
      ),
    ).toBe('https://api.github.com/repositories/1/hooks?page=3');
    expect(nextLink('<https://g/x?page=1>; rel="first", <https://g/x?page=1>; rel="prev"')).toBeUndefined();
    expect(nextLink(null)).toBeUndefined();
  });
});

describe('rateLimitWaitMs', () => {
  const h = (o: Record<string, string>) => new Headers(o);
  it('GitHub: a 403 with no requests left waits until x-ratelimit-reset', () => {
    expect(
      rateLimitWaitMs(403, h({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1010' }), 1_000_000),
    ).toBe(10_000);
  });
  it('a 403 with requests left is a permission error, not a rate limit', () => {
    expect(rateLimitWaitMs(403, h({ 'x-ratelimit-remaining': '12' }), 0)).toBeUndefined();
  });
  it('429: Retry-After first, then GitLab’s RateLimit-Reset, else a minute', () => {
    expect(rateLimitWaitMs(429, h({ 'retry-after': '7', 'ratelimit-reset': '99999' }), 0)).toBe(7000);
    expect(rateLimitWaitMs(429, h({ 'ratelimit-reset': '20' }), 10_000)).toBe(10_000);
    expect(rateLimitWaitMs(429, h({}), 0)).toBe(60_000);
  });
});

describe('providerMessage', () => {
  it('reads each provider’s error body', () => {
    expect(
      providerMessage({
        message: 'Validation Failed',
        errors: [{ message: 'Hook already exists on this repository' }],
      }),
    ).toBe('Validation Failed; Hook already exists on this repository');
    expect(providerMessage({ message: '401 Unauthorized' })).toBe('401 Unauthorized');
    expect(providerMessage({ error: 'Invalid url given' })).toBe('Invalid url given');
    expect(
      providerMessage({
        type: 'error',
        error: { message: 'Bad request', fields: { url: ['Enter a valid URL.'] } },
      }),
    ).toBe('Bad request; {"url":["Enter a valid URL."]}');
  });
});

describe('decideHooks', () => {
  const http = new ProviderHttp({
    provider: 'github',
    apiUrl: 'https://api.github.com',
    repository: 'a/b',
    auth: {},
    tokenSource: 'Secret x/y',
    insecureSkipTlsVerify: false,
  });
  const client = githubClient(http, 'a/b');
  const gh = (id: string, url: string, extra: Record<string, unknown> = {}): LiveHook => ({
    id,
    url,
    raw: {
      id: Number(id),
      active: true,
      events: ['push'],
      config: { url, content_type: 'json', insecure_ssl: '0', secret: '********' },
      ...extra,
    },
  });
  const argo: DesiredHook = {
    role: 'argocd',
    url: 'https://d/argocd/api/webhook',
    secret: 's',
    insecureSsl: false,
  };

  it('ours by URL: unchanged when the settings match; the first of several, the others duplicates', () => {
    const live = [gh('1', 'https://ci/x'), gh('2', argo.url), gh('3', argo.url)];
    expect(decideHooks(live, [argo], client)).toEqual([
      { role: 'argocd', url: argo.url, action: 'unchanged', id: '2', fields: [], duplicates: ['3'] },
    ]);
  });

  it('by the recorded id when the URL changed; a foreign hook is never taken', () => {
    const live = [gh('1', 'https://ci/x'), gh('7', 'https://old/argocd/api/webhook')];
    expect(decideHooks(live, [argo], client, { recorded: { argocd: '7' } })[0]).toMatchObject({
      action: 'update',
      id: '7',
      fields: ['url'],
    });
    expect(decideHooks(live, [argo], client)[0]).toMatchObject({ action: 'create' });
  });

  it('differing settings and a rotated secret are updates', () => {
    const live = [gh('2', argo.url, { events: ['*'] })];
    expect(decideHooks(live, [argo], client)[0]!.fields).toEqual(['events']);
    expect(decideHooks([gh('2', argo.url)], [argo], client, { rotateSecret: true })[0]!.fields).toEqual([
      'secret',
    ]);
  });
});

describe('signedPushEvent', () => {
  const event = { webUrl: 'https://git.example.com/acme/gitops', branch: 'main', after: 'a'.repeat(40) };

  it('GitHub: X-Hub-Signature-256 is the HMAC-SHA256 of the exact body', () => {
    const { headers, body } = signedPushEvent('github', 'k3y', event);
    expect(headers['x-github-event']).toBe('push');
    expect(headers['x-hub-signature-256']).toBe(
      `sha256=${createHmac('sha256', 'k3y').update(body).digest('hex')}`,
    );
    expect(JSON.parse(body)).toMatchObject({
      ref: 'refs/heads/main',
      repository: { html_url: event.webUrl },
    });
    expect(verifyPushEvent('github', 'k3y', headers, body)).toBe(true);
    expect(verifyPushEvent('github', 'other', headers, body)).toBe(false);
  });

  it('GitLab: the token verbatim; Bitbucket: the hook UUID without braces', () => {
    const gl = signedPushEvent('gitlab', 'tok', event);
    expect(gl.headers).toMatchObject({ 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': 'tok' });
    expect(JSON.parse(gl.body)).toMatchObject({ object_kind: 'push', project: { web_url: event.webUrl } });
    const bb = signedPushEvent('bitbucket', '{0302255c-f4f0-4232-916b-bef521fbdd08}', event);
    expect(bb.headers).toMatchObject({
      'x-event-key': 'repo:push',
      'x-hook-uuid': '0302255c-f4f0-4232-916b-bef521fbdd08',
    });
    // What Argo CD reads: links.html (the repository to match), links.self minus /repositories/<full_name>
    // (the API it asks for the diffstat), the new branch and both hashes.
    const api = 'http://bitbucket.example.com/2.0';
    expect(JSON.parse(signedPushEvent('bitbucket', 'u', { ...event, apiUrl: `${api}/` }).body)).toMatchObject(
      {
        repository: {
          full_name: 'acme/gitops',
          links: { html: { href: event.webUrl }, self: { href: `${api}/repositories/acme/gitops` } },
        },
        push: { changes: [{ new: { name: 'main', target: { hash: event.after } } }] },
      },
    );
    expect(bareUuid('{abc}')).toBe('abc');
    expect(verifyPushEvent('bitbucket', '{0302255c-f4f0-4232-916b-bef521fbdd08}', bb.headers, bb.body)).toBe(
      true,
    );
  });
});

describe('ProviderHttp', () => {
  it('never follows a pagination link to another host (the token would go with it)', () => {
    const http = new ProviderHttp({
      provider: 'github',
      apiUrl: 'https://api.github.com',
      repository: 'a/b',
      auth: { authorization: 'Bearer t0ken' },
      tokenSource: 'Secret x/y',
      insecureSkipTlsVerify: false,
    });
    expect(() => http.url('https://evil.example.com/hooks?page=2')).toThrow(/another host/);
    expect(http.url('https://api.github.com/repositories/1/hooks?page=2')).toBe(
      'https://api.github.com/repositories/1/hooks?page=2',
    );
  });

  it('a refused connection is a sentence naming the API, without the token', async () => {
    const http = new ProviderHttp({
      provider: 'gitlab',
      apiUrl: 'http://127.0.0.1:1/api/v4',
      repository: 'a/b',
      auth: { 'private-token': 's3cr3t-token' },
      tokenSource: 'Secret x/y',
      insecureSkipTlsVerify: false,
    });
    const err = await http.request('GET', '/projects/a%2Fb/hooks').catch((e: unknown) => e as Error);
    expect((err as Error).message).toMatch(
      /^cannot reach the gitlab API at http:\/\/127\.0\.0\.1:1\/api\/v4/,
    );
    expect((err as Error).message).not.toContain('s3cr3t');
  });
});

describe('TLS of the provider API', () => {
  /** A self-signed certificate for 127.0.0.1, made now (never committed). */
  function selfSigned(): { key: string; cert: string } {
    const dir = mkdtempSync(join(tmpdir(), 'webhooks-tls-'));
    try {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-keyout',
          'k.pem',
          '-out',
          'c.pem',
          '-days',
          '1',
        ].concat(['-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']),
        { cwd: dir, stdio: 'pipe' },
      );
      return {
        key: readFileSync(join(dir, 'k.pem'), 'utf8'),
        cert: readFileSync(join(dir, 'c.pem'), 'utf8'),
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('is verified by default (a sentence naming the fix); skipped only with insecureSkipTlsVerify', async () => {
    const p = await startFakeProvider('gitlab', { tls: selfSigned() });
    try {
      p.addHook('https://ci.example.com/hook');
      const settings = (insecure: boolean): WebhookSettings => ({
        provider: 'gitlab',
        apiUrl: p.apiUrl,
        repository: p.repository,
        token: { namespace: 'ns', name: 't', key: 'token' },
        targets: [],
        secretName: 's',
        insecureSkipTlsVerify: insecure,
      });
      const token = { token: p.token, source: 'Secret ns/t (key token)' };
      expect(p.apiUrl).toMatch(/^https:/);
      expect(DEFAULT_API_URLS.gitlab).toMatch(/^https:/);
      const err = await providerClient(settings(false), token)
        .list()
        .catch((e: unknown) => e as Error);
      expect((err as Error).message).toMatch(
        /^cannot reach the gitlab API at https:\/\/127\.0\.0\.1:\d+\/api\/v4 .*certificate is not trusted; .*webhooks\.insecureSkipTlsVerify: true/,
      );
      expect(p.requests).toEqual([]); // refused in the handshake: nothing was sent
      const hooks = await providerClient(settings(true), token).list();
      expect(hooks.map((h) => h.url)).toEqual(['https://ci.example.com/hook']);
    } finally {
      await p.close();
    }
  });
});

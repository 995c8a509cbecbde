/**
 * A push event as each provider delivers it, signed the way it signs it — for tests that post one to
 * Argo CD's `/api/webhook` and expect it accepted with the stored secret and refused with another:
 *
 * - GitHub: `X-GitHub-Event: push`, `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>` (and the
 *   older `X-Hub-Signature: sha1=…`, which GitHub still sends), keyed with `webhook.github.secret`
 *   (https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries).
 * - GitLab: `X-Gitlab-Event: Push Hook`, `X-Gitlab-Token: <the secret>` verbatim
 *   (https://docs.gitlab.com/user/project/integrations/webhooks/#create-a-webhook).
 * - Bitbucket Cloud: `X-Event-Key: repo:push`, `X-Hook-UUID: <the hook's uuid, no braces>`, which Argo CD
 *   compares with `webhook.bitbucket.uuid`
 *   (https://support.atlassian.com/bitbucket-cloud/docs/event-payloads/#HTTP-headers).
 *
 * The payloads carry what Argo CD reads to find the Applications to refresh: the repository's web URL
 * (matched against each Application's repoURL, SSH or HTTPS form alike), the ref and the new commit.
 */
import { createHmac, randomUUID } from 'node:crypto';
import type { WebhookProvider } from '../config/webhooks.ts';

export interface PushEvent {
  /** The repository's web URL, e.g. https://git.example.com/acme/gitops (no `.git`). */
  webUrl: string;
  /** Branch pushed to, e.g. `main`. */
  branch: string;
  /** The commit the branch now points to (40 hex). */
  after: string;
  /** The commit before (defaults to 40 zeros). */
  before?: string;
  /** Default `branch`: Argo CD refreshes Applications tracking HEAD only for the default branch. */
  defaultBranch?: string;
  /** Files the push touched (for Applications with manifest-generate-paths). */
  modified?: string[];
  /**
   * Bitbucket: the API base of `repository.links.self` (default https://api.bitbucket.org/2.0). With
   * `webhook.bitbucket.uuid` set, Argo CD asks it for the push's diffstat and the main branch, and takes
   * the push as touching HEAD when it cannot tell.
   */
  apiUrl?: string;
}

export interface SignedRequest {
  headers: Record<string, string>;
  body: string;
}

export function pushPayload(provider: WebhookProvider, e: PushEvent): unknown {
  const before = e.before ?? '0'.repeat(40);
  const defaultBranch = e.defaultBranch ?? e.branch;
  const name = e.webUrl.replace(/\/+$/, '').split('/').at(-1) ?? 'repo';
  switch (provider) {
    case 'github':
      return {
        ref: `refs/heads/${e.branch}`,
        before,
        after: e.after,
        repository: { name, html_url: e.webUrl, default_branch: defaultBranch },
        commits: [{ id: e.after, added: [], removed: [], modified: e.modified ?? [] }],
      };
    case 'gitlab':
      return {
        object_kind: 'push',
        event_name: 'push',
        ref: `refs/heads/${e.branch}`,
        before,
        after: e.after,
        checkout_sha: e.after,
        project: { name, web_url: e.webUrl, default_branch: defaultBranch },
        commits: [{ id: e.after, added: [], removed: [], modified: e.modified ?? [] }],
      };
    case 'bitbucket': {
      const fullName = new URL(e.webUrl).pathname.replace(/^\//, '');
      const api = (e.apiUrl ?? 'https://api.bitbucket.org/2.0').replace(/\/+$/, '');
      return {
        repository: {
          type: 'repository',
          name,
          full_name: fullName,
          links: { self: { href: `${api}/repositories/${fullName}` }, html: { href: e.webUrl } },
          mainbranch: { name: defaultBranch },
        },
        push: {
          changes: [
            {
              new: { type: 'branch', name: e.branch, target: { hash: e.after } },
              old: { type: 'branch', name: e.branch, target: { hash: before } },
            },
          ],
        },
      };
    }
  }
}

/**
 * The headers and body of a push delivery. `key` is the shared secret (GitHub, GitLab) or the hook's
 * UUID (Bitbucket) — what the bootstrap wrote to argocd-secret.
 */
export function signedPushEvent(provider: WebhookProvider, key: string, e: PushEvent): SignedRequest {
  const body = JSON.stringify(pushPayload(provider, e));
  const common = { 'content-type': 'application/json' };
  switch (provider) {
    case 'github':
      return {
        body,
        headers: {
          ...common,
          'user-agent': 'GitHub-Hookshot/sd-gitops-bootstrap-test',
          'x-github-event': 'push',
          'x-github-delivery': randomUUID(),
          'x-hub-signature': `sha1=${createHmac('sha1', key).update(body).digest('hex')}`,
          'x-hub-signature-256': `sha256=${createHmac('sha256', key).update(body).digest('hex')}`,
        },
      };
    case 'gitlab':
      return { body, headers: { ...common, 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': key } };
    case 'bitbucket':
      return {
        body,
        headers: {
          ...common,
          'user-agent': 'Bitbucket-Webhooks/2.0',
          'x-event-key': 'repo:push',
          'x-hook-uuid': key.replace(/^\{|\}$/g, ''),
          'x-request-uuid': randomUUID(),
          'x-attempt-number': '1',
        },
      };
  }
}

/** True when `headers` + `body` carry a valid signature for `key` (what a receiver checks; the fakes use it). */
export function verifyPushEvent(
  provider: WebhookProvider,
  key: string,
  headers: Record<string, string | undefined>,
  body: string,
): boolean {
  switch (provider) {
    case 'github':
      return (
        headers['x-hub-signature-256'] === `sha256=${createHmac('sha256', key).update(body).digest('hex')}`
      );
    case 'gitlab':
      return headers['x-gitlab-token'] === key;
    case 'bitbucket':
      return headers['x-hook-uuid'] === key.replace(/^\{|\}$/g, '');
  }
}

/**
 * Webhooks end to end: the real CLI under a ServiceAccount against the real kube-apiserver, the Git
 * provider a stand-in on 127.0.0.1 (test/fakes/git-providers.ts, following GitHub's documented hook API).
 * Argo CD v3.5.1 from the manifest file (KWOK rolls it out); HTTPS Git credentials, no repository check.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeProvider, startFakeProvider } from '../fakes/git-providers.ts';
import { notReady } from '../support/report.ts';
import { runCli, runnerIdentity, upstreamFile, writeConfig } from './support/bootstrap.ts';
import { auditEvents, auditMark, kubectl, kubectlJson, uniqueName, writes } from './support/target.ts';

const id = uniqueName('wh').slice(3);
const runNs = `wh-${id}`;
const envNs = `wh-staging-${id}`;
const seldonNs = `wh-seldon-${id}`;
const argoNs = 'argocd';
const ARGOCD_URL = `https://deploy-${id}.example.com/argocd/api/webhook`;
const SELDON_URL = `https://deploy-${id}.example.com/api/git-webhook`;

let github: FakeProvider;
let runner: { kubeconfig: string; username: string };

function config(over: { token?: string; argocdUrl?: string; provider?: FakeProvider } = {}) {
  const p = over.provider ?? github;
  return {
    argocd: {
      namespace: argoNs,
      version: 'v3.5.1',
      install: { source: 'file', file: upstreamFile('argocd/v3.5.1') },
      rolloutTimeout: '3m',
    },
    git: {
      repoUrl: `https://git.example.com/${github.repository}.git`,
      credentials: { secretRef: { name: 'gitops-https-creds' } },
      verify: false,
    },
    environments: {
      namespaces: [{ name: envNs, restricted: false }],
      logging: { enabled: false },
      waitForSync: false,
    },
    seldonDeploy: { namespace: seldonNs },
    webhooks: {
      enabled: true,
      provider: p.kind,
      apiUrl: p.apiUrl,
      repository: p.repository,
      token: { secretRef: { name: over.token ?? `${p.kind}-hooks-token` } },
      argocdUrl: over.argocdUrl ?? ARGOCD_URL,
      seldonDeployUrl: SELDON_URL,
    },
  };
}

async function cli(command: 'apply' | 'plan', file: string) {
  return runCli([command, '--config', file, '--output', 'json'], {
    kubeconfig: runner.kubeconfig,
    env: { POD_NAMESPACE: runNs },
  });
}

async function secretData(ns: string, name: string): Promise<Record<string, string>> {
  const s = await kubectlJson<{ data?: Record<string, string> }>(['get', 'secret', name, '-n', ns]);
  return Object.fromEntries(
    Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
  );
}

async function resourceVersion(ns: string, name: string): Promise<string> {
  return kubectl(['get', 'secret', name, '-n', ns, '-o', 'jsonpath={.metadata.resourceVersion}']);
}

async function tokenSecret(name: string, token: string) {
  const yaml = await kubectl([
    'create',
    'secret',
    'generic',
    name,
    '-n',
    runNs,
    `--from-literal=token=${token}`,
    '--dry-run=client',
    '-o',
    'yaml',
  ]);
  await kubectl(['apply', '-f', '-'], { input: yaml });
}

beforeAll(async () => {
  github = await startFakeProvider('github');
  github.addHook('https://ci.example.com/hook'); // someone else's
  await kubectl(['create', 'namespace', runNs]);
  await kubectl(['create', 'namespace', seldonNs]);
  runner = await runnerIdentity(runNs, 'bootstrap', 'cluster-admin');
  const creds = await kubectl([
    'create',
    'secret',
    'generic',
    'gitops-https-creds',
    '-n',
    runNs,
    '--from-literal=username=ci',
    '--from-literal=password=git-token-not-for-hooks',
    '--dry-run=client',
    '-o',
    'yaml',
  ]);
  await kubectl(['apply', '-f', '-'], { input: creds });
  await tokenSecret('github-hooks-token', github.token);
  await tokenSecret('github-read-token', github.readOnlyToken);
}, 300_000);

afterAll(async () => {
  await github?.close();
});

describe('webhooks against the real API server', () => {
  let file: string;

  it('plan: lists both hooks to create; no write to the provider, none to the cluster', async () => {
    file = writeConfig(`webhooks-${id}`, config());
    const mark = auditMark();
    const r = await cli('plan', file);
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    const plan = JSON.parse(r.stdout) as {
      changes: { ref: { kind: string; name: string }; action: string }[];
    };
    expect(plan.changes.filter((c) => c.ref.kind === 'Webhook').map((c) => [c.ref.name, c.action])).toEqual([
      ['argocd', 'created'],
      ['seldon-deploy', 'created'],
    ]);
    expect(github.writes()).toEqual([]);
    expect(writes(auditEvents({ user: runner.username, since: mark }))).toEqual([]);
  });

  it('apply: one hook per URL, the secret in the bootstrap Secret, the hook and argocd-secret', async () => {
    const r = await cli('apply', file);
    expect(notReady(r.report), r.stderr.slice(-3000)).toEqual([]);
    expect(r.code).toBe(0);
    expect(github.hooksFor(ARGOCD_URL)).toHaveLength(1);
    expect(github.hooksFor(SELDON_URL)).toHaveLength(1);
    expect(github.hooks).toHaveLength(3);
    const ours = await secretData(runNs, 'sd-gitops-bootstrap-webhook');
    expect(ours.secret).toMatch(/^[0-9a-f]{64}$/);
    expect(github.hooksFor(ARGOCD_URL)[0]!.secret).toBe(ours.secret);
    const argo = await secretData(argoNs, 'argocd-secret');
    expect(argo['webhook.github.secret']).toBe(ours.secret);
    expect(argo['admin.password']).toMatch(/^\$2[aby]\$10\$/);
    for (const text of [r.stdout, r.stderr]) {
      expect(text).not.toContain(github.token);
      expect(text).not.toContain(ours.secret!);
    }
  });

  it('a second apply changes nothing: no provider write, argocd-secret and our Secret keep their resourceVersion', async () => {
    const writesBefore = github.writes().length;
    const before = [
      await resourceVersion(argoNs, 'argocd-secret'),
      await resourceVersion(runNs, 'sd-gitops-bootstrap-webhook'),
    ];
    const r = await cli('apply', file);
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    expect(github.writes()).toHaveLength(writesBefore);
    expect(github.hooks).toHaveLength(3);
    expect([
      await resourceVersion(argoNs, 'argocd-secret'),
      await resourceVersion(runNs, 'sd-gitops-bootstrap-webhook'),
    ]).toEqual(before);
    expect(r.report!.changes).toMatchObject({ created: 0, updated: 0 });
  });

  it('a changed Argo CD URL updates its hook (PATCH), adds none', async () => {
    const hookId = github.hooksFor(ARGOCD_URL)[0]!.id;
    const moved = `https://deploy2-${id}.example.com/argocd/api/webhook`;
    const r = await cli('apply', writeConfig(`webhooks-moved-${id}`, config({ argocdUrl: moved })));
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    expect(github.hooks).toHaveLength(3);
    expect(github.hooksFor(moved).map((h) => h.id)).toEqual([hookId]);
    expect(github.writes().at(-1)).toMatchObject({ method: 'PATCH' });
  });

  it('a token without the hook scope: exit 1, the sentence in the report, nothing written to the provider', async () => {
    const writesBefore = github.writes().length;
    const r = await cli('apply', writeConfig(`webhooks-read-${id}`, config({ token: 'github-read-token' })));
    expect(r.code).toBe(1);
    expect(r.report!.ready).toBe(false);
    expect(r.report!.checks.find((c) => c.id === 'step.register-webhooks')!.message).toMatch(
      /the token in Secret .*\/github-read-token \(key token\) cannot manage the hooks of github repository acme\/gitops \(403\): it lacks the hook-admin scope/,
    );
    expect(github.writes()).toHaveLength(writesBefore);
    expect(`${r.stdout}${r.stderr}`).not.toContain(github.readOnlyToken);
  });

  it('a provider switch (github → gitlab → bitbucket, as an upgrade): argocd-secret keeps only the current key', {
    timeout: 300_000,
  }, async () => {
    const KEYS = {
      github: 'webhook.github.secret',
      gitlab: 'webhook.gitlab.secret',
      bitbucket: 'webhook.bitbucket.uuid',
    } as const;
    const webhookKeys = async () =>
      Object.keys(await secretData(argoNs, 'argocd-secret')).filter((k) => k.startsWith('webhook.'));
    const secret = (await secretData(runNs, 'sd-gitops-bootstrap-webhook')).secret;
    for (const kind of ['gitlab', 'bitbucket'] as const) {
      const p = await startFakeProvider(kind);
      try {
        await tokenSecret(`${kind}-hooks-token`, p.token);
        const r = await cli('apply', writeConfig(`webhooks-${kind}-${id}`, config({ provider: p })));
        expect(notReady(r.report), r.stderr.slice(-3000)).toEqual([]);
        expect(p.hooksFor(ARGOCD_URL)).toHaveLength(1);
        expect(await webhookKeys()).toEqual([KEYS[kind]]);
        const argo = await secretData(argoNs, 'argocd-secret');
        expect(argo[KEYS[kind]]).toBe(
          kind === 'bitbucket' ? p.hooksFor(ARGOCD_URL)[0]!.id.replace(/[{}]/g, '') : secret,
        );
      } finally {
        await p.close();
      }
    }
  });
});

/**
 * The webhook step, through the CLI (`run`) on the in-memory cluster, against the provider stand-ins of
 * test/fakes/git-providers.ts (real HTTP on 127.0.0.1, each following its provider's documented contract).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { dump } from 'js-yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type FakeProvider,
  type FakeProviderKind,
  startFakeProvider,
} from '../../test/fakes/git-providers.ts';
import { FakeKube } from '../../test/fakes/kube.ts';
import { sampleRepositoryGit } from '../../test/fixtures/git-runner.ts';
import { SAMPLE_INPUT } from '../../test/fixtures/sample-config.ts';
import { fakeOpensshKey } from '../../test/fixtures/ssh-key.ts';
import type { Kube, KubeObject } from '../kube/types.ts';
import { run } from '../main.ts';
import { b64, fromB64 } from '../manifests/common.ts';
import type { ReadinessReport } from '../report/types.ts';

const git = sampleRepositoryGit;

const ARGOCD_URL = 'https://deploy.example.com/argocd/api/webhook';
const SELDON_URL = 'https://deploy.example.com/api/git-webhook';
const KEY = {
  github: 'webhook.github.secret',
  gitlab: 'webhook.gitlab.secret',
  bitbucket: 'webhook.bitbucket.uuid',
};
const PROVIDERS: FakeProviderKind[] = ['github', 'gitlab', 'bitbucket'];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'webhooks-test-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const servers: FakeProvider[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

function sink() {
  const chunks: string[] = [];
  return {
    stream: new Writable({
      write(chunk, _enc, cb) {
        chunks.push(String(chunk));
        cb();
      },
    }),
    text: () => chunks.join(''),
  };
}

async function provider(kind: FakeProviderKind): Promise<FakeProvider> {
  const p = await startFakeProvider(kind);
  servers.push(p);
  return p;
}

function cluster(p: FakeProvider, token = p.token): FakeKube {
  return new FakeKube().seed(
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'seldon-system' } },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'gitops-source-creds', namespace: 'seldon-system' },
      data: {
        'ssh-privatekey': b64(fakeOpensshKey('webhooks-test-key')),
        known_hosts: b64('git.example.com ssh-ed25519 AAAA\n'),
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'git-webhook-token', namespace: 'seldon-system' },
      data: { token: b64(token) },
    },
  );
}

async function configFor(p: FakeProvider, webhooks: Record<string, unknown> = {}): Promise<string> {
  const file = join(dir, `${p.kind}-${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(
    file,
    dump({
      ...SAMPLE_INPUT,
      git: { repoUrl: `ssh://git@git.example.com/${p.repository}.git` },
      webhooks: {
        enabled: true,
        provider: p.kind,
        apiUrl: p.apiUrl,
        argocdUrl: ARGOCD_URL,
        seldonDeployUrl: SELDON_URL,
        ...webhooks,
      },
    }),
  );
  return file;
}

async function cli(command: string, config: string, kube: FakeKube, output = 'json') {
  const stdout = sink();
  const stderr = sink();
  const code = await run([command, '--config', config, '-o', output], {
    env: { LOG_LEVEL: 'debug', LOG_FORMAT: 'json', POD_NAMESPACE: 'seldon-system' },
    stdout: stdout.stream,
    stderr: stderr.stream,
    connect: async () => kube as Kube,
    deps: { git, pollIntervalMs: 5 },
    terminationLog: join(dir, 'termination-log'),
  });
  const out = stdout.text();
  const report = command === 'plan' || output !== 'json' ? undefined : (JSON.parse(out) as ReadinessReport);
  return { code, stdout: out, stderr: stderr.text(), report };
}

const secretData = (kube: FakeKube, ns: string, name: string): Record<string, string> => {
  const s = kube.objects.get(`/Secret/${ns}/${name}`) as
    | (KubeObject & { data?: Record<string, string> })
    | undefined;
  return Object.fromEntries(Object.entries(s?.data ?? {}).map(([k, v]) => [k, fromB64(v)!]));
};
const rv = (kube: FakeKube, key: string) => kube.objects.get(key)?.metadata.resourceVersion;

describe.each(PROVIDERS)('%s', (kind) => {
  it('two applies leave exactly one hook per URL; the second writes nothing anywhere', async () => {
    const p = await provider(kind);
    // Someone else's hook, on another page than ours (page size 2): never touched.
    const foreign = p.addHook('https://ci.example.com/hook');
    const foreignBefore = structuredClone(foreign);
    p.addHook('https://chat.example.com/notify');
    const kube = cluster(p);
    const config = await configFor(p);

    const first = await cli('apply', config, kube);
    expect(first.code, first.stdout).toBe(0);
    expect(p.hooksFor(ARGOCD_URL)).toHaveLength(1);
    expect(p.hooksFor(SELDON_URL)).toHaveLength(1);
    expect(p.hooks).toHaveLength(4);
    const argocdSecret = secretData(kube, 'argocd', 'argocd-secret');
    const ours = secretData(kube, 'seldon-system', 'sd-gitops-bootstrap-webhook');
    const hook = p.hooksFor(ARGOCD_URL)[0]!;
    if (kind === 'bitbucket') {
      expect(argocdSecret[KEY[kind]]).toBe(hook.id.replace(/[{}]/g, ''));
    } else {
      expect(ours.secret).toMatch(/^[0-9a-f]{64}$/);
      expect(hook.secret).toBe(ours.secret);
      expect(argocdSecret[KEY[kind]]).toBe(ours.secret);
      // Seldon Deploy's hook carries no secret.
      expect(p.hooksFor(SELDON_URL)[0]!.secret).toBeUndefined();
    }
    expect(first.report!.checks.filter((c) => c.id.startsWith('webhooks.'))).toEqual([
      expect.objectContaining({ id: 'webhooks.argocd', ready: true }),
      expect.objectContaining({ id: 'webhooks.seldon-deploy', ready: true }),
      expect.objectContaining({ id: 'webhooks.argocd-secret', ready: true }),
    ]);
    // Never the admin password.
    const admin = secretData(kube, 'seldon-system', 'argocd-admin-password').password!;
    expect(argocdSecret[KEY[kind]]).not.toBe(admin);

    const writes = p.writes().length;
    expect(writes).toBe(2);
    const keys = ['/Secret/argocd/argocd-secret', '/Secret/seldon-system/sd-gitops-bootstrap-webhook'];
    const before = keys.map((k) => rv(kube, k));
    const second = await cli('apply', config, kube);
    expect(second.code, second.stdout).toBe(0);
    expect(p.writes()).toHaveLength(writes);
    expect(p.hooks).toHaveLength(4);
    expect(keys.map((k) => rv(kube, k))).toEqual(before);
    expect(secretData(kube, 'argocd', 'argocd-secret')[KEY[kind]]).toBe(argocdSecret[KEY[kind]]);
    expect(p.hooks.find((h) => h.id === foreign.id)).toEqual(foreignBefore);
    expect(p.writes().some((w) => w.path.endsWith(encodeURIComponent(foreign.id)))).toBe(false);
    // The list crossed pages (2 per page): the hooks on the second page were found.
    expect(p.requests.filter((r) => r.method === 'GET' && /page=2/.test(r.path)).length).toBeGreaterThan(0);
    // The token never appears in the output.
    for (const r of [first, second]) expect(`${r.stdout}${r.stderr}`).not.toContain(p.token);
    // It was sent in the provider's auth header.
    expect(p.requests.every((r) => r.auth?.includes(p.token))).toBe(true);
  });

  it('a changed URL updates the hook it registered instead of adding one', async () => {
    const p = await provider(kind);
    const kube = cluster(p);
    expect((await cli('apply', await configFor(p), kube)).code).toBe(0);
    const id = p.hooksFor(ARGOCD_URL)[0]!.id;
    const moved = 'https://deploy2.example.com/argocd/api/webhook';
    const r = await cli('apply', await configFor(p, { argocdUrl: moved }), kube);
    expect(r.code, r.stdout).toBe(0);
    expect(p.hooks).toHaveLength(2);
    expect(p.hooksFor(ARGOCD_URL)).toHaveLength(0);
    expect(p.hooksFor(moved).map((h) => h.id)).toEqual([id]);
    expect(p.writes().at(-1)!.method).toBe(kind === 'github' ? 'PATCH' : 'PUT');
  });

  it('adopts the hook a hand-run curl left with our URL, and updates its settings', async () => {
    const p = await provider(kind);
    const old = p.addHook(ARGOCD_URL, kind === 'gitlab' ? { push_events: false } : { active: false });
    const kube = cluster(p);
    const r = await cli('apply', await configFor(p), kube);
    expect(r.code, r.stdout).toBe(0);
    expect(p.hooksFor(ARGOCD_URL).map((h) => h.id)).toEqual([old.id]);
    expect(p.hooksFor(ARGOCD_URL)[0]!.fields[kind === 'gitlab' ? 'push_events' : 'active']).toBe(true);
  });

  it('plan lists what it would create and calls no write endpoint', async () => {
    const p = await provider(kind);
    const kube = cluster(p);
    const r = await cli('plan', await configFor(p), kube);
    expect(r.code, r.stderr).toBe(0);
    expect(p.writes()).toEqual([]);
    expect(p.requests.length).toBeGreaterThan(0);
    expect(kube.stats.writes).toBe(0);
    const plan = JSON.parse(r.stdout) as {
      changes: { ref: { kind: string; name: string }; action: string }[];
    };
    const hooks = plan.changes.filter((c) => c.ref.kind === 'Webhook');
    expect(hooks.map((c) => [c.ref.name, c.action])).toEqual([
      ['argocd', 'created'],
      ['seldon-deploy', 'created'],
    ]);
  });

  it.each([
    {
      name: '401: the token is invalid or expired',
      status: 401,
      message:
        /refused the token in Secret seldon-system\/git-webhook-token \(key token\) \(401 Unauthorized\): it is invalid or expired/,
    },
    {
      name: '403: the token lacks the hook-admin scope',
      status: 403,
      message: /cannot manage the hooks of .* \(403\): it lacks the hook-admin scope for this repository/,
    },
    {
      name: '404: no such repository (or not visible to the token)',
      status: 404,
      message:
        /\(404\): it lacks the hook-admin scope for this repository .* or the repository \(webhooks\.repository\) does not exist/,
    },
    {
      name: '422: the URL is rejected',
      status: 422,
      message: /rejected the webhook URL .*argocd\/api\/webhook|rejected the webhook URL/,
    },
  ])('$name, and the report is not ready', async ({ status, message }) => {
    const p = await provider(kind);
    let kube = cluster(p);
    let config = await configFor(p);
    if (status === 401) kube = cluster(p, 'not-a-valid-token-xyz');
    if (status === 403) kube = cluster(p, p.readOnlyToken);
    if (status === 404) config = await configFor(p, { repository: 'acme/elsewhere' });
    if (status === 422) {
      // Each provider's own answer to a URL it refuses (GitHub 422, GitLab 422, Bitbucket 400).
      config = await configFor(p, {
        argocdUrl: 'ftp://deploy.example.com/argocd/api/webhook'.replace('ftp', 'https'),
      });
      p.failNext({
        method: 'POST',
        status: kind === 'bitbucket' ? 400 : 422,
        body:
          kind === 'github'
            ? {
                message: 'Validation Failed',
                errors: [
                  {
                    resource: 'Hook',
                    code: 'custom',
                    message: 'url is not supported because it is not reachable over the public Internet',
                  },
                ],
              }
            : kind === 'gitlab'
              ? { error: 'Invalid url given' }
              : { type: 'error', error: { message: 'Bad request', fields: { url: ['Enter a valid URL.'] } } },
      });
    }
    const r = await cli('apply', config, kube);
    expect(r.code).toBe(1);
    expect(r.report!.ready).toBe(false);
    const failed = r.report!.checks.find((c) => c.id === 'step.register-webhooks')!;
    expect(failed).toMatchObject({ ready: false, required: true });
    expect(failed.message).toMatch(message);
    expect(r.report!.checks.find((c) => c.id === 'webhooks.argocd')).toMatchObject({
      ready: false,
      required: true,
    });
    expect(`${r.stdout}${r.stderr}`).not.toContain(p.token);
    expect(`${r.stdout}${r.stderr}`).not.toContain(p.readOnlyToken);
    expect(`${r.stdout}${r.stderr}`).not.toContain('not-a-valid-token-xyz');
    if (status !== 422) expect(p.writes()).toEqual([]);
  });

  it('a rate limit with a near reset is waited out; a far one is a sentence with the reset time', async () => {
    const p = await provider(kind);
    const kube = cluster(p);
    const config = await configFor(p);
    const limited: { status: number; headers: Record<string, string> } =
      kind === 'github'
        ? {
            status: 403,
            headers: {
              'x-ratelimit-remaining': '0',
              'x-ratelimit-reset': String(Math.ceil(Date.now() / 1000) + 1),
            },
          }
        : kind === 'gitlab'
          ? {
              status: 429,
              headers: { 'retry-after': '1', 'ratelimit-reset': String(Math.ceil(Date.now() / 1000) + 1) },
            }
          : { status: 429, headers: { 'retry-after': '1' } };
    p.failNext({ ...limited, method: 'GET', body: { message: 'API rate limit exceeded' } });
    const ok = await cli('apply', config, kube);
    expect(ok.code, ok.stdout).toBe(0);
    expect(p.hooksFor(ARGOCD_URL)).toHaveLength(1);

    const reset = Math.ceil(Date.now() / 1000) + 3600;
    p.failNext({
      method: 'GET',
      times: 10,
      status: kind === 'github' ? 403 : 429,
      headers:
        kind === 'github'
          ? { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset) }
          : { 'retry-after': '3600' },
      body: { message: 'API rate limit exceeded' },
    });
    const r = await cli('apply', config, kube);
    expect(r.code).toBe(1);
    const failed = r.report!.checks.find((c) => c.id === 'step.register-webhooks')!;
    expect(failed.message).toMatch(
      new RegExp(
        `${kind} rate limit reached \\((403|429)\\); it resets at \\d{4}-\\d\\d-\\d\\dT.*: run again after that`,
      ),
    );
    // Said once: the report did not ask again.
    expect(r.report!.checks.find((c) => c.id === 'webhooks.argocd')!.message).toBe(
      failed.message.replace(/^register-webhooks failed: /, ''),
    );
  });

  it('insecureSkipTlsVerify: the hooks skip verification, and the report warns (not required)', async () => {
    const p = await provider(kind);
    const kube = cluster(p);
    const r = await cli('apply', await configFor(p, { insecureSkipTlsVerify: true }), kube);
    expect(r.code, r.stdout).toBe(0);
    expect(r.report!.checks.find((c) => c.id === 'webhooks.tls')).toMatchObject({
      ready: false,
      required: false,
    });
    const fields = p.hooksFor(ARGOCD_URL)[0]!.fields;
    if (kind === 'github') expect((fields.config as Record<string, unknown>).insecure_ssl).toBe('1');
    if (kind === 'gitlab') expect(fields.enable_ssl_verification).toBe(false);
    if (kind === 'bitbucket') expect(fields.skip_cert_verification).toBe(true);
  });
});

describe('register-webhooks', () => {
  it('plan in text: one line per hook, with its URL; after an apply, unchanged', async () => {
    const p = await provider('github');
    const kube = cluster(p);
    const config = await configFor(p);
    const before = (await cli('plan', config, kube, 'text')).stdout.split('\n');
    expect(before).toContain(`+ create    Webhook.github acme/gitops/argocd — ${ARGOCD_URL}`);
    expect(before).toContain(`+ create    Webhook.github acme/gitops/seldon-deploy — ${SELDON_URL}`);
    expect(before).toContain('+ create    Secret seldon-system/sd-gitops-bootstrap-webhook');
    await cli('apply', config, kube);
    const after = (await cli('plan', config, kube, 'text')).stdout.split('\n');
    expect(after).toContain(`= unchanged Webhook.github acme/gitops/argocd — ${ARGOCD_URL}`);
    expect(p.writes()).toHaveLength(2);
  });

  it('a lost webhook Secret: a new secret, given to the hook and to argocd-secret, no new hook', async () => {
    const p = await provider('github');
    const kube = cluster(p);
    const config = await configFor(p);
    expect((await cli('apply', config, kube)).code).toBe(0);
    const first = secretData(kube, 'seldon-system', 'sd-gitops-bootstrap-webhook').secret;
    await kube.delete({
      apiVersion: 'v1',
      kind: 'Secret',
      namespace: 'seldon-system',
      name: 'sd-gitops-bootstrap-webhook',
    });
    const r = await cli('apply', config, kube);
    expect(r.code, r.stdout).toBe(0);
    const second = secretData(kube, 'seldon-system', 'sd-gitops-bootstrap-webhook').secret;
    expect(second).not.toBe(first);
    expect(p.hooks).toHaveLength(2);
    expect(p.hooksFor(ARGOCD_URL)[0]!.secret).toBe(second);
    expect(secretData(kube, 'argocd', 'argocd-secret')['webhook.github.secret']).toBe(second);
  });

  it('a switched provider (an upgrade): its hook and only its key; the secret is kept for a switch back', async () => {
    const [gh, gl, bb] = [await provider('github'), await provider('gitlab'), await provider('bitbucket')];
    const kube = cluster(gh);
    const ours = () => secretData(kube, 'seldon-system', 'sd-gitops-bootstrap-webhook');
    const argo = () => secretData(kube, 'argocd', 'argocd-secret');
    const webhookKeys = () => Object.keys(argo()).filter((k) => k.startsWith('webhook.'));
    const switchTo = async (next: FakeProvider) => {
      // The token Secret holds the token of the provider configured now (each stand-in checks its own).
      await kube.apply({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'git-webhook-token', namespace: 'seldon-system' },
        data: { token: b64(next.token) },
      });
      const r = await cli('apply', await configFor(next), kube);
      expect(r.code, JSON.stringify(r.report!.checks.filter((c) => !c.ready))).toBe(0);
      expect(next.hooksFor(ARGOCD_URL)).toHaveLength(1);
      expect(JSON.parse(ours()['hooks.json']!)).toMatchObject({ provider: next.kind, apiUrl: next.apiUrl });
      expect(webhookKeys()).toEqual([KEY[next.kind]]);
    };
    expect((await cli('apply', await configFor(gh), kube)).code).toBe(0);
    const secret = ours().secret!;
    expect(secret).toMatch(/^[0-9a-f]{64}$/);

    await switchTo(gl);
    expect(gl.hooksFor(ARGOCD_URL)[0]!.secret).toBe(secret);
    expect(argo()['webhook.gitlab.secret']).toBe(secret);
    await switchTo(bb);
    expect(bb.hooksFor(ARGOCD_URL)[0]!.secret).toBeUndefined();
    expect(argo()['webhook.bitbucket.uuid']).toBe(bb.hooksFor(ARGOCD_URL)[0]!.id.replace(/[{}]/g, ''));
    // Kept while the provider was Bitbucket: back on GitHub, its hook still carries the right secret.
    expect(ours().secret).toBe(secret);
    await switchTo(gh);
    expect(argo()['webhook.github.secret']).toBe(secret);
    // The hooks on the other providers are left where they are (this run has no token for them), and
    // GitHub's, created by the first run, needed no write.
    expect(gh.writes()).toHaveLength(2);
    expect(gl.hooksFor(ARGOCD_URL)).toHaveLength(1);
  });

  it('a missing token Secret stops the run in preflight, before any write', async () => {
    const p = await provider('gitlab');
    const kube = cluster(p);
    await kube.delete({
      apiVersion: 'v1',
      kind: 'Secret',
      namespace: 'seldon-system',
      name: 'git-webhook-token',
    });
    const writes = kube.stats.writes;
    const r = await cli('apply', await configFor(p), kube);
    expect(r.code).toBe(1);
    expect(r.report!.checks[0]!.message).toMatch(
      /Secret seldon-system\/git-webhook-token \(webhooks\.token\.secretRef\) does not exist: create it with the gitlab API token under "token"/,
    );
    expect(p.requests).toEqual([]);
    // Only the report ConfigMap (and the Lease) were written.
    expect(kube.stats.writes - writes).toBeLessThanOrEqual(4);
    expect(kube.objects.has('/Secret/argocd/argocd-secret')).toBe(false);
  });

  it('status reads the hooks and writes nothing', async () => {
    const p = await provider('bitbucket');
    const kube = cluster(p);
    const config = await configFor(p);
    const applied = await cli('apply', config, kube);
    expect(applied.code, JSON.stringify(applied.report!.checks.filter((c) => !c.ready))).toBe(0);
    const writes = [p.writes().length, kube.stats.writes];
    const r = await cli('status', config, kube);
    expect(r.code).toBe(0);
    expect(r.report!.ready).toBe(true);
    expect([p.writes().length, kube.stats.writes]).toEqual(writes);
  });
});

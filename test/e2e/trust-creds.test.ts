/**
 * No credential where it can be read (issue 21), on the real API server and the rendered chart:
 * - a credential in a URL (git.repoUrl, a webhook URL, the proxy variables) and a repository URL git would
 *   misread stop the program with exit 2 before its first request — the audit log shows none — and the
 *   message names the key and never repeats the credential;
 * - the chart refuses the same at `helm template`/`install` (values schema; the proxy values in a template);
 * - every pod that runs git with the credentials (the hook Job, the scheduled CronJob, the uninstall Job and
 *   the `helm test` pod) has SD_BOOTSTRAP_SECRET_DIR on a memory-backed emptyDir, the same in each.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runnerIdentity, writeConfig } from './support/bootstrap.ts';
import { CHART, ciScenarios, helm, type K8sObject, render, valuesFile } from './support/helm.ts';
import { auditEvents, auditMark, kubectl, uniqueName } from './support/target.ts';

const SECRET = 'glpat-e2eS3cretT0ken';
const ns = uniqueName('trust-creds');
let identity: { kubeconfig: string; username: string };

beforeAll(async () => {
  await kubectl(['create', 'namespace', ns]);
  identity = await runnerIdentity(ns, 'runner', 'cluster-admin');
});

afterAll(async () => {
  await kubectl(['delete', 'clusterrolebinding', `${ns}-runner`, '--ignore-not-found']).catch(() => {});
  await kubectl(['delete', 'namespace', ns, '--wait=false']).catch(() => {});
});

const config = (git: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  git,
  environments: { namespaces: ['staging'] },
  ...extra,
});

describe('the program refuses credentials in URLs and misread repository URLs before its first request', () => {
  it.each([
    [
      'git.repoUrl',
      'user:token',
      config({ repoUrl: `https://bot:${SECRET}@git.example.com/acme/gitops.git` }),
      {},
    ],
    [
      'git.repoUrl',
      'a token as user name',
      config({ repoUrl: `https://${SECRET}@github.com/acme/gitops.git` }),
      {},
    ],
    [
      'git.repoUrl',
      'an option for ssh',
      config({ repoUrl: 'ssh://-oProxyCommand=touch%20x/acme/gitops.git' }),
      {},
    ],
    ['git.repoUrl', 'plain http', config({ repoUrl: 'http://git.example.com/acme/gitops.git' }), {}],
    [
      'webhooks.apiUrl',
      'a token in the query',
      config(
        { repoUrl: 'ssh://git@git.example.com/acme/gitops.git' },
        { webhooks: { apiUrl: `https://gitlab.example.com/api/v4?private_token=${SECRET}` } },
      ),
      {},
    ],
    [
      'HTTPS_PROXY',
      'a proxy password',
      config({ repoUrl: 'ssh://git@git.example.com/acme/gitops.git' }),
      { HTTPS_PROXY: `http://proxy:${SECRET}@proxy.corp.example.com:3128` },
    ],
  ])('%s: %s → exit 2 naming the key, no request to the API server', async (key, _what, cfg, env) => {
    const file = writeConfig(`trust-creds-${uniqueName('c')}`, cfg);
    const mark = auditMark();
    const res = await runCli(['apply', '--config', file, '--output', 'json'], {
      kubeconfig: identity.kubeconfig,
      env: { POD_NAMESPACE: ns, ...env },
    });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`${key}: `);
    expect(`${res.stdout}${res.stderr}`).not.toContain(SECRET);
    // Refused before the first request: not a write, not even a read, by this identity.
    expect(auditEvents({ user: identity.username, since: mark })).toEqual([]);
  });
});

describe('the chart', () => {
  // The tested default scenario (a valid config), with each case's values over it.
  const base = ciScenarios().find((s) => s.name === 'default')!.file;
  it('helm template refuses a credential in config.git.repoUrl (values schema), naming the key', async () => {
    const values = valuesFile('repo-creds', {
      config: { git: { repoUrl: `https://bot:${SECRET}@git.example.com/acme/gitops.git` } },
    });
    const r = await helm(['template', 'sdb', CHART, '-n', 'seldon-system', '-f', base, '-f', values]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/\/config\/git\/repoUrl/);
  });

  it.each(['httpsProxy', 'httpProxy'])(
    'helm template refuses a credential in proxy.%s, saying where it would be read, without repeating it',
    async (key) => {
      const values = valuesFile(`proxy-${key}`, {
        config: { git: { repoUrl: 'https://git.example.com/acme/gitops.git' } },
        proxy: { [key]: `http://proxyuser:${SECRET}@proxy.corp.example.com:3128` },
      });
      const r = await helm(['template', 'sdb', CHART, '-n', 'seldon-system', '-f', base, '-f', values]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`proxy.${key} holds a credential`);
      expect(r.stderr).toContain('admit the Job by its network address');
      expect(r.stderr).not.toContain(SECRET);
    },
  );

  it('every pod that runs git keeps key material on a memory-backed emptyDir at SD_BOOTSTRAP_SECRET_DIR', async () => {
    const values = valuesFile('all-pods', {
      config: { git: { repoUrl: 'ssh://git@git.example.com/acme/gitops.git' } },
      schedule: { enabled: true },
      uninstall: { enabled: true },
    });
    const objects = await render('sdb', 'seldon-system', [base, values], { tests: true });
    type Pod = {
      containers: {
        name: string;
        env: { name: string; value?: string }[];
        volumeMounts: { name: string; mountPath: string }[];
      }[];
      volumes: { name: string; emptyDir?: { medium?: string; sizeLimit?: string } }[];
    };
    type Spec = { template?: { spec?: Pod }; jobTemplate?: { spec?: { template?: { spec?: Pod } } } };
    const podOf = (o: K8sObject): Pod | undefined => {
      const spec = o.spec as Spec | undefined;
      if (o.kind === 'Pod') return o.spec as Pod;
      if (o.kind === 'Job') return spec?.template?.spec;
      if (o.kind === 'CronJob') return spec?.jobTemplate?.spec?.template?.spec;
      return undefined;
    };
    const pods = objects.flatMap((o) => {
      const pod = podOf(o);
      return pod ? [{ what: `${o.kind}/${o.metadata.name}`, pod }] : [];
    });
    expect(pods.map((p) => p.what).sort()).toEqual(
      expect.arrayContaining([
        'CronJob/sdb-sd-gitops-bootstrap-scheduled',
        'Job/sdb-sd-gitops-bootstrap',
        expect.stringMatching(/^Job\/.*uninstall/),
        expect.stringMatching(/^Pod\/.*test/),
      ]),
    );
    const shapes = pods.map(({ what, pod }) => {
      const c = pod.containers[0]!;
      const dir = c.env.find((e) => e.name === 'SD_BOOTSTRAP_SECRET_DIR')?.value;
      const mount = c.volumeMounts.find((m) => m.mountPath === dir);
      const volume = pod.volumes.find((v) => v.name === mount?.name);
      return { what, dir, volume: volume?.emptyDir };
    });
    for (const s of shapes) {
      expect(s.dir, s.what).toBe('/run/sd-gitops-bootstrap');
      expect(s.volume, s.what).toEqual({ medium: 'Memory', sizeLimit: '1Mi' });
    }
    // The three run pods alike: same env names, mounts and volumes.
    const runPods = pods.filter((p) => p.what.startsWith('Job/') || p.what.startsWith('CronJob/'));
    const outline = (pod: Pod) => ({
      env: pod.containers[0]!.env.map((e) => e.name),
      mounts: pod.containers[0]!.volumeMounts,
      volumes: pod.volumes,
    });
    for (const p of runPods) expect(outline(p.pod), p.what).toEqual(outline(runPods[0]!.pod));
  });
});

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { dump } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeKube } from '../test/fakes/kube.ts';
import { sampleRepositoryGit } from '../test/fixtures/git-runner.ts';
import { SAMPLE_INPUT } from '../test/fixtures/sample-config.ts';
import { fakeOpensshKey } from '../test/fixtures/ssh-key.ts';
import { parseCli } from './cli/args.ts';
import { ApiError } from './errors.ts';
import type { Kube, KubeObject } from './kube/types.ts';
import { run } from './main.ts';
import { b64 } from './manifests/common.ts';
import type { ReadinessReport } from './report/types.ts';

function sink() {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  return { stream, text: () => chunks.join('') };
}

/** The run's Lease as another run holds it, renewed just now for `seconds`. */
function heldLease(holderIdentity: string, seconds: number): KubeObject {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: 'sd-gitops-bootstrap', namespace: 'seldon-system' },
    spec: {
      holderIdentity,
      leaseDurationSeconds: seconds,
      renewTime: new Date().toISOString().replace('Z', '000Z'),
    },
  };
}

const git = sampleRepositoryGit;

let dir: string;
let configFile: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'main-test-'));
  configFile = join(dir, 'config.yaml');
  await writeFile(configFile, dump(SAMPLE_INPUT));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const KEY = fakeOpensshKey('main-test-key');
/**
 * Requests of `status` on the converged sample cluster (the fake counts every get, list and apply); 30
 * until the known hosts were read once for their check instead of twice.
 */
const STATUS_REQUESTS = 29;

function cluster(): FakeKube {
  return new FakeKube().seed(
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'seldon-system' } },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'gitops-source-creds', namespace: 'seldon-system' },
      data: { 'ssh-privatekey': b64(KEY), known_hosts: b64('git.example.com ssh-ed25519 AAAA\n') },
    },
  );
}

async function cli(argv: string[], kube: FakeKube = cluster(), extraEnv: Record<string, string> = {}) {
  const stdout = sink();
  const stderr = sink();
  let connected = false;
  const terminationLog = join(dir, 'termination-log');
  await writeFile(terminationLog, '');
  const code = await run(argv, {
    env: { LOG_LEVEL: 'info', LOG_FORMAT: 'json', POD_NAMESPACE: 'seldon-system', ...extraEnv },
    stdout: stdout.stream,
    stderr: stderr.stream,
    connect: async () => {
      connected = true;
      return kube as Kube;
    },
    deps: { git, pollIntervalMs: 5 },
    terminationLog,
  });
  return { code, stdout: stdout.text(), stderr: stderr.text(), connected, kube, terminationLog };
}

describe('parseCli', () => {
  it('reads the command and options', () => {
    expect(parseCli(['plan', '--config', 'c.yaml', '--context', 'kind', '-o', 'json'])).toEqual({
      command: 'plan',
      config: 'c.yaml',
      kubeconfig: undefined,
      context: 'kind',
      output: 'json',
      help: false,
    });
  });

  it('--scope drift is for apply only, and full or drift only (exit 2 otherwise)', () => {
    expect(parseCli(['apply', '--scope', 'drift']).scope).toBe('drift');
    expect(parseCli(['apply', '--scope', 'full']).scope).toBeUndefined();
    expect(() => parseCli(['status', '--scope', 'drift'])).toThrow('--scope is only for apply');
    expect(() => parseCli(['apply', '--scope', 'all'])).toThrow('--scope all: use full or drift');
  });
});

describe('run: usage and configuration errors exit 2 before any API call', () => {
  it.each([
    { name: 'no command', argv: [], message: /missing command/ },
    { name: 'unknown command', argv: ['deploy'], message: /unknown command "deploy"/ },
    { name: 'unknown flag', argv: ['apply', '--frobnicate'], message: /frobnicate/ },
    { name: 'bad output', argv: ['status', '--output', 'yaml'], message: /--output yaml: use text or json/ },
    {
      name: 'missing config file',
      argv: ['apply', '--config', '/nonexistent.yaml'],
      message: /does not exist/,
    },
  ])('$name', async ({ argv, message }) => {
    const r = await cli(argv);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expect(r.connected).toBe(false);
  });

  it('a bad environment variable', async () => {
    const r = await cli(['status', '--config', configFile], cluster(), { LOG_FORMAT: 'xml' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/LOG_FORMAT/);
  });

  it('--help prints usage on stdout and exits 0', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: sd-gitops-bootstrap <apply\|plan\|status\|uninstall\|images>/);
  });

  it('uninstall needs --yes, and --yes only goes with uninstall (exit 2, nothing asked of the cluster)', async () => {
    const r = await cli(['uninstall']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^uninstall deletes what the inventory lists .*: add --yes to go ahead/);
    expect((await cli(['apply', '--yes'])).stderr).toMatch(/--yes is only for uninstall/);
  });
});

describe('run: the first errors a newcomer meets, one sentence each', () => {
  it('a misspelt flag gets a did-you-mean', async () => {
    const r = await cli(['status', '--kubeconfg', 'x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^Unknown option '--kubeconfg' \(did you mean --kubeconfig\?\)\n/);
    expect((await cli(['status', '--outptu', 'json'])).stderr).toMatch(/did you mean --output\?/);
    expect((await cli(['status', '--zzzzzz'])).stderr).not.toMatch(/did you mean/);
  });

  it('a missing config file says "not found" and the path, in one line', async () => {
    const path = join(dir, 'absent.yaml');
    const r = await cli(['status', '--config', path]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `config file ${path} does not exist (not found; pass --config FILE or set SD_BOOTSTRAP_CONFIG)\n`,
    );
    expect(r.connected).toBe(false);
  });

  it('no namespace outside a pod: refused (exit 2), naming POD_NAMESPACE and --namespace; no request', async () => {
    const kube = Object.assign(cluster(), { defaultNamespaceSource: 'fallback' as const });
    const r = await cli(['apply', '--config', configFile], kube, { POD_NAMESPACE: '' });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^no namespace to run in: .*--namespace NAME.*POD_NAMESPACE/);
    expect(kube.stats.requests).toBe(0);
  });

  it('--namespace names the namespace the bootstrap runs in', async () => {
    const kube = Object.assign(cluster(), { defaultNamespaceSource: 'fallback' as const });
    const r = await cli(['apply', '--config', configFile, '--namespace', 'seldon-system'], kube, {
      POD_NAMESPACE: '',
    });
    expect(r.code).toBe(0);
    expect(kube.objects.has('/ConfigMap/seldon-system/sd-gitops-bootstrap-report')).toBe(true);
    expect((await cli(['status', '--config', configFile, '-n', 'Bad_NS'])).code).toBe(2);
  });

  it.each([
    [
      'connection refused',
      undefined,
      'cannot reach the Kubernetes API at https://k: connection refused (ECONNREFUSED)',
    ],
    [
      'a TLS failure',
      undefined,
      'cannot reach the Kubernetes API at https://k: the TLS handshake failed (UNABLE_TO_VERIFY_LEAF_SIGNATURE): check certificate-authority and client certificate in the kubeconfig',
    ],
    ['401', 401, 'the Kubernetes API at https://k refused the credentials (401 Unauthorized)'],
  ])(
    'an API server out of reach (%s): the cause once, and status exits 1',
    async (_name, status, message) => {
      const kube = cluster();
      Object.assign(kube, {
        server: 'https://k',
        request: async () => {
          throw new ApiError(status ? 'Unauthorized' : message, {
            ...(status ? { status } : {}),
            method: 'GET',
            path: '/version',
          });
        },
      });
      const r = await cli(['status', '--config', configFile], kube);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr.split(message).length - 1).toBe(1);
    },
  );
});

describe('run against a cluster', () => {
  it('apply --output json: stdout is exactly the report; ConfigMap and termination log written', async () => {
    const r = await cli(['apply', '--config', configFile, '--output', 'json']);
    const report = JSON.parse(r.stdout) as ReadinessReport;
    expect(r.code).toBe(0);
    expect(report).toMatchObject({ kind: 'ReadinessReport', version: 1, ready: true });
    expect(report.argocd).toEqual({ namespace: 'argocd', version: 'v3.5.1', url: '/argocd/' });
    expect(report.changes.created).toBeGreaterThan(50);
    const cm = r.kube.objects.get('/ConfigMap/seldon-system/sd-gitops-bootstrap-report')!;
    expect(JSON.parse((cm.data as Record<string, string>)['report.json']!)).toEqual(report);
    expect(await readFile(r.terminationLog, 'utf8')).toMatch(/^ready: \d+\/\d+ checks$/);
    // Logs are JSON lines on stderr, with a progress line per step.
    const lines = r.stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { msg: string });
    expect(lines.some((l) => /^✔ install-argocd \(\d+\.\ds\): \d+ created/.test(l.msg))).toBe(true);
    // No secret value anywhere in the output.
    expect(`${r.stdout}${r.stderr}`).not.toContain(KEY.split('\n')[1]);
  });

  it('status on the converged cluster: the report, no write, exit 0', async () => {
    const kube = cluster();
    await cli(['apply', '--config', configFile], kube);
    const writes = kube.stats.writes;
    const r = await cli(['status', '--config', configFile], kube);
    expect(r.code).toBe(0);
    expect(kube.stats.writes).toBe(writes);
    expect(r.stdout).toMatch(/^✔ READY: /);
    expect(r.stdout).toMatch(/✔ env\.application\.staging\.sync +Synced, Healthy/);
  });

  it('status of an empty cluster: not ready, still exit 0 (status done)', async () => {
    const r = await cli(['status', '--config', configFile, '-o', 'json']);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as ReadinessReport).ready).toBe(false);
  });

  it('status --require-ready: exit 1 on an empty cluster, naming the not-ready checks; 0 once converged', async () => {
    const kube = cluster();
    const empty = await cli(['status', '--config', configFile, '--require-ready'], kube);
    expect(empty.code).toBe(1);
    expect(empty.stdout).toMatch(/^✗ NOT READY: /);
    expect(empty.stdout).toMatch(/^Not ready: .*argocd\.install/m);
    await cli(['apply', '--config', configFile], kube);
    const writes = kube.stats.writes;
    const ready = await cli(['status', '--config', configFile, '--require-ready'], kube);
    expect(ready.code).toBe(0);
    expect(kube.stats.writes).toBe(writes);
  });

  it('--require-ready is refused outside status', async () => {
    const r = await cli(['apply', '--config', configFile, '--require-ready']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--require-ready is for status');
  });

  it('plan: one line per object, no writes', async () => {
    const r = await cli(['plan', '--config', configFile]);
    expect(r.code).toBe(0);
    expect(r.kube.stats.writes).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toContain('+ create    Namespace argocd');
    expect(lines.at(-1)).toMatch(/^Plan: \d+ to create, 0 to update, 0 unchanged\.$/);
  });

  it('plan --output json: the change list', async () => {
    const r = await cli(['plan', '--config', configFile, '-o', 'json']);
    const plan = JSON.parse(r.stdout) as { kind: string; changes: { action: string }[] };
    expect(plan.kind).toBe('Plan');
    expect(plan.changes.length).toBeGreaterThan(0);
    expect(plan.changes.every((c) => c.action === 'created')).toBe(true);
  });

  it('apply that cannot converge: exit 1 and the failing checks in the termination log', async () => {
    const kube = new FakeKube().seed({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'seldon-system' },
    });
    const r = await cli(['apply', '--config', configFile], kube);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^✗ NOT READY/);
    expect(await readFile(r.terminationLog, 'utf8')).toMatch(/✗ step\.preflight: preflight failed: Secret/);
    // Preflight failed: nothing written, not even the report (it holds no Lease to write it under).
    expect(r.kube.objects.has('/ConfigMap/seldon-system/sd-gitops-bootstrap-report')).toBe(false);
    expect(r.stderr).toMatch(/report not written: preflight found bad input/);
  });

  it("another run holds the Lease past this run's deadline: exit 1 at once, nothing written, its report left alone", async () => {
    const kube = cluster().seed(heldLease('other-pod/1', 3600));
    const writes = kube.stats.writes;
    const r = await cli(['apply', '--config', configFile, '-o', 'json'], kube);
    expect(r.code).toBe(1);
    expect(kube.stats.writes).toBe(writes);
    const report = JSON.parse(r.stdout) as ReadinessReport;
    expect(report.checks[0]).toMatchObject({ id: 'step.preflight', ready: false });
    expect(report.checks[0]!.message).toMatch(/another sd-gitops-bootstrap run \(other-pod\/1\) holds lease/);
    expect(kube.objects.has('/ConfigMap/seldon-system/sd-gitops-bootstrap-report')).toBe(false);
  });

  it('another run takes the Lease while this one runs: exit 1, says who and when, its report left alone', async () => {
    const kube = cluster();
    const applyAll = kube.applyAll.bind(kube);
    let taken = false;
    kube.applyAll = async (objs, opts) => {
      const out = await applyAll(objs, opts);
      if (!taken && !opts?.dryRun) {
        // After the first batch (Argo CD's install), another run takes the Lease over.
        taken = true;
        const ref = {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          namespace: 'seldon-system',
          name: 'sd-gitops-bootstrap',
        };
        const live = kube.store.get(ref)!;
        kube.store.update({
          ...live,
          spec: {
            ...(live.spec as object),
            holderIdentity: 'thief-pod/7',
            acquireTime: '2026-03-01T10:07:00.000000Z',
          },
        });
      }
      return out;
    };
    const r = await cli(['apply', '--config', configFile, '-o', 'json'], kube);
    expect(taken).toBe(true);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'lost the Lease sd-gitops-bootstrap to thief-pod/7 at 2026-03-01T10:07:00.000000Z; stopped before writing the report ConfigMap seldon-system/sd-gitops-bootstrap-report; the other run finishes the work',
    );
    expect(kube.objects.has('/ConfigMap/seldon-system/sd-gitops-bootstrap-report')).toBe(false);
    // The Lease stays the other run's.
    expect(
      (
        kube.store.get({
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          namespace: 'seldon-system',
          name: 'sd-gitops-bootstrap',
        })?.spec as { holderIdentity?: string } | undefined
      )?.holderIdentity,
    ).toBe('thief-pod/7');
  });

  it('install.source file with a sha256 the file does not have: exit 2 naming the key, nothing written', async () => {
    const manifest = join(dir, 'install.yaml');
    await writeFile(manifest, 'apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: argocd-server\n');
    const config = join(dir, 'config-file-sha.yaml');
    const input = structuredClone(SAMPLE_INPUT) as { argocd?: Record<string, unknown> };
    input.argocd = { ...input.argocd, install: { source: 'file', file: manifest, sha256: 'c'.repeat(64) } };
    await writeFile(config, dump(input));
    const kube = cluster();
    const writes = kube.stats.writes;
    const r = await cli(['apply', '--config', config, '-o', 'json'], kube);
    expect(r.code, r.stderr.slice(-1500)).toBe(2);
    expect(r.stderr).toMatch(
      /argocd\.install\.sha256: the Argo CD manifest .*install\.yaml has sha256 [0-9a-f]{64}, not c{64}/,
    );
    expect(kube.stats.writes).toBe(writes);
  });

  it('another run holds a Lease that runs out in time: waits for it, says so, then takes it over', async () => {
    const kube = cluster().seed(heldLease('killed-pod/1', 1));
    const r = await cli(['apply', '--config', configFile, '-o', 'json'], kube);
    expect(r.code, r.stderr.slice(-1500)).toBe(0);
    expect(r.stderr).toMatch(
      /waiting for Lease seldon-system\/sd-gitops-bootstrap: killed-pod\/1 holds it until /,
    );
    const report = JSON.parse(r.stdout) as ReadinessReport;
    expect(report.checks.find((c) => c.id === 'preflight.lease')?.message).toMatch(
      /taken over from killed-pod\/1/,
    );
  });
});

describe('the images a run needs (issue 23)', () => {
  const V351 = [
    'ghcr.io/dexidp/dex:v2.45.0',
    'public.ecr.aws/docker/library/redis:8.2.3-alpine',
    'quay.io/argoproj/argocd:v3.5.1',
  ];
  const OWN = 'registry.example.com/sd-gitops-bootstrap:0.1.0';

  it('images: only the list, one per line, exit 0, no cluster asked', async () => {
    const r = await cli(['images', '--config', configFile]);
    expect(r.code).toBe(0);
    expect(r.connected).toBe(false);
    expect(r.stdout).toBe(`${V351.join('\n')}\n`);
  });

  it("images: the bootstrap's own image when SD_BOOTSTRAP_IMAGE names it; --output json a document", async () => {
    const r = await cli(['images', '--config', configFile, '-o', 'json'], cluster(), {
      SD_BOOTSTRAP_IMAGE: OWN,
    });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ kind: 'ImageList', version: 1, images: [...V351, OWN].sort() });
  });

  it('images with a cluster flag: refused, exit 2', async () => {
    const r = await cli(['images', '--config', configFile, '--context', 'kind']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--context: images reads no cluster');
  });

  it('plan lists the images before its summary line (text and json)', async () => {
    const text = await cli(['plan', '--config', configFile]);
    const lines = text.stdout.trim().split('\n');
    const at = lines.indexOf('Images (3):');
    expect(at).toBeGreaterThan(0);
    expect(lines.slice(at + 1, at + 4)).toEqual(V351.map((i) => `  ${i}`));
    expect(lines.at(-1)).toMatch(/^Plan: /);
    const json = JSON.parse((await cli(['plan', '--config', configFile, '-o', 'json'])).stdout) as {
      images: string[];
    };
    expect(json.images).toEqual(V351);
  });

  it('status lists them in the report', async () => {
    const kube = cluster();
    await cli(['apply', '--config', configFile], kube);
    const r = await cli(['status', '--config', configFile, '-o', 'json'], kube, { SD_BOOTSTRAP_IMAGE: OWN });
    expect((JSON.parse(r.stdout) as ReadinessReport).images).toEqual([...V351, OWN].sort());
    const text = await cli(['status', '--config', configFile], kube);
    expect(text.stdout).toContain(`Images (3): ${V351.join(', ')}`);
  });
});

describe('security posture in the report (issue 23)', () => {
  const posture = (report: ReadinessReport) =>
    Object.fromEntries(report.checks.filter((c) => c.id.startsWith('argocd.posture.')).map((c) => [c.id, c]));

  it('after apply: the four checks, ready; status reads 2 requests more than before them', async () => {
    const kube = cluster();
    await cli(['apply', '--config', configFile], kube);
    const before = kube.stats.requests;
    const r = await cli(['status', '--config', configFile, '-o', 'json'], kube);
    const checks = posture(JSON.parse(r.stdout) as ReadinessReport);
    expect(Object.keys(checks).sort()).toEqual([
      'argocd.posture.admin',
      'argocd.posture.anonymous',
      'argocd.posture.network-policies',
      'argocd.posture.server-insecure',
    ]);
    expect(Object.values(checks).every((c) => c.ready)).toBe(true);
    expect(checks['argocd.posture.network-policies']!.message).toMatch(
      /^7 NetworkPolicies of Argo CD present/,
    );
    // 27 before the posture checks; they add argocd-cm (read anyway with SSO) and the NetworkPolicy list,
    // once per run, none per environment.
    expect(kube.stats.requests - before).toBe(STATUS_REQUESTS);
  });

  it('a NetworkPolicy deleted and anonymous access turned on by hand: not ready, naming both', async () => {
    const kube = cluster();
    await cli(['apply', '--config', configFile], kube);
    await kube.delete({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      namespace: 'argocd',
      name: 'argocd-repo-server-network-policy',
    });
    const cm = kube.objects.get('/ConfigMap/argocd/argocd-cm')!;
    cm.data = { ...(cm.data as Record<string, string>), 'users.anonymous.enabled': 'true' };
    const r = await cli(['status', '--config', configFile, '--require-ready'], kube);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^Not ready: .*argocd\.posture\.anonymous/m);
    expect(r.stdout).toMatch(
      /✗ argocd\.posture\.network-policies +NetworkPolicies missing in argocd: argocd-repo-server-network-policy/,
    );
    // apply puts the NetworkPolicy back; anonymous access stays (argocd-cm's other keys are not the bootstrap's).
    await cli(['apply', '--config', configFile], kube);
    const after = posture(
      JSON.parse((await cli(['status', '--config', configFile, '-o', 'json'], kube)).stdout),
    );
    expect(after['argocd.posture.network-policies']!.ready).toBe(true);
    expect(after['argocd.posture.anonymous']!.ready).toBe(false);
  });
});

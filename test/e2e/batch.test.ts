/**
 * Seldon's environments, complete (issue #22) against the real API server (KWOK tier):
 * - batch jobs: the `workflow` Role, ServiceAccount and RoleBinding and the storage-initializer Secret in each
 *   batch environment; a second run changes none of them; turned off (or the environment removed) they are
 *   deleted; the Secret's values never reach the output;
 * - write access: the repository check's push handshake against a real Git server that refuses pushes for
 *   one key (SSH) and one token (HTTPS) and accepts them for the others.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SELDON_WORKFLOW_RULES } from '../../src/config/schema.ts';
import type { ReadinessReport } from '../../src/report/types.ts';
import {
  type GitHttpsServer,
  gitHttpsMissing,
  startGitHttpsServer,
} from '../../tools/git/git-https-server.ts';
import { type GitSshServer, sourceSecret, startGitSshServer } from '../../tools/git/git-ssh-server.ts';
import { runCli, writeConfig } from './support/bootstrap.ts';
import { kubectl, kubectlJson, target, uniqueName } from './support/target.ts';

const id = uniqueName('b').slice(2);
const runNs = `batch-run-${id}`;
const seldonNs = `batch-seldon-${id}`;
const envA = `batch-a-${id}`;
const envB = `batch-b-${id}`;
const bucketKey = `bucket-${randomBytes(12).toString('hex')}`;

let git: GitSshServer;
let repoUrl: string;

type Obj = {
  metadata: { name: string; resourceVersion: string; labels?: Record<string, string> };
  rules?: unknown;
  roleRef?: unknown;
  subjects?: unknown;
  data?: Record<string, string>;
  type?: string;
};

const config = (environments: Record<string, unknown>, git: Record<string, unknown> = {}) => ({
  argocd: { rolloutTimeout: '4m' },
  git: { repoUrl, ...git },
  environments: { logging: { enabled: false }, waitForSync: false, ...environments },
  seldonDeploy: { namespace: seldonNs },
});

async function run(command: 'apply' | 'plan' | 'status', name: string, c: unknown) {
  const r = await runCli([command, '--config', writeConfig(name, c), '--output', 'json'], {
    kubeconfig: target().kubeconfig,
    env: { POD_NAMESPACE: runNs },
  });
  return r as typeof r & { report: ReadinessReport };
}
const check = (r: { report?: ReadinessReport }, checkId: string) =>
  r.report?.checks.find((c) => c.id === checkId);

async function batchObjects(ns: string): Promise<Map<string, Obj>> {
  const out = new Map<string, Obj>();
  for (const [kind, name] of [
    ['role', 'workflow'],
    ['serviceaccount', 'workflow'],
    ['rolebinding', 'workflow'],
    ['secret', 'seldon-bucket'],
  ] as const) {
    const o = await kubectlJson<Obj>(['get', kind, name, '-n', ns]).catch(() => undefined);
    if (o) out.set(`${kind}/${name}`, o);
  }
  return out;
}

beforeAll(async () => {
  git = await startGitSshServer();
  repoUrl = git.createRepo('gitops', {
    [`${envA}/cm.yaml`]: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n',
    [`${envB}/cm.yaml`]: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n',
  });
  for (const n of [runNs, seldonNs]) await kubectl(['create', 'namespace', n]);
  await kubectl(['apply', '-f', '-'], { input: JSON.stringify(sourceSecret(git, runNs)) });
  await kubectl([
    '-n',
    runNs,
    'create',
    'secret',
    'generic',
    'seldon-bucket',
    '--from-literal=RCLONE_CONFIG_S3_TYPE=s3',
    '--from-literal=RCLONE_CONFIG_S3_PROVIDER=minio',
    `--from-literal=RCLONE_CONFIG_S3_SECRET_ACCESS_KEY=${bucketKey}`,
  ]);
}, 300_000);

afterAll(async () => {
  await git?.stop();
  for (const n of [runNs, seldonNs, envA, envB])
    await kubectl(['delete', 'namespace', n, '--wait=false']).catch(() => {});
});

describe('batch jobs per environment', () => {
  const batchOn = {
    namespaces: [envA, envB],
    batch: { enabled: true, storageSecret: { secretRef: { name: 'seldon-bucket' } } },
  };

  it("apply sets up Seldon's workflow RBAC and the bucket Secret in each environment, and reports them", async () => {
    const r = await run('apply', 'batch-on', config(batchOn));
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    for (const ns of [envA, envB]) {
      expect(check(r, `env.batch.${ns}`)).toMatchObject({ ready: true, required: true });
      const objs = await batchObjects(ns);
      expect(objs.get('role/workflow')?.rules).toEqual(SELDON_WORKFLOW_RULES);
      expect(objs.get('rolebinding/workflow')).toMatchObject({
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'workflow' },
        subjects: [{ kind: 'ServiceAccount', name: 'workflow', namespace: ns }],
      });
      expect(objs.has('serviceaccount/workflow')).toBe(true);
      const secret = objs.get('secret/seldon-bucket')!;
      expect(secret.metadata.labels).toMatchObject({ 'secret-type': 'bucket', 'seldon-deploy': 'true' });
      expect(Buffer.from(secret.data!.RCLONE_CONFIG_S3_SECRET_ACCESS_KEY!, 'base64').toString()).toBe(
        bucketKey,
      );
      expect(Object.keys(secret.data!).sort()).toEqual([
        'RCLONE_CONFIG_S3_PROVIDER',
        'RCLONE_CONFIG_S3_SECRET_ACCESS_KEY',
        'RCLONE_CONFIG_S3_TYPE',
      ]);
    }
    // The copy's values never reach the output or the report.
    const stored = await kubectlJson<{ data: Record<string, string> }>([
      'get',
      'configmap',
      'sd-gitops-bootstrap-report',
      '-n',
      runNs,
    ]);
    for (const text of [r.stdout, r.stderr, JSON.stringify(stored.data)]) {
      expect(text).not.toContain(bucketKey);
      expect(text).not.toContain(Buffer.from(bucketKey).toString('base64'));
    }
    // The SSH key the server accepts for pushes: the write check is ready.
    expect(check(r, 'git.repo.writable')).toMatchObject({ ready: true, required: true });
  }, 600_000);

  it('a second apply changes none of them (resourceVersions equal)', async () => {
    const beforeA = await batchObjects(envA);
    const beforeB = await batchObjects(envB);
    const r = await run('apply', 'batch-again', config(batchOn));
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    const rv = (m: Map<string, Obj>) => [...m].map(([k, o]) => `${k}@${o.metadata.resourceVersion}`);
    expect(rv(await batchObjects(envA))).toEqual(rv(beforeA));
    expect(rv(await batchObjects(envB))).toEqual(rv(beforeB));
    expect(beforeA.size + beforeB.size).toBe(8);
  }, 600_000);

  it('turned off for one environment: plan lists the deletions and writes nothing; apply deletes only those', async () => {
    const off = config({ ...batchOn, namespaces: [envA, { name: envB, batch: false }] });
    const plan = await run('plan', 'batch-off-plan', off);
    expect(plan.code, plan.stderr.slice(-3000)).toBe(0);
    const planned = (
      JSON.parse(plan.stdout) as {
        changes: { ref: { kind: string; namespace?: string; name: string }; action: string }[];
      }
    ).changes
      .filter((c) => c.ref.namespace === envB && c.action === 'deleted')
      .map((c) => `${c.ref.kind}/${c.ref.name}`)
      .sort();
    expect(planned).toEqual([
      'Role/workflow',
      'RoleBinding/workflow',
      'Secret/seldon-bucket',
      'ServiceAccount/workflow',
    ]);
    expect((await batchObjects(envB)).size).toBe(4);

    const r = await run('apply', 'batch-off', off);
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    expect((await batchObjects(envB)).size).toBe(0);
    expect((await batchObjects(envA)).size).toBe(4);
    expect(check(r, `env.batch.${envB}`)).toBeUndefined();
    expect(check(r, `env.batch.${envA}`)).toMatchObject({ ready: true });
  }, 600_000);

  it('removed with its environment', async () => {
    const r = await run(
      'apply',
      'batch-env-gone',
      config({ ...batchOn, namespaces: [{ name: envB, batch: false }] }),
    );
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    expect((await batchObjects(envA)).size).toBe(0);
    // The namespace itself stays (an environment's namespace is never deleted).
    await kubectl(['get', 'namespace', envA]);
  }, 600_000);
});

describe('write access: the push handshake against a real Git server', () => {
  it('SSH: a key the server accepts read-only gives a not-ready check saying what to change; verifyWrite: false skips it', async () => {
    await kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({
        ...sourceSecret({ ...git, privateKey: git.readOnlyPrivateKey }, runNs),
        metadata: { name: 'read-only-key', namespace: runNs },
      }),
    });
    const ro = { credentials: { secretRef: { name: 'read-only-key' } } };
    const r = await run('status', 'read-only-ssh', config({ namespaces: [envB] }, ro));
    expect(check(r, 'git.repo.reachable')).toMatchObject({ ready: true });
    const w = check(r, 'git.repo.writable');
    expect(w).toMatchObject({ ready: false, required: true });
    expect(w?.message).toMatch(
      /^read-only: .* refuses pushes with the credentials in Secret \S+\/read-only-key \(.*marked as read only.*\).*git\.verifyWrite: false$/,
    );
    // The server still has one ref, unchanged: nothing was pushed.
    const refs = execFileSync('git', ['--git-dir', `${git.root}/repos/gitops.git`, 'show-ref']).toString();
    expect(refs.trim().split('\n')).toHaveLength(1);

    const off = await run(
      'status',
      'read-only-off',
      config({ namespaces: [envB] }, { ...ro, verifyWrite: false }),
    );
    expect(check(off, 'git.repo.writable')).toBeUndefined();
  }, 600_000);

  const missing = gitHttpsMissing();
  describe.skipIf(!!missing)('HTTPS', () => {
    let server: GitHttpsServer;
    let httpsUrl: string;
    beforeAll(async () => {
      server = await startGitHttpsServer({ reposDir: `${git.root}/repos` });
      httpsUrl = `${server.baseUrl}/gitops.git`;
      for (const [name, user, token] of [
        ['https-rw', server.username, server.token],
        ['https-ro', server.readOnly.username, server.readOnly.token],
      ] as const)
        await kubectl([
          '-n',
          runNs,
          'create',
          'secret',
          'generic',
          name,
          `--from-literal=username=${user}`,
          `--from-literal=password=${token}`,
        ]);
      await kubectl(['-n', runNs, 'create', 'configmap', 'git-ca', `--from-literal=ca.crt=${server.caCert}`]);
    }, 120_000);
    afterAll(async () => {
      await server?.stop();
    });

    it.each([
      { secret: 'https-rw', ready: true, message: /accepts pushes .*receive-pack handshake; nothing pushed/ },
      { secret: 'https-ro', ready: false, message: /^read-only: .* refuses pushes .*403.*write access/ },
    ])(
      'a token that may $secret: git.repo.writable ready $ready',
      async ({ secret, ready, message }) => {
        const c = {
          ...config({ namespaces: [envB] }),
          git: {
            repoUrl: httpsUrl,
            credentials: { secretRef: { name: secret } },
            caBundle: { configMapRef: { name: 'git-ca' } },
          },
        };
        const r = await run('status', `https-${secret}`, c);
        expect(check(r, 'git.repo.reachable')).toMatchObject({ ready: true });
        const w = check(r, 'git.repo.writable');
        expect(w?.ready).toBe(ready);
        expect(w?.message).toMatch(message);
        expect(r.stdout + r.stderr).not.toContain(
          secret === 'https-ro' ? server.readOnly.token : server.token,
        );
      },
      600_000,
    );
  });
});

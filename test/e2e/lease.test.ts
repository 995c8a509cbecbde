import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LEASE_TTL_SECONDS } from '../../src/kube/lease.ts';
import { type GitSshServer, startGitSshServer } from '../../tools/git/git-ssh-server.ts';
import { writeFigures } from '../support/figures.ts';
import { runCli, runnerIdentity, upstreamFile, writeConfig } from './support/bootstrap.ts';
import { type Row, startCli } from './support/faults.ts';
import {
  applySecret,
  auditEvents,
  auditMark,
  kubectl,
  kubectlJson,
  kubectlPatch,
  uniqueName,
  writes,
} from './support/target.ts';

const id = uniqueName('l').slice(2);
const runNs = `lease-run-${id}`;
const argoNs = `lease-argocd-${id}`;
const seldonNs = `lease-seldon-${id}`;
const envNs = `lease-env-${id}`;
const LEASE = 'sd-gitops-bootstrap';
const THIEF = `other-pod-${id}/4242`;

let git: GitSshServer;
let runner: { kubeconfig: string; username: string };
let configFile: string;
const rows: Row[] = [];

const env = { POD_NAMESPACE: runNs, SD_BOOTSTRAP_TIMEOUT: '5m' };

interface LeaseSpec {
  holderIdentity?: string;
  acquireTime?: string;
  renewTime?: string;
  leaseDurationSeconds?: number;
  leaseTransitions?: number;
}
const lease = async () => (await kubectlJson<{ spec: LeaseSpec }>(['get', 'lease', LEASE, '-n', runNs])).spec;

const microTime = (d: Date) => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  git = await startGitSshServer();
  const repoUrl = git.createRepo('lease', {
    [`${envNs}/cm.yaml`]: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-git\ndata:\n  a: b\n',
  });
  for (const ns of [runNs, seldonNs]) await kubectl(['create', 'namespace', ns]);
  await kubectl(['apply', '--server-side', '-f', upstreamFile('istio/networking-crds')]);
  runner = await runnerIdentity(runNs, 'bootstrap', 'cluster-admin');
  for (const [name, data] of [
    [
      'git',
      {
        'ssh-privatekey': git.privateKey,
        known_hosts: git.knownHosts,
        username: 'git',
        email: 'ci@example.com',
      },
    ],
    ['admin-password', { password: `lease-admin-${id}` }],
  ] as const) {
    await applySecret(runNs, name, data);
  }
  configFile = writeConfig(`lease-${id}`, {
    argocd: {
      namespace: argoNs,
      version: 'v3.5.1',
      install: { source: 'file', file: upstreamFile('argocd/v3.5.1') },
      adminPassword: { secretRef: { name: 'admin-password', key: 'password' } },
      server: { insecure: true },
      virtualService: { enabled: 'auto', gateway: 'istio-system/seldon-gateway', hosts: ['*'] },
      rolloutTimeout: '3m',
    },
    git: { repoUrl, credentials: { secretRef: { name: 'git' } }, verify: true },
    environments: {
      project: `lease-${id}`,
      namespaces: [{ name: envNs, restricted: false }],
      logging: { enabled: false },
      waitForSync: false,
    },
    seldonDeploy: { namespace: seldonNs, gitCredentialsSecret: 'git-creds' },
    report: { configMap: 'sd-gitops-bootstrap-report' },
  });
}, 300_000);

afterAll(async () => {
  await git?.stop();
  if (rows.length === 0) return; // a filtered run wrote nothing worth keeping
  writeFigures('lease', {
    source: 'test/e2e/lease.test.ts',
    complete: rows.every((r) => r.passed),
    figures: [
      { label: 'lost-Lease cases on the real API server', value: rows.length },
      {
        label: 'writes after the Lease was lost',
        value: rows.reduce((n, r) => n + (r.writes ?? 0), 0),
        must: 0,
      },
    ],
  });
});

describe('lost Lease', () => {
  it('a run whose Lease is taken over while it is paused stops before its next write and exits 1', async () => {
    const meta = {
      item: 'lease',
      case: 'Lease taken over by another holder while the run is paused',
      injected: `SIGSTOP once the run logged "✔ preflight" (Lease held), held for more than half the Lease's ${LEASE_TTL_SECONDS} s; the Lease's holderIdentity set to another run's (kubectl patch); SIGCONT`,
      expected:
        'exit 1 with "lost the Lease … to <holder> at <time>; stopped before writing <object>; the other run finishes the work"; 0 writes by the run after the takeover; the next run converges',
    };
    try {
      const run = startCli(['apply', '--config', configFile, '--output', 'json'], {
        kubeconfig: runner.kubeconfig,
        env,
      });
      await run.waitFor(/^✔ preflight /);
      run.child.kill('SIGSTOP');
      const mine = await lease();
      expect(mine.holderIdentity).toMatch(/\/\d+$/);
      // Paused past the point where its last confirmation of the Lease is stale (half the TTL): a real
      // pause, not a timed assertion. Meanwhile another run takes the Lease.
      await sleep((LEASE_TTL_SECONDS / 2) * 1000 + 5_000);
      const takenAt = microTime(new Date());
      await kubectlPatch('lease', LEASE, runNs, 'merge', {
        spec: {
          holderIdentity: THIEF,
          acquireTime: takenAt,
          renewTime: takenAt,
          leaseTransitions: (mine.leaseTransitions ?? 0) + 1,
        },
      });
      // Every event after this offset is after the takeover (kubectl returned after the API server
      // logged the patch).
      const mark = auditMark();
      run.child.kill('SIGCONT');
      const result = await run.result;

      expect(result.code, result.stderr.slice(-2000)).toBe(1);
      const sentence = new RegExp(
        `lost the Lease ${LEASE} to ${THIEF.replace('/', '\\/')} at ${takenAt.replace(/\./g, '\\.')}; stopped before writing (\\S+ [^;]+); the other run finishes the work`,
      );
      const m = sentence.exec(result.stderr);
      expect(m, result.stderr.slice(-2000)).not.toBeNull();
      // The run was in the middle of its work: Argo CD's install had not run.
      expect(result.stderr).not.toMatch(/"msg":"✔ install-argocd /);
      const after = auditEvents({ user: runner.username, since: mark });
      const landed = writes(after).filter((e) => (e.responseStatus?.code ?? 0) < 300);
      expect(landed.map((e) => `${e.verb} ${e.requestURI}`)).toEqual([]);
      // The Lease stays the other run's; the run asked (a refused renewal) rather than wrote.
      expect((await lease()).holderIdentity).toBe(THIEF);
      const refused = writes(after).filter((e) => e.objectRef?.resource === 'leases');
      expect(refused.length).toBeGreaterThan(0);
      expect(refused.map((e) => e.responseStatus?.code)).toEqual(refused.map(() => 409));

      // The other run "finishes the work": here the next apply, once the other holder let the Lease go.
      await kubectlPatch('lease', LEASE, runNs, 'json', [{ op: 'remove', path: '/spec/holderIdentity' }]);
      const next = await runCli(['apply', '--config', configFile, '--output', 'json'], {
        kubeconfig: runner.kubeconfig,
        env,
      });
      expect(next.code, next.stderr.slice(-2000)).toBe(0);
      expect(next.report?.ready).toBe(true);

      rows.push({
        ...meta,
        outcome: `exit 1: "${m![0]}"; ${refused.length} refused Lease renewal(s) (409), 0 other writes after the takeover; the next apply: exit 0, ready`,
        writes: landed.length,
        passed: true,
      });
    } catch (err) {
      rows.push({ ...meta, outcome: `failed: ${(err as Error).message.split('\n')[0]}`, passed: false });
      throw err;
    }
  }, 400_000);
});

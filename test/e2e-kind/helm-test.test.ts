/**
 * `helm test` of the chart on kind (issue #16): the test hook pod (templates/tests/status-{rbac,pod}.yaml,
 * `status --require-ready` from the project image) really running in a pod under Pod Security
 * "restricted", against a real Git server over SSH in a container on the cluster's network.
 *
 * `install.source: skip` against an Argo CD stand-in (support/chart.ts: Argo CD's CRDs and settings, its
 * workloads running the pause image): what `helm test` adds over the install is the status run and its
 * exit code, not Argo CD's rollout (chart.test.ts's default install covers that), so the run stays short.
 * `git.verify: true` with the Git container's repository makes `git.repo.reachable` a required check the
 * test pod re-runs itself.
 *
 * - after a good install `helm test` exits 0, the pod Succeeded, its log is the ready report, and the
 *   test pod's ServiceAccount and RBAC (hook-succeeded) are gone. The pod itself stays until the next
 *   `helm test`, for `kubectl logs`. Not `--logs`: Helm 3.22 asks every test hook (the ServiceAccount, the
 *   ClusterRole…) for a pod log by its name and exits 1 with "unable to get pod logs" even when the test
 *   passed (helm/helm#6968), which this file found;
 * - after the repository became unreachable (the source Secret's known_hosts now holds another host key)
 *   `helm test` exits non-zero and the log names `git.repo.reachable`; the failed pod stays for its log.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GitSshServer, startGitSshServer } from '../../tools/git/git-ssh-server.ts';
import { type GitHost, startGitHost } from '../../tools/hosts/git-host.ts';
import { ciScenarios, helm, valuesFile } from '../e2e/support/helm.ts';
import { kubectl, kubectlJson, target, uniqueName } from '../e2e/support/target.ts';
import { newSshKey } from '../support/ssh-keys.ts';
import {
  argocdStandIn,
  createNamespace,
  imageValues,
  install,
  notReady,
  RELEASE,
  RESTRICTED,
  report,
} from './support/chart.ts';
import { apply } from './support/cluster.ts';
import { kind, type LoadedProjectImage, projectImage } from './support/kind.ts';

const onKind = !!target().kind;
const TEST_POD = `${RELEASE}-sd-gitops-bootstrap-test`;
const skipScenario = () => ciScenarios().find((s) => s.name === 'skip')!.file;

function say(msg: string): void {
  process.stderr.write(`[helm-test] ${msg}\n`);
}

/** `helm test` (as the chart README says: without `--logs`, see above), timed, and the pod's log. */
async function helmTest(namespace: string) {
  const t0 = Date.now();
  const r = await helm(['test', RELEASE, '-n', namespace, '--timeout', '10m']);
  const seconds = (Date.now() - t0) / 1000;
  const log = await kubectl(['logs', TEST_POD, '-n', namespace]).catch((e: Error) => e.message);
  // The program's progress lines (stderr, `[hh:mm:ss] INFO: …`) around the report it prints (stdout).
  const reportText = log
    .split('\n')
    .filter((l) => !/^\[\d\d:\d\d:\d\d\] [A-Z]+: /.test(l))
    .join('\n')
    .trim();
  return { ...r, seconds, log, report: reportText };
}

describe.skipIf(!onKind)('helm test: the status pod against the cluster and the Git server', () => {
  const id = uniqueName('x').slice(2);
  const ns = `sdb-test-${id}`;
  const argoNs = `argocd-standin-t-${id}`;
  const seldonNs = `seldon-t-${id}`;
  const env = `stg-t-${id}`;
  let image: LoadedProjectImage;
  let gitHost: GitHost;
  let git: GitSshServer;
  let installed: Awaited<ReturnType<typeof install>>;

  const sourceSecret = (knownHosts: string) =>
    apply({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'gitops-source-creds', namespace: ns },
      type: 'kubernetes.io/ssh-auth',
      stringData: { 'ssh-privatekey': git.privateKey, known_hosts: knownHosts, username: git.user },
    });

  beforeAll(async () => {
    image = await projectImage();
    gitHost = await startGitHost({ network: kind().network, clusterId: kind().id, log: say });
    git = await startGitSshServer({ on: gitHost, root: join(gitHost.dir, 'ssh') });
    const repoUrl = git.createRepo('gitops', {
      [`${env}/cm.yaml`]: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-git\n',
    });
    await createNamespace(ns, RESTRICTED);
    await createNamespace(seldonNs);
    await argocdStandIn(argoNs);
    await sourceSecret(git.knownHosts);
    const values = valuesFile('kind-helm-test', {
      ...imageValues(image),
      config: {
        argocd: { namespace: argoNs, rolloutTimeout: '3m' },
        git: { repoUrl, verify: true },
        environments: { namespaces: [env], logging: { enabled: false }, waitForSync: false },
        seldonDeploy: { namespace: seldonNs },
      },
    });
    installed = await install(ns, [skipScenario(), values]);
    say(`helm install --wait (skip mode, git.verify true): ${installed.seconds.toFixed(1)}s`);
  }, 20 * 60_000);

  afterAll(async () => {
    await helm(['uninstall', RELEASE, '-n', ns]).catch(() => {});
    for (const n of [ns, argoNs, seldonNs, env])
      await kubectl(['delete', 'namespace', n, '--wait=false']).catch(() => {});
    // The failed test's hooks that Helm leaves (the pod by design; RBAC if a run broke off).
    await kubectl([
      'delete',
      'clusterrole,clusterrolebinding',
      `${ns}-${TEST_POD}`,
      '--ignore-not-found',
    ]).catch(() => {});
    await git?.stop();
    await gitHost?.stop();
  }, 300_000);

  it('the install is ready, with the repository check among its required checks', async () => {
    expect(installed.code, `${installed.stderr}\n${installed.logs}`).toBe(0);
    const r = await report(ns);
    expect(notReady(r)).toEqual([]);
    expect(r.checks.find((c) => c.id === 'git.repo.reachable')).toMatchObject({
      ready: true,
      required: true,
    });
  });

  it('helm test passes: exit 0, the pod Succeeded, its log the ready report; its RBAC is gone', async () => {
    const t = await helmTest(ns);
    say(`helm test (passing): ${t.seconds.toFixed(1)}s`);
    expect(t.code, `${t.stdout}\n${t.stderr}`).toBe(0);
    // Helm's summary of the hook; the pod's log is the ready report.
    expect(t.stdout).toMatch(new RegExp(`TEST SUITE:\\s+${TEST_POD}\\s[\\s\\S]*?Phase:\\s+Succeeded`));
    expect(t.report.startsWith('✔ READY:'), t.log).toBe(true);
    expect(t.log).toMatch(/✔ git\.repo\.reachable/);
    // The pod stays for its log (before-hook-creation only), Succeeded.
    const pod = await kubectlJson<{ status: { phase: string } }>(['get', 'pod', TEST_POD, '-n', ns]);
    expect(pod.status.phase).toBe('Succeeded');
    // hook-succeeded: everything that granted it access is deleted.
    const gone = async (args: string[]) =>
      expect(await kubectl([...args, '--ignore-not-found', '-o', 'name'])).toBe('');
    await gone(['get', 'serviceaccount', TEST_POD, '-n', ns]);
    await gone(['get', 'role,rolebinding', '-n', ns, '-l', 'app.kubernetes.io/component=test']);
    await gone(['get', 'role,rolebinding', '-n', argoNs, '-l', 'app.kubernetes.io/component=test']);
    await gone(['get', 'clusterrole,clusterrolebinding', `${ns}-${TEST_POD}`]);
    const leftover = await kubectl(['get', 'clusterroles,clusterrolebindings', '-o', 'name']);
    expect(leftover).not.toContain(TEST_POD);
  });

  it('helm test fails once the repository is unreachable, naming git.repo.reachable', async () => {
    // Another host key for the same host: ssh refuses the server, as after a re-keyed or spoofed host.
    const other = newSshKey('sd-helm-test-').publicKey;
    const hostPattern = git.knownHosts.split(' ')[0]!;
    await sourceSecret(`${hostPattern} ${other}\n`);

    const t = await helmTest(ns);
    say(`helm test (failing): ${t.seconds.toFixed(1)}s`);
    expect(t.code, `${t.stdout}\n${t.stderr}`).not.toBe(0);
    expect(t.stdout).toMatch(new RegExp(`TEST SUITE:\\s+${TEST_POD}\\s[\\s\\S]*?Phase:\\s+Failed`));
    expect(t.report.startsWith('✗ NOT READY:'), t.log).toBe(true);
    expect(t.log).toMatch(/✗ git\.repo\.reachable/);
    expect(t.log).toMatch(/Not ready: .*git\.repo\.reachable/);
    // The failed pod (it replaced the passed one) exited 1: `status --require-ready`, not a crash.
    const pod = await kubectlJson<{
      status: { phase: string; containerStatuses: { state: { terminated?: { exitCode: number } } }[] };
    }>(['get', 'pod', TEST_POD, '-n', ns]);
    expect(pod.status.phase).toBe('Failed');
    expect(pod.status.containerStatuses[0]!.state.terminated?.exitCode).toBe(1);
  });
});

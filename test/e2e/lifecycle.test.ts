/**
 * Lifecycle on the real API server (KWOK tier): the inventory (an ApplySet, KEP-3659) written in the run that
 * creates the objects; an Argo CD version change v2.14.21 → v3.5.1 that prunes what the new manifest dropped;
 * a downgrade across a major version refused; an environment taken out of the config. The CLI runs as a
 * ServiceAccount, so the audit log attributes its requests. Argo CD itself does not run here (no pods): its
 * own upgrade with pods is the real-node tier's.
 */
import { readFileSync } from 'node:fs';
import { dump } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applysetId, parseInventory } from '../../src/manifests/inventory.ts';
import { type GitSshServer, startGitSshServer } from '../../tools/git/git-ssh-server.ts';
import { notReady } from '../support/report.ts';
import { runCli, runnerIdentity, upstreamFile, writeConfig } from './support/bootstrap.ts';
import {
  auditEvents,
  auditMark,
  kubectl,
  kubectlJson,
  kubectlPatch,
  uniqueName,
  writes,
} from './support/target.ts';

const id = uniqueName('lc').slice(3);
const runNs = `lc-${id}`;
const argoNs = `lc-argocd-${id}`;
const seldonNs = `lc-seldon-${id}`;
const envA = `lc-a-${id}`;
const envB = `lc-b-${id}`;
const ID = applysetId(runNs);
const PART_OF = 'applyset.kubernetes.io/part-of';

let git: GitSshServer;
let repoUrl: string;
let runner: { kubeconfig: string; username: string };

/** v2.14.21's manifest plus one ConfigMap that v3.5.1 does not have: an object a new version dropped. */
function oldManifestWithExtra(): string {
  const text = readFileSync(upstreamFile('argocd/v2.14.21'), 'utf8');
  const extra = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'argocd-dropped-cm' },
    data: { a: 'b' },
  };
  return writeConfig('argocd-v2-extra', `${text}\n---\n${dump(extra)}`);
}

function config(
  over: {
    version?: string;
    file?: string;
    envs?: string[];
    deleteResources?: boolean;
    settings?: unknown;
    sso?: unknown;
    url?: string;
    components?: unknown;
  } = {},
) {
  const version = over.version ?? 'v3.5.1';
  return {
    argocd: {
      namespace: argoNs,
      version,
      ...(over.settings ? { settings: over.settings } : {}),
      ...(over.sso ? { sso: over.sso } : {}),
      ...(over.url ? { url: over.url } : {}),
      ...(over.components ? { components: over.components } : {}),
      install: { source: 'file', file: over.file ?? upstreamFile(`argocd/${version}` as 'argocd/v3.5.1') },
      virtualService: { enabled: false },
      rolloutTimeout: '2m',
    },
    git: { repoUrl, credentials: { secretRef: { name: 'gitops-source-creds' } }, verify: true },
    environments: {
      namespaces: (over.envs ?? [envA, envB]).map((name) => ({ name, restricted: false })),
      logging: { enabled: false },
      waitForSync: false,
      deleteRemovedResources: over.deleteResources ?? false,
    },
    seldonDeploy: { namespace: seldonNs },
  };
}

async function run(command: 'apply' | 'plan', cfg: unknown, name: string, output = 'json') {
  return runCli([command, '--config', writeConfig(name, cfg), '--output', output], {
    kubeconfig: runner.kubeconfig,
    env: { POD_NAMESPACE: runNs },
  });
}

async function inventory() {
  const cm = await kubectlJson<{ data: Record<string, string> }>([
    'get',
    'configmap',
    'sd-gitops-bootstrap-inventory',
    '-n',
    runNs,
  ]).catch(() => null);
  return parseInventory(cm ? { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, ...cm } : null);
}

type Meta = {
  metadata: {
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    resourceVersion: string;
    deletionTimestamp?: string;
    finalizers?: string[];
  };
};

const exists = (args: string[]) =>
  kubectl(['get', ...args, '-o', 'name']).then(
    () => true,
    () => false,
  );

beforeAll(async () => {
  git = await startGitSshServer();
  const files: Record<string, string> = {};
  for (const ns of [envA, envB])
    files[`${ns}/cm.yaml`] = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n';
  repoUrl = git.createRepo('gitops', files);
  for (const ns of [runNs, seldonNs, argoNs]) await kubectl(['create', 'namespace', ns]);
  // A user's own object in the Argo CD namespace, before any run: never a member, never touched.
  await kubectl(['create', 'configmap', 'users-own', '-n', argoNs, '--from-literal=k=v']);
  runner = await runnerIdentity(runNs, 'bootstrap', 'cluster-admin');
  const secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'gitops-source-creds', namespace: runNs },
    type: 'kubernetes.io/ssh-auth',
    stringData: { 'ssh-privatekey': git.privateKey, known_hosts: git.knownHosts },
  };
  await kubectl(['apply', '-f', '-'], { input: JSON.stringify(secret) });
}, 300_000);

afterAll(async () => {
  await git?.stop();
  for (const ns of [runNs, seldonNs, argoNs, envA, envB])
    await kubectl(['delete', 'namespace', ns, '--wait=false', '--ignore-not-found']).catch(() => {});
});

describe('inventory, Argo CD upgrade and downgrade', () => {
  it('a first install (v2.14.21 + one extra object) records what it created as an ApplySet', async () => {
    const res = await run('apply', config({ version: 'v2.14.21', file: oldManifestWithExtra() }), 'v2');
    expect(notReady(res.report), res.stderr.slice(-3000)).toEqual([]);
    const inv = await inventory();
    expect(inv.argocd).toEqual({ namespace: argoNs, version: 'v2.14.21', installed: true });
    const names = inv.members.map((m) => `${m.kind}/${m.name}`);
    expect(names).toEqual(
      expect.arrayContaining([
        'ConfigMap/argocd-dropped-cm',
        'Deployment/argocd-server',
        'Deployment/argocd-repo-server',
        `Application/seldon-gitops-${envA}`,
        'AppProject/seldon',
        'Secret/git-creds',
      ]),
    );
    // The user's ConfigMap and the namespaces that existed before are not members.
    expect(names).not.toContain('ConfigMap/users-own');
    expect(names).not.toContain(`Namespace/${argoNs}`);
    expect(names.some((n) => n.startsWith('Namespace/'))).toBe(false);
    const parent = await kubectlJson<Meta>([
      'get',
      'configmap',
      'sd-gitops-bootstrap-inventory',
      '-n',
      runNs,
    ]);
    expect(parent.metadata.labels?.['applyset.kubernetes.io/id']).toBe(ID);
    expect(parent.metadata.annotations?.['applyset.kubernetes.io/contains-group-kinds']).toContain(
      'Deployment.apps',
    );
    expect(parent.metadata.annotations?.['applyset.kubernetes.io/additional-namespaces']).toContain(argoNs);
    // The members carry the label: kubectl finds them by it.
    const labelled = await kubectlJson<{ items: unknown[] }>([
      'get',
      'deployments,configmaps',
      '-n',
      argoNs,
      '-l',
      `${PART_OF}=${ID}`,
    ]);
    expect(labelled.items.length).toBeGreaterThan(5);
    const own = await kubectlJson<Meta>(['get', 'configmap', 'users-own', '-n', argoNs]);
    expect(own.metadata.labels?.[PART_OF]).toBeUndefined();
    // The hand-off to Seldon Deploy: its chart's gitops values, pointing at the Secret this run wrote.
    expect(res.report?.seldonDeploy).toEqual({
      values: `gitops:\n  git:\n    secret: git-creds\n  argocd:\n    enabled: true\n    namespace: ${argoNs}\n    url: /argocd/\n`,
      secret: { namespace: seldonNs, name: 'git-creds' },
    });
    expect(await exists(['secret', 'git-creds', '-n', seldonNs])).toBe(true);
  });

  it('v2.14.21 → v3.5.1: the object the new manifest dropped is deleted, the rest updated in place', async () => {
    const plan = await run('plan', config(), 'v3-plan', 'text');
    expect(plan.code, plan.stderr.slice(-2000)).toBe(0);
    const lines = plan.stdout.split('\n');
    expect(lines[0]).toBe('Removals (no longer in the configuration): 1');
    expect(lines[1]).toMatch(
      /^- delete +ConfigMap .*\/argocd-dropped-cm — not in the Argo CD v3\.5\.1 manifest/,
    );
    expect(await exists(['configmap', 'argocd-dropped-cm', '-n', argoNs])).toBe(true);

    const res = await run('apply', config(), 'v3');
    expect(notReady(res.report), res.stderr.slice(-3000)).toEqual([]);
    expect(res.report?.changes.deleted).toBe(1);
    expect(res.report?.removed).toEqual([
      `ConfigMap ${argoNs}/argocd-dropped-cm: deleted (not in the Argo CD v3.5.1 manifest)`,
    ]);
    expect(await exists(['configmap', 'argocd-dropped-cm', '-n', argoNs])).toBe(false);
    expect(await exists(['configmap', 'users-own', '-n', argoNs])).toBe(true);
    const server = await kubectlJson<{ spec: { template: { spec: { containers: { image: string }[] } } } }>([
      'get',
      'deployment',
      'argocd-server',
      '-n',
      argoNs,
    ]);
    expect(server.spec.template.spec.containers[0]!.image).toMatch(/:v3\.5\.1$/);
    const inv = await inventory();
    expect(inv.argocd?.version).toBe('v3.5.1');
    expect(inv.members.some((m) => m.name === 'argocd-dropped-cm')).toBe(false);
  });

  it('a re-run moves no resourceVersion and writes nothing but the Lease and the report', async () => {
    const rvs = async () => {
      const list = await kubectlJson<{
        items: { kind: string; metadata: { name: string; resourceVersion: string } }[];
      }>([
        'get',
        'configmaps,secrets,deployments,statefulsets,services,applications.argoproj.io,appprojects.argoproj.io',
        '-n',
        argoNs,
      ]);
      const inv = await kubectlJson<Meta>(['get', 'configmap', 'sd-gitops-bootstrap-inventory', '-n', runNs]);
      return new Map([
        ...list.items.map((o) => [`${o.kind}/${o.metadata.name}`, o.metadata.resourceVersion] as const),
        ['inventory', inv.metadata.resourceVersion] as const,
      ]);
    };
    const before = await rvs();
    const mark = auditMark();
    const res = await run('apply', config(), 'v3-again');
    expect(res.code, res.stderr.slice(-2000)).toBe(0);
    expect(res.report?.changes).toMatchObject({ created: 0, updated: 0, deleted: 0 });
    const after = await rvs();
    expect([...before].filter(([k, v]) => after.get(k) !== v).map(([k]) => k)).toEqual([]);
    const w = writes(auditEvents({ user: runner.username, since: mark })).filter(
      (e) =>
        e.objectRef?.resource !== 'leases' &&
        !(e.objectRef?.resource === 'configmaps' && e.objectRef.name === 'sd-gitops-bootstrap-report') &&
        e.verb !== 'patch', // an SSA patch that changes nothing: the resourceVersions above are the proof
    );
    expect(w.map((e) => `${e.verb} ${e.objectRef?.resource}/${e.objectRef?.name}`)).toEqual([]);
  });

  it('a downgrade across a major version is refused with a sentence, before any write to Argo CD', async () => {
    const mark = auditMark();
    const res = await run('apply', config({ version: 'v2.14.21' }), 'v2-down');
    expect(res.code).toBe(1);
    expect(`${res.stdout}\n${res.stderr}`).toMatch(
      /argocd\.version v2\.14\.21 would downgrade Argo CD v3\.5\.1 .* across a major version.*argocd\.allowDowngrade: true/,
    );
    const w = writes(auditEvents({ user: runner.username, since: mark })).filter(
      (e) => e.objectRef?.namespace === argoNs || !e.objectRef?.namespace,
    );
    expect(w.map((e) => `${e.verb} ${e.objectRef?.resource}/${e.objectRef?.name}`)).toEqual([]);
  });
});

describe('an environment taken out of the config', () => {
  it('plan shows the removals first; apply deletes the Application, keeps the namespace and its workloads', async () => {
    await kubectl(['create', 'configmap', 'workload', '-n', envB, '--from-literal=k=v']);
    await kubectl(['label', 'namespace', envB, 'team=ml']); // the user's own label stays
    const only = config({ envs: [envA] });
    const plan = await run('plan', only, 'remove-plan', 'text');
    expect(plan.code, plan.stderr.slice(-2000)).toBe(0);
    const lines = plan.stdout.split('\n');
    expect(lines.slice(0, 3)).toEqual([
      'Removals (no longer in the configuration): 2',
      expect.stringMatching(
        new RegExp(
          `^- delete +Application\\.argoproj\\.io ${argoNs}/seldon-gitops-${envB} — no longer an environment`,
        ),
      ),
      expect.stringMatching(new RegExp(`^~ update +Namespace ${envB} \\(.*\\) — no longer an environment`)),
    ]);
    expect(await exists(['application', `seldon-gitops-${envB}`, '-n', argoNs])).toBe(true);

    const res = await run('apply', only, 'remove');
    expect(notReady(res.report), res.stderr.slice(-3000)).toEqual([]);
    expect(res.report?.removed).toEqual([
      `Application ${argoNs}/seldon-gitops-${envB}: deleted (no longer an environment; what it deployed stays)`,
      `Namespace ${envB}: updated (no longer an environment: GitOps labels and git-repo annotation removed)`,
    ]);
    expect(await exists(['application', `seldon-gitops-${envB}`, '-n', argoNs])).toBe(false);
    const project = await kubectlJson<{ spec: { destinations: { namespace: string }[] } }>([
      'get',
      'appproject',
      'seldon',
      '-n',
      argoNs,
    ]);
    expect(project.spec.destinations.map((d) => d.namespace)).toEqual([envA]);
    const ns = await kubectlJson<Meta>(['get', 'namespace', envB]);
    expect(ns.metadata.labels?.['seldon.gitops']).toBeUndefined();
    expect(ns.metadata.labels?.['seldon.restricted']).toBeUndefined();
    expect(ns.metadata.annotations?.['git-repo']).toBeUndefined();
    expect(ns.metadata.labels?.team).toBe('ml');
    expect(await exists(['configmap', 'workload', '-n', envB])).toBe(true);
    const again = await run('apply', only, 'remove-again');
    expect(again.report?.changes).toMatchObject({ created: 0, updated: 0, deleted: 0 });
  });

  it('deleteRemovedResources: the Application goes with Argo CD’s resources-finalizer', async () => {
    expect((await run('apply', config(), 'readd')).code).toBe(0);
    const res = await run('apply', config({ envs: [envA], deleteResources: true }), 'remove-cascade');
    expect(res.code, res.stderr.slice(-2000)).toBe(0);
    // No Argo CD controller runs here to finish the deletion: the Application waits on the finalizer,
    // which is exactly what tells Argo CD to delete what it deployed.
    const app = await kubectlJson<Meta>(['get', 'application', `seldon-gitops-${envB}`, '-n', argoNs]);
    expect(app.metadata.deletionTimestamp).toBeDefined();
    expect(app.metadata.finalizers).toEqual(['resources-finalizer.argocd.argoproj.io']);
    await kubectlPatch('application', `seldon-gitops-${envB}`, argoNs, 'merge', {
      metadata: { finalizers: null },
    });
  });
});

describe('Argo CD shaped to the site, and SSO', () => {
  const settings = {
    cm: { 'timeout.reconciliation': '300s' },
    cmdParams: { 'controller.status.processors': '50' },
    rbac: { 'policy.default': 'role:readonly' },
  };
  const sso = {
    enabled: true,
    issuer: 'https://sso.example.com/realms/acme',
    clientID: 'argocd',
    clientSecret: { secretRef: { name: 'argocd-oidc', key: 'clientSecret' } },
    groups: { 'platform-admins': 'role:admin', 'ml-team': 'role:readonly' },
    disableAdmin: true,
  };
  /** Argo CD's URL, required with SSO (argocd-cm `url`). */
  const url = 'https://deploy.example.com/argocd';
  const components = {
    'argocd-repo-server': {
      replicas: 2,
      resources: { requests: { cpu: '250m', memory: '256Mi' } },
      extraArgs: ['--parallelismlimit', '4'],
    },
  };
  const data = async (name: string) =>
    (await kubectlJson<{ data?: Record<string, string> }>(['get', 'configmap', name, '-n', argoNs])).data ??
    {};

  it('plan shows the keys; apply writes them, oidc.config by reference, the group lines, the label', async () => {
    await kubectl([
      'create',
      'secret',
      'generic',
      'argocd-oidc',
      '-n',
      argoNs,
      '--from-literal=clientSecret=s3cr3t-value',
    ]);
    const cfg = config({ envs: [envA], settings, sso, url, components });
    const plan = await run('plan', cfg, 'sso-plan', 'text');
    expect(plan.code, plan.stderr.slice(-2000)).toBe(0);
    const cmLine = plan.stdout.split('\n').find((l) => /ConfigMap \S+\/argocd-cm /.test(l)) ?? '';
    expect(cmLine).toMatch(/^~ update/);
    for (const key of ['admin.enabled', 'oidc.config', 'timeout.reconciliation', 'url'])
      expect(cmLine).toContain(`data.${key}`);
    expect(plan.stdout).toMatch(/~ update +ConfigMap \S+\/argocd-rbac-cm .*data\.policy\.csv/);

    const res = await run('apply', cfg, 'sso');
    expect(notReady(res.report), res.stderr.slice(-3000)).toEqual([]);
    expect(res.report?.checks.find((c) => c.id === 'argocd.sso')?.ready).toBe(true);
    const cm = await data('argocd-cm');
    expect(cm['timeout.reconciliation']).toBe('300s');
    expect(cm['admin.enabled']).toBe('false');
    expect(cm.url).toBe(url);
    expect(cm['oidc.config']).toContain('issuer: "https://sso.example.com/realms/acme"');
    expect(cm['oidc.config']).toContain('clientSecret: "$argocd-oidc:clientSecret"');
    expect((await data('argocd-cmd-params-cm'))['controller.status.processors']).toBe('50');
    expect(await data('argocd-rbac-cm')).toMatchObject({
      'policy.default': 'role:readonly',
      'policy.csv': 'g, platform-admins, role:admin\ng, ml-team, role:readonly\n',
    });
    const repo = await kubectlJson<{
      spec: {
        replicas: number;
        template: { spec: { containers: { name: string; resources?: unknown; args?: string[] }[] } };
      };
    }>(['get', 'deployment', 'argocd-repo-server', '-n', argoNs]);
    expect(repo.spec.replicas).toBe(2);
    const main = repo.spec.template.spec.containers.find((c) => c.name === 'argocd-repo-server')!;
    expect(main.resources).toEqual({ requests: { cpu: '250m', memory: '256Mi' } });
    expect(main.args?.slice(-2)).toEqual(['--parallelismlimit', '4']);
    const secret = await kubectlJson<Meta>(['get', 'secret', 'argocd-oidc', '-n', argoNs]);
    expect(secret.metadata.labels?.['app.kubernetes.io/part-of']).toBe('argocd');
    // The secret value never appears in what the run printed.
    expect(`${res.stdout}${res.stderr}`).not.toContain('s3cr3t-value');
    // The user's Secret is not the bootstrap's to delete.
    expect((await inventory()).members.some((m) => m.name === 'argocd-oidc')).toBe(false);
  });

  it("keeps a user's own key, moves nothing on a re-run, and removes a key taken out of the config", async () => {
    await kubectlPatch('configmap', 'argocd-cm', argoNs, 'merge', {
      data: { 'users.anonymous.enabled': 'false' },
    });
    const cfg = config({ envs: [envA], settings, sso, url, components });
    const rv = async () =>
      (await kubectlJson<Meta>(['get', 'configmap', 'argocd-cm', '-n', argoNs])).metadata.resourceVersion;
    const before = await rv();
    const again = await run('apply', cfg, 'sso-again');
    expect(again.report?.changes).toMatchObject({ created: 0, updated: 0, deleted: 0 });
    expect(await rv()).toBe(before);
    expect((await data('argocd-cm'))['users.anonymous.enabled']).toBe('false');

    const fewer = config({
      envs: [envA],
      settings: { ...settings, cm: {} },
      sso: { ...sso, disableAdmin: false },
      url,
    });
    expect((await run('apply', fewer, 'sso-fewer')).code).toBe(0);
    const cm = await data('argocd-cm');
    expect(cm['timeout.reconciliation']).toBeUndefined();
    expect(cm['admin.enabled']).toBeUndefined();
    expect(cm['users.anonymous.enabled']).toBe('false');
    expect(cm['oidc.config']).toContain('clientID: "argocd"');
    // The component settings taken out: the manifest's values come back.
    const repo = await kubectlJson<{ spec: { replicas: number } }>([
      'get',
      'deployment',
      'argocd-repo-server',
      '-n',
      argoNs,
    ]);
    expect(repo.spec.replicas).toBe(1);
  });
});

/**
 * No standing power to grant rights (issue 21), on the KWOK tier's real API server:
 * - after `helm install` and `helm upgrade`, with and without `schedule.enabled` (real helm, real hooks: KWOK
 *   completes the hook Job's pod, so Helm deletes the hook RBAC as it would), every identity of the release
 *   namespace (its ServiceAccounts, and the hook's names) is asked of the API server (SelfSubjectRulesReview
 *   as that identity, in every namespace the chart touches): no bind, escalate, impersonate, no create of
 *   anything, no write of RBAC objects, pods or workloads, no write and no Secret read in Argo CD's namespace;
 * - with each standing ServiceAccount's own token (TokenRequest), binding `cluster-admin` and Argo CD's
 *   application controller ClusterRole cluster-wide, and `admin` in an environment namespace, is refused (403);
 * - the scheduled run itself (`apply --scope drift`, the CronJob's args) works with nothing but the scheduled
 *   RBAC: a hand edit of an environment namespace's label is set back; hand edits of an Argo CD ConfigMap and
 *   an Application are reported not ready, naming the object and `helm upgrade`, and not written (audit log).
 * The figures go to .e2e/figures/standing-rights.json (support/rights.ts) for docs/reliability.md.
 */
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFigures } from '../support/figures.ts';
import { unusedSourceSecret } from '../support/ssh-keys.ts';
import { runCli, writeConfig } from './support/bootstrap.ts';
import { CHART, ciScenarios, helm, helmOk, render, valuesFile } from './support/helm.ts';
import {
  grantingRules,
  type RulesReviewRule,
  rulesOf,
  type StandingRightsFigures,
  writeStandingRightsFigures,
} from './support/rights.ts';
import {
  auditEvents,
  auditMark,
  dataOf,
  kubectl,
  kubectlJson,
  kubectlPatch,
  serviceAccountKubeconfig,
  target,
  uniqueName,
  writes,
} from './support/target.ts';

const id = uniqueName('s').slice(2);
const release = 'sdb';
const base = ciScenarios().find((s) => s.name === 'default')!.file;
const figures: StandingRightsFigures = {
  checked: [],
  identitiesThatCanGrantRights: 0,
  bindAttempts: 0,
  bindAttemptsRefused: 0,
};
const cleanup: string[] = [];
const releases: { name: string; ns: string }[] = [];

/** One release's namespaces and values. */
function setup(tag: string) {
  const ns = `sr-${tag}-${id}`;
  const s = {
    ns,
    argoNs: `sr-${tag}-argocd-${id}`,
    seldonNs: `sr-${tag}-seldon-${id}`,
    envNs: `sr-${tag}-env-${id}`,
    values: (schedule: boolean) =>
      valuesFile(`sr-${tag}-${schedule}`, {
        schedule: { enabled: schedule },
        config: {
          argocd: { namespace: s.argoNs, rolloutTimeout: '4m', virtualService: { enabled: false } },
          git: { repoUrl: 'ssh://git@git.example.com/acme/gitops.git', verify: false },
          environments: { namespaces: [s.envNs], logging: { enabled: false }, waitForSync: false },
          seldonDeploy: { namespace: s.seldonNs },
        },
      }),
  };
  return s;
}
type Setup = ReturnType<typeof setup>;

async function prepare(s: Setup): Promise<string> {
  for (const n of [s.ns, s.seldonNs]) await kubectl(['create', 'namespace', n]);
  cleanup.push(s.ns, s.seldonNs, s.envNs, s.argoNs);
  const source = unusedSourceSecret(s.ns, 'sd-standing-key-');
  await kubectl(['apply', '-f', '-'], { input: JSON.stringify(source.secret) });
  return source.keyDir;
}

/** Every identity of the release namespace: its ServiceAccounts, and the names of the hooks' (gone or not). */
async function identities(s: Setup): Promise<string[]> {
  const sas = await kubectlJson<{ items: { metadata: { name: string } }[] }>([
    'get',
    'serviceaccounts',
    '-n',
    s.ns,
  ]);
  const names = new Set(sas.items.map((i) => i.metadata.name));
  for (const suffix of ['', '-uninstall', '-test', '-scheduled'])
    names.add(`${release}-sd-gitops-bootstrap${suffix}`);
  return [...names].sort();
}

/** Asks the API server, identity by identity and namespace by namespace; records the figures. */
async function expectNoneCanGrant(s: Setup, after: string): Promise<string[]> {
  const findings: string[] = [];
  const namespaces = [s.ns, s.argoNs, s.seldonNs, s.envNs, 'default', 'kube-system'];
  for (const name of await identities(s)) {
    const user = `system:serviceaccount:${s.ns}:${name}`;
    const own: string[] = [];
    for (const namespace of namespaces)
      own.push(...grantingRules(await rulesOf(user, namespace), namespace, s.argoNs));
    figures.checked.push({ identity: user, after });
    if (own.length > 0) figures.identitiesThatCanGrantRights++;
    findings.push(...own.map((f) => `${name}: ${f}`));
  }
  return findings;
}

/** kubectl with a ServiceAccount's own token (TokenRequest), never the admin's. */
async function asServiceAccount(kubeconfig: string, args: string[]) {
  const r = await execa(join(target().binDir, 'kubectl'), ['--kubeconfig', kubeconfig, ...args], {
    reject: false,
  });
  return { code: r.exitCode ?? 1, out: `${r.stdout}${r.stderr}` };
}

/** With each standing ServiceAccount's token: bind cluster-admin-equivalent rights; every attempt is a 403. */
async function expectBindingsRefused(s: Setup, keyDir: string): Promise<string[]> {
  const accepted: string[] = [];
  const sas = await kubectlJson<{ items: { metadata: { name: string } }[] }>([
    'get',
    'serviceaccounts',
    '-n',
    s.ns,
  ]);
  for (const { name } of sas.items.map((i) => i.metadata)) {
    const kubeconfig = await serviceAccountKubeconfig(s.ns, name, join(keyDir, `${name}.kubeconfig`));
    const subject = `--serviceaccount=${s.ns}:${name}`;
    const attempts = [
      ['create', 'clusterrolebinding', `sr-admin-${id}`, '--clusterrole=cluster-admin', subject],
      [
        'create',
        'clusterrolebinding',
        `sr-argo-${id}`,
        '--clusterrole=argocd-application-controller',
        subject,
      ],
      ['create', 'rolebinding', `sr-env-${id}`, '-n', s.envNs, '--clusterrole=admin', subject],
    ];
    for (const args of attempts) {
      const r = await asServiceAccount(kubeconfig, args);
      figures.bindAttempts++;
      if (r.code !== 0 && /forbidden/i.test(r.out)) figures.bindAttemptsRefused++;
      else accepted.push(`${name}: kubectl ${args.join(' ')} → ${r.out.trim()}`);
    }
  }
  return accepted;
}

afterAll(async () => {
  writeStandingRightsFigures(figures);
  writeFigures('rights', {
    source: 'test/e2e/standing-rights.test.ts',
    complete: figures.checked.length > 0 && figures.bindAttempts > 0,
    figures: [
      {
        label:
          'identities that can grant rights after helm install and helm upgrade, with and without the schedule',
        value: figures.identitiesThatCanGrantRights,
        must: 0,
      },
      { label: 'identity checks (identity × event)', value: figures.checked.length },
      {
        label: 'attempts to bind cluster-admin-equivalent rights with a standing identity’s token',
        value: figures.bindAttempts,
      },
      {
        label: 'of those, refused by the API server',
        value: figures.bindAttemptsRefused,
        must: figures.bindAttempts,
      },
    ],
  });
  for (const r of releases) await helm(['uninstall', r.name, '-n', r.ns, '--no-hooks']);
  for (const n of cleanup) await kubectl(['delete', 'namespace', n, '--wait=false', '--ignore-not-found']);
});

describe('no identity that outlives a run can grant rights', () => {
  const install = async (s: Setup, verb: 'install' | 'upgrade', schedule: boolean) => {
    if (verb === 'install') releases.push({ name: release, ns: s.ns });
    await helmOk(
      [verb, release, CHART, '-n', s.ns, '-f', base, '-f', s.values(schedule), '--wait', '--timeout', '3m'],
      { timeoutMs: 240_000 },
    );
  };

  it("the check can fail: it finds the hook Job's rules (what the schedule held before) granting rights", async () => {
    const s = setup('probe');
    const hooks = (await render(release, s.ns, [base, s.values(false)])).filter(
      (o) => (o.kind === 'ClusterRole' || o.kind === 'Role') && o.metadata.annotations?.['helm.sh/hook'],
    ) as unknown as { kind: string; metadata: { namespace?: string }; rules: RulesReviewRule[] }[];
    const found = hooks.flatMap((o) =>
      grantingRules(o.rules, o.kind === 'Role' ? o.metadata.namespace! : '*', s.argoNs),
    );
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringContaining('bind/escalate/impersonate'),
        expect.stringContaining('create (cannot be limited to names)'),
        expect.stringContaining("writes in Argo CD's namespace"),
        expect.stringContaining("reads Secrets in Argo CD's namespace"),
      ]),
    );
  });

  it.each([false, true])(
    'helm install, then helm upgrade (schedule.enabled %s): no identity can grant rights, and binding with their tokens is refused',
    async (schedule) => {
      const s = setup(schedule ? 'on' : 'off');
      const keyDir = await prepare(s);
      await install(s, 'install', schedule);
      expect(await expectNoneCanGrant(s, `helm install, schedule ${schedule}`)).toEqual([]);
      expect(await expectBindingsRefused(s, keyDir)).toEqual([]);
      await install(s, 'upgrade', schedule);
      expect(await expectNoneCanGrant(s, `helm upgrade, schedule ${schedule}`)).toEqual([]);
      expect(await expectBindingsRefused(s, keyDir)).toEqual([]);
      if (schedule) {
        const sas = await kubectl(['get', 'serviceaccounts', '-n', s.ns, '-o', 'name']);
        expect(sas).toContain(`serviceaccount/${release}-sd-gitops-bootstrap-scheduled`);
      }
    },
    600_000,
  );
});

describe('the scheduled run (apply --scope drift) with nothing but the scheduled RBAC', () => {
  const s = setup('drift');
  let keyDir: string;

  beforeAll(async () => {
    keyDir = await prepare(s);
    // The release with the schedule, its hooks skipped (the hook Job would not run here): the full run is
    // the admin's, the scheduled one the CronJob's ServiceAccount's, with the chart's standing RBAC only.
    releases.push({ name: release, ns: s.ns });
    await kubectl(['create', 'namespace', s.argoNs]);
    await helmOk(['install', release, CHART, '-n', s.ns, '-f', base, '-f', s.values(true), '--no-hooks']);
  }, 240_000);

  it('sets back a hand-edited namespace label; reports hand edits in Argo CD’s namespace without writing them', async () => {
    const cm = await dataOf('configmap', `${release}-sd-gitops-bootstrap-config`, s.ns);
    const configFile = writeConfig(`standing-${id}`, cm['config.yaml']!);
    const full = await runCli(['apply', '--config', configFile, '--output', 'json'], {
      kubeconfig: target().kubeconfig,
      env: { POD_NAMESPACE: s.ns },
    });
    expect(full.code, full.stderr.slice(-3000)).toBe(0);

    // The CronJob runs exactly this.
    const cron = (await render(release, s.ns, [base, s.values(true)])).find(
      (o) => o.kind === 'CronJob',
    ) as unknown as {
      spec: { jobTemplate: { spec: { template: { spec: { containers: { args: string[] }[] } } } } };
    };
    const args = cron.spec.jobTemplate.spec.template.spec.containers[0]!.args;
    expect(args).toEqual(['apply', '--scope', 'drift']);

    // Hand edits.
    await kubectl(['label', 'namespace', s.envNs, '--overwrite', 'seldon.gitops=disabled']);
    await kubectlPatch('configmap', 'argocd-cmd-params-cm', s.argoNs, 'merge', {
      data: { 'server.rootpath': '/elsewhere' },
    });
    const app = `seldon-gitops-${s.envNs}`;
    await kubectlPatch('applications.argoproj.io', app, s.argoNs, 'merge', {
      spec: { destination: { namespace: 'kube-system' } },
    });

    const sa = `${release}-sd-gitops-bootstrap-scheduled`;
    const kubeconfig = await serviceAccountKubeconfig(s.ns, sa, join(keyDir, 'scheduled.kubeconfig'));
    const mark = auditMark();
    const r = await runCli([...args, '--config', configFile, '--output', 'json'], {
      kubeconfig,
      env: { POD_NAMESPACE: s.ns },
    });
    expect(r.code, `${r.stdout}\n${r.stderr.slice(-3000)}`).toBe(1);
    const failing = (r.report?.checks ?? []).filter((c) => c.required && !c.ready);
    expect(failing.map((c) => c.id).sort()).toEqual(
      [`drift.application.${s.argoNs}.${app}`, `drift.configmap.${s.argoNs}.argocd-cmd-params-cm`].sort(),
    );
    for (const c of failing) expect(c.message).toContain('run `helm upgrade` to repair');
    expect(failing.find((c) => c.id.includes('argocd-cmd-params-cm'))!.message).toContain(
      'data.server.rootpath',
    );

    // Set back: the namespace label. Not written: Argo CD's objects.
    const ns = await kubectlJson<{ metadata: { labels: Record<string, string> } }>([
      'get',
      'namespace',
      s.envNs,
    ]);
    expect(ns.metadata.labels['seldon.gitops']).toBe('enabled');
    const params = await dataOf('configmap', 'argocd-cmd-params-cm', s.argoNs);
    expect(params['server.rootpath']).toBe('/elsewhere');
    const live = await kubectlJson<{ spec: { destination: { namespace: string } } }>([
      'get',
      'applications.argoproj.io',
      app,
      '-n',
      s.argoNs,
    ]);
    expect(live.spec.destination.namespace).toBe('kube-system');
    // The report is in its ConfigMap (patched by name).
    const report = JSON.parse(
      (await dataOf('configmap', 'sd-gitops-bootstrap-report', s.ns))['report.json']!,
    ) as {
      ready: boolean;
    };
    expect(report.ready).toBe(false);
    if (target().auditLog) {
      // Every write of the scheduled identity: the namespace, the report and the Lease; nothing in Argo CD's
      // namespace, no create, no read of a Secret there.
      const events = auditEvents({ since: mark, user: `system:serviceaccount:${s.ns}:${sa}` });
      const written = writes(events).map((e) => `${e.verb} ${e.objectRef?.resource}/${e.objectRef?.name}`);
      expect(written).toEqual(expect.arrayContaining([`patch namespaces/${s.envNs}`]));
      expect(writes(events).filter((e) => e.objectRef?.namespace === s.argoNs)).toEqual([]);
      expect(written.filter((w) => w.startsWith('create '))).toEqual([]);
      expect(
        events.filter((e) => e.objectRef?.resource === 'secrets' && e.objectRef?.namespace === s.argoNs),
      ).toEqual([]);
    }
  }, 600_000);
});

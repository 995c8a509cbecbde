/**
 * Single sign-on against a real OpenID Provider (issue #12 item 5): the chart's default install on kind (Argo
 * CD v3.5.1 in pods) with `argocd.sso` pointing at the OpenID-certified `oidc-provider` package, served over
 * HTTPS with a CA made at run time, in a container on the cluster's network (tools/hosts/oidc-host.ts) —
 * trusted by argocd-server through `argocd.sso.rootCA` (oidc.config `rootCA`). The client secret is in a
 * Secret the config references; the provider knows static users with groups.
 *
 * The browser is a pod (test/e2e-kind/support/oidc-flow.ts, an HTTP client with a cookie jar), so it reaches the
 * provider by the same issuer URL as argocd-server and Argo CD by its Service, which is Argo CD's URL
 * here (argocd.url, argocd-cm `url`: the redirect URI is `<url>/auth/callback`). For each user it goes
 * `/argocd/auth/login` → the provider's authorize → login form → consent → `/argocd/auth/callback`, takes
 * the `argocd.token` cookie Argo CD sets, and calls Argo CD's API with it as the user:
 *
 * - a user of the group mapped to role:readonly lists the Applications but may not sync one (403);
 * - a user of the group mapped to role:admin may (a dry-run sync, 200);
 * - a user of no mapped group logs in but sees no Application and may not sync;
 * - a wrong password ends at the provider (401): no token.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GitSshServer, sourceSecret, startGitSshServer } from '../../tools/git/git-ssh-server.ts';
import { type GitHost, startGitHost } from '../../tools/hosts/git-host.ts';
import { type OidcHost, startOidcHost } from '../../tools/hosts/oidc-host.ts';
import { valuesFile } from '../e2e/support/helm.ts';
import { kubectl, kubectlJson, target } from '../e2e/support/target.ts';
import {
  createNamespace,
  defaultScenario,
  imageValues,
  install,
  notReady,
  oneEnvironment,
  publishArgocdImages,
  RESTRICTED,
  releaseNames,
  removeDefaultInstall,
  report,
} from './support/chart.ts';
import { apply } from './support/cluster.ts';
import { kind, type LoadedProjectImage, projectImage } from './support/kind.ts';
import type { UserOutcome } from './support/oidc-flow.ts';

const onKind = !!target().kind;

function say(msg: string): void {
  process.stderr.write(`[sso] ${msg}\n`);
}

/** Argo CD as the browser pod reaches it: its Service, under the chart's root path. */
const ARGOCD_URL = 'http://argocd-server.argocd.svc/argocd';

describe.skipIf(!onKind)('SSO: a real OpenID Provider logs users into real Argo CD with their role', () => {
  const { id, ns, seldonNs, env, app } = releaseNames('sso');
  const browserNs = `browser-sso-${id}`;
  const pw = () => randomBytes(12).toString('hex');
  const users = {
    admin: { username: 'ada', password: pw(), email: 'ada@example.com', groups: ['sd-admins'] },
    viewer: { username: 'vic', password: pw(), email: 'vic@example.com', groups: ['sd-viewers'] },
    outsider: { username: 'oli', password: pw(), email: 'oli@example.com', groups: ['interns'] },
  };
  let image: LoadedProjectImage;
  let gitHost: GitHost;
  let git: GitSshServer;
  let oidc: OidcHost;
  let installed: Awaited<ReturnType<typeof install>>;

  /** Runs the browser pod for these logins; its lines, one per user. */
  async function browse(logins: { username: string; password: string }[]): Promise<UserOutcome[]> {
    const pod = `browser-${randomBytes(3).toString('hex')}`;
    await apply({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: pod, namespace: browserNs },
      stringData: { users: JSON.stringify(logins) },
    });
    await apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: pod, namespace: browserNs },
      spec: {
        restartPolicy: 'Never',
        securityContext: {
          runAsNonRoot: true,
          runAsUser: 10001,
          seccompProfile: { type: 'RuntimeDefault' },
        },
        containers: [
          {
            name: 'browser',
            image: image.upstream,
            imagePullPolicy: 'Never',
            command: ['node', '/flow/oidc-flow.ts'],
            env: [
              { name: 'ARGOCD_URL', value: ARGOCD_URL },
              { name: 'FLOW_APP', value: app },
              // The passwords from a Secret, not in the pod's spec.
              { name: 'FLOW_USERS', valueFrom: { secretKeyRef: { name: pod, key: 'users' } } },
              { name: 'NODE_EXTRA_CA_CERTS', value: '/flow/ca.crt' },
            ],
            securityContext: {
              allowPrivilegeEscalation: false,
              readOnlyRootFilesystem: true,
              capabilities: { drop: ['ALL'] },
            },
            volumeMounts: [{ name: 'flow', mountPath: '/flow', readOnly: true }],
          },
        ],
        volumes: [{ name: 'flow', configMap: { name: 'browser' } }],
      },
    });
    await kubectl([
      'wait',
      '-n',
      browserNs,
      `pod/${pod}`,
      '--for=jsonpath={.status.phase}=Succeeded',
      '--timeout=180s',
    ]).catch(async (err: Error) => {
      const logs = await kubectl(['logs', '-n', browserNs, pod]).catch((e: Error) => e.message);
      throw new Error(`browser pod did not succeed: ${err.message}\n${logs}`);
    });
    const logs = await kubectl(['logs', '-n', browserNs, pod]);
    return logs
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as UserOutcome);
  }

  beforeAll(async () => {
    image = await projectImage();
    await publishArgocdImages();

    gitHost = await startGitHost({ network: kind().network, clusterId: kind().id, log: say });
    git = await startGitSshServer({ on: gitHost, root: join(gitHost.dir, 'ssh') });
    const repoUrl = git.createRepo('gitops', {
      [`${env}/cm.yaml`]: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-git\ndata:\n  n: "0"\n',
    });
    const clientSecret = randomBytes(24).toString('hex');
    oidc = await startOidcHost({
      network: kind().network,
      clusterId: kind().id,
      client: { id: 'argocd', secret: clientSecret, redirectUri: `${ARGOCD_URL}/auth/callback` },
      users: Object.values(users),
    });
    say(`OpenID Provider ${oidc.issuer}; Git over SSH ${repoUrl}`);

    await createNamespace('argocd');
    // The install waits until the Application is synced, so that the admin's dry-run sync meets no
    // operation of the automated sync still running; for that the Git host is in Argo CD's known hosts
    // already when its repo-server starts (as in webhooks.test.ts).
    await apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'argocd-ssh-known-hosts-cm', namespace: 'argocd' },
      data: { ssh_known_hosts: git.knownHosts },
    });
    // The client secret, by reference (argocd.sso.clientSecret.secretRef): the bootstrap only labels it.
    await apply({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'argocd-oidc', namespace: 'argocd' },
      stringData: { clientSecret },
    });
    await createNamespace(ns, RESTRICTED);
    await createNamespace(seldonNs);
    await createNamespace(browserNs);
    await apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'browser', namespace: browserNs },
      data: {
        'oidc-flow.ts': readFileSync(join(import.meta.dirname, 'support/oidc-flow.ts'), 'utf8'),
        'ca.crt': oidc.caPem,
      },
    });
    await apply(sourceSecret(git, ns));
    const values = valuesFile('kind-sso', {
      ...imageValues(image),
      config: {
        argocd: {
          url: ARGOCD_URL,
          sso: {
            enabled: true,
            name: 'sd-e2e',
            issuer: oidc.issuer,
            clientID: 'argocd',
            clientSecret: { secretRef: { name: 'argocd-oidc', key: 'clientSecret' } },
            rootCA: oidc.caPem,
            groups: { 'sd-admins': 'role:admin', 'sd-viewers': 'role:readonly' },
          },
        },
        ...oneEnvironment(repoUrl, env, seldonNs),
      },
    });
    installed = await install(ns, [defaultScenario(), values]);
    say(`helm install --wait (Argo CD, SSO): ${installed.seconds.toFixed(1)}s`);
  }, 30 * 60_000);

  afterAll(async () => {
    await kubectl(['delete', 'namespace', browserNs, '--wait=false']).catch(() => {});
    await oidc?.stop();
    await git?.stop();
    await gitHost?.stop();
    await removeDefaultInstall(ns, [seldonNs, env]);
  }, 600_000);

  it('the Job wrote oidc.config with the provider, its CA and the secret by reference; the report is ready', async () => {
    expect(installed.code, `${installed.stderr}\n${installed.logs}`).toBe(0);
    const r = await report(ns);
    expect(notReady(r)).toEqual([]);
    expect(r.checks.find((c) => c.id === 'argocd.sso')?.ready).toBe(true);
    const cm = await kubectlJson<{ data: Record<string, string> }>([
      'get',
      'configmap',
      'argocd-cm',
      '-n',
      'argocd',
    ]);
    expect(cm.data['oidc.config']).toContain(`issuer: "${oidc.issuer}"`);
    expect(cm.data['oidc.config']).toContain('clientSecret: "$argocd-oidc:clientSecret"');
    expect(cm.data['oidc.config']).toContain('rootCA: "-----BEGIN CERTIFICATE-----');
    expect(cm.data.url).toBe(ARGOCD_URL);
  });

  it('each user logs in through the provider and gets exactly the role of their group', {
    timeout: 10 * 60_000,
  }, async () => {
    const t0 = Date.now();
    const [viewer, admin, outsider, wrong] = await browse([
      users.viewer,
      users.admin,
      users.outsider,
      { username: users.viewer.username, password: 'not-the-password' },
    ]);
    say(`four logins and their API calls in one pod: ${((Date.now() - t0) / 1000).toFixed(1)}s`);
    for (const o of [viewer, admin, outsider, wrong])
      say(`login flow of ${o?.user} completed in ${o?.login.seconds}s (status ${o?.login.status})`);
    const why = (o: UserOutcome | undefined) => `${JSON.stringify(o)}\nprovider: ${oidc.errors().join('; ')}`;

    // The browser flow, hop by hop, for each user who got in.
    for (const [user, o] of [
      [users.viewer, viewer],
      [users.admin, admin],
      [users.outsider, outsider],
    ] as const) {
      expect(o?.login.token, why(o)).toBe(true);
      const hops = o!.login.steps.map((s) => s.replace(/\/interaction\/[^/ ]+/, '/interaction/<uid>'));
      expect(hops[0]).toBe('GET argocd-server.argocd.svc/argocd/auth/login → 303');
      expect(hops[1]).toBe('GET oidc.sd-e2e.internal/auth → 303');
      expect(hops).toContain('POST oidc.sd-e2e.internal/interaction/<uid>/login → 303');
      expect(hops).toContain('POST oidc.sd-e2e.internal/interaction/<uid>/confirm → 303');
      expect(hops).toContain('GET argocd-server.argocd.svc/argocd/auth/callback → 303');
      expect(o!.login.callback).toBe(`${ARGOCD_URL}/auth/callback`);
      // Argo CD's own view of the caller: the provider's user (its email, Argo CD's name for an OIDC user).
      expect(o!.userinfo).toMatchObject({
        status: 200,
        loggedIn: true,
        username: user.email,
        iss: oidc.issuer,
      });
    }
    expect(viewer!.userinfo?.groups).toEqual(['sd-viewers']);
    expect(admin!.userinfo?.groups).toEqual(['sd-admins']);

    // role:readonly: may read, may not sync.
    expect(viewer!.applications, why(viewer)).toEqual({ status: 200, names: [app] });
    expect(viewer!.sync?.status, why(viewer)).toBe(403);
    expect(String(viewer!.sync?.error)).toMatch(/permission denied/);
    // role:admin: may sync.
    expect(admin!.applications, why(admin)).toEqual({ status: 200, names: [app] });
    expect(admin!.sync, why(admin)).toEqual({ status: 200 });
    // No mapped group: logged in, but no role.
    expect(outsider!.applications, why(outsider)).toEqual({ status: 200, names: [] });
    expect(outsider!.sync?.status, why(outsider)).toBe(403);
    // A wrong password stops at the provider.
    expect(wrong?.login.token, why(wrong)).toBe(false);
    expect(wrong?.login.status).toBe(401);
    expect(oidc.logins()).toEqual([
      { login: 'vic', ok: true },
      { login: 'ada', ok: true },
      { login: 'oli', ok: true },
      { login: 'vic', ok: false },
    ]);
  });
});

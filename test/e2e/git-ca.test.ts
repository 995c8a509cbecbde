/**
 * An HTTPS Git server behind a private CA (the suite's nginx + git http-backend, its CA made at run time),
 * on the KWOK cluster: without `git.caBundle` the repository check fails and says what to set; with the CA
 * in a ConfigMap named by `git.caBundle.configMapRef` the check trusts it (no `insecure` anywhere: git
 * verifies the certificate against that CA) and Argo CD gets it in argocd-tls-certs-cm under the
 * repository's host, next to another host's entry that stays; a second run changes nothing there. Behind
 * an HTTPS proxy (the variables the chart's `proxy` values set) git tunnels to the server through it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReadinessReport } from '../../src/report/types.ts';
import {
  type GitHttpsServer,
  gitHttpsMissing,
  startGitHttpsServer,
} from '../../tools/git/git-https-server.ts';
import { runCli, writeConfig } from './support/bootstrap.ts';
import { kubectl, kubectlJson, target, uniqueName } from './support/target.ts';

const GIT_TEST_IDENTITY = {
  GIT_AUTHOR_NAME: 'e2e',
  GIT_AUTHOR_EMAIL: 'e2e@example.com',
  GIT_COMMITTER_NAME: 'e2e',
  GIT_COMMITTER_EMAIL: 'e2e@example.com',
  GIT_CONFIG_GLOBAL: '/dev/null',
};

const missing = gitHttpsMissing();
if (missing && process.env.CI) throw new Error(`git-ca test: ${missing}`);
if (missing) console.log(`git-ca test skipped: ${missing}`);

type ConfigMap = { metadata: { resourceVersion: string }; data?: Record<string, string> };

describe.skipIf(!!missing)('git.caBundle: an HTTPS Git server behind a private CA', () => {
  const id = uniqueName('x').slice(2);
  const ns = `ca-run-${id}`;
  const envNs = `ca-env-${id}`;
  const argo = 'argocd';
  const dir = mkdtempSync(join(tmpdir(), 'sd-git-ca-'));
  let server: GitHttpsServer;
  let repoUrl: string;
  // Another host's CA, put there by someone else: it must stay.
  const OTHER_HOST = 'git.other.example.com';
  let otherPem: string;

  const config = (caBundle?: unknown) => ({
    argocd: { rolloutTimeout: '4m' },
    git: {
      repoUrl,
      credentials: { secretRef: { name: 'gitops-https-token' } },
      ...(caBundle ? { caBundle } : {}),
    },
    environments: { namespaces: [envNs], logging: { enabled: false }, waitForSync: false },
    seldonDeploy: { namespace: ns },
  });
  const apply = async (name: string, c: unknown) => {
    const r = await runCli(['apply', '--config', writeConfig(name, c), '--output', 'json'], {
      kubeconfig: target().kubeconfig,
      env: { POD_NAMESPACE: ns },
    });
    return r as typeof r & { report: ReadinessReport };
  };
  const check = (r: { report?: ReadinessReport }, id: string) => r.report?.checks.find((c) => c.id === id);
  const tlsCerts = () => kubectlJson<ConfigMap>(['get', 'configmap', 'argocd-tls-certs-cm', '-n', argo]);

  beforeAll(async () => {
    // A bare repository with the environment's folder, served over HTTPS.
    const repos = join(dir, 'repos');
    const work = join(dir, 'work');
    const git = (cwd: string, ...args: string[]) =>
      execFileSync('git', args, { cwd, env: { ...process.env, ...GIT_TEST_IDENTITY }, stdio: 'pipe' });
    execFileSync('mkdir', ['-p', repos, join(work, envNs)]);
    git(repos, 'init', '-q', '--bare', '-b', 'main', 'gitops.git');
    writeFileSync(
      join(work, envNs, 'configmap.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n',
    );
    git(work, 'init', '-q', '-b', 'main');
    git(work, 'add', '.');
    git(work, 'commit', '-q', '-m', 'environment');
    git(work, 'push', '-q', join(repos, 'gitops.git'), 'main');
    server = await startGitHttpsServer({ reposDir: repos });
    repoUrl = `${server.baseUrl}/gitops.git`;
    otherPem = server.caCert; // any PEM will do for the other host's entry

    for (const n of [ns, envNs, argo]) await kubectl(['create', 'namespace', n]).catch(() => undefined);
    await kubectl([
      '-n',
      ns,
      'create',
      'secret',
      'generic',
      'gitops-https-token',
      `--from-literal=username=${server.username}`,
      `--from-literal=password=${server.token}`,
    ]);
    await kubectl([
      '-n',
      ns,
      'create',
      'configmap',
      'corporate-ca',
      `--from-literal=ca.crt=${server.caCert}`,
    ]);
    // The other host's entry, written by another client (as a platform team would).
    await kubectl(['apply', '--server-side', '--field-manager=platform-team', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'argocd-tls-certs-cm', namespace: argo },
        data: { [OTHER_HOST]: otherPem },
      }),
    });
  }, 300_000);

  afterAll(async () => {
    await server?.stop();
    for (const n of [ns, envNs]) await kubectl(['delete', 'namespace', n, '--wait=false']).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });

  it('without git.caBundle: not ready, the check names the untrusted certificate and git.caBundle', async () => {
    const r = await apply('no-ca', config());
    expect(r.code).toBe(1);
    const reachable = check(r, 'git.repo.reachable');
    expect(reachable?.ready).toBe(false);
    expect(reachable?.message).toMatch(/the TLS certificate of 127\.0\.0\.1 is not trusted/);
    expect(reachable?.message).toContain('git.caBundle');
  }, 600_000);

  it('with the CA in a ConfigMap: the repository check trusts it, and Argo CD gets it by host', async () => {
    const r = await apply('ca', config({ configMapRef: { name: 'corporate-ca' } }));
    expect(check(r, 'git.repo.reachable')).toMatchObject({ ready: true });
    expect(check(r, `git.repo.folder.${envNs}`)).toMatchObject({ ready: true });
    expect(check(r, 'git.tls-certs')).toMatchObject({ ready: true });
    expect(r.stderr).not.toMatch(/insecure|sslVerify/i);
    const cm = await tlsCerts();
    expect(cm.data?.['127.0.0.1']?.trim()).toBe(server.caCert.trim());
    // The other host's entry is still there, untouched.
    expect(cm.data?.[OTHER_HOST]).toBe(otherPem);
    // The only required checks not ready are the ones KWOK cannot make ready (nothing syncs here).
    const failed = r.report.checks.filter((c) => c.required && !c.ready).map((c) => c.id);
    expect(failed).toEqual([]);
  }, 600_000);

  it('a second run changes nothing in argocd-tls-certs-cm', async () => {
    const before = (await tlsCerts()).metadata.resourceVersion;
    const r = await apply('ca-again', config({ configMapRef: { name: 'corporate-ca' } }));
    expect(check(r, 'git.tls-certs')).toMatchObject({ ready: true });
    expect((await tlsCerts()).metadata.resourceVersion).toBe(before);
  }, 600_000);

  it('behind an HTTPS proxy (HTTPS_PROXY, as the chart sets it): git tunnels through it, the CA still verified', async () => {
    // A CONNECT proxy on loopback that records where it tunnels to.
    const tunnels: string[] = [];
    const proxy = createServer();
    proxy.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
      tunnels.push(req.url ?? '');
      const [host, port] = (req.url ?? '').split(':');
      const upstream = connect(Number(port), host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    try {
      const file = writeConfig('ca-proxy', config({ configMapRef: { name: 'corporate-ca' } }));
      const r = await runCli(['apply', '--config', file, '--output', 'json'], {
        kubeconfig: target().kubeconfig,
        env: { POD_NAMESPACE: ns, HTTPS_PROXY: proxyUrl, https_proxy: proxyUrl },
      });
      expect(r.report?.checks.find((c) => c.id === 'git.repo.reachable')).toMatchObject({ ready: true });
      expect(tunnels).toContain(`127.0.0.1:${server.port}`);
    } finally {
      proxy.closeAllConnections();
      await new Promise((resolve) => proxy.close(resolve));
    }
  }, 600_000);

  it('a missing key is named before anything is written (exit 1, preflight)', async () => {
    const r = await apply(
      'ca-bad-key',
      config({ configMapRef: { name: 'corporate-ca', key: 'bundle.pem' } }),
    );
    expect(r.code).toBe(1);
    // The log is JSON here: the quotes around the key are escaped.
    expect(r.stderr).toMatch(
      /ConfigMap \S+\/corporate-ca \(git\.caBundle\.configMapRef\) has no key \\?"bundle\.pem\\?" \(it has \\?"ca\.crt\\?"\): set git\.caBundle\.configMapRef\.key/,
    );
    expect(r.stderr).toContain('this run writes nothing');
  }, 600_000);
});

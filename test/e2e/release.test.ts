/**
 * `npm run release` end to end, against a registry this test starts itself (Debian's `docker-registry`
 * on loopback, plain HTTP): the image is built from the Dockerfile (the `npm run images` machinery, cached
 * by content hash) and pushed, the chart is packaged and pushed beside it, both under package.json's
 * version; then `helm install sd-gitops-bootstrap oci://localhost:PORT/…/sd-gitops-bootstrap --version X`
 * renders and installs the release on the KWOK cluster (KWOK completes the hook Job's pod without running
 * it: the program's run itself is proven in chart.test.ts and on kind, test/e2e-kind/).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLED_VERSIONS } from '../../src/config/bundled.ts';
import { freePort, waitForPort } from '../../tools/git/net.ts';
import { repoRoot } from './support/bootstrap.ts';
import { helm, helmOk, valuesFile } from './support/helm.ts';
import { kubectl, kubectlJson, target, uniqueName } from './support/target.ts';

const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string })
  .version;

/** What the release needs beyond the KWOK cluster: a Docker daemon and Debian's docker-registry. */
function missingPrerequisite(): string | undefined {
  try {
    execFileSync('docker', ['info'], { stdio: 'ignore' });
  } catch {
    return 'a running Docker daemon (docker info failed)';
  }
  try {
    execFileSync('docker-registry', ['--version'], { stdio: 'ignore' });
  } catch {
    return "Debian's docker-registry (apt-get install docker-registry)";
  }
  return undefined;
}
const missing = missingPrerequisite();
if (missing && process.env.CI) throw new Error(`release test: missing ${missing}`);
if (missing) console.log(`release test skipped: install ${missing}`);

describe.skipIf(!!missing)('npm run release to a local OCI registry, then helm install from it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sd-release-e2e-'));
  const ns = uniqueName('release');
  let registry: ChildProcess | undefined;
  let exited: string | undefined;
  let host = '';
  let release: { version: string; image: { ref: string; digest: string }; chart: { ref: string } };

  const registryGet = async (path: string, accept?: string) => {
    const res = await fetch(`http://${host}${path}`, accept ? { headers: { accept } } : {});
    if (!res.ok) throw new Error(`GET ${path}: ${res.status}`);
    return res;
  };

  beforeAll(async () => {
    const port = await freePort();
    host = `localhost:${port}`;
    writeFileSync(
      join(dir, 'registry.json'),
      JSON.stringify({
        version: 0.1,
        log: { level: 'warn', accesslog: { disabled: true } },
        storage: { filesystem: { rootdirectory: join(dir, 'data') } },
        http: { addr: `127.0.0.1:${port}` },
      }),
    );
    registry = spawn('docker-registry', ['serve', join(dir, 'registry.json')], { stdio: 'ignore' });
    registry.once('exit', (code) => {
      exited = `docker-registry exited with ${code}`;
    });
    await waitForPort('docker-registry', '127.0.0.1', port, () => exited);

    // The real command, as a user runs it (helm: the suite's pinned build).
    const r = await execa(
      process.execPath,
      [join(repoRoot, 'scripts', 'release.ts'), '--registry', host, '--plain-http'],
      {
        reject: false,
        env: { HELM: join(target().binDir, 'helm') },
        timeout: 1_500_000,
      },
    );
    if (r.exitCode !== 0)
      throw new Error(`npm run release failed (exit ${r.exitCode}):\n${r.stderr.slice(-4000)}`);
    release = JSON.parse(r.stdout);
  }, 1_600_000);

  afterAll(async () => {
    await helm(['uninstall', 'sd-gitops-bootstrap', '-n', ns]);
    await kubectl(['delete', 'namespace', ns, '--wait=false']).catch(() => {});
    registry?.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  it("pushes the image and the chart under package.json's version, side by side", async () => {
    expect(release.version).toBe(version);
    expect(release.image.ref).toBe(`${host}/seldonio/sd-gitops-bootstrap:${version}`);
    expect(release.chart.ref).toBe(`oci://${host}/seldonio/charts/sd-gitops-bootstrap`);
    const tags = async (repo: string) =>
      ((await (await registryGet(`/v2/${repo}/tags/list`)).json()) as { tags: string[] }).tags;
    expect(await tags('seldonio/sd-gitops-bootstrap')).toEqual([version]);
    expect(await tags('seldonio/charts/sd-gitops-bootstrap')).toEqual([version]);
    // The image's manifest is the one docker pushed (its digest, as a pod's imageID would show).
    const head = await fetch(`http://${host}/v2/seldonio/sd-gitops-bootstrap/manifests/${version}`, {
      method: 'HEAD',
      headers: {
        accept:
          'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json',
      },
    });
    expect(head.headers.get('docker-content-digest')).toBe(release.image.digest);
  });

  it("the image holds the program, git and ssh, and no npm, yarn, corepack or git's Perl", async () => {
    // What README and the Dockerfile promise of the runtime stage, checked in the image itself: the one-file
    // bundle and the manifests beside a package.json, no node_modules, no package managers, none of the Perl
    // git pulls in (perl, perl-modules, libperl: git's C commands need none; Debian's essential perl-base of
    // the base image, /usr/bin/perl, stays), a numeric non-root user.
    const probe = `
      const { existsSync, readdirSync, statSync } = require('node:fs');
      const gone = ['/usr/local/bin/npm', '/usr/local/bin/npx', '/usr/local/bin/yarn', '/usr/local/bin/corepack',
        '/usr/local/lib/node_modules/npm', '/usr/local/lib/node_modules/corepack', '/usr/share/perl',
        '/usr/lib/x86_64-linux-gnu/perl', '/app/node_modules']
        .filter((p) => existsSync(p));
      const have = ['/usr/bin/git', '/usr/bin/ssh', '/app/dist/main.js', '/app/package.json']
        .filter((p) => existsSync(p));
      const yarn = readdirSync('/opt').filter((d) => d.startsWith('yarn'));
      console.log(JSON.stringify({ gone, have, yarn, app: readdirSync('/app').sort(),
        manifests: readdirSync('/app/manifests/argocd').sort(), uid: process.getuid(),
        bundle: statSync('/app/dist/main.js').size }));`;
    const out = execFileSync(
      'docker',
      ['run', '--rm', '--entrypoint', 'node', release.image.ref, '-e', probe],
      {
        encoding: 'utf8',
      },
    );
    const seen = JSON.parse(out) as {
      gone: string[];
      have: string[];
      yarn: string[];
      app: string[];
      manifests: string[];
      uid: number;
      bundle: number;
    };
    expect(seen.gone).toEqual([]);
    expect(seen.yarn).toEqual([]);
    expect(seen.have).toEqual(['/usr/bin/git', '/usr/bin/ssh', '/app/dist/main.js', '/app/package.json']);
    expect(seen.app).toEqual(['dist', 'manifests', 'package.json']);
    expect(seen.manifests).toEqual([...BUNDLED_VERSIONS].sort());
    expect(seen.uid).toBe(10001);
    // The sizes, printed (not asserted): the image and the bundle.
    const size = execFileSync('docker', ['image', 'inspect', '--format', '{{.Size}}', release.image.ref], {
      encoding: 'utf8',
    }).trim();
    console.log(
      `image ${release.image.ref}: ${(Number(size) / 1e6).toFixed(1)} MB, bundle ${(seen.bundle / 1e6).toFixed(2)} MB`,
    );
  });

  it("the chart in the registry is a Helm chart whose appVersion is the image's tag", async () => {
    const manifest = (await (
      await registryGet(
        `/v2/seldonio/charts/sd-gitops-bootstrap/manifests/${version}`,
        'application/vnd.oci.image.manifest.v1+json',
      )
    ).json()) as { config: { mediaType: string; digest: string }; layers: { mediaType: string }[] };
    expect(manifest.config.mediaType).toBe('application/vnd.cncf.helm.config.v1+json');
    expect(manifest.layers.map((l) => l.mediaType)).toContain(
      'application/vnd.cncf.helm.chart.content.v1.tar+gzip',
    );
    const config = (await (
      await registryGet(`/v2/seldonio/charts/sd-gitops-bootstrap/blobs/${manifest.config.digest}`)
    ).json()) as { name: string; version: string; appVersion: string };
    expect(config).toMatchObject({ name: 'sd-gitops-bootstrap', version, appVersion: version });
    // What `helm show chart` says from the registry, and the packaged chart carries no helm-docs template.
    const shown = await helmOk(['show', 'chart', release.chart.ref, '--version', version, '--plain-http']);
    expect(shown).toContain(`appVersion: ${version}`);
    const readme = await helmOk(['show', 'readme', release.chart.ref, '--version', version, '--plain-http']);
    expect(readme).toContain(`oci://ghcr.io/seldonio/charts/sd-gitops-bootstrap --version ${version}`);
  });

  it('helm install oci://…/sd-gitops-bootstrap --version X renders and installs the release', async () => {
    await kubectl(['create', 'namespace', ns]);
    const values = valuesFile('release', {
      image: { repository: `${host}/seldonio/sd-gitops-bootstrap` },
      config: {
        git: { repoUrl: 'ssh://git@git.example.com/acme/gitops.git' },
        environments: { namespaces: [`${ns}-env`] },
        seldonDeploy: { namespace: ns },
      },
    });
    await helmOk([
      'install',
      'sd-gitops-bootstrap',
      release.chart.ref,
      '--version',
      version,
      '--plain-http',
      '-n',
      ns,
      '-f',
      values,
      '--wait',
      '--timeout',
      '3m',
    ]);
    const list = JSON.parse(await helmOk(['list', '-n', ns, '-o', 'json'])) as {
      name: string;
      status: string;
      chart: string;
      app_version: string;
    }[];
    expect(list).toEqual([
      expect.objectContaining({
        name: 'sd-gitops-bootstrap',
        status: 'deployed',
        chart: `sd-gitops-bootstrap-${version}`,
        app_version: version,
      }),
    ]);
    // The hook Job ran (KWOK completed its pod) with the image pushed beside the chart, at its tag.
    const job = await kubectlJson<{
      spec: { template: { spec: { containers: { image: string }[] } } };
      status: { succeeded?: number };
    }>(['get', 'job', 'sd-gitops-bootstrap', '-n', ns]);
    expect(job.spec.template.spec.containers[0]!.image).toBe(release.image.ref);
    expect(job.status.succeeded).toBe(1);
    expect(
      await kubectl(['get', 'configmap', 'sd-gitops-bootstrap-config', '-n', ns, '-o', 'name']),
    ).toContain('sd-gitops-bootstrap-config');
  });
});

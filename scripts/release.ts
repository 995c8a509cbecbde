/**
 * `npm run release -- --registry HOST[:PORT]`: publishes one version of the project to an OCI registry —
 * the image, built from the Dockerfile by the `npm run images` machinery (tools/images/project.ts), and the
 * chart beside it, `helm package` + `helm push` — under package.json's version, which must also be the
 * chart's `version` and `appVersion` (and the Artifact Hub image annotation): one number for everything.
 *
 *   image  <registry>/<namespace>/sd-gitops-bootstrap:<version>
 *   chart  oci://<registry>/<namespace>/charts/sd-gitops-bootstrap, version <version>
 *
 * With the defaults (`ghcr.io`, `seldonio`) the image is the chart's default `image.repository`; from any
 * other registry, install with `--set image.repository=<registry>/<namespace>/sd-gitops-bootstrap`.
 * Credentials are the ones `docker login` and `helm registry login` already hold; `--plain-http` for a
 * registry without TLS (a local one). `HELM` names the helm binary (default: `helm` on PATH).
 * Prints the published references and digests as JSON on stdout.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load } from 'js-yaml';
import { docker, pushRef } from '../tools/images/docker.ts';
import { buildProjectImage } from '../tools/images/project.ts';
import { ensureAll } from '../tools/manifests.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const chartDir = join(root, 'helm', 'sd-gitops-bootstrap');

export const USAGE = `usage: npm run release -- --registry HOST[:PORT] [--namespace NAME] [--plain-http]
  Builds the image from the Dockerfile and pushes it to <registry>/<namespace>/sd-gitops-bootstrap:<version>,
  then packages the chart and pushes it to oci://<registry>/<namespace>/charts (version <version>), where
  <version> is package.json's (= Chart.yaml's version and appVersion). Defaults: --namespace seldonio.`;

export interface ReleaseOptions {
  registry: string;
  namespace?: string;
  plainHttp?: boolean;
  helm?: string;
  log?: (line: string) => void;
}

export interface Release {
  version: string;
  image: { ref: string; digest: string };
  chart: { ref: string; digest: string };
}

/** The one version: package.json's, which Chart.yaml's version, appVersion and image annotation must equal. */
export function releaseVersion(
  pkgJson = readFileSync(join(root, 'package.json'), 'utf8'),
  chartYaml = readFileSync(join(chartDir, 'Chart.yaml'), 'utf8'),
): string {
  const pkg = JSON.parse(pkgJson) as { version: string };
  const chart = load(chartYaml) as {
    version: string;
    appVersion: string;
    annotations?: Record<string, string>;
  };
  const off: string[] = [];
  if (chart.version !== pkg.version) off.push(`Chart.yaml's version is ${chart.version}`);
  if (chart.appVersion !== pkg.version) off.push(`its appVersion is ${chart.appVersion}`);
  const images = (load(chart.annotations?.['artifacthub.io/images'] ?? '[]') ?? []) as { image: string }[];
  if (!images.some((i) => i.image.endsWith(`/sd-gitops-bootstrap:${pkg.version}`)))
    off.push(`its artifacthub.io/images annotation does not name sd-gitops-bootstrap:${pkg.version}`);
  if (off.length > 0)
    throw new Error(
      `package.json's version is ${pkg.version} but ${off.join(', ')}: set all of them to one version before a release`,
    );
  return pkg.version;
}

export async function release(opts: ReleaseOptions): Promise<Release> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`[release] ${line}\n`));
  const namespace = opts.namespace ?? 'seldonio';
  const helm = opts.helm ?? process.env.HELM ?? 'helm';
  const version = releaseVersion();
  const plain = opts.plainHttp ? ['--plain-http'] : [];

  await ensureAll((line) => log(line));
  const built = buildProjectImage();
  const imageRef = `${opts.registry}/${namespace}/sd-gitops-bootstrap:${version}`;
  docker(['tag', built.local, imageRef]);
  const imageDigest = pushRef(imageRef);
  log(`pushed ${imageRef} (${imageDigest})`);

  const out = mkdtempSync(join(tmpdir(), 'sd-release-'));
  try {
    const packaged = execFileSync(helm, ['package', chartDir, '--destination', out], { encoding: 'utf8' });
    const tgz = /to: (\S+\.tgz)/.exec(packaged)?.[1] ?? join(out, `sd-gitops-bootstrap-${version}.tgz`);
    const chartRepo = `oci://${opts.registry}/${namespace}/charts`;
    // helm push reports "Pushed: <ref>" and "Digest: sha256:…" (stdout or stderr, by version).
    const pushed = spawnSync(helm, ['push', tgz, chartRepo, ...plain], { encoding: 'utf8' });
    const text = `${pushed.stdout ?? ''}${pushed.stderr ?? ''}`;
    if (pushed.status !== 0) throw new Error(`helm push to ${chartRepo} failed:\n${text.trim()}`);
    const digest = /Digest: (sha256:[0-9a-f]{64})/.exec(text)?.[1] ?? '';
    const chartRef = `${chartRepo}/sd-gitops-bootstrap`;
    log(`pushed ${chartRef} --version ${version} (${digest})`);
    return {
      version,
      image: { ref: imageRef, digest: imageDigest },
      chart: { ref: chartRef, digest },
    };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const value = (flag: string) => {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const registry = value('--registry');
  if (args.includes('--help') || !registry) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(registry || args.includes('--help') ? 0 : 2);
  }
  try {
    const r = await release({
      registry,
      ...(value('--namespace') ? { namespace: value('--namespace')! } : {}),
      plainHttp: args.includes('--plain-http'),
    });
    process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  } catch (err) {
    process.stderr.write(`[release] ${(err as Error).message}\n`);
    process.exit(1);
  }
}

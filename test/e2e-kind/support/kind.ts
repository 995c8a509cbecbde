/**
 * Helpers of the kind tier: images loaded into the node under their upstream names, the project image, and
 * the CLI run from that image in a container on the cluster's network (where the Git host is reached by
 * name, as the hook Job reaches it).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { ReadinessReport } from '../../../src/report/types.ts';
import { docker, pushAs } from '../../../tools/images/docker.ts';
import { buildProjectImage, type ProjectImage } from '../../../tools/images/project.ts';
import { loadImageInto } from '../../../tools/kind/kind-container.ts';
import type { CliResult } from '../../e2e/support/bootstrap.ts';
import { type KindTarget, target } from '../../e2e/support/target.ts';

export function kind(): KindTarget {
  const k = target().kind;
  if (!k) throw new Error('not a kind cluster (project e2e-kind)');
  return k;
}

/**
 * Tags a locally built image under the upstream name a manifest uses (e.g. `quay.io/argoproj/argocd:v3.5.1`)
 * and loads it into the node, so the manifest runs unchanged and nothing is pulled. Returns the image id.
 */
export async function loadAs(local: string, upstream: string): Promise<string> {
  docker(['tag', local, upstream]);
  await loadImageInto(kind().container, upstream);
  return docker(['image', 'inspect', '--format', '{{.Id}}', upstream]).stdout.trim();
}

/**
 * Makes a locally built image pullable by the node under `upstream`, whatever the pull policy: pushed to
 * the cluster's local registry, which the node's containerd uses for that image's registry
 * (tools/kind/registry.ts). For manifests that say `imagePullPolicy: Always`, as Argo CD's does.
 */
export function publish(local: string, upstream: string): string {
  const registry = target().registry;
  if (!registry) throw new Error('the kind cluster has no local registry');
  return pushAs(registry, local, upstream).digest;
}

export interface LoadedProjectImage extends ProjectImage {
  /** The image's id (`sha256:…`): what the kubelet reports as part of a container's `imageID`. */
  id: string;
}

let project: LoadedProjectImage | undefined;
/** The project image built from the Dockerfile and loaded as the chart's default image name. */
export async function projectImage(): Promise<LoadedProjectImage> {
  if (!project) {
    const built = buildProjectImage();
    project = { ...built, id: await loadAs(built.local, built.upstream) };
  }
  return project;
}

/** The node's own view of an image: the ids containerd knows it by (config digest, repo digests). */
export function nodeImageIds(ref: string): string[] {
  const r = spawnSync('docker', ['exec', kind().container, 'crictl', 'inspecti', '-o', 'json', ref], {
    encoding: 'utf8',
  });
  if (r.status !== 0) return [];
  const status = (JSON.parse(r.stdout) as { status?: { id?: string; repoDigests?: string[] } }).status;
  return [status?.id ?? '', ...(status?.repoDigests ?? [])].filter(Boolean);
}

/**
 * The CLI as users run it in a pod — the project image — but started with `docker run` on the cluster's
 * network: `kubeconfig` (a host-side one) is rewritten to the API server's in-network address, and it and
 * `configFile` (and `files`) are mounted read-only at `/in`. Returns what `runCli` of the KWOK tier returns.
 */
export async function runCliInNetwork(
  args: string[],
  opts: {
    kubeconfig: string;
    configFile?: string;
    env?: Record<string, string>;
    /** More files for the CLI, at `/in/<name>` in its container. */
    files?: Record<string, string>;
    timeoutMs: number;
  },
): Promise<CliResult> {
  const image = await projectImage();
  const dir = mkdtempSync(join(tmpdir(), 'sd-kind-cli-'));
  try {
    chmodSync(dir, 0o755);
    // The image runs as uid 10001: the copies are readable by it (test credentials, a temp dir).
    const kc = readFileSync(opts.kubeconfig, 'utf8').replace(
      /("server":\s*"|server:\s*)https:\/\/[^"\s]+/,
      '$1https://kind-control-plane:6443',
    );
    writeFileSync(join(dir, 'kubeconfig'), kc, { mode: 0o644 });
    for (const [name, content] of Object.entries(opts.files ?? {}))
      writeFileSync(join(dir, name), content, { mode: 0o644 });
    const argv = [...args];
    if (opts.configFile) {
      writeFileSync(join(dir, 'config.yaml'), readFileSync(opts.configFile), { mode: 0o644 });
      const i = argv.indexOf('--config');
      if (i >= 0) argv[i + 1] = '/in/config.yaml';
    }
    const env = { LOG_FORMAT: 'json', LOG_LEVEL: 'info', ...opts.env };
    const res = await execa(
      'docker',
      [
        'run',
        '--rm',
        '--network',
        kind().network,
        '--read-only',
        '--tmpfs',
        '/tmp',
        '-v',
        `${dir}:/in:ro`,
        ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
        image.upstream,
        ...argv,
        '--kubeconfig',
        '/in/kubeconfig',
      ],
      { reject: false, timeout: opts.timeoutMs },
    );
    let report: ReadinessReport | undefined;
    if (res.stdout.trim().startsWith('{')) {
      const parsed = JSON.parse(res.stdout) as { kind?: string };
      if (parsed.kind === 'ReadinessReport') report = parsed as ReadinessReport;
    }
    return { code: res.exitCode ?? 1, stdout: res.stdout, stderr: res.stderr, report };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

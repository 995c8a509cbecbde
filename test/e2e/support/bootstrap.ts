/**
 * Runs the real CLI (`src/main.ts` under Node 24, as a child process, exactly as a user or the Job would)
 * against the e2e target, under a ServiceAccount so RBAC applies and the audit log can attribute its
 * requests.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { dump, loadAll } from 'js-yaml';
import { type UpstreamKey, upstreamPathSync } from '../../../src/manifests/upstream.ts';
import type { ReadinessReport } from '../../../src/report/types.ts';
import { kubectl, serviceAccountKubeconfig } from './target.ts';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
/**
 * A pinned upstream file (Argo CD's install manifests, Istio's CRDs) in the cache outside the repository;
 * the e2e global setups fetch them all first (`npm run manifests` does the same by hand).
 */
export function upstreamFile(key: UpstreamKey): string {
  return upstreamPathSync(key);
}
export const MAIN = join(repoRoot, 'src/main.ts');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** The parsed report when `--output json` printed one. */
  report: ReadinessReport | undefined;
}

const work = mkdtempSync(join(tmpdir(), 'sd-bootstrap-e2e-'));

/** Writes a config object as YAML to a temp file; returns its path. */
export function writeConfig(name: string, config: unknown): string {
  const file = join(work, `${name}.yaml`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, typeof config === 'string' ? config : dump(config));
  return file;
}

export async function runCli(
  args: string[],
  opts: { kubeconfig?: string; env?: Record<string, string> } = {},
): Promise<CliResult> {
  const res = await execa(
    process.execPath,
    [MAIN, ...args, ...(opts.kubeconfig ? ['--kubeconfig', opts.kubeconfig] : [])],
    {
      reject: false,
      env: { LOG_FORMAT: 'json', LOG_LEVEL: 'info', ...opts.env, KUBECONFIG: '' },
      extendEnv: true,
      timeout: 300_000,
    },
  );
  let report: ReadinessReport | undefined;
  if (args.includes('json') && res.stdout.trim().startsWith('{')) {
    const parsed = JSON.parse(res.stdout) as { kind?: string };
    if (parsed.kind === 'ReadinessReport') report = parsed as ReadinessReport;
  }
  return { code: res.exitCode ?? 1, stdout: res.stdout, stderr: res.stderr, report };
}

/**
 * A namespace for one run with a ServiceAccount bound to `clusterRole` (cluster-wide), and a kubeconfig
 * that authenticates as it. Returns the audit username too.
 */
export async function runnerIdentity(
  namespace: string,
  name: string,
  clusterRole: string,
): Promise<{ kubeconfig: string; username: string }> {
  await kubectl(['create', 'serviceaccount', name, '-n', namespace]);
  await kubectl([
    'create',
    'clusterrolebinding',
    `${namespace}-${name}`,
    `--clusterrole=${clusterRole}`,
    `--serviceaccount=${namespace}:${name}`,
  ]);
  const kubeconfig = await serviceAccountKubeconfig(
    namespace,
    name,
    join(work, `${namespace}-${name}.kubeconfig`),
  );
  return { kubeconfig, username: `system:serviceaccount:${namespace}:${name}` };
}

/** Every object of Argo CD's install manifest, parsed. */
export function manifestDocs(version: string): ManifestDoc[] {
  const text = readFileSync(upstreamFile(`argocd/${version}` as UpstreamKey), 'utf8');
  return (loadAll(text) as unknown[]).filter((d): d is ManifestDoc => !!d && typeof d === 'object');
}

export interface ManifestDoc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: unknown;
  [k: string]: unknown;
}

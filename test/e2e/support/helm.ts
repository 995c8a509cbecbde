/**
 * The real `helm` (the pinned build beside kubectl) against the e2e target, and what the chart tests need
 * to reason about the chart: its ci scenarios, rendered objects, RBAC rules as (verb, resource, scope).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CHART, type K8sObject, parseObjects } from '../../support/chart.ts';
import { kubectl, target } from './target.ts';

export {
  CHART,
  chartValues,
  ciScenarios,
  type Grant,
  grantKey,
  grantsOf,
  type K8sObject,
  manifestKinds,
  mergeValues,
  parseObjects,
  readValues,
  valuesFile,
} from '../../support/chart.ts';

const run = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), 'sd-chart-e2e-'));

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs helm against the target's cluster; never throws on a non-zero exit. */
export async function helm(args: string[], opts: { timeoutMs?: number } = {}): Promise<HelmResult> {
  const t = target();
  try {
    const { stdout, stderr } = await run(join(t.binDir, 'helm'), [...args, '--kubeconfig', t.kubeconfig], {
      maxBuffer: 64 * 1024 * 1024,
      timeout: opts.timeoutMs ?? 900_000,
      env: { ...process.env, HELM_CACHE_HOME: join(work, 'cache'), HELM_CONFIG_HOME: join(work, 'config') },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string; message: string };
    return {
      code: typeof e.code === 'number' ? e.code : 1,
      stdout: e.stdout ?? '',
      stderr: e.stderr || e.message,
    };
  }
}

/** helm, failing with its output when it fails. */
export async function helmOk(args: string[], opts: { timeoutMs?: number } = {}): Promise<string> {
  const r = await helm(args, opts);
  if (r.code !== 0) throw new Error(`helm ${args.slice(0, 2).join(' ')} failed:\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

/** The API server's version, for `helm template --kube-version` (helm's offline default is older). */
export async function serverVersion(): Promise<string> {
  const v = JSON.parse(await kubectl(['version', '-o', 'json'])) as { serverVersion: { gitVersion: string } };
  return v.serverVersion.gitVersion;
}

/**
 * `helm template` of the chart with the given values files; returns the rendered objects. Without the
 * `helm test` hooks (`--skip-tests`) unless `opts.tests`: they are not part of an install or upgrade.
 * `lookup`: render as `helm install`/`upgrade` would, reading the cluster (`--dry-run=server`: the
 * chart's RBAC reads the inventory to grant the removals of the run).
 */
export async function render(
  release: string,
  namespace: string,
  files: string[],
  opts: { tests?: boolean; lookup?: boolean } = {},
): Promise<K8sObject[]> {
  const args = ['template', release, CHART, '-n', namespace, '--kube-version', await serverVersion()];
  if (!opts.tests) args.push('--skip-tests');
  if (opts.lookup) args.push('--dry-run=server');
  for (const f of files) args.push('-f', f);
  return parseObjects(await helmOk(args));
}

/** kubectl with stdin, returning exit code, stdout and stderr (warnings go to stderr). */
export async function kubectlResult(args: string[], opts: { input?: string } = {}): Promise<HelmResult> {
  const t = target();
  const child = run(join(t.binDir, 'kubectl'), ['--kubeconfig', t.kubeconfig, ...args], {
    maxBuffer: 64 * 1024 * 1024,
  });
  if (opts.input !== undefined) child.child.stdin?.end(opts.input);
  try {
    const { stdout, stderr } = await child;
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string; message: string };
    return {
      code: typeof e.code === 'number' ? e.code : 1,
      stdout: e.stdout ?? '',
      stderr: e.stderr || e.message,
    };
  }
}

/** Deletes these objects if they exist (e.g. hook objects a test's `helm install --no-hooks` stands in for). */
export async function deleteObjects(objects: K8sObject[]): Promise<void> {
  for (const o of objects)
    await kubectl([
      'delete',
      '--ignore-not-found',
      ...(o.metadata.namespace ? ['-n', o.metadata.namespace] : []),
      `${o.kind.toLowerCase()}/${o.metadata.name}`,
    ]);
}

/**
 * The real `helm` (the pinned build beside kubectl) against the e2e target, and what the chart tests need
 * to reason about the chart: its ci scenarios, rendered objects, RBAC rules as (verb, resource, scope).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { dump, load, loadAll } from 'js-yaml';
import type { UpstreamKey } from '../../../src/manifests/upstream.ts';
import { repoRoot, upstreamFile } from './bootstrap.ts';
import { kubectl, target } from './target.ts';

export const CHART = join(repoRoot, 'helm', 'sd-gitops-bootstrap');
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

/** The `ci/*-values.yaml` scenarios, by name (`default`, `skip`, …). */
export function ciScenarios(): { name: string; file: string }[] {
  return readdirSync(join(CHART, 'ci'))
    .filter((f) => f.endsWith('-values.yaml'))
    .sort()
    .map((f) => ({ name: f.replace(/-values\.yaml$/, ''), file: join(CHART, 'ci', f) }));
}

/** Writes values as a YAML file for `-f`; returns its path. */
export function valuesFile(name: string, values: unknown): string {
  const file = join(work, `${name}-${Date.now().toString(36)}.yaml`);
  writeFileSync(file, dump(values));
  return file;
}

/** The API server's version, for `helm template --kube-version` (helm's offline default is older). */
export async function serverVersion(): Promise<string> {
  const v = JSON.parse(await kubectl(['version', '-o', 'json'])) as { serverVersion: { gitVersion: string } };
  return v.serverVersion.gitVersion;
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  [k: string]: unknown;
}

export function parseObjects(yaml: string): K8sObject[] {
  return (loadAll(yaml) as unknown[]).filter((d): d is K8sObject => !!d && typeof d === 'object');
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

/** Helm's merge of values files onto values.yaml: maps merge, everything else replaces. */
export function mergeValues(...layers: Record<string, unknown>[]): Record<string, unknown> {
  const merge = (a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> => {
    const out: Record<string, unknown> = { ...a };
    for (const [k, v] of Object.entries(b)) {
      const x = out[k];
      out[k] =
        v && typeof v === 'object' && !Array.isArray(v) && x && typeof x === 'object' && !Array.isArray(x)
          ? merge(x as Record<string, unknown>, v as Record<string, unknown>)
          : v;
    }
    return out;
  };
  return layers.reduce(merge, {});
}

export function readValues(file: string): Record<string, unknown> {
  return (load(readFileSync(file, 'utf8')) as Record<string, unknown> | null) ?? {};
}

export function chartValues(): Record<string, unknown> {
  return readValues(join(CHART, 'values.yaml'));
}

/** One granted (or required) permission: `verb group/resource` at a scope (`*`: every namespace). */
export interface Grant {
  verb: string;
  group: string;
  resource: string;
  scope: string;
  /** Only these objects (RBAC `resourceNames`); absent: any. */
  names?: string[];
}

export const grantKey = (g: Grant): string =>
  `${g.verb} ${g.group ? `${g.group}/` : ''}${g.resource} @${g.scope}`;

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

/**
 * The ClusterRole's (scope `*`) and Roles' (scope: their namespace) rules, one Grant per combination;
 * rules by `resourceNames` for one combination are one Grant with all their names (any name wins).
 */
export function grantsOf(objects: K8sObject[]): Grant[] {
  const grants = new Map<string, Grant>();
  for (const o of objects) {
    if (o.kind !== 'ClusterRole' && o.kind !== 'Role') continue;
    const scope = o.kind === 'ClusterRole' ? '*' : o.metadata.namespace!;
    for (const r of o.rules as Rule[]) {
      for (const group of r.apiGroups)
        for (const resource of r.resources)
          for (const verb of r.verbs) {
            const g: Grant = {
              verb,
              group,
              resource,
              scope,
              ...(r.resourceNames ? { names: r.resourceNames } : {}),
            };
            const seen = grants.get(grantKey(g));
            if (!seen) grants.set(grantKey(g), g);
            else if (seen.names)
              grants.set(grantKey(g), g.names ? { ...seen, names: [...seen.names, ...g.names] } : g);
          }
    }
  }
  return [...grants.values()];
}

/** apiVersion, kind and name of every object in a bundled Argo CD manifest. */
export function manifestKinds(
  version: string,
  profile: 'standard' | 'ha' = 'standard',
): { apiVersion: string; kind: string; name: string; roleRef?: string }[] {
  const key = `${profile === 'ha' ? 'argocd-ha' : 'argocd'}/${version}` as UpstreamKey;
  const text = readFileSync(upstreamFile(key), 'utf8');
  return parseObjects(text).map((o) => ({
    apiVersion: o.apiVersion,
    kind: o.kind,
    name: o.metadata.name,
    ...(typeof o.roleRef === 'object' && o.roleRef ? { roleRef: (o.roleRef as { name: string }).name } : {}),
  }));
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

/**
 * What the chart tests reason about, without a cluster: the chart's ci scenarios and values, rendered
 * objects, RBAC rules as (verb, resource, scope) Grants, the permissions the program's steps declare as
 * Grants, and `helm template` offline (test/unit/chart-rbac.test.ts; the e2e suites render against the
 * cluster, test/e2e/support/helm.ts).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { dump, load, loadAll } from 'js-yaml';
import type { Config } from '../../src/config/types.ts';
import type { Permission } from '../../src/kube/rbac.ts';
import { type UpstreamKey, upstreamPathSync } from '../../src/manifests/upstream.ts';
import { permissionsOf } from '../../src/steps/preflight.ts';
import { DRIFT_STEPS, STEPS } from '../../src/steps/runner.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CHART = join(repoRoot, 'helm', 'sd-gitops-bootstrap');
const work = mkdtempSync(join(tmpdir(), 'sd-chart-'));
const run = promisify(execFile);

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

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  [k: string]: unknown;
}

export function parseObjects(yaml: string): K8sObject[] {
  return (loadAll(yaml) as unknown[]).filter((d): d is K8sObject => !!d && typeof d === 'object');
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
  const text = readFileSync(upstreamPathSync(key), 'utf8');
  return parseObjects(text).map((o) => ({
    apiVersion: o.apiVersion,
    kind: o.kind,
    name: o.metadata.name,
    ...(typeof o.roleRef === 'object' && o.roleRef ? { roleRef: (o.roleRef as { name: string }).name } : {}),
  }));
}

/** A Permission as a Grant (scope `*`: cluster-wide). */
const asGrant = (p: Permission): Grant => ({
  verb: p.verb,
  group: p.group,
  resource: p.resource,
  scope: p.namespace ?? '*',
  ...(p.names ? { names: p.names } : {}),
});

/**
 * What the steps of `apply` (STEPS) declare for a config, as Grants, as the chart renders it without a
 * cluster: the bundled manifest of `argocd.version` unless `skip`, the VirtualService unless disabled, the
 * admin password Secret generated (absent), nothing to remove.
 */
export function requiredGrants(config: Config, runNamespace: string): Grant[] {
  const install = config.argocd.install.source !== 'skip';
  return permissionsOf(STEPS, config, {
    run: 'full',
    mode: 'apply',
    runNamespace,
    manifestKinds: install ? manifestKinds(config.argocd.version, config.argocd.install.profile) : [],
    virtualServiceApiVersion:
      config.argocd.virtualService.enabled === false ? undefined : 'networking.istio.io/v1',
    adminPasswordNamespace: config.argocd.adminPassword.secretRef.namespace ?? runNamespace,
    createAdminPasswordSecret: config.argocd.adminPassword.generate,
    credentialsNamespace: config.git.credentials.secretRef.namespace ?? runNamespace,
  }).map(asGrant);
}

/** What the steps of `apply --scope drift` (DRIFT_STEPS) declare for a config, as Grants. */
export function driftGrants(config: Config, runNamespace: string): Grant[] {
  const install = config.argocd.install.source !== 'skip';
  return permissionsOf(DRIFT_STEPS, config, {
    run: 'drift',
    runNamespace,
    manifestKinds: install ? manifestKinds(config.argocd.version, config.argocd.install.profile) : [],
    virtualServiceApiVersion:
      config.argocd.virtualService.enabled === false ? undefined : 'networking.istio.io/v1',
    credentialsNamespace: config.git.credentials.secretRef.namespace ?? runNamespace,
  }).map(asGrant);
}

/** `helm template` with the given helm binary, offline (no `lookup`: as for a first install). */
export async function renderOffline(
  helm: string,
  kubeVersion: string,
  release: string,
  namespace: string,
  files: string[],
): Promise<K8sObject[]> {
  const args = ['template', release, CHART, '-n', namespace, '--kube-version', kubeVersion, '--skip-tests'];
  for (const f of files) args.push('-f', f);
  const { stdout } = await run(helm, args, {
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, HELM_CACHE_HOME: join(work, 'cache'), HELM_CONFIG_HOME: join(work, 'config') },
  });
  return parseObjects(stdout);
}

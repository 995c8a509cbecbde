/**
 * Argo CD's workloads shaped to the site: replicas, resources, node selector, tolerations, extra args and env
 * per component (what the argo-cd chart and the Argo CD operator let users set). Applied by changing the
 * manifest's own Deployment/StatefulSet before the one server-side apply of the install (no kustomize), so a
 * setting taken out of the config goes back to the manifest's value on the next run.
 */

import type { ARGOCD_COMPONENTS } from '../config/components.ts';
import type { Config } from '../config/types.ts';
import type { KubeObject } from '../kube/types.ts';

export type ComponentName = (typeof ARGOCD_COMPONENTS)[number];

interface Container {
  name: string;
  args?: string[];
  env?: { name: string; value?: string }[];
  resources?: unknown;
  [k: string]: unknown;
}

interface PodSpec {
  containers?: Container[];
  nodeSelector?: Record<string, string>;
  tolerations?: unknown[];
  [k: string]: unknown;
}

type Workload = KubeObject & { spec?: { replicas?: number; template?: { spec?: PodSpec } } };

/** The workload with the component's settings; unchanged when none apply to it. */
export function shapeWorkload(obj: KubeObject, config: Config): KubeObject {
  if (obj.kind !== 'Deployment' && obj.kind !== 'StatefulSet') return obj;
  const settings = config.argocd.components[obj.metadata.name as ComponentName];
  if (!settings) return obj;
  const out = structuredClone(obj) as Workload;
  out.spec ??= {};
  const spec = out.spec;
  if (settings.replicas !== undefined) spec.replicas = settings.replicas;
  spec.template ??= {};
  spec.template.spec ??= {};
  const pod = spec.template.spec;
  if (settings.nodeSelector) pod.nodeSelector = { ...pod.nodeSelector, ...settings.nodeSelector };
  if (settings.tolerations?.length) pod.tolerations = [...(pod.tolerations ?? []), ...settings.tolerations];
  const containers = pod.containers ?? [];
  // The component's own container (named like it in every bundled manifest), else the first.
  const main = containers.find((c) => c.name === obj.metadata.name) ?? containers[0];
  if (main) {
    if (settings.resources) main.resources = settings.resources;
    if (settings.extraArgs?.length) main.args = [...(main.args ?? []), ...settings.extraArgs];
    if (settings.env?.length) {
      const names = new Set(settings.env.map((e) => e.name));
      main.env = [...(main.env ?? []).filter((e) => !names.has(e.name)), ...settings.env];
    }
  }
  return out;
}

/** Components configured but not in the manifest (a typo, or a manifest without that workload). */
export function unknownComponents(objects: readonly KubeObject[], config: Config): string[] {
  const names = new Set(
    objects.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet').map((o) => o.metadata.name),
  );
  return Object.keys(config.argocd.components).filter((n) => !names.has(n));
}

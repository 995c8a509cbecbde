/**
 * The container images a run needs: every container and initContainer image of Argo CD's install manifest
 * (the one the config selects), plus the bootstrap's own image when the chart told it (SD_BOOTSTRAP_IMAGE).
 * What a site with a private registry mirrors; `plan`, `status` and `images` print it.
 */
import type { KubeObject } from '../kube/types.ts';

interface PodSpec {
  containers?: { image?: unknown }[];
  initContainers?: { image?: unknown }[];
  ephemeralContainers?: { image?: unknown }[];
}

/** The pod spec of a workload or a pod (a CronJob's job template too), if the object has one. */
export function podSpecOf<S extends object = PodSpec>(obj: KubeObject): S | undefined {
  const o = obj as { spec?: Record<string, unknown> };
  if (obj.kind === 'Pod') return o.spec as S | undefined;
  if (obj.kind === 'CronJob') {
    const job = o.spec?.jobTemplate as { spec?: { template?: { spec?: S } } } | undefined;
    return job?.spec?.template?.spec;
  }
  return (o.spec?.template as { spec?: S } | undefined)?.spec;
}

/** Every container and initContainer image of the objects, once each, sorted. */
export function manifestImages(objects: readonly KubeObject[]): string[] {
  const images = new Set<string>();
  for (const obj of objects) {
    const pod = podSpecOf(obj);
    if (!pod) continue;
    for (const c of [...(pod.initContainers ?? []), ...(pod.containers ?? [])]) {
      if (typeof c.image === 'string' && c.image !== '') images.add(c.image);
    }
  }
  return [...images].sort();
}

/** The run's images: the manifest's (none with `install.source: skip`) and the bootstrap's own, sorted. */
export function runImages(manifestObjects: readonly KubeObject[] | undefined, ownImage?: string): string[] {
  const images = new Set(manifestImages(manifestObjects ?? []));
  if (ownImage) images.add(ownImage);
  return [...images].sort();
}

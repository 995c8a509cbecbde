/**
 * Argo CD's images from the site's registry (`argocd.images`): every container and initContainer image of
 * the install manifest rewritten to the registry or per-image repository the site names (tags and digests
 * kept), and the site's pull Secrets on every pod template. Applied once, where the manifest is loaded, so
 * the install, `plan`, `status` and `images` all see the same images.
 *
 * Pull Secrets go on the pod templates, not on the ServiceAccounts: a ServiceAccount's `imagePullSecrets`
 * are copied into a pod only when the pod is created (admission), so adding one would not reach running
 * pods, and the change would not show in `plan`'s diff; on the template, a changed list rolls the pods
 * like any other template change, and a removed one goes back to the manifest's value on the next run.
 */

import { parseImage } from '../config/image-refs.ts';
import type { Config } from '../config/types.ts';
import type { KubeObject } from '../kube/types.ts';
import { podSpecOf } from './images.ts';

type ImageSettings = Config['argocd']['images'];

interface Container {
  image?: unknown;
  [k: string]: unknown;
}

interface PodSpec {
  containers?: Container[];
  initContainers?: Container[];
  imagePullSecrets?: { name?: string }[];
  [k: string]: unknown;
}

/** Whether the settings change anything. */
export function rewritesImages(settings: ImageSettings | undefined): settings is ImageSettings {
  return (
    settings !== undefined &&
    (settings.registry !== undefined ||
      Object.keys(settings.map).length > 0 ||
      settings.pullSecrets.length > 0)
  );
}

/** One image as the site pulls it: the map's repository, else the registry prefix; the tag/digest kept. */
export function rewriteImage(image: string, settings: ImageSettings): string {
  const ref = parseImage(image);
  if (!ref) return image;
  const name = image.slice(0, image.length - ref.suffix.length);
  const mapped = settings.map[name] ?? settings.map[`${ref.registry}/${ref.path}`];
  if (mapped !== undefined) return `${mapped}${ref.suffix}`;
  if (settings.registry !== undefined) return `${settings.registry}/${ref.path}${ref.suffix}`;
  return image;
}

/** The objects with `argocd.images` applied (a copy of each object changed; the same array when none is). */
export function applyImageSettings(objects: KubeObject[], settings: ImageSettings | undefined): KubeObject[] {
  if (!rewritesImages(settings)) return objects;
  return objects.map((obj) => {
    if (!podSpecOf<PodSpec>(obj)) return obj;
    const out = structuredClone(obj);
    const pod = podSpecOf<PodSpec>(out)!;
    for (const c of [...(pod.initContainers ?? []), ...(pod.containers ?? [])]) {
      if (typeof c.image === 'string') c.image = rewriteImage(c.image, settings);
    }
    if (settings.pullSecrets.length > 0) {
      const have = new Set((pod.imagePullSecrets ?? []).map((s) => s.name));
      pod.imagePullSecrets = [
        ...(pod.imagePullSecrets ?? []),
        ...settings.pullSecrets.filter((n) => !have.has(n)).map((name) => ({ name })),
      ];
    }
    return out;
  });
}

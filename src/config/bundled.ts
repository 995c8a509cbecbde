/**
 * Argo CD versions whose install manifests ship inside the image (`install.source: bundled`), newest first.
 * The first one is the default `argocd.version`. The Dockerfile copies and checksum-verifies exactly these;
 * keep the two lists in step.
 */
export const BUNDLED_VERSIONS = ['v3.5.1', 'v2.14.21'] as const;

export const DEFAULT_ARGOCD_VERSION: string = BUNDLED_VERSIONS[0];

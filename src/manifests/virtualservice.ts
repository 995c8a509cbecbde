import type { Config } from '../config/types.ts';
import type { KubeObject } from '../kube/types.ts';
import { MANAGED_BY_LABELS, rootPrefix } from './common.ts';

/**
 * API versions of the Istio VirtualService, preferred first. `v1` is served from Istio 1.22; older
 * control planes serve only `v1beta1`/`v1alpha3` (the seed used v1alpha3). The spec is the same in all.
 */
export const VIRTUAL_SERVICE_API_VERSIONS = [
  'networking.istio.io/v1',
  'networking.istio.io/v1beta1',
  'networking.istio.io/v1alpha3',
] as const;

export const VIRTUAL_SERVICE_NAME = 'argocd-server';

/** Routes `<rootPath>/` through the configured gateway to argocd-server:80 (plain HTTP when insecure). */
export function virtualService(
  config: Config,
  apiVersion: string = VIRTUAL_SERVICE_API_VERSIONS[0],
): KubeObject {
  const { virtualService: vs, namespace, server } = config.argocd;
  return {
    apiVersion,
    kind: 'VirtualService',
    metadata: { name: VIRTUAL_SERVICE_NAME, namespace, labels: { ...MANAGED_BY_LABELS } },
    spec: {
      gateways: [vs.gateway],
      hosts: [...vs.hosts],
      http: [
        {
          match: [{ uri: { prefix: rootPrefix(server.rootPath) } }],
          route: [{ destination: { host: 'argocd-server', port: { number: 80 } } }],
        },
      ],
    },
  };
}

/**
 * Where a person reaches Argo CD: argocd.url when set (with a trailing slash, as the UI's address);
 * otherwise `http://<host>/argocd/` when the VirtualService names one host, else just the path (the
 * gateway's address is not known here).
 */
export function argocdUrl(config: Config): string {
  if (config.argocd.url) return `${config.argocd.url.replace(/\/+$/, '')}/`;
  const prefix = rootPrefix(config.argocd.server.rootPath);
  const host = config.argocd.virtualService.hosts.find((h) => !h.includes('*'));
  return host ? `http://${host}${prefix}` : prefix;
}

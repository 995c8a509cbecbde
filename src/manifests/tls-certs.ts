/**
 * Argo CD's trusted TLS certificates for Git servers (argocd-tls-certs-cm): one key per server name, the
 * value its CA certificates (PEM). The program writes only the key of the repository's host; the other
 * keys (other servers, added by others) stay, since a server-side apply patch of one key owns that key alone.
 */
import type { KubeObject } from '../kube/types.ts';

export const TLS_CERTS_CONFIGMAP = 'argocd-tls-certs-cm';

const PEM_CERT = /-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----/g;

/** The PEM certificates of a bundle, normalised (LF line ends, one trailing newline); none: undefined. */
export function pemBundle(text: string): string | undefined {
  const certs = text.match(PEM_CERT);
  if (!certs || certs.length === 0) return undefined;
  return `${certs.map((c) => c.replace(/\r\n/g, '\n').trim()).join('\n')}\n`;
}

/** Apply patch of argocd-tls-certs-cm: the CA bundle under the repository's host name, nothing else. */
export function tlsCertsConfigMap(namespace: string, host: string, pem: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: TLS_CERTS_CONFIGMAP, namespace },
    data: { [host]: pem },
  };
}

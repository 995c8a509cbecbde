/**
 * Issue 4, test 3: a pod lists ConfigMaps through the `kubernetes` Service with its projected
 * ServiceAccount token, and is denied what its RBAC does not allow. This is the path every in-cluster
 * client (Argo CD, the bootstrap Job) takes: ClusterIP 10.96.0.1 → the API server's node address, a
 * serving certificate valid for the ClusterIP, a bound token from the TokenRequest API.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, auditMark, kubectlJson, target } from '../e2e/support/target.ts';
import {
  apply,
  exec,
  type Pod,
  pushToolbox,
  toolboxPod,
  useNamespace,
  waitForPodReady,
} from './support/node.ts';

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** curl to the API server from inside the pod, as the pod's ServiceAccount, verifying TLS with the pod's CA. */
function apiCurl(path: string): string[] {
  return [
    'sh',
    '-c',
    `curl -sS --max-time 10 --cacert ${SA_DIR}/ca.crt -H "Authorization: Bearer $(cat ${SA_DIR}/token)" ` +
      `-w '\\n%{http_code}' https://kubernetes.default.svc${path}`,
  ];
}

describe.skipIf(!target().realNode)('a pod talking to the API server with its ServiceAccount', () => {
  const ns = useNamespace('rn-sa');
  let pod: Pod;

  beforeAll(async () => {
    pushToolbox();
    await apply(
      {
        apiVersion: 'v1',
        kind: 'List',
        items: [
          { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'reader' } },
          {
            apiVersion: 'rbac.authorization.k8s.io/v1',
            kind: 'Role',
            metadata: { name: 'configmap-reader' },
            rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] }],
          },
          {
            apiVersion: 'rbac.authorization.k8s.io/v1',
            kind: 'RoleBinding',
            metadata: { name: 'reader' },
            roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'configmap-reader' },
            subjects: [{ kind: 'ServiceAccount', name: 'reader' }],
          },
          { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'probe' }, data: { answer: '42' } },
          { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'hidden' }, stringData: { password: 'x' } },
        ],
      },
      ns.name,
    );
    await apply(toolboxPod('client', 'exec sleep infinity', { serviceAccountName: 'reader' }), ns.name);
    pod = await waitForPodReady(ns.name, 'client');
  });

  it('mounts a projected, bound, expiring token (not a legacy Secret token)', async () => {
    const spec = await kubectlJson<{
      spec: {
        volumes: {
          name: string;
          projected?: { sources: { serviceAccountToken?: { expirationSeconds: number } }[] };
        }[];
      };
    }>(['get', 'pod', 'client', '-n', ns.name]);
    const sources = spec.spec.volumes.flatMap((v) => v.projected?.sources ?? []);
    expect(sources.some((s) => s.serviceAccountToken?.expirationSeconds)).toBe(true);
    const token = (await exec(ns.name, 'client', ['cat', `${SA_DIR}/token`])).stdout;
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as {
      sub: string;
      exp: number;
      'kubernetes.io': { pod: { name: string } };
    };
    expect(claims.sub).toBe(`system:serviceaccount:${ns.name}:reader`);
    expect(claims['kubernetes.io'].pod.name).toBe('client');
    expect(claims.exp).toBeGreaterThan(Date.now() / 1000);
  });

  it('lists ConfigMaps through the kubernetes Service (TLS verified against the ClusterIP name)', async () => {
    const mark = auditMark();
    const r = await exec(ns.name, 'client', apiCurl(`/api/v1/namespaces/${ns.name}/configmaps`));
    expect(r.code, r.stderr).toBe(0);
    const [body, code] = [
      r.stdout.slice(0, r.stdout.lastIndexOf('\n')),
      r.stdout.slice(r.stdout.lastIndexOf('\n') + 1),
    ];
    expect(code).toBe('200');
    const list = JSON.parse(body) as {
      items: { metadata: { name: string }; data?: Record<string, string> }[];
    };
    expect(list.items.find((i) => i.metadata.name === 'probe')?.data).toEqual({ answer: '42' });
    // The audit log saw the request as the ServiceAccount, coming from the pod's own address.
    const events = auditEvents({ user: `system:serviceaccount:${ns.name}:reader`, since: mark });
    const listed = events.find((e) => e.verb === 'list' && e.objectRef?.resource === 'configmaps');
    expect(listed?.responseStatus?.code).toBe(200);
    expect(listed?.sourceIPs).toContain(pod.status?.podIP);
  });

  it('is denied what its Role does not grant', async () => {
    for (const path of [
      `/api/v1/namespaces/${ns.name}/secrets`,
      '/api/v1/namespaces/kube-system/configmaps',
    ]) {
      const r = await exec(ns.name, 'client', apiCurl(path));
      const [body, code] = [
        r.stdout.slice(0, r.stdout.lastIndexOf('\n')),
        r.stdout.slice(r.stdout.lastIndexOf('\n') + 1),
      ];
      expect(code, path).toBe('403');
      const status = JSON.parse(body) as { reason: string; message: string };
      expect(status.reason).toBe('Forbidden');
      expect(status.message).toContain(`system:serviceaccount:${ns.name}:reader`);
    }
  });
});

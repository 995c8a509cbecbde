/**
 * kind smoke test: one node started through testcontainers (tools/kind/kind-container.ts) is Ready, a pod
 * runs from an image loaded the way `kind load docker-image` does, CoreDNS resolves, a Service answers.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { toolsBin } from '../../tools/cluster/bin.ts';
import { BASE_IMAGE } from '../../tools/images/docker.ts';
import { KindContainer, type StartedKindCluster } from '../../tools/kind/kind-container.ts';
import { KUBE_VERSION } from '../../tools/versions.ts';

const image = inject('kindNodeImage');

const WORKLOAD = `apiVersion: v1
kind: Pod
metadata: { name: web, labels: { app: web } }
spec:
  containers:
    - name: web
      image: ${BASE_IMAGE}
      imagePullPolicy: Never
      command: [sh, -c, 'mkdir -p /www && echo hello-from-kind > /www/index.html && exec busybox httpd -f -p 8080 -h /www']
      readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 }
---
apiVersion: v1
kind: Service
metadata: { name: web }
spec:
  selector: { app: web }
  ports: [{ port: 80, targetPort: 8080 }]
---
apiVersion: v1
kind: Pod
metadata: { name: client }
spec:
  containers:
    - name: client
      image: ${BASE_IMAGE}
      imagePullPolicy: Never
      command: [sleep, '3600']
`;

async function resolveEventually(c: StartedKindCluster, name: string, timeoutMs: number): Promise<string> {
  const end = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const r = await c.node.exec([
      'kubectl',
      '--kubeconfig=/etc/kubernetes/admin.conf',
      'exec',
      'client',
      '--',
      'getent',
      'hosts',
      name,
    ]);
    if (r.exitCode === 0) return r.output;
    last = r.output;
    if (Date.now() > end) {
      const logs = await c
        .kubectl('-n', 'kube-system', 'logs', '-l', 'k8s-app=kube-dns', '--tail=30')
        .catch((e: Error) => e.message);
      throw new Error(`${name} did not resolve in ${timeoutMs / 1000}s (${last.trim()}); CoreDNS:\n${logs}`);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

describe.skipIf(!image)('kind (testcontainers)', () => {
  let cluster: StartedKindCluster;
  let dir: string;

  beforeAll(async () => {
    const t0 = Date.now();
    cluster = await new KindContainer({
      image,
      kubernetesVersion: KUBE_VERSION,
      log: (m) => process.stderr.write(`[kind] ${m}\n`),
    }).startCluster();
    process.stderr.write(`[kind] cluster ready in ${((Date.now() - t0) / 1000).toFixed(1)}s\n`);
    dir = mkdtempSync(join(tmpdir(), 'sd-kind-test-'));
  });
  afterAll(async () => {
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('serves the API on the mapped port with the rewritten kubeconfig; the node is Ready', () => {
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, cluster.kubeconfig);
    const r = spawnSync(
      join(toolsBin(), 'kubectl'),
      [
        '--kubeconfig',
        kubeconfig,
        'get',
        'nodes',
        '-o',
        'jsonpath={.items[0].status.conditions[?(@.type=="Ready")].status}',
      ],
      { encoding: 'utf8' },
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('True');
  });

  it('runs a loaded image, resolves names through CoreDNS and reaches a Service', async () => {
    await cluster.loadImage(BASE_IMAGE);
    writeFileSync(join(dir, 'workload.yaml'), WORKLOAD);
    await cluster.node.copyFilesToContainer([
      { source: join(dir, 'workload.yaml'), target: '/kind/workload.yaml' },
    ]);
    await cluster.kubectl('apply', '-f', '/kind/workload.yaml');
    await cluster.kubectl('wait', '--for=condition=Ready', 'pod/web', 'pod/client', '--timeout=120s');
    await cluster.kubectl(
      '-n',
      'kube-system',
      'wait',
      '--for=condition=Available',
      'deployment/coredns',
      '--timeout=120s',
    );
    // CoreDNS Available is not yet "resolves": kube-proxy programs the kube-dns ClusterIP and CoreDNS
    // watches the new Service asynchronously. Ask until it answers; on failure say what CoreDNS logged.
    const dns = await resolveEventually(cluster, 'web.default.svc.cluster.local', 60_000);
    const svcIp = (await cluster.kubectl('get', 'svc', 'web', '-o', 'jsonpath={.spec.clusterIP}')).trim();
    expect(dns).toContain(svcIp);
    const body = await cluster.kubectl(
      'exec',
      'client',
      '--',
      'curl',
      '-sS',
      '--max-time',
      '10',
      'http://web/',
    );
    expect(body.trim()).toBe('hello-from-kind');
  });
});

/**
 * Issue 4, test 2: a pod reaches another pod through a ClusterIP Service by its DNS name — CoreDNS answers
 * for `svc.ns.svc.cluster.local`, kube-proxy's iptables rules carry the ClusterIP to the pod, the CNI bridge
 * connects the two pods.
 */
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { kubectlJson, target } from '../e2e/support/target.ts';
import {
  apply,
  eventually,
  exec,
  type Pod,
  pushToolbox,
  toolboxPod,
  useNamespace,
  waitForPodReady,
  webServer,
} from './support/node.ts';

describe.skipIf(!target().realNode)('a ClusterIP Service by DNS name', () => {
  const ns = useNamespace('rn-svc');
  const body = randomBytes(8).toString('hex');
  let server: Pod;
  let clusterIP = '';

  beforeAll(async () => {
    pushToolbox();
    await apply({ apiVersion: 'v1', kind: 'List', items: webServer('web', body) }, ns.name);
    await apply(toolboxPod('client', 'exec sleep infinity'), ns.name);
    server = await waitForPodReady(ns.name, 'web');
    await waitForPodReady(ns.name, 'client');
    clusterIP = (await kubectlJson<{ spec: { clusterIP: string } }>(['get', 'service', 'web', '-n', ns.name]))
      .spec.clusterIP;
  });

  it('resolves the fully qualified name to the ClusterIP (CoreDNS)', async () => {
    expect(clusterIP).toMatch(/^10\.96\./);
    const r = await exec(ns.name, 'client', ['getent', 'hosts', `web.${ns.name}.svc.cluster.local`]);
    expect(r.code).toBe(0);
    expect(r.stdout.split(/\s+/)[0]).toBe(clusterIP);
  });

  it('reaches the other pod through the Service, by full and by short name', async () => {
    for (const host of [`web.${ns.name}.svc.cluster.local`, 'web']) {
      const r = await eventually(async () => {
        const res = await exec(ns.name, 'client', ['curl', '-sS', '--max-time', '5', `http://${host}/`]);
        if (res.code !== 0) throw new Error(`curl http://${host}/: exit ${res.code} ${res.stderr}`);
        return res;
      });
      expect(r.stdout).toBe(body);
    }
  });

  it('the Service has the server pod as its endpoint (it is not the client answering itself)', async () => {
    const slices = await kubectlJson<{ items: { endpoints: { addresses: string[] }[] }[] }>([
      'get',
      'endpointslices',
      '-n',
      ns.name,
      '-l',
      'kubernetes.io/service-name=web',
    ]);
    expect(slices.items.flatMap((s) => s.endpoints.flatMap((e) => e.addresses))).toEqual([
      server.status?.podIP,
    ]);
  });
});

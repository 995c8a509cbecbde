/**
 * Issue 4, test 1: a pod from a locally pushed image runs; `kubectl logs` and `kubectl exec` work (the API
 * server reaches the kubelet's serving certificate, the kubelet reaches containerd's streaming server).
 */
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { BASE_IMAGE } from '../cluster/real-node/images.ts';
import { kubectl, target } from '../e2e/support/target.ts';
import { apply, exec, type Pod, pushUpstreamImage, useNamespace, waitForPodReady } from './support/node.ts';

describe.skipIf(!target().realNode)('a pod from a locally pushed image', () => {
  const ns = useNamespace('rn-pod');
  const token = randomBytes(8).toString('hex');
  const image = `ghcr.io/sd-e2e/hello:${token}`;
  let digest = '';
  let pod: Pod;

  beforeAll(async () => {
    // A new tag per run: the image cannot be on the node already, it must come through the mirror.
    digest = pushUpstreamImage(image, {
      dockerfile: `FROM ${BASE_IMAGE}\nCOPY token /token\nCMD ["sh", "-c", "echo started $(cat /token); exec sleep infinity"]\n`,
      files: { token: `${token}\n` },
    });
    await apply(
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'hello' },
        spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'hello', image }] },
      },
      ns.name,
    );
    pod = await waitForPodReady(ns.name, 'hello');
  });

  it('runs the image the registry served under its upstream name', () => {
    const c = pod.status?.containerStatuses?.[0];
    expect(c?.image).toBe(image);
    // imageID carries the digest of the manifest pushed to the local registry: this exact image ran.
    expect(c?.imageID).toMatch(new RegExp(`@${digest}$`));
    expect(pod.status?.podIP).toMatch(/^10\.244\./);
  });

  it('kubectl logs shows what the container printed', async () => {
    expect(await kubectl(['logs', 'hello', '-n', ns.name])).toBe(`started ${token}\n`);
  });

  it('kubectl exec runs in the container and returns its output and exit code', async () => {
    const cat = await exec(ns.name, 'hello', ['cat', '/token']);
    expect(cat).toMatchObject({ code: 0, stdout: `${token}\n` });
    // PID 1 of the container is the image's command, not anything on the host.
    const ps = await exec(ns.name, 'hello', ['cat', '/proc/1/cmdline']);
    expect(ps.stdout.split('\0')[0]).toBe('sleep');
    const fail = await exec(ns.name, 'hello', ['sh', '-c', 'echo oops >&2; exit 3']);
    expect(fail.code).toBe(3);
    expect(fail.stderr).toContain('oops');
  });
});

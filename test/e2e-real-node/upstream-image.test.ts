/**
 * Issue 4, test 4: a manifest that names an upstream image runs unchanged. `docker.io/library/redis:7.0.15`
 * is built here (Debian bookworm's redis-server is 7.0.15) and pushed to the local registry as
 * `library/redis:7.0.15`; containerd's hosts.toml for docker.io sends the pull there.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { BASE_IMAGE } from '../cluster/real-node/images.ts';
import { kubectl, kubectlJson, target } from '../e2e/support/target.ts';
import { apply, eventually, exec, type Pod, pushUpstreamImage, useNamespace } from './support/node.ts';

const REDIS = 'docker.io/library/redis:7.0.15';

/** The manifest as one would find it upstream: nothing in it knows about the local registry. */
const MANIFEST = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: redis
  labels: { app: redis }
spec:
  replicas: 1
  selector:
    matchLabels: { app: redis }
  template:
    metadata:
      labels: { app: redis }
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: redis
          image: ${REDIS}
          ports:
            - containerPort: 6379
          readinessProbe:
            tcpSocket: { port: 6379 }
            periodSeconds: 1
---
apiVersion: v1
kind: Pod
metadata:
  name: short-name
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: redis
      # Docker Hub's short form: containerd normalises it to docker.io/library/redis, which is mirrored too.
      image: redis:7.0.15
      command: ["redis-server", "--version"]
  restartPolicy: Never
`;

describe.skipIf(!target().realNode)('a manifest naming an upstream image', () => {
  const ns = useNamespace('rn-upstream');
  let digest = '';

  beforeAll(() => {
    // apt-get inside the build: Docker's build containers reach the Debian mirror like the host does.
    digest = pushUpstreamImage(REDIS, {
      dockerfile:
        `FROM ${BASE_IMAGE}\n` +
        'RUN apt-get -o Acquire::Retries=5 update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o Acquire::Retries=5 install -y -qq --no-install-recommends ' +
        'redis-server >/dev/null && rm -rf /var/lib/apt/lists/*\n' +
        'EXPOSE 6379\nCMD ["redis-server", "--protected-mode", "no"]\n',
    });
  });

  it('runs unchanged from the local registry', async () => {
    await apply(MANIFEST, ns.name);
    await kubectl(['rollout', 'status', 'deployment/redis', '-n', ns.name, '--timeout=120s']);
    const pods = await kubectlJson<{ items: (Pod & { metadata: { name: string } })[] }>([
      'get',
      'pods',
      '-n',
      ns.name,
      '-l',
      'app=redis',
    ]);
    const pod = pods.items[0]!;
    const c = pod.status?.containerStatuses?.[0];
    expect(c?.image).toBe(REDIS);
    expect(c?.imageID).toMatch(new RegExp(`@${digest}$`));
    // It is really redis, answering on its port.
    const ping = await exec(ns.name, pod.metadata.name, ['redis-cli', 'ping']);
    expect(ping).toMatchObject({ code: 0, stdout: 'PONG\n' });
  });

  it('resolves Docker Hub short names through the same mirror', async () => {
    const done = await eventually(async () => {
      const p = await kubectlJson<Pod>(['get', 'pod', 'short-name', '-n', ns.name]);
      const t = p.status?.containerStatuses?.[0]?.state?.terminated;
      if (!t)
        throw new Error(`not terminated yet: ${JSON.stringify(p.status?.containerStatuses?.[0]?.state)}`);
      return p;
    }, 120_000);
    expect(done.status?.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(0);
    expect(await kubectl(['logs', 'short-name', '-n', ns.name])).toMatch(/Redis server v=7\.0\.15/);
  });
});

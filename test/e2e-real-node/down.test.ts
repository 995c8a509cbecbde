/**
 * Issue 4, test 7: `cluster:down` leaves no container, mount, network namespace or process behind — nor
 * iptables rules, the CNI bridge, cgroups, log links or state. Takes the cluster down with the very
 * command `npm run cluster:down` runs, checks the host, then starts the cluster again (same registry port)
 * so test files that run after this one find it as they expect.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AUDIT_POLICY, KUBE_VERSION } from '../../scripts/cluster.ts';
import { leftovers, liveUsers, podProcesses, upRealNode } from '../cluster/real-node/cluster.ts';
import { freePort, mountsUnder } from '../cluster/real-node/host.ts';
import { CNI_BRIDGE, layout } from '../cluster/real-node/layout.ts';
import { isRunning, pidRecords, pidsWithArg } from '../cluster/real-node/processes.ts';
import { target } from '../e2e/support/target.ts';
import { apply, pushToolbox, TOOLBOX, useNamespace, waitForPodReady } from './support/node.ts';

const root = resolve(import.meta.dirname, '../..');

/** Containers in runc's state for containerd's k8s.io namespace (without creating it: runc would). */
function runcContainers(runcRoot: string): string[] {
  const dir = join(runcRoot, 'k8s.io');
  if (!existsSync(dir)) return [];
  const r = spawnSync('runc', ['--root', dir, 'list', '-q'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split('\n').filter(Boolean) : [];
}

describe.skipIf(!target().realNode)('cluster:down', () => {
  const ns = useNamespace('rn-down');

  it('leaves no container, mount, network namespace or process behind', async (ctx) => {
    const t = target();
    const stateDir = dirname(t.kubeconfig);
    const l = layout(stateDir);
    // Taking the cluster down under another test run (same checkout) would fail that run's tests.
    const users = liveUsers(stateDir);
    if (users.length > 1) {
      const why = `another test run uses this cluster (${users.join(', ')})`;
      if (process.env.CI === 'true') throw new Error(why);
      ctx.skip(why);
    }

    // Something worth cleaning up: a pod with an emptyDir on tmpfs, a projected token and a host port
    // (the portmap plugin's iptables chains), beside CoreDNS.
    pushToolbox();
    const hostPort = await freePort('0.0.0.0');
    await apply(
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'busy' },
        spec: {
          terminationGracePeriodSeconds: 30,
          containers: [
            {
              name: 'main',
              image: TOOLBOX,
              command: ['sh', '-c', 'cd /scratch && exec busybox httpd -f -p 8080'],
              ports: [{ containerPort: 8080, hostPort }],
              volumeMounts: [{ name: 'scratch', mountPath: '/scratch' }],
            },
          ],
          volumes: [{ name: 'scratch', emptyDir: { medium: 'Memory' } }],
        },
      },
      ns.name,
    );
    await waitForPodReady(ns.name, 'busy');

    // What runs now: so the checks below cannot pass vacuously.
    const processes = [...pidRecords(l), ...podProcesses(), ...pidsWithArg(l.containerdSocket)];
    const mounts = mountsUnder(stateDir);
    const netns = mounts.filter((m) => m.includes('/netns/'));
    const containers = runcContainers(l.runcRoot);
    const before = leftovers(stateDir);
    expect(processes.filter((p) => p.cmd[0]?.endsWith('pause')).length).toBeGreaterThanOrEqual(2);
    expect(netns.length).toBeGreaterThanOrEqual(2);
    expect(containers.length).toBeGreaterThanOrEqual(4); // two sandboxes, two containers
    expect(before.iptables.some((r) => r.includes('KUBE-SERVICES'))).toBe(true);
    expect(before.iptables.some((r) => r.includes('CNI-HOSTPORT'))).toBe(true);
    expect(before.links).toEqual([CNI_BRIDGE]);
    expect(before.cgroups.length).toBeGreaterThan(0);

    // The command `npm run cluster:down` runs for this state directory.
    const t0 = Date.now();
    const down =
      stateDir === join(root, '.e2e')
        ? spawnSync(process.execPath, [join(root, 'scripts/cluster.ts'), 'down'], { encoding: 'utf8' })
        : spawnSync(process.execPath, [join(root, 'test/cluster/real-node/cli.ts'), 'down', stateDir], {
            encoding: 'utf8',
          });
    expect(down.status, down.stderr).toBe(0);
    const downSeconds = (Date.now() - t0) / 1000;

    expect(processes.filter(isRunning).map((p) => `${p.pid} ${p.cmd.join(' ')}`)).toEqual([]);
    expect(runcContainers(l.runcRoot)).toEqual([]);
    expect(mounts.filter((m) => existsSync(m))).toEqual([]);
    expect(leftovers(stateDir, processes)).toEqual({
      processes: [],
      mounts: [],
      iptables: [],
      links: [],
      cgroups: [],
      logLinks: [],
      files: [],
    });

    // Back up, for whatever runs next (and to measure a warm start).
    const t1 = Date.now();
    await upRealNode({
      stateDir,
      binDir: t.binDir,
      kubeVersion: KUBE_VERSION,
      auditPolicy: AUDIT_POLICY,
      registryPort: Number(t.registry!.split(':')[1]),
      log: () => {},
    });
    // The state directory was removed with everything else: record this run as its user again.
    mkdirSync(l.users, { recursive: true });
    for (const u of users) writeFileSync(join(l.users, u), '');
    process.stderr.write(
      `[e2e-real-node] cluster:down took ${downSeconds.toFixed(1)}s, warm cluster:up ${((Date.now() - t1) / 1000).toFixed(1)}s\n`,
    );
  });
});

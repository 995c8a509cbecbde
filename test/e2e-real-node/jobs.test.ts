/**
 * Issue 4, test 5: a Job completes, and a failing Job reports its exit code and termination message —
 * what the chart's hook Job and its report depend on.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { kubectl, kubectlJson, target } from '../e2e/support/target.ts';
import { apply, type Pod, pushToolbox, TOOLBOX, useNamespace } from './support/node.ts';

function job(name: string, script: string, extra: Record<string, unknown> = {}): unknown {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name },
    spec: {
      backoffLimit: 0,
      template: {
        spec: {
          restartPolicy: 'Never',
          terminationGracePeriodSeconds: 1,
          containers: [{ name: 'main', image: TOOLBOX, command: ['sh', '-c', script], ...extra }],
        },
      },
    },
  };
}

interface JobStatus {
  status: {
    succeeded?: number;
    failed?: number;
    conditions?: { type: string; status: string; reason?: string }[];
  };
}

async function podOf(ns: string, jobName: string): Promise<Pod> {
  const pods = await kubectlJson<{ items: Pod[] }>(['get', 'pods', '-n', ns, '-l', `job-name=${jobName}`]);
  expect(pods.items).toHaveLength(1);
  return pods.items[0]!;
}

describe.skipIf(!target().realNode)('Jobs on a real node', () => {
  const ns = useNamespace('rn-jobs');

  beforeAll(() => {
    pushToolbox();
  });

  it('a Job that exits 0 completes', async () => {
    await apply(job('ok', 'echo working; sleep 1; echo done'), ns.name);
    await kubectl(['wait', '--for=condition=Complete', 'job/ok', '-n', ns.name, '--timeout=120s']);
    const j = await kubectlJson<JobStatus>(['get', 'job', 'ok', '-n', ns.name]);
    expect(j.status.succeeded).toBe(1);
    expect(await kubectl(['logs', 'job/ok', '-n', ns.name])).toBe('working\ndone\n');
    const t = (await podOf(ns.name, 'ok')).status?.containerStatuses?.[0]?.state?.terminated;
    expect(t).toMatchObject({ exitCode: 0, reason: 'Completed' });
  });

  it('a failing Job reports its exit code and termination message', async () => {
    await apply(
      job('fails', 'echo "config invalid: environments[0].name is empty" > /dev/termination-log; exit 7'),
      ns.name,
    );
    await kubectl(['wait', '--for=condition=Failed', 'job/fails', '-n', ns.name, '--timeout=120s']);
    const j = await kubectlJson<JobStatus>(['get', 'job', 'fails', '-n', ns.name]);
    expect(j.status.failed).toBe(1);
    expect(j.status.conditions?.find((c) => c.type === 'Failed')).toMatchObject({
      status: 'True',
      reason: 'BackoffLimitExceeded',
    });
    const t = (await podOf(ns.name, 'fails')).status?.containerStatuses?.[0]?.state?.terminated;
    expect(t).toMatchObject({
      exitCode: 7,
      reason: 'Error',
      message: 'config invalid: environments[0].name is empty\n',
    });
  });

  it('FallbackToLogsOnError: the log tail becomes the termination message', async () => {
    await apply(
      job('fails-logs', 'echo step one; echo "fatal: cannot reach git" >&2; exit 2', {
        terminationMessagePolicy: 'FallbackToLogsOnError',
      }),
      ns.name,
    );
    await kubectl(['wait', '--for=condition=Failed', 'job/fails-logs', '-n', ns.name, '--timeout=120s']);
    const t = (await podOf(ns.name, 'fails-logs')).status?.containerStatuses?.[0]?.state?.terminated;
    expect(t?.exitCode).toBe(2);
    expect(t?.message).toContain('fatal: cannot reach git');
  });
});

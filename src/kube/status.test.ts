import { describe, expect, it } from 'vitest';
import {
  applicationReady,
  applicationStatus,
  crdEstablished,
  deploymentRolledOut,
  imagePullFailures,
  statefulSetRolledOut,
} from './status.ts';

const deployment = (
  spec: { replicas?: number },
  status: Record<string, unknown>,
  generation = 2,
): Record<string, unknown> => ({
  metadata: { name: 'argocd-server', generation },
  spec,
  status,
});

describe('deploymentRolledOut (kubectl rollout status semantics)', () => {
  it.each([
    {
      name: 'spec update not observed yet',
      d: deployment(
        { replicas: 3 },
        { observedGeneration: 1, replicas: 3, updatedReplicas: 3, availableReplicas: 3 },
      ),
      done: false,
      state: 'waiting for the deployment spec update to be observed',
    },
    {
      name: 'new replicas not all updated',
      d: deployment({ replicas: 3 }, { observedGeneration: 2, replicas: 3, updatedReplicas: 1 }),
      done: false,
      state: '1 out of 3 new replicas have been updated',
    },
    {
      name: 'old replicas still terminating',
      d: deployment({ replicas: 3 }, { observedGeneration: 2, replicas: 4, updatedReplicas: 3 }),
      done: false,
      state: '1 old replicas are pending termination',
    },
    {
      name: 'updated replicas not all available',
      d: deployment(
        { replicas: 3 },
        { observedGeneration: 2, replicas: 3, updatedReplicas: 3, availableReplicas: 2 },
      ),
      done: false,
      state: '2 of 3 updated replicas are available',
    },
    {
      name: 'rolled out',
      d: deployment(
        { replicas: 3 },
        { observedGeneration: 2, replicas: 3, updatedReplicas: 3, availableReplicas: 3, readyReplicas: 3 },
      ),
      done: true,
      state: 'successfully rolled out (3 available)',
    },
    {
      name: 'scaled to zero',
      d: deployment({ replicas: 0 }, { observedGeneration: 2 }),
      done: true,
      state: 'successfully rolled out (0 available)',
    },
    {
      name: 'observedGeneration ahead of generation counts as observed',
      d: deployment(
        { replicas: 1 },
        { observedGeneration: 3, replicas: 1, updatedReplicas: 1, availableReplicas: 1 },
      ),
      done: true,
      state: 'successfully rolled out (1 available)',
    },
  ])('$name', ({ d, done, state }) => {
    const r = deploymentRolledOut(d);
    expect(r).toEqual({ done, state });
  });

  it('is terminal when the progress deadline was exceeded', () => {
    const r = deploymentRolledOut(
      deployment(
        { replicas: 1 },
        {
          observedGeneration: 2,
          replicas: 1,
          updatedReplicas: 1,
          conditions: [
            {
              type: 'Progressing',
              status: 'False',
              reason: 'ProgressDeadlineExceeded',
              message: 'ReplicaSet "x" has timed out progressing.',
            },
          ],
        },
      ),
    );
    expect(r.done).toBe(false);
    expect(r.terminal).toBe('exceeded its progress deadline: ReplicaSet "x" has timed out progressing.');
  });

  it('is not terminal while the deadline condition belongs to an older generation', () => {
    const r = deploymentRolledOut(
      deployment(
        { replicas: 1 },
        { observedGeneration: 1, conditions: [{ type: 'Progressing', reason: 'ProgressDeadlineExceeded' }] },
      ),
    );
    expect(r.terminal).toBeUndefined();
  });
});

const sts = (
  spec: Record<string, unknown>,
  status: Record<string, unknown>,
  generation = 1,
): Record<string, unknown> => ({
  metadata: { name: 'argocd-application-controller', generation },
  spec: { replicas: 1, ...spec },
  status,
});

describe('statefulSetRolledOut (kubectl rollout status semantics)', () => {
  const rolling = { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0 } } };
  /** Three replicas, the first one (ordinal 0) held back by the partition. */
  const partitioned = {
    replicas: 3,
    updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 1 } },
  };
  it.each([
    {
      name: 'never observed',
      s: sts(rolling, {}),
      done: false,
      state: 'waiting for the statefulset spec update to be observed',
    },
    {
      name: 'pods not ready',
      s: sts({ ...rolling, replicas: 3 }, { observedGeneration: 1, readyReplicas: 1 }),
      done: false,
      state: '1 of 3 pods are ready',
    },
    {
      name: 'partition not reached',
      s: sts(partitioned, { observedGeneration: 1, readyReplicas: 3, updatedReplicas: 1 }),
      done: false,
      state: 'partitioned roll out: 1 out of 2 new pods have been updated',
    },
    {
      name: 'partitioned roll out complete',
      s: sts(partitioned, { observedGeneration: 1, readyReplicas: 3, updatedReplicas: 2 }),
      done: true,
      state: 'partitioned roll out complete: 2 new pods have been updated',
    },
    {
      name: 'revisions differ (no rollingUpdate block)',
      s: sts(
        { updateStrategy: { type: 'RollingUpdate' } },
        {
          observedGeneration: 1,
          readyReplicas: 1,
          updatedReplicas: 0,
          currentRevision: 'r1',
          updateRevision: 'r2',
        },
      ),
      done: false,
      state: 'rolling update: 0 pods at revision r2',
    },
    {
      name: 'revisions equal',
      s: sts(
        { updateStrategy: { type: 'RollingUpdate' } },
        {
          observedGeneration: 1,
          readyReplicas: 1,
          currentReplicas: 1,
          updatedReplicas: 1,
          currentRevision: 'r2',
          updateRevision: 'r2',
        },
      ),
      done: true,
      state: 'rolling update complete: 1 pods at revision r2',
    },
  ])('$name', ({ s, done, state }) => {
    expect(statefulSetRolledOut(s)).toEqual({ done, state });
  });

  it('is terminal for OnDelete', () => {
    const r = statefulSetRolledOut(sts({ updateStrategy: { type: 'OnDelete' } }, { observedGeneration: 1 }));
    expect(r.terminal).toMatch(/only available for RollingUpdate/);
  });
});

describe('crdEstablished', () => {
  it.each([
    { name: 'no status', crd: {}, done: false },
    {
      name: 'established',
      crd: { status: { conditions: [{ type: 'Established', status: 'True' }] } },
      done: true,
    },
    {
      name: 'not yet',
      crd: {
        status: { conditions: [{ type: 'Established', status: 'False', message: 'not all names accepted' }] },
      },
      done: false,
    },
  ])('$name', ({ crd, done }) => {
    expect(crdEstablished(crd).done).toBe(done);
  });

  it('is terminal when names are not accepted', () => {
    const r = crdEstablished({
      status: {
        conditions: [{ type: 'NamesAccepted', status: 'False', message: '"apps" is already in use' }],
      },
    });
    expect(r.terminal).toBe('names not accepted: "apps" is already in use');
  });
});

describe('applicationStatus', () => {
  it("names the Degraded resources and their health checks' messages, where Argo CD keeps them", () => {
    const s = applicationStatus({
      status: {
        sync: { status: 'Synced' },
        health: { status: 'Degraded' },
        resources: [
          { kind: 'ConfigMap', name: 'settings', health: undefined },
          {
            kind: 'SeldonDeployment',
            name: 'iris',
            health: { status: 'Degraded', message: 'Failed: no image' },
          },
          { kind: 'Model', name: 'mnist', health: { status: 'Progressing', message: 'Not ready yet' } },
        ],
      },
    });
    expect(s).toMatchObject({ health: 'Degraded', message: 'SeldonDeployment/iris: Failed: no image' });
    // Argo CD 3's default keeps resource health out of the Application: its own status is what is left.
    const bare = applicationStatus({
      status: {
        sync: { status: 'Synced' },
        health: { status: 'Degraded' },
        resources: [{ kind: 'SeldonDeployment', name: 'iris' }],
      },
    });
    expect(bare.message).toBe('Synced, Degraded');
  });

  it('is Unknown before Argo CD has looked', () => {
    expect(applicationStatus({})).toEqual({
      sync: 'Unknown',
      health: 'Unknown',
      message: 'not reconciled by Argo CD yet',
      stale: false,
    });
  });

  it('reports sync and health', () => {
    expect(
      applicationStatus({ status: { sync: { status: 'Synced' }, health: { status: 'Healthy' } } }),
    ).toEqual({
      sync: 'Synced',
      health: 'Healthy',
      message: 'Synced, Healthy',
      stale: false,
    });
  });

  it('does not count Synced against an older source as ready (status.sync.comparedTo)', () => {
    const source = { repoURL: 'https://git.example.com/gitops.git', path: 'staging' };
    const app = (comparedTo: object) => ({
      spec: { source },
      status: {
        sync: { status: 'Synced', comparedTo: { source: comparedTo } },
        health: { status: 'Healthy' },
      },
    });
    const old = applicationStatus(app({ ...source, repoURL: 'ssh://git@git.example.com/gitops.git' }));
    expect(old).toMatchObject({
      sync: 'Synced',
      stale: true,
      message: 'Argo CD has not compared the new source yet',
    });
    expect(applicationReady(old)).toBe(false);
    const current = applicationStatus(app({ ...source, targetRevision: 'HEAD' }));
    expect(current.stale).toBe(false);
    expect(applicationReady(current)).toBe(true);
  });

  it('prefers error conditions', () => {
    const app = {
      status: {
        sync: { status: 'Unknown' },
        health: { status: 'Healthy' },
        conditions: [
          { type: 'ComparisonError', message: 'repository not accessible' },
          { type: 'SyncWarning', message: 'ignored' },
        ],
      },
    };
    expect(applicationStatus(app).message).toBe('ComparisonError: repository not accessible');
  });

  it('reports a failed sync operation', () => {
    const app = {
      status: {
        sync: { status: 'OutOfSync' },
        health: { status: 'Missing' },
        operationState: { phase: 'Failed', message: 'one or more objects failed to apply' },
      },
    };
    expect(applicationStatus(app).message).toBe('sync failed: one or more objects failed to apply');
  });
});

describe('imagePullFailures', () => {
  it('names the image of each container waiting on a pull, init containers included, nothing else', () => {
    const pods = [
      {
        metadata: { name: 'argocd-server-1' },
        status: {
          initContainerStatuses: [
            {
              name: 'copyutil',
              image: 'registry.example.com/mirror/argoproj/argocd:v3.5.1',
              state: { waiting: { reason: 'ErrImagePull', message: 'unauthorized' } },
            },
          ],
          containerStatuses: [
            { name: 'argocd-server', image: 'x', state: { waiting: { reason: 'PodInitializing' } } },
          ],
        },
      },
      {
        metadata: { name: 'argocd-redis-0' },
        status: {
          containerStatuses: [
            {
              name: 'redis',
              image: 'r:1',
              state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "r:1"' } },
            },
            { name: 'ok', image: 'o:1', state: { running: {} } },
          ],
        },
      },
      { metadata: { name: 'no-status' } },
    ];
    expect(imagePullFailures(pods)).toEqual([
      {
        pod: 'argocd-server-1',
        container: 'copyutil',
        image: 'registry.example.com/mirror/argoproj/argocd:v3.5.1',
        reason: 'ErrImagePull',
        message: 'unauthorized',
      },
      {
        pod: 'argocd-redis-0',
        container: 'redis',
        image: 'r:1',
        reason: 'ImagePullBackOff',
        message: 'Back-off pulling image "r:1"',
      },
    ]);
  });
});

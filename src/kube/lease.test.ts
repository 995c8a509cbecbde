import { describe, expect, it, vi } from 'vitest';
import { FakeApiServer } from '../../test/fakes/kube-http.ts';
import { LeaseLostError } from '../errors.ts';
import { KubeClient } from './client.ts';
import {
  acquireLease,
  describeWrite,
  type LeaseHandle,
  LeaseHeldError,
  type LeaseObservation,
  toMicroTime,
} from './lease.ts';
import type { Transport } from './retry.ts';
import type { KubeObject } from './types.ts';

const NS = 'seldon-system';
const NAME = 'sd-gitops-bootstrap';
const leaseRef = {
  apiVersion: 'coordination.k8s.io/v1',
  kind: 'Lease',
  metadata: { name: NAME, namespace: NS },
};

function leaseSpec(fake: FakeApiServer): Record<string, unknown> {
  return (fake.stored(leaseRef)?.spec ?? {}) as Record<string, unknown>;
}

function seedLease(fake: FakeApiServer, spec: Record<string, unknown>): KubeObject {
  return fake.seed({ ...leaseRef, spec } as KubeObject);
}

describe('acquireLease', () => {
  /** A server where run-a holds the Lease for `seconds`, last renewed at `renewed` by its clock. */
  const heldByRunA = (seconds: number, renewed: string, extra: Record<string, unknown> = {}) => {
    const fake = new FakeApiServer();
    seedLease(fake, {
      holderIdentity: 'run-a',
      leaseDurationSeconds: seconds,
      renewTime: toMicroTime(new Date(renewed)),
      ...extra,
    });
    return fake;
  };
  it('creates the lease when absent and clears the holder on release', async () => {
    const fake = new FakeApiServer();
    const kube = fake.client();
    const lease = await acquireLease(kube, { namespace: NS, name: NAME, holder: 'run-a', ttlSeconds: 60 });
    expect(leaseSpec(fake)).toMatchObject({
      holderIdentity: 'run-a',
      leaseDurationSeconds: 60,
      leaseTransitions: 0,
    });
    await lease.release();
    expect(leaseSpec(fake).holderIdentity).toBeUndefined();
    // The next run proceeds at once.
    const next = await acquireLease(kube, { namespace: NS, name: NAME, holder: 'run-b', ttlSeconds: 60 });
    expect(leaseSpec(fake).holderIdentity).toBe('run-b');
    await next.release();
  });

  it.each(['POST', 'PUT'])(
    'a retried %s whose first attempt went through takes the lease, not "held by itself"',
    async (method) => {
      const fake = new FakeApiServer();
      if (method === 'PUT') seedLease(fake, { holderIdentity: '', leaseDurationSeconds: 60 });
      let dropped = false;
      // The server applies the write, then the connection resets before the answer arrives.
      const transport: Transport = async (req) => {
        const res = await fake.transport(req);
        if (!dropped && req.method === method && req.url.includes('/leases')) {
          dropped = true;
          throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
        }
        return res;
      };
      const kube = new KubeClient({
        transport,
        server: 'https://fake.k8s.test',
        defaultNamespace: NS,
        retry: { baseDelayMs: 1, maxDelayMs: 5, deadlineMs: 2_000 },
      });
      const lease = await acquireLease(kube, { namespace: NS, name: NAME, holder: 'run-a', ttlSeconds: 60 });
      expect(dropped).toBe(true);
      expect(leaseSpec(fake).holderIdentity).toBe('run-a');
      await lease.release();
      expect(leaseSpec(fake).holderIdentity).toBeUndefined();
    },
  );

  it('refuses while another run holds a lease it has not yet seen unchanged for its duration', async () => {
    const fake = heldByRunA(120, '2026-03-01T09:00:00Z');
    const err = await acquireLease(fake.client(), {
      namespace: NS,
      name: NAME,
      holder: 'run-b',
      ttlSeconds: 120,
      now: () => new Date('2026-03-01T10:01:00Z'),
      monotonic: () => 5_000,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LeaseHeldError);
    // An hour-old renewTime is the holder's clock, not proof of expiry: the full duration from now.
    expect((err as Error).message).toBe(
      'another sd-gitops-bootstrap run (run-a) holds lease seldon-system/sd-gitops-bootstrap until 2026-03-01T10:03:00.000Z unless it renews it',
    );
  });

  it('takes over a lease seen unchanged for its duration', async () => {
    const fake = heldByRunA(60, '2026-03-01T10:00:00Z', { leaseTransitions: 2 });
    let mono = 0;
    const observation: LeaseObservation = {};
    const opts = {
      namespace: NS,
      name: NAME,
      holder: 'run-b',
      ttlSeconds: 60,
      observation,
      now: () => new Date('2026-03-01T10:05:00Z'),
      monotonic: () => mono,
    };
    await expect(acquireLease(fake.client(), opts)).rejects.toBeInstanceOf(LeaseHeldError);
    mono = 60_000;
    const lease = await acquireLease(fake.client(), opts);
    expect(leaseSpec(fake)).toMatchObject({
      holderIdentity: 'run-b',
      leaseTransitions: 3,
      renewTime: '2026-03-01T10:05:00.000000Z',
    });
    expect(lease.takenOverFrom).toEqual({ holder: 'run-a', expiredAt: new Date('2026-03-01T10:05:00Z') });
    await lease.release();
  });

  describe('clock skew between pods', () => {
    // The waiting run's wall clock says 10:00; the holder's renewTime is minutes off either way.
    const WALL = new Date('2026-03-01T10:00:00Z');
    const attempt = async (skewMinutes: number, renewing: boolean) => {
      const fake = new FakeApiServer();
      const renewAt = (ms: number) => toMicroTime(new Date(WALL.getTime() + skewMinutes * 60_000 + ms));
      seedLease(fake, { holderIdentity: 'run-a', leaseDurationSeconds: 60, renewTime: renewAt(0) });
      let mono = 1_000;
      const observation: LeaseObservation = {};
      const outcomes: string[] = [];
      // Poll every 5 s for 3 minutes, as preflight's wait does.
      for (let t = 0; t <= 180_000; t += 5_000) {
        mono = 1_000 + t;
        if (renewing && t % 20_000 === 0 && t > 0) {
          const live = fake.stored(leaseRef) as KubeObject;
          fake.seed({ ...live, spec: { ...(live.spec as object), renewTime: renewAt(t) } } as KubeObject);
        }
        const got = await acquireLease(fake.client(), {
          namespace: NS,
          name: NAME,
          holder: 'run-b',
          ttlSeconds: 60,
          observation,
          now: () => new Date(WALL.getTime() + t),
          monotonic: () => mono,
        }).catch((e: unknown) => e);
        if (got instanceof LeaseHeldError) continue;
        outcomes.push(`taken after ${t / 1000} s`);
        await (got as LeaseHandle).release();
        break;
      }
      return outcomes[0] ?? 'never taken in 180 s';
    };

    it.each([-10, -3, 3, 10])(
      'a holder %i minutes off that stopped renewing is taken over after exactly one duration',
      async (skew) => {
        expect(await attempt(skew, false)).toBe('taken after 60 s');
      },
    );

    it.each([-10, 10])('a holder %i minutes off that keeps renewing is never taken over', async (skew) => {
      expect(await attempt(skew, true)).toBe('never taken in 180 s');
    });
  });

  it('loses the race on 409 and names the winner', async () => {
    const fake = new FakeApiServer();
    const kube = fake.client();
    // Between our GET (404) and our POST, another run creates the lease.
    fake.faults.push((req) => {
      if (req.method !== 'POST') return undefined;
      seedLease(fake, {
        holderIdentity: 'run-fast',
        leaseDurationSeconds: 60,
        renewTime: toMicroTime(new Date()),
      });
      return {
        status: 409,
        headers: {},
        body: JSON.stringify({
          kind: 'Status',
          reason: 'AlreadyExists',
          code: 409,
          message: 'leases "x" already exists',
        }),
      };
    });
    await expect(
      acquireLease(kube, { namespace: NS, name: NAME, holder: 'run-b', ttlSeconds: 60 }),
    ).rejects.toThrow(/another sd-gitops-bootstrap run \(run-fast\) holds lease/);
  });

  it('renews while held and reports a lease taken over', async () => {
    vi.useFakeTimers();
    try {
      const fake = new FakeApiServer();
      const onLost = vi.fn();
      const lease = await acquireLease(fake.client(), {
        namespace: NS,
        name: NAME,
        holder: 'run-a',
        ttlSeconds: 30,
        renewIntervalMs: 10_000,
        onLost,
      });
      const firstRv = fake.stored(leaseRef)?.metadata.resourceVersion;
      await vi.advanceTimersByTimeAsync(10_000);
      expect(fake.stored(leaseRef)?.metadata.resourceVersion).not.toBe(firstRv);

      // Someone else takes it over (e.g. after we were paused past expiry).
      const live = fake.stored(leaseRef) as KubeObject;
      fake.objects.set(fake.pathOf(live), {
        ...live,
        metadata: { ...live.metadata, resourceVersion: '999999' },
        spec: { ...(live.spec as object), holderIdentity: 'run-b' },
      });
      await vi.advanceTimersByTimeAsync(10_000);
      expect(onLost).toHaveBeenCalledOnce();
      expect(lease.lost).toBe(true);
      await lease.release();
      expect(leaseSpec(fake).holderIdentity).toBe('run-b');
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('the write guard (LeaseHandle.beforeWrite through KubeClient.useWriteGuard)', () => {
  const configMap = (name: string): KubeObject => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace: NS },
    data: { a: '1' },
  });
  /** Another run takes the Lease over, as a run would after seeing it unchanged for its duration. */
  const takeOver = (fake: FakeApiServer, holder: string) => {
    const live = fake.stored(leaseRef) as KubeObject;
    fake.objects.set(fake.pathOf(live), {
      ...live,
      metadata: { ...live.metadata, resourceVersion: '999999' },
      spec: {
        ...(live.spec as object),
        holderIdentity: holder,
        acquireTime: '2026-03-01T10:07:00.000000Z',
        renewTime: '2026-03-01T10:07:00.000000Z',
      },
    });
  };
  const withNamespace = (): FakeApiServer => {
    const fake = new FakeApiServer();
    fake.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    return fake;
  };
  /** Writes the server received other than the Lease's own, from request index `from` on. */
  const objectWrites = (fake: FakeApiServer, from: number) =>
    fake.requests.slice(from).filter((r) => r.method !== 'GET' && !r.url.includes('/leases'));
  /** The methods of the Lease requests the server received from request index `from` on. */
  const leaseMethods = (fake: FakeApiServer, from: number) =>
    fake.requests
      .slice(from)
      .filter((r) => r.url.includes('/leases/'))
      .map((r) => r.method);
  /** run-a holds the Lease (30 s) on a fresh server, its writes guarded; `clock.mono` is its monotonic clock. */
  const guardedRun = async () => {
    const fake = withNamespace();
    const kube = fake.client(NS);
    const clock = { mono: 0 };
    const lease = await acquireLease(kube, {
      namespace: NS,
      name: NAME,
      holder: 'run-a',
      ttlSeconds: 30,
      monotonic: () => clock.mono,
    });
    kube.useWriteGuard((req) => lease.beforeWrite(req));
    return { fake, kube, lease, clock };
  };

  it('a run whose Lease another run took stops before its next write, naming both', async () => {
    vi.useFakeTimers();
    try {
      const fake = withNamespace();
      const kube = fake.client(NS);
      const lease = await acquireLease(kube, {
        namespace: NS,
        name: NAME,
        holder: 'run-a',
        ttlSeconds: 30,
        renewIntervalMs: 10_000,
      });
      kube.useWriteGuard((req) => lease.beforeWrite(req));
      await kube.apply(configMap('before'));
      expect(objectWrites(fake, 0)).toHaveLength(1);

      takeOver(fake, 'run-b');
      const atTakeover = fake.requests.length;
      await vi.advanceTimersByTimeAsync(10_000); // the renewal finds it taken
      expect(lease.lost).toBe(true);
      const err = await kube.apply(configMap('after')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LeaseLostError);
      expect((err as Error).message).toBe(
        'lost the Lease sd-gitops-bootstrap to run-b at 2026-03-01T10:07:00.000000Z; stopped before writing PATCH configmaps seldon-system/after; the other run finishes the work',
      );
      expect(objectWrites(fake, atTakeover)).toEqual([]);
      // A delete is a write too.
      await expect(
        kube.delete({ apiVersion: 'v1', kind: 'ConfigMap', namespace: NS, name: 'before' }),
      ).rejects.toBeInstanceOf(LeaseLostError);
      expect(objectWrites(fake, atTakeover)).toEqual([]);
      await lease.release();
      expect(leaseSpec(fake).holderIdentity).toBe('run-b');
    } finally {
      vi.useRealTimers();
    }
  });

  it('a run paused past its Lease renews before its next write and stops there', async () => {
    const { fake, kube, lease, clock } = await guardedRun();
    // Paused (SIGSTOP, a frozen node) for 40 s: no renewal ran; meanwhile another run took the Lease.
    clock.mono = 40_000;
    takeOver(fake, 'run-b');
    const atTakeover = fake.requests.length;
    await expect(kube.apply(configMap('after-pause'))).rejects.toThrow(
      /^lost the Lease sd-gitops-bootstrap to run-b at .*; stopped before writing PATCH configmaps seldon-system\/after-pause;/,
    );
    expect(objectWrites(fake, atTakeover)).toEqual([]);
    // The guard asked the server (a renewal, refused), not its memory.
    expect(leaseMethods(fake, atTakeover)).toEqual(['PUT', 'GET']);
    await lease.release();
  });

  it('costs no request while the Lease was confirmed recently, and passes after release', async () => {
    const { fake, kube, lease, clock } = await guardedRun();
    clock.mono = 14_000; // under half the TTL since the last confirmation
    const before = fake.requests.length;
    await kube.apply(configMap('fresh'));
    expect(fake.requests.slice(before).filter((r) => r.url.includes('/leases/'))).toEqual([]);
    clock.mono = 16_000; // over: one renewal first, then the write
    const mid = fake.requests.length;
    await kube.apply(configMap('renewed-first'));
    expect(leaseMethods(fake, mid)).toEqual(['PUT']);
    await lease.release();
    await kube.apply(configMap('report')); // the report is written after release
    expect(fake.stored(configMap('report'))).toBeDefined();
  });

  it('a Lease not renewed for its whole duration stops the next write', async () => {
    const { fake, kube, clock } = await guardedRun();
    clock.mono = 31_000;
    // The renewal fails (the API server refuses Lease writes), so nothing proves the Lease is still ours.
    fake.faults.push((req) =>
      req.url.includes('/leases/') && req.method === 'PUT'
        ? {
            status: 403,
            headers: {},
            body: JSON.stringify({ kind: 'Status', code: 403, reason: 'Forbidden' }),
          }
        : undefined,
    );
    await expect(kube.apply(configMap('x'))).rejects.toThrow(
      /^lost the Lease sd-gitops-bootstrap to another run at .* \(not renewed for 31 s, longer than its 30 s\); stopped before writing PATCH configmaps seldon-system\/x;/,
    );
    expect(fake.stored(configMap('x'))).toBeUndefined();
  });
});

describe('describeWrite', () => {
  it.each([
    [
      'PATCH',
      'https://k/apis/apps/v1/namespaces/argocd/deployments/argocd-server?fieldManager=x',
      'PATCH deployments.apps argocd/argocd-server',
    ],
    ['POST', 'https://k/api/v1/namespaces/ns1/configmaps', 'POST configmaps ns1'],
    ['DELETE', 'https://k/api/v1/namespaces/ns1', 'DELETE namespaces ns1'],
    [
      'PATCH',
      'https://k/apis/rbac.authorization.k8s.io/v1/clusterroles/argocd-server',
      'PATCH clusterroles.rbac.authorization.k8s.io argocd-server',
    ],
    ['PUT', 'https://k/api/v1/namespaces/ns1/pods/p/status', 'PUT pods ns1/p (status)'],
  ])('%s %s', (method, url, want) => {
    expect(describeWrite(method, url)).toBe(want);
  });
});

describe('toMicroTime', () => {
  it('has six fractional digits', () => {
    expect(toMicroTime(new Date('2026-03-01T10:00:00.123Z'))).toBe('2026-03-01T10:00:00.123000Z');
  });
});

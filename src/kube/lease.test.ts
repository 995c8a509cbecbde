import { describe, expect, it, vi } from 'vitest';
import { FakeApiServer } from '../../test/fakes/kube-http.ts';
import { KubeClient } from './client.ts';
import { acquireLease, LeaseHeldError, toMicroTime } from './lease.ts';
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

  it('refuses while another run holds an unexpired lease', async () => {
    const fake = new FakeApiServer();
    const renewTime = new Date('2026-03-01T10:00:00Z');
    seedLease(fake, {
      holderIdentity: 'run-a',
      leaseDurationSeconds: 120,
      renewTime: toMicroTime(renewTime),
    });
    const err = await acquireLease(fake.client(), {
      namespace: NS,
      name: NAME,
      holder: 'run-b',
      ttlSeconds: 120,
      now: () => new Date('2026-03-01T10:01:00Z'),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LeaseHeldError);
    expect((err as Error).message).toBe(
      'another sd-gitops-bootstrap run (run-a) holds lease seldon-system/sd-gitops-bootstrap until 2026-03-01T10:02:00.000Z',
    );
  });

  it('takes over an expired lease', async () => {
    const fake = new FakeApiServer();
    seedLease(fake, {
      holderIdentity: 'run-a',
      leaseDurationSeconds: 60,
      renewTime: toMicroTime(new Date('2026-03-01T10:00:00Z')),
      leaseTransitions: 2,
    });
    const lease = await acquireLease(fake.client(), {
      namespace: NS,
      name: NAME,
      holder: 'run-b',
      ttlSeconds: 60,
      now: () => new Date('2026-03-01T10:05:00Z'),
    });
    expect(leaseSpec(fake)).toMatchObject({
      holderIdentity: 'run-b',
      leaseTransitions: 3,
      renewTime: '2026-03-01T10:05:00.000000Z',
    });
    expect(lease.takenOverFrom).toEqual({ holder: 'run-a', expiredAt: new Date('2026-03-01T10:01:00Z') });
    await lease.release();
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

describe('toMicroTime', () => {
  it('has six fractional digits', () => {
    expect(toMicroTime(new Date('2026-03-01T10:00:00.123Z'))).toBe('2026-03-01T10:00:00.123000Z');
  });
});

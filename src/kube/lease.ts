/**
 * One run at a time: a coordination.k8s.io/v1 Lease, taken with optimistic concurrency (resourceVersion;
 * a 409 means another run won the race), renewed while held, and released by clearing the holder so the
 * next run can start at once instead of waiting out the lease.
 */
import { ApiError } from '../errors.ts';
import type { Kube, KubeObject } from './types.ts';

export interface LeaseOptions {
  namespace: string;
  name: string;
  /** Who we are, e.g. the pod name plus a run id; shown to the run that finds the lease taken. */
  holder: string;
  ttlSeconds: number;
  /** Default: a third of the TTL. */
  renewIntervalMs?: number;
  /** Called once if the lease is lost while held (someone else took it over after it expired). */
  onLost?: (reason: string) => void;
  /** Test seam. */
  now?: () => Date;
}

export interface LeaseHandle {
  readonly holder: string;
  /** True once renewal found the lease taken by someone else. */
  readonly lost: boolean;
  /**
   * The run that held the lease before and let it expire without releasing it (killed, or its node
   * lost): this run took it over. Undefined when the lease was free or released.
   */
  readonly takenOverFrom: { holder: string; expiredAt: Date } | undefined;
  /** Stops renewing and clears `holderIdentity`. Safe to call twice. */
  release(): Promise<void>;
}

/** The lease is held by another run that has not let it expire. */
export class LeaseHeldError extends Error {
  override name = 'LeaseHeldError';
  readonly holder: string;
  readonly until: Date | undefined;
  constructor(namespace: string, name: string, holder: string, until: Date | undefined) {
    super(
      `another sd-gitops-bootstrap run (${holder}) holds lease ${namespace}/${name}` +
        (until ? ` until ${until.toISOString()}` : ''),
    );
    this.holder = holder;
    this.until = until;
  }
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

type Lease = KubeObject & { spec?: LeaseSpec };

/** Kubernetes MicroTime: RFC 3339 with exactly six fractional digits (Go's parser insists). */
export function toMicroTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** When the lease runs out; undefined when it was never renewed (free). */
export function leaseExpiry(spec: LeaseSpec): Date | undefined {
  const since = spec.renewTime ?? spec.acquireTime;
  if (!since || spec.leaseDurationSeconds === undefined) return undefined;
  return new Date(Date.parse(since) + spec.leaseDurationSeconds * 1000);
}

function isConflict(err: unknown): boolean {
  return err instanceof ApiError && (err.status === 409 || err.reason === 'AlreadyExists');
}

export async function acquireLease(kube: Kube, opts: LeaseOptions): Promise<LeaseHandle> {
  const now = opts.now ?? (() => new Date());
  const collection = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(opts.namespace)}/leases`;
  const path = `${collection}/${encodeURIComponent(opts.name)}`;
  const read = async (): Promise<Lease | null> => {
    try {
      return await kube.request<Lease>('GET', path);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return null;
      throw err;
    }
  };
  const heldBy = (lease: Lease | null): LeaseHeldError =>
    new LeaseHeldError(
      opts.namespace,
      opts.name,
      lease?.spec?.holderIdentity || 'unknown holder',
      lease?.spec ? leaseExpiry(lease.spec) : undefined,
    );

  const live = await read();
  const t = toMicroTime(now());
  let current: Lease;
  let takenOverFrom: LeaseHandle['takenOverFrom'];
  if (live === null) {
    try {
      current = await kube.request<Lease>('POST', collection, {
        body: {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: {
            name: opts.name,
            namespace: opts.namespace,
            labels: { 'app.kubernetes.io/managed-by': 'sd-gitops-bootstrap' },
          },
          spec: {
            holderIdentity: opts.holder,
            leaseDurationSeconds: opts.ttlSeconds,
            acquireTime: t,
            renewTime: t,
            leaseTransitions: 0,
          },
        },
      });
    } catch (err) {
      if (!isConflict(err)) throw err;
      // A retried request whose first attempt went through (the answer was lost to a reset) conflicts
      // with itself: the Lease is then ours.
      const latest = await read();
      if (latest?.spec?.holderIdentity !== opts.holder) throw heldBy(latest);
      current = latest;
    }
  } else {
    const spec = live.spec ?? {};
    const holder = spec.holderIdentity;
    const expiry = leaseExpiry(spec);
    const free =
      !holder || holder === opts.holder || expiry === undefined || expiry.getTime() < now().getTime();
    if (!free) throw heldBy(live);
    if (holder && holder !== opts.holder && expiry) takenOverFrom = { holder, expiredAt: expiry };
    try {
      current = await kube.request<Lease>('PUT', path, {
        body: {
          ...live,
          spec: {
            ...spec,
            holderIdentity: opts.holder,
            leaseDurationSeconds: opts.ttlSeconds,
            acquireTime: t,
            renewTime: t,
            leaseTransitions: (spec.leaseTransitions ?? 0) + (holder && holder !== opts.holder ? 1 : 0),
          },
        },
      });
    } catch (err) {
      if (!isConflict(err)) throw err;
      // A retried request whose first attempt went through (the answer was lost to a reset) conflicts
      // with itself: the Lease is then ours.
      const latest = await read();
      if (latest?.spec?.holderIdentity !== opts.holder) throw heldBy(latest);
      current = latest;
    }
  }

  let lost = false;
  let released = false;
  let renewing: Promise<void> = Promise.resolve();

  const loseIt = (reason: string) => {
    if (lost) return;
    lost = true;
    clearInterval(timer);
    opts.onLost?.(reason);
  };

  const renew = async () => {
    try {
      current = await kube.request<Lease>('PUT', path, {
        body: { ...current, spec: { ...current.spec, renewTime: toMicroTime(now()) } },
      });
    } catch (err) {
      if (!isConflict(err)) return; // transient: the next tick tries again, well before expiry
      const latest = await read().catch(() => null);
      if (latest?.spec?.holderIdentity === opts.holder) current = latest;
      else
        loseIt(
          `lease ${opts.namespace}/${opts.name} is now held by ${latest?.spec?.holderIdentity || 'nobody'}`,
        );
    }
  };

  const interval = opts.renewIntervalMs ?? Math.max(1000, (opts.ttlSeconds * 1000) / 3);
  const timer = setInterval(() => {
    if (released || lost) return;
    renewing = renewing.then(renew);
  }, interval);
  timer.unref();

  return {
    holder: opts.holder,
    takenOverFrom,
    get lost() {
      return lost;
    },
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      await renewing;
      if (lost) return;
      for (let attempt = 0; attempt < 2; attempt++) {
        const { holderIdentity: _mine, ...spec } = current.spec ?? {};
        try {
          await kube.request('PUT', path, { body: { ...current, spec } });
          return;
        } catch (err) {
          if (!isConflict(err)) throw err;
          const latest = await read();
          if (latest?.spec?.holderIdentity !== opts.holder) return; // not ours any more: nothing to clear
          current = latest;
        }
      }
    },
  };
}

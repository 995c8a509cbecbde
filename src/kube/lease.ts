/**
 * One run at a time: a coordination.k8s.io/v1 Lease, taken with optimistic concurrency (resourceVersion;
 * a 409 means another run won the race), renewed while held, and released by clearing the holder so the
 * next run can start at once instead of waiting out the lease.
 *
 * Clocks: pods' wall clocks differ. Expiry is never judged from the holder's `renewTime` against this
 * pod's clock (a holder minutes behind would look expired at once, one ahead would look alive for
 * minutes). As client-go's leader election does, a run waiting for the Lease records when it last saw the
 * record change (holder, renewTime, resourceVersion…) on its own monotonic clock, and takes it over only
 * once it has seen it unchanged for a full `leaseDurationSeconds` (plus `skewAllowanceMs`).
 *
 * Writes: the holder confirms the Lease every `renewIntervalMs` (a third of the TTL). `beforeWrite` is the
 * guard every write of the run passes (the client calls it per attempt, `Kube.useWriteGuard`): it throws
 * LeaseLostError once the Lease is known to be someone else's, and when the last confirmation is older
 * than half the TTL (the process was paused, renewals failed) it renews first, so a run that was paused
 * past its Lease finds out before it writes, not after.
 */
import { ApiError, LeaseLostError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { sleep } from './retry.ts';
import type { Kube, KubeObject } from './types.ts';

/** The run's Lease, in the namespace the run runs in: one run at a time per namespace. */
export const LEASE_NAME = 'sd-gitops-bootstrap';

/**
 * How long the Lease lasts without renewal (renewed every third of it while the run lives): a run killed
 * without releasing it (SIGKILL, a lost node) blocks the next one for this long after the next one first
 * sees it (expiry is judged by observation on the waiting run's own clock, never by the holder's).
 */
export const LEASE_TTL_SECONDS = 60;
/** A run that would have less than this left after waiting for the Lease does not wait. */
const MIN_RUN_AFTER_WAIT_MS = 60_000;
const LEASE_POLL_MS = 5_000;

export interface WaitForLeaseOptions {
  namespace: string;
  holder: string;
  now: () => Date;
  /** Milliseconds left of the run's deadline. */
  remainingMs: () => number;
  signal: AbortSignal;
  log: Pick<Logger, 'warn' | 'error'>;
}

/**
 * The run's Lease, waited for while another run holds it — as long as it runs out (or is released) early
 * enough to leave this run a minute of its own deadline; otherwise LeaseHeldError at once. The holder may
 * be a run that is still working (it releases the Lease when done) or one that was killed (its Lease
 * then expires, at most LEASE_TTL_SECONDS after its last renewal, and is taken over).
 */
export async function waitForLease(kube: Kube, opts: WaitForLeaseOptions): Promise<LeaseHandle> {
  let said = '';
  // What this run has seen of another run's Lease, across attempts: it expires after a full TTL seen
  // unchanged on this pod's monotonic clock, whatever the holder's clock says.
  const observation: LeaseObservation = {};
  for (;;) {
    try {
      return await acquireLease(kube, {
        namespace: opts.namespace,
        name: LEASE_NAME,
        holder: opts.holder,
        ttlSeconds: LEASE_TTL_SECONDS,
        observation,
        onLost: (reason) => opts.log.error(`✗ lost the Lease: ${reason}`),
      });
    } catch (err) {
      if (!(err instanceof LeaseHeldError) || err.until === undefined) throw err;
      const left = err.until.getTime() - opts.now().getTime();
      if (left > opts.remainingMs() - MIN_RUN_AFTER_WAIT_MS) throw err;
      const line = `waiting for Lease ${opts.namespace}/${LEASE_NAME}: ${err.holder} holds it until ${err.until.toISOString()} (a run that ends releases it earlier)`;
      if (line !== said) opts.log.warn(line);
      said = line;
      await sleep(Math.min(LEASE_POLL_MS, Math.max(200, left + 200)), opts.signal);
    }
  }
}

/** Deletes the run's Lease (uninstall: nothing of the run stays), after it was released. */
export async function deleteLease(kube: Kube, namespace: string): Promise<void> {
  await kube.delete({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', namespace, name: LEASE_NAME });
}

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
  /**
   * What this run has seen of a Lease held by another run, kept across attempts (a waiting run calls
   * acquireLease again and again with the same object): expiry is counted from when the record last
   * changed, on the monotonic clock.
   */
  observation?: LeaseObservation;
  /** Waited on top of `leaseDurationSeconds` before a record seen unchanged counts as expired (default 0). */
  skewAllowanceMs?: number;
  /** Test seam: the wall clock (only for the times written into the Lease). */
  now?: () => Date;
  /** Test seam: a monotonic clock in milliseconds (default performance.now). */
  monotonic?: () => number;
}

/** The Lease record as last seen, and since when (monotonic ms). Start with `{}`. */
export interface LeaseObservation {
  record?: string;
  since?: number;
}

export interface LeaseHandle {
  readonly holder: string;
  /** True once renewal found the lease taken by someone else. */
  readonly lost: boolean;
  /** Who took it and when (their acquireTime, else when this run found out), once lost. */
  readonly lostTo: { holder: string | undefined; at: string; why?: string } | undefined;
  /**
   * The run that held the lease before and let it expire without releasing it (killed, or its node
   * lost): this run took it over. Undefined when the lease was free or released.
   */
  readonly takenOverFrom: { holder: string; expiredAt: Date } | undefined;
  /**
   * The write guard: resolves when this run may make the write `req`, throws LeaseLostError when it may
   * not. The Lease's own requests pass. After `release` every write passes (the run's report is written
   * after it), unless the Lease had been lost.
   */
  beforeWrite(req: { method: string; url: string }): Promise<void>;
  /** Stops renewing and clears `holderIdentity`. Safe to call twice. */
  release(): Promise<void>;
}

/** The lease is held by another run that has not let it expire. */
export class LeaseHeldError extends Error {
  override name = 'LeaseHeldError';
  readonly holder: string;
  /** The earliest this run could take it over if the holder stops renewing now (this pod's clock). */
  readonly until: Date | undefined;
  constructor(namespace: string, name: string, holder: string, until: Date | undefined) {
    super(
      `another sd-gitops-bootstrap run (${holder}) holds lease ${namespace}/${name}` +
        (until ? ` until ${until.toISOString()} unless it renews it` : ''),
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

/**
 * When the lease runs out by the holder's own clock (its renewTime plus the duration); undefined when it was
 * never renewed. The holder's claim, for messages only: expiry is judged by observation (`acquireLease`).
 */
export function leaseExpiry(spec: LeaseSpec): Date | undefined {
  const since = spec.renewTime ?? spec.acquireTime;
  if (!since || spec.leaseDurationSeconds === undefined) return undefined;
  return new Date(Date.parse(since) + spec.leaseDurationSeconds * 1000);
}

function isConflict(err: unknown): boolean {
  return err instanceof ApiError && (err.status === 409 || err.reason === 'AlreadyExists');
}

/** `PATCH deployments.apps argocd/argocd-server` from a request, for the sentence of a stopped write. */
export function describeWrite(method: string, url: string): string {
  let path = url;
  try {
    path = new URL(url, 'http://x').pathname;
  } catch {
    // keep it as it is
  }
  const m =
    /^\/(?:api\/[^/]+|apis\/([^/]+)\/[^/]+)(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?$/.exec(
      path,
    );
  if (!m) return `${method} ${path}`;
  const [, group, namespace, resource, name, sub] = m;
  // `/api/v1/namespaces/x` is the Namespace x itself.
  if (namespace && !resource) return `${method} namespaces ${namespace}`;
  const kind = `${resource}${group ? `.${group}` : ''}`;
  const where = [namespace, name]
    .filter(Boolean)
    .map((p) => decodeURIComponent(p!))
    .join('/');
  return `${method} ${kind}${where ? ` ${where}` : ''}${sub ? ` (${sub})` : ''}`;
}

export async function acquireLease(kube: Kube, opts: LeaseOptions): Promise<LeaseHandle> {
  const now = opts.now ?? (() => new Date());
  const mono = opts.monotonic ?? (() => performance.now());
  const ttlMs = opts.ttlSeconds * 1000;
  const collection = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(opts.namespace)}/leases`;
  const path = `${collection}/${encodeURIComponent(opts.name)}`;
  const leaseName = `${opts.namespace}/${opts.name}`;
  const read = async (): Promise<Lease | null> => {
    try {
      return await kube.request<Lease>('GET', path);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return null;
      throw err;
    }
  };
  const heldBy = (lease: Lease | null, until?: Date): LeaseHeldError =>
    new LeaseHeldError(opts.namespace, opts.name, lease?.spec?.holderIdentity || 'unknown holder', until);

  /** Until when the record must stay unchanged before it counts as expired (undefined: it has expired). */
  const observe = (lease: Lease, seenAt: number): Date | undefined => {
    const spec = lease.spec ?? {};
    const seen = opts.observation ?? {};
    const record = JSON.stringify([
      lease.metadata.resourceVersion,
      spec.holderIdentity,
      spec.renewTime,
      spec.acquireTime,
      spec.leaseDurationSeconds,
      spec.leaseTransitions,
    ]);
    if (seen.record !== record || seen.since === undefined) {
      seen.record = record;
      seen.since = seenAt;
    }
    const left =
      (spec.leaseDurationSeconds ?? 0) * 1000 + (opts.skewAllowanceMs ?? 0) - (mono() - seen.since);
    return left > 0 ? new Date(now().getTime() + left) : undefined;
  };

  /** Creates or replaces the Lease; on a conflict, reads it back and fails unless it is this run's. */
  const write = async (method: 'POST' | 'PUT', url: string, body: Lease): Promise<Lease> => {
    try {
      return await kube.request<Lease>(method, url, { body });
    } catch (err) {
      if (!isConflict(err)) throw err;
      // A retried request whose first attempt went through (the answer was lost to a reset) conflicts
      // with itself: the Lease is then ours.
      const latest = await read();
      if (latest?.spec?.holderIdentity !== opts.holder)
        throw heldBy(latest, latest ? observe(latest, mono()) : undefined);
      return latest;
    }
  };

  let confirmedAt = mono();
  const live = await read();
  const seenAt = mono();
  const t = toMicroTime(now());
  let current: Lease;
  let takenOverFrom: LeaseHandle['takenOverFrom'];
  if (live === null) {
    current = await write('POST', collection, {
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
    });
  } else {
    const spec = live.spec ?? {};
    const holder = spec.holderIdentity;
    // Another run's Lease without a duration never expires by itself: treated as free (as before).
    const other = !!holder && holder !== opts.holder && spec.leaseDurationSeconds !== undefined;
    if (other) {
      const until = observe(live, seenAt);
      if (until) throw heldBy(live, until);
      takenOverFrom = { holder, expiredAt: now() };
    }
    confirmedAt = mono();
    current = await write('PUT', path, {
      ...live,
      spec: {
        ...spec,
        holderIdentity: opts.holder,
        leaseDurationSeconds: opts.ttlSeconds,
        acquireTime: t,
        renewTime: t,
        leaseTransitions: (spec.leaseTransitions ?? 0) + (holder && holder !== opts.holder ? 1 : 0),
      },
    });
  }

  let lost = false;
  let lostTo: LeaseHandle['lostTo'];
  let released = false;
  let renewing: Promise<void> = Promise.resolve();

  const loseIt = (by: NonNullable<LeaseHandle['lostTo']>) => {
    if (lost) return;
    lost = true;
    lostTo = by;
    clearInterval(timer);
    opts.onLost?.(
      `lease ${leaseName} is now held by ${by.holder || 'nobody'}${by.why ? ` (${by.why})` : ''}`,
    );
  };

  /** One renewal; a conflict with our own earlier write (a retried PUT) is renewed again once. */
  const renew = async () => {
    for (let attempt = 0; attempt < 2 && !lost; attempt++) {
      const sent = mono();
      try {
        current = await kube.request<Lease>('PUT', path, {
          body: { ...current, spec: { ...current.spec, renewTime: toMicroTime(now()) } },
        });
        confirmedAt = sent;
        return;
      } catch (err) {
        if (!isConflict(err)) return; // transient: the next tick (or the write guard) tries again
        const latest = await read().catch(() => null);
        if (latest?.spec?.holderIdentity === opts.holder) {
          current = latest;
          continue;
        }
        loseIt({
          holder: latest?.spec?.holderIdentity || undefined,
          at: latest?.spec?.acquireTime ?? toMicroTime(now()),
        });
      }
    }
  };
  const renewNow = (): Promise<void> => {
    renewing = renewing.then(renew);
    return renewing;
  };

  const interval = opts.renewIntervalMs ?? Math.max(1000, ttlMs / 3);
  /** A confirmation older than this is renewed before the next write. */
  const staleAfterMs = Math.min(interval * 1.5, ttlMs / 2);
  const timer = setInterval(() => {
    if (released || lost) return;
    void renewNow();
  }, interval);
  timer.unref();

  const lostError = (req: { method: string; url: string }) =>
    new LeaseLostError({
      lease: opts.name,
      holder: lostTo?.holder,
      at: lostTo?.at ?? toMicroTime(now()),
      write: describeWrite(req.method, req.url),
      ...(lostTo?.why ? { why: lostTo.why } : {}),
    });

  return {
    holder: opts.holder,
    takenOverFrom,
    get lost() {
      return lost;
    },
    get lostTo() {
      return lostTo;
    },
    async beforeWrite(req) {
      if (new URL(req.url, 'http://x').pathname === path) return; // the Lease itself
      if (lost) throw lostError(req);
      if (released) return;
      await renewing; // a renewal in flight decides first
      if (!lost && mono() - confirmedAt > staleAfterMs) await renewNow();
      if (!lost && mono() - confirmedAt >= ttlMs) {
        // Not renewed for a whole lease duration (the API server refused or did not answer): another run
        // may have taken it over by now.
        loseIt({
          holder: undefined,
          at: toMicroTime(now()),
          why: `not renewed for ${Math.round((mono() - confirmedAt) / 1000)} s, longer than its ${opts.ttlSeconds} s`,
        });
      }
      if (lost) throw lostError(req);
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
          if (latest?.spec?.holderIdentity !== opts.holder) {
            // Not ours any more: nothing to clear, and the run learns it lost the Lease (its report is
            // the other run's to write).
            loseIt({
              holder: latest?.spec?.holderIdentity || undefined,
              at: latest?.spec?.acquireTime ?? toMicroTime(now()),
            });
            return;
          }
          current = latest;
        }
      }
    },
  };
}

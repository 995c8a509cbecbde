/**
 * The few error classes the program throws. Only `src/main.ts` maps them to exit codes:
 * ConfigError / UsageError → 2, everything else → 1.
 */

/** One problem found in the configuration, addressed by its dot path (`environments.namespaces[1].name`). */
export interface ConfigProblem {
  path: string;
  message: string;
}

/** Bad configuration: every problem found, collected before anything is written. */
export class ConfigError extends Error {
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[]) {
    super(
      `invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  - ${p.path ? `${p.path}: ` : ''}${p.message}`).join('\n'),
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Bad command line (unknown command or flag). */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A Kubernetes API request that failed with an HTTP status (or never got one). */
export class ApiError extends Error {
  override name = 'ApiError';
  readonly status: number | undefined;
  readonly reason: string | undefined;
  readonly method: string;
  readonly path: string;
  constructor(
    message: string,
    opts: { status?: number; reason?: string; method: string; path: string; cause?: unknown },
  ) {
    super(message, { cause: opts.cause });
    this.status = opts.status;
    this.reason = opts.reason;
    this.method = opts.method;
    this.path = opts.path;
  }
}

/** A wait that ran out of time. The message carries the last observed state, not just "timed out". */
export class TimeoutError extends Error {
  override name = 'TimeoutError';
  readonly attempts: number;
  readonly elapsedMs: number;
  constructor(message: string, opts: { attempts: number; elapsedMs: number; cause?: unknown }) {
    super(message, { cause: opts.cause });
    this.attempts = opts.attempts;
    this.elapsedMs = opts.elapsedMs;
  }
}

/** A step that could not do its job, with a sentence a person can act on. */
export class StepError extends Error {
  override name = 'StepError';
  readonly step: string;
  constructor(step: string, message: string, opts?: { cause?: unknown }) {
    super(message, opts);
    this.step = step;
  }
}

/** Missing RBAC permissions found in preflight. */
export class PermissionError extends Error {
  override name = 'PermissionError';
  readonly missing: string[];
  constructor(missing: string[]) {
    super(`missing permissions (${missing.length}):\n${missing.map((m) => `  - ${m}`).join('\n')}`);
    this.missing = missing;
  }
}

/** The message of any thrown value, for checks and logs. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * This run's Lease was taken by another run (or could not be renewed within its duration): the run stopped
 * before the write it was about to make, and leaves the work to the run that holds the Lease now.
 */
export class LeaseLostError extends Error {
  override name = 'LeaseLostError';
  readonly lease: string;
  /** The run that holds the Lease now, when known. */
  readonly holder: string | undefined;
  /** When it took the Lease (its acquireTime), else when this run found out. */
  readonly at: string;
  /** The write that was not made: `PATCH deployments.apps argocd/argocd-server`. */
  readonly write: string;
  constructor(opts: { lease: string; holder: string | undefined; at: string; write: string; why?: string }) {
    super(
      `lost the Lease ${opts.lease} to ${opts.holder ?? 'another run'} at ${opts.at}` +
        (opts.why ? ` (${opts.why})` : '') +
        `; stopped before writing ${opts.write}; the other run finishes the work`,
    );
    this.lease = opts.lease;
    this.holder = opts.holder;
    this.at = opts.at;
    this.write = opts.write;
  }
}

/** The LeaseLostError in `err` or its causes (a step may wrap what a write threw). */
export function leaseLostIn(err: unknown): LeaseLostError | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 10; e = e.cause, depth++)
    if (e instanceof LeaseLostError) return e;
  return undefined;
}

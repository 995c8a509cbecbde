/**
 * Polling with a deadline. Simpler than watches (2.0.1 times idle watches out after 30 s and needs
 * re-list on 410) and enough for rollouts, CRDs and Applications.
 */
import { ApiError, TimeoutError } from '../errors.ts';
import { sleep } from './retry.ts';

export interface ProbeResult<T> {
  done: boolean;
  value?: T;
  /** What is observed now, in words ("2 of 3 updated replicas are available"); ends up in the timeout. */
  state: string;
  /** Set when waiting longer cannot help ("exceeded its progress deadline"): fail at once. */
  terminal?: string | undefined;
}

export interface WaitOptions {
  timeoutMs: number;
  intervalMs: number;
  signal?: AbortSignal | undefined;
  /**
   * Whether an error thrown by the probe ends the wait (`'terminal'`) or is remembered and retried on the
   * next poll. Default: `defaultClassifyError`.
   */
  classifyError?: (err: unknown) => 'retry' | 'terminal';
}

/** A wait ended by a terminal state (not by time). */
export class WaitFailedError extends Error {
  override name = 'WaitFailedError';
  readonly description: string;
  constructor(description: string, terminal: string) {
    super(`${description}: ${terminal}`);
    this.description = description;
  }
}

/**
 * API errors that polling can outlive (404 not yet created, 409, 429, 5xx, network) are retried;
 * 400/401/403/422 and non-API errors (bugs) end the wait.
 */
export function defaultClassifyError(err: unknown): 'retry' | 'terminal' {
  if (!(err instanceof ApiError)) return 'terminal';
  if (err.status === undefined) return 'retry';
  return [400, 401, 403, 422].includes(err.status) ? 'terminal' : 'retry';
}

/**
 * Polls `probe` until it reports `done` and resolves with its `value`. Probes once at once, then every
 * `intervalMs`, and a last time at the deadline. A `terminal` result throws WaitFailedError; running out
 * of time throws TimeoutError "timed out after 2m waiting for <description>: <last state>" whose cause is
 * the last error the probe threw.
 */
export async function waitFor<T>(
  description: string,
  probe: () => Promise<ProbeResult<T>>,
  opts: WaitOptions,
): Promise<T> {
  const classify = opts.classifyError ?? defaultClassifyError;
  const start = Date.now();
  const deadline = start + opts.timeoutMs;
  let attempts = 0;
  let lastState = 'no answer yet';
  let lastError: unknown;

  for (;;) {
    opts.signal?.throwIfAborted();
    attempts++;
    try {
      const result = await probe();
      lastState = result.state;
      if (result.terminal !== undefined) throw new WaitFailedError(description, result.terminal);
      if (result.done) return result.value as T;
    } catch (err) {
      if (err instanceof WaitFailedError || classify(err) === 'terminal') throw err;
      lastError = err;
      lastState = err instanceof Error ? err.message : String(err);
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      const elapsedMs = Date.now() - start;
      throw new TimeoutError(
        `timed out after ${formatDuration(opts.timeoutMs)} waiting for ${description}: ${lastState}`,
        { attempts, elapsedMs, cause: lastError },
      );
    }
    await sleep(Math.min(opts.intervalMs, remaining), opts.signal);
  }
}

/** 120000 → "2m", 90000 → "1m30s", 1500 → "1.5s", 250 → "250ms" (Go's time.Duration style). */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  const parts: string[] = [];
  if (h) parts.push(`${h}h`);
  if (m) parts.push(`${m}m`);
  if (s) parts.push(`${Number.isInteger(s) ? s : s.toFixed(1).replace(/\.0$/, '')}s`);
  return parts.join('');
}

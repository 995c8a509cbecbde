/**
 * The HTTP transport seam and its retry policy. @kubernetes/client-node 2.x retries nothing, so every
 * request the program makes goes through `withRetry`: 429 (honouring Retry-After), 5xx, connection resets,
 * refused connections and timeouts are retried with exponential backoff and jitter inside one overall
 * deadline; client errors (400/401/403/404/409/422 …) are returned at once — repeating them cannot help.
 */

export interface HttpRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string | undefined;
  signal?: AbortSignal | undefined;
}

export interface HttpResponse {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: string;
}

/** Sends one HTTP request. Rejects only when no response arrived (network error, timeout, abort). */
export type Transport = (req: HttpRequest) => Promise<HttpResponse>;

export interface RetryInfo {
  /** 1-based number of the attempt that failed. */
  attempt: number;
  delayMs: number;
  /** `429`, `503`, `ECONNRESET` … */
  reason: string;
  method: string;
  url: string;
}

export interface RetryOptions {
  /** Budget for one logical request, every attempt and wait included. Default 60 s. */
  deadlineMs?: number;
  /** First backoff delay; doubles per attempt. Default 200 ms. */
  baseDelayMs?: number;
  /** Cap of one backoff delay. Default 5 s. */
  maxDelayMs?: number;
  /** Default 10. */
  maxAttempts?: number;
  /** Default `isRetryableResponse`. */
  retryResponse?: (res: HttpResponse) => boolean;
  onRetry?: (info: RetryInfo) => void;
  /** Test seams. */
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
}

/** 429 and 5xx except 501 Not Implemented (a permanent answer). */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status <= 599 && status !== 501);
}

/**
 * kube-apiserver answers a server-side apply whose object does not match the schema (unknown field, wrong
 * type) with 500 "failed to create typed patch object …" — a client error in a server error's clothes.
 * Repeating it cannot help.
 */
export function isSchemaError(res: HttpResponse): boolean {
  return res.status === 500 && /failed to create typed (patch|live) object/.test(res.body);
}

/** The default retry decision for a response. */
export function isRetryableResponse(res: HttpResponse): boolean {
  return isRetryableStatus(res.status) && !isSchemaError(res);
}

const RETRYABLE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/** Network failures worth another attempt, looked up along the `cause` chain (undici wraps them). */
export function isRetryableError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 6; depth++) {
    if (typeof e !== 'object') return false;
    const { code, name } = e as { code?: unknown; name?: unknown };
    if (typeof code === 'string' && RETRYABLE_CODES.has(code)) return true;
    // AbortSignal.timeout() of one attempt; a caller's abort is an AbortError and is not retried.
    if (name === 'TimeoutError') return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** A short label for logs: the error code along the cause chain, or the message. */
export function errorCode(err: unknown): string {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 6; depth++) {
    const { code, name } = e as { code?: unknown; name?: unknown };
    if (typeof code === 'string') return code;
    if (name === 'TimeoutError') return 'timeout';
    e = (e as { cause?: unknown }).cause;
  }
  return err instanceof Error ? err.message : String(err);
}

/** Retry-After as delta-seconds or an HTTP date, in milliseconds from `nowMs`; undefined if absent/invalid. */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}

/** Exponential backoff with "equal jitter": half fixed, half random, so retries spread but still grow. */
export function backoffDelay(
  attempt: number,
  baseDelayMs: number,
  maxDelayMs: number,
  random: number,
): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + (ceiling / 2) * random);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Wraps a transport with retries. The final answer is the last response (possibly still a 5xx/429, for the
 * caller to turn into an ApiError) or the last network error.
 */
export function withRetry(transport: Transport, opts: RetryOptions = {}): Transport {
  const deadlineMs = opts.deadlineMs ?? 60_000;
  const baseDelayMs = opts.baseDelayMs ?? 200;
  const maxDelayMs = opts.maxDelayMs ?? 5_000;
  const maxAttempts = opts.maxAttempts ?? 10;
  const now = opts.now ?? Date.now;
  const wait = opts.sleep ?? sleep;
  const random = opts.random ?? Math.random;
  const retryResponse = opts.retryResponse ?? isRetryableResponse;

  return async (req) => {
    const deadline = now() + deadlineMs;
    for (let attempt = 1; ; attempt++) {
      let response: HttpResponse | undefined;
      let error: unknown;
      try {
        response = await transport(req);
      } catch (err) {
        if (req.signal?.aborted || !isRetryableError(err)) throw err;
        error = err;
      }
      if (response && !retryResponse(response)) return response;

      let delay = backoffDelay(attempt, baseDelayMs, maxDelayMs, random());
      if (response) {
        const retryAfter = parseRetryAfter(response.headers['retry-after'], now());
        if (retryAfter !== undefined) delay = retryAfter;
      }
      const outOfBudget = attempt >= maxAttempts || now() + delay > deadline;
      if (outOfBudget) {
        if (response) return response;
        throw error;
      }
      opts.onRetry?.({
        attempt,
        delayMs: delay,
        reason: response ? String(response.status) : errorCode(error),
        method: req.method,
        url: req.url,
      });
      await wait(delay, req.signal);
    }
  };
}

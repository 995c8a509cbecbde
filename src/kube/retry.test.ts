import { describe, expect, it } from 'vitest';
import {
  backoffDelay,
  type HttpRequest,
  type HttpResponse,
  isRetryableError,
  parseRetryAfter,
  type RetryOptions,
  type Transport,
  withRetry,
} from './retry.ts';

const req: HttpRequest = { method: 'GET', url: 'https://k8s.test/api/v1', headers: {} };

function response(status: number, headers: Record<string, string> = {}): HttpResponse {
  return { status, headers, body: '' };
}

function networkError(code: string): Error {
  return new TypeError('fetch failed', { cause: Object.assign(new Error(code), { code }) });
}

/** A fake transport answering from a script, and a fake clock that `sleep` advances. */
function setup(script: (HttpResponse | Error)[], opts: RetryOptions = {}) {
  let clock = 0;
  const sleeps: number[] = [];
  const calls: HttpRequest[] = [];
  const transport: Transport = async (r) => {
    calls.push(r);
    const next = script.shift();
    if (!next) throw new Error('script exhausted');
    if (next instanceof Error) throw next;
    return next;
  };
  const send = withRetry(transport, {
    now: () => clock,
    sleep: async (ms) => {
      sleeps.push(ms);
      clock += ms;
    },
    random: () => 0.5,
    ...opts,
  });
  return { send, sleeps, calls };
}

describe('withRetry', () => {
  it.each([400, 401, 403, 404, 409, 422])('returns %i at once', async (status) => {
    const { send, calls } = setup([response(status)]);
    expect((await send(req)).status).toBe(status);
    expect(calls).toHaveLength(1);
  });

  it.each([500, 502, 503, 504])('retries %i', async (status) => {
    const { send, calls } = setup([response(status), response(200)]);
    expect((await send(req)).status).toBe(200);
    expect(calls).toHaveLength(2);
  });

  it('honours Retry-After on 429', async () => {
    const { send, sleeps } = setup([response(429, { 'retry-after': '3' }), response(200)]);
    expect((await send(req)).status).toBe(200);
    expect(sleeps).toEqual([3000]);
  });

  it.each(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'UND_ERR_SOCKET'])('retries %s', async (code) => {
    const { send, calls } = setup([networkError(code), response(200)]);
    expect((await send(req)).status).toBe(200);
    expect(calls).toHaveLength(2);
  });

  it('retries an attempt that timed out', async () => {
    const timeout = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    const { send } = setup([timeout as unknown as Error, response(200)]);
    expect((await send(req)).status).toBe(200);
  });

  it('does not retry other errors', async () => {
    const { send, calls } = setup([networkError('ERR_TLS_CERT_ALTNAME_INVALID')]);
    await expect(send(req)).rejects.toThrow('fetch failed');
    expect(calls).toHaveLength(1);
  });

  it('does not retry when the caller aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const { send, calls } = setup([networkError('ECONNRESET')]);
    await expect(send({ ...req, signal: controller.signal })).rejects.toThrow();
    expect(calls).toHaveLength(1);
  });

  it('backs off exponentially', async () => {
    const { send, sleeps } = setup([response(503), response(503), response(503), response(200)], {
      baseDelayMs: 100,
    });
    await send(req);
    // random() = 0.5: three quarters of 100, 200, 400
    expect(sleeps).toEqual([75, 150, 300]);
  });

  it('gives up at the deadline with the last response', async () => {
    const script = Array.from({ length: 50 }, () => response(503));
    const { send, calls, sleeps } = setup(script, { deadlineMs: 2_000, baseDelayMs: 200, maxDelayMs: 800 });
    expect((await send(req)).status).toBe(503);
    expect(sleeps.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(2_000);
    expect(calls.length).toBeGreaterThan(2);
  });

  it('gives up at once when Retry-After is beyond the deadline', async () => {
    const { send, calls } = setup([response(429, { 'retry-after': '120' })], { deadlineMs: 10_000 });
    expect((await send(req)).status).toBe(429);
    expect(calls).toHaveLength(1);
  });

  it('rethrows the last network error when out of attempts', async () => {
    const { send, calls } = setup([networkError('ECONNREFUSED'), networkError('ECONNREFUSED')], {
      maxAttempts: 2,
    });
    await expect(send(req)).rejects.toThrow('fetch failed');
    expect(calls).toHaveLength(2);
  });

  it('reports each retry', async () => {
    const seen: string[] = [];
    const { send } = setup([response(503), networkError('ECONNRESET'), response(200)], {
      onRetry: (i) => seen.push(`${i.attempt}:${i.reason}`),
    });
    await send(req);
    expect(seen).toEqual(['1:503', '2:ECONNRESET']);
  });
});

describe('helpers', () => {
  it('parses Retry-After seconds and dates', () => {
    expect(parseRetryAfter('5', 0)).toBe(5000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(parseRetryAfter('soon', 0)).toBeUndefined();
    expect(parseRetryAfter(undefined, 0)).toBeUndefined();
  });

  it('caps the backoff', () => {
    expect(backoffDelay(20, 100, 1000, 1)).toBe(1000);
    expect(backoffDelay(1, 100, 1000, 0)).toBe(50);
  });

  it('finds codes along the cause chain', () => {
    expect(isRetryableError(networkError('ECONNRESET'))).toBe(true);
    expect(isRetryableError(new Error('boom'))).toBe(false);
  });
});

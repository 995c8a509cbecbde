import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError, TimeoutError } from '../errors.ts';
import { formatDuration, WaitFailedError, waitFor } from './wait.ts';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('waitFor', () => {
  it('resolves with the value once done', async () => {
    let n = 0;
    const p = waitFor(
      'the thing',
      async () => {
        n++;
        return n < 3 ? { done: false, state: `poll ${n}` } : { done: true, state: 'ok', value: 42 };
      },
      { timeoutMs: 10_000, intervalMs: 1000 },
    );
    await vi.advanceTimersByTimeAsync(2000);
    await expect(p).resolves.toBe(42);
    expect(n).toBe(3);
  });

  it('fails at once on a terminal state', async () => {
    const probe = vi.fn(async () => ({
      done: false,
      state: 'stuck',
      terminal: 'exceeded its progress deadline',
    }));
    await expect(
      waitFor('deployment argocd/argocd-server to roll out', probe, { timeoutMs: 60_000, intervalMs: 1000 }),
    ).rejects.toThrow(
      new WaitFailedError('deployment argocd/argocd-server to roll out', 'exceeded its progress deadline'),
    );
    expect(probe).toHaveBeenCalledTimes(1);
  });

  it('times out with the last state and the last error as cause', async () => {
    const notYet = new ApiError('404 Not Found: deployments "x" not found', {
      status: 404,
      method: 'GET',
      path: '/x',
    });
    let n = 0;
    const p = waitFor(
      'argocd-server to roll out',
      async () => {
        n++;
        if (n === 1) throw notYet;
        return { done: false, state: '2 of 3 updated replicas are available' };
      },
      { timeoutMs: 120_000, intervalMs: 5_000 },
    );
    const settled = p.catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(120_000);
    const err = (await settled) as TimeoutError;
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err.message).toBe(
      'timed out after 2m waiting for argocd-server to roll out: 2 of 3 updated replicas are available',
    );
    expect(err.cause).toBe(notYet);
    expect(err.attempts).toBe(n);
    expect(n).toBe(25); // at 0, 5 s … 120 s
  });

  it('stops at once on a permission error', async () => {
    const forbidden = new ApiError('403 Forbidden', { status: 403, method: 'GET', path: '/x' });
    await expect(
      waitFor(
        'x',
        async () => {
          throw forbidden;
        },
        { timeoutMs: 60_000, intervalMs: 1000 },
      ),
    ).rejects.toBe(forbidden);
  });

  it('can be aborted', async () => {
    const controller = new AbortController();
    const p = waitFor('x', async () => ({ done: false, state: 'waiting' }), {
      timeoutMs: 60_000,
      intervalMs: 1000,
      signal: controller.signal,
    });
    const settled = p.catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(1500);
    controller.abort(new Error('stop'));
    expect(await settled).toEqual(new Error('stop'));
  });
});

describe('formatDuration', () => {
  it.each([
    [120_000, '2m'],
    [90_000, '1m30s'],
    [1500, '1.5s'],
    [250, '250ms'],
    [3_600_000, '1h'],
  ])('%i → %s', (ms, want) => {
    expect(formatDuration(ms)).toBe(want);
  });
});

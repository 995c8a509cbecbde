import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from './duration.ts';

describe('parseDuration', () => {
  it.each([
    { name: 'minutes', input: '10m', ms: 600_000 },
    { name: 'seconds', input: '90s', ms: 90_000 },
    { name: 'hours and minutes', input: '1h30m', ms: 5_400_000 },
    { name: 'all units', input: '1h2m3s', ms: 3_723_000 },
    { name: 'hours and seconds', input: '2h5s', ms: 7_205_000 },
    { name: 'a number of seconds', input: 600, ms: 600_000 },
    { name: 'fractional seconds', input: 1.5, ms: 1_500 },
    { name: 'seconds as a string (environment)', input: '45', ms: 45_000 },
    { name: 'surrounding spaces', input: ' 5m ', ms: 300_000 },
  ])('$name', ({ input, ms }) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it.each([
    { name: 'empty', input: '' },
    { name: 'words', input: 'ten minutes' },
    { name: 'space inside', input: '10 m' },
    { name: 'wrong order', input: '30m1h' },
    { name: 'unknown unit', input: '1d' },
    { name: 'milliseconds are not a unit', input: '100ms' },
    { name: 'zero', input: '0s' },
    { name: 'zero seconds as a number', input: 0 },
    { name: 'negative', input: -5 },
    { name: 'infinity', input: Number.POSITIVE_INFINITY },
  ])('refuses $name', ({ input }) => {
    expect(parseDuration(input)).toBeUndefined();
  });

  it.each([
    { ms: 600_000, text: '10m' },
    { ms: 5_400_000, text: '1h30m' },
    { ms: 3_723_000, text: '1h2m3s' },
    { ms: 1_500, text: '1.5s' },
    { ms: 0, text: '0s' },
  ])('formatDuration($ms) = $text', ({ ms, text }) => {
    expect(formatDuration(ms)).toBe(text);
    if (ms > 0) expect(parseDuration(text)).toBe(ms);
  });
});

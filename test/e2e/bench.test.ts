/**
 * `npm run bench -- --quick` (N = 1 and 10, one repetition), as CI runs it: proves the benchmark works on a
 * fresh cluster of its own and that its counts say what the issue asks of them. Nothing here is timed: wall
 * times are in the output, never asserted.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Measure } from '../../tools/bench.ts';
import { repoRoot } from './support/bootstrap.ts';

const run = promisify(execFile);
const out = mkdtempSync(join(tmpdir(), 'sd-bench-'));
let rows: Measure[] = [];
let markdown = '';

describe('npm run bench -- --quick', () => {
  beforeAll(async () => {
    await run(process.execPath, [join(repoRoot, 'scripts/bench.ts'), '--quick', '--out', out], {
      cwd: repoRoot,
      env: { ...process.env, SD_E2E_STATE_DIR: join(repoRoot, '.e2e-bench-quick') },
      maxBuffer: 64 * 1024 * 1024,
      timeout: 1_500_000,
    });
    rows = (JSON.parse(readFileSync(join(out, 'benchmarks.json'), 'utf8')) as { rows: Measure[] }).rows;
    markdown = readFileSync(join(out, 'benchmarks.md'), 'utf8');
  }, 1_600_000);

  const row = (n: number, name: string) => {
    const r = rows.find((m) => m.n === n && m.run === name);
    if (!r) throw new Error(`no row for N=${n} ${name}`);
    return r;
  };

  it('writes a row per N and run, the ratios, and the plot', () => {
    for (const n of [1, 10]) {
      for (const name of [
        'baseline',
        'apply fresh',
        'no-op apply',
        'apply +1 environment',
        'plan',
        'status',
      ]) {
        expect(markdown).toContain(`| ${n} | ${name} |`);
        row(n, name);
      }
    }
    expect(markdown).toContain('## Baseline / bootstrap');
    expect(readFileSync(join(out, 'benchmarks.svg'), 'utf8')).toMatch(/^<svg [^>]*>[\s\S]*<polyline/);
  });

  it('counts the baseline: one write per kubectl action, at least per environment', () => {
    for (const n of [1, 10]) {
      const b = row(n, 'baseline');
      // A project, an Application, a namespace, two labels and an annotation per environment (+ logging).
      expect(b.mutating).toBeGreaterThanOrEqual(6 * (n + 1));
      expect(b.moved).toBeGreaterThan(59);
    }
    expect(row(10, 'baseline').requests).toBeGreaterThan(row(1, 'baseline').requests);
  });

  it('a no-op apply writes only the Lease and the report, whatever N, and moves nothing', () => {
    for (const n of [1, 10]) {
      const z = row(n, 'no-op apply');
      expect(z.mutating).toBeLessThanOrEqual(3);
      expect(z.moved).toBe(0);
    }
    expect(row(10, 'no-op apply').mutating).toBe(row(1, 'no-op apply').mutating);
  });

  it('fresh apply creates everything; +1 environment moves a few objects; plan and status write nothing', () => {
    for (const n of [1, 10]) {
      expect(row(n, 'apply fresh').moved).toBeGreaterThan(59 + n);
      const plus = row(n, 'apply +1 environment');
      expect(plus.moved).toBeGreaterThan(0);
      expect(plus.moved).toBeLessThanOrEqual(6);
      expect(row(n, 'plan').mutating).toBe(0);
      expect(row(n, 'status').mutating).toBe(0);
      expect(row(n, 'status').moved).toBe(0);
    }
    if (existsSync('/usr/bin/time')) expect(row(1, 'status').rssMiB).toBeGreaterThan(0);
  });
});

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// The documented commands run as commands, the way README has a user type them: the other tests import
// these scripts' functions, which never evaluates a script as the entry module (its command-line branch
// and top-level await). Only what needs no cluster and no Docker runs here; `--help` goes past module
// loading, and `npm run images -- --help` loads tools/images/argocd.ts the way a real run does.
const root = join(import.meta.dirname, '..', '..');

function run(cmd: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('documented commands', () => {
  it('npm run images -- --help loads both image scripts and prints their usage', () => {
    const r = run('npm', ['run', '--silent', 'images', '--', '--help']);
    expect(r.stderr).not.toMatch(/unsettled top-level await/i);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('usage: npm run images');
    expect(r.stdout).toContain('usage: node tools/images/argocd.ts');
  });

  it('node tools/images/argocd.ts --help', () => {
    const r = run(process.execPath, ['tools/images/argocd.ts', '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('--dex');
  });

  it('node scripts/cluster.ts without a command prints its usage (npm run cluster:up / cluster:down)', () => {
    const r = run(process.execPath, ['scripts/cluster.ts']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('usage: node scripts/cluster.ts up [--kind] | down');
  });

  it.each(['gen-config-docs.ts', 'gen-values-schema.ts'])(
    'node scripts/%s prints what --write writes',
    (s) => {
      const r = run(process.execPath, [join('scripts', s)]);
      expect(r.status).toBe(0);
      expect(r.stdout.length).toBeGreaterThan(100);
    },
  );

  it('npm run release -- --help, and without --registry exit 2 with the usage', () => {
    const help = run('npm', ['run', '--silent', 'release', '--', '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('usage: npm run release -- --registry HOST[:PORT]');
    const bare = run(process.execPath, ['scripts/release.ts']);
    expect(bare.status).toBe(2);
    expect(bare.stdout).toContain('usage: npm run release');
  });

  const noGo = spawnSync('go', ['version']).status !== 0 && !process.env.CI;
  it.skipIf(noGo)('npm run chart-docs -- --check passes on the committed chart README (needs Go)', () => {
    const r = run('npm', ['run', '--silent', 'chart-docs', '--', '--check']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});

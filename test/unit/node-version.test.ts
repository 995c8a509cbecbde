/**
 * On a Node older than 24 the CLI says so in one sentence and exits 2, before any other module runs (a
 * dependency would otherwise die with a stack trace). The real check: the built program under this
 * machine's system Node (/usr/bin/node), when that one is older.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeVersionProblem } from '../../src/node-version.ts';

const repoRoot = resolve(import.meta.dirname, '../..');
const systemNode = '/usr/bin/node';
const systemMajor = existsSync(systemNode)
  ? Number(/^v(\d+)/.exec(execFileSync(systemNode, ['--version'], { encoding: 'utf8' }))?.[1])
  : undefined;
// Inside the repository, so the built program resolves node_modules as dist/ would.
const outDir = join(repoRoot, '.e2e', 'node-version-dist');

describe('Node version check', () => {
  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  it('refuses Node < 24 in one sentence, accepts 24 and later', () => {
    expect(nodeVersionProblem('v20.20.2')).toBe(
      'sd-gitops-bootstrap needs Node >= 24, found 20.20.2: install Node 24 LTS (or use the image)',
    );
    expect(nodeVersionProblem('v22.1.0')).toMatch(/needs Node >= 24, found 22\.1\.0/);
    expect(nodeVersionProblem('v24.0.0')).toBeUndefined();
    expect(nodeVersionProblem('v25.2.1')).toBeUndefined();
  });

  it.skipIf(systemMajor === undefined || systemMajor >= 24)(
    `the built CLI under ${systemNode} (Node ${systemMajor}) exits 2 with that sentence only`,
    () => {
      execFileSync(
        join(repoRoot, 'node_modules/.bin/tsc'),
        ['-p', 'tsconfig.build.json', '--outDir', outDir],
        {
          cwd: repoRoot,
          stdio: 'ignore',
        },
      );
      const r = spawnSync(systemNode, [join(outDir, 'main.js'), 'status'], { encoding: 'utf8' });
      expect(r.status).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(
        new RegExp(`^sd-gitops-bootstrap needs Node >= 24, found ${systemMajor}\\.\\d+\\.\\d+: [^\\n]*\\n$`),
      );
    },
    60_000,
  );
});

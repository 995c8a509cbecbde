/**
 * A fresh clone stands on its own: cloned (HEAD) into a temporary folder with no `../shared` beside it, it
 * reads nothing outside itself, and the demo's first steps — the pinned upstream files (`npm run manifests`)
 * and the `bundled` Argo CD manifest the example config names — work there.
 *
 * The clone borrows this checkout's node_modules (a symlink: `npm ci` is not what is tested) and the
 * upstream cache (a cold cache is filled from the Go module proxy once, ~40 MB).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repoRoot = resolve(import.meta.dirname, '../..');
const node = process.execPath;

describe('a fresh clone with no ../shared beside it', () => {
  let parent: string;
  let clone: string;
  beforeAll(() => {
    parent = mkdtempSync(join(tmpdir(), 'sd-fresh-clone-'));
    clone = join(parent, 'repo');
    execFileSync('git', ['clone', '--quiet', '--no-hardlinks', repoRoot, clone], { stdio: 'ignore' });
    symlinkSync(join(repoRoot, 'node_modules'), join(clone, 'node_modules'));
  }, 60_000);
  afterAll(() => rmSync(parent, { recursive: true, force: true }));

  it('has nothing beside it, and no file of src, scripts, test, examples or the Dockerfile reads ../shared', () => {
    expect(existsSync(join(dirname(clone), 'shared'))).toBe(false);
    const offenders: string[] = [];
    const walk = (path: string): void => {
      if (statSync(path).isDirectory()) {
        for (const entry of readdirSync(path)) walk(join(path, entry));
      } else if (/\.(ts|js|sh|ya?ml|json)$|Dockerfile$/.test(path)) {
        if (/\.\.\/shared|\/work\/shared|'shared'/.test(readFileSync(path, 'utf8'))) {
          offenders.push(relative(clone, path));
        }
      }
    };
    for (const dir of ['src', 'scripts', 'test', 'examples', 'Dockerfile']) walk(join(clone, dir));
    // This file names the pattern it looks for.
    expect(offenders.filter((f) => f !== 'test/unit/fresh-clone.test.ts')).toEqual([]);
  });

  it('fetches the pinned upstream files and loads the bundled manifest of examples/config.yaml', () => {
    const out = execFileSync(node, ['scripts/manifests.ts'], {
      cwd: clone,
      encoding: 'utf8',
      timeout: 300_000,
    });
    expect(out).toMatch(/^argocd\/v3\.5\.1\t\S+install\.yaml$/m);
    expect(out).toMatch(/^istio\/networking-crds\t\S+networking-crds\.yaml$/m);
    const script = `
      import { loadConfigFile } from './src/config/load.ts';
      import { loadArgocdManifest } from './src/manifests/argocd.ts';
      const config = await loadConfigFile('examples/config.yaml');
      const m = await loadArgocdManifest(config.argocd, { download: false });
      console.log(JSON.stringify({ source: config.argocd.install.source, origin: m.origin, verified: m.verified, objects: m.objects.length }));
    `;
    const loaded = JSON.parse(
      execFileSync(node, ['--input-type=module', '-e', script], {
        cwd: clone,
        encoding: 'utf8',
        timeout: 60_000,
      }),
    ) as { source: string; origin: string; verified: boolean; objects: number };
    expect(loaded.source).toBe('bundled');
    expect(loaded.verified).toBe(true);
    expect(loaded.objects).toBeGreaterThan(50);
    expect(loaded.origin.startsWith(clone)).toBe(false);
    expect(loaded.origin).toMatch(/sd-gitops-bootstrap\/manifests\/argocd\/v3\.5\.1\/install\.yaml$/);
  }, 320_000);
});

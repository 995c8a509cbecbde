/** The one-file bundle the image runs (scripts/bundle.ts): it starts, and carries no generated API models. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { bundle } from '../../scripts/bundle.ts';

let file = '';

describe('scripts/bundle.ts', () => {
  beforeAll(async () => {
    file = await bundle(join(mkdtempSync(join(tmpdir(), 'sd-bundle-')), 'main.js'));
  });

  it('runs the CLI from one file', () => {
    const r = spawnSync(process.execPath, [file, '--help'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('Usage: sd-gitops-bootstrap <apply|plan|status|uninstall|images>');
    const bad = spawnSync(process.execPath, [file, 'aply'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
  });

  it("leaves out @kubernetes/client-node's generated models and API clients", () => {
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('KubeConfig');
    expect(text).not.toMatch(/\bV1PodSpec\b/);
    expect(text).not.toMatch(/\bCoreV1Api\b/);
  });
});

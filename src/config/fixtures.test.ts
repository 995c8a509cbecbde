import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.ts';
import { loadConfigFile } from './load.ts';

const ROOT = join(import.meta.dirname, '../../test/fixtures/config');
const EXAMPLE = join(import.meta.dirname, '../../examples/config.yaml');

const yamlFiles = (dir: string): { name: string; file: string }[] =>
  readdirSync(join(ROOT, dir))
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((name) => ({ name, file: join(ROOT, dir, name) }));

/** `# expect: <path>: <fragment>` lines at the top of an invalid fixture (path `-`: the file as a whole). */
function expectations(file: string): { path: string; fragment: string }[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const out: { path: string; fragment: string }[] = [];
  for (const line of lines) {
    const m = /^# expect: (\S+): (.+)$/.exec(line);
    if (!m) break;
    out.push({ path: m[1]!, fragment: m[2]! });
  }
  return out;
}

describe('config fixtures', () => {
  it('has enough invalid fixtures for the e2e suite', () => {
    expect(yamlFiles('invalid').length).toBeGreaterThanOrEqual(16);
  });

  it.each(yamlFiles('valid'))('valid: $name', async ({ file }) => {
    await expect(loadConfigFile(file)).resolves.toBeDefined();
  });

  it.each(yamlFiles('invalid'))('invalid: $name', async ({ file }) => {
    const expected = expectations(file);
    expect(expected, 'the file must start with "# expect: <path>: <fragment>"').not.toHaveLength(0);
    const err = await loadConfigFile(file).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as ConfigError).message;
    for (const { path, fragment } of expected) {
      if (path === '-') {
        expect(message).toContain(fragment);
      } else {
        const line = message.split('\n').find((l) => l.startsWith(`  - ${path}: `));
        expect(line, `no problem at ${path} in:\n${message}`).toBeDefined();
        expect(line).toContain(fragment);
      }
    }
  });

  it('the commented example config loads', async () => {
    const config = await loadConfigFile(EXAMPLE);
    expect(config.git.repoUrl).toBe('ssh://git@127.0.0.1:2222/srv/git/gitops.git');
    expect(config.environments.namespaces.map((n) => n.name)).toEqual(['staging', 'production']);
    expect(config.environments.waitForSync).toBe(false);
    // Bundled: nothing outside the repository (a checkout reads the pinned manifest from its cache).
    expect(config.argocd.install).toEqual({ source: 'bundled' });
  });
});

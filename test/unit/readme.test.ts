import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_DOC, withConfigReference } from '../../scripts/gen-config-docs.ts';

describe('README.md and docs/configuration.md', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const configDoc = readFileSync(CONFIG_DOC, 'utf8');

  it('documents every config key as the schema has it (refresh: node scripts/gen-config-docs.ts --write)', () => {
    expect(configDoc).toBe(withConfigReference(configDoc));
  });

  it('names the test command that .ci/run runs', () => {
    const ci = readFileSync(new URL('../../.ci/run', import.meta.url), 'utf8');
    expect(readme).toContain('npm test');
    expect(ci).toMatch(/^npm test$/m);
  });
});

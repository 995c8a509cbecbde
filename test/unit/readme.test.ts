import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { README, readmeWithReference } from '../../scripts/gen-config-docs.ts';

describe('README.md', () => {
  const readme = readFileSync(README, 'utf8');

  it('documents every config key as the schema has it (refresh: node scripts/gen-config-docs.ts --write)', () => {
    expect(readme).toBe(readmeWithReference(readme));
  });

  it('names the test command that .ci/run runs', () => {
    const ci = readFileSync(new URL('../../.ci/run', import.meta.url), 'utf8');
    expect(readme).toContain('npm test');
    expect(ci).toMatch(/^npm test$/m);
  });
});

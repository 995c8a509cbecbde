/**
 * Figures docs/development.md quotes (README's Development section until issue #24 moved it) and
 * docs/clusters.md measures (issue #15: they had drifted apart, checked by nothing). The measurement lives
 * in docs/clusters.md with the command that gives it; docs/development.md must agree.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const read = (f: string) => readFileSync(new URL(`../../${f}`, import.meta.url), 'utf8');
const development = read('docs/development.md');
const clusters = read('docs/clusters.md');

/** The cells of the first table row whose first cell starts with `label`. */
function row(text: string, label: string): string[] {
  const line = text.split('\n').find((l) => l.startsWith(`| ${label}`));
  if (!line) throw new Error(`no table row "${label}"`);
  return line
    .split('|')
    .slice(2, -1)
    .map((c) => c.trim().replace(/\s*\(.*\)$/, ''));
}

describe('docs/development.md agrees with docs/clusters.md', () => {
  it('on the warm start of the KWOK and the kind cluster', () => {
    expect(row(development, 'warm start')).toEqual(row(clusters, 'warm start'));
  });

  it('on the kind node image size', () => {
    const size = row(clusters, 'node image size')[0]!;
    expect(size).toMatch(/^\d+(\.\d+)? GB$/);
    expect(development).toContain(`${size} (\`docker image ls`);
  });
});

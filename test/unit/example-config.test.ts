/**
 * docs/configuration.md: "`examples/config.yaml` names every key, each set to its default". Held to the schema: every key the
 * schema knows appears in the file (set, or commented out where it has no default), and every value it
 * sets is the default except the keys the demo must choose, which the file says it chooses.
 */
import { readFileSync } from 'node:fs';
import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';

const text = readFileSync(new URL('../../examples/config.yaml', import.meta.url), 'utf8');
const example = load(text) as Record<string, unknown>;
/** Keys the demo chooses: the required ones, and waitForSync (KWOK runs no pods, so nothing syncs). */
const CHOSEN = ['git.repoUrl', 'environments.namespaces', 'environments.waitForSync'];

function leaves(o: unknown, prefix = ''): Map<string, unknown> {
  const out = new Map<string, unknown>();
  if (o && typeof o === 'object' && !Array.isArray(o)) {
    for (const [k, v] of Object.entries(o)) {
      for (const [p, x] of leaves(v, prefix ? `${prefix}.${k}` : k)) out.set(p, x);
    }
  } else out.set(prefix, o);
  return out;
}

describe('examples/config.yaml', () => {
  const parsed = parseConfig(example);
  const defaults = parseConfig({
    git: { repoUrl: (example.git as { repoUrl: string }).repoUrl },
    environments: { namespaces: ['staging'] },
  });

  it('sets every value to its default, but the keys it says the demo chooses', () => {
    const got = leaves(parsed);
    const want = leaves(defaults);
    const differ = [...got.keys()].filter(
      (k) =>
        JSON.stringify(got.get(k)) !== JSON.stringify(want.get(k)) && !CHOSEN.some((c) => k.startsWith(c)),
    );
    expect(differ).toEqual([]);
    // …and the comment just above waitForSync says the demo chose it.
    expect(text).toMatch(/demo[^\n]*\n(?:\s*#[^\n]*\n)*\s*waitForSync: false/);
  });

  it('names every key the schema knows (set, or commented out where it has no default)', () => {
    for (const key of leaves(defaults).keys()) {
      const last = key.split('.').pop()!;
      expect(text, key).toMatch(new RegExp(`^\\s*#?\\s*${last}:`, 'm'));
    }
  });
});

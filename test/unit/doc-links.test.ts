/**
 * The documentation's relative links and anchors resolve (issue #24 moved README's guides into docs/: every
 * link into a moved section had to follow it), and README stays a page a newcomer reads to the end.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const read = (file: string) => readFileSync(join(root, file), 'utf8');

/** GitHub's anchor of a heading: lowercased, punctuation dropped, spaces to dashes. */
const slug = (heading: string): string =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}_\- ]/gu, '')
    .replaceAll(' ', '-');

function anchors(file: string): Set<string> {
  const out = new Set<string>();
  let code = false;
  for (const line of read(file).split('\n')) {
    if (line.startsWith('```')) code = !code;
    const m = /^#+\s+(.*)$/.exec(line);
    if (m && !code) out.add(slug(m[1]!));
  }
  return out;
}

const docs = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '*.md', '*.gotmpl'], {
  cwd: root,
  encoding: 'utf8',
})
  .split('\n')
  .filter((f) => f && !f.includes('node_modules') && existsSync(join(root, f)));

describe('documentation links', () => {
  it.each(docs)('%s: every relative link and anchor resolves', (file) => {
    const broken: string[] = [];
    for (const [, target] of read(file).matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target!)) continue;
      const [path, anchor] = target!.split('#', 2) as [string, string | undefined];
      const resolved = path ? normalize(join(dirname(file), path)) : file;
      if (!existsSync(join(root, resolved))) broken.push(`${target} (no file)`);
      else if (anchor && /\.(md|gotmpl)$/.test(resolved) && !anchors(resolved).has(anchor))
        broken.push(`${target} (no heading)`);
    }
    expect(broken).toEqual([]);
  });
});

describe('README', () => {
  const readme = read('README.md');

  it('is at most 250 lines, with docs/architecture.md linked before the first section', () => {
    expect(readme.trimEnd().split('\n').length).toBeLessThanOrEqual(250);
    expect(readme.slice(0, readme.indexOf('\n## '))).toContain('](docs/architecture.md)');
  });

  it('links every guide in docs/', () => {
    const guides = docs.filter((f) => /^docs\/[^/]+\.md$/.test(f));
    expect(guides.length).toBeGreaterThan(10);
    for (const guide of guides) expect(readme, guide).toContain(`](${guide})`);
  });
});

/**
 * The configuration reference (a markdown table) from the config schema, so the documentation cannot drift
 * from what the program accepts. docs/configuration.md holds it between `<!-- config-reference:start -->`
 * and `:end`; `node scripts/gen-config-docs.ts --write` refreshes it, and test/unit/readme.test.ts fails
 * when stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeConfig } from '../src/config/schema.ts';

const cell = (s: string): string => s.replaceAll('|', '\\|').replaceAll('\n', ' ');

function formatDefault(value: unknown, required: boolean): string {
  if (required) return '**required**';
  if (value === undefined) return '';
  return `\`${typeof value === 'string' ? value : JSON.stringify(value)}\``;
}

export function configReferenceTable(): string {
  const lines = [
    '| key | type | default | description |',
    '| --- | --- | --- | --- |',
    ...describeConfig().map(
      (row) =>
        `| \`${row.path}\` | ${cell(row.type)} | ${cell(formatDefault(row.default, row.required))} | ${cell(row.description)} |`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}

export const CONFIG_DOC = join(import.meta.dirname, '..', 'docs', 'configuration.md');
const START = '<!-- config-reference:start -->\n';
const END = '<!-- config-reference:end -->';

/** docs/configuration.md with the table between the markers replaced by the current one. */
export function withConfigReference(doc: string): string {
  const a = doc.indexOf(START);
  const b = doc.indexOf(END);
  if (a < 0 || b < a) throw new Error('docs/configuration.md lacks the config-reference markers');
  return `${doc.slice(0, a + START.length)}${configReferenceTable()}${doc.slice(b)}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--write')) {
    writeFileSync(CONFIG_DOC, withConfigReference(readFileSync(CONFIG_DOC, 'utf8')));
  } else {
    process.stdout.write(configReferenceTable());
  }
}

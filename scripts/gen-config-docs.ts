/**
 * Prints the configuration reference (a markdown table) from the config schema, so the README cannot drift
 * from what the program accepts: `node scripts/gen-config-docs.ts > docs/config-reference.md`.
 */
import { describeConfig } from '../src/config/schema.ts';

const cell = (s: string): string => s.replaceAll('|', '\\|').replaceAll('\n', ' ');

function formatDefault(value: unknown, required: boolean): string {
  if (required) return '**required**';
  if (value === undefined) return '';
  return `\`${typeof value === 'string' ? value : JSON.stringify(value)}\``;
}

const lines = [
  '| key | type | default | description |',
  '| --- | --- | --- | --- |',
  ...describeConfig().map(
    (row) =>
      `| \`${row.path}\` | ${cell(row.type)} | ${cell(formatDefault(row.default, row.required))} | ${cell(row.description)} |`,
  ),
];
process.stdout.write(`${lines.join('\n')}\n`);

/**
 * Figures that a test measures for docs/reliability.md (issue #21), one small JSON file per source, written
 * by that source's test when it ran, read by the reliability suite's generator (test/e2e/support/faults.ts,
 * FIGURE_SOURCES lists the sources it expects). Pure file I/O, so unit tests and e2e tests alike can write.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIGURE_DIR = join(
  resolve(dirname(fileURLToPath(import.meta.url)), '../..'),
  'test-results',
  'reliability',
);

export interface Figure {
  label: string;
  value: number;
  /** The value the figure must have (e.g. 0); shown as **not met** otherwise. */
  must?: number;
}

export interface FigureFile {
  /** The test file that measured the figures. */
  source: string;
  /** True only if every case behind the figures ran and passed. */
  complete: boolean;
  figures: Figure[];
}

/** Called by a figure source's test (in its afterAll) when it ran. */
export function writeFigures(id: string, file: FigureFile): void {
  mkdirSync(FIGURE_DIR, { recursive: true });
  writeFileSync(join(FIGURE_DIR, `${id}.json`), `${JSON.stringify(file, null, 2)}\n`);
}

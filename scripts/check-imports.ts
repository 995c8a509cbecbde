/**
 * `npm run lint`'s import check: fails on an import circle, on a step importing another step, on a
 * program file importing test code, and on tooling and tests crossing into each other's folders.
 *
 * - Circles: among the project's own modules (src/, scripts/, tools/, test/), with type-only imports and dynamic
 *   `import('./literal.ts')` counted too — a circle through a dynamic import is how `npm run images` once
 *   waited on itself (exit 13).
 * - Steps: src/steps/ holds the steps, the context they get (`context.ts`) and the order they run in
 *   (`runner.ts`). Every other module there is a step and exports one (`export const x: Step = …`, or the
 *   preflight's `export function preflightFor(…): Step {`); a
 *   helper that is not a step lives outside src/steps/. A step imports nothing from src/steps/ but the
 *   context.
 * - Test code: nothing under src/ but its tests imports from test/ or a fake.
 * - Tooling: scripts/ and tools/ (image builds, clusters, tool builders, the Git/OIDC hosts) never import
 *   test/, so the release path runs without test code; tests import tooling from tools/, and scripts/ only
 *   from test/unit/ (the unit tests of the scripts themselves).
 *
 * Imports are read from the text (every relative import here names its `.ts` file), so the check needs no
 * compiler and no package.
 *
 *   node scripts/check-imports.ts
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Project files (relative to the root) and the project files each imports. */
export function importGraph(
  dirs: readonly string[] = ['src', 'scripts', 'tools', 'test'],
): Map<string, string[]> {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'node_modules') walk(path);
      } else if (e.name.endsWith('.ts')) files.push(path);
    }
  };
  for (const d of dirs) walk(d);
  const graph = new Map<string, string[]>();
  for (const file of files) graph.set(file, importsOf(file, readFileSync(join(root, file), 'utf8')));
  return graph;
}

const STATIC = /^\s*(?:import|export)\b[^;'"]*?\bfrom\s*['"]([^'"]+)['"]/gm;
const BARE = /^\s*import\s*['"]([^'"]+)['"]/gm;
const DYNAMIC = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

/** The relative imports of `file` (static, type-only, side-effect and literal dynamic), as root paths. */
export function importsOf(file: string, text: string): string[] {
  const specs = [...text.matchAll(STATIC), ...text.matchAll(BARE), ...text.matchAll(DYNAMIC)].map(
    (m) => m[1]!,
  );
  return [
    ...new Set(
      specs.filter((s) => s.startsWith('.')).map((s) => relative(root, resolve(root, dirname(file), s))),
    ),
  ].sort();
}

/** Every import circle, each as the files along it (Tarjan's strongly connected components). */
export function circles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) visit(v);
  return out;
}

/** The two modules of src/steps/ that are not steps: what a step gets, and the order steps run in. */
const CONTEXT = 'src/steps/context.ts';
const RUNNER = 'src/steps/runner.ts';
const isStepModule = (file: string) =>
  file.startsWith('src/steps/') && !file.endsWith('.test.ts') && file !== CONTEXT && file !== RUNNER;
const exportsStep = (text: string) =>
  /^export (?:const \w+: Step = |function \w+\([^)]*\): Step \{)/m.test(text);

/** What the import rules forbid, one sentence each. */
export function problems(
  graph: Map<string, string[]>,
  read = (f: string) => readFileSync(join(root, f), 'utf8'),
) {
  const found = circles(graph).map((c) => `import circle among ${c.join(', ')}`);
  const steps = new Set([...graph.keys()].filter(isStepModule));
  for (const [file, imports] of graph) {
    if (steps.has(file)) {
      if (!exportsStep(read(file)))
        found.push(`${file} is not a step (exports no Step): move it out of src/steps/`);
      for (const i of imports.filter((i) => i.startsWith('src/steps/') && i !== CONTEXT)) {
        found.push(`step ${file} imports ${steps.has(i) ? 'step ' : ''}${i}`);
      }
    }
    if (file.startsWith('src/') && !file.endsWith('.test.ts')) {
      for (const i of imports.filter((i) => i.startsWith('test/') || /(^|\/)fake[^/]*\.ts$/.test(i))) {
        found.push(`${file} imports test code ${i}`);
      }
    }
    if (file.startsWith('scripts/') || file.startsWith('tools/')) {
      for (const i of imports.filter((i) => i.startsWith('test/'))) {
        found.push(`${file} imports test code ${i} (tooling lives in tools/)`);
      }
    }
    if (file.startsWith('test/') && !file.startsWith('test/unit/')) {
      for (const i of imports.filter((i) => i.startsWith('scripts/'))) {
        found.push(`${file} imports the script ${i} (import tools/ instead)`);
      }
    }
  }
  return found;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const graph = importGraph();
  const found = problems(graph);
  for (const p of found) process.stderr.write(`✗ ${p}\n`);
  if (found.length > 0) process.exit(1);
  process.stdout.write(
    `imports: ${graph.size} modules, no circle, no step imports another step, no tooling imports test code\n`,
  );
}

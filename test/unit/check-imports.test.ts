import { describe, expect, it } from 'vitest';
import { circles, importsOf, problems } from '../../scripts/check-imports.ts';

describe('the import check (npm run lint)', () => {
  it('reads static, type-only, re-export and literal dynamic imports, relative ones only', () => {
    const text = [
      "import { a } from './a.ts';",
      "import type {\n  B,\n} from '../kube/b.ts';",
      "export { c } from './c.ts';",
      "import 'node:fs';",
      "const m = await import('./d.ts');",
      "import { e } from 'execa';",
    ].join('\n');
    expect(importsOf('src/steps/x.ts', text)).toEqual([
      'src/kube/b.ts',
      'src/steps/a.ts',
      'src/steps/c.ts',
      'src/steps/d.ts',
    ]);
  });

  it('finds a circle, however long', () => {
    const graph = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', ['a.ts']],
    ]);
    expect(circles(graph)).toEqual([['a.ts', 'b.ts', 'c.ts']]);
    expect(
      circles(
        new Map([
          ['a.ts', ['b.ts']],
          ['b.ts', []],
        ]),
      ),
    ).toEqual([]);
  });

  it('fails on a step importing a step and on src/ importing test code', () => {
    const graph = new Map([
      ['src/steps/one.ts', ['src/steps/two.ts', 'src/inputs/inputs.ts']],
      ['src/steps/two.ts', ['src/inputs/inputs.ts']],
      ['src/inputs/inputs.ts', ['test/fakes/kube.ts']],
      ['test/fakes/kube.ts', []],
    ]);
    const text = (f: string) => (f.includes('inputs') ? '' : 'export const s: Step = { name };');
    expect(problems(graph, text)).toEqual([
      'step src/steps/one.ts imports step src/steps/two.ts',
      'src/inputs/inputs.ts imports test code test/fakes/kube.ts',
    ]);
  });

  it('holds src/steps/ to steps: every module but the context and the runner exports a Step', () => {
    const graph = new Map([
      ['src/steps/context.ts', []],
      ['src/steps/runner.ts', ['src/steps/context.ts', 'src/steps/one.ts']],
      ['src/steps/one.ts', ['src/steps/context.ts']],
      ['src/steps/helper.ts', ['src/steps/context.ts']],
      ['src/steps/two.ts', ['src/steps/context.ts', 'src/steps/runner.ts']],
      ['src/steps/one.test.ts', ['src/steps/helper.ts']],
    ]);
    const text = (f: string) =>
      /one|two|runner|context/.test(f) ? 'export const s: Step = { name };' : 'export const x = 1;';
    expect(problems(graph, text)).toEqual([
      'src/steps/helper.ts is not a step (exports no Step): move it out of src/steps/',
      'step src/steps/two.ts imports src/steps/runner.ts',
    ]);
  });

  it('fails on scripts/ or tools/ importing test/, and on a test outside test/unit importing scripts/', () => {
    const graph = new Map([
      ['scripts/release.ts', ['tools/images/docker.ts', 'test/kind/registry.ts']],
      ['tools/kind/cluster.ts', ['tools/versions.ts', 'test/support/net.ts']],
      ['test/e2e/setup/global.ts', ['tools/cluster/local.ts', 'scripts/cluster.ts']],
      ['test/unit/bundle.test.ts', ['scripts/bundle.ts']],
      ['tools/images/docker.ts', []],
      ['tools/versions.ts', ['src/config/bundled.ts']],
    ]);
    expect(problems(graph, () => '')).toEqual([
      'scripts/release.ts imports test code test/kind/registry.ts (tooling lives in tools/)',
      'tools/kind/cluster.ts imports test code test/support/net.ts (tooling lives in tools/)',
      'test/e2e/setup/global.ts imports the script scripts/cluster.ts (import tools/ instead)',
    ]);
  });
});

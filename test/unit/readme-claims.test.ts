/**
 * README's newcomer-facing claims that a test can hold to the code (issue #15), and those of the guides
 * they moved to in docs/ (issue #24).
 */
import { readFileSync } from 'node:fs';
import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { USAGE } from '../../src/cli/args.ts';
import { UPSTREAM } from '../../src/manifests/upstream.ts';

const root = new URL('../../', import.meta.url);
const read = (file: string) => readFileSync(new URL(file, root), 'utf8');
const readme = read('README.md');
/** The program without Helm: commands, options, exit codes (moved out of README's quick start). */
const cli = read('docs/cli.md');
const values = load(readFileSync(new URL('helm/sd-gitops-bootstrap/values.yaml', root), 'utf8')) as {
  job: { activeDeadlineSeconds: number };
};
// The chart's real Kubernetes floor (Chart.yaml's kubeVersion must admit Helm's offline default).
const helpers = readFileSync(new URL('helm/sd-gitops-bootstrap/templates/_helpers.tpl', root), 'utf8');
const kubeFloor = /semverCompare "<(\d+\.\d+)\.0-0" \$v/.exec(helpers)?.[1];

describe('README holds to the code', () => {
  it('runs the CLI from a checkout, never npx of an unpublished name', () => {
    expect(readme).not.toMatch(/npx sd-gitops-bootstrap/);
    expect(cli).not.toMatch(/npx sd-gitops-bootstrap/);
    expect(cli).toContain('npm ci && npm run build');
    expect(cli).toMatch(/node dist\/main\.js apply/);
  });

  it('quotes the Job deadline the chart sets, and says what follows a failed install', () => {
    const s = values.job.activeDeadlineSeconds;
    expect(readme).toContain(`${s.toLocaleString('en-US')} s`);
    expect(readme).toContain('helm upgrade --install');
  });

  it("quotes the pinned upstream versions and the chart's Kubernetes floor", () => {
    for (const file of Object.values(UPSTREAM))
      expect(readme).toContain(
        `${file.module}@${file.version}`.replace(/^github\.com\/argoproj\/argo-cd\/v2@/, '/v2@'),
      );
    expect(kubeFloor).toBeDefined();
    expect(readme).toContain(`≥ ${kubeFloor}`);
    expect(helpers).toContain(`needs Kubernetes ${kubeFloor} or newer`);
  });

  it('documents every CLI option of --help', () => {
    // `--yes` is documented with uninstall (docs/lifecycle.md), the rest with the commands (docs/cli.md).
    const documented = [readme, cli, read('docs/lifecycle.md')].join('\n');
    for (const flag of USAGE.matchAll(/^ {2}(--[a-z]+)/gm)) {
      if (flag[1] !== '--help') expect(documented).toContain(`\`${flag[1]}`);
    }
  });

  it('has the sections a newcomer looks for, and a CHANGELOG', () => {
    for (const [file, h] of [
      ['README.md', '## Quick start'],
      ['README.md', '## Compatibility'],
      ['docs/upgrading.md', '## Upgrading'],
      ['docs/lifecycle.md', '## Uninstall'],
    ] as const)
      expect(read(file), file).toContain(h);
    for (const guide of ['docs/upgrading.md', 'docs/lifecycle.md']) expect(readme).toContain(`](${guide})`);
    expect(readFileSync(new URL('CHANGELOG.md', root), 'utf8')).toMatch(/^# Changelog/);
  });
});

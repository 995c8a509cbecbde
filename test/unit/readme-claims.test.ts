/** README's newcomer-facing claims that a test can hold to the code (issue #15). */
import { readFileSync } from 'node:fs';
import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { USAGE } from '../../src/main.ts';
import { UPSTREAM } from '../../src/manifests/upstream.ts';

const root = new URL('../../', import.meta.url);
const readme = readFileSync(new URL('README.md', root), 'utf8');
const values = load(readFileSync(new URL('helm/sd-gitops-bootstrap/values.yaml', root), 'utf8')) as {
  job: { activeDeadlineSeconds: number };
};
// The chart's real Kubernetes floor (Chart.yaml's kubeVersion must admit Helm's offline default).
const helpers = readFileSync(new URL('helm/sd-gitops-bootstrap/templates/_helpers.tpl', root), 'utf8');
const kubeFloor = /semverCompare "<(\d+\.\d+)\.0-0" \$v/.exec(helpers)?.[1];

describe('README holds to the code', () => {
  it('runs the CLI from a checkout, never npx of an unpublished name', () => {
    expect(readme).not.toMatch(/npx sd-gitops-bootstrap/);
    expect(readme).toContain('npm ci && npm run build');
    expect(readme).toMatch(/node dist\/main\.js apply/);
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
    for (const flag of USAGE.matchAll(/^ {2}(--[a-z]+)/gm)) {
      if (flag[1] !== '--help') expect(readme).toContain(`\`${flag[1]}`);
    }
  });

  it('has the sections a newcomer looks for, and a CHANGELOG', () => {
    for (const h of ['## Quick start', '## Compatibility', '## Upgrading', '## Uninstall'])
      expect(readme).toContain(h);
    expect(readFileSync(new URL('CHANGELOG.md', root), 'utf8')).toMatch(/^# Changelog/);
  });
});

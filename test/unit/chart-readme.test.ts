/**
 * The chart's README is what helm-docs renders from values.yaml and README.md.gotmpl (refresh:
 * `npm run chart-docs`). helm-docs comes from tools/helm-docs/build.sh (built from the Go module proxy on
 * first use, cached after; .ci/run builds it before the tests).
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { CHART_README, helmDocsBinary, renderChartReadme } from '../../scripts/chart-docs.ts';

let binary: string | undefined;
let missing = '';

beforeAll(() => {
  try {
    binary = helmDocsBinary();
  } catch (err) {
    missing = (err as Error).message.split('\n')[0] ?? String(err);
  }
}, 300_000);

describe('helm/sd-gitops-bootstrap/README.md', () => {
  it('is what helm-docs renders now (refresh: npm run chart-docs)', (ctx) => {
    if (!binary) {
      if (process.env.CI) throw new Error(`helm-docs could not be built: ${missing}`);
      ctx.skip(`helm-docs not built (needs Go on PATH; tools/helm-docs/build.sh): ${missing}`);
      return;
    }
    expect(readFileSync(CHART_README, 'utf8')).toBe(renderChartReadme(binary));
  });

  it('documents every value with a description (no helm-docs placeholder row)', () => {
    const readme = readFileSync(CHART_README, 'utf8');
    const rows = readme.split('\n').filter((l) => l.startsWith('| `'));
    expect(rows.length).toBeGreaterThan(60);
    // A row without a `# --` comment has an empty description cell.
    expect(rows.filter((r) => /\|\s*\|$/.test(r))).toEqual([]);
  });

  it('quotes the OCI install of the current version, and lists what helm uninstall leaves', () => {
    const readme = readFileSync(CHART_README, 'utf8');
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    expect(readme).toContain(
      `helm install sd-gitops-bootstrap oci://ghcr.io/seldonio/charts/sd-gitops-bootstrap --version ${pkg.version}`,
    );
    for (const left of [
      'hook Job',
      'report ConfigMap',
      'Lease',
      'git-creds',
      'sd-gitops-bootstrap-repo',
      'AppProject',
    ])
      expect(readme, left).toContain(left);
  });
});

/**
 * The chart and the program describe the same configuration: values.schema.json is generated from the
 * program's schema, values.yaml's `config` carries the program's defaults, and every key is documented.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { VALUES_SCHEMA, valuesSchemaText } from '../../scripts/gen-values-schema.ts';
import { releaseVersion } from '../../scripts/release.ts';
import { parseConfig } from '../../src/config/load.ts';
import { describeConfig } from '../../src/config/schema.ts';

const chart = join(import.meta.dirname, '..', '..', 'helm', 'sd-gitops-bootstrap');
const valuesText = readFileSync(join(chart, 'values.yaml'), 'utf8');
const values = load(valuesText) as {
  config: Record<string, Record<string, unknown>>;
  image: { repository: string };
};
const REQUIRED = { repoUrl: 'ssh://git@git.example.com/acme/gitops.git', namespaces: ['staging'] };

function withRequired(config: Record<string, Record<string, unknown>>): unknown {
  return {
    ...config,
    git: { ...config.git, repoUrl: REQUIRED.repoUrl },
    environments: { ...config.environments, namespaces: REQUIRED.namespaces },
  };
}

describe('helm/sd-gitops-bootstrap', () => {
  it('values.schema.json is the generated one (refresh: node scripts/gen-values-schema.ts --write)', () => {
    expect(readFileSync(VALUES_SCHEMA, 'utf8')).toBe(valuesSchemaText());
  });

  it("values.yaml's config holds the program's defaults, and nothing the program would reject", () => {
    const fromValues = parseConfig(withRequired(values.config));
    const programDefaults = parseConfig({
      git: { repoUrl: REQUIRED.repoUrl },
      environments: { namespaces: REQUIRED.namespaces },
    });
    expect(fromValues).toEqual(programDefaults);
  });

  it('values.yaml documents every config key, each with a commented example', () => {
    const undocumented = describeConfig()
      .filter((row) => row.type !== 'object') // sections: a prose comment, their keys carry the examples
      .map((row) => row.path.replace(/\[\]/g, ''))
      .filter((path) => {
        const leaf = path.split('.').at(-1)!;
        // An example line: `# leaf: …` (or, for a list entry's key, `#   - leaf: …` / `#     leaf: …`).
        return !new RegExp(`^\\s*#\\s*(-\\s*)?${leaf}:`, 'm').test(valuesText);
      });
    expect(undocumented).toEqual([]);
  });

  it('every ci/*-values.yaml is a complete configuration the program accepts', () => {
    const files = readdirSync(join(chart, 'ci')).filter((f) => f.endsWith('-values.yaml'));
    expect(files.length).toBeGreaterThanOrEqual(6);
    for (const file of files) {
      const ci = load(readFileSync(join(chart, 'ci', file), 'utf8')) as {
        config: Record<string, Record<string, unknown>>;
      };
      const merged: Record<string, Record<string, unknown>> = {};
      for (const key of new Set([...Object.keys(values.config), ...Object.keys(ci.config)])) {
        merged[key] = deepMerge(values.config[key] ?? {}, ci.config[key] ?? {});
      }
      expect(() => parseConfig(merged), file).not.toThrow();
    }
  });
});

describe('helm/sd-gitops-bootstrap/Chart.yaml', () => {
  const chartYaml = load(readFileSync(join(chart, 'Chart.yaml'), 'utf8')) as Record<string, unknown> & {
    annotations: Record<string, string>;
  };
  const pkg = JSON.parse(readFileSync(join(chart, '..', '..', 'package.json'), 'utf8')) as {
    version: string;
  };

  it("version, appVersion, package.json's version and the Artifact Hub image tag are one number", () => {
    expect(chartYaml.version).toBe(pkg.version);
    expect(chartYaml.appVersion).toBe(pkg.version);
    const images = load(chartYaml.annotations['artifacthub.io/images']!) as { image: string }[];
    expect(images.map((i) => i.image)).toEqual([`${values.image.repository}:${pkg.version}`]);
  });

  it('npm run release refuses versions out of step, naming each', () => {
    const text = readFileSync(join(chart, 'Chart.yaml'), 'utf8');
    const pkgText = JSON.stringify(pkg);
    expect(releaseVersion(pkgText, text)).toBe(pkg.version);
    const bumped = JSON.stringify({ ...pkg, version: '9.9.9' });
    expect(() => releaseVersion(bumped, text)).toThrow(
      /version is 9\.9\.9 but Chart.yaml's version is .*, its appVersion is .*, its artifacthub.io\/images annotation does not name sd-gitops-bootstrap:9\.9\.9/,
    );
  });

  it('has what Artifact Hub and `helm show chart` readers look for', () => {
    for (const key of ['kubeVersion', 'home', 'sources', 'icon', 'keywords', 'maintainers'])
      expect(chartYaml[key], key).toBeTruthy();
    for (const key of ['artifacthub.io/license', 'artifacthub.io/links', 'artifacthub.io/category'])
      expect(chartYaml.annotations[key], key).toBeTruthy();
    expect(chartYaml.annotations['artifacthub.io/license']).toBe('Apache-2.0');
  });
});

/** Helm's merge of a values file onto values.yaml: maps merge, everything else replaces. */
function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b)
        ? deepMerge(b as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

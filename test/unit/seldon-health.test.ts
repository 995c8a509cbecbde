/**
 * The Seldon health checks (src/manifests/seldon-health.ts) run in Argo CD's own Lua VM: gopher-lua at the
 * version Argo CD v3.5.1 pins, with the libraries Argo CD opens (tools/health/lua-health, built and cached by
 * tools/health/build.sh, which .ci/run calls). Each kind's fixtures (seldon-health/<Kind>.yaml, in the shape of
 * Argo CD's resource_customizations/*\/health_test.yaml) give an object and the health Argo CD must report.
 * In CI a missing harness fails; elsewhere the file is skipped with one line saying how to build it.
 */

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load } from 'js-yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { seldonFailure, seldonResourcesOf } from '../../src/kube/status.ts';
import { ARGOCD_CM, argocdCmData, argocdConfigTargets } from '../../src/manifests/argocd-settings.ts';
import { SELDON_HEALTH_CHECKS } from '../../src/manifests/seldon-health.ts';
import { sampleConfig } from '../fixtures/sample-config.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const here = fileURLToPath(new URL('.', import.meta.url));

/** Where tools/health/build.sh puts the binary: the key is tools/lib/build-lib.sh's tools_key over the sources. */
function harnessPath(): string {
  const src = join(repoRoot, 'tools/health/lua-health');
  const bytes = ['main.go', 'go.mod', 'go.sum'].map((f) => readFileSync(join(src, f)));
  const key = createHash('sha256').update(Buffer.concat(bytes)).digest('hex').slice(0, 16);
  const root =
    process.env.SD_TOOLS_CACHE ??
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'sd-gitops-bootstrap');
  return join(root, `lua-health-${key}`, 'bin', 'lua-health');
}

const harness = harnessPath();
const built = existsSync(harness);
if (!built) {
  if (process.env.CI)
    throw new Error(`the Lua health harness is not built (${harness}): run tools/health/build.sh`);
  process.stderr.write(
    'skipping the Lua health checks: build their harness with tools/health/build.sh (needs Go)\n',
  );
}

interface HealthCase {
  name: string;
  healthStatus: { status: string; message: string };
  obj: Record<string, unknown>;
}

function runLua(script: string, objects: unknown[]): { status?: string; message?: string; error?: string }[] {
  const out = execFileSync(harness, [], { input: JSON.stringify({ script, objects }), encoding: 'utf8' });
  return JSON.parse(out) as { status?: string; message?: string; error?: string }[];
}

const KINDS = {
  SeldonDeployment: 'machinelearning.seldon.io',
  Model: 'mlops.seldon.io',
  Pipeline: 'mlops.seldon.io',
  Experiment: 'mlops.seldon.io',
} as const;

describe.skipIf(!built)('Seldon health checks in gopher-lua (Argo CD v3.5.1 libraries)', () => {
  for (const [kind, group] of Object.entries(KINDS)) {
    const key = `resource.customizations.health.${group}_${kind}`;
    const { tests } = load(readFileSync(join(here, 'seldon-health', `${kind}.yaml`), 'utf8')) as {
      tests: HealthCase[];
    };

    describe(`${group}/${kind}`, () => {
      it('covers healthy, progressing, degraded and no status yet', () => {
        const statuses = new Set(tests.map((t) => t.healthStatus.status));
        expect([...statuses]).toEqual(expect.arrayContaining(['Degraded', 'Healthy', 'Progressing']));
        expect(tests.some((t) => t.obj.status === undefined)).toBe(true);
      });

      let results: ReturnType<typeof runLua> = [];
      beforeAll(() => {
        results = runLua(
          SELDON_HEALTH_CHECKS[key]!,
          tests.map((t) => t.obj),
        );
      });
      tests.forEach((t, i) => {
        it(t.name, () => {
          expect(results[i]).toEqual(t.healthStatus);
        });
      });
    });
  }

  it('the harness reports a script error as Argo CD would fail it (no string library in Argo CD)', () => {
    const [r] = runLua('return { status = string.lower("Healthy") }', [{}]);
    expect(r?.error).toMatch(/string/);
  });
});

describe("the report's reading of a live Seldon object (seldonFailure) agrees with the Lua on every fixture", () => {
  for (const kind of Object.keys(KINDS)) {
    const { tests } = load(readFileSync(join(here, 'seldon-health', `${kind}.yaml`), 'utf8')) as {
      tests: HealthCase[];
    };
    it(`${kind}: the Degraded message exactly, nothing for the others`, () => {
      for (const t of tests) {
        const want = t.healthStatus.status === 'Degraded' ? t.healthStatus.message : undefined;
        // A stale status (generation not observed yet) is Progressing in Lua whatever it says; the report
        // reads the same status Argo CD had when it said Degraded, so only fresh ones are compared.
        if (t.name.includes('has not seen')) continue;
        expect(seldonFailure(t.obj), t.name).toBe(want);
      }
    });
  }

  it('lists the Seldon resources of an Application as refs to read', () => {
    expect(
      seldonResourcesOf({
        status: {
          resources: [
            {
              group: 'machinelearning.seldon.io',
              version: 'v1',
              kind: 'SeldonDeployment',
              namespace: 'stg',
              name: 'iris',
            },
            { version: 'v1', kind: 'ConfigMap', namespace: 'stg', name: 'x' },
            { group: 'mlops.seldon.io', version: 'v1alpha1', kind: 'Model', namespace: 'stg', name: 'm' },
            { group: 'mlops.seldon.io', version: 'v1alpha1', kind: 'Server', namespace: 'stg', name: 's' },
          ],
        },
      }),
    ).toEqual([
      {
        apiVersion: 'machinelearning.seldon.io/v1',
        kind: 'SeldonDeployment',
        namespace: 'stg',
        name: 'iris',
      },
      { apiVersion: 'mlops.seldon.io/v1alpha1', kind: 'Model', namespace: 'stg', name: 'm' },
    ]);
  });
});

describe("argocd-cm: Seldon's health checks by default, replaced or removed by argocd.settings.cm", () => {
  const healthKeys = Object.keys(SELDON_HEALTH_CHECKS);

  it('ships all four keys without any config', () => {
    const data = argocdCmData(sampleConfig());
    expect(Object.keys(data)).toEqual(expect.arrayContaining(healthKeys));
    expect(healthKeys).toHaveLength(4);
    expect(argocdConfigTargets(sampleConfig()).some((o) => o.metadata.name === ARGOCD_CM)).toBe(true);
  });

  it("a user's script replaces ours; null removes ours; other keys stay", () => {
    const data = argocdCmData(
      sampleConfig((c) => {
        c.argocd.settings.cm['resource.customizations.health.mlops.seldon.io_Model'] =
          'return {status="Healthy"}';
        c.argocd.settings.cm['resource.customizations.health.mlops.seldon.io_Experiment'] = null;
      }),
    );
    expect(data['resource.customizations.health.mlops.seldon.io_Model']).toBe('return {status="Healthy"}');
    expect(data).not.toHaveProperty('resource.customizations.health.mlops.seldon.io_Experiment');
    expect(data['resource.customizations.health.machinelearning.seldon.io_SeldonDeployment']).toBe(
      SELDON_HEALTH_CHECKS['resource.customizations.health.machinelearning.seldon.io_SeldonDeployment'],
    );
  });
});

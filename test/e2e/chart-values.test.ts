/**
 * Chart values reach the rendered manifests as data, never as YAML structure (issue #21 item 3): fast-check
 * generates the free strings a user can set (annotations, labels, env values, the image tag, strings of the
 * program's config, the priority class) with the characters YAML reads as structure — `:`, `{`, `#`, quotes,
 * line breaks, leading spaces, `- `, `|`, `&`, `*` — and real `helm template` renders them. Each value is
 * either refused by values.schema.json (helm fails, naming the key) or found, exactly, at its place in the
 * parsed output, and the pod spec and container have exactly the keys of the default render (no field
 * injected). In the e2e tier because that is where the pinned helm binary is.
 */

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { load } from 'js-yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { CHART, ciScenarios, helm, type K8sObject, parseObjects, valuesFile } from './support/helm.ts';

const DEFAULT = ciScenarios().find((s) => s.name === 'default')!.file;

async function template(values: unknown): Promise<{ code: number; stderr: string; objects: K8sObject[] }> {
  const file = valuesFile('prop', values);
  const r = await helm([
    'template',
    'pv',
    CHART,
    '-n',
    'seldon-system',
    '--skip-tests',
    '-f',
    DEFAULT,
    '-f',
    file,
  ]);
  return { code: r.code, stderr: r.stderr, objects: r.code === 0 ? parseObjects(r.stdout) : [] };
}

/** Cases tried, added to SD_INPUT_CASES_FILE under the class `chart-values` (see INPUT_CLASSES). */
let cases = 0;
afterAll(() => {
  const file = process.env.SD_INPUT_CASES_FILE;
  if (!file) return;
  const before = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, number>) : {};
  before['chart-values'] = (before['chart-values'] ?? 0) + cases;
  writeFileSync(file, `${JSON.stringify(before)}\n`);
});

type Obj = Record<string, unknown>;
const jobOf = (objects: K8sObject[]) =>
  objects.find((o) => o.kind === 'Job' && o.metadata.name.endsWith('sd-gitops-bootstrap'))!;
const podOf = (job: K8sObject) => (job.spec as Obj).template as Obj as { metadata: Obj; spec: Obj };
const containerOf = (job: K8sObject) => (podOf(job).spec.containers as Obj[])[0]!;

/** Characters YAML reads as structure, and letters. */
const tricky = fc.string({
  minLength: 1,
  maxLength: 24,
  unit: fc.constantFrom(
    ':',
    ' ',
    '{',
    '}',
    '[',
    ']',
    '#',
    '"',
    "'",
    '\n',
    '-',
    '|',
    '>',
    '&',
    '*',
    '!',
    '%',
    '@',
    ',',
    '?',
    'a',
    'b',
    'é',
    '\\',
  ),
});

describe('chart values stay data', () => {
  it('free strings: refused by the schema, or at their place exactly, with no key added to the pod spec', async () => {
    const base = await template({});
    expect(base.code, base.stderr).toBe(0);
    const basePod = podOf(jobOf(base.objects)).spec;
    const baseContainer = containerOf(jobOf(base.objects));
    let rendered = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          podAnnotation: tricky,
          jobAnnotation: tricky,
          envValue: tricky,
          tag: tricky,
          ssoName: tricky,
          applicationName: tricky,
          priorityClassName: fc.oneof(tricky, fc.constant('system-cluster-critical')),
        }),
        async (v) => {
          const values = {
            image: { tag: v.tag },
            job: {
              podAnnotations: { 'example.com/note': v.podAnnotation },
              annotations: { 'example.com/job-note': v.jobAnnotation },
              extraEnv: [{ name: 'EXTRA', value: v.envValue }],
              priorityClassName: v.priorityClassName,
            },
            config: {
              argocd: { sso: { name: v.ssoName } },
              environments: { applicationName: `${v.applicationName}{namespace}` },
            },
          };
          const r = await template(values);
          cases++;
          if (r.code !== 0) {
            // The schema refuses it (priorityClassName is a name), naming the key; nothing else may fail.
            expect(r.stderr).toMatch(/values don't meet the specifications of the schema/);
            expect(r.stderr).toMatch(/priorityClassName/);
            return;
          }
          rendered++;
          const job = jobOf(r.objects);
          const pod = podOf(job);
          const container = containerOf(job);
          expect((pod.metadata.annotations as Obj)['example.com/note']).toBe(v.podAnnotation);
          expect((job.metadata.annotations as Obj)['example.com/job-note']).toBe(v.jobAnnotation);
          expect(
            (container.env as { name: string; value?: string }[]).find((e) => e.name === 'EXTRA')?.value,
          ).toBe(v.envValue);
          expect(container.image).toMatch(new RegExp(`:${v.tag.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
          expect(pod.spec.priorityClassName).toBe(v.priorityClassName);
          // No key injected: the pod spec and container have the default render's keys (plus the priority class).
          expect(Object.keys(pod.spec).sort()).toEqual([...Object.keys(basePod), 'priorityClassName'].sort());
          expect(Object.keys(container).sort()).toEqual(Object.keys(baseContainer).sort());
          // The program's config, as the Job mounts it.
          const cm = r.objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-config'))!;
          const config = load((cm.data as Record<string, string>)['config.yaml']!) as {
            argocd: { sso: { name: string } };
            environments: { applicationName: string };
          };
          expect(config.argocd.sso.name).toBe(v.ssoName);
          expect(config.environments.applicationName).toBe(`${v.applicationName}{namespace}`);
        },
      ),
      { numRuns: 20, seed: 21 },
    );
    expect(rendered).toBeGreaterThan(0);
  }, 300_000);

  it("config.report.configMap naming the chart's own config ConfigMap: helm refuses, naming the key", async () => {
    const r = await template({ config: { report: { configMap: 'pv-sd-gitops-bootstrap-config' } } });
    cases++;
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(
      /config\.report\.configMap pv-sd-gitops-bootstrap-config is the chart's own config ConfigMap/,
    );
  });
});

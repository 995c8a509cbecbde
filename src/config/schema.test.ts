import { describe, expect, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import { BUNDLED_VERSIONS, DEFAULT_ARGOCD_VERSION } from './bundled.ts';
import { parseConfig } from './load.ts';
import { configJsonSchema, type configSchema, describeConfig, knownKeysAt } from './schema.ts';
import type { Config } from './types.ts';

type JsonSchema = {
  type?: string;
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  additionalProperties?: boolean;
  required?: string[];
  description?: string;
  default?: unknown;
};

/** Every property path of a JSON Schema, `[]` for array items, like describeConfig's paths. */
function jsonSchemaPaths(schema: JsonSchema, prefix = ''): string[] {
  const objects = [schema, ...(schema.anyOf ?? [])].filter((s) => s.properties);
  return objects.flatMap((o) =>
    Object.entries(o.properties!).flatMap(([key, child]) => {
      const path = prefix ? `${prefix}.${key}` : key;
      const items = child.items ? jsonSchemaPaths(child.items, `${path}[]`) : [];
      return [path, ...jsonSchemaPaths(child, path), ...items];
    }),
  );
}

function objectsOf(schema: JsonSchema): JsonSchema[] {
  const own = schema.type === 'object' ? [schema] : [];
  const children = [
    ...Object.values(schema.properties ?? {}),
    ...(schema.items ? [schema.items] : []),
    ...(schema.anyOf ?? []),
  ];
  return [...own, ...children.flatMap(objectsOf)];
}

describe('configSchema', () => {
  it('produces exactly the Config type the steps code against', () => {
    // types.ts derives Config from the schema; this holds it there should a hand-written copy come back.
    // Flattened first: an intersection such as `{ name } & { key }` is the same type as zod's
    // `{ name; key }` but not identical for expect-type's strict comparison.
    type Flat<T> = T extends (infer U)[] ? Flat<U>[] : T extends object ? { [K in keyof T]: Flat<T[K]> } : T;
    expectTypeOf<Flat<z.output<typeof configSchema>>>().toEqualTypeOf<Flat<Config>>();
  });

  it('defaults to the newest bundled version', () => {
    expect(DEFAULT_ARGOCD_VERSION).toBe(BUNDLED_VERSIONS[0]);
    expect(BUNDLED_VERSIONS).toEqual(['v3.5.1', 'v2.14.21']);
  });
});

describe('describeConfig', () => {
  const rows = describeConfig();

  it('describes every key', () => {
    const undocumented = rows.filter((r) => r.description.trim() === '').map((r) => r.path);
    expect(undocumented).toEqual([]);
  });

  it('gives every key a default, unless it is required or optional by nature', () => {
    const required = rows.filter((r) => r.required).map((r) => r.path);
    expect(required).toEqual([
      'git',
      'git.repoUrl',
      'git.caBundle.secretRef.name',
      'git.caBundle.configMapRef.name',
      'environments',
      'environments.namespaces',
      'environments.namespaces[].name',
      // A batch rule is given whole; the storage Secret, when named, by its name.
      'environments.batch.rules[].apiGroups',
      'environments.batch.rules[].resources',
      'environments.batch.rules[].verbs',
      'environments.batch.storageSecret.secretRef',
      'environments.batch.storageSecret.secretRef.name',
    ]);
    const withoutDefault = rows
      .filter((r) => !r.required && r.type !== 'object' && r.default === undefined)
      .map((r) => r.path);
    expect(withoutDefault).toEqual([
      'argocd.install.file',
      'argocd.install.url',
      'argocd.install.sha256',
      'argocd.install.profile', // unset: standard
      'argocd.images.registry', // unset: each image's own registry
      'argocd.adminPassword.secretRef.namespace',
      'argocd.url', // required with argocd.sso.enabled (a rule says so)
      // Needed only with argocd.sso.enabled (a rule says so).
      'argocd.sso.issuer',
      'argocd.sso.clientID',
      'argocd.sso.rootCA', // only for a provider behind a private CA
      'git.credentials.secretRef.namespace',
      'git.caBundle.secretRef.namespace',
      'git.caBundle.configMapRef.namespace',
      // An environment's own sync policy: unset means the environments' key.
      'environments.namespaces[].prune',
      'environments.namespaces[].selfHeal',
      'environments.namespaces[].targetRevision',
      'environments.namespaces[].syncOptions',
      'environments.namespaces[].batch', // unset: environments.batch.enabled
      'environments.targetRevision', // unset: Argo CD's default (HEAD), as the seed
      'environments.batch.storageSecret.secretRef.namespace',
      // Needed only with webhooks.enabled (a rule says so), or derived (apiUrl, repository).
      'webhooks.provider',
      'webhooks.apiUrl',
      'webhooks.repository',
      'webhooks.token.secretRef.namespace',
      'webhooks.argocdUrl',
      'webhooks.seldonDeployUrl',
    ]);
  });

  it('shows defaults as a user writes them', () => {
    const byPath = Object.fromEntries(rows.map((r) => [r.path, r]));
    expect(byPath['argocd.rolloutTimeout']).toMatchObject({ type: 'duration', default: '10m' });
    expect(byPath['environments.syncTimeout']).toMatchObject({ type: 'duration', default: '5m' });
    expect(byPath['argocd.install.source']).toMatchObject({ type: '"bundled" | "file" | "url" | "skip"' });
    expect(byPath['argocd.virtualService.enabled']).toMatchObject({
      type: '"auto" | boolean',
      default: 'auto',
    });
    expect(byPath['environments.applicationName']).toMatchObject({ default: 'seldon-gitops-{namespace}' });
  });

  it('lists the same keys as the JSON Schema', () => {
    expect(rows.map((r) => r.path).sort()).toEqual([...new Set(jsonSchemaPaths(configJsonSchema()))].sort());
  });

  it('its defaults are what parsing fills in', () => {
    const config = parseConfig({
      git: { repoUrl: 'ssh://git@h/r.git' },
      environments: { namespaces: ['a'] },
    });
    // Not the keys inside an optional section that is absent here (git.caBundle).
    const inAbsentSection = (path: string) => path.startsWith('git.caBundle.');
    for (const row of rows.filter(
      (r) => r.default !== undefined && !r.path.includes('[]') && !inAbsentSection(r.path),
    )) {
      const value = row.path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], config);
      expect(value, row.path).toEqual(row.type === 'duration' ? expect.any(Number) : row.default);
    }
  });
});

describe('configJsonSchema', () => {
  const schema = configJsonSchema() as JsonSchema;

  it('rejects unknown keys at every level', () => {
    const objects = objectsOf(schema);
    expect(objects.length).toBeGreaterThan(10);
    // Maps of free keys (argocd.settings.*) are objects without properties: their values are typed instead.
    for (const o of objects.filter((x) => x.properties !== undefined))
      expect(o.additionalProperties, Object.keys(o.properties ?? {}).join()).toBe(false);
  });

  it('requires what the program requires', () => {
    expect(schema.required).toEqual(['git', 'environments']);
    expect(schema.properties?.git?.required).toEqual(['repoUrl']);
    expect(schema.properties?.environments?.required).toEqual(['namespaces']);
  });

  it('describes the input side: durations as written, namespaces as names or objects', () => {
    const timeout = schema.properties?.argocd?.properties?.rolloutTimeout;
    expect(timeout?.default).toBe('10m');
    expect(timeout?.anyOf?.map((s) => s.type)).toEqual(['string', 'number']);
    const entry = schema.properties?.environments?.properties?.namespaces?.items;
    expect(entry?.anyOf?.map((s) => s.type)).toEqual(['string', 'object']);
  });

  it('uses only patterns Go can compile (Helm validates values.schema.json with RE2: no look-arounds)', () => {
    const patterns = JSON.stringify(schema).match(/"pattern":"(?:[^"\\]|\\.)*"/g) ?? [];
    expect(patterns.length).toBeGreaterThan(5);
    for (const p of patterns) expect(p).not.toMatch(/\(\?[=!<]/);
  });
});

describe('knownKeysAt', () => {
  it.each([
    {
      name: 'top level',
      path: [],
      keys: ['argocd', 'git', 'environments', 'seldonDeploy', 'webhooks', 'report'],
    },
    { name: 'a nested object', path: ['argocd', 'server'], keys: ['insecure', 'rootPath'] },
    {
      name: 'a namespace entry',
      path: ['environments', 'namespaces', 0],
      keys: ['name', 'restricted', 'prune', 'selfHeal', 'targetRevision', 'syncOptions', 'batch'],
    },
    { name: 'not an object', path: ['argocd', 'version'], keys: [] },
    { name: 'nowhere', path: ['nope', 'deeper'], keys: [] },
  ])('$name', ({ path, keys }) => {
    expect(knownKeysAt(path)).toEqual(keys);
  });
});

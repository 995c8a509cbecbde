/**
 * One writer per object: the steps run on the in-memory cluster (a full run, a run with
 * `install.source: skip`, a drift run), every `ctx.apply` recorded with the step that made it, and each
 * object applied must have exactly one writing step, the one docs/lifecycle.md's table "Who writes each
 * object" names for that kind of run.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeProvider, startFakeProvider } from '../../test/fakes/git-providers.ts';
import { FakeKube } from '../../test/fakes/kube.ts';
import { sampleRepositoryGit } from '../../test/fixtures/git-runner.ts';
import { SAMPLE_INPUT } from '../../test/fixtures/sample-config.ts';
import { fakeOpensshKey } from '../../test/fixtures/ssh-key.ts';
import { RUN_ENV as ENV } from '../../test/fixtures/step-run.ts';
import { parseConfig } from '../config/load.ts';
import type { Config } from '../config/types.ts';
import { argocdManifest } from '../inputs/inputs.ts';
import type { KubeObject } from '../kube/types.ts';
import { createLogger } from '../log.ts';
import { b64 } from '../manifests/common.ts';
import { createContext, type Step, type StepContext } from './context.ts';
import { DRIFT_STEPS, runSteps, STEPS } from './runner.ts';

type Column = 'full' | 'skip' | 'drift';
type Transport = 'ssh' | 'https';
const COLUMNS: Column[] = ['full', 'skip', 'drift'];

interface Row {
  /** `Kind namespace/name` with `<…>` placeholders; undefined: the install manifest's other objects. */
  pattern: RegExp | undefined;
  /** No placeholder: a named object, which wins over a pattern it also matches. */
  exact: boolean;
  text: string;
  writer: Record<Column, string | undefined>;
}

/** The table "Who writes each object" of docs/lifecycle.md. */
function tableRows(): Row[] {
  const doc = readFileSync(new URL('../../docs/lifecycle.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf('### Who writes each object')).split('\n');
  const start = section.findIndex((l) => l.startsWith('|'));
  const end = section.findIndex((l, i) => i > start && !l.startsWith('|'));
  return section.slice(start + 2, end).map((line) => {
    const cells = line
      .slice(1, -1)
      .split(' | ')
      .map((c) => c.trim());
    const [object = '', , full, skip, drift] = cells;
    const ref = /^`([A-Za-z]+ [^`]+)`/.exec(object)?.[1];
    const step = (cell: string | undefined) => (!cell || cell === '—' ? undefined : cell);
    const pattern = ref
      ? new RegExp(
          `^${ref
            .split(/(<[^>]+>)/)
            .map((part) => (part.startsWith('<') ? '[^/ ]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
            .join('')}$`,
        )
      : undefined;
    return {
      pattern,
      exact: !ref?.includes('<'),
      text: object,
      writer: { full: step(full), skip: step(skip), drift: step(drift) },
    };
  });
}

const keyOf = (o: KubeObject) =>
  `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;

/** Runs `steps`, recording which step's apply calls carried which object. */
async function recordWrites(
  kube: FakeKube,
  config: Config,
  steps: readonly Step[],
  scope: 'full' | 'drift' = 'full',
): Promise<{ writers: Map<string, Set<string>>; ctx: StepContext }> {
  const ctx = createContext({
    mode: 'apply',
    scope,
    config,
    env: ENV,
    kube,
    log: createLogger({ level: 'silent' }),
    deps: { git: sampleRepositoryGit, pollIntervalMs: 1 },
  });
  const writers = new Map<string, Set<string>>();
  let current = '';
  const apply = ctx.apply.bind(ctx);
  (ctx as { apply: StepContext['apply'] }).apply = (objs, opts) => {
    for (const o of objs) {
      const key = keyOf(o);
      writers.set(key, (writers.get(key) ?? new Set()).add(current));
    }
    return apply(objs, opts);
  };
  const tracked = steps.map((s) => ({
    ...s,
    reconcile: (c: StepContext) => {
      current = s.name;
      return s.reconcile(c);
    },
  }));
  const result = await runSteps(ctx, tracked);
  expect(result.failed?.message).toBeUndefined();
  return { writers, ctx };
}

const PEM = () =>
  `-----BEGIN CERTIFICATE-----\n${randomBytes(48).toString('base64')}\n-----END CERTIFICATE-----\n`;

describe('who writes each object (docs/lifecycle.md)', () => {
  let provider: FakeProvider;
  beforeAll(async () => {
    provider = await startFakeProvider('github');
  });
  afterAll(() => provider?.close());

  /**
   * Every optional writer on: SSO, a CA bundle, webhooks, Istio, a generated admin password, batch jobs
   * with the storage Secret's copy.
   */
  const config = (source: 'bundled' | 'skip', transport: Transport) =>
    parseConfig({
      ...structuredClone(SAMPLE_INPUT),
      environments: {
        ...structuredClone(SAMPLE_INPUT.environments),
        batch: { enabled: true, storageSecret: { secretRef: { name: 'seldon-bucket' } } },
      },
      // SSH: the Git server's host keys; HTTPS: its CA.
      git:
        transport === 'ssh'
          ? { repoUrl: `ssh://git@git.example.com/${provider.repository}.git` }
          : {
              repoUrl: `https://git.example.com/${provider.repository}.git`,
              caBundle: { secretRef: { name: 'git-ca', key: 'ca.crt' } },
            },
      argocd: {
        url: 'https://deploy.example.com/argocd',
        install: { source },
        settings: { rbac: { 'policy.default': 'role:readonly' } },
        sso: { enabled: true, issuer: 'https://sso.example.com/realms/acme', clientID: 'argocd' },
      },
      webhooks: {
        enabled: true,
        provider: 'github',
        apiUrl: provider.apiUrl,
        argocdUrl: 'https://deploy.example.com/argocd/api/webhook',
        seldonDeployUrl: 'https://deploy.example.com/api/git-webhook',
      },
    });

  const cluster = (transport: Transport) => {
    const kube = new FakeKube().seed(
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'seldon-system' } },
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'gitops-source-creds', namespace: 'seldon-system' },
        data:
          transport === 'ssh'
            ? {
                'ssh-privatekey': b64(fakeOpensshKey('writers-test-key')),
                known_hosts: b64('git.example.com ssh-ed25519 AAAAwriters\n'),
              }
            : { username: b64('bot'), password: b64(randomBytes(12).toString('hex')) },
      },
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'git-ca', namespace: 'seldon-system' },
        data: { 'ca.crt': b64(PEM()) },
      },
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'git-webhook-token', namespace: 'seldon-system' },
        data: { token: b64(provider.token) },
      },
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'seldon-bucket', namespace: 'seldon-system' },
        data: { RCLONE_CONFIG_S3_SECRET_ACCESS_KEY: b64(randomBytes(12).toString('hex')) },
      },
    );
    kube.kinds.add('networking.istio.io/v1/VirtualService');
    return kube;
  };

  /** The Argo CD namespace's objects exist once the install ran: the SSO client secret is the user's. */
  const seedSsoSecret = (kube: FakeKube) =>
    kube.seed({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'argocd-oidc', namespace: 'argocd' },
      data: { clientSecret: b64(randomBytes(12).toString('hex')) },
    });

  it('each object has exactly one writing step, the one the table names, in every kind of run', async () => {
    const rows = tableRows();
    expect(rows.length).toBeGreaterThan(10);
    const runs: Record<Column, Map<string, Set<string>>> = {
      full: new Map(),
      skip: new Map(),
      drift: new Map(),
    };
    const manifest = new Set<string>();
    const record = (column: Column, writers: Map<string, Set<string>>) => {
      for (const [key, steps] of writers) {
        expect([...steps], `${key} (${column}): one writing step in a run`).toHaveLength(1);
        runs[column].set(key, new Set([...(runs[column].get(key) ?? []), ...steps]));
      }
    };
    for (const transport of ['ssh', 'https'] as const) {
      const kube = cluster(transport);
      // A first full run creates what the others find (the SSO client secret is labelled by the second).
      const first = await recordWrites(kube, config('bundled', transport), STEPS);
      record('full', first.writers);
      seedSsoSecret(kube);
      const second = await recordWrites(kube, config('bundled', transport), STEPS);
      record('full', second.writers);
      for (const o of (await argocdManifest(second.ctx)).objects) manifest.add(keyOf(o));
      // Argo CD handed over; the generated password's Secret lost, so the skip run writes it again.
      await kube.delete({
        apiVersion: 'v1',
        kind: 'Secret',
        namespace: 'seldon-system',
        name: 'argocd-admin-password',
      });
      record('skip', (await recordWrites(kube, config('skip', transport), STEPS)).writers);
      record('drift', (await recordWrites(kube, config('bundled', transport), DRIFT_STEPS, 'drift')).writers);
    }

    // A named row first, then the manifest's, then a pattern's (`<environment>`).
    const rowOf = (key: string) =>
      rows.find((r) => r.exact && r.pattern?.test(key)) ??
      (manifest.has(key) ? rows.find((r) => r.pattern === undefined) : undefined) ??
      rows.find((r) => r.pattern?.test(key));
    const seen = new Set<Row>();
    for (const column of COLUMNS) {
      for (const [key, steps] of runs[column]) {
        expect([...steps], `${key} (${column}): one writing step in every run`).toHaveLength(1);
        const row = rowOf(key);
        expect(row, `${key} (${column}) is in the table`).toBeDefined();
        expect(`${key}: ${[...steps][0]}`, `${row!.text}, ${column}`).toBe(`${key}: ${row!.writer[column]}`);
        seen.add(row!);
      }
    }
    // No row names a writer that wrote nothing: the table says what the code does.
    for (const row of rows)
      for (const column of COLUMNS) {
        if (!row.writer[column]) continue;
        const written = [...runs[column].keys()].some((key) => rowOf(key) === row);
        expect(written, `${row.text}: written by ${row.writer[column]} (${column})`).toBe(true);
      }
    expect(seen.size).toBe(rows.length);
    // Each object once in the table.
    const patterns = rows.map((r) => r.pattern?.source ?? 'manifest');
    expect(new Set(patterns).size).toBe(patterns.length);
  });
});

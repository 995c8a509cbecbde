/**
 * The input classes of guards.ts, proven by class: property tests generate configs (plausible and hostile)
 * and YAML texts, run them through the command line (`run`, as the Job does), and require that each one is
 * either accepted or refused with exit 2 and a dot path — never another error, never a hang — and that for
 * every accepted config every object the builders make has names, labels and annotations the API server
 * accepts. Run counts are small (seconds); `INPUT_CASES` records how many cases each class tried.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { dump } from 'js-yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.ts';
import type { Kube, KubeObject } from '../kube/types.ts';
import { run } from '../main.ts';
import { application } from '../manifests/application.ts';
import { appProject } from '../manifests/appproject.ts';
import {
  adminPasswordSecret,
  argocdConfigTargets,
  rbacCmData,
  ssoSecretLabelPatch,
} from '../manifests/argocd-settings.ts';
import { environmentsOf } from '../manifests/common.ts';
import {
  argocdRepositorySecret,
  REPOSITORY_SECRET_NAME,
  seldonGitCredsSecret,
} from '../manifests/git-credentials.ts';
import { INVENTORY_CONFIGMAP, inventoryConfigMap } from '../manifests/inventory.ts';
import { KNOWN_HOSTS_CONFIGMAP } from '../manifests/known-hosts.ts';
import { namespaceFor } from '../manifests/namespace.ts';
import { TLS_CERTS_CONFIGMAP } from '../manifests/tls-certs.ts';
import { webhookStateSecret } from '../manifests/webhooks.ts';
import {
  ANNOTATIONS_MAX_BYTES,
  csvField,
  FIXED_NAMES,
  type INPUT_CLASSES,
  isDnsLabelName,
  isDnsSubdomainName,
  isLabelValue,
  isQualifiedKey,
  nameCollisions,
  reservedNamespaces,
  runNamespaceProblems,
} from './guards.ts';
import { expansionProblem, loadConfigFile, parseConfig, YAML_LIMITS } from './load.ts';
import type { Config } from './types.ts';

const dir = mkdtempSync(join(tmpdir(), 'sd-guards-'));
let fileNo = 0;
const RUN_NS = 'seldon-system';
const REPO = 'ssh://git@git.example.com/acme/gitops.git';
const SENTINEL = 'config accepted: the run would connect now';

/** Cases tried per class, for the reliability table (filled as the tests run). */
const INPUT_CASES: Record<string, number> = {};
const count = (cls: (typeof INPUT_CLASSES)[number]['id'], n = 1) => {
  INPUT_CASES[cls] = (INPUT_CASES[cls] ?? 0) + n;
};

function writeConfig(text: string): string {
  const file = join(dir, `c${fileNo++}.yaml`);
  writeFileSync(file, text);
  return file;
}

/** `sd-gitops-bootstrap plan --config FILE` with a cluster that fails on first use: the exit and stderr. */
async function runPlan(file: string, runNamespace = RUN_NS): Promise<{ code: number; stderr: string }> {
  const chunks: string[] = [];
  const stderr = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  const stdout = new Writable({ write: (_c, _e, cb) => cb() });
  const kube = {
    server: 'https://fake',
    defaultNamespace: runNamespace,
    defaultNamespaceSource: 'pod',
    request: () => Promise.reject(new Error(SENTINEL)),
  } as unknown as Kube;
  const code = await run(['plan', '--config', file], {
    env: { POD_NAMESPACE: runNamespace, LOG_LEVEL: 'error', LOG_FORMAT: 'json' },
    stdout,
    stderr,
    connect: async () => kube,
  });
  return { code, stderr: chunks.join('') };
}

/** Every problem line of a ConfigError message: `  - <dot.path>: <message>`, or a file-level sentence. */
function problemLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('  - '));
}

// ---------------------------------------------------------------------------------------------------------
// Generators

const goodLabel = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?$/);
const hostileString = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom('a,b', 'x"y', 'line\nbreak', ' lead', 'tail ', '#c', 'a:b', '{x}', '- y', '\u2028', 'A'),
  fc.string({ minLength: 60, maxLength: 300, unit: fc.constantFrom('a', 'b', '-', '.') }),
);
/** Names the bootstrap or Argo CD use themselves, and namespaces that must never be environments. */
const ownNames = fc.constantFrom(
  FIXED_NAMES.inventoryConfigMap,
  'sd-gitops-bootstrap-report',
  'sd-gitops-bootstrap-webhook',
  'argocd-secret',
  'argocd-cm',
  'argocd-rbac-cm',
  'argocd-admin-password',
  'gitops-source-creds',
  'git-creds',
  'default',
  REPOSITORY_SECRET_NAME,
);
const ownNamespaces = fc.constantFrom(
  'argocd',
  'seldon-system',
  'seldon-logs',
  'default',
  'kube-system',
  'kube-foo',
  'openshift-config',
  'staging',
);
const name = fc.oneof(
  { weight: 12, arbitrary: goodLabel },
  { weight: 2, arbitrary: ownNames },
  { weight: 1, arbitrary: hostileString },
);
const namespace = fc.oneof(
  { weight: 12, arbitrary: goodLabel },
  { weight: 2, arbitrary: ownNamespaces },
  { weight: 1, arbitrary: hostileString },
);
const wrongType = fc.oneof(
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.nat(), { maxLength: 2 }),
);
/** Mostly the intended type, sometimes another. */
const maybe = <T>(arb: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 30, arbitrary: arb }, { weight: 1, arbitrary: wrongType as fc.Arbitrary<unknown> });
const opt = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 2 });

/** SSO group names as providers spell them: spaces, commas, quotes, slashes, and hostile ones. */
const groupName = fc.oneof(
  goodLabel,
  fc.constantFrom('ops, admins', 'say "hi"', ' lead', 'tail ', 'CN=Ops,OU=Groups', '/team/sub', 'a#b'),
  fc.string({ maxLength: 12, unit: fc.constantFrom('a', ',', '"', ' ', '\n', 'é') }),
);

const secretRef = fc.record({ name: maybe(name), namespace: opt(maybe(namespace)) }, { requiredKeys: [] });

const configArb = fc.record(
  {
    git: fc.record(
      { repoUrl: fc.constant(REPO), credentials: opt(fc.record({ secretRef })) },
      { requiredKeys: ['repoUrl'] },
    ),
    environments: fc.record(
      {
        namespaces: fc.array(
          fc.oneof(maybe(namespace), fc.record({ name: maybe(namespace), restricted: fc.boolean() })),
          { minLength: 1, maxLength: 4 },
        ),
        applicationName: opt(
          maybe(
            fc.oneof(
              fc.constant('seldon-gitops-{namespace}'),
              fc.constant('{namespace}'),
              fc.constant('argocd-{namespace}'),
              fc.constant('x'),
              fc
                .string({ minLength: 40, maxLength: 80, unit: fc.constantFrom('a', 'b') })
                .map((s) => `${s}-{namespace}`),
              hostileString.map((s) => `${s}{namespace}`),
            ),
          ),
        ),
        project: opt(maybe(name)),
        logging: opt(fc.record({ enabled: fc.boolean(), namespace: maybe(namespace) }, { requiredKeys: [] })),
      },
      { requiredKeys: ['namespaces'] },
    ),
    argocd: opt(
      fc.record(
        {
          namespace: maybe(namespace),
          adminPassword: fc.record({ secretRef, generate: fc.boolean() }, { requiredKeys: [] }),
          sso: fc.record(
            {
              enabled: fc.boolean(),
              issuer: fc.constant('https://sso.example.com/realms/acme'),
              clientID: maybe(
                fc.oneof({ weight: 4, arbitrary: goodLabel }, { weight: 1, arbitrary: hostileString }),
              ),
              name: maybe(
                fc.oneof({ weight: 4, arbitrary: goodLabel }, { weight: 1, arbitrary: hostileString }),
              ),
              clientSecret: fc.record({ secretRef: fc.record({ name: maybe(name) }, { requiredKeys: [] }) }),
              groups: fc.dictionary(
                groupName,
                fc.constantFrom('role:admin', 'role:readonly', 'role:admin', 'admin'),
                {
                  maxKeys: 3,
                },
              ),
            },
            { requiredKeys: [] },
          ),
          url: fc.constant('https://deploy.example.com/argocd'),
        },
        { requiredKeys: [] },
      ),
    ),
    seldonDeploy: opt(
      fc.record({ namespace: maybe(namespace), gitCredentialsSecret: maybe(name) }, { requiredKeys: [] }),
    ),
    webhooks: opt(
      fc.record({
        enabled: fc.boolean(),
        provider: fc.constant('github'),
        argocdUrl: fc.constant('https://deploy.example.com/argocd/api/webhook'),
        secretName: maybe(name),
        token: fc.record({ secretRef }),
      }),
    ),
    report: opt(fc.record({ configMap: maybe(name) })),
    [`unknown${''}`]: opt(fc.constant('x')),
  },
  { requiredKeys: ['git', 'environments'] },
);

/** Billion laughs: `levels` anchors, each a list of `width` aliases of the one before. */
const laughs = fc
  .record({ levels: fc.integer({ min: 2, max: 12 }), width: fc.integer({ min: 2, max: 12 }) })
  .map(({ levels, width }) => {
    let y = `git:\n  repoUrl: ${REPO}\nenvironments:\n  namespaces: [staging]\nx0: &a0 [${Array(width).fill('lol').join(',')}]\n`;
    for (let i = 1; i < levels; i++)
      y += `x${i}: &a${i} [${Array(width)
        .fill(`*a${i - 1}`)
        .join(',')}]\n`;
    return { text: y, expanded: width ** levels };
  });
const deepYaml = fc.integer({ min: 1, max: 400 }).map((d) => `git: ${'['.repeat(d)}x${']'.repeat(d)}\n`);
const junkYaml = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 100 }),
  fc.constantFrom(
    '- a\n- b',
    '--- \na: 1\n---\nb: 2',
    '&a [*a]',
    'a: *nope',
    'a: !!js/function x',
    '? [a]\n: b',
  ),
);

// ---------------------------------------------------------------------------------------------------------
// Kubernetes' validation of what the builders make

function objectProblems(obj: KubeObject): string[] {
  const problems: string[] = [];
  const what = `${obj.kind} ${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
  const nameOk = obj.kind === 'Namespace' ? isDnsLabelName : isDnsSubdomainName;
  if (!nameOk(obj.metadata.name)) problems.push(`${what}: name`);
  if (obj.metadata.namespace !== undefined && !isDnsLabelName(obj.metadata.namespace))
    problems.push(`${what}: namespace`);
  for (const [k, v] of Object.entries(obj.metadata.labels ?? {})) {
    if (!isQualifiedKey(k)) problems.push(`${what}: label key ${k}`);
    if (!isLabelValue(v)) problems.push(`${what}: label ${k}=${v}`);
  }
  const annotations = Object.entries((obj.metadata.annotations ?? {}) as Record<string, string>);
  for (const [k] of annotations) if (!isQualifiedKey(k)) problems.push(`${what}: annotation key ${k}`);
  const size = annotations.reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
  if (size > ANNOTATIONS_MAX_BYTES) problems.push(`${what}: annotations ${size} bytes`);
  return problems;
}

function builtObjects(config: Config): KubeObject[] {
  const envs = environmentsOf(config);
  const ssh = {
    kind: 'ssh' as const,
    privateKey: 'k',
    knownHosts: 'h',
    passphrase: '',
    username: 'git',
    email: '',
  };
  const pw = config.argocd.adminPassword.secretRef;
  return [
    ...envs.map((e) => namespaceFor(config, e)),
    ...envs.map((e) => application(config, e)),
    appProject(config),
    ...argocdConfigTargets(config),
    ...ssoSecretLabelPatch(config),
    argocdRepositorySecret(config, ssh),
    seldonGitCredsSecret(config, ssh),
    adminPasswordSecret({ password: 'p', namespace: pw.namespace ?? RUN_NS, name: pw.name, key: pw.key }),
    webhookStateSecret(RUN_NS, config.webhooks.secretName, { secret: 's' }),
    inventoryConfigMap({ version: 1, environments: [], members: [] }, RUN_NS),
  ];
}

/** Go's encoding/csv as Argo CD reads one policy.csv line (TrimLeadingSpace): its fields, or undefined. */
function readCsvLine(line: string): string[] | undefined {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    while (i < line.length && /\s/.test(line[i]!)) i++;
    let field = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length) return undefined;
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += line[i++];
      }
      if (i < line.length && line[i] !== ',') return undefined;
    } else {
      while (i < line.length && line[i] !== ',') {
        if (line[i] === '"') return undefined; // a bare quote
        field += line[i++];
      }
    }
    fields.push(field);
    if (i >= line.length) return fields;
    i++; // the comma
  }
}

afterAll(() => {
  // For the reliability table (INPUT_CLASSES in guards.ts names the classes): the cases each class tried,
  // added to the JSON file SD_INPUT_CASES_FILE names (docs/reliability.md's generator sets it), else printed.
  const file = process.env.SD_INPUT_CASES_FILE;
  if (!file) {
    process.stdout.write(`input cases by class: ${JSON.stringify(INPUT_CASES)}\n`);
    return;
  }
  const before = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, number>) : {};
  for (const [k, n] of Object.entries(INPUT_CASES)) before[k] = (before[k] ?? 0) + n;
  writeFileSync(file, `${JSON.stringify(before)}\n`);
});

// ---------------------------------------------------------------------------------------------------------
// The properties

describe('every config either loads or is refused with exit 2 and a dot path', () => {
  it('generated configs: exit 2 with dot paths, or accepted with every built object valid for the API server', async () => {
    let accepted = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(configArb, async (input) => {
        count('schema');
        const file = writeConfig(dump(input, { skipInvalid: true }));
        const { code, stderr } = await runPlan(file);
        if (code === 2) {
          refused++;
          const lines = problemLines(stderr);
          expect(lines.length, stderr).toBeGreaterThan(0);
          // A mapping at the top: every problem is a key's (a dot path before the colon).
          for (const l of lines) expect(l, stderr).toMatch(/^ {2}- [A-Za-z][\w.[\]"-]*[^\s:]?[^:]*: \S/);
          return;
        }
        expect(code, stderr).toBe(1);
        expect(stderr).toContain(SENTINEL);
        accepted++;
        const config = await loadConfigFile(file);
        expect(runNamespaceProblems(config, RUN_NS)).toEqual([]);
        const problems = builtObjects(config).flatMap(objectProblems);
        expect(problems).toEqual([]);
        // Every SSO group reaches policy.csv as one field, exactly.
        if (config.argocd.sso.enabled && Object.keys(config.argocd.sso.groups).length > 0)
          count('policy-strings');
        count('generated-names');
        const csv = rbacCmData(config)['policy.csv'] ?? '';
        const groups = config.argocd.sso.enabled ? Object.keys(config.argocd.sso.groups) : [];
        const lines = csv.split('\n').filter((l) => l.trim() !== '');
        expect(lines.length).toBe(groups.length);
        lines.forEach((line, i) => {
          expect(readCsvLine(line.trim())).toEqual(['g', groups[i], config.argocd.sso.groups[groups[i]!]]);
        });
      }),
      { numRuns: 300, seed: 21 },
    );
    // The generator reaches both outcomes (else the property says little).
    expect(accepted).toBeGreaterThan(10);
    expect(refused).toBeGreaterThan(10);
  }, 120_000);

  it('SSO group names: refused at their dot path, or read back from policy.csv as exactly one field', () => {
    fc.assert(
      fc.property(
        fc.dictionary(groupName, fc.constant('role:readonly'), { minKeys: 1, maxKeys: 4 }),
        (groups) => {
          count('policy-strings');
          const input = {
            git: { repoUrl: REPO },
            environments: { namespaces: ['staging'] },
            argocd: {
              url: 'https://d.example.com/argocd',
              sso: { enabled: true, issuer: 'https://sso.example.com', clientID: 'c', groups },
            },
          };
          let config: Config;
          try {
            config = parseConfig(input);
          } catch (err) {
            expect(err).toBeInstanceOf(ConfigError);
            for (const p of (err as ConfigError).problems) expect(p.path).toMatch(/^argocd\.sso\.groups\./);
            return;
          }
          const lines = (rbacCmData(config)['policy.csv'] ?? '').split('\n').filter((l) => l !== '');
          expect(lines.map((l) => readCsvLine(l.trim()))).toEqual(
            Object.keys(groups).map((g) => ['g', g, 'role:readonly']),
          );
        },
      ),
      { numRuns: 200, seed: 21 },
    );
  });

  it('nested YAML aliases: refused with exit 2 before the document is expanded', async () => {
    await fc.assert(
      fc.asyncProperty(laughs, async ({ text, expanded }) => {
        count('yaml-limits');
        const { code, stderr } = await runPlan(writeConfig(text));
        if (expanded + 100 <= YAML_LIMITS.maxNodes) {
          // Small enough to walk: only the unknown keys x0… are wrong.
          expect(code, stderr).toBe(2);
          expect(stderr).toMatch(/x0: unknown key/);
        } else {
          expect(code, stderr).toBe(2);
          expect(stderr).toMatch(/more than 100 YAML aliases|expands to more than 100000 values/);
        }
      }),
      { numRuns: 60, seed: 21 },
    );
  }, 60_000);

  it('the billion laughs of issue 21 (10^9 values): exit 2 naming where', async () => {
    let y = `git:\n  repoUrl: ${REPO}\nenvironments:\n  namespaces: [staging]\na0: &a0 [x,x,x,x,x,x,x,x,x,x]\n`;
    for (let i = 1; i < 9; i++)
      y += `a${i}: &a${i} [${Array(10)
        .fill(`*a${i - 1}`)
        .join(',')}]\n`;
    count('yaml-limits');
    const { code, stderr } = await runPlan(writeConfig(y));
    expect(code).toBe(2);
    expect(stderr).toMatch(/^ {2}- a\d[[\]\d]*: the document expands to more than 100000 values/m);
    // The same check alone: it stops at the limit (10^9 values behind 90 aliases), naming where.
    const { loadAll } = await import('js-yaml');
    expect(expansionProblem(loadAll(y)[0])).toEqual({
      path: expect.stringMatching(/^a\d/),
      message: expect.stringMatching(/more than 100000 values/),
    });
  });

  it('deep nesting, junk and oversize files: exit 2 with a sentence, never another error', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(deepYaml, junkYaml), async (text) => {
        count('yaml-limits');
        const { code, stderr } = await runPlan(writeConfig(text));
        expect(code, stderr).toBe(2);
        expect(stderr).toMatch(/\S/);
        expect(stderr).not.toMatch(/RangeError|TypeError|Maximum call stack|at .*\.ts:\d+/);
      }),
      { numRuns: 100, seed: 21 },
    );
    count('yaml-limits');
    const big = writeConfig(`git:\n  repoUrl: ${REPO}\n# ${'x'.repeat(YAML_LIMITS.maxBytes)}\n`);
    const { code, stderr } = await runPlan(big);
    expect(code).toBe(2);
    expect(stderr).toMatch(/is larger than 1 MiB/);
  }, 60_000);
});

describe('classes, by example', () => {
  const load = (over: Record<string, unknown>) =>
    parseConfig({ git: { repoUrl: REPO }, environments: { namespaces: ['staging'] }, ...over });
  const problems = (over: Record<string, unknown>) => {
    try {
      load(over);
      return [];
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
  };

  it('the fixed names here are the ones the builders use', () => {
    expect(FIXED_NAMES.inventoryConfigMap).toBe(INVENTORY_CONFIGMAP);
    expect(FIXED_NAMES.repositorySecret).toBe(REPOSITORY_SECRET_NAME);
    expect(FIXED_NAMES.argocdConfigMaps).toEqual(
      expect.arrayContaining([KNOWN_HOSTS_CONFIGMAP, TLS_CERTS_CONFIGMAP]),
    );
  });

  it.each([
    [
      'the report in the inventory',
      { report: { configMap: 'sd-gitops-bootstrap-inventory' } },
      'report.configMap',
      /the bootstrap's inventory/,
    ],
    [
      'the webhook Secret as the admin password Secret',
      {
        webhooks: {
          enabled: true,
          provider: 'github',
          argocdUrl: 'https://d.example.com/api/webhook',
          secretName: 'argocd-admin-password',
        },
      },
      'argocd.adminPassword.secretRef.name',
      /the webhook state Secret \(webhooks\.secretName\)/,
    ],
    [
      "Seldon Deploy's Secret as the source credentials",
      {
        seldonDeploy: { gitCredentialsSecret: 'gitops-source-creds' },
        git: { repoUrl: REPO, credentials: { secretRef: { namespace: 'seldon-system' } } },
      },
      'git.credentials.secretRef.name',
      /Seldon Deploy's Git credentials Secret/,
    ],
    [
      "the project as Argo CD's default",
      { environments: { namespaces: ['staging'], project: 'default' } },
      'environments.project',
      /Argo CD's default AppProject/,
    ],
    [
      'two environments, one Application',
      {
        environments: {
          namespaces: ['a', 'b'],
          applicationName: 'app-{namespace}',
          logging: { enabled: false },
        },
        argocd: {},
      },
      undefined,
      undefined,
    ],
  ])('%s', (_t, over, path, message) => {
    count('name-collisions');
    const found = problems(over as Record<string, unknown>);
    if (path === undefined) expect(found).toEqual([]);
    else expect(found).toContainEqual({ path, message: expect.stringMatching(message!) });
  });

  it('at run time: a name defaulting to the run namespace against one set there explicitly', () => {
    count('name-collisions');
    // The admin password Secret in the run namespace (its default), Seldon Deploy's in seldon-system.
    const c = load({ argocd: { adminPassword: { secretRef: { name: 'git-creds' } } } });
    expect(nameCollisions(c)).toEqual([]); // the run namespace is not known yet
    expect(runNamespaceProblems(c, 'seldon-system')).toContainEqual({
      path: 'argocd.adminPassword.secretRef.name',
      message: expect.stringMatching(
        /also Seldon Deploy's Git credentials Secret \(seldonDeploy\.gitCredentialsSecret\)/,
      ),
    });
    expect(runNamespaceProblems(c, 'ops')).toEqual([]);
  });

  it.each([
    ['kube-system', 'environments.namespaces[1]'],
    ['kube-anything', 'environments.namespaces[1]'],
    ['default', 'environments.namespaces[1]'],
    ['openshift-ingress', 'environments.namespaces[1]'],
    ['argocd', 'environments.namespaces[1]'],
    ['seldon-system', 'environments.namespaces[1]'],
  ])('%s is never an environment', (ns, path) => {
    count('reserved-namespaces');
    expect(problems({ environments: { namespaces: ['staging', ns] } })).toContainEqual({
      path,
      message: expect.stringMatching(/: use a namespace of its own/),
    });
  });

  it('the run namespace is never an environment (checked once it is known)', () => {
    count('reserved-namespaces');
    const c = load({ environments: { namespaces: ['staging', 'ops'] } });
    expect(reservedNamespaces(c)).toEqual([]);
    expect(reservedNamespaces(c, 'ops')).toEqual([
      {
        path: 'environments.namespaces[1]',
        message: expect.stringMatching(/namespace the bootstrap runs in/),
      },
    ]);
  });

  it('the run namespace as an environment: exit 2 before the cluster is used', async () => {
    count('reserved-namespaces');
    const file = writeConfig(
      dump({ git: { repoUrl: REPO }, environments: { namespaces: ['staging', 'ops'] } }),
    );
    const refused = await runPlan(file, 'ops');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      /^ {2}- environments\.namespaces\[1\]: "ops" is the namespace the bootstrap runs in/m,
    );
    expect(refused.stderr).not.toContain(SENTINEL);
    const accepted = await runPlan(file, 'seldon-system');
    expect(accepted.stderr).toContain(SENTINEL);
  });

  it('an Application name too long for the argocdapp label is refused; the convention needs no label', () => {
    count('generated-names', 2);
    const long = 'a'.repeat(60);
    expect(
      problems({ environments: { namespaces: ['staging'], applicationName: `${long}-{namespace}` } }),
    ).toContainEqual({
      path: 'environments.applicationName',
      message: expect.stringMatching(/argocdapp label/),
    });
    const ns = 'n'.repeat(63);
    expect(problems({ environments: { namespaces: [ns] } })).toEqual([]);
  });

  it('SSO groups: commas and quotes quoted in policy.csv, line breaks refused', () => {
    count('policy-strings', 3);
    const sso = (groups: Record<string, string>) => ({
      argocd: {
        url: 'https://d.example.com/argocd',
        sso: { enabled: true, issuer: 'https://sso.example.com', clientID: 'c', groups },
      },
    });
    const c = load(sso({ 'ops, admins': 'role:admin', 'say "hi"': 'role:readonly' }));
    expect(rbacCmData(c)['policy.csv']).toBe(
      'g, "ops, admins", role:admin\ng, "say ""hi""", role:readonly\n',
    );
    expect(problems(sso({ 'ops\ng, evil, role:admin': 'role:readonly' }))).toContainEqual({
      path: 'argocd.sso.groups."ops\\ng, evil, role:admin"',
      message: expect.stringMatching(/line break or control character/),
    });
    expect(csvField('plain-group')).toBe('plain-group');
  });
});

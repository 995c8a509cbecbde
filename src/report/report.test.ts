import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ObjectChange } from '../kube/types.ts';
import { buildReport } from './build.ts';
import { clearRegisteredSecrets, redact, registerSecret } from './redact.ts';
import type { Check } from './types.ts';
import {
  configMapFor,
  formatText,
  summary,
  TERMINATION_MESSAGE_LIMIT,
  writeTerminationLog,
} from './writers.ts';

const ref = (kind: string, name: string) => ({ apiVersion: 'v1', kind, name, namespace: 'argocd' });
const CHANGES: ObjectChange[] = [
  { ref: ref('ConfigMap', 'a'), action: 'created' },
  { ref: ref('ConfigMap', 'b'), action: 'updated', fields: ['data.x'] },
  { ref: ref('ConfigMap', 'c'), action: 'unchanged' },
  { ref: ref('ConfigMap', 'd'), action: 'unchanged' },
];
const ARGOCD = { namespace: 'argocd', version: 'v3.5.1', url: '/argocd/' };
const T0 = new Date('2025-01-01T00:00:00.000Z');
const T1 = new Date('2025-01-01T00:00:12.345Z');

function report(checks: Check[]) {
  return buildReport({ checks, changes: CHANGES, argocd: ARGOCD, startedAt: T0, finishedAt: T1 });
}

const OK: Check[] = [
  { id: 'argocd.install', ready: true, required: true, message: 'Argo CD v3.5.1 installed' },
  { id: 'argocd.rollout.argocd-server', ready: true, required: true, message: 'successfully rolled out' },
  { id: 'env.application.staging.sync', ready: false, required: false, message: 'OutOfSync, Missing' },
];

describe('buildReport', () => {
  it('is ready when every required check is ready, whatever the informative ones say', () => {
    expect(report(OK)).toEqual({
      kind: 'ReadinessReport',
      version: 1,
      ready: true,
      generatedAt: '2025-01-01T00:00:12.345Z',
      durationMs: 12345,
      argocd: ARGOCD,
      changes: { created: 1, updated: 1, unchanged: 2, deleted: 0 },
      updated: ['ConfigMap argocd/b (data.x)'],
      checks: OK,
    });
  });

  it('is not ready when a required check is not', () => {
    const failing = [
      ...OK,
      { id: 'git.repo.reachable', ready: false, required: true, message: 'permission denied' },
    ];
    expect(report(failing).ready).toBe(false);
  });
});

describe('writers', () => {
  const failing: Check[] = [
    ...OK,
    { id: 'git.repo.reachable', ready: false, required: true, message: 'permission denied (publickey)' },
  ];

  it('formatText: headline, one line per check, failing ids at the end', () => {
    expect(formatText(report(failing))).toMatchInlineSnapshot(`
      "✗ NOT READY: 2/3 required checks ready (12.3s)
      Argo CD v3.5.1 in namespace argocd: /argocd/
      Changes: 1 created, 1 updated, 2 unchanged
      Updated: ConfigMap argocd/b (data.x)

      ✔ argocd.install                Argo CD v3.5.1 installed
      ✔ argocd.rollout.argocd-server  successfully rolled out
      • env.application.staging.sync  OutOfSync, Missing (not required)
      ✗ git.repo.reachable            permission denied (publickey)

      Not ready: git.repo.reachable
      "
    `);
  });

  it('summary: the count when ready, the failing checks when not', () => {
    expect(summary(report(OK))).toBe('ready: 2/3 checks');
    expect(summary(report(failing))).toBe(
      'not ready: 2/4 checks\n✗ git.repo.reachable: permission denied (publickey)',
    );
  });

  it('summary: never more than 4096 bytes', () => {
    const many: Check[] = Array.from({ length: 200 }, (_, i) => ({
      id: `env.namespace.ns-${i}`,
      ready: false,
      required: true,
      message: `namespace ns-${i} is missing the label seldon.gitops=enabled — ünïcödé`,
    }));
    const text = summary(report(many));
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(TERMINATION_MESSAGE_LIMIT);
    expect(text).toMatch(/… and \d+ more$/);
  });

  it('configMapFor: report.json and labels', () => {
    const cm = configMapFor(report(OK), 'sd-gitops-bootstrap-report', 'seldon-system');
    expect(cm.metadata).toEqual({
      name: 'sd-gitops-bootstrap-report',
      namespace: 'seldon-system',
      labels: {
        'app.kubernetes.io/managed-by': 'sd-gitops-bootstrap',
        'app.kubernetes.io/name': 'sd-gitops-bootstrap',
        'app.kubernetes.io/component': 'readiness-report',
        'sd-gitops-bootstrap/ready': 'true',
      },
    });
    expect(JSON.parse((cm.data as Record<string, string>)['report.json']!)).toEqual(report(OK));
  });

  it('writeTerminationLog: only when the file exists', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'termlog-'));
    try {
      const path = join(dir, 'termination-log');
      expect(await writeTerminationLog(report(OK), path)).toBe(false);
      await writeFile(path, '');
      expect(await writeTerminationLog(report(OK), path)).toBe(true);
      expect(await readFile(path, 'utf8')).toBe('ready: 2/3 checks');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('redact', () => {
  afterEach(() => clearRegisteredSecrets());

  it('removes registered values and secret-looking shapes', () => {
    registerSecret('hunter22');
    const text = [
      'password is hunter22',
      'Authorization: Basic Ym90OnRvazNu',
      'https://bot:tok3n@git.example.com/r.git',
      '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----',
      `hash $2a$10$${'a'.repeat(53)}`,
    ].join('\n');
    expect(redact(text)).toBe(
      [
        'password is [redacted]',
        'Authorization: Basic [redacted]',
        'https://bot:[redacted]@git.example.com/r.git',
        '[redacted]',
        'hash [redacted]',
      ].join('\n'),
    );
  });

  it('leaves ordinary text and ssh URLs alone', () => {
    expect(redact('ssh://git@git.example.com:2222/acme/gitops.git')).toBe(
      'ssh://git@git.example.com:2222/acme/gitops.git',
    );
  });
});

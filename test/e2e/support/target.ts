/** The cluster the e2e suite runs against, chosen once by test/e2e/setup/global.ts. */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { inject } from 'vitest';

export interface E2eTarget {
  mode: 'local' | 'existing';
  kubeconfig: string;
  /** Only on the local cluster: the kube-apiserver audit log (request metadata, one JSON event per line). */
  auditLog: string | undefined;
  /** Where kubectl (and helm) live. */
  binDir: string;
  /**
   * Whether pods really run (a kind cluster, project `e2e-kind`); false on the KWOK cluster, where pods
   * are simulated.
   */
  realNode: boolean;
  /** kind only: host:port of the cluster's local registry, which the node pulls the mirrored registries from. */
  registry?: string;
  /** kind only (project `e2e-kind`): the node container and its Docker network. */
  kind?: KindTarget;
}

export interface KindTarget {
  /** Cluster id (the `sd.kind.cluster` label of its containers). */
  id: string;
  /** The node container's id. */
  container: string;
  /** The cluster's Docker network: containers on it reach the API server as `kind-control-plane:6443`. */
  network: string;
  /** admin.conf as seen from inside that network. */
  internalKubeconfig: string;
}

export function target(): E2eTarget {
  return inject('e2eTarget');
}

const run = promisify(execFile);

/** kubectl against the target as cluster admin. */
export async function kubectl(args: string[], opts: { input?: string } = {}): Promise<string> {
  const t = target();
  const child = run(join(t.binDir, 'kubectl'), ['--kubeconfig', t.kubeconfig, ...args], {
    maxBuffer: 64 * 1024 * 1024,
  });
  if (opts.input !== undefined) {
    child.child.stdin?.end(opts.input);
  }
  const { stdout } = await child;
  return stdout;
}

/** Applies a Secret `namespace/name` holding `stringData`. */
export async function applySecret(namespace: string, name: string, stringData: Record<string, string>) {
  await kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace }, stringData }),
  });
}

/** `kubectl patch` of one object, `patch` sent as JSON with the patch `type` (merge or json). */
export async function kubectlPatch(
  kind: string,
  name: string,
  namespace: string,
  type: 'merge' | 'json',
  patch: unknown,
): Promise<string> {
  return kubectl(['patch', kind, name, '-n', namespace, '--type', type, '-p', JSON.stringify(patch)]);
}

export async function kubectlJson<T = unknown>(args: string[]): Promise<T> {
  return JSON.parse(await kubectl([...args, '-o', 'json'])) as T;
}

/** A ConfigMap's or Secret's `data` as stored (Secret values still base64), `{}` when it has none. */
export async function dataOf(kind: 'configmap' | 'secret', name: string, namespace: string) {
  const o = await kubectlJson<{ data?: Record<string, string> }>(['get', kind, name, '-n', namespace]);
  return o.data ?? {};
}

/** One kube-apiserver audit event (the fields the tests read). */
export interface AuditEvent {
  auditID: string;
  stage: string;
  verb: string;
  requestURI: string;
  user: { username: string; groups?: string[] };
  /** Client addresses (on a real node, a pod's IP for requests made from the pod). */
  sourceIPs?: string[];
  objectRef?: {
    resource?: string;
    namespace?: string;
    name?: string;
    apiGroup?: string;
    subresource?: string;
  };
  responseStatus?: { code?: number };
  stageTimestamp: string;
}

const WRITE_VERBS = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

/** Audit events at ResponseComplete, optionally for one user and after a byte offset of the log. */
export function auditEvents(opts: { user?: string; since?: number } = {}): AuditEvent[] {
  const log = target().auditLog;
  if (!log) throw new Error('the audit log exists only on the local cluster (E2E_CLUSTER=local)');
  const all = readFileSync(log);
  // The API server rotates the log at 100 MB: an offset past the end means a new file, all of it newer.
  const raw = all.subarray((opts.since ?? 0) <= all.length ? (opts.since ?? 0) : 0).toString('utf8');
  // The API server may be half-way through writing the last event: read complete lines only.
  const text = raw.slice(0, raw.lastIndexOf('\n') + 1);
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as AuditEvent)
    .filter((e) => e.stage === 'ResponseComplete' && (!opts.user || e.user.username === opts.user));
}

/** Byte offset of the end of the audit log now: pass it as `since` to see only what follows. */
export function auditMark(): number {
  const log = target().auditLog;
  return log ? readFileSync(log).length : 0;
}

/** Reviews are `create`s that persist nothing: asking the API server a question is not a write. */
const REVIEWS = /^(self)?subject(access|rules)reviews$|^tokenreviews$|^localsubjectaccessreviews$/;

/** Writes among audit events: not dry-run (`dryRun=All` in the URI) and not access/token reviews. */
export function writes(events: AuditEvent[]): AuditEvent[] {
  return events.filter(
    (e) =>
      WRITE_VERBS.has(e.verb) &&
      !/[?&]dryRun=All/.test(e.requestURI) &&
      !REVIEWS.test(e.objectRef?.resource ?? ''),
  );
}

/**
 * A kubeconfig that authenticates as a ServiceAccount with a short-lived token (TokenRequest), so a run
 * is subject to RBAC and shows up in the audit log under `system:serviceaccount:<ns>:<name>`.
 */
export async function serviceAccountKubeconfig(
  namespace: string,
  name: string,
  file: string,
): Promise<string> {
  const admin = JSON.parse(await kubectl(['config', 'view', '--raw', '--minify', '-o', 'json'])) as {
    clusters: { cluster: { server: string; 'certificate-authority-data'?: string } }[];
  };
  const cluster = admin.clusters[0]!.cluster;
  const token = (await kubectl(['create', 'token', name, '-n', namespace, '--duration', '2h'])).trim();
  const { writeFileSync } = await import('node:fs');
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'e2e', cluster }],
    users: [{ name, user: { token } }],
    contexts: [{ name, context: { cluster: 'e2e', user: name, namespace } }],
    'current-context': name,
  };
  writeFileSync(file, JSON.stringify(config), { mode: 0o600 });
  return file;
}

/** A fresh namespace name for one test file. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`;
}

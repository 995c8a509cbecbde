/**
 * Where the report goes: a ConfigMap (`report.json`), stdout as text, and the container's termination
 * message (`/dev/termination-log`, shown by `kubectl describe pod` and `kubectl get pod -o yaml`).
 */
import { access, writeFile } from 'node:fs/promises';
import type { KubeObject } from '../kube/types.ts';
import { MANAGED_BY_LABELS } from '../manifests/common.ts';
import type { Check, ReadinessReport } from './types.ts';

export const REPORT_KEY = 'report.json';
export const TERMINATION_LOG = '/dev/termination-log';
/** Kubernetes keeps at most 4096 bytes of a termination message. */
export const TERMINATION_MESSAGE_LIMIT = 4096;

export function configMapFor(report: ReadinessReport, name: string, namespace: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name,
      namespace,
      labels: {
        ...MANAGED_BY_LABELS,
        'app.kubernetes.io/name': 'sd-gitops-bootstrap',
        'app.kubernetes.io/component': 'readiness-report',
        'sd-gitops-bootstrap/ready': String(report.ready),
      },
    },
    data: { [REPORT_KEY]: `${JSON.stringify(report, null, 2)}\n` },
  };
}

export function checkMark(check: Check): string {
  if (check.ready) return '✔';
  return check.required ? '✗' : '•';
}

function counts(report: ReadinessReport): { required: number; readyRequired: number } {
  const required = report.checks.filter((c) => c.required);
  return { required: required.length, readyRequired: required.filter((c) => c.ready).length };
}

/** The report for a person: a headline, Argo CD, changes, then one line per check. */
export function formatText(report: ReadinessReport): string {
  const { required, readyRequired } = counts(report);
  const width = Math.max(0, ...report.checks.map((c) => c.id.length));
  const { created, updated, unchanged, deleted } = report.changes;
  const lines = [
    `${report.ready ? '✔ READY' : '✗ NOT READY'}: ${readyRequired}/${required} required checks ready (${(report.durationMs / 1000).toFixed(1)}s)`,
    `Argo CD ${report.argocd.version} in namespace ${report.argocd.namespace}: ${report.argocd.url}`,
    `Changes: ${created} created, ${updated} updated, ${unchanged} unchanged${deleted ? `, ${deleted} deleted` : ''}`,
    ...(report.updated?.length ? [`Updated: ${report.updated.join('; ')}`] : []),
    ...(report.removed?.length ? ['Removed:', ...report.removed.map((r) => `  - ${r}`)] : []),
    ...(report.images?.length ? [`Images (${report.images.length}): ${report.images.join(', ')}`] : []),
    '',
    ...report.checks.map(
      (c) =>
        `${checkMark(c)} ${c.id.padEnd(width)}  ${c.message}${c.required || c.ready ? '' : ' (not required)'}`,
    ),
  ];
  const failing = report.checks.filter((c) => c.required && !c.ready);
  if (failing.length > 0) {
    lines.push('', `Not ready: ${failing.map((c) => c.id).join(', ')}`);
  }
  if (report.seldonDeploy) {
    lines.push(
      '',
      "Seldon Deploy: put this into its Helm chart's values (helm upgrade seldon-deploy … -f gitops-values.yaml):",
      '',
      ...report.seldonDeploy.values
        .trimEnd()
        .split('\n')
        .map((l) => `  ${l}`),
    );
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The termination message: `ready: 12/12 checks`, or the failing required checks with their messages,
 * cut to 4096 bytes at a line boundary.
 */
export function summary(report: ReadinessReport): string {
  const ready = report.checks.filter((c) => c.ready).length;
  const head = `${report.ready ? 'ready' : 'not ready'}: ${ready}/${report.checks.length} checks`;
  if (report.ready) return head;
  const lines = report.checks.filter((c) => c.required && !c.ready).map((c) => `✗ ${c.id}: ${c.message}`);
  let out = head;
  for (const [i, line] of lines.entries()) {
    const rest = lines.length - i - 1;
    const more = rest > 0 ? `\n… and ${rest} more` : '';
    if (Buffer.byteLength(`${out}\n${line}${more}`) > TERMINATION_MESSAGE_LIMIT) {
      const tail = `\n… and ${lines.length - i} more`;
      return truncateBytes(out, TERMINATION_MESSAGE_LIMIT - Buffer.byteLength(tail)) + tail;
    }
    out += `\n${line}`;
  }
  return truncateBytes(out, TERMINATION_MESSAGE_LIMIT);
}

function truncateBytes(text: string, limit: number): string {
  const buf = Buffer.from(text);
  if (buf.length <= limit) return text;
  // Cutting may split a UTF-8 sequence; drop the replacement character that leaves.
  return buf
    .subarray(0, limit)
    .toString('utf8')
    .replace(/\uFFFD$/, '');
}

/** Writes `summary(report)` when the termination log exists (in a pod); returns whether it did. */
export async function writeTerminationLog(
  report: ReadinessReport,
  path: string = TERMINATION_LOG,
): Promise<boolean> {
  try {
    await access(path);
  } catch {
    return false;
  }
  await writeFile(path, summary(report));
  return true;
}

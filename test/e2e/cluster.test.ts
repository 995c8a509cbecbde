/**
 * Proves the local test cluster is real: every assertion here would fail against a fake API server, a
 * disabled authorizer, a missing audit log or a KWOK that does not drive pod lifecycles. These tests are
 * about the local cluster itself; on E2E_CLUSTER=existing only the Kubernetes-semantics ones run.
 */

import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KUBE_VERSION } from '../../tools/versions.ts';
import {
  auditEvents,
  auditMark,
  kubectl,
  kubectlJson,
  serviceAccountKubeconfig,
  target,
  uniqueName,
  writes,
} from './support/target.ts';

const run = promisify(execFile);
const ns = uniqueName('realness');
const tmp = mkdtempSync(join(tmpdir(), 'sd-e2e-'));
const isLocal = () => target().mode === 'local';

/** kubectl under another identity; resolves to {code, stdout, stderr} instead of throwing. */
async function kubectlAs(kubeconfig: string, args: string[]) {
  try {
    const { stdout, stderr } = await run(join(target().binDir, 'kubectl'), [
      '--kubeconfig',
      kubeconfig,
      ...args,
    ]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

beforeAll(async () => {
  await kubectl(['create', 'namespace', ns]);
});
afterAll(async () => {
  await kubectl(['delete', 'namespace', ns, '--wait=false']);
});

describe('the local cluster', () => {
  it.runIf(isLocal())('serves the pinned Kubernetes version', async () => {
    const v = JSON.parse(await kubectl(['get', '--raw', '/version'])) as {
      gitVersion: string;
      minor: string;
    };
    expect(v.gitVersion).toBe(KUBE_VERSION);
    expect(v.minor).toBe(KUBE_VERSION.split('.')[1]);
  });

  it('enforces RBAC: a ServiceAccount without a role is denied, one with a Role is allowed', async () => {
    await kubectl(['create', 'serviceaccount', 'nobody', '-n', ns]);
    await kubectl(['create', 'serviceaccount', 'reader', '-n', ns]);
    await kubectl([
      'create',
      'role',
      'cm-writer',
      '-n',
      ns,
      '--verb=get,list,create',
      '--resource=configmaps',
    ]);
    await kubectl([
      'create',
      'rolebinding',
      'reader',
      '-n',
      ns,
      '--role=cm-writer',
      `--serviceaccount=${ns}:reader`,
    ]);
    const nobody = await serviceAccountKubeconfig(ns, 'nobody', join(tmp, 'nobody'));
    const reader = await serviceAccountKubeconfig(ns, 'reader', join(tmp, 'reader'));

    const denied = await kubectlAs(nobody, ['get', 'configmaps', '-n', ns]);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(/Forbidden|forbidden/);
    expect(denied.stderr).toContain(`system:serviceaccount:${ns}:nobody`);

    const mark = auditMark();
    const allowed = await kubectlAs(reader, [
      'create',
      'configmap',
      'made-by-reader',
      '-n',
      ns,
      '--from-literal=a=b',
    ]);
    expect(allowed.stderr).toBe('');
    expect(allowed.code).toBe(0);
    // Allowed to write configmaps, but not secrets: the Role is the whole grant.
    const other = await kubectlAs(reader, ['get', 'secrets', '-n', ns]);
    expect(other.code).not.toBe(0);

    if (isLocal()) {
      const mine = writes(auditEvents({ user: `system:serviceaccount:${ns}:reader`, since: mark }));
      expect(
        mine.map((e) => [e.verb, e.objectRef?.resource, e.objectRef?.name, e.responseStatus?.code]),
      ).toContainEqual(['create', 'configmaps', 'made-by-reader', 201]);
    }
  });

  it('establishes a CRD and rejects an unknown field of its custom resource under fieldValidation=Strict', async () => {
    const group = `${ns}.e2e.example.com`;
    const crd = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: `widgets.${group}` },
      spec: {
        group,
        scope: 'Namespaced',
        names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            schema: {
              openAPIV3Schema: {
                type: 'object',
                properties: { spec: { type: 'object', properties: { size: { type: 'integer' } } } },
              },
            },
          },
        ],
      },
    };
    await kubectl(['apply', '--server-side', '-f', '-'], { input: JSON.stringify(crd) });
    await kubectl(['wait', '--for=condition=Established', '--timeout=60s', `crd/widgets.${group}`]);
    try {
      const widget = (spec: object) =>
        JSON.stringify({
          apiVersion: `${group}/v1`,
          kind: 'Widget',
          metadata: { name: 'w', namespace: ns },
          spec,
        });
      await kubectl(['apply', '--server-side', '--validate=strict', '-f', '-'], {
        input: widget({ size: 1 }),
      });
      // POST with fieldValidation=Strict: the unknown field is an error...
      await expect(
        kubectl(['create', '--validate=strict', '-f', '-'], { input: widget({ size: 2, colour: 'red' }) }),
      ).rejects.toThrow(/unknown field "spec.colour"/);
      // ...and the same object under fieldValidation=Ignore is accepted with the field pruned: the
      // rejection above came from the directive, not from a malformed request.
      await kubectl(['delete', 'widget', 'w', '-n', ns]);
      await kubectl(['create', '--validate=false', '-f', '-'], { input: widget({ size: 2, colour: 'red' }) });
      const stored = await kubectlJson<{ spec: Record<string, unknown> }>(['get', 'widget', 'w', '-n', ns]);
      expect(stored.spec).toEqual({ size: 2 });
      // Server-side apply is always strict about undeclared fields.
      await expect(
        kubectl(['apply', '--server-side', '-f', '-'], { input: widget({ size: 3, colour: 'red' }) }),
      ).rejects.toThrow(/\.spec\.colour: field not declared in schema/);
    } finally {
      await kubectl(['delete', 'crd', `widgets.${group}`, '--wait=false']);
    }
  });

  it('rolls out a Deployment to Available and completes a Job', async () => {
    await kubectl([
      'create',
      'deployment',
      'web',
      '-n',
      ns,
      '--image=registry.k8s.io/pause:3.10',
      '--replicas=2',
    ]);
    await kubectl(['create', 'job', 'once', '-n', ns, '--image=registry.k8s.io/pause:3.10']);
    await kubectl(['rollout', 'status', 'deployment/web', '-n', ns, '--timeout=120s']);
    await kubectl(['wait', '--for=condition=Complete', 'job/once', '-n', ns, '--timeout=120s']);
    const d = await kubectlJson<{ status: { availableReplicas: number } }>([
      'get',
      'deployment',
      'web',
      '-n',
      ns,
    ]);
    expect(d.status.availableReplicas).toBe(2);
    const pods = await kubectlJson<{ items: { spec: { nodeName?: string }; status: { phase: string } }[] }>([
      'get',
      'pods',
      '-n',
      ns,
      '-l',
      'app=web',
    ]);
    expect(pods.items).toHaveLength(2);
    for (const p of pods.items) {
      expect(p.spec.nodeName).toBeTruthy(); // the real scheduler bound it
      expect(p.status.phase).toBe('Running');
    }
  });
});

import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.ts';
import {
  BUCKET_SECRET_LABELS,
  batchEnvironments,
  batchObjects,
  describeBatch,
  storageSecretCopy,
  workflowObjects,
} from './batch.ts';

const config = (environments: Record<string, unknown>) =>
  parseConfig({ git: { repoUrl: 'ssh://git@git.example.com/acme/gitops.git' }, environments });

describe('batch jobs per environment', () => {
  it('are off by default, in no environment', () => {
    expect(batchEnvironments(config({ namespaces: ['staging'] }))).toEqual([]);
    expect(batchObjects(config({ namespaces: ['staging'] }), 'seldon-system', undefined)).toEqual([]);
  });

  it('are on in every environment with environments.batch.enabled, never in the logging namespace; own keys win', () => {
    const c = config({
      namespaces: ['staging', { name: 'production', batch: false }],
      batch: { enabled: true },
    });
    expect(batchEnvironments(c).map((e) => e.namespace)).toEqual(['staging']);
    const only = config({ namespaces: ['staging', { name: 'qa', batch: true }] });
    expect(batchEnvironments(only).map((e) => e.namespace)).toEqual(['qa']);
  });

  it("builds the workflow Role, ServiceAccount and RoleBinding exactly as Seldon's documentation", () => {
    const c = config({ namespaces: ['staging'], batch: { enabled: true } });
    expect(workflowObjects(c, 'staging')).toMatchInlineSnapshot(`
      [
        {
          "apiVersion": "rbac.authorization.k8s.io/v1",
          "kind": "Role",
          "metadata": {
            "labels": {
              "app.kubernetes.io/managed-by": "sd-gitops-bootstrap",
            },
            "name": "workflow",
            "namespace": "staging",
          },
          "rules": [
            {
              "apiGroups": [
                "",
              ],
              "resources": [
                "pods",
              ],
              "verbs": [
                "*",
              ],
            },
            {
              "apiGroups": [
                "apps",
              ],
              "resources": [
                "deployments",
              ],
              "verbs": [
                "*",
              ],
            },
            {
              "apiGroups": [
                "",
              ],
              "resources": [
                "pods/log",
              ],
              "verbs": [
                "*",
              ],
            },
            {
              "apiGroups": [
                "machinelearning.seldon.io",
              ],
              "resources": [
                "*",
              ],
              "verbs": [
                "*",
              ],
            },
          ],
        },
        {
          "apiVersion": "v1",
          "kind": "ServiceAccount",
          "metadata": {
            "labels": {
              "app.kubernetes.io/managed-by": "sd-gitops-bootstrap",
            },
            "name": "workflow",
            "namespace": "staging",
          },
        },
        {
          "apiVersion": "rbac.authorization.k8s.io/v1",
          "kind": "RoleBinding",
          "metadata": {
            "labels": {
              "app.kubernetes.io/managed-by": "sd-gitops-bootstrap",
            },
            "name": "workflow",
            "namespace": "staging",
          },
          "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": "workflow",
          },
          "subjects": [
            {
              "kind": "ServiceAccount",
              "name": "workflow",
              "namespace": "staging",
            },
          ],
        },
      ]
    `);
  });

  it('takes the rules from environments.batch.rules when given', () => {
    const rules = [{ apiGroups: [''], resources: ['pods', 'pods/log'], verbs: ['get', 'create'] }];
    const c = config({ namespaces: ['staging'], batch: { enabled: true, rules } });
    expect(workflowObjects(c, 'staging')[0]).toMatchObject({ rules });
  });

  it("copies the source Secret's data under its name with Seldon's bucket labels, into each batch environment", () => {
    const c = config({
      namespaces: ['staging', 'qa'],
      batch: { enabled: true, storageSecret: { secretRef: { name: 'minio-bucket', namespace: 'vault' } } },
    });
    const data = { RCLONE_CONFIG_S3_TYPE: 'czM=', RCLONE_CONFIG_S3_SECRET_ACCESS_KEY: 'c2VjcmV0' };
    const secrets = batchObjects(c, 'seldon-system', data).filter((o) => o.kind === 'Secret');
    expect(secrets.map((s) => `${s.metadata.namespace}/${s.metadata.name}`)).toEqual([
      'staging/minio-bucket',
      'qa/minio-bucket',
    ]);
    expect(secrets[0]).toMatchObject({
      type: 'Opaque',
      data,
      metadata: { labels: { 'secret-type': 'bucket', 'seldon-deploy': 'true' } },
    });
    expect(BUCKET_SECRET_LABELS).toEqual({ 'secret-type': 'bucket', 'seldon-deploy': 'true' });
    // The copy is a copy: changing it does not touch the source's data.
    const copy = storageSecretCopy('x', 'y', data);
    (copy.data as Record<string, string>).RCLONE_CONFIG_S3_TYPE = 'other';
    expect(data.RCLONE_CONFIG_S3_TYPE).toBe('czM=');
  });

  it("describes the setup for plan by names only, never a Secret's value", () => {
    const c = config({
      namespaces: ['staging'],
      batch: { enabled: true, storageSecret: { secretRef: { name: 'minio-bucket' } } },
    });
    expect(describeBatch(c, 'seldon-system')).toBe(
      'batch: Role/ServiceAccount/RoleBinding workflow (4 rules), Secret minio-bucket from seldon-system',
    );
  });

  it('refuses a rule without verbs, naming the key', () => {
    expect(() =>
      config({
        namespaces: ['staging'],
        batch: { enabled: true, rules: [{ apiGroups: [''], resources: ['pods'], verbs: [] }] },
      }),
    ).toThrow(/environments\.batch\.rules/);
  });
});

describe('environments.batch.storageSecret', () => {
  it('refuses a source Secret in a batch environment, naming the key and the fix', () => {
    expect(() =>
      config({
        namespaces: ['staging'],
        batch: { enabled: true, storageSecret: { secretRef: { name: 'b', namespace: 'staging' } } },
      }),
    ).toThrow(/environments\.batch\.storageSecret\.secretRef\.namespace.*another namespace/s);
  });
});

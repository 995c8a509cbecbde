import { describe, expect, it } from 'vitest';
import { sampleConfig } from '../../test/fixtures/sample-config.ts';
import {
  argocdSecretPatch,
  cmdParamsConfigMap,
  SERVER_CONFIG_HASH_ANNOTATION,
  serverConfigHash,
  serverRestartPatch,
} from './argocd-settings.ts';
import { fromB64 } from './common.ts';
import { argocdUrl, virtualService } from './virtualservice.ts';

describe('Argo CD settings patches', () => {
  it('argocd-cmd-params-cm: only server.insecure and server.rootpath', () => {
    expect(cmdParamsConfigMap(sampleConfig()).data).toEqual({
      'server.insecure': 'true',
      'server.rootpath': '/argocd',
    });
  });

  it('argocd-secret: only admin.password and admin.passwordMtime, never server.secretkey', () => {
    const patch = argocdSecretPatch('argocd', { hash: '$2a$10$x', mtime: '2025-01-01T00:00:00Z' });
    const data = patch.data as Record<string, string>;
    expect(Object.keys(data)).toEqual(['admin.password', 'admin.passwordMtime']);
    expect(fromB64(data['admin.password'])).toBe('$2a$10$x');
    expect(Object.keys(argocdSecretPatch('argocd', { hash: 'h', mtime: undefined }).data as object)).toEqual([
      'admin.password',
    ]);
  });

  it('restart annotation changes exactly when insecure or rootPath change', () => {
    const base = serverConfigHash(sampleConfig());
    expect(serverConfigHash(sampleConfig((c) => (c.argocd.rolloutTimeout = 1)))).toBe(base);
    expect(serverConfigHash(sampleConfig((c) => (c.argocd.server.insecure = false)))).not.toBe(base);
    expect(serverConfigHash(sampleConfig((c) => (c.argocd.server.rootPath = '/cd')))).not.toBe(base);
    expect(serverRestartPatch(sampleConfig())).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'argocd-server', namespace: 'argocd' },
      spec: { template: { metadata: { annotations: { [SERVER_CONFIG_HASH_ANNOTATION]: base } } } },
    });
  });
});

describe('virtualService', () => {
  it('routes <rootPath>/ to argocd-server:80 through the gateway', () => {
    expect(virtualService(sampleConfig())).toMatchInlineSnapshot(`
      {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {
          "labels": {
            "app.kubernetes.io/managed-by": "sd-gitops-bootstrap",
          },
          "name": "argocd-server",
          "namespace": "argocd",
        },
        "spec": {
          "gateways": [
            "istio-system/seldon-gateway",
          ],
          "hosts": [
            "*",
          ],
          "http": [
            {
              "match": [
                {
                  "uri": {
                    "prefix": "/argocd/",
                  },
                },
              ],
              "route": [
                {
                  "destination": {
                    "host": "argocd-server",
                    "port": {
                      "number": 80,
                    },
                  },
                },
              ],
            },
          ],
        },
      }
    `);
  });

  it('url: a concrete host, or just the path', () => {
    expect(argocdUrl(sampleConfig())).toBe('/argocd/');
    expect(argocdUrl(sampleConfig((c) => (c.argocd.virtualService.hosts = ['*', 'ml.example.com'])))).toBe(
      'http://ml.example.com/argocd/',
    );
  });
});

import { describe, expect, it } from 'vitest';
import { sampleConfig } from '../../test/fixtures/sample-config.ts';
import type { KubeObject } from '../kube/types.ts';
import { loadArgocdManifest } from './argocd.ts';
import { manifestImages, runImages } from './images.ts';

const imagesOf = async (version: string) =>
  manifestImages(
    (await loadArgocdManifest(sampleConfig((c) => (c.argocd.version = version)).argocd)).objects,
  );

describe('the images a run needs', () => {
  it('v3.5.1: every container and initContainer image of the bundled manifest', async () => {
    expect(await imagesOf('v3.5.1')).toEqual([
      'ghcr.io/dexidp/dex:v2.45.0',
      'public.ecr.aws/docker/library/redis:8.2.3-alpine',
      'quay.io/argoproj/argocd:v3.5.1',
    ]);
  });

  it('v2.14.21: every container and initContainer image of the bundled manifest', async () => {
    expect(await imagesOf('v2.14.21')).toEqual([
      'ghcr.io/dexidp/dex:v2.41.1',
      'quay.io/argoproj/argocd:v2.14.21',
      'redis:7.2.11-alpine',
    ]);
  });

  it('v3.5.1 HA: the HA manifest adds HAProxy', async () => {
    const config = sampleConfig((c) => (c.argocd.install.profile = 'ha'));
    expect(manifestImages((await loadArgocdManifest(config.argocd)).objects)).toEqual([
      'ghcr.io/dexidp/dex:v2.45.0',
      'public.ecr.aws/docker/library/haproxy:3.0.8-alpine',
      'public.ecr.aws/docker/library/redis:8.2.3-alpine',
      'quay.io/argoproj/argocd:v3.5.1',
    ]);
  });

  it('with argocd.images: the images as the site pulls them (what it mirrors)', async () => {
    const config = sampleConfig((c) => {
      c.argocd.version = 'v2.14.21';
      c.argocd.images = {
        registry: 'registry.example.com/mirror',
        map: { 'ghcr.io/dexidp/dex': 'registry.example.com/sso/dex' },
        pullSecrets: ['registry-creds'],
      };
    });
    expect(manifestImages((await loadArgocdManifest(config.argocd)).objects)).toEqual([
      'registry.example.com/mirror/argoproj/argocd:v2.14.21',
      'registry.example.com/mirror/library/redis:7.2.11-alpine',
      'registry.example.com/sso/dex:v2.41.1',
    ]);
  });

  it('initContainers, CronJobs and Pods count; other kinds and empty images do not', () => {
    const objects = [
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'd' },
        spec: {
          template: {
            spec: { initContainers: [{ image: 'init:1' }], containers: [{ image: 'main:1' }, {}] },
          },
        },
      },
      {
        apiVersion: 'batch/v1',
        kind: 'CronJob',
        metadata: { name: 'c' },
        spec: { jobTemplate: { spec: { template: { spec: { containers: [{ image: 'cron:1' }] } } } } },
      },
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ image: 'main:1' }] } },
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: { image: 'not:me' } },
    ] as KubeObject[];
    expect(manifestImages(objects)).toEqual(['cron:1', 'init:1', 'main:1']);
  });

  it("adds the bootstrap's own image when known; none from the manifest with install.source: skip", () => {
    expect(runImages(undefined, 'registry.example.com/sd-gitops-bootstrap:0.1.0')).toEqual([
      'registry.example.com/sd-gitops-bootstrap:0.1.0',
    ]);
    expect(runImages(undefined)).toEqual([]);
  });
});

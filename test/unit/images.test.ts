/** Where an upstream image name lands in another registry (`npm run images -- --registry`). */
import { describe, expect, it } from 'vitest';
import { localPath, localRef } from '../../tools/images/docker.ts';

describe('localPath', () => {
  it.each([
    {
      name: 'quay.io with a tag',
      upstream: 'quay.io/argoproj/argocd:v3.5.1',
      path: 'argoproj/argocd:v3.5.1',
    },
    {
      name: 'docker.io official image',
      upstream: 'docker.io/library/redis:7.0.15',
      path: 'library/redis:7.0.15',
    },
    { name: 'Docker Hub short name', upstream: 'redis:7.0.15', path: 'library/redis:7.0.15' },
    { name: 'Docker Hub user image', upstream: 'bitnami/redis:7', path: 'bitnami/redis:7' },
    { name: 'no tag means latest', upstream: 'ghcr.io/dexidp/dex', path: 'dexidp/dex:latest' },
    {
      name: 'registry.k8s.io nested',
      upstream: 'registry.k8s.io/coredns/coredns:v1.14.2',
      path: 'coredns/coredns:v1.14.2',
    },
    {
      name: 'public.ecr.aws',
      upstream: 'public.ecr.aws/docker/library/redis:7',
      path: 'docker/library/redis:7',
    },
  ])('$name', ({ upstream, path }) => {
    expect(localPath(upstream)).toBe(path);
    expect(localRef('127.0.0.1:5000', upstream)).toBe(`127.0.0.1:5000/${path}`);
  });

  it('refuses digests: a pushed copy would have another', () => {
    expect(() => localPath('quay.io/a/b@sha256:00')).toThrow(/digests cannot/);
  });
});

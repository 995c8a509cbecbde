import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { sampleConfig } from '../../test/fixtures/sample-config.ts';
import {
  decodeHelmRelease,
  type HelmRelease,
  helmReleaseSecret,
  latestReleaseSecrets,
  mergeValues,
  releaseValues,
} from './helm-release.ts';
import { GITOPS_SECRET_CHECK, gitopsSecretCheck } from './seldon-deploy.ts';

const release = (over: Partial<HelmRelease> = {}): HelmRelease & Record<string, unknown> => ({
  name: 'seldon-deploy',
  namespace: 'seldon-system',
  version: 1,
  info: { status: 'deployed' },
  chart: {
    metadata: { name: 'seldon-deploy', version: '2.4.0' },
    values: {
      gitops: { git: { secret: 'git-creds', user: '' }, argocd: { enabled: false, namespace: 'argocd' } },
    },
  },
  config: { gitops: { argocd: { enabled: true } } },
  manifest: '---\n',
  ...over,
});

describe('Helm release records', () => {
  it('decodes the Secret Helm writes: base64 (the API) of base64 of gzip of JSON', () => {
    const s = helmReleaseSecret(release({ version: 3 }));
    expect(s.metadata.name).toBe('sh.helm.release.v1.seldon-deploy.v3');
    expect(s.type).toBe('helm.sh/release.v1');
    expect(s.metadata.labels).toMatchObject({ owner: 'helm', name: 'seldon-deploy', version: '3' });
    // The layers, by hand: the inner text is base64 and the bytes under it are gzip.
    const inner = Buffer.from(s.data!.release!, 'base64').toString('latin1');
    expect(inner).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect([...Buffer.from(inner, 'base64').subarray(0, 2)]).toEqual([0x1f, 0x8b]);
    expect(decodeHelmRelease(s.data!.release!)).toMatchObject({ name: 'seldon-deploy', version: 3 });
  });

  it('reads a body that is not gzipped, as Helm does', () => {
    const plain = Buffer.from(Buffer.from(JSON.stringify(release())).toString('base64')).toString('base64');
    expect(decodeHelmRelease(plain).name).toBe('seldon-deploy');
    const gz = gzipSync(Buffer.from(JSON.stringify(release({ version: 7 })))).toString('base64');
    expect(decodeHelmRelease(Buffer.from(gz).toString('base64')).version).toBe(7);
  });

  it('keeps the latest revision of each release, by its labels', () => {
    const secrets = [
      helmReleaseSecret(release({ version: 2 })),
      helmReleaseSecret(release({ version: 10 })),
      helmReleaseSecret(release({ version: 9 })),
      helmReleaseSecret(release({ name: 'other', version: 1 })),
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'x', labels: { owner: 'helm' } }, data: {} },
    ];
    expect(latestReleaseSecrets(secrets).map((s) => s.metadata.name)).toEqual([
      'sh.helm.release.v1.seldon-deploy.v10',
      'sh.helm.release.v1.other.v1',
    ]);
  });

  it('values: the release config over the chart defaults, maps merged, null removes', () => {
    expect(releaseValues(release())).toEqual({
      gitops: { git: { secret: 'git-creds', user: '' }, argocd: { enabled: true, namespace: 'argocd' } },
    });
    expect(mergeValues({ a: { b: 1, c: 2 }, d: [1] }, { a: { c: null }, d: [2] })).toEqual({
      a: { b: 1 },
      d: [2],
    });
  });
});

describe('seldon-deploy.gitops-secret', () => {
  const config = sampleConfig();

  it('ready when the release uses the Secret and Argo CD', () => {
    const c = gitopsSecretCheck(config, '/argocd/', [release()]);
    expect(c).toMatchObject({ id: GITOPS_SECRET_CHECK, ready: true, required: true });
    expect(c.message).toContain('seldon-system/seldon-deploy (revision 1)');
  });

  it('not required when Seldon Deploy is not installed, with the values to install it with', () => {
    const c = gitopsSecretCheck(config, '/argocd/', []);
    expect(c).toMatchObject({ ready: false, required: false });
    expect(c.message).toContain('Seldon Deploy is not installed in seldon-system');
    expect(c.message).toContain(
      'gitops: {git: {secret: git-creds}, argocd: {enabled: true, namespace: argocd',
    );
  });

  it('failed, naming each value and the block to set, when it points elsewhere', () => {
    const other = release({
      version: 4,
      config: { gitops: { git: { secret: 'my-creds' } } },
    });
    const c = gitopsSecretCheck(config, '/argocd/', [other]);
    expect(c).toMatchObject({ ready: false, required: true });
    expect(c.message).toBe(
      `Seldon Deploy's Helm release seldon-system/seldon-deploy (revision 4): gitops.git.secret is "my-creds", not "git-creds", gitops.argocd.enabled is false, not true: set gitops: {git: {secret: git-creds}, argocd: {enabled: true, namespace: argocd, url: /argocd/}} in its values and run helm upgrade`,
    );
  });

  it('an unset value is named as unset; another Argo CD namespace is a difference', () => {
    const bare = release({ chart: { metadata: { name: 'seldon-deploy' }, values: {} }, config: {} });
    const c = gitopsSecretCheck(
      { ...config, argocd: { ...config.argocd, namespace: 'gitops' } },
      '/argocd/',
      [bare],
    );
    expect(c.message).toContain('gitops.git.secret is unset, not "git-creds"');
    expect(c.message).toContain('gitops.argocd.namespace is unset, not "gitops"');
  });
});

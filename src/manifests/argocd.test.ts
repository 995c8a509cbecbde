import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleConfig } from '../../test/fixtures/sample-config.ts';
import { ConfigError, StepError } from '../errors.ts';
import type { KubeObject } from '../kube/types.ts';
import {
  BUNDLED_DOCUMENTS_SHA256,
  BUNDLED_HA_SHA256,
  BUNDLED_SHA256,
  bundledManifestPaths,
  loadArgocdManifest,
  parseInstallManifest,
  sha256Hex,
} from './argocd.ts';

const SMALL = `apiVersion: v1
kind: ServiceAccount
metadata:
  name: argocd-server
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: argocd-server
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: argocd-server }
subjects:
- kind: ServiceAccount
  name: argocd-server
  namespace: argocd
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: applications.argoproj.io
---
`;

const find = (objs: KubeObject[], kind: string, name: string) =>
  objs.find((o) => o.kind === kind && o.metadata.name === name);

describe('parseInstallManifest', () => {
  it('sets the namespace on namespaced objects only and moves ClusterRoleBinding subjects', () => {
    const objs = parseInstallManifest(SMALL, 'gitops');
    expect(objs).toHaveLength(3);
    expect(find(objs, 'ServiceAccount', 'argocd-server')!.metadata.namespace).toBe('gitops');
    const crb = find(objs, 'ClusterRoleBinding', 'argocd-server')!;
    expect(crb.metadata.namespace).toBeUndefined();
    expect(crb.subjects).toEqual([{ kind: 'ServiceAccount', name: 'argocd-server', namespace: 'gitops' }]);
    expect(
      find(objs, 'CustomResourceDefinition', 'applications.argoproj.io')!.metadata.namespace,
    ).toBeUndefined();
  });

  it('rejects a document that is not an object', () => {
    expect(() => parseInstallManifest('- a\n- b\n', 'argocd')).toThrow(StepError);
  });
});

describe.each(Object.keys(BUNDLED_SHA256))('bundled %s', (version) => {
  const config = sampleConfig((c) => {
    c.argocd.version = version;
    c.argocd.namespace = 'gitops';
  });

  it('loads, verifies the recorded sha256 and places every object', async () => {
    const loaded = await loadArgocdManifest(config.argocd);
    expect(loaded.verified).toBe(true);
    expect(loaded.sha256).toBe(BUNDLED_SHA256[version]);
    const kinds = new Set(loaded.objects.map((o) => o.kind));
    expect(kinds).toContain('CustomResourceDefinition');
    expect(kinds).toContain('Deployment');
    for (const obj of loaded.objects) {
      const clusterScoped = ['CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding'].includes(
        obj.kind,
      );
      expect(obj.metadata.namespace, `${obj.kind}/${obj.metadata.name}`).toBe(
        clusterScoped ? undefined : 'gitops',
      );
    }
    const text = JSON.stringify(loaded.objects);
    expect(text).not.toContain('"namespace":"argocd"');
    // Fields the client library would drop must survive parsing (kubernetes-client/javascript#2962).
    expect(text).toContain('x-kubernetes-preserve-unknown-fields');
  });
});

describe.each(Object.keys(BUNDLED_HA_SHA256))('bundled %s, install.profile: ha', (version) => {
  const config = sampleConfig((c) => {
    c.argocd.version = version;
    c.argocd.install.profile = 'ha';
  });

  it("loads Argo CD's manifests/ha/install.yaml, verified, with Redis HA in place of argocd-redis", async () => {
    const loaded = await loadArgocdManifest(config.argocd);
    expect(loaded.verified).toBe(true);
    expect(loaded.sha256).toBe(BUNDLED_HA_SHA256[version]);
    expect(loaded.origin).toMatch(new RegExp(`${version}/ha/install\\.yaml$`));
    const workloads = loaded.objects
      .filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet')
      .map((o) => `${o.kind}/${o.metadata.name}`)
      .sort();
    expect(workloads).toEqual([
      'Deployment/argocd-applicationset-controller',
      'Deployment/argocd-dex-server',
      'Deployment/argocd-notifications-controller',
      'Deployment/argocd-redis-ha-haproxy',
      'Deployment/argocd-repo-server',
      'Deployment/argocd-server',
      'StatefulSet/argocd-application-controller',
      'StatefulSet/argocd-redis-ha-server',
    ]);
    const redis = find(loaded.objects, 'StatefulSet', 'argocd-redis-ha-server') as KubeObject & {
      spec: { replicas: number };
    };
    expect(redis.spec.replicas).toBe(3);
  });

  it('the documents digest pinned for it is that of its parsed YAML', async ({ skip }) => {
    const path = bundledManifestPaths(version, undefined, undefined, 'ha').find((p) => existsSync(p));
    if (!path) return skip(`${version} (HA) is not cached: run npm run manifests`);
    const text = await readFile(path, 'utf8');
    expect(sha256Hex(text)).toBe(BUNDLED_HA_SHA256[version]);
    expect(BUNDLED_DOCUMENTS_SHA256[BUNDLED_HA_SHA256[version]!]).toBe(
      sha256Hex(JSON.stringify(loadAll(text))),
    );
  });
});

describe('loadArgocdManifest sources', () => {
  let dir: string;
  let file: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'argocd-manifest-'));
    file = join(dir, 'install.yaml');
    await writeFile(file, SMALL);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('file without sha256: loads unverified', async () => {
    const argocd = sampleConfig((c) => (c.argocd.install = { source: 'file', file })).argocd;
    const loaded = await loadArgocdManifest(argocd);
    expect(loaded.verified).toBe(false);
    expect(loaded.objects).toHaveLength(3);
  });

  it('file with sha256: the matching file loads, verified', async () => {
    const argocd = sampleConfig(
      (c) => (c.argocd.install = { source: 'file', file, sha256: sha256Hex(SMALL) }),
    ).argocd;
    const loaded = await loadArgocdManifest(argocd);
    expect(loaded.verified).toBe(true);
    expect(loaded.objects).toHaveLength(3);
  });

  it('file with sha256: another file is refused as bad input naming argocd.install.sha256', async () => {
    const wrong = 'b'.repeat(64);
    const argocd = sampleConfig((c) => (c.argocd.install = { source: 'file', file, sha256: wrong })).argocd;
    const err = await loadArgocdManifest(argocd).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual([
      {
        path: 'argocd.install.sha256',
        message: expect.stringContaining(`${file} has sha256 ${sha256Hex(SMALL)}, not ${wrong}: refusing`),
      },
    ]);
  });

  it('url: a wrong digest is refused, naming both digests', async () => {
    const wrong = 'a'.repeat(64);
    const argocd = sampleConfig(
      (c) => (c.argocd.install = { source: 'url', url: 'https://x/install.yaml', sha256: wrong }),
    ).argocd;
    const fakeFetch = (async () => new Response(SMALL)) as unknown as typeof fetch;
    const err = await loadArgocdManifest(argocd, { fetch: fakeFetch }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems.map((p) => p.path)).toEqual(['argocd.install.sha256']);
    expect((err as Error).message).toContain(wrong);
    expect((err as Error).message).toContain(sha256Hex(SMALL));
  });

  it('url: the right digest loads', async () => {
    const argocd = sampleConfig(
      (c) => (c.argocd.install = { source: 'url', url: 'https://x/install.yaml', sha256: sha256Hex(SMALL) }),
    ).argocd;
    const fakeFetch = (async () => new Response(SMALL)) as unknown as typeof fetch;
    expect((await loadArgocdManifest(argocd, { fetch: fakeFetch })).verified).toBe(true);
  });

  it('bundled: an unknown version says which are bundled', async () => {
    const argocd = sampleConfig((c) => (c.argocd.version = 'v9.9.9')).argocd;
    await expect(loadArgocdManifest(argocd, { root: dir })).rejects.toThrow(
      /not bundled \(bundled: v3\.5\.1/,
    );
  });

  it('bundled: looks in the package first, then the cache outside the repository', () => {
    expect(bundledManifestPaths('v3.5.1', '/app', { SD_GITOPS_BOOTSTRAP_CACHE: '/c' })).toEqual([
      '/app/manifests/argocd/v3.5.1/install.yaml',
      '/c/manifests/argocd/v3.5.1/install.yaml',
    ]);
    expect(bundledManifestPaths('v9.9.9', '/app')).toEqual(['/app/manifests/argocd/v9.9.9/install.yaml']);
    expect(bundledManifestPaths('v3.5.1', '/app', { SD_GITOPS_BOOTSTRAP_CACHE: '/c' }, 'ha')).toEqual([
      '/app/manifests/argocd/v3.5.1/ha/install.yaml',
      '/c/manifests/argocd/v3.5.1/ha/install.yaml',
    ]);
  });

  it('bundled: a manifest in neither place is fetched, verified and cached', async () => {
    const env = { SD_GITOPS_BOOTSTRAP_CACHE: join(dir, 'cache'), GOPROXY: 'https://proxy.example' };
    const urls: string[] = [];
    const fakeFetch = (async (url: string) => {
      urls.push(url);
      return new Response('not found', { status: 404 });
    }) as unknown as typeof fetch;
    await expect(
      loadArgocdManifest(sampleConfig().argocd, { root: join(dir, 'empty'), env, fetch: fakeFetch }),
    ).rejects.toThrow(/bundled but not in this checkout: .*proxy\.example.*HTTP 404/);
    expect(urls).toEqual([
      'https://proxy.example/github.com/argoproj/argo-cd/v3/@v/v3.5.1.zip',
      'https://raw.githubusercontent.com/argoproj/argo-cd/v3.5.1/manifests/install.yaml',
    ]);
  });

  it('bundled: a tampered file is refused', async () => {
    const root = join(dir, 'pkg');
    const path = join(root, 'manifests', 'argocd', 'v3.5.1');
    await import('node:fs/promises').then((fs) => fs.mkdir(path, { recursive: true }));
    await writeFile(join(path, 'install.yaml'), `${await readFile(file, 'utf8')}# tampered\n`);
    const argocd = sampleConfig().argocd;
    await expect(loadArgocdManifest(argocd, { root })).rejects.toThrow(/expected 795a3a97/);
  });

  /**
   * SMALL bundled under `dir/name` and loaded once, which writes its sidecar; `pins` pins the sidecar's
   * documents for SMALL.
   */
  const loadSmallBundled = async (name: string) => {
    const root = join(dir, name);
    const path = join(root, 'manifests', 'argocd', 'v3.5.1');
    await import('node:fs/promises').then((fs) => fs.mkdir(path, { recursive: true }));
    await writeFile(join(path, 'install.yaml'), SMALL);
    const argocd = sampleConfig(
      (c) => (c.argocd.install = { source: 'bundled', sha256: sha256Hex(SMALL) }),
    ).argocd;
    const first = await loadArgocdManifest(argocd, { root });
    const sidecar = JSON.parse(await readFile(join(path, 'install.yaml.json'), 'utf8'));
    const pins = { [sha256Hex(SMALL)]: sha256Hex(JSON.stringify(sidecar.documents)) };
    return { root, path, argocd, first, sidecar, pins };
  };

  it('bundled: the parsed documents are kept as JSON beside the YAML, used when they are the pinned ones', async () => {
    const { root, path, argocd, first, sidecar, pins } = await loadSmallBundled('pkg-sidecar');
    expect(sidecar.sha256).toBe(first.sha256);
    expect(sidecar.documents.filter(Boolean)).toHaveLength(first.objects.length);
    // The documents pinned for SMALL (`pins`): a second load takes them from the JSON (a reformatted copy,
    // same documents, shows it).
    await writeFile(join(path, 'install.yaml.json'), JSON.stringify(sidecar, null, 1));
    const second = await loadArgocdManifest(argocd, { root, documentsSha256: pins });
    expect(second.objects).toEqual(first.objects);
    expect(await readFile(join(path, 'install.yaml.json'), 'utf8')).toContain('\n "sha256"');
    // With another digest it is ignored (and rewritten from the YAML).
    await writeFile(join(path, 'install.yaml.json'), JSON.stringify({ ...sidecar, sha256: 'x' }));
    const third = await loadArgocdManifest(argocd, { root, documentsSha256: pins });
    expect(third.objects).toEqual(first.objects);
    expect(JSON.parse(await readFile(join(path, 'install.yaml.json'), 'utf8')).sha256).toBe(first.sha256);
  });

  describe('bundled: a tampered sidecar whose sha256 field matches the YAML', () => {
    const setUp = async (name: string) => {
      const { root, path, argocd, first, sidecar, pins } = await loadSmallBundled(name);
      // An attacker who can write the cache: a ClusterRoleBinding to cluster-admin, the YAML's digest kept.
      sidecar.documents[1].roleRef.name = 'cluster-admin';
      sidecar.documents.push({
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name: 'backdoor' },
      });
      await writeFile(join(path, 'install.yaml.json'), JSON.stringify(sidecar));
      return { root, path, argocd, first, pins };
    };

    it('is not used: the documents come from the verified YAML, and the sidecar is written again', async () => {
      const { root, path, argocd, first, pins } = await setUp('pkg-tampered');
      const loaded = await loadArgocdManifest(argocd, { root, documentsSha256: pins });
      expect(loaded.objects).toEqual(first.objects);
      expect(find(loaded.objects, 'ClusterRoleBinding', 'argocd-server')?.roleRef).toMatchObject({
        name: 'argocd-server',
      });
      expect(find(loaded.objects, 'ServiceAccount', 'backdoor')).toBeUndefined();
      const rewritten = JSON.parse(await readFile(join(path, 'install.yaml.json'), 'utf8'));
      expect(sha256Hex(JSON.stringify(rewritten.documents))).toBe(pins[sha256Hex(SMALL)]);
    });

    it('is not used either when no documents digest is pinned for the YAML', async () => {
      const { root, argocd, first } = await setUp('pkg-tampered-unpinned');
      const loaded = await loadArgocdManifest(argocd, { root, documentsSha256: {} });
      expect(loaded.objects).toEqual(first.objects);
      expect(find(loaded.objects, 'ServiceAccount', 'backdoor')).toBeUndefined();
    });
  });

  for (const [version, yamlSha] of Object.entries(BUNDLED_SHA256))
    it(`bundled ${version}: the documents digest pinned for it is that of its parsed YAML`, async ({
      skip,
    }) => {
      const path = bundledManifestPaths(version).find((p) => existsSync(p));
      // Not cached in this checkout (`npm run manifests` fetches it): nothing to compare with.
      if (!path) return skip(`${version} is not cached: run npm run manifests`);
      const text = await readFile(path, 'utf8');
      expect(sha256Hex(text)).toBe(yamlSha);
      expect(BUNDLED_DOCUMENTS_SHA256[yamlSha]).toBe(sha256Hex(JSON.stringify(loadAll(text))));
    });
});

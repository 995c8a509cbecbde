import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLED_SHA256 } from './argocd.ts';
import { cachedPath, goProxies, istioNetworkingCrds, UPSTREAM, unzipFile } from './upstream.ts';

/** A minimal zip (deflated entries, no data descriptors): enough for unzipFile. */
function makeZip(files: Record<string, string>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, text] of Object.entries(files)) {
    const data = deflateRawSync(Buffer.from(text));
    const nameBuf = Buffer.from(name);
    // The local and central headers hold the same fields, the central's 2 bytes further on.
    const header = (size: number, signature: number, shift: number) => {
      const b = Buffer.alloc(size);
      b.writeUInt32LE(signature, 0);
      b.writeUInt16LE(8, 8 + shift); // deflate
      b.writeUInt32LE(data.length, 18 + shift);
      b.writeUInt32LE(text.length, 22 + shift);
      b.writeUInt16LE(nameBuf.length, 26 + shift);
      return b;
    };
    const local = header(30, 0x04034b50, 0);
    const central = header(46, 0x02014b50, 2);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBuf, data);
    centrals.push(central, nameBuf);
    offset += 30 + nameBuf.length + data.length;
  }
  const dir = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(Object.keys(files).length, 8);
  eocd.writeUInt16LE(Object.keys(files).length, 10);
  eocd.writeUInt32LE(dir.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, dir, eocd]);
}

describe('upstream files', () => {
  it('the Argo CD pins are the bundled digests', () => {
    for (const [version, sum] of Object.entries(BUNDLED_SHA256)) {
      expect(UPSTREAM[`argocd/${version}` as keyof typeof UPSTREAM].sha256).toBe(sum);
    }
  });

  it('unzipFile reads one entry and says undefined for a missing one', () => {
    const zip = makeZip({ 'm@v1/a.txt': 'alpha\n'.repeat(100), 'm@v1/b.txt': 'beta' });
    expect(unzipFile(zip, 'm@v1/b.txt')?.toString()).toBe('beta');
    expect(unzipFile(zip, 'm@v1/a.txt')?.toString()).toBe('alpha\n'.repeat(100));
    expect(unzipFile(zip, 'm@v1/c.txt')).toBeUndefined();
    expect(() => unzipFile(Buffer.from('not a zip at all, not at all'), 'x')).toThrow(/not a zip/);
  });

  it('istioNetworkingCrds keeps Gateway and VirtualService, verbatim and in order', () => {
    const crd = (name: string) =>
      `apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: ${name}\nspec: {}\n`;
    const text = `# generated\n${crd('a.istio.io')}---\n${crd('gateways.networking.istio.io')}---\n${crd('x.istio.io')}---\n${crd('virtualservices.networking.istio.io')}`;
    expect(istioNetworkingCrds(text)).toBe(
      `${crd('gateways.networking.istio.io')}---\n${crd('virtualservices.networking.istio.io')}`,
    );
    expect(() => istioNetworkingCrds(crd('a.istio.io'))).toThrow(/not both found/);
  });

  it('goProxies skips direct and off, and defaults to proxy.golang.org', () => {
    expect(goProxies({ GOPROXY: 'https://a.example/,direct' })).toEqual(['https://a.example']);
    expect(goProxies({ GOPROXY: 'off' })).toEqual(['https://proxy.golang.org']);
  });

  describe('ensureUpstream', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'upstream-'));
    });
    afterAll(() => rm(dir, { recursive: true, force: true }));

    it('extracts the pinned file from the module zip and refuses a wrong digest', async () => {
      const { ensureUpstream } = await import('./upstream.ts');
      const env = { SD_GITOPS_BOOTSTRAP_CACHE: dir, GOPROXY: 'https://proxy.example' };
      const entry = 'github.com/argoproj/argo-cd/v3@v3.5.1/manifests/install.yaml';
      const tampered = makeZip({ [entry]: 'kind: Tampered\n' });
      const fakeFetch = (async () => new Response(tampered)) as unknown as typeof fetch;
      await expect(ensureUpstream('argocd/v3.5.1', { env, fetch: fakeFetch })).rejects.toThrow(
        /sha256 [0-9a-f]{64}, expected 795a3a97/,
      );
      // The real file is too large for a unit test's fake; a pin of the fake's digest shows the happy path.
      const text = 'kind: Fake\n';
      const file = { ...UPSTREAM['argocd/v3.5.1'], sha256: createHash('sha256').update(text).digest('hex') };
      const saved = UPSTREAM['argocd/v3.5.1'];
      (UPSTREAM as Record<string, unknown>)['argocd/v3.5.1'] = file;
      try {
        const ok = (async () => new Response(makeZip({ [entry]: text }))) as unknown as typeof fetch;
        const path = await ensureUpstream('argocd/v3.5.1', { env, fetch: ok });
        expect(path).toBe(cachedPath('argocd/v3.5.1', env));
        expect(await readFile(path, 'utf8')).toBe(text);
      } finally {
        (UPSTREAM as Record<string, unknown>)['argocd/v3.5.1'] = saved;
      }
    });
  });
});

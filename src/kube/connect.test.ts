/** connect(): the first errors a newcomer meets are one line each (exit 2 in main), never a stack trace. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../errors.ts';
import { connect, describeNetworkError } from './client.ts';

const kubeconfig = (namespace?: string) => `apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: "https://127.0.0.1:6443" } }]
users: [{ name: u, user: { token: t } }]
contexts: [{ name: x, context: { cluster: c, user: u${namespace ? `, namespace: ${namespace}` : ''} } }]
current-context: x
`;

describe('connect', () => {
  let dir: string;
  const saved = {
    KUBECONFIG: process.env.KUBECONFIG,
    KUBERNETES_SERVICE_HOST: process.env.KUBERNETES_SERVICE_HOST,
  };
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'connect-'));
    delete process.env.KUBERNETES_SERVICE_HOST;
  });
  afterAll(async () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('a missing --kubeconfig file is a usage error naming it', async () => {
    const file = join(dir, 'absent');
    await expect(connect({ kubeconfig: file })).rejects.toThrow(UsageError);
    await expect(connect({ kubeconfig: file })).rejects.toThrow(
      `--kubeconfig ${file}: kubeconfig file not found`,
    );
  });

  it('a missing KUBECONFIG file too', async () => {
    process.env.KUBECONFIG = join(dir, 'gone');
    try {
      await expect(connect()).rejects.toThrow(`KUBECONFIG ${join(dir, 'gone')}: kubeconfig file not found`);
    } finally {
      delete process.env.KUBECONFIG;
    }
  });

  it('an unparsable kubeconfig is one line', async () => {
    const file = join(dir, 'broken');
    await writeFile(file, 'clusters: [\n');
    const err = await connect({ kubeconfig: file }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(/^--kubeconfig \S+: not a usable kubeconfig \(/);
    expect((err as Error).message).not.toContain('\n');
  });

  it('a missing context lists the known ones', async () => {
    const file = join(dir, 'ok');
    await writeFile(file, kubeconfig());
    await expect(connect({ kubeconfig: file, context: 'nope' })).rejects.toThrow(
      '--context nope: no such context in the kubeconfig (known: x)',
    );
  });

  it('says where the default namespace came from: the context, or nowhere ("fallback")', async () => {
    const without = join(dir, 'no-ns');
    const withNs = join(dir, 'ns');
    await writeFile(without, kubeconfig());
    await writeFile(withNs, kubeconfig('seldon-system'));
    const a = await connect({ kubeconfig: without });
    const b = await connect({ kubeconfig: withNs });
    expect([a.defaultNamespace, a.defaultNamespaceSource]).toEqual(['default', 'fallback']);
    expect([b.defaultNamespace, b.defaultNamespaceSource]).toEqual(['seldon-system', 'context']);
    await a.close();
    await b.close();
  });
});

describe('describeNetworkError', () => {
  const failed = (cause: Error) => new TypeError('fetch failed', { cause });
  it('names the cause: refused, DNS, TLS, or the innermost message', () => {
    expect(describeNetworkError(failed(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })))).toBe(
      'connection refused (ECONNREFUSED)',
    );
    expect(describeNetworkError(failed(Object.assign(new Error('x'), { code: 'ENOTFOUND' })))).toBe(
      'host not found (ENOTFOUND)',
    );
    expect(
      describeNetworkError(failed(Object.assign(new Error('x'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' }))),
    ).toMatch(/^the TLS handshake failed \(SELF_SIGNED_CERT_IN_CHAIN\): check certificate-authority/);
    expect(describeNetworkError(failed(new Error('bad port')))).toBe('bad port');
  });
});

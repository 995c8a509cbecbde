import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { GenericContainer, Wait } from 'testcontainers';
import { makeCertificates } from '../git/git-https-server.ts';
import { docker } from '../images/docker.ts';
import { ensureNodeBase } from '../images/project.ts';
import { jsonLogLines } from '../kind/container-log.ts';
import { KIND_LABEL } from '../kind/kind-container.ts';

export const OIDC_HOST_NAME = 'oidc.sd-e2e.internal';
const root = resolve(import.meta.dirname, '../..');

export interface OidcUser {
  username: string;
  password: string;
  email: string;
  groups: string[];
}

export interface OidcHost {
  issuer: string;
  /** The test CA's certificate (PEM): what Argo CD's `rootCA` and the browser trust. */
  caPem: string;
  /** Login attempts the provider saw, in order (user, accepted). */
  logins(): { login: string; ok: boolean }[];
  /** The provider's own errors, if any (for a failing test's message). */
  errors(): string[];
  stop(): Promise<void>;
}

export async function startOidcHost(opts: {
  network: string;
  clusterId: string;
  client: { id: string; secret: string; redirectUri: string };
  users: OidcUser[];
}): Promise<OidcHost> {
  const certs = mkdtempSync(join(tmpdir(), 'sd-oidc-ca-'));
  chmodSync(certs, 0o755);
  makeCertificates(certs, OIDC_HOST_NAME);
  const issuer = `https://${OIDC_HOST_NAME}`;
  const config = {
    issuer,
    port: 443,
    keyFile: '/certs/server.key',
    certFile: '/certs/server.crt',
    client: opts.client,
    users: opts.users,
  };
  const container = await new GenericContainer(ensureNodeBase())
    .withNetworkMode(opts.network)
    .withNetworkAliases(OIDC_HOST_NAME)
    .withLabels({ [KIND_LABEL]: opts.clusterId })
    .withUser('root') // port 443
    .withBindMounts([
      { source: join(root, 'tools'), target: '/src/tools', mode: 'ro' },
      { source: join(root, 'node_modules'), target: '/src/node_modules', mode: 'ro' },
      { source: certs, target: '/certs', mode: 'ro' },
    ])
    .withEnvironment({ OIDC_CONFIG: JSON.stringify(config) })
    .withCommand(['node', '/src/tools/hosts/oidc-runner.ts'])
    .withWaitStrategy(Wait.forLogMessage(/"ready":true/))
    .withPullPolicy({ shouldPull: () => false })
    .start();
  const id = container.getId();
  const lines = () => jsonLogLines(id);
  return {
    issuer,
    caPem: readFileSync(join(certs, 'ca.crt'), 'utf8'),
    logins: () =>
      lines()
        .filter((l) => typeof l.login === 'string')
        .map((l) => ({ login: l.login as string, ok: l.ok === true })),
    errors: () =>
      lines()
        .filter((l) => l.serverError || l.interactionError)
        .map((l) => String(l.serverError ?? l.interactionError)),
    async stop() {
      await container.stop({ remove: true, timeout: 2_000 }).catch(() => {});
      docker(['rm', '-f', id], { allowFail: true });
      rmSync(certs, { recursive: true, force: true });
    },
  };
}

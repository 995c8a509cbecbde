/**
 * A Git provider's hook API stand-in (test/fakes/git-providers.ts) in a container of its own on the kind
 * cluster's network, reached by name (`<provider>.sd-e2e.internal`) by the bootstrap's Job pod the way it
 * reaches a GitHub Enterprise or self-hosted GitLab API. The container is the project's Node base image
 * (scripts/images.ts) running the stand-in's own source, mounted read-only.
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { GenericContainer, Wait } from 'testcontainers';
import { ensureNodeBase } from '../../../tools/images/project.ts';
import { jsonLogLines } from '../../../tools/kind/container-log.ts';
import { KIND_LABEL } from '../../../tools/kind/kind-container.ts';
import type { FakeProviderKind } from '../../fakes/git-providers.ts';

const testDir = resolve(import.meta.dirname, '../..');

export interface ProviderHost {
  kind: FakeProviderKind;
  /** What `webhooks.apiUrl` is set to (http, by name on the cluster's network). */
  apiUrl: string;
  repository: string;
  /** The token with hook-admin scope. */
  token: string;
  /** The requests the stand-in answered so far (method and path below the API prefix). */
  requests(): { method: string; path: string }[];
  stop(): Promise<void>;
}

export async function startProviderHost(opts: {
  kind: FakeProviderKind;
  network: string;
  clusterId: string;
}): Promise<ProviderHost> {
  const name = `${opts.kind}.sd-e2e.internal`;
  const container = await new GenericContainer(ensureNodeBase())
    .withNetworkMode(opts.network)
    .withNetworkAliases(name)
    .withLabels({ [KIND_LABEL]: opts.clusterId })
    .withBindMounts([{ source: testDir, target: '/src/test', mode: 'ro' }])
    .withCommand(['node', '/src/test/e2e-kind/support/provider-runner.ts', opts.kind, name, '8080'])
    .withWaitStrategy(Wait.forLogMessage(/"ready":true/))
    .withPullPolicy({ shouldPull: () => false })
    .start();
  const id = container.getId();
  const lines = () => jsonLogLines(id);
  const first = lines().find((l) => l.ready) as { apiUrl: string; repository: string; token: string };
  return {
    kind: opts.kind,
    apiUrl: first.apiUrl,
    repository: first.repository,
    token: first.token,
    requests: () =>
      lines()
        .filter((l) => !l.ready)
        .map((l) => l as { method: string; path: string }),
    async stop() {
      await container.stop({ remove: true, timeout: 2_000 }).catch(() => {});
      spawnSync('docker', ['rm', '-f', id], { stdio: 'ignore' });
    },
  };
}

import { defineConfig } from 'vitest/config';

// Three projects: `unit` (pure logic, no cluster), `e2e` (a real kube-apiserver: the local KWOK cluster by
// default, or any cluster with E2E_CLUSTER=existing) and `e2e-kind` (real pods: a kind node started through
// testcontainers, with real Argo CD, the chart's hook Job and a Git server in containers).
// Projects run one after another (groupOrder): on 2 cores, the real Argo CD pods and the KWOK suite's runs
// would otherwise compete and turn timeouts into flakes.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          sequence: { groupOrder: 0 },
          include: ['src/**/*.test.ts', 'test/unit/**/*.test.ts'],
          // bcrypt (cost 10) runs in several runner tests; on 2 busy cores one takes over vitest's 5 s default.
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'e2e',
          sequence: { groupOrder: 1 },
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/e2e/setup/global.ts'],
          testTimeout: 180_000,
          hookTimeout: 600_000,
          // One cluster, shared: files run one after another so request counts stay attributable.
          fileParallelism: false,
        },
      },
      {
        // kind through testcontainers: a node container started from the suite (tools/kind/), with the
        // offline-built node image here or the official kindest/node (KIND_NODE_IMAGE) anywhere it can be pulled.
        test: {
          name: 'e2e-kind',
          sequence: { groupOrder: 2 },
          include: ['test/e2e-kind/**/*.test.ts'],
          globalSetup: ['test/e2e-kind/setup/global.ts'],
          testTimeout: 300_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
    ],
  },
});

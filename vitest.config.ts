import { defineConfig } from 'vitest/config';

// Four projects: `unit` (pure logic, no cluster), `e2e` (a real kube-apiserver: the local KWOK cluster by
// default, or any cluster with E2E_CLUSTER=existing), `e2e-real-node` (real pods on a real kubelet node) and
// `e2e-kind` (a kind node started through testcontainers).
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
        // Pods that really run: the same control plane with one real kubelet node (containerd, CNI,
        // kube-proxy, CoreDNS, a local registry mirroring the upstream ones). Its own cluster, in
        // `.e2e-real-node/`, beside the KWOK one: both suites run in one `vitest run`, one file at a time.
        test: {
          name: 'e2e-real-node',
          sequence: { groupOrder: 2 },
          include: ['test/e2e-real-node/**/*.test.ts'],
          globalSetup: ['test/e2e-real-node/setup/global.ts'],
          testTimeout: 180_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
      {
        // kind through testcontainers: a node container started from the suite (test/kind/), with the
        // offline-built node image here or the official kindest/node (KIND_NODE_IMAGE) anywhere it can be pulled.
        test: {
          name: 'e2e-kind',
          sequence: { groupOrder: 3 },
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

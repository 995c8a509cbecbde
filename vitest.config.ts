import { defineConfig } from 'vitest/config';

// Two projects: `unit` (pure logic, no cluster) and `e2e` (a real kube-apiserver:
// the local KWOK cluster by default, or any cluster with E2E_CLUSTER=existing).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'test/unit/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/e2e/setup/global.ts'],
          testTimeout: 180_000,
          hookTimeout: 600_000,
          // One cluster, shared: files run one after another so request counts stay attributable.
          fileParallelism: false,
        },
      },
    ],
  },
});

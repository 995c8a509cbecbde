/** One row of docs/benchmarks.json: written by `npm run bench` (scripts/bench.ts), read by its e2e test. */
export interface Measure {
  /** What was run: baseline, apply fresh, no-op apply, apply +1 environment, plan, status. */
  run: string;
  n: number;
  seconds: number;
  /** Spread over repetitions (no-op apply): min and max seconds. */
  min?: number;
  max?: number;
  reps?: number;
  requests: number;
  mutating: number;
  moved: number;
  rssMiB: number | undefined;
  /** Seconds spent waiting for Argo CD's workloads to roll out (measured apart). */
  rolloutSeconds?: number;
  /** Seconds of the repository check (git over SSH), bootstrap only. */
  repoCheckSeconds?: number;
  /** Bootstrap: seconds per step, from its progress lines. */
  steps?: Record<string, number>;
}

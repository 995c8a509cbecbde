/** Reading readiness reports in tests. */
import type { ReadinessReport } from '../../src/report/types.ts';

/** The required checks that are not ready, as `id: message` lines (an assertion's readable diff). */
export const notReady = (r: ReadinessReport | undefined): string[] =>
  (r?.checks ?? []).filter((c) => c.required && !c.ready).map((c) => `${c.id}: ${c.message}`);

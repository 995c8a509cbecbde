/**
 * The normalised configuration every step reads. Produced by `loadConfig` (src/config/load.ts) from the
 * YAML file after defaults are filled in and every rule has passed; steps never see raw input.
 * Derived from the schema in src/config/schema.ts (single source of truth: each key's type, default and
 * description), so the type cannot drift from what the program accepts.
 */
import type { z } from 'zod';
import type { configSchema } from './schema.ts';

export type Config = z.output<typeof configSchema>;

/** The process environment, validated with envalid (src/config/env.ts). */
export interface Env {
  SD_BOOTSTRAP_CONFIG: string;
  LOG_LEVEL: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  LOG_FORMAT: 'json' | 'pretty' | 'auto' | undefined;
  /** Overall deadline of one run, ms (from e.g. "15m"). */
  SD_BOOTSTRAP_TIMEOUT_MS: number;
  POD_NAMESPACE: string | undefined;
}

/** A sample configuration for unit tests, normalised by the real parser (so it tracks the schema). */
import { parseConfig } from '../config/load.ts';
import type { Config } from '../config/types.ts';

export const SAMPLE_INPUT = {
  git: { repoUrl: 'ssh://git@git.example.com/acme/gitops.git' },
  environments: { namespaces: [{ name: 'staging', restricted: false }, 'production'] },
};

export function sampleConfig(overrides: (c: Config) => void = () => {}): Config {
  const config = parseConfig(structuredClone(SAMPLE_INPUT));
  overrides(config);
  return config;
}

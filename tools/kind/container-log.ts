/**
 * The JSON lines a test runner container logged (tools/kind/*-runner.ts print one JSON object per event),
 * its other output skipped; read again from `docker logs` on each call.
 */
import { docker } from '../images/docker.ts';

export function jsonLogLines(containerId: string): Record<string, unknown>[] {
  return docker(['logs', containerId], { allowFail: true })
    .stdout.split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

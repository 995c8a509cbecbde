/**
 * The JSON lines a test runner container logged (tools/kind/*-runner.ts print one JSON object per event),
 * its other output skipped; read again from `docker logs` on each call.
 */
import { spawnSync } from 'node:child_process';

export function jsonLogLines(containerId: string): Record<string, unknown>[] {
  return spawnSync('docker', ['logs', containerId], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

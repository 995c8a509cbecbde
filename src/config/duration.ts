/**
 * Durations as people write them in YAML and in the environment: "10m", "90s", "1h30m", or a plain number of
 * seconds (`600`, or "600" from an environment variable). Shared by the config schema and env.ts so both
 * accept exactly the same forms.
 */

/** The accepted string forms, for the JSON Schema `pattern` as well as for parsing. */
export const DURATION_PATTERN =
  /^(?:\d+h(?:\d+m)?(?:\d+(?:\.\d+)?s)?|\d+m(?:\d+(?:\.\d+)?s)?|\d+(?:\.\d+)?s|\d+(?:\.\d+)?)$/;

export const DURATION_HINT = 'must be a duration like "10m", "90s", "1h30m" or a number of seconds';

/** Milliseconds, or undefined when the input is not a positive duration. */
export function parseDuration(input: string | number): number | undefined {
  if (typeof input === 'number') {
    return Number.isFinite(input) && input > 0 ? Math.round(input * 1000) : undefined;
  }
  const text = input.trim();
  if (!DURATION_PATTERN.test(text)) return undefined;
  let ms: number;
  if (/^[\d.]+$/.test(text)) {
    ms = Math.round(Number(text) * 1000);
  } else {
    const unit = (u: string): number => Number(new RegExp(`(\\d+(?:\\.\\d+)?)${u}`).exec(text)?.[1] ?? 0);
    ms = Math.round((unit('h') * 3600 + unit('m') * 60 + unit('s')) * 1000);
  }
  return ms > 0 ? ms : undefined;
}

/** The inverse, for messages and docs: 600000 → "10m", 5400000 → "1h30m", 1500 → "1.5s". */
export function formatDuration(ms: number): string {
  if (ms % 1000 !== 0) return `${ms / 1000}s`;
  let s = ms / 1000;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s || (!h && !m) ? `${s}s` : ''}`;
}

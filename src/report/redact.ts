/**
 * Last line of defence against secrets in logs, messages and the report. Values read from Secrets are
 * registered with `registerSecret` when they are read; `redact` replaces them, and recognisable secret
 * shapes (private keys, basic-auth headers, URL passwords, bcrypt hashes) even when unregistered.
 */

export const REDACTED = '[redacted]';

const registered = new Set<string>();

/** Remember a secret value so every later `redact` removes it. Short values (< 4 chars) are too ambiguous. */
export function registerSecret(value: string | undefined): void {
  if (value === undefined) return;
  for (const part of [value, value.trim()]) if (part.length >= 4) registered.add(part);
}

/** For tests. */
export function clearRegisteredSecrets(): void {
  registered.clear();
}

const PATTERNS: [RegExp, string][] = [
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g, REDACTED],
  [/\b(authorization\s*[:=]\s*)(basic|bearer|token)\s+[^\s"',]+/gi, `$1$2 ${REDACTED}`],
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:)[^\s@/]+@/gi, `$1${REDACTED}@`],
  [/\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}/g, REDACTED],
];

export function redact(text: string): string {
  let out = text;
  // Longest first, so a value containing another is replaced whole.
  for (const secret of [...registered].sort((a, b) => b.length - a.length))
    out = out.replaceAll(secret, REDACTED);
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

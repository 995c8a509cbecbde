/**
 * Last line of defence against secrets in logs, messages and the report. Values read from Secrets are
 * registered with `registerSecret` when they are read; `redact` replaces them, and recognisable secret
 * shapes (private keys, basic-auth headers, URL passwords, bcrypt hashes) even when unregistered.
 *
 * A value is registered with every encoding the program itself, or a server or child process quoting
 * what the program sent, would produce: raw, JSON-escaped (a multi-line key in a JSON log line), base64
 * (standard and URL-safe, with and without padding: Secret data, tokens), URL-encoded (a query or form),
 * and hex (lower and upper case). `registerBasicAuth` adds the base64 of `user:password`, the form an
 * `Authorization: Basic` header carries.
 */

export const REDACTED = '[redacted]';

const registered = new Set<string>();

/** The forms of `value` a message may hold: raw and each encoding (see the module comment). */
export function encodedForms(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8');
  const std = bytes.toString('base64');
  const url = bytes.toString('base64url');
  const forms = [
    value,
    JSON.stringify(value).slice(1, -1),
    std,
    std.replace(/=+$/, ''),
    url,
    `${url}${'='.repeat((4 - (url.length % 4)) % 4)}`,
    encodeURIComponent(value),
    new URLSearchParams({ v: value }).toString().slice(2),
    bytes.toString('hex'),
    bytes.toString('hex').toUpperCase(),
  ];
  return [...new Set(forms)];
}

function add(value: string): void {
  for (const form of encodedForms(value)) if (form.length >= 4) registered.add(form);
}

/** Remember a secret value so every later `redact` removes it. Short values (< 4 chars) are too ambiguous. */
export function registerSecret(value: string | undefined): void {
  if (value === undefined) return;
  for (const part of new Set([value, value.trim()])) if (part.length >= 4) add(part);
}

/** A user name and password sent as HTTP basic authentication: the password, and `user:password`. */
export function registerBasicAuth(username: string, password: string): void {
  registerSecret(password);
  if (password.length >= 4) add(`${username}:${password}`);
}

/** For tests. */
export function clearRegisteredSecrets(): void {
  registered.clear();
}

/** Query parameters that carry a credential (src/config/urls.ts refuses them in the config's URLs). */
const CREDENTIAL_PARAM =
  /([?&#;](?:private_token|access_token|auth_token|token|api_key|apikey|key|password|passwd|secret|client_secret|sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature)=)[^&#\s"'<>]+/gi;

const PATTERNS: [RegExp, string][] = [
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g, REDACTED],
  [/\b(authorization\s*[:=]\s*)(basic|bearer|token)\s+[^\s"',]+/gi, `$1$2 ${REDACTED}`],
  [/\b(private-token\s*[:=]\s*)[^\s"',]+/gi, `$1${REDACTED}`],
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:)[^\s@/]+@/gi, `$1${REDACTED}@`],
  // An http(s) user name without a password is often a token (`https://<token>@github.com/…`).
  [/(\bhttps?:\/\/)[^\s:/@]+@/gi, `$1${REDACTED}@`],
  [CREDENTIAL_PARAM, `$1${REDACTED}`],
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

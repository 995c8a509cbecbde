import { afterEach, describe, expect, it } from 'vitest';
import {
  clearRegisteredSecrets,
  encodedForms,
  REDACTED,
  redact,
  registerBasicAuth,
  registerSecret,
} from './redact.ts';

afterEach(() => clearRegisteredSecrets());

// A value whose encodings all differ from one another and from the value (`+`, `/`, `=` in base64; `%` in URL).
const SECRET = 'p@ss/w+rd?~>é';
const b64 = (s: string) => Buffer.from(s).toString('base64');
const b64url = (s: string) => Buffer.from(s).toString('base64url');

describe('redact: every encoding the program would produce of a registered secret', () => {
  it.each([
    ['raw', SECRET],
    ['base64', b64(SECRET)],
    ['base64 without padding', b64(SECRET).replace(/=+$/, '')],
    ['base64url', b64url(SECRET)],
    ['base64url with padding', `${b64url(SECRET)}${'='.repeat((4 - (b64url(SECRET).length % 4)) % 4)}`],
    ['URL-encoded', encodeURIComponent(SECRET)],
    ['form-encoded', new URLSearchParams({ q: SECRET }).toString().slice(2)],
    ['hex', Buffer.from(SECRET).toString('hex')],
    ['HEX', Buffer.from(SECRET).toString('hex').toUpperCase()],
  ])('%s', (_name, form) => {
    registerSecret(SECRET);
    const text = `remote: error: bad credential ${form} (from server)`;
    const out = redact(text);
    expect(out).not.toContain(form);
    expect(out).toContain(REDACTED);
  });

  it('JSON-escaped: a multi-line secret inside a JSON log line', () => {
    registerSecret('-----line-a\nline-b-----');
    const line = JSON.stringify({ msg: 'git said -----line-a\nline-b----- here' });
    expect(redact(line)).toBe(JSON.stringify({ msg: `git said ${REDACTED} here` }));
  });

  it('the encodings differ from the value (so each case above tests its own form)', () => {
    const forms = encodedForms(SECRET);
    expect(new Set(forms).size).toBe(forms.length);
    expect(forms.length).toBeGreaterThanOrEqual(9);
  });

  it('basic auth: the base64 of user:password, as an Authorization header carries it, quoted anywhere', () => {
    registerBasicAuth('gitops-bot', 'tok-123456');
    const pair = b64('gitops-bot:tok-123456');
    for (const text of [
      `proxy said: header was ${pair}`,
      `{"auth":"${pair.replace(/=+$/, '')}"}`,
      `seen ${b64url('gitops-bot:tok-123456')}`,
    ])
      expect(redact(text)).not.toMatch(/Z2l0b3BzLWJvdDp0b2stMTIzNDU2|tok-123456/);
  });

  it('unregistered shapes: URL user-info, an https token as user, credential query parameters, PRIVATE-TOKEN', () => {
    expect(redact('fatal: https://ghp_abcdef123456@github.com/a/b.git not found')).toBe(
      `fatal: https://${REDACTED}@github.com/a/b.git not found`,
    );
    expect(redact('GET /api/v4/projects?private_token=glpat-xyz123&per_page=1')).toBe(
      `GET /api/v4/projects?private_token=${REDACTED}&per_page=1`,
    );
    expect(redact('url https://s3/x?X-Amz-Signature=abcdef0123 done')).toBe(
      `url https://s3/x?X-Amz-Signature=${REDACTED} done`,
    );
    expect(redact('echo PRIVATE-TOKEN: glpat-xyz123')).toBe(`echo PRIVATE-TOKEN: ${REDACTED}`);
    expect(redact('ssh://git@host/a.git')).toBe('ssh://git@host/a.git');
  });

  it('short values are not registered (too ambiguous), in any form', () => {
    registerSecret('abc');
    expect(redact('abc YWJj 616263')).toBe('abc YWJj 616263');
  });
});

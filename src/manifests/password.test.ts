import bcrypt from 'bcryptjs';
import { describe, expect, it } from 'vitest';
import { decidePassword, formatMtime, generatePassword, hashPassword, passwordMatches } from './password.ts';

const NOW = new Date('2025-01-02T03:04:05.678Z');

describe('admin password', () => {
  it('hashes with bcrypt cost 10 in the $2a$ form Argo CD writes', async () => {
    const hash = await hashPassword('12341234');
    expect(hash).toMatch(/^\$2a\$10\$/);
    expect(await passwordMatches('12341234', hash)).toBe(true);
    expect(await passwordMatches('wrong', hash)).toBe(false);
  });

  it("accepts htpasswd's $2y$ and $2b$ hashes", async () => {
    const hash = bcrypt.hashSync('12341234', 4);
    expect(await passwordMatches('12341234', hash.replace(/^\$2b\$/, '$2y$'))).toBe(true);
    expect(await passwordMatches('12341234', hash)).toBe(true);
    expect(await passwordMatches('12341234', 'not-a-hash')).toBe(false);
    expect(await passwordMatches('12341234', undefined)).toBe(false);
  });

  it('unchanged password: keeps the live hash and mtime (no new mtime, nobody logged out)', async () => {
    const liveHash = bcrypt.hashSync('s3cret', 4).replace(/^\$2b\$/, '$2y$');
    const decision = await decidePassword({
      password: 's3cret',
      liveHash,
      liveMtime: '2024-01-01T00:00:00Z',
      now: NOW,
    });
    expect(decision).toEqual({ hash: liveHash, mtime: '2024-01-01T00:00:00Z', changed: false });
  });

  it('changed password: a new hash and mtime now', async () => {
    const liveHash = bcrypt.hashSync('old', 4);
    const decision = await decidePassword({
      password: 'new',
      liveHash,
      liveMtime: '2024-01-01T00:00:00Z',
      now: NOW,
    });
    expect(decision.changed).toBe(true);
    expect(decision.mtime).toBe('2025-01-02T03:04:05Z');
    expect(await passwordMatches('new', decision.hash)).toBe(true);
  });

  it('no live hash: sets one', async () => {
    const decision = await decidePassword({
      password: 'p',
      liveHash: undefined,
      liveMtime: undefined,
      now: NOW,
    });
    expect(decision.changed).toBe(true);
  });

  it('generates 24 url-safe characters', () => {
    const pw = generatePassword();
    expect(pw).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(generatePassword()).not.toBe(pw);
    expect(formatMtime(NOW)).toBe('2025-01-02T03:04:05Z');
  });
});

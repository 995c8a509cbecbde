/**
 * The Argo CD admin password: bcrypt (cost 10) as `htpasswd -bnBC 10` in the seed, stored in argocd-secret.
 * The hash is replaced, and `admin.passwordMtime` moved, only when the password really differs from the
 * stored one (bcrypt compare): a new mtime logs every user out.
 */
import { randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';

export const BCRYPT_COST = 10;

/** bcryptjs writes `$2b$`; Argo CD (Go's x/crypto/bcrypt) writes `$2a$`. Same algorithm: keep Argo CD's form. */
export async function hashPassword(password: string): Promise<string> {
  const hash = await bcrypt.hash(password, BCRYPT_COST);
  return hash.replace(/^\$2b\$/, '$2a$');
}

/** True when `hash` is a bcrypt hash (`$2a$`, `$2b$` or htpasswd's `$2y$`) of `password`. */
export async function passwordMatches(password: string, hash: string | undefined): Promise<boolean> {
  if (!hash || !/^\$2[aby]\$\d\d\$/.test(hash)) return false;
  return bcrypt.compare(password, hash.replace(/^\$2y\$/, '$2a$'));
}

/** 18 random bytes → 24 base64url characters. */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}

/** RFC 3339 in UTC without fractions, as Argo CD writes `admin.passwordMtime`. */
export function formatMtime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export interface PasswordDecision {
  hash: string;
  /** Absent when the password is unchanged and argocd-secret had no mtime (then none is written). */
  mtime: string | undefined;
  changed: boolean;
}

/** Keep the live hash and mtime when the password matches; otherwise a new hash and mtime `now`. */
export async function decidePassword(input: {
  password: string;
  liveHash: string | undefined;
  liveMtime: string | undefined;
  now: Date;
}): Promise<PasswordDecision> {
  if (input.liveHash && (await passwordMatches(input.password, input.liveHash))) {
    return { hash: input.liveHash, mtime: input.liveMtime, changed: false };
  }
  return { hash: await hashPassword(input.password), mtime: formatMtime(input.now), changed: true };
}

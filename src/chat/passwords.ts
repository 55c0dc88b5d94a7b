/**
 * Password hashing (argon2id, OWASP's minimum m=19 MiB, t=2, p=1, stored as PHC strings so the parameters can
 * be raised later) and the password policy.
 */
import argon2 from 'argon2';
import { randomBytes } from 'node:crypto';
import { ConfabError } from '../errors.js';
import { COMMON_PASSWORDS } from './common-passwords.js';
import { charCount } from './rules.js';

/** Shortest password accepted. */
export const MIN_PASSWORD_CHARS = 8;
/** Longest password accepted; checked before hashing so a megabyte password costs nothing. */
export const MAX_PASSWORD_CHARS = 256;

const ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/** Throws `weak_password` with the rule that failed. */
export function checkPasswordPolicy(password: unknown, username?: string): string {
  if (typeof password !== 'string') throw new ConfabError('weak_password', 'Password must be a string');
  const n = charCount(password);
  if (n < MIN_PASSWORD_CHARS) {
    throw new ConfabError('weak_password', `Password must have at least ${MIN_PASSWORD_CHARS} characters`);
  }
  if (n > MAX_PASSWORD_CHARS) {
    throw new ConfabError('weak_password', `Password must have at most ${MAX_PASSWORD_CHARS} characters`);
  }
  const folded = password.toLowerCase();
  if (COMMON_PASSWORDS.has(folded)) {
    throw new ConfabError('weak_password', 'That password is one of the most common ones; choose another');
  }
  if (username !== undefined && folded === username.toLowerCase()) {
    throw new ConfabError('weak_password', 'Password must not be the username');
  }
  return password;
}

export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, ARGON2_OPTIONS);
}

/**
 * A hash of a random password, verified against when the user does not exist so that both cases take as long.
 * Made when the module loads: made lazily, the first unknown-user sign-in would also pay for hashing it.
 */
const dummyHash: Promise<string> = argon2.hash(randomBytes(16).toString('hex'), ARGON2_OPTIONS);
dummyHash.catch(() => {});

/**
 * Checks a password against a stored hash, or against a dummy hash when there is no user, so that an unknown
 * username and a wrong password cost the same time. Over-long input is refused before hashing.
 */
export async function verifyPassword(hash: string | null, password: string): Promise<boolean> {
  if (charCount(password) > MAX_PASSWORD_CHARS) return false;
  const target = hash ?? (await dummyHash);
  try {
    const ok = await argon2.verify(target, password);
    return ok && hash !== null;
  } catch {
    return false;
  }
}

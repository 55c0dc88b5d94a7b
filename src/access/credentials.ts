/**
 * Where a request's credentials come from: the session cookie, or `Authorization: Bearer <secret>` (an API
 * token or a session secret, for scripts and bots). Never from the URL.
 */
import { parseCookie } from 'cookie';
import type { IncomingHttpHeaders } from 'node:http';

/** Name of the session cookie. */
export const SESSION_COOKIE = 'confab_session';

export type Credential = { kind: 'cookie'; secret: string } | { kind: 'bearer'; secret: string };

/** The credential a request carries, the bearer header first (explicit beats ambient). */
export function credentialOf(headers: IncomingHttpHeaders): Credential | null {
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return { kind: 'bearer', secret: m[1]! };
  }
  const cookieHeader = headers.cookie;
  if (typeof cookieHeader === 'string') {
    const secret = parseCookie(cookieHeader)[SESSION_COOKIE];
    if (secret) return { kind: 'cookie', secret };
  }
  return null;
}

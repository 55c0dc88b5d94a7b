/**
 * Authentication and CSRF protection for the JSON API. Every `/api` request is looked at once: its credential
 * (session cookie or bearer) becomes `request.principal`; a cookie-authenticated (or anonymous) change must
 * come from an allowed Origin, since SameSite=Lax alone leaves same-site subdomains and old browsers open.
 * Routes that need a user add the `requireUser` pre-handler.
 */
import fastifyCookie from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { credentialOf, SESSION_COOKIE } from '../access/credentials.js';
import { originAllowed, type OriginPolicy } from '../access/origin.js';
import type { AccountService } from '../chat/accounts.js';
import type { Principal } from '../chat/principal.js';
import { ConfabError } from '../errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who made the request; null when it carries no valid credential. */
    principal: Principal | null;
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Whether the request reached us over https (directly, or through a trusted proxy). */
const isHttps = (request: FastifyRequest) => request.protocol === 'https';

/** Sets the session cookie: HttpOnly, SameSite=Lax, Secure over https, whole-site path, no Domain. */
export function setSessionCookie(request: FastifyRequest, reply: FastifyReply, token: string, expiresAt: number): void {
  reply.setCookie(SESSION_COOKIE, token, {
    httpOnly: true,
    sameSite: 'lax',
    secure: isHttps(request),
    path: '/',
    expires: new Date(expiresAt),
  });
}

export function clearSessionCookie(request: FastifyRequest, reply: FastifyReply): void {
  reply.clearCookie(SESSION_COOKIE, { httpOnly: true, sameSite: 'lax', secure: isHttps(request), path: '/' });
}

/** Pre-handler of routes that need a signed-in user. */
export async function requireUser(request: FastifyRequest): Promise<void> {
  if (!request.principal || request.principal.userId === null) throw new ConfabError('unauthenticated');
}

/** The signed-in user's id (after `requireUser`). */
export const userIdOf = (request: FastifyRequest): number => request.principal!.userId!;

export const authPlugin = fp<{ accounts: AccountService; originPolicy: OriginPolicy }>(
  async (app: FastifyInstance, { accounts, originPolicy }) => {
    await app.register(fastifyCookie);
    app.decorateRequest('principal', null);
    app.addHook('onRequest', async (request, reply) => {
      if (!request.url.startsWith('/api/')) return;
      const credential = credentialOf(request.headers);
      if (!SAFE_METHODS.has(request.method) && credential?.kind !== 'bearer') {
        const encrypted = isHttps(request);
        const headers = { ...request.headers };
        // Some privacy settings drop Origin but keep a same-origin Referer: accept its origin then.
        if (headers.origin === undefined && typeof headers.referer === 'string') {
          try {
            headers.origin = new URL(headers.referer).origin;
          } catch {
            /* not a URL: judged without it */
          }
        }
        if (headers.origin === undefined || !originAllowed(headers, encrypted, originPolicy)) {
          throw new ConfabError('bad_origin', 'Cross-origin request refused (send it from the app, or use a bearer token)');
        }
      }
      if (!credential) return;
      if (credential.kind === 'bearer') {
        request.principal = await accounts.authenticateBearer(credential.secret);
        if (!request.principal) throw new ConfabError('unauthenticated', 'Invalid or revoked token');
        return;
      }
      const auth = await accounts.authenticateSession(credential.secret);
      if (!auth) {
        clearSessionCookie(request, reply);
        return;
      }
      request.principal = auth.principal;
      if (auth.renewedUntil !== null) setSessionCookie(request, reply, credential.secret, auth.renewedUntil);
    });
  },
  { name: 'confab-auth' },
);

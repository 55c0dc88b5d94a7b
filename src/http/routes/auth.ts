/**
 * Accounts over HTTP: sign-up, sign-in, sign-out (here or everywhere), the current user, password change,
 * personal API tokens and user search. See docs/api.md.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { AccountService } from '../../chat/accounts.js';
import { ConfabError } from '../../errors.js';
import { userPayload } from '../../wire.js';
import { clearSessionCookie, requireUser, setSessionCookie, userIdOf } from '../auth.js';
import { bodyOf, idParam } from '../request.js';


/** The signed-in user as they see themselves (with the admin flag and their own settings). */
const meOf = (u: { id: number; username: string; displayName: string; isAdmin: boolean; privateReceipts: boolean }) => ({
  ...userPayload(u),
  isAdmin: u.isAdmin,
  privateReceipts: u.privateReceipts,
});

export const authRoutes: FastifyPluginAsync<{ accounts: AccountService }> = async (app, { accounts }) => {
  app.post('/auth/signup', async (request, reply) => {
    const b = bodyOf(request);
    const s = await accounts.signUp({ username: b.username, password: b.password, displayName: b.displayName }, request.ip);
    request.log.info({ user: s.user.id, address: request.ip }, 'signed up');
    setSessionCookie(request, reply, s.token, s.expiresAt);
    return reply.status(201).send({ user: meOf(s.user) });
  });

  app.post('/auth/signin', async (request, reply) => {
    const b = bodyOf(request);
    let s: Awaited<ReturnType<AccountService['signIn']>>;
    try {
      s = await accounts.signIn(b.username, b.password, request.ip);
    } catch (err) {
      // Auth events are logged with the address, never the password nor (it may be a password typed in the
      // wrong field) the username tried.
      if (err instanceof ConfabError) request.log.warn({ address: request.ip, code: err.code }, 'sign-in refused');
      throw err;
    }
    request.log.info({ user: s.user.id, address: request.ip }, 'signed in');
    setSessionCookie(request, reply, s.token, s.expiresAt);
    return { user: meOf(s.user) };
  });

  app.post('/auth/signout', { preHandler: requireUser }, async (request, reply) => {
    await accounts.signOut(request.principal!);
    request.log.info({ user: userIdOf(request) }, 'signed out');
    clearSessionCookie(request, reply);
    return reply.status(204).send();
  });

  app.post('/auth/signout-all', { preHandler: requireUser }, async (request, reply) => {
    await accounts.signOutEverywhere(userIdOf(request));
    request.log.info({ user: userIdOf(request) }, 'signed out everywhere');
    clearSessionCookie(request, reply);
    return reply.status(204).send();
  });

  app.post('/auth/password', { preHandler: requireUser }, async (request, reply) => {
    const b = bodyOf(request);
    const s = await accounts.changePassword(request.principal!, b.currentPassword, b.newPassword);
    request.log.info({ user: userIdOf(request) }, 'password changed; other sessions ended');
    setSessionCookie(request, reply, s.token, s.expiresAt);
    return reply.status(204).send();
  });

  app.get('/me', { preHandler: requireUser }, async (request) => ({
    user: meOf(await accounts.getUser(userIdOf(request))),
  }));

  app.put('/me/settings', { preHandler: requireUser }, async (request) => {
    const b = bodyOf(request);
    if (typeof b.privateReceipts !== 'boolean') throw new ConfabError('bad_request', '"privateReceipts" must be true or false');
    return { user: meOf(await accounts.setPrivateReceipts(userIdOf(request), b.privateReceipts)) };
  });

  app.get('/users', { preHandler: requireUser }, async (request) => {
    const q = (request.query as { q?: unknown }).q;
    return { users: (await accounts.searchUsers(q)).map(userPayload) };
  });

  app.get('/tokens', { preHandler: requireUser }, async (request) => ({
    tokens: (await accounts.listApiTokens(userIdOf(request))).map(tokenPayload),
  }));

  app.post('/tokens', { preHandler: requireUser }, async (request, reply) => {
    const { token, secret } = await accounts.createApiToken(userIdOf(request), bodyOf(request).name);
    return reply.status(201).send({ token: tokenPayload(token), secret });
  });

  app.delete<{ Params: { id: string } }>('/tokens/:id', { preHandler: requireUser }, async (request, reply) => {
    await accounts.revokeApiToken(userIdOf(request), idParam(request.params.id));
    return reply.status(204).send();
  });
};

const tokenPayload = (t: { id: number; name: string; createdAt: number; lastUsedAt: number | null }) => ({
  id: t.id,
  name: t.name,
  createdAt: new Date(t.createdAt).toISOString(),
  lastUsedAt: t.lastUsedAt === null ? null : new Date(t.lastUsedAt).toISOString(),
});

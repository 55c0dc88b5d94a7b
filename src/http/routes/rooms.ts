/**
 * Rooms over HTTP: the sidebar list, public rooms to browse, creation, members, invitations, leaving,
 * ownership, history pages, and direct conversations. Every route needs a signed-in user. See docs/api.md.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { AccountService } from '../../chat/accounts.js';
import type { ChatService } from '../../chat/chat-service.js';
import { ConfabError } from '../../errors.js';
import { roomPayload, rowPayload, userPayload } from '../../wire.js';
import { requireUser } from '../auth.js';
import { bodyOf, idParam } from '../request.js';

type RoomParams = { Params: { id: string } };


/** An optional non-negative integer from the query string. */
function seqQuery(raw: unknown, name: string): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (typeof raw !== 'string' || !Number.isSafeInteger(n) || n < 0) {
    throw new ConfabError('bad_request', `"${name}" must be a non-negative integer`);
  }
  return n;
}

export const roomRoutes: FastifyPluginAsync<{ chat: ChatService; accounts: AccountService }> = async (
  app,
  { chat, accounts },
) => {
  app.addHook('preHandler', requireUser);
  const me = (request: FastifyRequest) => request.principal!;

  /** The user named by `username` or `userId` in a body. */
  const userFromBody = async (b: Record<string, unknown>) => {
    if (typeof b.userId === 'number') return accounts.getUser(idParam(String(b.userId)));
    if (typeof b.username === 'string') return accounts.requireUser(b.username);
    throw new ConfabError('bad_request', 'Name the user with "username" or "userId"');
  };

  app.get('/rooms', async (request) => ({ rooms: (await chat.listRooms(me(request))).map(roomPayload) }));

  app.get('/rooms/public', async () => ({ rooms: (await chat.listPublicRooms()).map(roomPayload) }));

  app.post('/rooms', async (request, reply) => {
    const b = bodyOf(request);
    if (b.private !== undefined && typeof b.private !== 'boolean') {
      throw new ConfabError('bad_request', '"private" must be true or false');
    }
    const room = await chat.createRoom(me(request), b.name, b.private === true ? 'private' : 'public');
    return reply.status(201).send({ room: roomPayload(room) });
  });

  app.get<RoomParams>('/rooms/:id', async (request) => ({
    room: roomPayload(await chat.roomView(me(request), idParam(request.params.id))),
  }));

  app.get<RoomParams>('/rooms/:id/members', async (request) => ({
    members: (await chat.members(me(request), idParam(request.params.id))).map(userPayload),
  }));

  app.post<RoomParams>('/rooms/:id/join', async (request) => ({
    room: roomPayload(await chat.joinRoom(me(request), idParam(request.params.id))),
  }));

  app.put<RoomParams>('/rooms/:id/notify', async (request, reply) => {
    await chat.setNotifyLevel(me(request), idParam(request.params.id), bodyOf(request).level);
    return reply.status(204).send();
  });

  app.post<RoomParams>('/rooms/:id/leave', async (request, reply) => {
    await chat.leaveRoom(me(request), idParam(request.params.id));
    return reply.status(204).send();
  });

  app.post<RoomParams>('/rooms/:id/members', async (request, reply) => {
    const user = await userFromBody(bodyOf(request));
    await chat.invite(me(request), idParam(request.params.id), user.id);
    return reply.status(204).send();
  });

  app.delete<{ Params: { id: string; userId: string } }>('/rooms/:id/members/:userId', async (request, reply) => {
    await chat.removeMember(me(request), idParam(request.params.id), idParam(request.params.userId));
    return reply.status(204).send();
  });

  app.post<RoomParams>('/rooms/:id/owner', async (request) => {
    const user = await userFromBody(bodyOf(request));
    return { room: roomPayload(await chat.transferOwnership(me(request), idParam(request.params.id), user.id)) };
  });

  app.get<RoomParams>('/rooms/:id/messages', async (request) => {
    const q = request.query as Record<string, unknown>;
    const before = seqQuery(q.before, 'before');
    const after = seqQuery(q.after, 'after');
    const limit = seqQuery(q.limit, 'limit');
    if (before !== undefined && after !== undefined) throw new ConfabError('bad_request', 'Give before or after, not both');
    const page = await chat.history(me(request), idParam(request.params.id), { before, after, limit });
    return { messages: page.messages.map(rowPayload), hasMore: page.hasMore };
  });

  app.post('/direct', async (request) => {
    const b = bodyOf(request);
    const names = b.usernames;
    if (!Array.isArray(names) || names.length === 0 || !names.every((n) => typeof n === 'string')) {
      throw new ConfabError('bad_request', '"usernames" must be a non-empty list of usernames');
    }
    const users = await Promise.all((names as string[]).map((n) => accounts.requireUser(n)));
    return { room: roomPayload(await chat.openDirect(me(request), users.map((u) => u.id))) };
  });
};

/**
 * Messages over HTTP, for scripts and bots (the web client uses the WebSocket frames of the same names):
 * post, read one, edit, delete, react. The same domain calls and rules as the frames. See docs/api.md.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { ChatService } from '../../chat/chat-service.js';
import type { MessageChanges } from '../../chat/message-changes.js';
import { CLIENT_MSG_ID } from '../../chat/rules.js';
import { ConfabError } from '../../errors.js';
import { messagePayload } from '../../wire.js';
import { requireUser } from '../auth.js';
import { bodyOf, idParam } from '../request.js';

type MessageParams = { Params: { id: string; messageId: string } };
type ReactionParams = { Params: { id: string; messageId: string; emoji: string } };


/** An optional list of positive integer ids in a body field. */
function idList(raw: unknown, name: string): number[] | undefined {
  if (raw === undefined) return undefined;
  if (!Array.isArray(raw) || !raw.every((v) => Number.isSafeInteger(v) && (v as number) > 0)) {
    throw new ConfabError('bad_request', `"${name}" must be a list of ids`);
  }
  return raw as number[];
}

export const messageRoutes: FastifyPluginAsync<{ chat: ChatService; changes: MessageChanges }> = async (
  app,
  { chat, changes },
) => {
  app.addHook('preHandler', requireUser);
  const me = (request: FastifyRequest) => request.principal!;

  app.post<{ Params: { id: string } }>('/rooms/:id/messages', async (request, reply) => {
    const b = bodyOf(request);
    if (typeof b.body !== 'string') throw new ConfabError('bad_request', '"body" must be a string');
    if (b.clientMsgId !== undefined && (typeof b.clientMsgId !== 'string' || !CLIENT_MSG_ID.test(b.clientMsgId))) {
      throw new ConfabError('bad_request', '"clientMsgId" must be 1-64 characters of A-Z a-z 0-9 _ -');
    }
    if (b.replyTo !== undefined && !(Number.isSafeInteger(b.replyTo) && (b.replyTo as number) > 0)) {
      throw new ConfabError('bad_request', '"replyTo" must be a message id');
    }
    const message = await chat.send(me(request), {
      roomId: idParam(request.params.id),
      body: b.body,
      clientMsgId: (b.clientMsgId as string | undefined) ?? null,
      replyTo: b.replyTo as number | undefined,
      attachments: idList(b.attachments, 'attachments'),
    });
    return reply.status(201).send({ message: messagePayload(message) });
  });

  app.get<MessageParams>('/rooms/:id/messages/:messageId', async (request) => ({
    message: messagePayload(await changes.get(me(request), idParam(request.params.id), idParam(request.params.messageId))),
  }));

  app.patch<MessageParams>('/rooms/:id/messages/:messageId', async (request) => {
    const b = bodyOf(request);
    if (typeof b.body !== 'string') throw new ConfabError('bad_request', '"body" must be a string');
    const { message } = await changes.edit(me(request), idParam(request.params.id), idParam(request.params.messageId), b.body);
    return { message: messagePayload(message) };
  });

  app.delete<MessageParams>('/rooms/:id/messages/:messageId', async (request, reply) => {
    await changes.delete(me(request), idParam(request.params.id), idParam(request.params.messageId));
    return reply.status(204).send();
  });

  const react = (on: boolean) => async (request: FastifyRequest<ReactionParams>) => {
    const { id, messageId, emoji } = request.params;
    const { message } = await changes.react(me(request), idParam(id), idParam(messageId), emoji, on);
    return { message: messagePayload(message) };
  };
  app.put<ReactionParams>('/rooms/:id/messages/:messageId/reactions/:emoji', react(true));
  app.delete<ReactionParams>('/rooms/:id/messages/:messageId/reactions/:emoji', react(false));
};

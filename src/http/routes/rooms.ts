/** `GET /api/rooms` lists rooms; `POST /api/rooms {name}` creates one (docs/protocol.md, HTTP API). */
import type { FastifyPluginAsync } from 'fastify';
import type { ChatService } from '../../chat/chat-service.js';
import { ConfabError } from '../../errors.js';
import { roomPayload } from '../../wire.js';

export const roomRoutes: FastifyPluginAsync<{ chat: ChatService }> = async (app, { chat }) => {
  app.get('/rooms', async () => ({ rooms: (await chat.listRooms()).map(roomPayload) }));

  app.post('/rooms', async (request, reply) => {
    const body = request.body as { name?: unknown } | null | undefined;
    if (typeof body !== 'object' || body === null) {
      throw new ConfabError('bad_room_name', 'Send a JSON body: {"name": "..."}');
    }
    const room = await chat.createRoom(body.name);
    return reply.status(201).send({ room: roomPayload(room) });
  });
};

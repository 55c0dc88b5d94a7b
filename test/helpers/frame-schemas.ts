/**
 * The documented shape of every frame the server sends (docs/protocol.md), as strict zod schemas. The test
 * client checks each received frame against them, so a missing, extra or wrong-typed field, or a frame type the
 * document does not list, fails the test that received it (STYLE.md: "a schema check of every frame the server
 * sends in tests").
 */
import { z } from 'zod';

/** ISO 8601 in UTC with milliseconds, as the protocol's "Times" convention shows. */
const isoTime = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/, 'ISO 8601 UTC time');
/** A request id: an optional string of 1-64 characters, echoed from the client frame. */
const requestId = z.string().min(1).max(64).optional();
const roomId = z.number().int().positive();
const seq = z.number().int().positive();
const clientMsgId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);

const userId = z.number().int().positive();

/** A user as others see them (member lists, direct conversations, search). */
export const userSchema = z.strictObject({
  id: userId,
  username: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{2,31}$/),
  displayName: z.string().min(1).max(32),
});

/**
 * A room as `room_created`, `room_added` and the HTTP API show it. Public and private rooms have a room name;
 * a direct conversation has a hidden name and lists its members so clients can name it after the other person.
 */
export const roomSchema = z
  .strictObject({
    id: roomId,
    name: z.string().min(1),
    kind: z.enum(['public', 'private', 'direct']),
    ownerId: userId.nullable(),
    createdAt: isoTime,
    lastSeq: z.number().int().min(0),
    members: z.array(userSchema).min(2).optional(),
    /** The caller's own unread state (GET /api/rooms only). */
    readSeq: z.number().int().min(0).optional(),
    unread: z.number().int().min(0).optional(),
    mentions: z.number().int().min(0).optional(),
    notify: z.enum(['default', 'all', 'mentions', 'nothing']).optional(),
  })
  .superRefine((r, ctx) => {
    if (r.kind === 'direct') {
      if (!r.members) ctx.addIssue({ code: 'custom', message: 'a direct conversation lists its members' });
      if (r.ownerId !== null) ctx.addIssue({ code: 'custom', message: 'a direct conversation has no owner' });
    } else {
      if (r.members) ctx.addIssue({ code: 'custom', message: 'only direct conversations list members' });
      if (!/^[\p{L}\p{N}_-]{1,64}$/u.test(r.name)) ctx.addIssue({ code: 'custom', message: 'room name rules' });
    }
  });

const messageId = z.number().int().positive();

/** An attachment of a message: where to fetch it (never where it is stored). */
export const attachmentSchema = z.strictObject({
  id: z.number().int().positive(),
  name: z.string().min(1),
  type: z.string().min(1),
  size: z.number().int().min(0),
  url: z.string().regex(/^\/api\/attachments\/\d+\/[^/]+$/),
  thumbnailUrl: z.string().regex(/^\/api\/attachments\/\d+\/thumbnail$/).optional(),
  width: z.number().int().positive().optional(),
  height: z.number().int().positive().optional(),
});

/** The `message` frame, also the element of a `history` page; always the message as it stands now. */
export const messageSchema = z
  .strictObject({
    type: z.literal('message'),
    room: roomId,
    seq,
    id: messageId,
    /** The author's account; null for a guest of the original endpoint. */
    authorId: userId.nullable(),
    author: z.string().min(1),
    body: z.string(),
    time: isoTime,
    clientMsgId: clientMsgId.optional(),
    /** Ids of the users the message mentions. */
    mentions: z.array(userId),
    editedAt: isoTime.nullable(),
    deleted: z.boolean(),
    replyTo: z
      .strictObject({
        id: messageId,
        seq,
        authorId: userId.nullable(),
        author: z.string().min(1),
        excerpt: z.string(),
        deleted: z.boolean(),
      })
      .nullable(),
    reactions: z.array(z.strictObject({ emoji: z.string().min(1), users: z.array(userId).min(1) })),
    attachments: z.array(attachmentSchema),
  })
  .superRefine((m, ctx) => {
    if (m.deleted && (m.body !== '' || m.mentions.length > 0 || m.reactions.length > 0 || m.attachments.length > 0)) {
      ctx.addIssue({ code: 'custom', message: 'a deleted message keeps no text, mentions, reactions or files' });
    }
    if (!m.deleted && m.body.trim() === '' && m.attachments.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'a message has text or files' });
    }
  });

/** The `update` frame: a change (edit, delete, reaction) as a row of the room's seq stream. */
export const updateSchema = z.strictObject({
  type: z.literal('update'),
  room: roomId,
  seq,
  kind: z.enum(['edit', 'delete', 'reaction']),
  actorId: userId,
  actor: z.string().min(1),
  time: isoTime,
  message: messageSchema.nullable(),
});

/** Error codes of the protocol's error table. */
export const ERROR_CODES = [
  'bad_json',
  'bad_frame',
  'unknown_type',
  'binary_not_supported',
  'empty_message',
  'too_long',
  'bad_request',
  'not_found',
  'forbidden',
  'rate_limited',
  'store_unavailable',
  'shutting_down',
  'internal',
] as const;

/** One schema per server frame type of `/ws`. */
export const serverFrameSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('hello'),
    connectionId: z.string().min(1),
    user: z.strictObject({
      id: userId.nullable(),
      username: z.string().min(1).max(32),
      displayName: z.string().min(1).max(32),
      guest: z.boolean(),
    }),
    limits: z.strictObject({
      maxMessageChars: z.number().int().positive(),
      maxFrameBytes: z.number().int().positive(),
      maxUploadBytes: z.number().int().positive(),
      historyPageMax: z.number().int().positive(),
    }),
  }),
  z.strictObject({ type: z.literal('subscribed'), id: requestId, room: roomId, lastSeq: z.number().int().min(0) }),
  z.strictObject({ type: z.literal('resumed'), id: requestId, rooms: z.array(roomId) }),
  z.strictObject({ type: z.literal('unsubscribed'), id: requestId, room: roomId }),
  z.strictObject({ type: z.literal('room_created'), room: roomSchema }),
  z.strictObject({ type: z.literal('room_added'), room: roomSchema }),
  z.strictObject({ type: z.literal('room_removed'), room: roomId }),
  z.strictObject({
    type: z.literal('ack'),
    clientMsgId,
    room: roomId,
    seq,
    messageId: z.number().int().positive(),
    time: isoTime,
  }),
  messageSchema,
  updateSchema,
  z.strictObject({
    type: z.literal('done'),
    id: requestId,
    room: roomId,
    messageId,
    seq: seq.nullable(),
  }),
  z.strictObject({
    type: z.literal('history'),
    id: requestId,
    room: roomId,
    messages: z.array(z.union([messageSchema, updateSchema])),
    hasMore: z.boolean(),
  }),
  z.strictObject({ type: z.literal('pong'), id: requestId }),
  z.strictObject({
    type: z.literal('receipts'),
    room: roomId,
    cursors: z.array(
      z.strictObject({ user: userId, delivered: z.number().int().min(0), read: z.number().int().min(0).optional() }),
    ),
  }),
  z.strictObject({
    type: z.literal('unread'),
    rooms: z.array(
      z.strictObject({
        room: roomId,
        lastSeq: z.number().int().min(0),
        readSeq: z.number().int().min(0),
        unread: z.number().int().min(0),
        mentions: z.number().int().min(0),
        notify: z.enum(['default', 'all', 'mentions', 'nothing']),
      }),
    ),
  }),
  z.strictObject({
    type: z.literal('typing'),
    room: roomId,
    user: z.strictObject({ id: userId, displayName: z.string().min(1).max(32) }),
  }),
  z.strictObject({
    type: z.literal('presence'),
    users: z.array(
      z.strictObject({ id: userId, state: z.enum(['online', 'away', 'offline']), lastSeen: isoTime.nullable() }),
    ),
  }),
  z
    .strictObject({
      type: z.literal('error'),
      code: z.enum(ERROR_CODES),
      message: z.string().min(1),
      id: requestId,
      clientMsgId: z.string().max(64).optional(),
      room: z.number().int().optional(),
      /** With `rate_limited`: how long to wait before sending again. */
      retryAfterMs: z.number().int().positive().optional(),
    })
    .refine((e) => e.retryAfterMs === undefined || e.code === 'rate_limited', {
      message: 'retryAfterMs only on rate_limited',
    }),
]);

/** A frame of `/ws` as the server sends it. */
export type ServerFrame = z.infer<typeof serverFrameSchema>;

/** Frames of the original endpoint `/ws/chat/<room>/`: a message, or an error (connection kept). */
export const legacyFrameSchema = z.union([
  z.strictObject({ message: z.string() }),
  z.strictObject({ error: z.strictObject({ code: z.string().min(1), message: z.string().min(1) }) }),
]);

/** A frame of the original endpoint. */
export type LegacyFrame = z.infer<typeof legacyFrameSchema>;

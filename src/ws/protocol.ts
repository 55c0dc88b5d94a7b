/**
 * The wire protocol of `/ws` (docs/protocol.md): schemas of every client frame, the decoder that turns a
 * raw text frame into a typed frame or a coded error, and the builders of server frames.
 */
import { z } from 'zod';
import { ConfabError, type ErrorCode } from '../errors.js';
import { MAX_ATTACHMENTS_PER_MESSAGE, type RoomView } from '../chat/chat-service.js';
import { CLIENT_MSG_ID, MAX_EMOJI_UNITS } from '../chat/rules.js';
import type { PresenceChange } from '../chat/presence.js';
import type { Principal } from '../chat/principal.js';
import type { CursorRecord, MessageRecord, RoomRecord, UnreadRecord } from '../store/store.js';
import { roomPayload, rowPayload } from '../wire.js';

/** Largest number of rooms one `resume` may name. */
export const MAX_RESUME_ROOMS = 1000;

const requestId = z.string().min(1).max(64).optional();
const roomId = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
const seq = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const messageId = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
const clientMsgId = z.string().regex(CLIENT_MSG_ID, 'must be 1-64 characters of A-Z a-z 0-9 _ -');

// Strict objects: an unknown field is an error, and a `__proto__` key is just an unknown field.
const clientFrame = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('subscribe'), id: requestId, room: roomId, since: seq.optional() }),
  z.strictObject({ type: z.literal('unsubscribe'), id: requestId, room: roomId }),
  z.strictObject({
    type: z.literal('resume'),
    id: requestId,
    rooms: z.array(z.strictObject({ room: roomId, since: seq })).max(MAX_RESUME_ROOMS),
  }),
  z.strictObject({
    type: z.literal('send'),
    id: requestId,
    room: roomId,
    clientMsgId,
    body: z.string(),
    replyTo: messageId.optional(),
    attachments: z.array(messageId).max(MAX_ATTACHMENTS_PER_MESSAGE).optional(),
  }),
  z.strictObject({ type: z.literal('edit'), id: requestId, room: roomId, messageId, body: z.string() }),
  z.strictObject({ type: z.literal('delete'), id: requestId, room: roomId, messageId }),
  z.strictObject({
    type: z.literal('react'),
    id: requestId,
    room: roomId,
    messageId,
    emoji: z.string().max(MAX_EMOJI_UNITS),
    on: z.boolean(),
  }),
  z
    .strictObject({
      type: z.literal('history'),
      id: requestId,
      room: roomId,
      before: seq.optional(),
      after: seq.optional(),
      limit: z.number().int().min(1).max(100).optional(),
    })
    .refine((f) => f.before === undefined || f.after === undefined, 'give either before or after, not both'),
  z.strictObject({ type: z.literal('ping'), id: requestId }),
  z.strictObject({ type: z.literal('receipt'), id: requestId, room: roomId, delivered: seq.optional(), read: seq.optional() }),
  z.strictObject({ type: z.literal('typing'), id: requestId, room: roomId }),
  z.strictObject({ type: z.literal('presence'), id: requestId, state: z.enum(['active', 'away']) }),
]);

/** A validated client frame. */
export type ClientFrame = z.infer<typeof clientFrame>;

const FRAME_TYPES = new Set([
  'subscribe',
  'unsubscribe',
  'resume',
  'send',
  'edit',
  'delete',
  'react',
  'history',
  'ping',
  'receipt',
  'typing',
  'presence',
]);

/** What an error frame echoes so the client knows what it concerns. */
export interface ErrorContext {
  id?: string;
  clientMsgId?: string;
  room?: number;
}

/** A frame that could not be decoded: the error plus whatever context could be read from it. */
export class FrameError extends ConfabError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly context: ErrorContext,
  ) {
    super(code, message);
  }
}

/** Reads the echoable fields of a frame that failed validation, keeping only well-typed ones. */
function contextOf(raw: Record<string, unknown>): ErrorContext {
  const ctx: ErrorContext = {};
  if (typeof raw.id === 'string' && raw.id.length >= 1 && raw.id.length <= 64) ctx.id = raw.id;
  if (typeof raw.clientMsgId === 'string' && raw.clientMsgId.length >= 1 && raw.clientMsgId.length <= 64) {
    ctx.clientMsgId = raw.clientMsgId;
  }
  if (typeof raw.room === 'number' && Number.isSafeInteger(raw.room)) ctx.room = raw.room;
  return ctx;
}

/** Decodes one text frame; throws FrameError (bad_json, bad_frame, unknown_type). */
export function decodeClientFrame(text: string): ClientFrame {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new FrameError('bad_json', 'Frame is not valid JSON', {});
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new FrameError('bad_frame', 'Frame must be a JSON object', {});
  }
  const obj = raw as Record<string, unknown>;
  const ctx = contextOf(obj);
  if (typeof obj.type !== 'string') throw new FrameError('bad_frame', 'Frame has no "type" string', ctx);
  if (!FRAME_TYPES.has(obj.type)) {
    throw new FrameError('unknown_type', `Unknown frame type "${obj.type.slice(0, 32)}"`, ctx);
  }
  const parsed = clientFrame.safeParse(obj);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
    throw new FrameError('bad_frame', `${obj.type}: ${where}${issue.message}`, ctx);
  }
  return parsed.data;
}

/** Serialized server frames. Each returns the text to send, built once per call. */
export const serverFrame = {
  hello: (
    connectionId: string,
    p: Principal,
    limits: { maxMessageChars: number; maxFrameBytes: number; maxUploadBytes: number; historyPageMax: number },
  ) =>
    JSON.stringify({
      type: 'hello',
      connectionId,
      user: { id: p.userId, username: p.username, displayName: p.displayName, guest: p.userId === null },
      limits,
    }),
  /** A row of a room's `seq` stream: a `message`, or an `update` for a change. */
  row: (m: MessageRecord) => JSON.stringify(rowPayload(m)),
  /** The answer to `edit`, `delete` and `react`: `seq` of the change, or null when nothing changed. */
  done: (id: string | undefined, message: MessageRecord, seq: number | null) =>
    JSON.stringify({ type: 'done', id, room: message.roomId, messageId: message.id, seq }),
  ack: (m: MessageRecord) =>
    JSON.stringify({
      type: 'ack',
      clientMsgId: m.clientMsgId,
      room: m.roomId,
      seq: m.seq,
      messageId: m.id,
      time: new Date(m.createdAt).toISOString(),
    }),
  subscribed: (id: string | undefined, room: number, lastSeq: number) =>
    JSON.stringify({ type: 'subscribed', id, room, lastSeq }),
  unsubscribed: (id: string | undefined, room: number) => JSON.stringify({ type: 'unsubscribed', id, room }),
  resumed: (id: string | undefined, rooms: number[]) => JSON.stringify({ type: 'resumed', id, rooms }),
  history: (id: string | undefined, room: number, messages: MessageRecord[], hasMore: boolean) =>
    JSON.stringify({ type: 'history', id, room, messages: messages.map(rowPayload), hasMore }),
  roomCreated: (r: RoomRecord) => JSON.stringify({ type: 'room_created', room: roomPayload(r) }),
  roomAdded: (r: RoomView) => JSON.stringify({ type: 'room_added', room: roomPayload(r) }),
  roomRemoved: (room: number) => JSON.stringify({ type: 'room_removed', room }),
  pong: (id: string | undefined) => JSON.stringify({ type: 'pong', id }),
  /**
   * Cursors of a room. `viewerId` sees its own `read` even when private; everyone else sees a private
   * reader's `delivered` only.
   */
  receipts: (room: number, cursors: CursorRecord[], viewerId: number | null) =>
    JSON.stringify({
      type: 'receipts',
      room,
      cursors: cursors.map((c) =>
        c.privateReceipts && c.userId !== viewerId
          ? { user: c.userId, delivered: c.deliveredSeq }
          : { user: c.userId, delivered: c.deliveredSeq, read: c.readSeq },
      ),
    }),
  unread: (rooms: UnreadRecord[]) =>
    JSON.stringify({
      type: 'unread',
      rooms: rooms.map((r) => ({
        room: r.roomId,
        lastSeq: r.lastSeq,
        readSeq: r.readSeq,
        unread: r.unread,
        mentions: r.mentions,
        notify: r.notify,
      })),
    }),
  typing: (room: number, user: { id: number; displayName: string }) =>
    JSON.stringify({ type: 'typing', room, user: { id: user.id, displayName: user.displayName } }),
  presence: (users: PresenceChange[]) =>
    JSON.stringify({
      type: 'presence',
      users: users.map((u) => ({
        id: u.id,
        state: u.state,
        lastSeen: u.lastSeen === null ? null : new Date(u.lastSeen).toISOString(),
      })),
    }),
  error: (err: ConfabError, ctx: ErrorContext) =>
    JSON.stringify({
      type: 'error',
      code: err.code,
      message: err.message,
      ...ctx,
      ...(err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}),
    }),
};

/** The original Django Channels tutorial's frame: `{"message": "..."}`. */
export const legacyFrame = {
  /** Null for rows the original protocol cannot express (edits, deletes, reactions): they are skipped. */
  message: (m: MessageRecord): string | null => (m.kind === 'message' ? JSON.stringify({ message: m.body }) : null),
  error: (err: ConfabError) => JSON.stringify({ error: { code: err.code, message: err.message } }),
};

const legacyInbound = z.object({ message: z.string() });

/** Decodes an original-protocol frame to its message text; throws FrameError. Extra fields are ignored, as Django's consumer does. */
export function decodeLegacyFrame(text: string): string {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new FrameError('bad_json', 'Frame is not valid JSON', {});
  }
  const parsed = legacyInbound.safeParse(raw);
  if (!parsed.success) throw new FrameError('bad_frame', 'Expected {"message": "<text>"}', {});
  return parsed.data.message;
}

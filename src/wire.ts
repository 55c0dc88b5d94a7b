/**
 * How stored records look on the wire, shared by the WebSocket frames and the HTTP API so both show a
 * message or a room the same way (docs/protocol.md).
 */
import type { UserView } from './chat/principal.js';
import type { MessageRecord, RoomRecord } from './store/store.js';

/** The `message` frame's payload for a stored message (also used inside `history` pages). */
export function messagePayload(m: MessageRecord) {
  return {
    type: 'message' as const,
    room: m.roomId,
    seq: m.seq,
    id: m.id,
    authorId: m.authorId,
    author: m.author,
    body: m.body,
    time: new Date(m.createdAt).toISOString(),
    ...(m.clientMsgId !== null ? { clientMsgId: m.clientMsgId } : {}),
    mentions: m.mentions,
  };
}

/** A room as clients see it; direct conversations list their members so clients can name them. */
export function roomPayload(
  r: RoomRecord & { members?: UserView[]; readSeq?: number; unread?: number; mentions?: number; notify?: string },
) {
  return {
    id: r.id,
    name: r.name,
    kind: r.kind,
    ownerId: r.ownerId,
    createdAt: new Date(r.createdAt).toISOString(),
    lastSeq: r.lastSeq,
    ...(r.members ? { members: r.members } : {}),
    // The caller's own unread state, on sidebar lists only.
    ...(r.readSeq !== undefined ? { readSeq: r.readSeq, unread: r.unread, mentions: r.mentions, notify: r.notify } : {}),
  };
}

/** A user as others see them (no password hash, no admin flag). */
export function userPayload(u: UserView) {
  return { id: u.id, username: u.username, displayName: u.displayName };
}


/**
 * How stored records look on the wire, shared by the WebSocket frames and the HTTP API so both show a
 * message or a room the same way (docs/protocol.md).
 */
import type { UserView } from './chat/principal.js';
import type { AttachmentRecord, MessageRecord, RoomRecord } from './store/store.js';

const iso = (ms: number) => new Date(ms).toISOString();

/** An attachment as clients see it: where to fetch it, never where it is stored. */
export function attachmentPayload(a: AttachmentRecord) {
  return {
    id: a.id,
    name: a.name,
    type: a.contentType,
    size: a.size,
    url: `/api/attachments/${a.id}/${encodeURIComponent(a.name)}`,
    ...(a.thumbnailKey !== null ? { thumbnailUrl: `/api/attachments/${a.id}/thumbnail` } : {}),
    ...(a.width !== null && a.height !== null ? { width: a.width, height: a.height } : {}),
  };
}

/** The `message` frame's payload for a stored message, as it stands now (also inside `history` pages). */
export function messagePayload(m: MessageRecord) {
  return {
    type: 'message' as const,
    room: m.roomId,
    seq: m.seq,
    id: m.id,
    authorId: m.authorId,
    author: m.author,
    body: m.body,
    time: iso(m.createdAt),
    ...(m.clientMsgId !== null ? { clientMsgId: m.clientMsgId } : {}),
    mentions: m.mentions,
    editedAt: m.editedAt !== null ? iso(m.editedAt) : null,
    deleted: m.deletedAt !== null,
    replyTo: m.replyTo,
    reactions: m.reactions.map((r) => ({ emoji: r.emoji, users: r.userIds })),
    attachments: m.attachments.map(attachmentPayload),
  };
}

/** The `update` frame's payload for a change row: who changed what, and the changed message as it stands now. */
export function updatePayload(m: MessageRecord) {
  return {
    type: 'update' as const,
    room: m.roomId,
    seq: m.seq,
    kind: m.kind,
    actorId: m.authorId,
    actor: m.author,
    time: iso(m.createdAt),
    message: m.target ? messagePayload(m.target) : null,
  };
}

/** Any row of a room's `seq` stream: a message, or a change to one. */
export function rowPayload(m: MessageRecord) {
  return m.kind === 'message' ? messagePayload(m) : updatePayload(m);
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


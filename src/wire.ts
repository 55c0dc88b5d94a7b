/**
 * How stored records look on the wire, shared by the WebSocket frames and the HTTP API so both show a
 * message or a room the same way (docs/protocol.md).
 */
import type { MessageRecord, RoomRecord } from './store/store.js';

/** The `message` frame's payload for a stored message (also used inside `history` pages). */
export function messagePayload(m: MessageRecord) {
  return {
    type: 'message' as const,
    room: m.roomId,
    seq: m.seq,
    id: m.id,
    author: m.author,
    body: m.body,
    time: new Date(m.createdAt).toISOString(),
    ...(m.clientMsgId !== null ? { clientMsgId: m.clientMsgId } : {}),
  };
}

/** A room as clients see it. */
export function roomPayload(r: RoomRecord) {
  return { id: r.id, name: r.name, createdAt: new Date(r.createdAt).toISOString(), lastSeq: r.lastSeq };
}


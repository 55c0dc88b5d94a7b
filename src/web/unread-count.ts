/**
 * How many messages of a room are unread, and how many of those mention me: the server's last count, plus
 * what arrived since, minus what was read here since. Pure, so the arithmetic is tested on its own
 * (test/unit/web-unread-count.test.ts). Counted as the server counts: others' messages that are not deleted;
 * changes (edits, deletes, reactions) are never messages here.
 */
import type { ChatMessage } from './protocol.js';

/** The server's count for a room at one moment (from `GET /api/rooms` or an `unread` frame). */
export interface UnreadBase {
  lastSeq: number;
  readSeq: number;
  unread: number;
  mentions: number;
}

export interface UnreadCount {
  unread: number;
  mentions: number;
}

/**
 * `messages` are the room's held messages in seq order; `read` is my read cursor as this page knows it.
 */
export function countUnread(base: UnreadBase, read: number, messages: readonly ChatMessage[], meId: number): UnreadCount {
  const counts = (m: ChatMessage) => m.authorId !== meId && m.deleted !== true;
  const mentionsMe = (m: ChatMessage) => (m.mentions ?? []).includes(meId);
  if (read >= base.lastSeq) {
    const news = messages.filter((m) => m.seq > read && counts(m));
    return { unread: news.length, mentions: news.filter(mentionsMe).length };
  }
  const news = messages.filter((m) => m.seq > base.lastSeq && counts(m));
  const readHere = messages.filter((m) => m.seq > base.readSeq && m.seq <= read && counts(m));
  return {
    unread: Math.max(0, base.unread + news.length - readHere.length),
    mentions: Math.max(0, base.mentions + news.filter(mentionsMe).length - readHere.filter(mentionsMe).length),
  };
}

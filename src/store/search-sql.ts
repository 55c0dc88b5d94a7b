/**
 * What the two stores' search SQL shares: the access rule written once in SQL, and the step from the ids a
 * dialect found (in order) to the hits the Store interface returns. Each dialect file builds its own match
 * expression from the query's words; neither ever sees the user's raw text.
 */
import type { MessageRecord, RoomRecord, SearchHit, SearchQuery } from './store.js';

/**
 * The rooms a reader may read, as a condition on `m.room_id`: public rooms and rooms they are a member of,
 * the same rule as ChatService.canRead. `reader` is the dialect's placeholder for the reader's id (a null
 * reader, a guest, matches no membership and so reads public rooms only).
 */
export const readableBy = (reader: string): string =>
  `(m.room_id IN (SELECT id FROM rooms WHERE kind = 'public') OR m.room_id IN (SELECT room_id FROM room_members WHERE user_id = ${reader}))`;

/** A message of the seq stream that search may find: a message, not a change, not deleted. */
export const SEARCHABLE = "m.kind = 'message' AND m.deleted_at IS NULL";

/**
 * A search with words considers only the newest this many messages that match them (highest ids first) among
 * those the reader may read and the filters keep; `relevance` ranks within them and `newest` pages through
 * them. Ranking every match cost time proportional to history on the event loop (a two-letter prefix matched
 * most of it). Larger than MAX_SEARCH_OFFSET + SEARCH_PAGE_MAX (src/chat/search.ts), so `newest` pages as far
 * as offsets go without reaching the cap.
 */
export const MAX_SEARCH_CANDIDATES = 2000;

/** The candidate cap of a query: its own (tests) or MAX_SEARCH_CANDIDATES. */
export const candidatesOf = (q: SearchQuery): number => q.candidates ?? MAX_SEARCH_CANDIDATES;

/** The tie-break of both sorts: newest first, then the later id (same time, later insert). */
export const NEWEST_FIRST = 'm.created_at DESC, m.id DESC';

/** The optional filters of a query, as conditions; `ph(name)` gives the dialect's placeholder for a value. */
export function filterConditions(q: SearchQuery, ph: (name: 'room' | 'author' | 'after' | 'before') => string): string[] {
  const out: string[] = [];
  if (q.roomId !== undefined) out.push(`m.room_id = ${ph('room')}`);
  if (q.authorId !== undefined) out.push(`m.author_id = ${ph('author')}`);
  if (q.after !== undefined) out.push(`m.created_at >= ${ph('after')}`);
  if (q.before !== undefined) out.push(`m.created_at < ${ph('before')}`);
  return out;
}

/** Pairs the found messages (in the found order) with their rooms; ids no longer there are skipped. */
export function hitsOf(ids: number[], messages: MessageRecord[], rooms: RoomRecord[]): SearchHit[] {
  const byId = new Map(messages.map((m) => [m.id, m]));
  const roomById = new Map(rooms.map((r) => [r.id, r]));
  return ids.flatMap((id) => {
    const message = byId.get(id);
    const room = message && roomById.get(message.roomId);
    return message && room ? [{ message, room }] : [];
  });
}

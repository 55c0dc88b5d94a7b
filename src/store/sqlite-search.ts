/**
 * Search on SQLite: FTS5 over the external-content table `messages_fts` (migration 4), ranked by bm25 among
 * the newest MAX_SEARCH_CANDIDATES matches (search-sql.ts), so a search's cost does not grow with history.
 * The MATCH string is built from the query's words only, each quoted as an FTS5 string, so no user text can
 * become an FTS5 operator (AND, OR, NOT, NEAR, `*`, `^`, column filters).
 */
import type Database from 'better-sqlite3';
import { toRoom, type RoomRow } from './rows.js';
import { candidatesOf, filterConditions, NEWEST_FIRST, readableBy, SEARCHABLE } from './search-sql.js';
import type { RoomRecord, SearchClause, SearchQuery } from './store.js';

/** An FTS5 string literal: double quotes, with inner ones doubled (words never hold any; defence in depth). */
const ftsString = (text: string) => `"${text.replaceAll('"', '""')}"`;

/** The FTS5 MATCH expression of the clauses: every clause (a phrase, `*` for a prefix) must match. */
export function fts5Match(clauses: readonly SearchClause[]): string {
  return clauses.map((c) => `${ftsString(c.words.join(' '))}${c.prefix ? '*' : ''}`).join(' AND ');
}

/** Statements per SQL text: a query's shape (which filters, which sort) picks one of a few dozen. */
const cache = new WeakMap<Database.Database, Map<string, Database.Statement>>();

function prepared(db: Database.Database, sql: string): Database.Statement {
  let byText = cache.get(db);
  if (!byText) cache.set(db, (byText = new Map()));
  let stmt = byText.get(sql);
  if (!stmt) byText.set(sql, (stmt = db.prepare(sql)));
  return stmt;
}

/** The SQL of a query and its named parameters (apart for tests, which read its query plan). */
export function sqliteSearchStatement(q: SearchQuery): { sql: string; params: Record<string, unknown> } {
  const params: Record<string, unknown> = { reader: q.readerId, limit: q.limit, offset: q.offset };
  const where = [SEARCHABLE, readableBy('@reader'), ...filterConditions(q, (name) => `@${name}`)];
  if (q.roomId !== undefined) params.room = q.roomId;
  if (q.authorId !== undefined) params.author = q.authorId;
  if (q.after !== undefined) params.after = q.after;
  if (q.before !== undefined) params.before = q.before;
  let sql: string;
  if (q.clauses.length > 0) {
    // The newest candidatesOf(q) readable matches: the FTS5 cursor walks the match by rowid downwards (CROSS
    // JOIN keeps it the outer loop, so that order needs no sort) and stops at the cap; bm25 is computed for
    // those rows only, then they are ordered and paged.
    params.match = fts5Match(q.clauses);
    params.candidates = candidatesOf(q);
    const rank = q.sort === 'relevance' ? 'bm25(messages_fts)' : '0';
    sql = `SELECT m.id FROM (
        SELECT m.id, m.created_at, ${rank} AS rank FROM messages_fts CROSS JOIN messages m ON m.id = messages_fts.rowid
        WHERE messages_fts MATCH @match AND ${where.join(' AND ')} ORDER BY messages_fts.rowid DESC LIMIT @candidates
      ) m ORDER BY m.rank, ${NEWEST_FIRST} LIMIT @limit OFFSET @offset`;
  } else {
    // Filters alone name a room or an author (the search service requires one): messages_room_created or
    // messages_author_created (migration 4) yields them newest first, so the scan stops after the page.
    sql = `SELECT m.id FROM messages m WHERE ${where.join(' AND ')} ORDER BY ${NEWEST_FIRST} LIMIT @limit OFFSET @offset`;
  }
  return { sql, params };
}

/** The ids of the matching messages in result order, and the rooms they are in. */
export function sqliteSearch(db: Database.Database, q: SearchQuery): { ids: number[]; rooms: RoomRecord[] } {
  const { sql, params } = sqliteSearchStatement(q);
  const ids = (prepared(db, sql).all(params) as Array<{ id: number }>).map((r) => r.id);
  if (ids.length === 0) return { ids, rooms: [] };
  const rooms = (
    prepared(db, 'SELECT * FROM rooms WHERE id IN (SELECT DISTINCT room_id FROM messages WHERE id IN (SELECT value FROM json_each(?)))').all(
      JSON.stringify(ids),
    ) as RoomRow[]
  ).map(toRoom);
  return { ids, rooms };
}

/**
 * Search on PostgreSQL: the generated `search` tsvector column with its GIN index (migration 4), ranked by
 * ts_rank with length normalisation (closest to SQLite's bm25, which also prefers the shorter of two messages
 * with the same words) among the newest MAX_SEARCH_CANDIDATES matches (search-sql.ts), as on SQLite. The
 * tsquery is written from the query's words as quoted lexemes and cast with `::tsquery`, so it is taken
 * literally: no parser, no dictionary, no operator from the user's text.
 */
import { toRoom, type RoomRow } from './rows.js';
import { candidatesOf, filterConditions, NEWEST_FIRST, readableBy, SEARCHABLE } from './search-sql.js';
import type { RoomRecord, SearchClause, SearchQuery } from './store.js';

/** ts_rank normalisation 1: divides the rank by 1 + the logarithm of the document's length. */
const RANK_NORMALIZATION = 1;

/** A tsquery lexeme literal: single quotes, with quotes and backslashes escaped (words never hold any). */
const lexeme = (word: string) => `'${word.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;

/** The tsquery text of the clauses: words of a phrase follow each other (`<->`), clauses are ANDed. */
export function tsqueryText(clauses: readonly SearchClause[]): string {
  return clauses
    .map((c) => {
      const words = c.words.map((w, i) => `${lexeme(w)}${c.prefix && i === c.words.length - 1 ? ':*' : ''}`);
      return words.length > 1 ? `(${words.join(' <-> ')})` : words[0]!;
    })
    .join(' & ');
}

/** Runs one query on the store's pool (PostgresStore passes its own error-translating runner). */
export type PgQuery = (sql: string, params: unknown[]) => Promise<unknown[]>;

/** The ids of the matching messages in result order, and the rooms they are in. */
export async function postgresSearch(query: PgQuery, q: SearchQuery): Promise<{ ids: number[]; rooms: RoomRecord[] }> {
  const params: unknown[] = [q.readerId];
  const values: Record<string, unknown> = { room: q.roomId, author: q.authorId, after: q.after, before: q.before };
  const where = [
    SEARCHABLE,
    readableBy('$1'),
    ...filterConditions(q, (name) => {
      params.push(values[name]);
      return `$${params.length}`;
    }),
  ];
  let sql: string;
  if (q.clauses.length > 0) {
    // The newest candidatesOf(q) readable matches (by id, as on SQLite), then ranked and paged among those only.
    params.push(tsqueryText(q.clauses));
    const tsq = `$${params.length}::tsquery`;
    where.push(`m.search @@ ${tsq}`);
    const rank = q.sort === 'relevance' ? `ts_rank(m.search, ${tsq}, ${RANK_NORMALIZATION}) DESC, ` : '';
    params.push(candidatesOf(q), q.limit, q.offset);
    const n = params.length;
    sql = `WITH candidates AS MATERIALIZED (
        SELECT m.id, m.created_at, m.search FROM messages m WHERE ${where.join(' AND ')} ORDER BY m.id DESC LIMIT $${n - 2}
      ) SELECT m.id FROM candidates m ORDER BY ${rank}${NEWEST_FIRST} LIMIT $${n - 1} OFFSET $${n}`;
  } else {
    // Filters alone name a room or an author (the search service requires one), served newest first by
    // messages_room_created or messages_author_created (migration 4).
    params.push(q.limit, q.offset);
    sql = `SELECT m.id FROM messages m WHERE ${where.join(' AND ')}
      ORDER BY ${NEWEST_FIRST} LIMIT $${params.length - 1} OFFSET $${params.length}`;
  }
  const ids = ((await query(sql, params)) as Array<{ id: number }>).map((r) => r.id);
  if (ids.length === 0) return { ids, rooms: [] };
  const rooms = (await query(
    'SELECT * FROM rooms WHERE id IN (SELECT DISTINCT room_id FROM messages WHERE id = ANY($1::bigint[]))',
    [ids],
  )) as RoomRow[];
  return { ids, rooms: rooms.map(toRoom) };
}

/**
 * The PostgreSQL Store, for several instances sharing one database. Same contract as SqliteStore (the same
 * test suite runs against both). `seq` is gapless because the room row's `last_seq` is bumped with
 * UPDATE ... RETURNING inside the insert's transaction: the row lock orders concurrent senders, and a rolled
 * back insert gives its number back.
 */
import pg from 'pg';
import {
  REPLY_EXCERPT_CHARS,
  ROOM_COLUMNS,
  SESSION_HOLDER_SELECT,
  TOKEN_HOLDER_SELECT,
  SESSION_COLUMNS,
  TOKEN_COLUMNS,
  attachRelated,
  attachTargets,
  relatedIdsOf,
  targetIdsOf,
  toAttachment,
  toCursor,
  toMember,
  toMessage,
  toRoom,
  toSession,
  toSessionHolder,
  toToken,
  toTokenHolder,
  toUnread,
  toUser,
  type AttachmentRow,
  type CursorRow,
  type MemberRow,
  type MessageRow,
  type ReactionRow,
  type ReplyRow,
  type RoomRow,
  type SessionHolderRow,
  type SessionRow,
  type TokenHolderRow,
  type TokenRow,
  type UnreadRow,
  type UserRow,
} from './rows.js';
import { POSTGRES_MIGRATIONS } from './postgres-migrations.js';
import { postgresSearch } from './postgres-search.js';
import { hitsOf } from './search-sql.js';
import type { SearchHit, SearchQuery } from './store.js';
import {
  StoreConflictError,
  StoreUnavailableError,
  type ApiTokenRecord,
  type AttachmentRecord,
  type ChangeResult,
  type CursorMove,
  type CursorRecord,
  type InsertResult,
  type NotifyLevel,
  type PeerRecord,
  type UnreadRecord,
  type MemberRecord,
  type MessageDelete,
  type MessageEdit,
  type MessageKind,
  type MessageRecord,
  type NewAttachment,
  type NewMessage,
  type NewRoom,
  type NewUser,
  type ReactionChange,
  type RoomRecord,
  type SessionHolder,
  type SessionRecord,
  type TokenHolder,
  type Store,
  type UserRecord,
} from './store.js';

/** Connections per instance. */
export const PG_POOL_SIZE = 10;
/** How long a query waits for a free connection or a new one before failing (then the store is unavailable). */
export const PG_CONNECT_TIMEOUT_MS = 5000;
/** Any statement taking longer is cancelled, so a stuck database cannot hold a sender forever. */
export const PG_STATEMENT_TIMEOUT_MS = 10_000;
/** Arbitrary key of the advisory lock that serialises migrations of instances starting together. */
const MIGRATION_LOCK = 4_242_001;

// BIGINT columns (ids, seqs, epoch milliseconds) stay below 2^53: read them as numbers, not strings.
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** PostgreSQL's message row: BIGINT[] comes back as strings (the INT8 parser applies to scalars only). */
interface PgMessageRow extends MessageRow {
  mention_ids?: Array<string | number> | null;
}

const toMessageRecord = (r: PgMessageRow): MessageRecord => toMessage(r, (r.mention_ids ?? []).map(Number));

/** A message row's columns (never the search vector). */
const MESSAGE_COLUMNS = `id, room_id, seq, author_id, author, body, client_msg_id, created_at, kind, target_id, reply_to_id,
  edited_at, deleted_at`;

/** A message with the ids it mentions, for every query that reads messages (`m` is the messages alias). */
const MESSAGE_SELECT = `SELECT ${MESSAGE_COLUMNS.replace(/(\w+)/g, 'm.$1')}, ARRAY(SELECT user_id FROM mentions
  WHERE room_id = m.room_id AND seq = m.seq ORDER BY user_id) AS mention_ids FROM messages m`;

/**
 * insertPlain's statement ($1 room, $2 author id, $3 author, $4 body, $5 clientMsgId, $6 created at, $7 mentioned
 * ids): nothing when the clientMsgId is stored already or the room does not exist, else the new row. Mentions
 * are inserted by the same statement; their foreign keys are checked at its end, after the message row exists.
 */
const INSERT_PLAIN_MESSAGE = `WITH existing AS (
    SELECT 1 FROM messages WHERE room_id = $1 AND client_msg_id = $5
  ), bumped AS (
    UPDATE rooms SET last_seq = last_seq + 1 WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM existing) RETURNING last_seq
  ), inserted AS (
    INSERT INTO messages (room_id, seq, author_id, author, body, client_msg_id, created_at)
    SELECT $1, last_seq, $2, $3, $4, $5, $6 FROM bumped RETURNING ${MESSAGE_COLUMNS}
  ), mentioned AS (
    INSERT INTO mentions (room_id, seq, user_id) SELECT $1, i.seq, u FROM inserted i, unnest($7::bigint[]) AS u
  )
  SELECT * FROM inserted`;

/** Something to run a query on: the pool, or the client of a transaction (which sees its own writes). */
type Queryable = Pick<pg.Pool, 'query'>;

/** The member's unread state per room; $1 is the user id. */
const UNREAD_SELECT = `SELECT r.id AS room_id, r.last_seq, rm.read_seq, rm.notify,
  (SELECT count(*) FROM messages x WHERE x.room_id = r.id AND x.seq > rm.read_seq AND x.kind = 'message'
     AND x.deleted_at IS NULL AND (x.author_id IS NULL OR x.author_id <> rm.user_id)) AS unread,
  (SELECT count(*) FROM mentions y WHERE y.room_id = r.id AND y.seq > rm.read_seq AND y.user_id = rm.user_id) AS mentions
  FROM room_members rm JOIN rooms r ON r.id = rm.room_id WHERE rm.user_id = $1`;

/**
 * SQLSTATEs that mean "not now, try again", as opposed to a bad statement: connection (08), resources (53),
 * operator intervention (57), system (58), and a transaction the server rolled back to break a deadlock or a
 * serialization conflict (40001, 40P01).
 */
const UNAVAILABLE_STATES = /^(08|53|57|58|40001$|40P01$)/;

/** Maps PostgreSQL and connection errors onto the store's typed errors. */
function translated(err: unknown): unknown {
  const code = (err as { code?: unknown }).code;
  if (code === '23505' || code === '23503') return new StoreConflictError((err as Error).message, { cause: err });
  if (typeof code === 'string' && (UNAVAILABLE_STATES.test(code) || /^E[A-Z]+$/.test(code))) {
    return new StoreUnavailableError((err as Error).message, { cause: err });
  }
  const message = (err as Error | undefined)?.message ?? '';
  if (/timeout|Connection terminated|connect|pool.*(ended|closed)|Cannot use a pool/i.test(message)) {
    return new StoreUnavailableError(message, { cause: err });
  }
  return err;
}

export class PostgresStore implements Store {
  private readonly pool: pg.Pool;

  constructor(connectionString: string) {
    this.pool = new pg.Pool({
      connectionString,
      max: PG_POOL_SIZE,
      connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS,
      statement_timeout: PG_STATEMENT_TIMEOUT_MS,
      types,
    });
    // An idle client losing its connection (database restart) must not crash the process.
    this.pool.on('error', () => {});
  }

  private async q<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
    try {
      return (await this.pool.query<R>(sql, params)).rows;
    } catch (err) {
      throw translated(err);
    }
  }

  private async one<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R | null> {
    return (await this.q<R>(sql, params))[0] ?? null;
  }

  /** Runs `fn` in a transaction on one connection. */
  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw translated(err);
    }
    // A checked-out client whose server goes away (restart, `pg_ctl stop`) emits 'error' besides failing its
    // query; the pool listens only on idle clients, and an unheard 'error' event would crash the process.
    let broken: unknown = null;
    const onError = (err: unknown) => {
      broken = err;
    };
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw translated(err);
    } finally {
      client.off('error', onError);
      // A broken connection goes back destroyed, not into the pool for the next caller.
      client.release(broken !== null ? (broken as Error) : undefined);
    }
  }

  async migrate(): Promise<void> {
    await this.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      await c.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
      const { rows } = await c.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations');
      for (let v = rows[0]?.v ?? 0; v < POSTGRES_MIGRATIONS.length; v++) {
        await c.query(POSTGRES_MIGRATIONS[v]!);
        await c.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [v + 1, Date.now()]);
      }
    });
  }

  async createRoom(r: NewRoom): Promise<RoomRecord> {
    return this.tx((c) => this.insertRoom(c, r, null, r.ownerId !== null ? [r.ownerId] : []));
  }

  private async insertRoom(c: pg.PoolClient, r: NewRoom, directKey: string | null, members: number[]): Promise<RoomRecord> {
    const { rows } = await c.query<RoomRow>(
      `INSERT INTO rooms (name, name_key, kind, owner_id, direct_key, created_at) VALUES ($1, $2, $3, $4, $5, $6)
       RETURNING id, name, kind, owner_id, created_at, last_seq`,
      [r.name, r.nameKey, r.kind, r.ownerId, directKey, r.createdAt],
    );
    const room = toRoom(rows[0]!);
    for (const userId of members) {
      await c.query('INSERT INTO room_members (room_id, user_id, joined_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [
        room.id,
        userId,
        r.createdAt,
      ]);
    }
    return room;
  }

  async getRoom(id: number): Promise<RoomRecord | null> {
    const row = await this.one<RoomRow>('SELECT id, name, kind, owner_id, created_at, last_seq FROM rooms WHERE id = $1', [id]);
    return row ? toRoom(row) : null;
  }

  async findRoomByKey(nameKey: string): Promise<RoomRecord | null> {
    const row = await this.one<RoomRow>(
      'SELECT id, name, kind, owner_id, created_at, last_seq FROM rooms WHERE name_key = $1',
      [nameKey],
    );
    return row ? toRoom(row) : null;
  }

  async listPublicRooms(): Promise<RoomRecord[]> {
    return (
      await this.q<RoomRow>("SELECT id, name, kind, owner_id, created_at, last_seq FROM rooms WHERE kind = 'public' ORDER BY name_key")
    ).map(toRoom);
  }

  async listAllRooms(): Promise<RoomRecord[]> {
    return (await this.q<RoomRow>('SELECT id, name, kind, owner_id, created_at, last_seq FROM rooms ORDER BY id')).map(toRoom);
  }

  async listUserRooms(userId: number): Promise<RoomRecord[]> {
    return (
      await this.q<RoomRow>(
        `SELECT ${ROOM_COLUMNS} FROM rooms r JOIN room_members m ON m.room_id = r.id WHERE m.user_id = $1 ORDER BY r.name_key`,
        [userId],
      )
    ).map(toRoom);
  }

  async findOrCreateDirect(userIds: number[], createdAt: number): Promise<RoomRecord> {
    const ids = [...new Set(userIds)].sort((a, b) => a - b);
    const key = ids.join(',');
    const name = `@${key}`;
    return this.tx(async (c) => {
      // ON CONFLICT makes a concurrent second creator wait for the first and then find its room.
      const { rows } = await c.query<RoomRow>(
        `INSERT INTO rooms (name, name_key, kind, owner_id, direct_key, created_at)
         VALUES ($1, $1, 'direct', NULL, $2, $3)
         ON CONFLICT (direct_key) WHERE direct_key IS NOT NULL DO NOTHING
         RETURNING id, name, kind, owner_id, created_at, last_seq`,
        [name, key, createdAt],
      );
      if (rows[0]) {
        for (const userId of ids) {
          await c.query('INSERT INTO room_members (room_id, user_id, joined_at) VALUES ($1, $2, $3)', [rows[0].id, userId, createdAt]);
        }
        return toRoom(rows[0]);
      }
      const found = await c.query<RoomRow>(
        'SELECT id, name, kind, owner_id, created_at, last_seq FROM rooms WHERE direct_key = $1',
        [key],
      );
      return toRoom(found.rows[0]!);
    });
  }

  async setRoomOwner(roomId: number, userId: number): Promise<void> {
    await this.q('UPDATE rooms SET owner_id = $1 WHERE id = $2', [userId, roomId]);
  }

  async addMember(roomId: number, userId: number, joinedAt: number): Promise<void> {
    await this.q('INSERT INTO room_members (room_id, user_id, joined_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [
      roomId,
      userId,
      joinedAt,
    ]);
  }

  async removeMember(roomId: number, userId: number): Promise<boolean> {
    return (await this.q('DELETE FROM room_members WHERE room_id = $1 AND user_id = $2 RETURNING 1', [roomId, userId])).length > 0;
  }

  async isMember(roomId: number, userId: number): Promise<boolean> {
    return (await this.one('SELECT 1 FROM room_members WHERE room_id = $1 AND user_id = $2', [roomId, userId])) !== null;
  }

  async listMembers(roomId: number): Promise<MemberRecord[]> {
    const rows = await this.q<MemberRow>(
      `SELECT m.user_id, u.username, u.display_name, m.joined_at FROM room_members m
       JOIN users u ON u.id = m.user_id WHERE m.room_id = $1 ORDER BY u.username_key`,
      [roomId],
    );
    return rows.map(toMember);
  }

  async createUser(u: NewUser): Promise<UserRecord> {
    const row = await this.one<UserRow>(
      `INSERT INTO users (username, username_key, display_name, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)
       RETURNING *`,
      [u.username, u.usernameKey, u.displayName, u.passwordHash, u.createdAt],
    );
    return toUser(row!);
  }

  async getUser(id: number): Promise<UserRecord | null> {
    const row = await this.one<UserRow>('SELECT * FROM users WHERE id = $1', [id]);
    return row ? toUser(row) : null;
  }

  async findUserByKey(usernameKey: string): Promise<UserRecord | null> {
    const row = await this.one<UserRow>('SELECT * FROM users WHERE username_key = $1', [usernameKey]);
    return row ? toUser(row) : null;
  }

  async searchUsers(prefix: string, limit: number): Promise<UserRecord[]> {
    const pattern = `${prefix.toLowerCase().replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
    const rows = await this.q<UserRow>(
      `SELECT * FROM users WHERE username_key LIKE $1 OR lower(display_name) LIKE $1 ORDER BY username_key LIMIT $2`,
      [pattern, limit],
    );
    return rows.map(toUser);
  }

  async listUsers(): Promise<UserRecord[]> {
    return (await this.q<UserRow>('SELECT * FROM users ORDER BY username_key')).map(toUser);
  }

  async setPasswordHash(userId: number, passwordHash: string): Promise<void> {
    await this.q('UPDATE users SET password_hash = $1 WHERE id = $2', [passwordHash, userId]);
  }

  async setAdmin(userId: number, isAdmin: boolean): Promise<void> {
    await this.q('UPDATE users SET is_admin = $1 WHERE id = $2', [isAdmin, userId]);
  }

  async createSession(tokenHash: string, userId: number, createdAt: number, expiresAt: number): Promise<SessionRecord> {
    const row = await this.one<SessionRow>(
      `INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4) RETURNING ${SESSION_COLUMNS}`,
      [tokenHash, userId, createdAt, expiresAt],
    );
    return toSession(row!);
  }

  async findSession(tokenHash: string, now: number): Promise<SessionHolder | null> {
    const row = await this.one<SessionHolderRow>(`${SESSION_HOLDER_SELECT} WHERE s.token_hash = $1 AND s.expires_at > $2`, [
      tokenHash,
      now,
    ]);
    return row ? toSessionHolder(row) : null;
  }

  async extendSession(sessionId: number, expiresAt: number): Promise<void> {
    await this.q('UPDATE sessions SET expires_at = $1 WHERE id = $2', [expiresAt, sessionId]);
  }

  async deleteSession(sessionId: number): Promise<void> {
    await this.q('DELETE FROM sessions WHERE id = $1', [sessionId]);
  }

  async deleteUserSessions(userId: number): Promise<number[]> {
    return (await this.q<{ id: number }>('DELETE FROM sessions WHERE user_id = $1 RETURNING id', [userId])).map((r) => r.id);
  }

  async createApiToken(tokenHash: string, userId: number, name: string, createdAt: number): Promise<ApiTokenRecord> {
    const row = await this.one<TokenRow>(
      `INSERT INTO api_tokens (token_hash, user_id, name, created_at) VALUES ($1, $2, $3, $4) RETURNING ${TOKEN_COLUMNS}`,
      [tokenHash, userId, name, createdAt],
    );
    return toToken(row!);
  }

  async findApiToken(tokenHash: string): Promise<TokenHolder | null> {
    const row = await this.one<TokenHolderRow>(`${TOKEN_HOLDER_SELECT} WHERE t.token_hash = $1`, [tokenHash]);
    return row ? toTokenHolder(row) : null;
  }

  async listApiTokens(userId: number): Promise<ApiTokenRecord[]> {
    const rows = await this.q<TokenRow>(
      `SELECT ${TOKEN_COLUMNS} FROM api_tokens WHERE user_id = $1 ORDER BY id`,
      [userId],
    );
    return rows.map(toToken);
  }

  async deleteApiToken(userId: number, tokenId: number): Promise<boolean> {
    return (await this.q('DELETE FROM api_tokens WHERE user_id = $1 AND id = $2 RETURNING 1', [userId, tokenId])).length > 0;
  }

  async touchApiToken(tokenId: number, usedAt: number): Promise<void> {
    await this.q('UPDATE api_tokens SET last_used_at = $1 WHERE id = $2', [usedAt, tokenId]);
  }

  async insertMessage(m: NewMessage): Promise<InsertResult> {
    try {
      if ((m.replyToId ?? null) === null && (m.attachmentIds?.length ?? 0) === 0) return await this.insertPlain(m);
      return await this.tx(async (c) => {
        if (m.clientMsgId !== null) {
          const existing = await c.query<PgMessageRow>(`${MESSAGE_SELECT} WHERE m.room_id = $1 AND m.client_msg_id = $2`, [
            m.roomId,
            m.clientMsgId,
          ]);
          if (existing.rows[0]) return { message: (await this.hydrate(c, existing.rows))[0]!, created: false };
        }
        const replyTo = m.replyToId ?? null;
        if (replyTo !== null) {
          const quoted = await c.query(`SELECT 1 FROM messages WHERE id = $1 AND room_id = $2 AND kind = 'message'`, [
            replyTo,
            m.roomId,
          ]);
          if (quoted.rowCount === 0) throw new StoreConflictError(`message ${replyTo} is not in room ${m.roomId}`);
        }
        const seq = await this.bumpSeq(c, m.roomId);
        const { rows } = await c.query<PgMessageRow>(
          `INSERT INTO messages (room_id, seq, author_id, author, body, client_msg_id, created_at, reply_to_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${MESSAGE_COLUMNS}`,
          [m.roomId, seq, m.authorId, m.author, m.body, m.clientMsgId, m.createdAt, replyTo],
        );
        const row = rows[0]!;
        const mentions = [...new Set(m.mentions ?? [])].sort((a, b) => a - b);
        await this.insertMentions(c, m.roomId, seq, mentions);
        for (const id of m.attachmentIds ?? []) {
          // Only the author's own upload to this room, not yet sent with another message; otherwise nothing is stored.
          const linked = await c.query(
            'UPDATE attachments SET message_id = $1 WHERE id = $2 AND room_id = $3 AND uploader_id = $4 AND message_id IS NULL',
            [row.id, id, m.roomId, m.authorId],
          );
          if (linked.rowCount === 0) throw new StoreConflictError(`attachment ${id} cannot be sent with this message`);
        }
        const message = toMessage(row, mentions);
        // A new message has no reactions yet; read related rows only when it has some.
        if (replyTo !== null || (m.attachmentIds?.length ?? 0) > 0) await this.fillRelated(c, [message]);
        return { message, created: true };
      });
    } catch (err) {
      // A retry racing its original: the loser's transaction rolled back (its seq with it); return the winner.
      if (err instanceof StoreConflictError && m.clientMsgId !== null) {
        const row = await this.one<PgMessageRow>(`${MESSAGE_SELECT} WHERE m.room_id = $1 AND m.client_msg_id = $2`, [
          m.roomId,
          m.clientMsgId,
        ]);
        if (row) return { message: (await this.hydrateNow([row]))[0]!, created: false };
      }
      throw err;
    }
  }

  /**
   * A message without a quoted message or files (nearly all of them) in one autocommitted statement: one round
   * trip instead of the five of BEGIN, look-up, seq bump, insert and COMMIT, which made PostgreSQL the limit of
   * two instances (`npm run bench -- --scenario 4`). The seq bump locks the room row exactly as in the
   * transaction; a retry whose clientMsgId is stored, or a room that does not exist, inserts nothing, and one
   * look-up tells the two apart.
   */
  private async insertPlain(m: NewMessage): Promise<InsertResult> {
    const mentions = [...new Set(m.mentions ?? [])].sort((a, b) => a - b);
    const inserted = await this.one<PgMessageRow>(INSERT_PLAIN_MESSAGE, [
      m.roomId,
      m.authorId,
      m.author,
      m.body,
      m.clientMsgId,
      m.createdAt,
      mentions,
    ]);
    if (inserted) return { message: toMessage(inserted, mentions), created: true };
    if (m.clientMsgId !== null) {
      const row = await this.one<PgMessageRow>(`${MESSAGE_SELECT} WHERE m.room_id = $1 AND m.client_msg_id = $2`, [
        m.roomId,
        m.clientMsgId,
      ]);
      if (row) return { message: (await this.hydrateNow([row]))[0]!, created: false };
    }
    throw new StoreConflictError(`room ${m.roomId} does not exist`);
  }

  async messagesBefore(roomId: number, beforeSeq: number | null, limit: number): Promise<MessageRecord[]> {
    const rows =
      beforeSeq === null
        ? await this.q<PgMessageRow>(
            `${MESSAGE_SELECT} WHERE m.room_id = $1 AND m.kind = 'message' ORDER BY m.seq DESC LIMIT $2`,
            [roomId, limit],
          )
        : await this.q<PgMessageRow>(
            `${MESSAGE_SELECT} WHERE m.room_id = $1 AND m.seq < $2 AND m.kind = 'message' ORDER BY m.seq DESC LIMIT $3`,
            [roomId, beforeSeq, limit],
          );
    return this.hydrateNow(rows.reverse());
  }

  async messagesAfter(roomId: number, afterSeq: number, limit: number): Promise<MessageRecord[]> {
    return this.hydrateNow(
      await this.q<PgMessageRow>(`${MESSAGE_SELECT} WHERE m.room_id = $1 AND m.seq > $2 ORDER BY m.seq LIMIT $3`, [
        roomId,
        afterSeq,
        limit,
      ]),
    );
  }

  async getMessage(roomId: number, messageId: number): Promise<MessageRecord | null> {
    const row = await this.one<PgMessageRow>(`${MESSAGE_SELECT} WHERE m.room_id = $1 AND m.id = $2 AND m.kind = 'message'`, [
      roomId,
      messageId,
    ]);
    return row ? (await this.hydrateNow([row]))[0]! : null;
  }

  /** See Store.searchMessages; the SQL is in postgres-search.ts. */
  async searchMessages(query: SearchQuery): Promise<SearchHit[]> {
    const found = await postgresSearch((sql, params) => this.q(sql, params), query);
    return hitsOf(found.ids, await this.messagesById(found.ids), found.rooms);
  }

  /** Full records of the messages with these ids, in the order of `ids` (missing ids are skipped). */
  async messagesById(ids: number[]): Promise<MessageRecord[]> {
    if (ids.length === 0) return [];
    const rows = await this.q<PgMessageRow>(`${MESSAGE_SELECT} WHERE m.id = ANY($1::bigint[])`, [ids]);
    const byId = new Map((await this.hydrateNow(rows)).map((m) => [m.id, m]));
    return ids.flatMap((id) => byId.get(id) ?? []);
  }

  editMessage(e: MessageEdit): Promise<ChangeResult | null> {
    return this.tx(async (c) => {
      const row = await this.lockMessage(c, e.roomId, e.messageId);
      if (!row || row.deleted_at !== null) return null;
      if (row.body === e.body) return { event: null, message: (await this.hydrate(c, [row]))[0]!, removedAttachments: [] };
      await c.query('UPDATE messages SET body = $1, edited_at = $2 WHERE id = $3', [e.body, e.at, row.id]);
      await c.query('DELETE FROM mentions WHERE room_id = $1 AND seq = $2', [row.room_id, row.seq]);
      await this.insertMentions(c, row.room_id, row.seq, [...new Set(e.mentions)]);
      return this.change(c, row.room_id, row.id, 'edit', e.actorId, e.actor, e.at, []);
    });
  }

  deleteMessage(d: MessageDelete): Promise<ChangeResult | null> {
    return this.tx(async (c) => {
      const row = await this.lockMessage(c, d.roomId, d.messageId);
      if (!row) return null;
      if (row.deleted_at !== null) return { event: null, message: (await this.hydrate(c, [row]))[0]!, removedAttachments: [] };
      const removed = (await c.query<AttachmentRow>('DELETE FROM attachments WHERE message_id = $1 RETURNING *', [row.id])).rows;
      await c.query('DELETE FROM reactions WHERE message_id = $1', [row.id]);
      await c.query('DELETE FROM mentions WHERE room_id = $1 AND seq = $2', [row.room_id, row.seq]);
      await c.query("UPDATE messages SET body = '', deleted_at = $1 WHERE id = $2", [d.at, row.id]);
      return this.change(c, row.room_id, row.id, 'delete', d.actorId, d.actor, d.at, removed.map(toAttachment));
    });
  }

  setReaction(r: ReactionChange): Promise<ChangeResult | null> {
    return this.tx(async (c) => {
      const row = await this.lockMessage(c, r.roomId, r.messageId);
      if (!row || row.deleted_at !== null) return null;
      const result = r.on
        ? await c.query(
            'INSERT INTO reactions (message_id, user_id, emoji, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
            [row.id, r.userId, r.emoji, r.at],
          )
        : await c.query('DELETE FROM reactions WHERE message_id = $1 AND user_id = $2 AND emoji = $3', [
            row.id,
            r.userId,
            r.emoji,
          ]);
      if (result.rowCount === 0) return { event: null, message: (await this.hydrate(c, [row]))[0]!, removedAttachments: [] };
      return this.change(c, row.room_id, row.id, 'reaction', r.userId, r.actor, r.at, []);
    });
  }

  async createAttachment(a: NewAttachment): Promise<AttachmentRecord> {
    const row = await this.one<AttachmentRow>(
      `INSERT INTO attachments (room_id, uploader_id, name, content_type, size, storage_key, thumbnail_key, width, height,
       created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *`,
      [a.roomId, a.uploaderId, a.name, a.contentType, a.size, a.storageKey, a.thumbnailKey, a.width, a.height, a.createdAt],
    );
    return toAttachment(row!);
  }

  async getAttachment(id: number): Promise<AttachmentRecord | null> {
    const row = await this.one<AttachmentRow>('SELECT * FROM attachments WHERE id = $1', [id]);
    return row ? toAttachment(row) : null;
  }

  async deleteUnsentAttachments(createdBefore: number, limit: number): Promise<AttachmentRecord[]> {
    // The outer condition is checked again on rows a concurrent send was linking: once linked, they stay.
    const rows = await this.q<AttachmentRow>(
      `DELETE FROM attachments WHERE id IN (SELECT id FROM attachments WHERE message_id IS NULL AND created_at < $1
       ORDER BY id LIMIT $2) AND message_id IS NULL RETURNING *`,
      [createdBefore, limit],
    );
    return rows.map(toAttachment);
  }

  /**
   * The message row, locked until the transaction ends so that concurrent changes of it queue up. NO KEY UPDATE,
   * not UPDATE: a reply being inserted takes KEY SHARE on the message it quotes (its foreign key) after locking
   * the room, while a change locks the message before the room; FOR UPDATE would conflict with KEY SHARE and the
   * two would deadlock.
   */
  private async lockMessage(c: pg.PoolClient, roomId: number, messageId: number): Promise<PgMessageRow | null> {
    const { rows } = await c.query<PgMessageRow>(
      `${MESSAGE_SELECT} WHERE m.room_id = $1 AND m.id = $2 AND m.kind = 'message' FOR NO KEY UPDATE OF m`,
      [roomId, messageId],
    );
    return rows[0] ?? null;
  }

  /** The room's next `seq`; the room row stays locked until the transaction ends, which orders concurrent writers. */
  private async bumpSeq(c: pg.PoolClient, roomId: number): Promise<number> {
    const bumped = await c.query<{ last_seq: number }>('UPDATE rooms SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq', [
      roomId,
    ]);
    if (!bumped.rows[0]) throw new StoreConflictError(`room ${roomId} does not exist`);
    return bumped.rows[0].last_seq;
  }

  private async insertMentions(c: pg.PoolClient, roomId: number, seq: number, userIds: number[]): Promise<void> {
    if (userIds.length === 0) return;
    await c.query('INSERT INTO mentions (room_id, seq, user_id) SELECT $1, $2, unnest($3::bigint[]) ON CONFLICT DO NOTHING', [
      roomId,
      seq,
      userIds,
    ]);
  }

  /** Appends a change row for `targetId` inside the transaction and returns it with its target. */
  private async change(
    c: pg.PoolClient,
    roomId: number,
    targetId: number,
    kind: MessageKind,
    actorId: number,
    actor: string,
    at: number,
    removedAttachments: AttachmentRecord[],
  ): Promise<ChangeResult> {
    const seq = await this.bumpSeq(c, roomId);
    const { rows } = await c.query<PgMessageRow>(
      `INSERT INTO messages (room_id, seq, author_id, author, body, created_at, kind, target_id)
       VALUES ($1, $2, $3, $4, '', $5, $6, $7) RETURNING ${MESSAGE_COLUMNS}`,
      [roomId, seq, actorId, actor, at, kind, targetId],
    );
    const event = (await this.hydrate(c, rows))[0]!;
    return { event, message: event.target!, removedAttachments };
  }

  /** `hydrate` on the pool, with the store's error mapping. */
  private async hydrateNow(rows: PgMessageRow[]): Promise<MessageRecord[]> {
    try {
      return await this.hydrate(this.pool, rows);
    } catch (err) {
      throw translated(err);
    }
  }

  /** Full records of rows: mentions are in the row; replies, reactions, attachments and change targets are read here. */
  private async hydrate(db: Queryable, rows: PgMessageRow[]): Promise<MessageRecord[]> {
    const records = rows.map(toMessageRecord);
    const targetIds = targetIdsOf(records);
    const targets =
      targetIds.length > 0
        ? (await db.query<PgMessageRow>(`${MESSAGE_SELECT} WHERE m.id = ANY($1::bigint[])`, [targetIds])).rows.map(toMessageRecord)
        : [];
    await this.fillRelated(db, [...records, ...targets]);
    attachTargets(records, targets);
    return records;
  }

  /** Reads and fills in the replies, reactions and attachments of message records. */
  private async fillRelated(db: Queryable, records: MessageRecord[]): Promise<void> {
    const { messageIds, replyIds } = relatedIdsOf(records);
    if (messageIds.length === 0) return;
    // One after another: on a transaction's client, queries may not overlap (pg deprecates queueing them).
    const replies =
      replyIds.length > 0
        ? await db.query<ReplyRow>(
            `SELECT id, seq, author_id, author, left(body, $1) AS excerpt, deleted_at FROM messages WHERE id = ANY($2::bigint[])`,
            [REPLY_EXCERPT_CHARS, replyIds],
          )
        : { rows: [] as ReplyRow[] };
    const reactions = await db.query<ReactionRow>(
      `SELECT message_id, emoji, user_id FROM reactions WHERE message_id = ANY($1::bigint[])
       ORDER BY message_id, created_at, user_id`,
      [messageIds],
    );
    const attachments = await db.query<AttachmentRow>(
      'SELECT * FROM attachments WHERE message_id = ANY($1::bigint[]) ORDER BY id',
      [messageIds],
    );
    attachRelated(records, { replies: replies.rows, reactions: reactions.rows, attachments: attachments.rows });
  }

  async moveCursors(roomId: number, userId: number, delivered: number | null, read: number | null): Promise<CursorMove | null> {
    return this.tx(async (c) => {
      // FOR UPDATE orders two tabs moving the same cursor, so `before` is what the winner replaced.
      const { rows } = await c.query<CursorRow & { last_seq: number; notify: NotifyLevel }>(
        `SELECT rm.user_id, rm.delivered_seq, rm.read_seq, u.private_receipts, r.last_seq, rm.notify FROM room_members rm
         JOIN users u ON u.id = rm.user_id JOIN rooms r ON r.id = rm.room_id
         WHERE rm.room_id = $1 AND rm.user_id = $2 FOR UPDATE OF rm`,
        [roomId, userId],
      );
      const row = rows[0];
      if (!row) return null;
      const before = toCursor(row);
      const readSeq = Math.max(row.read_seq, Math.min(read ?? 0, row.last_seq));
      const deliveredSeq = Math.max(row.delivered_seq, Math.min(delivered ?? 0, row.last_seq), readSeq);
      if (readSeq !== row.read_seq || deliveredSeq !== row.delivered_seq) {
        await c.query('UPDATE room_members SET delivered_seq = $1, read_seq = $2 WHERE room_id = $3 AND user_id = $4', [
          deliveredSeq,
          readSeq,
          roomId,
          userId,
        ]);
      }
      return { before, after: { ...before, deliveredSeq, readSeq }, lastSeq: row.last_seq, notify: row.notify };
    });
  }

  async listCursors(roomId: number): Promise<CursorRecord[]> {
    const rows = await this.q<CursorRow>(
      `SELECT rm.user_id, rm.delivered_seq, rm.read_seq, u.private_receipts FROM room_members rm
       JOIN users u ON u.id = rm.user_id WHERE rm.room_id = $1 AND rm.delivered_seq > 0 ORDER BY rm.user_id`,
      [roomId],
    );
    return rows.map(toCursor);
  }

  async unreadSummaries(userId: number, roomId?: number): Promise<UnreadRecord[]> {
    const rows = await this.q<UnreadRow>(roomId === undefined ? `${UNREAD_SELECT} ORDER BY r.id` : `${UNREAD_SELECT} AND r.id = $2`, roomId === undefined ? [userId] : [userId, roomId]);
    return rows.map(toUnread);
  }

  async setNotifyLevel(roomId: number, userId: number, level: NotifyLevel): Promise<boolean> {
    const rows = await this.q('UPDATE room_members SET notify = $1 WHERE room_id = $2 AND user_id = $3 RETURNING 1', [
      level,
      roomId,
      userId,
    ]);
    return rows.length > 0;
  }

  async setPrivateReceipts(userId: number, on: boolean): Promise<void> {
    await this.q('UPDATE users SET private_receipts = $1 WHERE id = $2', [on, userId]);
  }

  async setLastSeen(userId: number, at: number): Promise<void> {
    await this.q('UPDATE users SET last_seen_at = $1 WHERE id = $2', [at, userId]);
  }

  async memberRoomIds(userId: number): Promise<number[]> {
    const rows = await this.q<{ room_id: number }>('SELECT room_id FROM room_members WHERE user_id = $1', [userId]);
    return rows.map((r) => r.room_id);
  }

  async roomMemberPages(roomIds: number[], limit: number): Promise<Map<number, PeerRecord[]>> {
    const pages = new Map<number, PeerRecord[]>(roomIds.map((id) => [id, []]));
    if (roomIds.length === 0) return pages;
    const rows = await this.q<{ room_id: number; user_id: number; last_seen_at: number | null }>(
      // One round trip for every room: per room an index range in primary-key order that stops after `limit`.
      `SELECT a.room_id, p.user_id, p.last_seen_at FROM unnest($1::bigint[]) AS a (room_id)
       CROSS JOIN LATERAL (
         SELECT m.user_id, u.last_seen_at FROM room_members m JOIN users u ON u.id = m.user_id
         WHERE m.room_id = a.room_id ORDER BY m.user_id LIMIT $2
       ) p
       ORDER BY a.room_id, p.user_id`,
      [roomIds, limit],
    );
    for (const r of rows) pages.get(r.room_id)?.push({ userId: r.user_id, lastSeenAt: r.last_seen_at });
    return pages;
  }

  async adminEpoch(): Promise<number> {
    return (await this.one<{ epoch: number }>('SELECT epoch FROM admin_epoch WHERE id = 1'))?.epoch ?? 0;
  }

  async bumpAdminEpoch(): Promise<void> {
    await this.q('UPDATE admin_epoch SET epoch = epoch + 1 WHERE id = 1');
  }

  async ping(): Promise<void> {
    await this.q('SELECT 1');
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => {});
  }
}

/**
 * The embedded Store: one SQLite file through better-sqlite3. Statements are prepared once. better-sqlite3
 * is synchronous, so each transaction runs to completion without interleaving: the `seq` bump and the insert
 * are atomic by construction, and WAL with synchronous=FULL makes a commit durable before the ack.
 *
 * Message inserts are group-committed (group-commit.ts): the inserts of one event-loop turn share one
 * transaction, so one fsync, and each promise resolves after that commit. Each insert runs in its own
 * savepoint inside it, so a conflict (bad room, reply or attachment) fails that message alone; a database
 * failure fails the whole batch and stores none of it. Every other write that takes a `seq` (edit, delete,
 * reaction) or can take an upload away from a queued message flushes the queue first, so `seq` follows the
 * order of the calls.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import {
  REPLY_EXCERPT_CHARS,
  ROOM_COLUMNS,
  SESSION_HOLDER_SELECT,
  TOKEN_HOLDER_SELECT,
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
import { GroupCommit, type Outcome } from './group-commit.js';
import { SQLITE_MIGRATIONS } from './sqlite-migrations.js';
import { sqliteSearch } from './sqlite-search.js';
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
  type RoomKind,
  type RoomRecord,
  type SessionHolder,
  type SessionRecord,
  type TokenHolder,
  type Store,
  type UserRecord,
} from './store.js';

/** A receipt waiting for its group commit. */
interface CursorRequest {
  roomId: number;
  userId: number;
  delivered: number | null;
  read: number | null;
}

/** How long a statement waits for a lock held by another connection before failing. */
const BUSY_TIMEOUT_MS = 5000;

/** SQLite's message row: mentions come as a comma-separated group_concat, or null. */
interface SqliteMessageRow extends MessageRow {
  mention_ids?: string | null;
}

const toMessageRecord = (r: SqliteMessageRow): MessageRecord =>
  toMessage(r, r.mention_ids ? r.mention_ids.split(',').map(Number) : []);

/** A message with the ids it mentions, for every query that reads messages (`m` is the messages alias). */
const MESSAGE_SELECT = `SELECT m.*, (SELECT group_concat(x.user_id) FROM (SELECT user_id FROM mentions
  WHERE room_id = m.room_id AND seq = m.seq ORDER BY user_id) x) AS mention_ids FROM messages m`;

/** The member's unread state per room; `?` placeholders: user id, then the optional room filter. */
const UNREAD_SELECT = `SELECT r.id AS room_id, r.last_seq, rm.read_seq, rm.notify,
  (SELECT count(*) FROM messages x WHERE x.room_id = r.id AND x.seq > rm.read_seq AND x.kind = 'message'
     AND x.deleted_at IS NULL AND (x.author_id IS NULL OR x.author_id <> rm.user_id)) AS unread,
  (SELECT count(*) FROM mentions y WHERE y.room_id = r.id AND y.seq > rm.read_seq AND y.user_id = rm.user_id) AS mentions
  FROM room_members rm JOIN rooms r ON r.id = rm.room_id WHERE rm.user_id = ?`;

/** Maps SQLite's error codes onto the store's typed errors so callers never see a dialect. */
function translated(err: unknown): unknown {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (code.startsWith('SQLITE_CONSTRAINT')) return new StoreConflictError((err as Error).message, { cause: err });
    if (/^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY|NOMEM)/.test(code)) {
      return new StoreUnavailableError((err as Error).message, { cause: err });
    }
  }
  if (err instanceof TypeError && /database connection is not open/.test(err.message)) {
    return new StoreUnavailableError(err.message, { cause: err });
  }
  return err;
}

/** Runs `fn` in an IMMEDIATE transaction (write lock taken at BEGIN, so check-then-insert cannot race). */
function db_immediate<T>(db: Database.Database, fn: () => T): T {
  return db.transaction(fn).immediate();
}

/** Store on an SQLite file; `:memory:` works too (tests). */
export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly stmt;
  private readonly insertTx;
  private readonly createRoomTx;
  private readonly moveCursorsTx;
  private readonly editTx;
  private readonly deleteTx;
  private readonly reactionTx;
  /** Queued message inserts, committed together once per event-loop turn. */
  private readonly inserts = new GroupCommit<NewMessage, InsertResult>((batch) => this.commitInserts(batch));
  /**
   * Receipts are group-committed too: every member of a busy room acknowledges several times a second, and one
   * fsync per receipt made the disk, not the CPU, the limit of a room with receipts on.
   */
  private readonly cursorMoves = new GroupCommit<CursorRequest, CursorMove | null>((batch) =>
    // Each move is a savepoint of the batch's transaction (moveCursorsTx is a nested better-sqlite3 transaction).
    this.commitEach(batch, (c) => this.moveCursorsTx(c.roomId, c.userId, c.delivered, c.read)),
  );
  /**
   * Last-seen times too: when many users leave at once (a network blip, clients cut off together), each one's
   * presence sync writes one, and a commit each (an fsync) held the event loop for about a third of a second per
   * 1,000 users (seen in a profile of the bench's disconnects).
   */
  private readonly lastSeenWrites = new GroupCommit<{ userId: number; at: number }, void>((batch) =>
    // In call order: the later of one user's times wins.
    this.commitEach(batch, (w) => void this.stmt.setLastSeen.run(w.at, w.userId)),
  );

  constructor(file: string) {
    if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    // A deleted message's text must be gone from the file, not left in a free page.
    this.db.pragma('secure_delete = ON');
    this.db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    this.migrateNow();

    const db = this.db;
    this.stmt = {
      createRoom: db.prepare<[string, string, RoomKind, number | null, string | null, number], RoomRow>(
        'INSERT INTO rooms (name, name_key, kind, owner_id, direct_key, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING *',
      ),
      getRoom: db.prepare<[number], RoomRow>('SELECT * FROM rooms WHERE id = ?'),
      roomByKey: db.prepare<[string], RoomRow>('SELECT * FROM rooms WHERE name_key = ?'),
      roomByDirectKey: db.prepare<[string], RoomRow>('SELECT * FROM rooms WHERE direct_key = ?'),
      publicRooms: db.prepare<[], RoomRow>("SELECT * FROM rooms WHERE kind = 'public' ORDER BY name_key"),
      allRooms: db.prepare<[], RoomRow>('SELECT * FROM rooms ORDER BY id'),
      userRooms: db.prepare<[number], RoomRow>(
        `SELECT ${ROOM_COLUMNS} FROM rooms r JOIN room_members m ON m.room_id = r.id WHERE m.user_id = ? ORDER BY r.name_key`,
      ),
      setOwner: db.prepare<[number, number]>('UPDATE rooms SET owner_id = ? WHERE id = ?'),
      addMember: db.prepare<[number, number, number]>(
        'INSERT INTO room_members (room_id, user_id, joined_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
      ),
      removeMember: db.prepare<[number, number]>('DELETE FROM room_members WHERE room_id = ? AND user_id = ?'),
      isMember: db.prepare<[number, number], { one: number }>(
        'SELECT 1 AS one FROM room_members WHERE room_id = ? AND user_id = ?',
      ),
      members: db.prepare<[number], MemberRow>(
        `SELECT m.user_id, u.username, u.display_name, m.joined_at FROM room_members m
         JOIN users u ON u.id = m.user_id WHERE m.room_id = ? ORDER BY u.username_key`,
      ),
      createUser: db.prepare<[string, string, string, string, number], UserRow>(
        'INSERT INTO users (username, username_key, display_name, password_hash, created_at) VALUES (?, ?, ?, ?, ?) RETURNING *',
      ),
      getUser: db.prepare<[number], UserRow>('SELECT * FROM users WHERE id = ?'),
      userByKey: db.prepare<[string], UserRow>('SELECT * FROM users WHERE username_key = ?'),
      searchUsers: db.prepare<[string, string, number], UserRow>(
        `SELECT * FROM users WHERE username_key LIKE ? ESCAPE '\\' OR lower(display_name) LIKE ? ESCAPE '\\'
         ORDER BY username_key LIMIT ?`,
      ),
      listUsers: db.prepare<[], UserRow>('SELECT * FROM users ORDER BY username_key'),
      setPassword: db.prepare<[string, number]>('UPDATE users SET password_hash = ? WHERE id = ?'),
      setAdmin: db.prepare<[number, number]>('UPDATE users SET is_admin = ? WHERE id = ?'),
      createSession: db.prepare<[string, number, number, number], SessionRow>(
        'INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?) RETURNING id, user_id, created_at, expires_at',
      ),
      findSession: db.prepare<[string, number], SessionHolderRow>(
        `${SESSION_HOLDER_SELECT} WHERE s.token_hash = ? AND s.expires_at > ?`,
      ),
      extendSession: db.prepare<[number, number]>('UPDATE sessions SET expires_at = ? WHERE id = ?'),
      deleteSession: db.prepare<[number]>('DELETE FROM sessions WHERE id = ?'),
      deleteUserSessions: db.prepare<[number], { id: number }>('DELETE FROM sessions WHERE user_id = ? RETURNING id'),
      createToken: db.prepare<[string, number, string, number], TokenRow>(
        'INSERT INTO api_tokens (token_hash, user_id, name, created_at) VALUES (?, ?, ?, ?) RETURNING id, user_id, name, created_at, last_used_at',
      ),
      findToken: db.prepare<[string], TokenHolderRow>(`${TOKEN_HOLDER_SELECT} WHERE t.token_hash = ?`),
      listTokens: db.prepare<[number], TokenRow>(
        'SELECT id, user_id, name, created_at, last_used_at FROM api_tokens WHERE user_id = ? ORDER BY id',
      ),
      deleteToken: db.prepare<[number, number]>('DELETE FROM api_tokens WHERE user_id = ? AND id = ?'),
      touchToken: db.prepare<[number, number]>('UPDATE api_tokens SET last_used_at = ? WHERE id = ?'),
      byClientMsgId: db.prepare<[number, string], SqliteMessageRow>(
        `${MESSAGE_SELECT} WHERE m.room_id = ? AND m.client_msg_id = ?`,
      ),
      insertMention: db.prepare<[number, number, number]>(
        'INSERT INTO mentions (room_id, seq, user_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
      ),
      cursor: db.prepare<[number, number], CursorRow & { last_seq: number; notify: NotifyLevel }>(
        `SELECT rm.user_id, rm.delivered_seq, rm.read_seq, u.private_receipts, r.last_seq, rm.notify FROM room_members rm
         JOIN users u ON u.id = rm.user_id JOIN rooms r ON r.id = rm.room_id WHERE rm.room_id = ? AND rm.user_id = ?`,
      ),
      setCursors: db.prepare<[number, number, number, number]>(
        'UPDATE room_members SET delivered_seq = ?, read_seq = ? WHERE room_id = ? AND user_id = ?',
      ),
      cursors: db.prepare<[number], CursorRow>(
        `SELECT rm.user_id, rm.delivered_seq, rm.read_seq, u.private_receipts FROM room_members rm
         JOIN users u ON u.id = rm.user_id WHERE rm.room_id = ? AND rm.delivered_seq > 0 ORDER BY rm.user_id`,
      ),
      unreadAll: db.prepare<[number], UnreadRow>(`${UNREAD_SELECT} ORDER BY r.id`),
      unreadOne: db.prepare<[number, number], UnreadRow>(`${UNREAD_SELECT} AND r.id = ?`),
      setNotify: db.prepare<[string, number, number]>('UPDATE room_members SET notify = ? WHERE room_id = ? AND user_id = ?'),
      setPrivateReceipts: db.prepare<[number, number]>('UPDATE users SET private_receipts = ? WHERE id = ?'),
      setLastSeen: db.prepare<[number, number]>('UPDATE users SET last_seen_at = ? WHERE id = ?'),
      memberRoomIds: db.prepare<[number], { room_id: number }>('SELECT room_id FROM room_members WHERE user_id = ?'),
      // In primary-key order, so it stops after `limit` rows however large the room.
      roomMemberPage: db.prepare<[number, number], { user_id: number; last_seen_at: number | null }>(
        `SELECT m.user_id, u.last_seen_at FROM room_members m JOIN users u ON u.id = m.user_id
         WHERE m.room_id = ? ORDER BY m.user_id LIMIT ?`,
      ),
      bumpSeq: db.prepare<[number], { last_seq: number }>(
        'UPDATE rooms SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq',
      ),
      insertMessage: db.prepare<
        [number, number, number | null, string, string, string | null, number, number | null],
        SqliteMessageRow
      >(
        `INSERT INTO messages (room_id, seq, author_id, author, body, client_msg_id, created_at, reply_to_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      ),
      newest: db.prepare<[number, number], SqliteMessageRow>(
        `SELECT * FROM (${MESSAGE_SELECT} WHERE m.room_id = ? AND m.kind = 'message' ORDER BY m.seq DESC LIMIT ?) ORDER BY seq`,
      ),
      before: db.prepare<[number, number, number], SqliteMessageRow>(
        `SELECT * FROM (${MESSAGE_SELECT} WHERE m.room_id = ? AND m.seq < ? AND m.kind = 'message'
         ORDER BY m.seq DESC LIMIT ?) ORDER BY seq`,
      ),
      // Sets of ids travel as one JSON array parameter, so each statement is prepared once for any count.
      byIds: db.prepare<[string], SqliteMessageRow>(`${MESSAGE_SELECT} WHERE m.id IN (SELECT value FROM json_each(?))`),
      getMessage: db.prepare<[number, number], SqliteMessageRow>(
        `${MESSAGE_SELECT} WHERE m.room_id = ? AND m.id = ? AND m.kind = 'message'`,
      ),
      replies: db.prepare<[number, string], ReplyRow>(
        `SELECT id, seq, author_id, author, substr(body, 1, ?) AS excerpt, deleted_at FROM messages
         WHERE id IN (SELECT value FROM json_each(?))`,
      ),
      reactions: db.prepare<[string], ReactionRow>(
        `SELECT message_id, emoji, user_id FROM reactions WHERE message_id IN (SELECT value FROM json_each(?))
         ORDER BY message_id, created_at, user_id`,
      ),
      messageAttachments: db.prepare<[string], AttachmentRow>(
        'SELECT * FROM attachments WHERE message_id IN (SELECT value FROM json_each(?)) ORDER BY id',
      ),
      linkAttachment: db.prepare<[number, number, number, number | null]>(
        'UPDATE attachments SET message_id = ? WHERE id = ? AND room_id = ? AND uploader_id = ? AND message_id IS NULL',
      ),
      createAttachment: db.prepare<
        [number, number, string, string, number, string, string | null, number | null, number | null, number],
        AttachmentRow
      >(
        `INSERT INTO attachments (room_id, uploader_id, name, content_type, size, storage_key, thumbnail_key, width,
         height, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      ),
      getAttachment: db.prepare<[number], AttachmentRow>('SELECT * FROM attachments WHERE id = ?'),
      deleteUnsent: db.prepare<[number, number], AttachmentRow>(
        `DELETE FROM attachments WHERE id IN (SELECT id FROM attachments WHERE message_id IS NULL AND created_at < ?
         ORDER BY id LIMIT ?) RETURNING *`,
      ),
      deleteAttachments: db.prepare<[number], AttachmentRow>('DELETE FROM attachments WHERE message_id = ? RETURNING *'),
      insertChange: db.prepare<[number, number, number, string, number, MessageKind, number], SqliteMessageRow>(
        `INSERT INTO messages (room_id, seq, author_id, author, body, created_at, kind, target_id)
         VALUES (?, ?, ?, ?, '', ?, ?, ?) RETURNING *`,
      ),
      setBody: db.prepare<[string, number, number]>('UPDATE messages SET body = ?, edited_at = ? WHERE id = ?'),
      erase: db.prepare<[number, number]>("UPDATE messages SET body = '', deleted_at = ? WHERE id = ?"),
      clearMentions: db.prepare<[number, number]>('DELETE FROM mentions WHERE room_id = ? AND seq = ?'),
      clearReactions: db.prepare<[number]>('DELETE FROM reactions WHERE message_id = ?'),
      addReaction: db.prepare<[number, number, string, number]>(
        'INSERT INTO reactions (message_id, user_id, emoji, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
      ),
      removeReaction: db.prepare<[number, number, string]>(
        'DELETE FROM reactions WHERE message_id = ? AND user_id = ? AND emoji = ?',
      ),
      after: db.prepare<[number, number, number], SqliteMessageRow>(
        `${MESSAGE_SELECT} WHERE m.room_id = ? AND m.seq > ? ORDER BY m.seq LIMIT ?`,
      ),
      ping: db.prepare('SELECT 1'),
      adminEpoch: db.prepare<[], { epoch: number }>('SELECT epoch FROM admin_epoch WHERE id = 1'),
      bumpAdminEpoch: db.prepare('UPDATE admin_epoch SET epoch = epoch + 1 WHERE id = 1'),
    };

    // Called inside the batch's IMMEDIATE transaction (which holds the write lock, so two writers never both
    // read the same last_seq), where better-sqlite3 makes this nested transaction a savepoint.
    this.insertTx = db.transaction((m: NewMessage): InsertResult => {
      if (m.clientMsgId !== null) {
        const existing = this.stmt.byClientMsgId.get(m.roomId, m.clientMsgId);
        if (existing) return { message: this.hydrate([existing])[0]!, created: false };
      }
      const replyTo = m.replyToId ?? null;
      if (replyTo !== null && !this.stmt.getMessage.get(m.roomId, replyTo)) {
        throw new StoreConflictError(`message ${replyTo} is not in room ${m.roomId}`);
      }
      const bumped = this.stmt.bumpSeq.get(m.roomId);
      if (!bumped) throw new StoreConflictError(`room ${m.roomId} does not exist`);
      const row = this.stmt.insertMessage.get(
        m.roomId,
        bumped.last_seq,
        m.authorId,
        m.author,
        m.body,
        m.clientMsgId,
        m.createdAt,
        replyTo,
      )!;
      const mentions = [...new Set(m.mentions ?? [])].sort((a, b) => a - b);
      for (const userId of mentions) this.stmt.insertMention.run(m.roomId, bumped.last_seq, userId);
      for (const id of m.attachmentIds ?? []) {
        // Only the author's own upload to this room, not yet sent with another message; otherwise nothing is stored.
        if (this.stmt.linkAttachment.run(row.id, id, m.roomId, m.authorId).changes === 0) {
          throw new StoreConflictError(`attachment ${id} cannot be sent with this message`);
        }
      }
      const message = toMessage(row, mentions);
      // A new message has no reactions yet; read related rows only when it has some.
      if (replyTo !== null || (m.attachmentIds?.length ?? 0) > 0) this.fillRelated([message]);
      return { message, created: true };
    });

    this.editTx = db.transaction((e: MessageEdit): ChangeResult | null => {
      const row = this.stmt.getMessage.get(e.roomId, e.messageId);
      if (!row || row.deleted_at !== null) return null;
      if (row.body === e.body) return { event: null, message: this.hydrate([row])[0]!, removedAttachments: [] };
      this.stmt.setBody.run(e.body, e.at, row.id);
      this.stmt.clearMentions.run(row.room_id, row.seq);
      for (const userId of new Set(e.mentions)) this.stmt.insertMention.run(row.room_id, row.seq, userId);
      return this.change(row.room_id, row.id, 'edit', e.actorId, e.actor, e.at, []);
    });

    this.deleteTx = db.transaction((d: MessageDelete): ChangeResult | null => {
      const row = this.stmt.getMessage.get(d.roomId, d.messageId);
      if (!row) return null;
      if (row.deleted_at !== null) return { event: null, message: this.hydrate([row])[0]!, removedAttachments: [] };
      const removed = this.stmt.deleteAttachments.all(row.id).map(toAttachment);
      this.stmt.clearReactions.run(row.id);
      this.stmt.clearMentions.run(row.room_id, row.seq);
      this.stmt.erase.run(d.at, row.id);
      return this.change(row.room_id, row.id, 'delete', d.actorId, d.actor, d.at, removed);
    });

    this.reactionTx = db.transaction((r: ReactionChange): ChangeResult | null => {
      const row = this.stmt.getMessage.get(r.roomId, r.messageId);
      if (!row || row.deleted_at !== null) return null;
      const changed = r.on
        ? this.stmt.addReaction.run(row.id, r.userId, r.emoji, r.at).changes
        : this.stmt.removeReaction.run(row.id, r.userId, r.emoji).changes;
      if (changed === 0) return { event: null, message: this.hydrate([row])[0]!, removedAttachments: [] };
      return this.change(row.room_id, row.id, 'reaction', r.userId, r.actor, r.at, []);
    });

    this.moveCursorsTx = db.transaction(
      (roomId: number, userId: number, delivered: number | null, read: number | null): CursorMove | null => {
        const row = this.stmt.cursor.get(roomId, userId);
        if (!row) return null;
        const before = toCursor(row);
        const readSeq = Math.max(row.read_seq, Math.min(read ?? 0, row.last_seq));
        const deliveredSeq = Math.max(row.delivered_seq, Math.min(delivered ?? 0, row.last_seq), readSeq);
        if (readSeq !== row.read_seq || deliveredSeq !== row.delivered_seq) {
          this.stmt.setCursors.run(deliveredSeq, readSeq, roomId, userId);
        }
        return { before, after: { ...before, deliveredSeq, readSeq }, lastSeq: row.last_seq, notify: row.notify };
      },
    );

    this.createRoomTx = db.transaction((r: NewRoom, directKey: string | null, members: number[]): RoomRecord => {
      const room = toRoom(this.stmt.createRoom.get(r.name, r.nameKey, r.kind, r.ownerId, directKey, r.createdAt)!);
      for (const userId of members) this.stmt.addMember.run(room.id, userId, r.createdAt);
      return room;
    });
  }

  /**
   * One transaction (write lock taken at BEGIN) for a batch of inserts, each in its own savepoint: a
   * conflict rolls back that message alone (its seq is given back, so later ones stay gapless); any other
   * error rolls back the batch and is thrown to every caller.
   */
  private commitInserts(batch: NewMessage[]): Array<Outcome<InsertResult>> {
    try {
      return db_immediate(this.db, () =>
        batch.map((m): Outcome<InsertResult> => {
          try {
            return { ok: true, value: this.insertTx(m) };
          } catch (err) {
            const e = translated(err);
            if (e instanceof StoreConflictError) return { ok: false, error: e };
            throw err;
          }
        }),
      );
    } catch (err) {
      throw translated(err);
    }
  }

  /**
   * One transaction for a batch whose items cannot fail alone (cursor moves, last-seen times), applied in call
   * order; a database error fails the whole batch.
   */
  private commitEach<I, O>(batch: I[], apply: (item: I) => O): Array<Outcome<O>> {
    try {
      return db_immediate(this.db, () => batch.map((item): Outcome<O> => ({ ok: true, value: apply(item) })));
    } catch (err) {
      throw translated(err);
    }
  }

  /** Last-seen transactions run so far (tests: proof that users leaving together share commits). */
  get lastSeenCommits(): number {
    return this.lastSeenWrites.batches;
  }

  /** Cursor-move transactions run so far (tests: proof that concurrent receipts share commits). */
  get cursorCommits(): number {
    return this.cursorMoves.batches;
  }

  /** Message-insert transactions run so far (tests: proof that concurrent inserts share commits). */
  get insertCommits(): number {
    return this.inserts.batches;
  }

  /** Appends a change row for `targetId` (inside the caller's transaction) and returns it with its target. */
  private change(
    roomId: number,
    targetId: number,
    kind: MessageKind,
    actorId: number,
    actor: string,
    at: number,
    removedAttachments: AttachmentRecord[],
  ): ChangeResult {
    const bumped = this.stmt.bumpSeq.get(roomId)!;
    const row = this.stmt.insertChange.get(roomId, bumped.last_seq, actorId, actor, at, kind, targetId)!;
    const event = this.hydrate([row])[0]!;
    return { event, message: event.target!, removedAttachments };
  }

  /** Full records of rows: mentions are in the row; replies, reactions, attachments and change targets are read here. */
  private hydrate(rows: SqliteMessageRow[]): MessageRecord[] {
    const records = rows.map(toMessageRecord);
    const targetIds = targetIdsOf(records);
    const targets = targetIds.length > 0 ? this.stmt.byIds.all(JSON.stringify(targetIds)).map(toMessageRecord) : [];
    this.fillRelated([...records, ...targets]);
    attachTargets(records, targets);
    return records;
  }

  /** Reads and fills in the replies, reactions and attachments of message records. */
  private fillRelated(records: MessageRecord[]): void {
    const { messageIds, replyIds } = relatedIdsOf(records);
    if (messageIds.length === 0) return;
    const ids = JSON.stringify(messageIds);
    attachRelated(records, {
      replies: replyIds.length > 0 ? this.stmt.replies.all(REPLY_EXCERPT_CHARS, JSON.stringify(replyIds)) : [],
      reactions: this.stmt.reactions.all(ids),
      attachments: this.stmt.messageAttachments.all(ids),
    });
  }

  /** See Store.searchMessages; the SQL is in sqlite-search.ts. */
  async searchMessages(query: SearchQuery): Promise<SearchHit[]> {
    const found = await this.run(() => sqliteSearch(this.db, query));
    return hitsOf(found.ids, await this.messagesById(found.ids), found.rooms);
  }

  /** Full records of the messages with these ids, in the order of `ids` (missing ids are skipped). */
  messagesById(ids: number[]): Promise<MessageRecord[]> {
    return this.run(() => {
      if (ids.length === 0) return [];
      const byId = new Map(this.hydrate(this.stmt.byIds.all(JSON.stringify(ids))).map((m) => [m.id, m]));
      return ids.flatMap((id) => byId.get(id) ?? []);
    });
  }

  private migrateNow(): void {
    const current = this.db.pragma('user_version', { simple: true }) as number;
    for (let v = current; v < SQLITE_MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(SQLITE_MIGRATIONS[v]!);
        this.db.pragma(`user_version = ${v + 1}`);
      }).immediate();
    }
  }

  migrate(): Promise<void> {
    return this.run(() => this.migrateNow());
  }

  /** Runs a synchronous statement, mapping SQLite's errors onto the store's. */
  private run<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(translated(err));
    }
  }

  createRoom(r: NewRoom): Promise<RoomRecord> {
    return this.run(() => this.createRoomTx.immediate(r, null, r.ownerId !== null ? [r.ownerId] : []));
  }

  getRoom(id: number): Promise<RoomRecord | null> {
    return this.run(() => {
      const row = this.stmt.getRoom.get(id);
      return row ? toRoom(row) : null;
    });
  }

  findRoomByKey(nameKey: string): Promise<RoomRecord | null> {
    return this.run(() => {
      const row = this.stmt.roomByKey.get(nameKey);
      return row ? toRoom(row) : null;
    });
  }

  listPublicRooms(): Promise<RoomRecord[]> {
    return this.run(() => this.stmt.publicRooms.all().map(toRoom));
  }

  listAllRooms(): Promise<RoomRecord[]> {
    return this.run(() => this.stmt.allRooms.all().map(toRoom));
  }

  listUserRooms(userId: number): Promise<RoomRecord[]> {
    return this.run(() => this.stmt.userRooms.all(userId).map(toRoom));
  }

  findOrCreateDirect(userIds: number[], createdAt: number): Promise<RoomRecord> {
    const ids = [...new Set(userIds)].sort((a, b) => a - b);
    const key = ids.join(',');
    return this.run(() =>
      db_immediate(this.db, () => {
        const found = this.stmt.roomByDirectKey.get(key);
        if (found) return toRoom(found);
        // '@' cannot appear in a room name, so a direct conversation's hidden name never collides with one.
        const name = `@${key}`;
        return this.createRoomTx(
          { name, nameKey: name, kind: 'direct', ownerId: null, createdAt },
          key,
          ids,
        );
      }),
    );
  }

  setRoomOwner(roomId: number, userId: number): Promise<void> {
    return this.run(() => void this.stmt.setOwner.run(userId, roomId));
  }

  addMember(roomId: number, userId: number, joinedAt: number): Promise<void> {
    return this.run(() => void this.stmt.addMember.run(roomId, userId, joinedAt));
  }

  removeMember(roomId: number, userId: number): Promise<boolean> {
    return this.run(() => this.stmt.removeMember.run(roomId, userId).changes > 0);
  }

  isMember(roomId: number, userId: number): Promise<boolean> {
    return this.run(() => this.stmt.isMember.get(roomId, userId) !== undefined);
  }

  listMembers(roomId: number): Promise<MemberRecord[]> {
    return this.run(() => this.stmt.members.all(roomId).map(toMember));
  }

  createUser(u: NewUser): Promise<UserRecord> {
    return this.run(() =>
      toUser(this.stmt.createUser.get(u.username, u.usernameKey, u.displayName, u.passwordHash, u.createdAt)!),
    );
  }

  getUser(id: number): Promise<UserRecord | null> {
    return this.run(() => {
      const row = this.stmt.getUser.get(id);
      return row ? toUser(row) : null;
    });
  }

  findUserByKey(usernameKey: string): Promise<UserRecord | null> {
    return this.run(() => {
      const row = this.stmt.userByKey.get(usernameKey);
      return row ? toUser(row) : null;
    });
  }

  searchUsers(prefix: string, limit: number): Promise<UserRecord[]> {
    const pattern = `${prefix.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    return this.run(() => this.stmt.searchUsers.all(pattern, pattern, limit).map(toUser));
  }

  listUsers(): Promise<UserRecord[]> {
    return this.run(() => this.stmt.listUsers.all().map(toUser));
  }

  setPasswordHash(userId: number, passwordHash: string): Promise<void> {
    return this.run(() => void this.stmt.setPassword.run(passwordHash, userId));
  }

  setAdmin(userId: number, isAdmin: boolean): Promise<void> {
    return this.run(() => void this.stmt.setAdmin.run(isAdmin ? 1 : 0, userId));
  }

  createSession(tokenHash: string, userId: number, createdAt: number, expiresAt: number): Promise<SessionRecord> {
    return this.run(() => toSession(this.stmt.createSession.get(tokenHash, userId, createdAt, expiresAt)!));
  }

  findSession(tokenHash: string, now: number): Promise<SessionHolder | null> {
    return this.run(() => {
      const row = this.stmt.findSession.get(tokenHash, now);
      return row ? toSessionHolder(row) : null;
    });
  }

  extendSession(sessionId: number, expiresAt: number): Promise<void> {
    return this.run(() => void this.stmt.extendSession.run(expiresAt, sessionId));
  }

  deleteSession(sessionId: number): Promise<void> {
    return this.run(() => void this.stmt.deleteSession.run(sessionId));
  }

  deleteUserSessions(userId: number): Promise<number[]> {
    return this.run(() => this.stmt.deleteUserSessions.all(userId).map((r) => r.id));
  }

  createApiToken(tokenHash: string, userId: number, name: string, createdAt: number): Promise<ApiTokenRecord> {
    return this.run(() => toToken(this.stmt.createToken.get(tokenHash, userId, name, createdAt)!));
  }

  findApiToken(tokenHash: string): Promise<TokenHolder | null> {
    return this.run(() => {
      const row = this.stmt.findToken.get(tokenHash);
      return row ? toTokenHolder(row) : null;
    });
  }

  listApiTokens(userId: number): Promise<ApiTokenRecord[]> {
    return this.run(() => this.stmt.listTokens.all(userId).map(toToken));
  }

  deleteApiToken(userId: number, tokenId: number): Promise<boolean> {
    return this.run(() => this.stmt.deleteToken.run(userId, tokenId).changes > 0);
  }

  touchApiToken(tokenId: number, usedAt: number): Promise<void> {
    return this.run(() => void this.stmt.touchToken.run(usedAt, tokenId));
  }

  insertMessage(message: NewMessage): Promise<InsertResult> {
    return this.inserts.submit(message);
  }

  messagesBefore(roomId: number, beforeSeq: number | null, limit: number): Promise<MessageRecord[]> {
    return this.run(() =>
      this.hydrate(beforeSeq === null ? this.stmt.newest.all(roomId, limit) : this.stmt.before.all(roomId, beforeSeq, limit)),
    );
  }

  messagesAfter(roomId: number, afterSeq: number, limit: number): Promise<MessageRecord[]> {
    return this.run(() => this.hydrate(this.stmt.after.all(roomId, afterSeq, limit)));
  }

  getMessage(roomId: number, messageId: number): Promise<MessageRecord | null> {
    return this.run(() => {
      const row = this.stmt.getMessage.get(roomId, messageId);
      return row ? this.hydrate([row])[0]! : null;
    });
  }

  editMessage(edit: MessageEdit): Promise<ChangeResult | null> {
    return this.run(() => {
      this.inserts.flush();
      return this.editTx.immediate(edit);
    });
  }

  deleteMessage(del: MessageDelete): Promise<ChangeResult | null> {
    return this.run(() => {
      this.inserts.flush();
      return this.deleteTx.immediate(del);
    });
  }

  setReaction(change: ReactionChange): Promise<ChangeResult | null> {
    return this.run(() => {
      this.inserts.flush();
      return this.reactionTx.immediate(change);
    });
  }

  createAttachment(a: NewAttachment): Promise<AttachmentRecord> {
    return this.run(() =>
      toAttachment(
        this.stmt.createAttachment.get(
          a.roomId,
          a.uploaderId,
          a.name,
          a.contentType,
          a.size,
          a.storageKey,
          a.thumbnailKey,
          a.width,
          a.height,
          a.createdAt,
        )!,
      ),
    );
  }

  getAttachment(id: number): Promise<AttachmentRecord | null> {
    return this.run(() => {
      const row = this.stmt.getAttachment.get(id);
      return row ? toAttachment(row) : null;
    });
  }

  deleteUnsentAttachments(createdBefore: number, limit: number): Promise<AttachmentRecord[]> {
    return this.run(() => {
      this.inserts.flush();
      return this.stmt.deleteUnsent.all(createdBefore, limit).map(toAttachment);
    });
  }

  // No flush of queued inserts here: a client names only seqs it has received, which are committed, and the
  // clamp reads the committed last_seq; receipts must not break up the batches.
  moveCursors(roomId: number, userId: number, delivered: number | null, read: number | null): Promise<CursorMove | null> {
    return this.cursorMoves.submit({ roomId, userId, delivered, read });
  }

  listCursors(roomId: number): Promise<CursorRecord[]> {
    return this.run(() => this.stmt.cursors.all(roomId).map(toCursor));
  }

  unreadSummaries(userId: number, roomId?: number): Promise<UnreadRecord[]> {
    return this.run(() =>
      (roomId === undefined ? this.stmt.unreadAll.all(userId) : this.stmt.unreadOne.all(userId, roomId)).map(toUnread),
    );
  }

  setNotifyLevel(roomId: number, userId: number, level: NotifyLevel): Promise<boolean> {
    return this.run(() => this.stmt.setNotify.run(level, roomId, userId).changes > 0);
  }

  setPrivateReceipts(userId: number, on: boolean): Promise<void> {
    return this.run(() => void this.stmt.setPrivateReceipts.run(on ? 1 : 0, userId));
  }

  setLastSeen(userId: number, at: number): Promise<void> {
    return this.lastSeenWrites.submit({ userId, at });
  }

  memberRoomIds(userId: number): Promise<number[]> {
    return this.run(() => this.stmt.memberRoomIds.all(userId).map((r) => r.room_id));
  }

  roomMemberPages(roomIds: number[], limit: number): Promise<Map<number, PeerRecord[]>> {
    return this.run(() => {
      const pages = new Map<number, PeerRecord[]>();
      for (const roomId of roomIds) {
        pages.set(roomId, this.stmt.roomMemberPage.all(roomId, limit).map((r) => ({ userId: r.user_id, lastSeenAt: r.last_seen_at })));
      }
      return pages;
    });
  }

  ping(): Promise<void> {
    return this.run(() => void this.stmt.ping.get());
  }

  adminEpoch(): Promise<number> {
    return this.run(() => this.stmt.adminEpoch.get()?.epoch ?? 0);
  }

  bumpAdminEpoch(): Promise<void> {
    return this.run(() => void this.stmt.bumpAdminEpoch.run());
  }

  /** Commits the queued inserts first (their callers get their answer), then closes. */
  async close(): Promise<void> {
    this.inserts.flush();
    this.cursorMoves.flush();
    this.lastSeenWrites.flush();
    if (this.db.open) this.db.close();
  }
}

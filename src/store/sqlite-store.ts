/**
 * The embedded Store: one SQLite file through better-sqlite3. Statements are prepared once. better-sqlite3
 * is synchronous, so each transaction runs to completion without interleaving: the `seq` bump and the insert
 * are atomic by construction, and WAL with synchronous=FULL makes a commit durable before the ack.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { SQLITE_MIGRATIONS } from './sqlite-migrations.js';
import {
  StoreConflictError,
  StoreUnavailableError,
  type InsertResult,
  type MessageRecord,
  type NewMessage,
  type RoomRecord,
  type Store,
} from './store.js';

/** How long a statement waits for a lock held by another connection before failing. */
const BUSY_TIMEOUT_MS = 5000;

interface RoomRow {
  id: number;
  name: string;
  created_at: number;
  last_seq: number;
}

interface MessageRow {
  id: number;
  room_id: number;
  seq: number;
  author: string;
  body: string;
  client_msg_id: string | null;
  created_at: number;
}

const toRoom = (r: RoomRow): RoomRecord => ({ id: r.id, name: r.name, createdAt: r.created_at, lastSeq: r.last_seq });

const toMessage = (r: MessageRow): MessageRecord => ({
  id: r.id,
  roomId: r.room_id,
  seq: r.seq,
  author: r.author,
  body: r.body,
  clientMsgId: r.client_msg_id,
  createdAt: r.created_at,
});

/** Maps SQLite's error codes onto the store's typed errors so callers never see a dialect. */
function translate(err: unknown): never {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (code.startsWith('SQLITE_CONSTRAINT')) throw new StoreConflictError((err as Error).message, { cause: err });
    if (/^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY|NOMEM)/.test(code)) {
      throw new StoreUnavailableError((err as Error).message, { cause: err });
    }
  }
  if (err instanceof TypeError && /database connection is not open/.test(err.message)) {
    throw new StoreUnavailableError(err.message, { cause: err });
  }
  throw err;
}

/** Store on an SQLite file; `:memory:` works too (tests). */
export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly stmt;
  private readonly insertTx;

  constructor(file: string) {
    if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    this.migrateNow();

    const db = this.db;
    this.stmt = {
      createRoom: db.prepare<[string, string, number], RoomRow>(
        'INSERT INTO rooms (name, name_key, created_at) VALUES (?, ?, ?) RETURNING *',
      ),
      getRoom: db.prepare<[number], RoomRow>('SELECT * FROM rooms WHERE id = ?'),
      roomByKey: db.prepare<[string], RoomRow>('SELECT * FROM rooms WHERE name_key = ?'),
      listRooms: db.prepare<[], RoomRow>('SELECT * FROM rooms ORDER BY name_key'),
      byClientMsgId: db.prepare<[number, string], MessageRow>(
        'SELECT * FROM messages WHERE room_id = ? AND client_msg_id = ?',
      ),
      bumpSeq: db.prepare<[number], { last_seq: number }>(
        'UPDATE rooms SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq',
      ),
      insertMessage: db.prepare<[number, number, string, string, string | null, number], MessageRow>(
        `INSERT INTO messages (room_id, seq, author, body, client_msg_id, created_at)
         VALUES (?, ?, ?, ?, ?, ?) RETURNING *`,
      ),
      newest: db.prepare<[number, number], MessageRow>(
        'SELECT * FROM (SELECT * FROM messages WHERE room_id = ? ORDER BY seq DESC LIMIT ?) ORDER BY seq',
      ),
      before: db.prepare<[number, number, number], MessageRow>(
        'SELECT * FROM (SELECT * FROM messages WHERE room_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?) ORDER BY seq',
      ),
      after: db.prepare<[number, number, number], MessageRow>(
        'SELECT * FROM messages WHERE room_id = ? AND seq > ? ORDER BY seq LIMIT ?',
      ),
      ping: db.prepare('SELECT 1'),
    };

    // IMMEDIATE takes the write lock at BEGIN, so two writers never both read the same last_seq.
    this.insertTx = db.transaction((m: NewMessage): InsertResult => {
      if (m.clientMsgId !== null) {
        const existing = this.stmt.byClientMsgId.get(m.roomId, m.clientMsgId);
        if (existing) return { message: toMessage(existing), created: false };
      }
      const bumped = this.stmt.bumpSeq.get(m.roomId);
      if (!bumped) throw new StoreConflictError(`room ${m.roomId} does not exist`);
      const row = this.stmt.insertMessage.get(m.roomId, bumped.last_seq, m.author, m.body, m.clientMsgId, m.createdAt);
      return { message: toMessage(row!), created: true };
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

  async migrate(): Promise<void> {
    try {
      this.migrateNow();
    } catch (err) {
      translate(err);
    }
  }

  async createRoom(name: string, nameKey: string, createdAt: number): Promise<RoomRecord> {
    try {
      return toRoom(this.stmt.createRoom.get(name, nameKey, createdAt)!);
    } catch (err) {
      translate(err);
    }
  }

  async getRoom(id: number): Promise<RoomRecord | null> {
    try {
      const row = this.stmt.getRoom.get(id);
      return row ? toRoom(row) : null;
    } catch (err) {
      translate(err);
    }
  }

  async findRoomByKey(nameKey: string): Promise<RoomRecord | null> {
    try {
      const row = this.stmt.roomByKey.get(nameKey);
      return row ? toRoom(row) : null;
    } catch (err) {
      translate(err);
    }
  }

  async listRooms(): Promise<RoomRecord[]> {
    try {
      return this.stmt.listRooms.all().map(toRoom);
    } catch (err) {
      translate(err);
    }
  }

  async insertMessage(message: NewMessage): Promise<InsertResult> {
    try {
      return this.insertTx.immediate(message);
    } catch (err) {
      translate(err);
    }
  }

  async messagesBefore(roomId: number, beforeSeq: number | null, limit: number): Promise<MessageRecord[]> {
    try {
      const rows =
        beforeSeq === null ? this.stmt.newest.all(roomId, limit) : this.stmt.before.all(roomId, beforeSeq, limit);
      return rows.map(toMessage);
    } catch (err) {
      translate(err);
    }
  }

  async messagesAfter(roomId: number, afterSeq: number, limit: number): Promise<MessageRecord[]> {
    try {
      return this.stmt.after.all(roomId, afterSeq, limit).map(toMessage);
    } catch (err) {
      translate(err);
    }
  }

  async ping(): Promise<void> {
    try {
      this.stmt.ping.get();
    } catch (err) {
      translate(err);
    }
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

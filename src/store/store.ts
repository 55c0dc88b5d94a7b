/**
 * The Store interface: the durable truth of Confab. Every SQL statement lives in an implementation under
 * store/; nothing above this folder knows a dialect. All methods are async so that a networked database
 * (PostgreSQL) implements the same contract as the embedded SQLite one.
 */

/** A chat room as stored. Times are milliseconds since the epoch. */
export interface RoomRecord {
  id: number;
  name: string;
  createdAt: number;
  /** Highest `seq` assigned in this room (0 when empty). */
  lastSeq: number;
}

/** A stored message. `seq` is gapless per room, assigned atomically with the insert. */
export interface MessageRecord {
  id: number;
  roomId: number;
  seq: number;
  author: string;
  body: string;
  clientMsgId: string | null;
  createdAt: number;
}

/** What the domain hands to the store to insert. */
export interface NewMessage {
  roomId: number;
  author: string;
  body: string;
  /** Idempotency key: a second insert with the same key in the same room returns the first message. */
  clientMsgId: string | null;
  createdAt: number;
}

/** Result of an idempotent insert: `created` is false when `clientMsgId` matched an earlier message. */
export interface InsertResult {
  message: MessageRecord;
  created: boolean;
}

/** The storage contract; test/integration/store-contract.ts runs the same suite against every implementation. */
export interface Store {
  /** Creates the schema or brings it up to date. Safe to call on every start. */
  migrate(): Promise<void>;
  /** Inserts a room; throws StoreConflictError when `nameKey` is taken. */
  createRoom(name: string, nameKey: string, createdAt: number): Promise<RoomRecord>;
  getRoom(id: number): Promise<RoomRecord | null>;
  findRoomByKey(nameKey: string): Promise<RoomRecord | null>;
  listRooms(): Promise<RoomRecord[]>;
  /** Assigns the next `seq` and inserts in one transaction; idempotent on (roomId, clientMsgId). */
  insertMessage(message: NewMessage): Promise<InsertResult>;
  /** The newest `limit` messages with seq < beforeSeq (or the newest overall when null), oldest first. */
  messagesBefore(roomId: number, beforeSeq: number | null, limit: number): Promise<MessageRecord[]>;
  /** The oldest `limit` messages with seq > afterSeq, oldest first. */
  messagesAfter(roomId: number, afterSeq: number, limit: number): Promise<MessageRecord[]>;
  /** Cheap round trip for readiness checks; throws when the database does not answer. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** A uniqueness constraint was violated (e.g. a room name that exists). */
export class StoreConflictError extends Error {
  override name = 'StoreConflictError';
}

/** The database could not be reached or refused the operation; the caller may retry. */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
}

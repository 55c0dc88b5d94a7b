/**
 * The rows both SQL stores read and their mapping onto the store's records, in one place: the schemas are
 * kept in step, so the rows are the same apart from how a dialect returns flags (SQLite 0/1, PostgreSQL
 * booleans) and mention lists (each store turns its own into numbers before calling `toMessage`).
 */
import type {
  ApiTokenRecord,
  CursorRecord,
  MemberRecord,
  MessageRecord,
  NotifyLevel,
  RoomKind,
  RoomRecord,
  SessionRecord,
  UnreadRecord,
  UserRecord,
} from './store.js';

/** A boolean column: 0/1 from SQLite, true/false from PostgreSQL. */
type Flag = number | boolean;

export interface RoomRow {
  id: number;
  name: string;
  kind: RoomKind;
  owner_id: number | null;
  created_at: number;
  last_seq: number;
}

export interface UserRow {
  id: number;
  username: string;
  display_name: string;
  password_hash: string;
  is_admin: Flag;
  created_at: number;
  private_receipts: Flag;
  last_seen_at: number | null;
}

export interface SessionRow {
  id: number;
  user_id: number;
  created_at: number;
  expires_at: number;
}

export interface TokenRow {
  id: number;
  user_id: number;
  name: string;
  created_at: number;
  last_used_at: number | null;
}

export interface MemberRow {
  user_id: number;
  username: string;
  display_name: string;
  joined_at: number;
}

export interface MessageRow {
  id: number;
  room_id: number;
  seq: number;
  author_id: number | null;
  author: string;
  body: string;
  client_msg_id: string | null;
  created_at: number;
}

export interface CursorRow {
  user_id: number;
  delivered_seq: number;
  read_seq: number;
  private_receipts: Flag;
}

export interface UnreadRow {
  room_id: number;
  last_seq: number;
  read_seq: number;
  unread: number;
  mentions: number;
  notify: NotifyLevel;
}

/** Columns of a room aliased `r`, for queries that join. */
export const ROOM_COLUMNS = 'r.id, r.name, r.kind, r.owner_id, r.created_at, r.last_seq';
/** Columns of a session (never its token hash). */
export const SESSION_COLUMNS = 'id, user_id, created_at, expires_at';
/** Columns of an API token (never its hash). */
export const TOKEN_COLUMNS = 'id, user_id, name, created_at, last_used_at';

export const toRoom = (r: RoomRow): RoomRecord => ({
  id: r.id,
  name: r.name,
  kind: r.kind,
  ownerId: r.owner_id,
  createdAt: r.created_at,
  lastSeq: r.last_seq,
});

export const toUser = (r: UserRow): UserRecord => ({
  id: r.id,
  username: r.username,
  displayName: r.display_name,
  passwordHash: r.password_hash,
  isAdmin: Boolean(r.is_admin),
  createdAt: r.created_at,
  privateReceipts: Boolean(r.private_receipts),
  lastSeenAt: r.last_seen_at,
});

export const toSession = (r: SessionRow): SessionRecord => ({
  id: r.id,
  userId: r.user_id,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
});

export const toToken = (r: TokenRow): ApiTokenRecord => ({
  id: r.id,
  userId: r.user_id,
  name: r.name,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
});

export const toMember = (r: MemberRow): MemberRecord => ({
  userId: r.user_id,
  username: r.username,
  displayName: r.display_name,
  joinedAt: r.joined_at,
});

export const toCursor = (r: CursorRow): CursorRecord => ({
  userId: r.user_id,
  deliveredSeq: r.delivered_seq,
  readSeq: r.read_seq,
  privateReceipts: Boolean(r.private_receipts),
});

export const toUnread = (r: UnreadRow): UnreadRecord => ({
  roomId: r.room_id,
  lastSeq: r.last_seq,
  readSeq: r.read_seq,
  unread: r.unread,
  mentions: r.mentions,
  notify: r.notify,
});

/** A message record; `mentions` are the ids the dialect's query returned, already as numbers. */
export const toMessage = (r: MessageRow, mentions: number[]): MessageRecord => ({
  id: r.id,
  roomId: r.room_id,
  seq: r.seq,
  authorId: r.author_id,
  author: r.author,
  body: r.body,
  clientMsgId: r.client_msg_id,
  createdAt: r.created_at,
  mentions,
});

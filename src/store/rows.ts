/**
 * The rows both SQL stores read and their mapping onto the store's records, in one place: the schemas are
 * kept in step, so the rows are the same apart from how a dialect returns flags (SQLite 0/1, PostgreSQL
 * booleans) and mention lists (each store turns its own into numbers before calling `toMessage`).
 */
import type {
  ApiTokenRecord,
  AttachmentRecord,
  CursorRecord,
  MemberRecord,
  MessageKind,
  MessageRecord,
  NotifyLevel,
  ReactionRecord,
  ReplyRecord,
  RoomKind,
  RoomRecord,
  SessionHolder,
  SessionRecord,
  TokenHolder,
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

export interface SessionHolderRow extends UserRow {
  session_id: number;
  session_created_at: number;
  expires_at: number;
}

export interface TokenHolderRow extends UserRow {
  token_id: number;
  token_name: string;
  token_created_at: number;
  last_used_at: number | null;
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
  kind: MessageKind;
  target_id: number | null;
  reply_to_id: number | null;
  edited_at: number | null;
  deleted_at: number | null;
}

/** The quoted message of a reply, as `REPLY_SELECT` of each store reads it. */
export interface ReplyRow {
  id: number;
  seq: number;
  author_id: number | null;
  author: string;
  excerpt: string;
  deleted_at: number | null;
}

export interface ReactionRow {
  message_id: number;
  emoji: string;
  user_id: number;
}

export interface AttachmentRow {
  id: number;
  room_id: number;
  uploader_id: number;
  message_id: number | null;
  name: string;
  content_type: string;
  size: number;
  storage_key: string;
  thumbnail_key: string | null;
  width: number | null;
  height: number | null;
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
/**
 * The columns of a UserRow, of users aliased `u`: named, so that a column added to users later cannot shadow a
 * joined table's column of the same name.
 */
const USER_COLUMNS_U = 'u.id, u.username, u.display_name, u.password_hash, u.is_admin, u.created_at, u.private_receipts, u.last_seen_at';
/** A session joined to its user; the caller adds the WHERE on `s.token_hash` and `s.expires_at`. */
export const SESSION_HOLDER_SELECT = `SELECT s.id AS session_id, s.created_at AS session_created_at, s.expires_at, ${USER_COLUMNS_U}
  FROM sessions s JOIN users u ON u.id = s.user_id`;
/** An API token joined to its user; the caller adds the WHERE on `t.token_hash`. */
export const TOKEN_HOLDER_SELECT = `SELECT t.id AS token_id, t.name AS token_name, t.created_at AS token_created_at,
  t.last_used_at, ${USER_COLUMNS_U} FROM api_tokens t JOIN users u ON u.id = t.user_id`;

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

export const toSessionHolder = (r: SessionHolderRow): SessionHolder => ({
  session: { id: r.session_id, userId: r.id, createdAt: r.session_created_at, expiresAt: r.expires_at },
  user: toUser(r),
});

export const toTokenHolder = (r: TokenHolderRow): TokenHolder => ({
  token: { id: r.token_id, userId: r.id, name: r.token_name, createdAt: r.token_created_at, lastUsedAt: r.last_used_at },
  user: toUser(r),
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

/**
 * A message record without its related rows; `mentions` are the ids the dialect's query returned, already as
 * numbers. `hydrate` fills in replies, reactions, attachments and change targets.
 */
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
  kind: r.kind,
  targetId: r.target_id,
  replyToId: r.reply_to_id,
  editedAt: r.edited_at,
  deletedAt: r.deleted_at,
  replyTo: null,
  reactions: [],
  attachments: [],
});

export const toAttachment = (r: AttachmentRow): AttachmentRecord => ({
  id: r.id,
  roomId: r.room_id,
  uploaderId: r.uploader_id,
  messageId: r.message_id,
  name: r.name,
  contentType: r.content_type,
  size: r.size,
  storageKey: r.storage_key,
  thumbnailKey: r.thumbnail_key,
  width: r.width,
  height: r.height,
  createdAt: r.created_at,
});

export const toReply = (r: ReplyRow): ReplyRecord => ({
  id: r.id,
  seq: r.seq,
  authorId: r.author_id,
  author: r.author,
  excerpt: r.deleted_at === null ? r.excerpt : '',
  deleted: r.deleted_at !== null,
});

/** Longest excerpt of a quoted message a reply carries, in characters (the client shows one or two lines). */
export const REPLY_EXCERPT_CHARS = 200;

/** The rows related to a set of messages, each kind read by the dialect in one query. */
export interface RelatedRows {
  replies: ReplyRow[];
  reactions: ReactionRow[];
  attachments: AttachmentRow[];
}

/** The messages that change rows of a page point at. */
export function targetIdsOf(records: MessageRecord[]): number[] {
  return [...new Set(records.flatMap((m) => (m.targetId !== null ? [m.targetId] : [])))];
}

/** What to read for a set of messages: their own reactions and attachments, and the messages they quote. */
export function relatedIdsOf(messages: MessageRecord[]): { messageIds: number[]; replyIds: number[] } {
  const own = messages.filter((m) => m.kind === 'message');
  return {
    messageIds: own.map((m) => m.id),
    replyIds: [...new Set(own.flatMap((m) => (m.replyToId !== null ? [m.replyToId] : [])))],
  };
}

/**
 * Fills in replies, reactions and attachments of message records (in place) from the rows read for them.
 * Reactions keep the order the rows came in (the dialects order them by first use).
 */
export function attachRelated(messages: MessageRecord[], related: RelatedRows): void {
  const replies = new Map(related.replies.map((r) => [r.id, toReply(r)]));
  const reactions = new Map<number, ReactionRecord[]>();
  for (const r of related.reactions) {
    let list = reactions.get(r.message_id);
    if (!list) reactions.set(r.message_id, (list = []));
    let entry = list.find((e) => e.emoji === r.emoji);
    if (!entry) list.push((entry = { emoji: r.emoji, userIds: [] }));
    entry.userIds.push(r.user_id);
  }
  const files = new Map<number, AttachmentRecord[]>();
  for (const a of related.attachments) {
    if (a.message_id === null) continue;
    let list = files.get(a.message_id);
    if (!list) files.set(a.message_id, (list = []));
    list.push(toAttachment(a));
  }
  for (const m of messages) {
    if (m.kind !== 'message') continue;
    m.replyTo = m.replyToId !== null ? (replies.get(m.replyToId) ?? null) : null;
    m.reactions = reactions.get(m.id) ?? [];
    m.attachments = files.get(m.id) ?? [];
  }
}

/** Hangs each change row's (hydrated) target on it. */
export function attachTargets(records: MessageRecord[], targets: MessageRecord[]): void {
  const byId = new Map(targets.map((t) => [t.id, t]));
  for (const m of records) if (m.kind !== 'message') m.target = m.targetId !== null ? (byId.get(m.targetId) ?? null) : null;
}

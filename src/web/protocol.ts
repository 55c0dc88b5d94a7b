/**
 * The frames of docs/protocol.md as the browser sees them. Only types: the client trusts the server's
 * shapes (it validates them in its own tests) and keeps the bundle free of a schema library.
 */

/** A person as others see them. */
export interface User {
  id: number;
  username: string;
  displayName: string;
}

/** The signed-in user (`GET /api/me`). */
export interface Me extends User {
  isAdmin: boolean;
  /** Others see only "delivered" for my messages (never "read"). */
  privateReceipts?: boolean;
}

/** When a room notifies: `default` = direct conversations and mentions. */
export type NotifyLevel = 'default' | 'all' | 'mentions' | 'nothing';

/** One member's cumulative cursors in a room (`read` absent when they keep it private). */
export interface Cursor {
  user: number;
  delivered: number;
  read?: number;
}

/** The unread state of one room for the signed-in user. */
export interface UnreadState {
  room: number;
  lastSeq: number;
  readSeq: number;
  unread: number;
  mentions: number;
  notify: NotifyLevel;
}

/** Presence of a user as the server reports it. */
export type PresenceState = 'online' | 'away' | 'offline';
export interface Presence {
  id: number;
  state: PresenceState;
  lastSeen: string | null;
}

/** What kind of room: public (anyone may join), private (invitation only), direct (a conversation). */
export type RoomKind = 'public' | 'private' | 'direct';

/** A room as `GET /api/rooms`, `room_created` and `room_added` describe it. */
export interface Room {
  id: number;
  name: string;
  kind: RoomKind;
  ownerId: number | null;
  createdAt: string;
  lastSeq: number;
  /** Direct conversations list their members, so they can be named after the other people. */
  members?: User[];
  /** The caller's read cursor, unread and mention counts and notification level (issue 5). */
  readSeq?: number;
  unread?: number;
  mentions?: number;
  notify?: NotifyLevel;
}

/** A personal API token as listed in settings (its secret is shown only once, when created). */
export interface ApiToken {
  id: number;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
}

/** A stored message (`message` frames and the entries of `history` pages). */
export interface ChatMessage {
  type: 'message';
  room: number;
  seq: number;
  id: number;
  /** The author's user id (null for guests of the original endpoint). */
  authorId: number | null;
  author: string;
  body: string;
  time: string;
  clientMsgId?: string;
  /** Ids of the users the message mentions. */
  mentions?: number[];
  /** ISO time of the last edit, or null (absent from servers before issue 6). */
  editedAt?: string | null;
  /** Deleted: body empty, shown as a placeholder. */
  deleted?: boolean;
  /** The message this one answers, as it was when last sent to this client. */
  replyTo?: ReplyRef | null;
  /** In order of first use; users in the order they reacted. */
  reactions?: Reaction[];
  attachments?: Attachment[];
}

/** What a reply shows of the message it quotes. */
export interface ReplyRef {
  id: number;
  seq: number;
  authorId: number | null;
  author: string;
  excerpt: string;
  deleted: boolean;
}

/** One emoji on a message and who reacted with it. */
export interface Reaction {
  emoji: string;
  users: number[];
}

/** A file attached to a message (thumbnail and size only for images). */
export interface Attachment {
  id: number;
  name: string;
  type: string;
  size: number;
  url: string;
  thumbnailUrl?: string;
  width?: number;
  height?: number;
}

/** An edit, delete or reaction change: a row of the room's seq stream carrying the message as it now stands. */
export interface MessageUpdate {
  type: 'update';
  room: number;
  seq: number;
  kind: 'edit' | 'delete' | 'reaction';
  actorId: number;
  actor: string;
  time: string;
  /** Null only if the server could not read the changed message; the row still counts for the seq cursors. */
  message: ChatMessage | null;
}

/** Limits announced in `hello`. */
export interface Limits {
  maxMessageChars: number;
  maxFrameBytes: number;
  /** Largest attachment the server takes (MAX_UPLOAD_BYTES): larger files are refused before uploading. */
  maxUploadBytes: number;
  historyPageMax: number;
}

/** Every frame the server sends on `/ws`. */
export type ServerFrame =
  | { type: 'hello'; connectionId: string; user: { id: number | null; username: string; displayName: string; guest: boolean }; limits: Limits }
  | { type: 'subscribed'; id?: string; room: number; lastSeq: number }
  | { type: 'resumed'; id?: string; rooms: number[] }
  | { type: 'unsubscribed'; id?: string; room: number }
  | { type: 'room_created'; room: Room }
  | { type: 'room_added'; room: Room }
  | { type: 'room_removed'; room: number }
  | { type: 'ack'; clientMsgId: string; room: number; seq: number; messageId: number; time: string }
  | ChatMessage
  | MessageUpdate
  | { type: 'done'; id: string; room: number; messageId: number; seq: number | null }
  // `after` pages and replays carry updates between the messages; `before` pages hold messages only.
  | { type: 'history'; id?: string; room: number; messages: Array<ChatMessage | MessageUpdate>; hasMore: boolean }
  | { type: 'pong'; id?: string }
  | { type: 'receipts'; room: number; cursors: Cursor[] }
  | { type: 'unread'; rooms: UnreadState[] }
  | { type: 'typing'; room: number; user: { id: number; displayName: string } }
  | { type: 'presence'; users: Presence[] }
  | { type: 'error'; code: string; message: string; id?: string; clientMsgId?: string; room?: number; retryAfterMs?: number };

/** Every frame the client sends on `/ws`. */
export type ClientFrame =
  | { type: 'subscribe'; id?: string; room: number; since?: number }
  | { type: 'unsubscribe'; id?: string; room: number }
  | { type: 'resume'; id?: string; rooms: Array<{ room: number; since: number }> }
  | { type: 'send'; id?: string; room: number; clientMsgId: string; body: string; replyTo?: number; attachments?: number[] }
  | { type: 'edit'; id: string; room: number; messageId: number; body: string }
  | { type: 'delete'; id: string; room: number; messageId: number }
  | { type: 'react'; id: string; room: number; messageId: number; emoji: string; on: boolean }
  | { type: 'history'; id?: string; room: number; before?: number; after?: number; limit?: number }
  | { type: 'ping'; id?: string }
  | { type: 'receipt'; room: number; delivered?: number; read?: number }
  | { type: 'typing'; room: number }
  | { type: 'presence'; state: 'active' | 'away' };

/** Limits assumed until the first `hello` says otherwise (the server's defaults). */
export const DEFAULT_LIMITS: Limits = {
  maxMessageChars: 4000,
  maxFrameBytes: 65536,
  maxUploadBytes: 10 * 1024 * 1024,
  historyPageMax: 100,
};

/**
 * Error codes after which resending the same message can never succeed; the outbox drops those messages.
 * Anything else (store_unavailable, internal, ...) is kept and retried.
 */
export const PERMANENT_SEND_ERRORS: ReadonlySet<string> = new Set(['too_long', 'empty_message', 'not_found', 'bad_frame']);

/**
 * The Store interface: the durable truth of Confab. Every SQL statement lives in an implementation under
 * store/; nothing above this folder knows a dialect. All methods are async so that a networked database
 * (PostgreSQL) implements the same contract as the embedded SQLite one.
 */

/** Who may find and read a room: anyone signed in, its members only, or the people of a direct conversation. */
export type RoomKind = 'public' | 'private' | 'direct';

/** A chat room as stored. Times are milliseconds since the epoch. */
export interface RoomRecord {
  id: number;
  name: string;
  kind: RoomKind;
  /** The member who invites and removes in a private room; null for public rooms made before accounts. */
  ownerId: number | null;
  createdAt: number;
  /** Highest `seq` assigned in this room (0 when empty). */
  lastSeq: number;
}

/** What the domain hands to the store to create a room. */
export interface NewRoom {
  name: string;
  /** The case-folded name that uniqueness applies to. */
  nameKey: string;
  kind: RoomKind;
  ownerId: number | null;
  createdAt: number;
}

/** A user account. `passwordHash` is a PHC string (argon2id). */
export interface UserRecord {
  id: number;
  username: string;
  displayName: string;
  passwordHash: string;
  isAdmin: boolean;
  createdAt: number;
  /** Others see this user's cursors with `read` hidden (delivered only). */
  privateReceipts: boolean;
  /** When the user's last connection closed; null when never seen or not since issue 5. */
  lastSeenAt: number | null;
}

export interface NewUser {
  username: string;
  usernameKey: string;
  displayName: string;
  passwordHash: string;
  createdAt: number;
}

/** A sign-in session; only the hash of its token is stored. */
export interface SessionRecord {
  id: number;
  userId: number;
  createdAt: number;
  expiresAt: number;
}

/** A personal API token for scripts and bots; only the hash of its secret is stored. */
export interface ApiTokenRecord {
  id: number;
  userId: number;
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
}

/** A room member as lists show it. */
export interface MemberRecord {
  userId: number;
  username: string;
  displayName: string;
  joinedAt: number;
}

/** A stored message. `seq` is gapless per room, assigned atomically with the insert. */
export interface MessageRecord {
  id: number;
  roomId: number;
  seq: number;
  authorId: number | null;
  author: string;
  body: string;
  clientMsgId: string | null;
  createdAt: number;
  /** Ids of the users the message mentions, ascending. */
  mentions: number[];
}

/** What the domain hands to the store to insert. */
export interface NewMessage {
  roomId: number;
  /** The author's account; null for guests of the original endpoint. */
  authorId: number | null;
  /** The name shown with the message, as it was when sent. */
  author: string;
  body: string;
  /** Idempotency key: a second insert with the same key in the same room returns the first message. */
  clientMsgId: string | null;
  createdAt: number;
  /** Users mentioned (resolved by the domain); stored in the same transaction as the message. */
  mentions?: number[];
}

/** Result of an idempotent insert: `created` is false when `clientMsgId` matched an earlier message. */
export interface InsertResult {
  message: MessageRecord;
  created: boolean;
}

/** When a member wants to be notified of a room's messages; `default`: direct conversations and mentions. */
export type NotifyLevel = 'default' | 'all' | 'mentions' | 'nothing';

/** One member's cursors in a room. */
export interface CursorRecord {
  userId: number;
  /** Highest seq that reached one of the member's devices. */
  deliveredSeq: number;
  /** Highest seq shown in a visible, focused window. Never above `deliveredSeq`. */
  readSeq: number;
  /** The member keeps `readSeq` private. */
  privateReceipts: boolean;
}

/** What moving a member's cursors did: the cursors before and after (equal when nothing moved). */
export interface CursorMove {
  before: CursorRecord;
  after: CursorRecord;
}

/** A member's unread state in one room. */
export interface UnreadRecord {
  roomId: number;
  lastSeq: number;
  readSeq: number;
  /** Messages by others after `readSeq`. */
  unread: number;
  /** Those of them that mention the member. */
  mentions: number;
  notify: NotifyLevel;
}

/** Another user sharing a room with someone, for presence. */
export interface PeerRecord {
  userId: number;
  lastSeenAt: number | null;
}

/** The storage contract; test/integration/store-contract.ts runs the same suite against every implementation. */
export interface Store {
  /** Creates the schema or brings it up to date. Safe to call on every start. */
  migrate(): Promise<void>;
  /** Inserts a room, and its owner as first member; throws StoreConflictError when `nameKey` is taken. */
  createRoom(room: NewRoom): Promise<RoomRecord>;
  getRoom(id: number): Promise<RoomRecord | null>;
  findRoomByKey(nameKey: string): Promise<RoomRecord | null>;
  /** Public rooms, by name. */
  listPublicRooms(): Promise<RoomRecord[]>;
  /** Every room of every kind (administration). */
  listAllRooms(): Promise<RoomRecord[]>;
  /** Every room the user is a member of (any kind), by name. */
  listUserRooms(userId: number): Promise<RoomRecord[]>;
  /**
   * The direct conversation of exactly these users, created with all of them as members when missing.
   * Atomic: two concurrent calls for the same set of users return the same room.
   */
  findOrCreateDirect(userIds: number[], createdAt: number): Promise<RoomRecord>;
  setRoomOwner(roomId: number, userId: number): Promise<void>;

  /** Adds a member (no-op when already one). */
  addMember(roomId: number, userId: number, joinedAt: number): Promise<void>;
  /** Removes a member; returns whether they were one. */
  removeMember(roomId: number, userId: number): Promise<boolean>;
  isMember(roomId: number, userId: number): Promise<boolean>;
  listMembers(roomId: number): Promise<MemberRecord[]>;

  /** Inserts a user; throws StoreConflictError when the username is taken. */
  createUser(user: NewUser): Promise<UserRecord>;
  getUser(id: number): Promise<UserRecord | null>;
  findUserByKey(usernameKey: string): Promise<UserRecord | null>;
  /** Users whose username or display name starts with `prefix` (case-folded), by username. */
  searchUsers(prefix: string, limit: number): Promise<UserRecord[]>;
  listUsers(): Promise<UserRecord[]>;
  setPasswordHash(userId: number, passwordHash: string): Promise<void>;
  setAdmin(userId: number, isAdmin: boolean): Promise<void>;

  createSession(tokenHash: string, userId: number, createdAt: number, expiresAt: number): Promise<SessionRecord>;
  /** The live session of a token hash, or null when unknown or expired at `now`. */
  findSession(tokenHash: string, now: number): Promise<SessionRecord | null>;
  extendSession(sessionId: number, expiresAt: number): Promise<void>;
  deleteSession(sessionId: number): Promise<void>;
  /** Deletes every session of the user and returns their ids (sign out everywhere, password change). */
  deleteUserSessions(userId: number): Promise<number[]>;

  createApiToken(tokenHash: string, userId: number, name: string, createdAt: number): Promise<ApiTokenRecord>;
  findApiToken(tokenHash: string): Promise<ApiTokenRecord | null>;
  listApiTokens(userId: number): Promise<ApiTokenRecord[]>;
  /** Deletes the user's token; returns whether it existed. */
  deleteApiToken(userId: number, tokenId: number): Promise<boolean>;
  touchApiToken(tokenId: number, usedAt: number): Promise<void>;

  /** Assigns the next `seq` and inserts in one transaction; idempotent on (roomId, clientMsgId). */
  insertMessage(message: NewMessage): Promise<InsertResult>;
  /** The newest `limit` messages with seq < beforeSeq (or the newest overall when null), oldest first. */
  messagesBefore(roomId: number, beforeSeq: number | null, limit: number): Promise<MessageRecord[]>;
  /** The oldest `limit` messages with seq > afterSeq, oldest first. */
  messagesAfter(roomId: number, afterSeq: number, limit: number): Promise<MessageRecord[]>;
  /**
   * Moves a member's cursors forward (never back): each is clamped to the room's `lastSeq`, and `delivered` is
   * raised to `read`. Null fields leave a cursor as it is. Returns null when the user is not a member.
   */
  moveCursors(roomId: number, userId: number, delivered: number | null, read: number | null): Promise<CursorMove | null>;
  /** Every member's cursors in a room. */
  listCursors(roomId: number): Promise<CursorRecord[]>;
  /** The member's unread state in each of their rooms, or only in `roomId` when given. */
  unreadSummaries(userId: number, roomId?: number): Promise<UnreadRecord[]>;
  /** Sets the member's notification level; returns false when the user is not a member. */
  setNotifyLevel(roomId: number, userId: number, level: NotifyLevel): Promise<boolean>;
  setPrivateReceipts(userId: number, on: boolean): Promise<void>;
  setLastSeen(userId: number, at: number): Promise<void>;
  /** Up to `limit` distinct users sharing at least one room with the user (the user excluded). */
  listPeers(userId: number, limit: number): Promise<PeerRecord[]>;

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

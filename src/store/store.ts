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

/** A live session with the user it signs in, read together: every request and handshake needs both. */
export interface SessionHolder {
  session: SessionRecord;
  user: UserRecord;
}

/** An API token with the user it acts for, read together (as SessionHolder). */
export interface TokenHolder {
  token: ApiTokenRecord;
  user: UserRecord;
}

/** A room member as lists show it. */
export interface MemberRecord {
  userId: number;
  username: string;
  displayName: string;
  joinedAt: number;
}

/**
 * What a row of a room's `seq` stream is: a message, or a change to an earlier one. Changes take a `seq` of
 * their own, so they keep the room's order and a client that resumes after `seq` N receives them too.
 */
export type MessageKind = 'message' | 'edit' | 'delete' | 'reaction';

/** The message a reply quotes, as that message stands now (an edit or delete shows in the quote). */
export interface ReplyRecord {
  id: number;
  seq: number;
  authorId: number | null;
  author: string;
  /** The start of the quoted body ('' once deleted). */
  excerpt: string;
  deleted: boolean;
}

/** One emoji on a message and who put it there, in the order they did. */
export interface ReactionRecord {
  emoji: string;
  userIds: number[];
}

/** An uploaded file. `messageId` is null until a message is sent with it. */
export interface AttachmentRecord {
  id: number;
  roomId: number;
  uploaderId: number;
  messageId: number | null;
  /** The file name as shown and offered for download (already made safe). */
  name: string;
  /** The checked type the file is served with. */
  contentType: string;
  size: number;
  /** Where the bytes are in the attachment storage. */
  storageKey: string;
  /** A reduced image for inline display, when the file is an image. */
  thumbnailKey: string | null;
  width: number | null;
  height: number | null;
  createdAt: number;
}

/** What the attachments domain hands to the store: a record before it has an id or a message. */
export type NewAttachment = Omit<AttachmentRecord, 'id' | 'messageId'>;

/**
 * A stored row of a room's `seq` stream. `seq` is gapless per room, assigned atomically with the insert.
 * For `kind` 'message' the record holds the message as it stands now. For a change (`edit`, `delete`,
 * `reaction`), `author`/`authorId` are who made it, `body` is empty, and `target` is the changed message as it
 * stands now, so replaying an old change shows the present state (idempotent, converging).
 */
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
  kind: MessageKind;
  /** The message a change concerns (null for messages). */
  targetId: number | null;
  /** The message this one replies to (its current state is in `replyTo`). */
  replyToId: number | null;
  editedAt: number | null;
  /** Set when the message was deleted; its body, mentions, reactions and attachments are gone then. */
  deletedAt: number | null;
  replyTo: ReplyRecord | null;
  reactions: ReactionRecord[];
  attachments: AttachmentRecord[];
  /** For a change: the message it changed, as it stands now (null if it could not be read). */
  target?: MessageRecord | null;
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
  /** The message of the same room this one replies to. */
  replyToId?: number | null;
  /**
   * Uploads to attach, linked in the same transaction; each must be the author's, in this room and not yet
   * sent, or the insert fails with StoreConflictError and nothing is stored.
   */
  attachmentIds?: number[];
}

/** An edit of a message's body, by its author (checked by the domain). */
export interface MessageEdit {
  roomId: number;
  messageId: number;
  body: string;
  mentions: number[];
  actorId: number;
  actor: string;
  at: number;
}

/** A delete (by the author, the room's owner or an admin: checked by the domain). */
export interface MessageDelete {
  roomId: number;
  messageId: number;
  actorId: number;
  actor: string;
  at: number;
}

/** Puts (`on`) or takes back one user's emoji on a message. */
export interface ReactionChange {
  roomId: number;
  messageId: number;
  userId: number;
  actor: string;
  emoji: string;
  on: boolean;
  at: number;
}

/**
 * What a change did: `event` is the new row of the `seq` stream (null when nothing changed, e.g. the same
 * reaction twice, so retries are harmless), `message` the changed message as it stands now.
 */
export interface ChangeResult {
  event: MessageRecord | null;
  message: MessageRecord;
  /** Attachments a delete removed: the caller deletes their bytes after the commit. */
  removedAttachments: AttachmentRecord[];
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
  /** The room's last seq and the member's notification level, as the move read them. */
  lastSeq: number;
  notify: NotifyLevel;
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

/**
 * One part of a search, already tokenized by the domain (src/chat/search-words.ts): a single word, or a
 * phrase of words that must stand in a row. Words are lower-cased runs of letters and decimal digits, the
 * same runs both stores index, so they never carry query syntax of either dialect.
 */
export interface SearchClause {
  words: string[];
  /** The clause's last word also matches as the start of a longer word ("conf" finds "confab"). */
  prefix: boolean;
}

/** How search results are ordered: best match first (ties newest first), or newest first. */
export type SearchSort = 'relevance' | 'newest';

/**
 * A search over the messages (kind 'message', not deleted) of every room the reader may read: public rooms,
 * and rooms they are a member of. Every clause must match (AND). With no clause, the filters alone select.
 */
export interface SearchQuery {
  /** The reader; null (a guest) reads public rooms only. */
  readerId: number | null;
  clauses: SearchClause[];
  roomId?: number | undefined;
  authorId?: number | undefined;
  /** Only messages created at or after this time (ms since the epoch). */
  after?: number | undefined;
  /** Only messages created before this time (ms since the epoch). */
  before?: number | undefined;
  sort: SearchSort;
  limit: number;
  offset: number;
  /**
   * With words: only the newest this many matching messages the reader may read (by id, after the filters)
   * are ranked and paged; MAX_SEARCH_CANDIDATES (search-sql.ts) unless given (tests give a small one).
   */
  candidates?: number | undefined;
}

/** A message found by a search, as it stands now, with its room. */
export interface SearchHit {
  message: MessageRecord;
  room: RoomRecord;
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
  /**
   * The live session of a token hash and its user (one look-up: each authentication is on the path of every
   * request and handshake), or null when unknown or expired at `now`.
   */
  findSession(tokenHash: string, now: number): Promise<SessionHolder | null>;
  extendSession(sessionId: number, expiresAt: number): Promise<void>;
  deleteSession(sessionId: number): Promise<void>;
  /** Deletes every session of the user and returns their ids (sign out everywhere, password change). */
  deleteUserSessions(userId: number): Promise<number[]>;

  createApiToken(tokenHash: string, userId: number, name: string, createdAt: number): Promise<ApiTokenRecord>;
  /** The API token of a hash and its user, or null when unknown (one look-up, as findSession). */
  findApiToken(tokenHash: string): Promise<TokenHolder | null>;
  listApiTokens(userId: number): Promise<ApiTokenRecord[]>;
  /** Deletes the user's token; returns whether it existed. */
  deleteApiToken(userId: number, tokenId: number): Promise<boolean>;
  touchApiToken(tokenId: number, usedAt: number): Promise<void>;

  /** Assigns the next `seq` and inserts in one transaction; idempotent on (roomId, clientMsgId). */
  insertMessage(message: NewMessage): Promise<InsertResult>;
  /**
   * The newest `limit` messages (kind 'message' only: changes are already applied to them) with seq < beforeSeq
   * (or the newest overall when null), oldest first.
   */
  messagesBefore(roomId: number, beforeSeq: number | null, limit: number): Promise<MessageRecord[]>;
  /** The oldest `limit` rows of every kind with seq > afterSeq, oldest first: the replay path. */
  messagesAfter(roomId: number, afterSeq: number, limit: number): Promise<MessageRecord[]>;
  /** A message (kind 'message') of the room, deleted or not; null when there is none with that id. */
  getMessage(roomId: number, messageId: number): Promise<MessageRecord | null>;
  /** Replaces the body (and mentions) and appends an `edit` row; null when the message is missing or deleted. */
  editMessage(edit: MessageEdit): Promise<ChangeResult | null>;
  /**
   * Empties the message (body, mentions, reactions, attachments, search entry) and appends a `delete` row;
   * null when the message is missing. Deleting a deleted message changes nothing (`event` null).
   */
  deleteMessage(del: MessageDelete): Promise<ChangeResult | null>;
  /** Sets one reaction and appends a `reaction` row when it changed; null when the message is missing or deleted. */
  setReaction(change: ReactionChange): Promise<ChangeResult | null>;

  createAttachment(attachment: NewAttachment): Promise<AttachmentRecord>;
  getAttachment(id: number): Promise<AttachmentRecord | null>;
  /**
   * Deletes up to `limit` uploads never sent with a message and made before `createdBefore`, and returns them
   * (the caller removes their bytes). An upload being sent at the same moment is either linked or deleted, never both.
   */
  deleteUnsentAttachments(createdBefore: number, limit: number): Promise<AttachmentRecord[]>;
  /**
   * Moves a member's cursors forward (never back): each is clamped to the room's `lastSeq`, and `delivered` is
   * raised to `read`. Null fields leave a cursor as it is. Returns null when the user is not a member.
   */
  moveCursors(roomId: number, userId: number, delivered: number | null, read: number | null): Promise<CursorMove | null>;
  /**
   * The cursors of a room's members that have moved (`delivered` > 0; `read` is never ahead of it). A member who
   * never received anything says nothing to anyone: leaving them out keeps the snapshot each `subscribe` sends
   * in proportion to the members who take part, not to the room (a 5,000-member room's joins were O(members) each).
   */
  listCursors(roomId: number): Promise<CursorRecord[]>;
  /** The member's unread state in each of their rooms, or only in `roomId` when given. */
  unreadSummaries(userId: number, roomId?: number): Promise<UnreadRecord[]>;
  /** Sets the member's notification level; returns false when the user is not a member. */
  setNotifyLevel(roomId: number, userId: number, level: NotifyLevel): Promise<boolean>;
  setPrivateReceipts(userId: number, on: boolean): Promise<void>;
  setLastSeen(userId: number, at: number): Promise<void>;
  /** The ids of the rooms the user is a member of. */
  memberRoomIds(userId: number): Promise<number[]>;
  /**
   * For each room, its `limit` lowest-id members, by id, with when each was last seen (a room that does not
   * exist or has nobody: an empty list). An index range per room that stops after `limit` rows, however large.
   */
  roomMemberPages(roomIds: number[], limit: number): Promise<Map<number, PeerRecord[]>>;

  /**
   * Messages matching the query that its reader may read, best or newest first (see SearchQuery); the same
   * words and filters find the same messages on every implementation.
   */
  searchMessages(query: SearchQuery): Promise<SearchHit[]>;

  /** Cheap round trip for readiness checks; throws when the database does not answer. */
  ping(): Promise<void>;
  /**
   * A counter the admin tool (`npm run admin`) moves after each change of access (a password reset, an admin
   * right given or taken away): an instance the tool's announcements cannot reach (no REDIS_URL) polls it.
   */
  adminEpoch(): Promise<number>;
  bumpAdminEpoch(): Promise<void>;
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

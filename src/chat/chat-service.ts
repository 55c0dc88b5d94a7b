/**
 * The chat domain: rooms, membership, direct conversations and messages. Each operation checks access and
 * validates first (coded errors), then stores, then publishes to the explicit group that should hear about
 * it. It knows neither HTTP nor WebSocket nor SQL.
 *
 * Access: a public room is readable and writable by every signed-in user (and by guests of the original
 * endpoint when allowed); a private room or direct conversation only by its members. A room one may not read
 * answers `not_found`, exactly like a room that does not exist, so existence never leaks.
 */
import type { Logger } from 'pino';
import { ConfabError } from '../errors.js';
import type { ChannelLayer, LayerHandler } from '../layer/layer.js';
import {
  StoreConflictError,
  type MessageRecord,
  type NotifyLevel,
  type RoomRecord,
  type Store,
  type UnreadRecord,
} from '../store/store.js';
import type { AccessRechecks } from './access-rechecks.js';
import { parseMentions } from './mentions.js';
import { type Principal, type UserView, userView } from './principal.js';
import type { RateLimits } from './rate-limits.js';
import { RoomAccess, type RoomFacts } from './room-access.js';
import { checkBody, checkRoomName, roomNameKey } from './rules.js';
import { userGroup, type UserEvent } from './user-events.js';

/** Default and largest page of `history`. */
export const HISTORY_PAGE_DEFAULT = 50;
export const HISTORY_PAGE_MAX = 100;
/** Most people in one direct conversation (the starter included). */
export const MAX_DIRECT_MEMBERS = 8;

/** Layer group that carries public room creations to every connection. */
const ROOMS_GROUP = 'rooms';
/** Layer group of one room's live messages. */
const roomGroup = (roomId: number) => `room.${roomId}`;
/** Layer group of one room's typing notices (never stored). */
const typingGroup = (roomId: number) => `room.${roomId}.typing`;

/** The notification levels a member may choose for a room. */
export const NOTIFY_LEVELS: readonly NotifyLevel[] = ['default', 'all', 'mentions', 'nothing'];

/** Someone typing in a room, as relayed to the room's other subscribers. */
export interface TypingNotice {
  roomId: number;
  user: { id: number; displayName: string };
}

/** Most files one message may carry. */
export const MAX_ATTACHMENTS_PER_MESSAGE = 10;

/** What a sender asks to post. */
export interface SendRequest {
  roomId: number;
  body: string;
  clientMsgId: string | null;
  /** The id of the message of the same room this one replies to. */
  replyTo?: number | undefined;
  /** Ids of the sender's uploads to this room to send with it; the body may then be empty. */
  attachments?: number[] | undefined;
}

/** A page of history, oldest first; `hasMore` says whether another page exists in the same direction. */
export interface HistoryPage {
  messages: MessageRecord[];
  hasMore: boolean;
}

/** Which page of history: before a seq (scrolling up), after a seq (filling a gap), or the newest. */
export interface HistoryQuery {
  before?: number | undefined;
  after?: number | undefined;
  limit?: number | undefined;
}

/** A room as its reader sees it: direct conversations carry their members, so clients can name them. */
export interface RoomView extends RoomRecord {
  members?: UserView[];
  /** The reader's own unread state (sidebar lists only). */
  readSeq?: number;
  unread?: number;
  mentions?: number;
  notify?: NotifyLevel;
}

export interface ChatLimits {
  maxMessageChars: number;
}

export class ChatService {
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Running totals (/metrics). */
  readonly stats = { messagesStored: 0 };
  private closing = false;
  /** Room kinds and memberships for the per-message path, kept without a store read per message. */
  readonly access: RoomAccess;

  constructor(
    private readonly store: Store,
    private readonly layer: ChannelLayer,
    private readonly limits: ChatLimits,
    private readonly rateLimits: RateLimits,
    private readonly log: Logger,
    /**
     * Asks every instance to check again when a removal from a room could not be announced: the instance's one,
     * the one its gateway watches (required, so no caller can hand in one nobody listens to).
     */
    private readonly rechecks: AccessRechecks,
  ) {
    this.access = new RoomAccess(store, layer, log, rechecks);
  }

  /** The rooms in the user's sidebar: every room they are a member of, direct conversations included. */
  async listRooms(p: Principal): Promise<RoomView[]> {
    if (p.userId === null) return this.store.listPublicRooms();
    const [rooms, summaries] = await Promise.all([this.store.listUserRooms(p.userId), this.store.unreadSummaries(p.userId)]);
    const byRoom = new Map(summaries.map((s) => [s.roomId, s]));
    return Promise.all(
      rooms.map(async (r) => {
        const s = byRoom.get(r.id);
        const view = await this.view(r);
        return s ? { ...view, readSeq: s.readSeq, unread: s.unread, mentions: s.mentions, notify: s.notify } : view;
      }),
    );
  }

  /** The user's unread state in each room of their sidebar (sent after `hello`). */
  async unreadSummaries(p: Principal): Promise<UnreadRecord[]> {
    if (p.userId === null) return [];
    return this.store.unreadSummaries(p.userId);
  }

  /** Sets when `p` wants to be notified of a room's messages. Not a member: `not_found`. */
  async setNotifyLevel(p: Principal, roomId: number, level: unknown): Promise<void> {
    const userId = this.signedIn(p);
    if (typeof level !== 'string' || !NOTIFY_LEVELS.includes(level as NotifyLevel)) {
      throw new ConfabError('bad_request', `"level" must be one of ${NOTIFY_LEVELS.join(', ')}`);
    }
    if (!(await this.store.setNotifyLevel(roomId, userId, level as NotifyLevel))) {
      throw new ConfabError('not_found', `Room ${roomId} does not exist`);
    }
  }

  /**
   * Tells the room's other subscribers that `p` is typing. Never stored; the caller throttles. Only someone who
   * may post in the room may say so.
   */
  async typing(p: Principal, roomId: number): Promise<void> {
    const userId = this.signedIn(p);
    await this.accessibleRoom(p, roomId);
    const notice: TypingNotice = { roomId, user: { id: userId, displayName: p.displayName } };
    this.publish(typingGroup(roomId), JSON.stringify(notice));
  }

  /** Calls `listener` with each typing notice of the room (on any instance). */
  async watchTyping(roomId: number, listener: (notice: TypingNotice) => void): Promise<() => Promise<void>> {
    return this.watch(typingGroup(roomId), listener);
  }

  /** Public rooms anyone signed in can find and join. */
  listPublicRooms(): Promise<RoomRecord[]> {
    return this.store.listPublicRooms();
  }

  /** The room as stored now (owner, last `seq`) if `p` may read it (membership read now); otherwise `not_found`, as for a room that does not exist. */
  async readableRoom(p: Principal, roomId: number): Promise<RoomRecord> {
    return this.checked(p, roomId, await this.store.getRoom(roomId), (r, u) => this.store.isMember(r, u));
  }

  /**
   * For a recheck of an open connection: false only when `p` may no longer read the room. When the store cannot
   * answer, the room stays (true): the connection's next request is checked anyway.
   */
  async stillReadable(p: Principal, roomId: number): Promise<boolean> {
    try {
      await this.readableRoom(p, roomId);
      return true;
    } catch (err) {
      return !(err instanceof ConfabError && err.code === 'not_found');
    }
  }

  /**
   * The same check for the per-message paths (send, typing, reactions, edits, subscribe) from RoomAccess's
   * cache: the facts returned never change; the membership behind the answer may be up to MEMBERSHIP_CACHE_MS old
   * when a removal went unheard (see room-access.ts).
   */
  async accessibleRoom(p: Principal, roomId: number): Promise<RoomFacts> {
    return this.checked(p, roomId, await this.access.room(roomId), (r, u) => this.access.isMember(r, u));
  }

  /** The room with its members (for direct conversations), if readable. */
  async roomView(p: Principal, roomId: number): Promise<RoomView> {
    return this.view(await this.readableRoom(p, roomId));
  }

  /** Creates a public or private room owned (and joined) by `p`. Public ones are announced to everyone. */
  async createRoom(p: Principal, rawName: unknown, kind: 'public' | 'private' = 'public'): Promise<RoomRecord> {
    const name = checkRoomName(rawName);
    let room: RoomRecord;
    try {
      room = await this.store.createRoom({ name, nameKey: roomNameKey(name), kind, ownerId: p.userId, createdAt: Date.now() });
    } catch (err) {
      if (err instanceof StoreConflictError) throw new ConfabError('room_exists', `Room "${name}" already exists`);
      throw err;
    }
    if (kind === 'public') this.publish(ROOMS_GROUP, JSON.stringify(room));
    if (p.userId !== null) this.emit(p.userId, { t: 'room_added', room });
    return room;
  }

  /**
   * The room of that name for the original endpoint, created (public) when missing, as the original app's
   * rooms exist as soon as they are named. A room `p` may not read answers `not_found`.
   */
  async ensureRoom(p: Principal, rawName: unknown): Promise<RoomRecord> {
    const name = checkRoomName(rawName);
    const found = await this.store.findRoomByKey(roomNameKey(name));
    if (found) return this.readableRoom(p, found.id);
    try {
      return await this.createRoom(p, name, 'public');
    } catch (err) {
      // Two clients naming a new room at the same instant: the loser takes the winner's room.
      if (err instanceof ConfabError && err.code === 'room_exists') {
        const room = await this.store.findRoomByKey(roomNameKey(name));
        if (room) return this.readableRoom(p, room.id);
      }
      throw err;
    }
  }

  /** Joins a public room (adds it to the sidebar). Private rooms need an invitation. */
  async joinRoom(p: Principal, roomId: number): Promise<RoomRecord> {
    const userId = this.signedIn(p);
    const room = await this.readableRoom(p, roomId);
    if (room.kind === 'public') {
      await this.store.addMember(room.id, userId, Date.now());
      this.emit(userId, { t: 'room_added', room });
    }
    return room;
  }

  /** Leaves a room. The owner of a private room with other members hands it over first. */
  async leaveRoom(p: Principal, roomId: number): Promise<void> {
    const userId = this.signedIn(p);
    const room = await this.readableRoom(p, roomId);
    if (room.kind === 'direct') throw new ConfabError('forbidden', 'You cannot leave a direct conversation');
    if (room.kind === 'private' && room.ownerId === userId) {
      const members = await this.store.listMembers(room.id);
      if (members.some((m) => m.userId !== userId)) {
        throw new ConfabError('forbidden', 'Hand the room over to another member before leaving');
      }
    }
    await this.store.removeMember(room.id, userId);
    this.access.removed(room.id, userId);
    this.emit(userId, { t: 'room_removed', roomId: room.id });
  }

  /** Adds a user to a room: in a private room only its owner (or an admin) may; in a public room any member. */
  async invite(p: Principal, roomId: number, userId: number): Promise<void> {
    const room = await this.readableRoom(p, roomId);
    if (room.kind === 'direct') throw new ConfabError('forbidden', 'Start a new conversation to add people');
    if (room.kind === 'private') this.requireOwner(p, room);
    else if (p.userId === null || !(await this.store.isMember(room.id, p.userId))) {
      throw new ConfabError('forbidden', 'Join the room before inviting people to it');
    }
    const user = await this.store.getUser(userId);
    if (!user) throw new ConfabError('not_found', 'No such user');
    await this.store.addMember(room.id, user.id, Date.now());
    this.emit(user.id, { t: 'room_added', room });
  }

  /** Removes another member (owner or admin of a private room); they stop receiving the room at once. */
  async removeMember(p: Principal, roomId: number, userId: number): Promise<void> {
    const room = await this.readableRoom(p, roomId);
    if (room.kind !== 'private') throw new ConfabError('forbidden', 'Only private rooms have members to remove');
    this.requireOwner(p, room);
    if (userId === room.ownerId) throw new ConfabError('forbidden', 'Hand the room over before removing yourself');
    if (!(await this.store.removeMember(room.id, userId))) throw new ConfabError('not_found', 'Not a member');
    this.access.removed(room.id, userId);
    this.emit(userId, { t: 'room_removed', roomId: room.id });
  }

  /** Hands a private room over to another member. */
  async transferOwnership(p: Principal, roomId: number, userId: number): Promise<RoomRecord> {
    const room = await this.readableRoom(p, roomId);
    if (room.kind !== 'private') throw new ConfabError('forbidden', 'Only private rooms have an owner');
    this.requireOwner(p, room);
    if (!(await this.store.isMember(room.id, userId))) throw new ConfabError('not_found', 'Not a member');
    await this.store.setRoomOwner(room.id, userId);
    return { ...room, ownerId: userId };
  }

  /** The members of a readable room. */
  async members(p: Principal, roomId: number): Promise<UserView[]> {
    const room = await this.readableRoom(p, roomId);
    return (await this.store.listMembers(room.id)).map((m) => userView({ ...m, id: m.userId }));
  }

  /**
   * The direct conversation of `p` and these users: one per set of people however often and from whichever
   * side it is started (the store makes it atomic). Every member's sidebar gets it at once.
   */
  async openDirect(p: Principal, userIds: number[]): Promise<RoomView> {
    const me = this.signedIn(p);
    const ids = [...new Set([me, ...userIds])];
    if (ids.length < 2) throw new ConfabError('bad_request', 'Name at least one other person');
    if (ids.length > MAX_DIRECT_MEMBERS) {
      throw new ConfabError('bad_request', `A direct conversation has at most ${MAX_DIRECT_MEMBERS} people`);
    }
    for (const id of ids) {
      if (!(await this.store.getUser(id))) throw new ConfabError('not_found', 'No such user');
    }
    const room = await this.store.findOrCreateDirect(ids, Date.now());
    for (const id of ids) this.emit(id, { t: 'room_added', room });
    return this.view(room);
  }

  /**
   * Stores a message and publishes it to the room. Resolves only after the commit, so the caller may ack.
   * Access is checked on every send (RoomAccess: a removal on any instance is normally heard within the layer's delivery
   * time), so a member removed a moment ago can no longer post.
   * A retry with the same clientMsgId returns the stored message and publishes nothing new.
   */
  async send(p: Principal, req: SendRequest): Promise<MessageRecord> {
    if (this.closing) throw new ConfabError('shutting_down');
    const attachmentIds = [...new Set(req.attachments ?? [])];
    const body = checkBody(req.body, this.limits.maxMessageChars, attachmentIds.length > 0);
    const room = await this.accessibleRoom(p, req.roomId);
    await this.rateLimit(p);
    if (req.replyTo !== undefined && !(await this.store.getMessage(room.id, req.replyTo))) {
      throw new ConfabError('not_found', 'The message you reply to does not exist');
    }
    await this.checkAttachments(p, room, attachmentIds);
    const mentions = await this.resolveMentions(p, room, body);
    const work = this.store.insertMessage({
      roomId: req.roomId,
      authorId: p.userId,
      author: p.displayName,
      body,
      clientMsgId: req.clientMsgId,
      createdAt: Date.now(),
      mentions,
      replyToId: req.replyTo ?? null,
      attachmentIds,
    });
    this.inFlight.add(work);
    try {
      const { message, created } = await work;
      if (created) {
        this.stats.messagesStored++;
        this.announce(message);
      }
      return message;
    } catch (err) {
      // The room, the quoted message or an upload vanished (or was taken) between the checks and the insert.
      if (err instanceof StoreConflictError) throw new ConfabError('not_found', 'The room, the quoted message or an attachment is gone');
      throw err;
    } finally {
      this.inFlight.delete(work);
    }
  }

  /** Publishes a stored row of a room's `seq` stream (a message or a change) to the room's live subscribers. */
  announce(row: MessageRecord): void {
    this.publish(roomGroup(row.roomId), JSON.stringify(row));
  }

  /** Counts a write (message, edit, delete or reaction) against the sender's message rate limit. */
  rateLimit(p: Principal): Promise<void> {
    return this.rateLimits.message(p.userId !== null ? `u${p.userId}` : `g${p.username}`);
  }

  /** Uploads may go out only with their uploader's message in the room they were uploaded to, once. */
  private async checkAttachments(p: Principal, room: RoomFacts, ids: number[]): Promise<void> {
    if (ids.length === 0) return;
    if (p.userId === null) throw new ConfabError('unauthenticated', 'Sign in to send files');
    if (ids.length > MAX_ATTACHMENTS_PER_MESSAGE) {
      throw new ConfabError('bad_request', `A message carries at most ${MAX_ATTACHMENTS_PER_MESSAGE} files`);
    }
    for (const id of ids) {
      const a = await this.store.getAttachment(id);
      if (!a || a.uploaderId !== p.userId || a.roomId !== room.id) throw new ConfabError('not_found', `No upload ${id} in this room`);
      if (a.messageId !== null) throw new ConfabError('bad_request', `Upload ${id} was already sent`);
    }
  }

  /** A page of a readable room's history (see HistoryQuery). */
  async history(p: Principal, roomId: number, query: HistoryQuery): Promise<HistoryPage> {
    await this.readableRoom(p, roomId);
    const limit = Math.min(Math.max(query.limit ?? HISTORY_PAGE_DEFAULT, 1), HISTORY_PAGE_MAX);
    // One row more than asked tells whether another page exists, without a COUNT.
    if (query.after !== undefined) {
      const rows = await this.store.messagesAfter(roomId, query.after, limit + 1);
      return { messages: rows.slice(0, limit), hasMore: rows.length > limit };
    }
    const rows = await this.store.messagesBefore(roomId, query.before ?? null, limit + 1);
    return { messages: rows.slice(rows.length > limit ? 1 : 0), hasMore: rows.length > limit };
  }

  /** Messages with seq > afterSeq, oldest first, at most `limit`: the replay path (access checked at subscribe). */
  messagesAfter(roomId: number, afterSeq: number, limit: number): Promise<MessageRecord[]> {
    return this.store.messagesAfter(roomId, afterSeq, limit);
  }

  /** The room's last `seq` in the store (null: no such room): where a live stream joined now starts. */
  async lastSeq(roomId: number): Promise<number | null> {
    return (await this.store.getRoom(roomId))?.lastSeq ?? null;
  }

  /** Calls `listener` with each message stored in the room from now on (on any instance). */
  async watchRoom(roomId: number, listener: (message: MessageRecord) => void): Promise<() => Promise<void>> {
    return this.watch(roomGroup(roomId), listener);
  }

  /** Calls `listener` with each public room created from now on. */
  async watchRooms(listener: (room: RoomRecord) => void): Promise<() => Promise<void>> {
    return this.watch(ROOMS_GROUP, listener);
  }

  /** Calls `listener` with each event addressed to the user (revocations, rooms added or removed). */
  async watchUser(userId: number, listener: (event: UserEvent) => void): Promise<() => Promise<void>> {
    return this.watch(userGroup(userId), listener);
  }

  /** Refuses new sends and waits for the in-flight ones to commit (graceful stop). */
  async drain(): Promise<void> {
    this.closing = true;
    await Promise.allSettled([...this.inFlight]);
  }

  /**
   * The ids of the users a body mentions who can read the room (anyone for a public room, members otherwise);
   * the author never mentions themselves.
   */
  async resolveMentions(p: Principal, room: RoomFacts, body: string): Promise<number[]> {
    const ids: number[] = [];
    for (const key of parseMentions(body)) {
      const user = await this.store.findUserByKey(key);
      if (!user || user.id === p.userId) continue;
      if (room.kind !== 'public' && !(await this.access.isMember(room.id, user.id))) continue;
      ids.push(user.id);
    }
    return ids.sort((a, b) => a - b);
  }

  /** The room if `p` may read it (any public room; otherwise members only), else `not_found` like a missing room. */
  private async checked<R extends RoomFacts>(
    p: Principal,
    roomId: number,
    room: R | null,
    isMember: (roomId: number, userId: number) => Promise<boolean>,
  ): Promise<R> {
    if (room && (room.kind === 'public' || (p.userId !== null && (await isMember(room.id, p.userId))))) return room;
    throw new ConfabError('not_found', `Room ${roomId} does not exist`);
  }

  private requireOwner(p: Principal, room: RoomRecord): void {
    if (room.ownerId !== p.userId && !p.isAdmin) {
      throw new ConfabError('forbidden', 'Only the owner of this room may do that');
    }
  }

  private signedIn(p: Principal): number {
    if (p.userId === null) throw new ConfabError('unauthenticated');
    return p.userId;
  }

  private async view(room: RoomRecord): Promise<RoomView> {
    if (room.kind !== 'direct') return room;
    const members = await this.store.listMembers(room.id);
    return { ...room, members: members.map((m) => userView({ ...m, id: m.userId })) };
  }

  private async watch<T>(group: string, listener: (value: T) => void): Promise<() => Promise<void>> {
    const handler: LayerHandler = (payload) => listener(JSON.parse(payload) as T);
    await this.layer.subscribe(group, handler);
    return () => this.layer.unsubscribe(group, handler);
  }

  /** A lost `room_removed` would leave the removed member's feeds on other instances open: they are asked to check. */
  private emit(userId: number, event: UserEvent): void {
    this.publish(userGroup(userId), JSON.stringify(event), event.t === 'room_removed' ? () => this.rechecks.missed() : undefined);
  }

  /**
   * The store is the truth and the layer only the fast path: a failed publish is logged, never turned into a
   * failed operation, because the change is committed and receivers heal from the store.
   */
  private publish(group: string, payload: string, onFailure?: () => void): void {
    this.layer.publish(group, payload).catch((err: unknown) => {
      this.log.warn({ err, group }, 'channel layer publish failed; receivers will heal from the store');
      onFailure?.();
    });
  }
}

/**
 * The chat domain: rooms and messages. Each operation validates first (pure, coded errors), then stores,
 * then publishes to the explicit group that should hear about it. It knows neither HTTP nor WebSocket nor SQL.
 */
import type { Logger } from 'pino';
import { ConfabError } from '../errors.js';
import type { ChannelLayer, LayerHandler } from '../layer/layer.js';
import {
  StoreConflictError,
  StoreUnavailableError,
  type MessageRecord,
  type RoomRecord,
  type Store,
} from '../store/store.js';
import { checkBody, checkRoomName, roomNameKey } from './rules.js';

/** Default and largest page of `history`. */
export const HISTORY_PAGE_DEFAULT = 50;
export const HISTORY_PAGE_MAX = 100;

/** Layer group that carries room creations to every connection. */
const ROOMS_GROUP = 'rooms';
/** Layer group of one room's live messages. */
const roomGroup = (roomId: number) => `room.${roomId}`;

/** What a sender asks to post. */
export interface SendRequest {
  roomId: number;
  author: string;
  body: string;
  clientMsgId: string | null;
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

export interface ChatLimits {
  maxMessageChars: number;
}

/** Store failures become catalogue errors; anything else is a bug and stays as it is (logged as internal). */
function storeError(err: unknown): unknown {
  if (err instanceof StoreUnavailableError) return new ConfabError('store_unavailable', undefined, { cause: err });
  return err;
}

export class ChatService {
  private readonly inFlight = new Set<Promise<unknown>>();
  private closing = false;

  constructor(
    private readonly store: Store,
    private readonly layer: ChannelLayer,
    private readonly limits: ChatLimits,
    private readonly log: Logger,
  ) {}

  /** Every room, by name. */
  async listRooms(): Promise<RoomRecord[]> {
    return this.store.listRooms().catch((err: unknown) => Promise.reject(storeError(err)));
  }

  /** The room, or `not_found`. */
  async getRoom(roomId: number): Promise<RoomRecord> {
    const room = await this.store.getRoom(roomId).catch((err: unknown) => Promise.reject(storeError(err)));
    if (!room) throw new ConfabError('not_found', `Room ${roomId} does not exist`);
    return room;
  }

  /** Creates a room with a new, valid name and tells every connection about it. */
  async createRoom(rawName: unknown): Promise<RoomRecord> {
    const name = checkRoomName(rawName);
    let room: RoomRecord;
    try {
      room = await this.store.createRoom(name, roomNameKey(name), Date.now());
    } catch (err) {
      if (err instanceof StoreConflictError) throw new ConfabError('room_exists', `Room "${name}" already exists`);
      throw storeError(err);
    }
    this.publish(ROOMS_GROUP, JSON.stringify(room));
    return room;
  }

  /** The room of that name, created when missing (the original app's rooms exist as soon as they are named). */
  async ensureRoom(rawName: unknown): Promise<RoomRecord> {
    const name = checkRoomName(rawName);
    const found = await this.store.findRoomByKey(roomNameKey(name)).catch((e: unknown) => Promise.reject(storeError(e)));
    if (found) return found;
    try {
      return await this.createRoom(name);
    } catch (err) {
      // Two clients naming a new room at the same instant: the loser takes the winner's room.
      if (err instanceof ConfabError && err.code === 'room_exists') {
        const room = await this.store.findRoomByKey(roomNameKey(name));
        if (room) return room;
      }
      throw err;
    }
  }

  /**
   * Stores a message and publishes it to the room. Resolves only after the commit, so the caller may ack.
   * A retry with the same clientMsgId returns the stored message and publishes nothing new.
   */
  async send(req: SendRequest): Promise<MessageRecord> {
    if (this.closing) throw new ConfabError('shutting_down');
    const body = checkBody(req.body, this.limits.maxMessageChars);
    const work = this.store.insertMessage({
      roomId: req.roomId,
      author: req.author,
      body,
      clientMsgId: req.clientMsgId,
      createdAt: Date.now(),
    });
    this.inFlight.add(work);
    try {
      const { message, created } = await work;
      if (created) this.publish(roomGroup(message.roomId), JSON.stringify(message));
      return message;
    } catch (err) {
      if (err instanceof StoreConflictError) throw new ConfabError('not_found', `Room ${req.roomId} does not exist`);
      throw storeError(err);
    } finally {
      this.inFlight.delete(work);
    }
  }

  /** A page of a room's history (see HistoryQuery); the room must exist. */
  async history(roomId: number, query: HistoryQuery): Promise<HistoryPage> {
    await this.getRoom(roomId);
    const limit = Math.min(Math.max(query.limit ?? HISTORY_PAGE_DEFAULT, 1), HISTORY_PAGE_MAX);
    try {
      // One row more than asked tells whether another page exists, without a COUNT.
      if (query.after !== undefined) {
        const rows = await this.store.messagesAfter(roomId, query.after, limit + 1);
        return { messages: rows.slice(0, limit), hasMore: rows.length > limit };
      }
      const rows = await this.store.messagesBefore(roomId, query.before ?? null, limit + 1);
      return { messages: rows.slice(rows.length > limit ? 1 : 0), hasMore: rows.length > limit };
    } catch (err) {
      throw storeError(err);
    }
  }

  /** Messages with seq > afterSeq, oldest first, at most `limit`: the replay path of resume and gap healing. */
  async messagesAfter(roomId: number, afterSeq: number, limit: number): Promise<MessageRecord[]> {
    return this.store.messagesAfter(roomId, afterSeq, limit).catch((err: unknown) => Promise.reject(storeError(err)));
  }

  /**
   * Calls `listener` with each message stored in the room from now on (on any instance).
   * Returns the function that stops it.
   */
  async watchRoom(roomId: number, listener: (message: MessageRecord) => void): Promise<() => Promise<void>> {
    const handler: LayerHandler = (payload) => listener(JSON.parse(payload) as MessageRecord);
    await this.layer.subscribe(roomGroup(roomId), handler);
    return () => this.layer.unsubscribe(roomGroup(roomId), handler);
  }

  /** Calls `listener` with each room created from now on. Returns the function that stops it. */
  async watchRooms(listener: (room: RoomRecord) => void): Promise<() => Promise<void>> {
    const handler: LayerHandler = (payload) => listener(JSON.parse(payload) as RoomRecord);
    await this.layer.subscribe(ROOMS_GROUP, handler);
    return () => this.layer.unsubscribe(ROOMS_GROUP, handler);
  }

  /** Refuses new sends and waits for the in-flight ones to commit (graceful stop). */
  async drain(): Promise<void> {
    this.closing = true;
    await Promise.allSettled([...this.inFlight]);
  }

  /**
   * The store is the truth and the layer only the fast path: a failed publish is logged, never turned into a
   * failed send, because the message is committed and receivers heal the gap from the store.
   */
  private publish(group: string, payload: string): void {
    this.layer.publish(group, payload).catch((err: unknown) => {
      this.log.warn({ err, group }, 'channel layer publish failed; receivers will heal from the store');
    });
  }
}

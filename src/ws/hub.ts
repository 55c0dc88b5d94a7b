/**
 * This instance's fan-out: which local connections follow which room. It watches a room on the channel layer
 * once, however many local subscribers it has, and serializes each delivery once for all of them.
 */
import type { Logger } from 'pino';
import type { ChatService, TypingNotice } from '../chat/chat-service.js';
import type { PresenceChange, PresenceService } from '../chat/presence.js';
import type { Principal } from '../chat/principal.js';
import type { CursorChange, ReceiptService } from '../chat/receipts.js';
import type { UserEvent } from '../chat/user-events.js';
import type { CursorRecord, MessageRecord, RoomRecord } from '../store/store.js';
import { legacyFrame, serverFrame } from './protocol.js';
import type { GatewayCounters } from './counters.js';
import { PreparedFrame } from './connection.js';
import { RoomOrder } from './room-order.js';

/**
 * Cursor changes of one room are gathered for this long and sent as one `receipts` frame, serialized once
 * for all local subscribers: receipts must not multiply the per-message cost by the number of readers.
 */
export const RECEIPT_COALESCE_MS = 250;

/**
 * How long a room's cursor snapshot (the `receipts` frame after each `subscribe`) is served from memory before it
 * is read again. Every cursor change heard meanwhile is merged into it, so it is current but for what no change
 * announces: a member removed, or a reader who turned private receipts on (shown as before for this long).
 * A 5,000-member room's reconnect storm read every member's row once per subscribe.
 */
export const CURSOR_SNAPSHOT_MS = 1000;

/**
 * Presence changes are gathered for this long and sent to each local user as one `presence` frame listing them
 * (the newest state of each changed user), serialized once per user: a room of 5,000 coming online cost one frame
 * per change and per peer's socket, millions of frames.
 */
export const PRESENCE_COALESCE_MS = 250;

/** A frame many local connections get: encoded and framed once. */
const prepared = (text: string) => new PreparedFrame(Buffer.from(text));

/**
 * The frames of one delivery, each serialized, encoded to UTF-8 and framed at most once and shared by every
 * recipient: each socket gets the same bytes, so a delivery costs each recipient one socket write.
 */
export class DeliveryFrames {
  private serialized: PreparedFrame | undefined;
  private serializedLegacy: PreparedFrame | null | undefined;

  constructor(readonly message: MessageRecord) {}

  /** The `/ws` protocol's `message` frame. */
  get frame(): PreparedFrame {
    return (this.serialized ??= prepared(serverFrame.row(this.message)));
  }

  /** The original endpoint's `{"message": ...}` frame; null for a change, which that protocol cannot show. */
  get legacyFrame(): PreparedFrame | null {
    if (this.serializedLegacy === undefined) {
      const text = legacyFrame.message(this.message);
      this.serializedLegacy = text === null ? null : prepared(text);
    }
    return this.serializedLegacy;
  }
}

/** A local connection following a room. */
export interface RoomSubscriber {
  deliver(frames: DeliveryFrames): void;
  /** The user behind the subscription (receipts and typing depend on who reads); null for guests. */
  readonly viewerId?: number | null;
  /** Writes a live room event (`receipts`, `typing`), framed once for all; legacy subscribers ignore these. */
  deliverEvent?(frame: PreparedFrame): void;
  /** Re-reads from the store whatever live delivery may have missed (after a channel-layer outage). */
  resync(): void;
}

/** A local connection told about new rooms. */
export interface RoomListSubscriber {
  roomCreated(frame: PreparedFrame): void;
}

/** A local connection acting on events addressed to its user. */
export interface UserEventSink {
  readonly principal: Principal;
  onUserEvent(event: UserEvent): void;
  /** A `presence` frame about someone who shares a room with this user (or about the user). */
  presenceChanged(frame: string): void;
}

interface UserEntry {
  sinks: Set<UserEventSink>;
  watching: Promise<() => Promise<void>>;
}

/** A room's moved cursors as read from the store at `readAt`, with every change heard since merged in. */
interface CursorSnapshot {
  cursors: Map<number, CursorRecord>;
  /** `performance.now()` (monotonic: a wall clock set back must not keep a snapshot for longer). */
  readAt: number;
  /** Settles once the read is in (rejects if it failed: such a snapshot is dropped). */
  ready: Promise<void>;
}

interface RoomEntry {
  subscribers: Set<RoomSubscriber>;
  /** Cursor changes waiting for the coalescing window to end, by user. */
  cursors: Map<number, CursorRecord>;
  snapshot: CursorSnapshot | null;
  /** Snapshot reads still on their way, the replaced ones too: their callers wait for them, so they hear changes. */
  reading: Set<CursorSnapshot>;
  flushTimer: NodeJS.Timeout | null;
  /** The room's live rows back in seq order, once for every local subscriber. */
  order: RoomOrder;
  /** Resolves once the layer subscription is live, to the function that ends it. */
  watching: Promise<() => Promise<void>>;
}

export class Hub {
  private readonly rooms = new Map<number, RoomEntry>();
  private readonly listeners = new Set<RoomListSubscriber>();
  private readonly users = new Map<number, UserEntry>();
  private stopWatchingRooms: (() => Promise<void>) | undefined;
  private stopWatchingPresence: (() => Promise<void>) | undefined;
  /** Presence relays in flight, per changed user, so that two quick changes of one user arrive in order. */
  private readonly presenceChains = new Map<number, Promise<void>>();
  /** Presence changes waiting for PRESENCE_COALESCE_MS: local user -> changed user -> its newest change. */
  private presenceOut = new Map<number, Map<number, PresenceChange>>();
  private presenceTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly chat: ChatService,
    private readonly receipts: ReceiptService,
    private readonly presence: PresenceService,
    private readonly log: Logger,
    /** Where deliveries are counted (/metrics). */
    private readonly counters: Pick<GatewayCounters, 'deliveries'> = { deliveries: 0 },
  ) {}

  /** Starts relaying room creations and presence changes. */
  async start(): Promise<void> {
    this.stopWatchingRooms = await this.chat.watchRooms((room: RoomRecord) => {
      const frame = prepared(serverFrame.roomCreated(room));
      for (const l of this.listeners) l.roomCreated(frame);
    });
    this.stopWatchingPresence = await this.presence.watch((change) => this.relayPresence(change));
  }

  addRoomListener(l: RoomListSubscriber): void {
    this.listeners.add(l);
  }

  removeRoomListener(l: RoomListSubscriber): void {
    this.listeners.delete(l);
  }

  /** Routes the events of the sink's user to it (guests have none). */
  addUserSink(sink: UserEventSink): void {
    const userId = sink.principal.userId;
    if (userId === null) return;
    let entry = this.users.get(userId);
    if (!entry) {
      const sinks = new Set<UserEventSink>();
      const watching = this.chat.watchUser(userId, (event) => {
        for (const s of sinks) s.onUserEvent(event);
      });
      entry = { sinks, watching };
      this.users.set(userId, entry);
      watching.catch((err: unknown) => this.log.error({ err, userId }, 'could not watch user events'));
    }
    entry.sinks.add(sink);
  }

  /** Resolves once this instance listens to the user's events (at once when nothing is being set up). */
  async userEventsLive(userId: number): Promise<void> {
    await this.users.get(userId)?.watching;
  }

  removeUserSink(sink: UserEventSink): void {
    const userId = sink.principal.userId;
    if (userId === null) return;
    const entry = this.users.get(userId);
    if (!entry || !entry.sinks.delete(sink) || entry.sinks.size > 0) return;
    this.users.delete(userId);
    entry.watching.then((stop) => stop()).catch(() => {});
  }

  /** Adds a subscriber; resolves once live messages of the room reach it. */
  async join(roomId: number, subscriber: RoomSubscriber): Promise<void> {
    let entry = this.rooms.get(roomId);
    if (!entry) {
      const subscribers = new Set<RoomSubscriber>();
      const order = new RoomOrder({
        emit: (m) => this.fanOut(subscribers, m),
        readAfter: (after, limit) => this.chat.messagesAfter(roomId, after, limit),
        onReadError: (err) => this.log.warn({ err, roomId }, 'could not read a gap of the live stream; feeds heal it'),
      });
      const created: RoomEntry = {
        subscribers,
        cursors: new Map(),
        snapshot: null,
        reading: new Set(),
        flushTimer: null,
        order,
        watching: Promise.resolve(async () => {}),
      };
      created.watching = this.watchRoom(roomId, created);
      entry = created;
      this.rooms.set(roomId, entry);
      entry.watching.catch((err: unknown) => {
        this.log.error({ err, roomId }, 'could not watch room');
        if (this.rooms.get(roomId) === entry) this.rooms.delete(roomId);
      });
    }
    entry.subscribers.add(subscriber);
    await entry.watching;
  }

  /** Removes a subscriber; the last one out stops watching the room. */
  leave(roomId: number, subscriber: RoomSubscriber): void {
    const entry = this.rooms.get(roomId);
    if (!entry || !entry.subscribers.delete(subscriber) || entry.subscribers.size > 0) return;
    this.rooms.delete(roomId);
    entry.order.stop();
    if (entry.flushTimer) clearTimeout(entry.flushTimer);
    entry.watching
      .then((stop) => stop())
      .catch((err: unknown) => this.log.warn({ err, roomId }, 'could not stop watching room'));
  }

  /**
   * The room's moved cursors, for the snapshot after a subscribe (see CURSOR_SNAPSHOT_MS). Call once joined: the
   * snapshot is only kept current by the changes heard while the room is watched.
   */
  async cursors(roomId: number): Promise<CursorRecord[]> {
    const entry = this.rooms.get(roomId);
    if (!entry) return this.receipts.cursors(roomId);
    let snapshot = entry.snapshot;
    if (!snapshot || performance.now() - snapshot.readAt >= CURSOR_SNAPSHOT_MS) snapshot = this.readCursors(roomId, entry);
    await snapshot.ready;
    return [...snapshot.cursors.values()];
  }

  /** Makes every local subscriber catch up from the store (live delivery was lost for a while). */
  resync(): void {
    for (const entry of this.rooms.values()) {
      // Cursor changes were lost too: the next snapshot is read again.
      entry.snapshot = null;
      for (const s of entry.subscribers) s.resync();
    }
  }

  /** Rooms watched and local subscriptions, for tests and metrics. */
  stats(): { rooms: number; subscriptions: number } {
    let subscriptions = 0;
    for (const e of this.rooms.values()) subscriptions += e.subscribers.size;
    return { rooms: this.rooms.size, subscriptions };
  }

  async close(): Promise<void> {
    const stops = [...this.rooms.values(), ...this.users.values()].map((e) => e.watching.then((stop) => stop()));
    for (const e of this.rooms.values()) {
      e.order.stop();
      if (e.flushTimer) clearTimeout(e.flushTimer);
    }
    if (this.presenceTimer) clearTimeout(this.presenceTimer);
    this.presenceOut.clear();
    this.rooms.clear();
    this.users.clear();
    this.listeners.clear();
    await Promise.allSettled([...stops, this.stopWatchingRooms?.(), this.stopWatchingPresence?.()]);
  }

  /** Watches a room's messages, cursor changes and typing notices; resolves to the function that stops all three. */
  private async watchRoom(roomId: number, entry: RoomEntry): Promise<() => Promise<void>> {
    const stops = await Promise.all([
      this.chat.watchRoom(roomId, (m) => entry.order.push(m)),
      this.receipts.watchReceipts(roomId, (c) => this.gatherCursor(roomId, entry, c)),
      this.chat.watchTyping(roomId, (n) => this.relayTyping(entry, n)),
    ]);
    // Read once the subscription is live, so that every row after it comes through the layer.
    entry.order.start(
      await this.chat.lastSeq(roomId).catch((err: unknown) => {
        this.log.warn({ err, roomId }, 'could not read where the room stands; its first live row sets it');
        return null;
      }),
    );
    return async () => {
      await Promise.allSettled(stops.map((stop) => stop()));
    };
  }

  /**
   * A presence change goes only to this instance's connections of people who share a room with that user (and
   * to the user's own), gathered per user for PRESENCE_COALESCE_MS. Telling every connection would cost
   * connections x changes: with 20,000 people connecting, hundreds of millions of frames.
   */
  private relayPresence(change: PresenceChange): void {
    if (this.users.size === 0) return;
    const next = (this.presenceChains.get(change.id) ?? Promise.resolve())
      .then(async () => {
        const audience = await this.presence.audience(change.id);
        for (const userId of audience) {
          if (!this.users.has(userId)) continue;
          let pending = this.presenceOut.get(userId);
          if (!pending) this.presenceOut.set(userId, (pending = new Map()));
          pending.set(change.id, change);
        }
        if (this.presenceOut.size > 0) {
          this.presenceTimer ??= setTimeout(() => this.flushPresence(), PRESENCE_COALESCE_MS);
          this.presenceTimer.unref();
        }
      })
      .catch((err: unknown) => this.log.warn({ err, userId: change.id }, 'could not relay a presence change'));
    this.presenceChains.set(change.id, next);
    void next.then(() => {
      if (this.presenceChains.get(change.id) === next) this.presenceChains.delete(change.id);
    });
  }

  /** One `presence` frame per local user with every change gathered for them, to each of their connections. */
  private flushPresence(): void {
    this.presenceTimer = undefined;
    const out = this.presenceOut;
    this.presenceOut = new Map();
    for (const [userId, changes] of out) {
      const entry = this.users.get(userId);
      if (!entry) continue;
      const frame = serverFrame.presence([...changes.values()]);
      for (const sink of entry.sinks) sink.presenceChanged(frame);
    }
  }

  /** Starts reading the room's cursors; changes heard while the read is on its way are merged into its result. */
  private readCursors(roomId: number, entry: RoomEntry): CursorSnapshot {
    const snapshot: CursorSnapshot = { cursors: new Map(), readAt: performance.now(), ready: Promise.resolve() };
    snapshot.ready = this.receipts
      .cursors(roomId)
      .then((rows) => {
        const heard = snapshot.cursors;
        snapshot.cursors = new Map(rows.map((c) => [c.userId, c]));
        for (const c of heard.values()) mergeCursor(snapshot.cursors, c);
      })
      .finally(() => entry.reading.delete(snapshot));
    snapshot.ready.catch(() => {
      if (entry.snapshot === snapshot) entry.snapshot = null;
    });
    entry.reading.add(snapshot);
    entry.snapshot = snapshot;
    return snapshot;
  }

  private gatherCursor(roomId: number, entry: RoomEntry, change: CursorChange): void {
    const { roomId: _room, ...cursor } = change;
    mergeCursor(entry.cursors, cursor);
    if (entry.snapshot) mergeCursor(entry.snapshot.cursors, cursor);
    for (const reading of entry.reading) if (reading !== entry.snapshot) mergeCursor(reading.cursors, cursor);
    entry.flushTimer ??= setTimeout(() => this.flushCursors(roomId, entry), RECEIPT_COALESCE_MS);
    entry.flushTimer.unref();
  }

  /** One `receipts` frame per room per window, serialized once; a private reader's own tabs get their own. */
  private flushCursors(roomId: number, entry: RoomEntry): void {
    entry.flushTimer = null;
    const cursors = [...entry.cursors.values()];
    entry.cursors.clear();
    if (cursors.length === 0) return;
    const shared = prepared(serverFrame.receipts(roomId, cursors, null));
    const own = new Map<number, PreparedFrame>();
    const privateUsers = new Set(cursors.filter((c) => c.privateReceipts).map((c) => c.userId));
    for (const s of entry.subscribers) {
      if (!s.deliverEvent) continue;
      const viewer = s.viewerId ?? null;
      let frame = shared;
      if (viewer !== null && privateUsers.has(viewer)) {
        frame = own.get(viewer) ?? prepared(serverFrame.receipts(roomId, cursors, viewer));
        own.set(viewer, frame);
      }
      s.deliverEvent(frame);
    }
  }

  /** Typing goes to the room's subscribers except the typist's own connections; serialized once. */
  private relayTyping(entry: RoomEntry, notice: TypingNotice): void {
    const frame = prepared(serverFrame.typing(notice.roomId, notice.user));
    for (const s of entry.subscribers) {
      if (s.deliverEvent && s.viewerId !== notice.user.id) s.deliverEvent(frame);
    }
  }

  private fanOut(subscribers: Set<RoomSubscriber>, message: MessageRecord): void {
    this.counters.deliveries += subscribers.size;
    const frames = new DeliveryFrames(message);
    for (const s of subscribers) {
      try {
        s.deliver(frames);
      } catch (err) {
        this.log.error({ err, roomId: message.roomId }, 'delivery to a subscriber failed');
      }
    }
  }
}

/** Layer delivery may reorder two changes of one user: keep the furthest, as cursors only move forward. */
function mergeCursor(into: Map<number, CursorRecord>, cursor: CursorRecord): void {
  const known = into.get(cursor.userId);
  into.set(
    cursor.userId,
    known
      ? { ...cursor, deliveredSeq: Math.max(known.deliveredSeq, cursor.deliveredSeq), readSeq: Math.max(known.readSeq, cursor.readSeq) }
      : cursor,
  );
}

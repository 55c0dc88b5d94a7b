/**
 * One `/ws` connection: decodes and validates its frames, calls the chat domain, and writes answers.
 * Frames of one connection are handled one after another, so a client's messages are stored, acknowledged
 * and answered in the order it sent them.
 */
import type { Logger } from 'pino';
import { HISTORY_PAGE_MAX, type ChatService } from '../chat/chat-service.js';
import type { MessageChanges } from '../chat/message-changes.js';
import type { PresenceService } from '../chat/presence.js';
import type { Principal } from '../chat/principal.js';
import type { ReceiptService } from '../chat/receipts.js';
import type { UserEvent } from '../chat/user-events.js';
import { ConfabError, toConfabError } from '../errors.js';
import type { Hub, RoomListSubscriber, UserEventSink } from './hub.js';
import { decodeClientFrame, FrameError, serverFrame, type ClientFrame, type ErrorContext } from './protocol.js';
import { RoomFeed } from './room-feed.js';
import { CLOSE, frameRateError, PERMISSIONS_CHANGED, type Connection, type PreparedFrame } from './connection.js';

/** Bad frames one connection may send before it is closed with 1008. */
export const MAX_BAD_FRAMES = 20;
/** Frames waiting to be handled on one connection; more are refused with `rate_limited`. */
export const MAX_QUEUED_FRAMES = 256;
/** Typing notices closer together than this on one connection and room are dropped (clients send one per 3 s). */
export const TYPING_MIN_INTERVAL_MS = 1000;

export interface SessionDeps {
  chat: ChatService;
  changes: MessageChanges;
  receipts: ReceiptService;
  presence: PresenceService;
  hub: Hub;
  log: Logger;
  maxMessageChars: number;
  maxFrameBytes: number;
  maxUploadBytes: number;
  /** Told how long each send took from its frame's arrival to its ack (/metrics). */
  observeSendSeconds?: (seconds: number) => void;
}

export class ClientSession implements RoomListSubscriber, UserEventSink {
  private readonly feeds = new Map<number, RoomFeed>();
  private queue: Promise<void> = Promise.resolve();
  private queued = 0;
  private badFrames = 0;
  private closed = false;
  /** When this connection last relayed typing, per room; made on the first typing notice (most never send one). */
  private lastTyping: Map<number, number> | null = null;

  constructor(
    private readonly conn: Connection,
    readonly principal: Principal,
    private readonly deps: SessionDeps,
  ) {
    conn.write(
      serverFrame.hello(conn.id, principal, {
        maxMessageChars: deps.maxMessageChars,
        maxFrameBytes: deps.maxFrameBytes,
        maxUploadBytes: deps.maxUploadBytes,
        historyPageMax: HISTORY_PAGE_MAX,
      }),
    );
    deps.hub.addRoomListener(this);
    deps.hub.addUserSink(this);
    if (principal.userId !== null) deps.presence.connected(principal.userId, conn.id);
    // Queued first, so the sidebar's state arrives before any answer to the client's own frames.
    this.queue = this.queue.then(() =>
      this.greet().catch((err: unknown) => this.deps.log.warn({ err, conn: conn.id }, 'could not send unread and presence')),
    );
  }

  /** After `hello`: unread state of every room in the sidebar, and the presence of the people in them. */
  private async greet(): Promise<void> {
    const userId = this.principal.userId;
    if (userId === null) return;
    this.conn.write(serverFrame.unread(await this.deps.chat.unreadSummaries(this.principal)));
    this.conn.write(serverFrame.presence(await this.deps.presence.snapshot(userId)));
  }

  presenceChanged(frame: string): void {
    this.conn.write(frame);
  }

  /** Resolves when every frame received so far has been handled (graceful stop waits on this). */
  idle(): Promise<void> {
    return this.queue;
  }

  roomCreated(frame: PreparedFrame): void {
    this.conn.write(frame);
  }

  /** Acts on an event addressed to this user from any instance: revocations, rooms added or removed. */
  onUserEvent(event: UserEvent): void {
    switch (event.t) {
      case 'revoke':
        if (this.principal.sessionId !== null && event.sessionIds.includes(this.principal.sessionId)) {
          this.conn.close(CLOSE.policyViolation, 'signed out');
        }
        return;
      case 'revoke_token':
        if (this.principal.tokenId === event.tokenId) this.conn.close(CLOSE.policyViolation, 'token revoked');
        return;
      case 'permissions':
        this.conn.close(CLOSE.policyViolation, PERMISSIONS_CHANGED);
        return;
      case 'room_added':
        this.deps.chat.roomView(this.principal, event.room.id).then(
          (room) => this.conn.write(serverFrame.roomAdded(room)),
          () => {}, // gone again (removed meanwhile): nothing to announce
        );
        return;
      case 'room_removed':
        // Stale permission: stop delivering at once, whatever this connection asked for.
        this.dropFeed(event.roomId);
        this.conn.write(serverFrame.roomRemoved(event.roomId));
        return;
      case 'unread':
        this.conn.write(serverFrame.unread(event.rooms));
        return;
    }
  }

  /** A frame from the client (the gateway routes the socket's frames here). */
  onFrame(data: Buffer, isBinary: boolean): void {
    const wait = this.conn.admitFrame();
    if (wait === null) return; // cut for flooding: dropped unanswered
    if (wait > 0) {
      // The refusal echoes the frame's id and clientMsgId so the client resends the right one; decoding the
      // refused frames costs little, as MAX_FLOOD_REFUSALS in a row cut the connection.
      this.sendError(frameRateError(wait), this.contextOf(data, isBinary));
      return;
    }
    if (isBinary) {
      this.badFrame(new FrameError('binary_not_supported', 'Binary frames are not supported; send JSON text', {}));
      return;
    }
    let frame: ClientFrame;
    try {
      frame = decodeClientFrame(data.toString('utf8'));
    } catch (err) {
      if (err instanceof FrameError) this.badFrame(err);
      else this.sendError(toConfabError(err), {});
      return;
    }
    if (this.queued >= MAX_QUEUED_FRAMES) {
      this.sendError(new ConfabError('rate_limited', 'Too many frames in flight; slow down'), contextOf(frame));
      return;
    }
    this.queued++;
    this.queue = this.queue
      .then(() => this.handle(frame))
      .catch((err: unknown) => {
        const e = toConfabError(err);
        if (e.code === 'internal') this.deps.log.error({ err, conn: this.conn.id, type: frame.type }, 'frame failed');
        this.sendError(e, contextOf(frame));
      })
      .finally(() => this.queued--);
  }

  /** The id and clientMsgId of a frame, if it has any that decode (for answering one that is not handled). */
  private contextOf(data: Buffer, isBinary: boolean): ErrorContext {
    if (isBinary) return {};
    try {
      return contextOf(decodeClientFrame(data.toString('utf8')));
    } catch (err) {
      return err instanceof FrameError ? err.context : {};
    }
  }

  private async handle(frame: ClientFrame): Promise<void> {
    if (this.closed) return;
    switch (frame.type) {
      case 'send': {
        const started = performance.now();
        const message = await this.deps.chat.send(this.principal, {
          roomId: frame.room,
          body: frame.body,
          clientMsgId: frame.clientMsgId,
          replyTo: frame.replyTo,
          attachments: frame.attachments,
        });
        this.conn.write(serverFrame.ack(message));
        this.deps.observeSendSeconds?.((performance.now() - started) / 1000);
        return;
      }
      case 'edit': {
        const { message, seq } = await this.deps.changes.edit(this.principal, frame.room, frame.messageId, frame.body);
        this.conn.write(serverFrame.done(frame.id, message, seq));
        return;
      }
      case 'delete': {
        const { message, seq } = await this.deps.changes.delete(this.principal, frame.room, frame.messageId);
        this.conn.write(serverFrame.done(frame.id, message, seq));
        return;
      }
      case 'react': {
        const { message, seq } = await this.deps.changes.react(this.principal, frame.room, frame.messageId, frame.emoji, frame.on);
        this.conn.write(serverFrame.done(frame.id, message, seq));
        return;
      }
      case 'subscribe': {
        await this.subscribe(frame.room, frame.since, frame.id);
        return;
      }
      case 'resume': {
        const rooms: number[] = [];
        for (const r of frame.rooms) {
          try {
            await this.subscribe(r.room, r.since, frame.id);
            rooms.push(r.room);
          } catch (err) {
            // One vanished room must not stop the others from resuming.
            this.sendError(toConfabError(err), { ...(frame.id ? { id: frame.id } : {}), room: r.room });
          }
        }
        this.conn.write(serverFrame.resumed(frame.id, rooms));
        return;
      }
      case 'unsubscribe': {
        this.dropFeed(frame.room);
        this.conn.write(serverFrame.unsubscribed(frame.id, frame.room));
        return;
      }
      case 'history': {
        const page = await this.deps.chat.history(this.principal, frame.room, frame);
        this.conn.write(serverFrame.history(frame.id, frame.room, page.messages, page.hasMore));
        return;
      }
      case 'ping':
        this.conn.write(serverFrame.pong(frame.id));
        return;
      case 'receipt':
        await this.deps.receipts.receipt(this.principal, { roomId: frame.room, delivered: frame.delivered, read: frame.read });
        return;
      case 'typing': {
        const now = Date.now();
        this.lastTyping ??= new Map();
        if (now - (this.lastTyping.get(frame.room) ?? -Infinity) < TYPING_MIN_INTERVAL_MS) return;
        this.lastTyping.set(frame.room, now);
        await this.deps.chat.typing(this.principal, frame.room);
        return;
      }
      case 'presence':
        if (this.principal.userId !== null) this.deps.presence.changed(this.principal.userId, this.conn.id, frame.state);
        return;
    }
  }

  /**
   * Joins the room's live feed first, then reads where the room stands, then replays: in that order nothing
   * published between the read and the join can be missed (a message seen twice is dropped by the feed).
   */
  private async subscribe(roomId: number, since: number | undefined, id: string | undefined): Promise<void> {
    let feed = this.feeds.get(roomId);
    const existing = feed !== undefined;
    if (feed) {
      feed.hold();
    } else {
      await this.deps.chat.accessibleRoom(this.principal, roomId);
      feed = new RoomFeed(
        roomId,
        this.deps.chat,
        {
          write: (text) => this.conn.write(text),
          whenWritable: () => this.conn.whenWritable(),
          fail: (err) => {
            this.deps.log.warn({ err, conn: this.conn.id, roomId }, 'replay failed; closing so the client resumes');
            this.conn.close(CLOSE.internalError, 'replay failed');
          },
        },
        'protocol',
        this.principal.userId,
      );
      this.feeds.set(roomId, feed);
      await this.deps.hub.join(roomId, feed);
    }
    const room = await this.deps.chat.readableRoom(this.principal, roomId);
    this.conn.write(serverFrame.subscribed(id, roomId, room.lastSeq));
    // Every member's cursors at once, so "read by N" can be drawn before the first change arrives.
    this.conn.write(serverFrame.receipts(roomId, await this.deps.hub.cursors(roomId), this.principal.userId));
    // Replay runs beside the frame queue: a long catch-up must not hold up this client's sends.
    // Without `since`, a new feed starts at the present; an existing one carries on from what it has sent, so a
    // repeated subscribe can never skip a message still on its way.
    const from = since ?? (existing ? feed.position : room.lastSeq);
    void feed.replayFrom(Math.min(from, room.lastSeq), room.lastSeq);
  }

  private badFrame(err: FrameError): void {
    this.badFrames++;
    this.sendError(err, err.context);
    if (this.badFrames >= MAX_BAD_FRAMES) this.conn.close(CLOSE.policyViolation, 'too many bad frames');
  }

  private sendError(err: ConfabError, ctx: ErrorContext): void {
    this.conn.write(serverFrame.error(err, ctx));
  }

  /**
   * After a channel-layer outage, or when an instance asks for a recheck, a removal from a room may not have
   * arrived: each followed room is checked again, and one the user may no longer read is dropped and announced
   * as `room_removed`, as the event would have done. A room the store cannot answer for stays (its next request
   * is checked anyway).
   */
  async recheckRooms(): Promise<void> {
    for (const roomId of [...this.feeds.keys()]) {
      if (!(await this.deps.chat.stillReadable(this.principal, roomId)) && !this.closed) {
        this.onUserEvent({ t: 'room_removed', roomId });
      }
    }
  }

  private dropFeed(roomId: number): void {
    const feed = this.feeds.get(roomId);
    if (!feed) return;
    feed.stop();
    this.feeds.delete(roomId);
    this.deps.hub.leave(roomId, feed);
  }

  /** The connection closed (told by the gateway). */
  onClose(): void {
    this.closed = true;
    if (this.principal.userId !== null) this.deps.presence.disconnected(this.principal.userId, this.conn.id);
    this.deps.hub.removeRoomListener(this);
    this.deps.hub.removeUserSink(this);
    for (const [roomId, feed] of this.feeds) {
      feed.stop();
      this.deps.hub.leave(roomId, feed);
    }
    this.feeds.clear();
  }
}

/** The fields of a decoded frame that an error about it echoes. */
function contextOf(frame: ClientFrame): ErrorContext {
  const ctx: ErrorContext = {};
  if (frame.id !== undefined) ctx.id = frame.id;
  if (frame.type === 'send') ctx.clientMsgId = frame.clientMsgId;
  if ('room' in frame) ctx.room = frame.room;
  return ctx;
}

/**
 * The original Django Channels tutorial endpoint, `/ws/chat/<room_name>/`: receives `{"message": "..."}` and
 * sends `{"message": "..."}` to everyone in the room, on either endpoint. Its messages are stored like any
 * other; the original protocol has no ack, no seq and no resume, so its clients get live messages only.
 */
import type { Logger } from 'pino';
import type { ChatService } from '../chat/chat-service.js';
import { toConfabError } from '../errors.js';
import type { RoomRecord } from '../store/store.js';
import { CLOSE, frameRateError, PERMISSIONS_CHANGED, type Connection } from './connection.js';
import type { Hub, UserEventSink } from './hub.js';
import { RoomFeed } from './room-feed.js';
import type { Principal } from '../chat/principal.js';
import type { UserEvent } from '../chat/user-events.js';
import { decodeLegacyFrame, FrameError, legacyFrame } from './protocol.js';

export class LegacySession implements UserEventSink {
  /** Frames are handled in order, and only once the room is found (or created) and joined. */
  private queue: Promise<unknown>;
  private room: RoomRecord | undefined;
  /** Gapless delivery from the moment of joining, in the original format (the protocol has no resume). */
  private feed: RoomFeed | undefined;
  private closed = false;

  /**
   * The room is looked up only now, after the handshake was accepted, so a refused handshake creates nothing.
   * Frames that arrive meanwhile wait in the queue.
   */
  constructor(
    private readonly conn: Connection,
    readonly principal: Principal,
    roomName: string,
    private readonly deps: { chat: ChatService; hub: Hub; log: Logger },
  ) {
    deps.hub.addUserSink(this);
    this.queue = deps.chat.ensureRoom(principal, roomName).then(async (room) => {
      if (this.closed) return;
      this.room = room;
      const feed = new RoomFeed(
        room.id,
        deps.chat,
        {
          write: (text) => conn.write(text),
          whenWritable: () => conn.whenWritable(),
          fail: () => conn.close(CLOSE.internalError, 'replay failed'),
        },
        'original',
      );
      this.feed = feed;
      feed.hold();
      await deps.hub.join(room.id, feed);
      // Start from where the room stands now: the original protocol shows only what is said from here on.
      const now = await deps.chat.readableRoom(principal, room.id);
      void feed.replayFrom(now.lastSeq, now.lastSeq);
    });
    this.queue.catch((err: unknown) => {
      const e = toConfabError(err);
      if (e.code === 'not_found') {
        conn.write(legacyFrame.error(e));
        conn.close(CLOSE.policyViolation, 'no such room');
        return;
      }
      deps.log.error({ err, conn: conn.id }, 'original endpoint could not open its room');
      conn.close(CLOSE.internalError, 'could not open room');
    });
  }

  /** The original protocol has no presence. */
  presenceChanged(): void {}

  /** Sign-out and removal reach this connection too: it closes, as the original protocol has no other signal. */
  onUserEvent(event: UserEvent): void {
    if (
      (event.t === 'revoke' && this.principal.sessionId !== null && event.sessionIds.includes(this.principal.sessionId)) ||
      (event.t === 'revoke_token' && event.tokenId === this.principal.tokenId)
    ) {
      this.conn.close(CLOSE.policyViolation, 'signed out');
    } else if (event.t === 'permissions') {
      this.conn.close(CLOSE.policyViolation, PERMISSIONS_CHANGED);
    } else if (event.t === 'room_removed' && event.roomId === this.room?.id) {
      this.leaveRoom();
      this.room = undefined;
      this.conn.close(CLOSE.policyViolation, 'removed from room');
    }
  }

  /** In a recheck (an outage, a lost event): a room the user may no longer read closes the connection, as a removal does. */
  async recheckRooms(): Promise<void> {
    const room = this.room;
    if (!room || this.closed) return;
    if (!(await this.deps.chat.stillReadable(this.principal, room.id)) && !this.closed) {
      this.onUserEvent({ t: 'room_removed', roomId: room.id });
    }
  }

  /** The connection closed (told by the gateway). */
  onClose(): void {
    this.closed = true;
    this.deps.hub.removeUserSink(this);
    this.leaveRoom();
  }

  private leaveRoom(): void {
    if (!this.feed) return;
    this.feed.stop();
    this.deps.hub.leave(this.feed.roomId, this.feed);
    this.feed = undefined;
  }

  /** Resolves when every frame received so far has been handled. */
  idle(): Promise<unknown> {
    return this.queue.catch(() => {});
  }

  /** A frame from the client (the gateway routes the socket's frames here). */
  onFrame(data: Buffer, isBinary: boolean): void {
    const wait = this.conn.admitFrame();
    if (wait === null) return; // cut for flooding: dropped unanswered
    if (wait > 0) {
      this.conn.write(legacyFrame.error(frameRateError(wait)));
      return;
    }
    let body: string;
    try {
      if (isBinary) throw new FrameError('binary_not_supported', 'Binary frames are not supported', {});
      body = decodeLegacyFrame(data.toString('utf8'));
    } catch (err) {
      this.conn.write(legacyFrame.error(toConfabError(err)));
      return;
    }
    this.queue = this.queue
      .then(async () => {
        if (!this.room) return; // the room could not be opened; the connection is closing
        await this.deps.chat.send(this.principal, { roomId: this.room.id, body, clientMsgId: null });
      })
      .catch((err: unknown) => {
        const e = toConfabError(err);
        if (e.code === 'internal') this.deps.log.error({ err, conn: this.conn.id }, 'legacy send failed');
        this.conn.write(legacyFrame.error(e));
      });
  }
}

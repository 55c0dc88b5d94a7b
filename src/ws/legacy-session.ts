/**
 * The original Django Channels tutorial endpoint, `/ws/chat/<room_name>/`: receives `{"message": "..."}` and
 * sends `{"message": "..."}` to everyone in the room, on either endpoint. Its messages are stored like any
 * other; the original protocol has no ack, no seq and no resume, so its clients get live messages only.
 */
import type { Logger } from 'pino';
import type { ChatService } from '../chat/chat-service.js';
import { toConfabError } from '../errors.js';
import type { RoomRecord } from '../store/store.js';
import type { Connection } from './connection.js';
import type { DeliveryFrames, Hub, RoomSubscriber } from './hub.js';
import { decodeLegacyFrame, FrameError, legacyFrame } from './protocol.js';

/** Author of messages posted through the original endpoint, which has no notion of users. */
export const LEGACY_AUTHOR = 'guest';

export class LegacySession implements RoomSubscriber {
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly conn: Connection,
    private readonly room: RoomRecord,
    private readonly deps: { chat: ChatService; hub: Hub; log: Logger },
  ) {
    conn.ws.on('message', (data, isBinary) => this.onFrame(data as Buffer, isBinary));
    conn.ws.on('close', () => deps.hub.leave(room.id, this));
  }

  /** Joins the room's live feed; called once, right after the upgrade. */
  async start(): Promise<void> {
    await this.deps.hub.join(this.room.id, this);
  }

  /** Resolves when every frame received so far has been handled. */
  idle(): Promise<void> {
    return this.queue;
  }

  deliver(frames: DeliveryFrames): void {
    this.conn.write(frames.legacyText);
  }

  private onFrame(data: Buffer, isBinary: boolean): void {
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
        await this.deps.chat.send({ roomId: this.room.id, author: LEGACY_AUTHOR, body, clientMsgId: null });
      })
      .catch((err: unknown) => {
        const e = toConfabError(err);
        if (e.code === 'internal') this.deps.log.error({ err, conn: this.conn.id }, 'legacy send failed');
        this.conn.write(legacyFrame.error(e));
      });
  }
}

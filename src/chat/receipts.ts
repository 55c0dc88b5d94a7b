/**
 * Delivery and read receipts: per-member cursors per room (`delivered_seq`, `read_seq`). A receipt moves the
 * sender's cursors forward in the store (monotonic, clamped, read <= delivered), then publishes the new
 * cursors to the room's receipts group, and, when the read cursor moved, the user's fresh unread state to the
 * user's own group so every tab on every instance clears its badge. Who sees a private reader's `read` is the
 * fan-out's concern (ws/receipt-batcher.ts); this module only names the recipients.
 */
import type { Logger } from 'pino';
import { ConfabError } from '../errors.js';
import type { ChannelLayer, LayerHandler } from '../layer/layer.js';
import type { CursorRecord, Store, UnreadRecord } from '../store/store.js';
import type { Principal } from './principal.js';
import { userGroup, type UserEvent } from './user-events.js';

/** Layer group of one room's cursor changes. */
const receiptsGroup = (roomId: number) => `room.${roomId}.receipts`;

/** A cursor change as published to a room's receipts group. */
export interface CursorChange extends CursorRecord {
  roomId: number;
}

/** What a client acknowledges: either cursor may be missing. */
export interface ReceiptRequest {
  roomId: number;
  delivered?: number | undefined;
  read?: number | undefined;
}

export class ReceiptService {
  constructor(
    private readonly store: Store,
    private readonly layer: ChannelLayer,
    private readonly log: Logger,
  ) {}

  /**
   * Moves `p`'s cursors in a room. Not a member (or a guest): `not_found`, as for a room that does not exist.
   * Publishes only what changed, so repeated or stale receipts cost one store round trip and nothing more.
   */
  async receipt(p: Principal, req: ReceiptRequest): Promise<void> {
    if (p.userId === null) throw new ConfabError('not_found', `Room ${req.roomId} does not exist`);
    const move = await this.store.moveCursors(req.roomId, p.userId, req.delivered ?? null, req.read ?? null);
    if (!move) throw new ConfabError('not_found', `Room ${req.roomId} does not exist`);
    const { before, after } = move;
    if (before.deliveredSeq === after.deliveredSeq && before.readSeq === after.readSeq) return;
    const change: CursorChange = { ...after, roomId: req.roomId };
    this.publish(receiptsGroup(req.roomId), JSON.stringify(change));
    if (before.readSeq !== after.readSeq) {
      // Read up to the room's last message (most receipts): nothing is unread and nothing mentions the reader
      // after it, so the summary is known without a store read; otherwise the counts are read.
      const rooms: UnreadRecord[] =
        after.readSeq >= move.lastSeq
          ? [{ roomId: req.roomId, lastSeq: move.lastSeq, readSeq: after.readSeq, unread: 0, mentions: 0, notify: move.notify }]
          : await this.store.unreadSummaries(p.userId, req.roomId);
      const event: UserEvent = { t: 'unread', rooms };
      this.publish(userGroup(p.userId), JSON.stringify(event));
    }
  }

  /** The cursors of a room's members that have moved (access checked by the caller; see Store.listCursors). */
  cursors(roomId: number): Promise<CursorRecord[]> {
    return this.store.listCursors(roomId);
  }

  /** Calls `listener` with each cursor change of the room (on any instance). */
  async watchReceipts(roomId: number, listener: (change: CursorChange) => void): Promise<() => Promise<void>> {
    const handler: LayerHandler = (payload) => listener(JSON.parse(payload) as CursorChange);
    await this.layer.subscribe(receiptsGroup(roomId), handler);
    return () => this.layer.unsubscribe(receiptsGroup(roomId), handler);
  }

  /**
   * A failed publish is logged: the cursor is stored, and a later subscribe shows it (the hub's snapshot of the
   * room is read again at most CURSOR_SNAPSHOT_MS later).
   */
  private publish(group: string, payload: string): void {
    this.layer.publish(group, payload).catch((err: unknown) => {
      this.log.warn({ err, group }, 'channel layer publish failed; cursors are stored and re-sent on subscribe');
    });
  }
}

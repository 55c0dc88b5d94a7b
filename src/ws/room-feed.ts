/**
 * One connection's view of one room: delivers every message exactly once and in `seq` order, whether it
 * comes live from the channel layer or is replayed from the store. The cursor is the last `seq` sent.
 * A live message that skips ahead (a lost or reordered publish) makes the feed read the gap from the store
 * before going on, and live messages arriving meanwhile wait in `pending`.
 */
import type { ChatService } from '../chat/chat-service.js';
import type { MessageRecord } from '../store/store.js';
import type { PreparedFrame } from './connection.js';
import type { DeliveryFrames, RoomSubscriber } from './hub.js';
import { legacyFrame, serverFrame } from './protocol.js';

/** Which wire format the feed writes: the `/ws` protocol's `message` frames, or the original `{"message"}`. */
export type FeedFormat = 'protocol' | 'original';

/** Messages read from the store per round trip while replaying or healing a gap. */
export const REPLAY_PAGE_SIZE = 200;

/** What the feed needs from its connection. */
export interface FeedOutput {
  /** Writes a serialized text frame (or one prepared for many sockets); returns false when the connection can take no more. */
  write(frame: string | PreparedFrame): boolean;
  /** Null when replay may write on; otherwise settles once the client has read enough (or the connection ended). */
  whenWritable?(): Promise<void> | null;
  /** The store failed while catching up: the connection should end so the client resumes later. */
  fail(err: unknown): void;
}

export class RoomFeed implements RoomSubscriber {
  private cursor = 0;
  /** True while reading from the store; live messages are parked in `pending` meanwhile. */
  private catchingUp = true;
  private pending: MessageRecord[] = [];
  private stopped = false;
  /** True while replay waits for the client to read: live messages are then left to the next store read. */
  private waiting = false;

  constructor(
    readonly roomId: number,
    private readonly chat: ChatService,
    private readonly out: FeedOutput,
    private readonly format: FeedFormat = 'protocol',
    /** The user reading through this feed (null: a guest), for receipts and typing. */
    readonly viewerId: number | null = null,
  ) {}

  /** Live room events (`receipts`, `typing`): protocol connections only, the original endpoint has none. */
  deliverEvent(frame: PreparedFrame): void {
    if (!this.stopped && this.format === 'protocol') this.out.write(frame);
  }

  /**
   * Starts (or restarts) delivery after `since`. Must be called once the feed is joined to the hub, so that
   * nothing published after the store read can slip between the two.
   * `storeAt`: the room's last `seq` as read after the join, if the caller has it. When `since` is already there
   * (a fresh subscribe, a resume with nothing missed: most of a reconnect storm) the first store read is skipped,
   * as it could only find messages committed after that read, and those are published after their commit, so
   * after the join: they arrive live. (Where Redis confirmed the join's SUBSCRIBE only after REDIS_SUBSCRIBE_WAIT_MS,
   * such a message misses the live path, as one committed after a first read would; the layer counts the late
   * confirmation as a loss and its recovery resyncs every feed from the store.)
   */
  async replayFrom(since: number, storeAt?: number): Promise<void> {
    this.cursor = since;
    this.catchingUp = true;
    await this.catchUp(storeAt !== undefined && since >= storeAt);
  }

  /** The last `seq` this feed has written. */
  get position(): number {
    return this.cursor;
  }

  /** Marks the feed as being set up: live messages wait until `replayFrom` runs. */
  hold(): void {
    this.catchingUp = true;
  }

  /** Live delivery from the hub. */
  deliver(frames: DeliveryFrames): void {
    if (this.stopped) return;
    const m = frames.message;
    if (this.catchingUp) {
      // While replay waits on a client that is not reading, parking would grow without bound; the message is
      // stored already (it is published after its commit) and the next store read brings it.
      if (!this.waiting) this.pending.push(m);
      return;
    }
    if (m.seq <= this.cursor) return; // already delivered (replay overlapped the live path)
    if (m.seq === this.cursor + 1) {
      this.cursor = m.seq;
      const frame = this.format === 'protocol' ? frames.frame : frames.legacyFrame;
      if (frame !== null) this.out.write(frame);
      return;
    }
    this.pending.push(m);
    this.catchingUp = true;
    void this.catchUp();
  }

  /** Catches up from the store unless already doing so (after a channel-layer outage). */
  resync(): void {
    if (this.stopped || this.catchingUp) return;
    this.catchingUp = true;
    void this.catchUp();
  }

  /** Stops delivering (unsubscribe or connection closed). */
  stop(): void {
    this.stopped = true;
    this.pending = [];
  }

  private async catchUp(skipFirstRead = false): Promise<void> {
    let skipped = skipFirstRead;
    try {
      while (!this.stopped) {
        const page = skipped ? [] : await this.chat.messagesAfter(this.roomId, this.cursor, REPLAY_PAGE_SIZE);
        let waited = false;
        for (const m of page) {
          // Paced by the client's reading, so a long catch-up never runs into the 1013 bound by itself.
          const writable = this.out.whenWritable?.();
          if (writable) {
            this.waiting = true;
            this.pending = [];
            await writable;
            this.waiting = false;
            waited = true;
            if (this.stopped) return;
          }
          this.emit(m);
        }
        // After a wait, what was published meanwhile was not parked: read the store again.
        if (page.length === REPLAY_PAGE_SIZE || waited) continue;
        // The store is drained up to now; what arrived live meanwhile either is a duplicate, the next one,
        // or (rarely) still ahead of a message whose publish is late, which another store read settles.
        const parked = this.pending.sort((a, b) => a.seq - b.seq);
        this.pending = [];
        let gapAt = -1;
        for (let i = 0; i < parked.length; i++) {
          const m = parked[i]!;
          if (m.seq > this.cursor + 1) {
            gapAt = i;
            break;
          }
          this.emit(m);
        }
        if (gapAt === -1) break;
        this.pending = parked.slice(gapAt).concat(this.pending);
        // The store has nothing newer yet: wait for the next live message. After a skipped read, read it first.
        if (page.length === 0 && !skipped) break;
        skipped = false;
      }
      this.catchingUp = false;
    } catch (err) {
      this.catchingUp = false;
      if (!this.stopped) this.out.fail(err);
    }
  }

  private emit(m: MessageRecord): void {
    if (m.seq !== this.cursor + 1) return;
    this.cursor = m.seq;
    const text = this.format === 'protocol' ? serverFrame.row(m) : legacyFrame.message(m);
    if (text !== null) this.out.write(text);
  }
}

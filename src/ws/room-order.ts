/**
 * Puts one room's live stream back into `seq` order once per instance, before it fans out.
 *
 * The channel layer may deliver a room's rows out of order: two senders on two instances commit seq 5 and 6
 * a millisecond apart and the publish of 6 reaches Redis first (with PostgreSQL, even on one instance). Every
 * RoomFeed heals a gap by itself with a store read, which is right for one connection but, left to the feeds,
 * one reordered pair costs one store read per local subscriber: with 50 members of a room on an instance and
 * two senders, hundreds of reads a second (measured: `npm run bench -- --scenario 4`). Here the room's late row
 * is waited for `REORDER_WAIT_MS`; if it has not come by then (its publish was lost: an instance died between
 * commit and publish, Redis dropped it) the gap is read from the store once for the whole room. Feeds keep
 * their own gap healing as the safety net (a feed that joined mid-way, a store read that failed here).
 *
 * Where the stream starts is the room's last `seq` in the store when the watch began (`start`): taking the first
 * row that arrives instead would make a reordered first pair a gap for every feed. Rows that arrive before
 * `start` wait for it.
 */
import type { MessageRecord } from '../store/store.js';

/** How long a row that skips ahead waits for the rows before it to arrive live before they are read from the store. */
export const REORDER_WAIT_MS = 25;
/** Rows read per store round trip while filling a gap. */
export const REORDER_READ_PAGE = 200;

export interface RoomOrderDeps {
  /** Passes a row on to the room's subscribers. */
  emit(message: MessageRecord): void;
  /** Rows with seq > `afterSeq`, oldest first, at most `limit` (the store). */
  readAfter(afterSeq: number, limit: number): Promise<MessageRecord[]>;
  /** A gap could not be read; the parked rows were passed on anyway (each feed heals it by itself). */
  onReadError(err: unknown): void;
  waitMs?: number;
}

export class RoomOrder {
  /** The highest `seq` passed on in order; null until `start` (or, if the store could not say, the first row). */
  private last: number | null = null;
  private started = false;
  /** Rows ahead of a gap, by seq. */
  private readonly parked = new Map<number, MessageRecord>();
  private timer: NodeJS.Timeout | null = null;
  private reading = false;
  private stopped = false;
  /** Gaps that had to be read from the store (tests and metrics). */
  storeReads = 0;

  constructor(private readonly deps: RoomOrderDeps) {}

  /**
   * Sets where the stream starts: the room's last `seq` once the layer subscription was live (null when the
   * store could not tell: the first row that follows sets it). Rows that arrived meanwhile go on.
   */
  start(lastSeq: number | null): void {
    if (this.stopped || this.started) return;
    this.started = true;
    const early = [...this.parked.values()].sort((a, b) => a.seq - b.seq);
    this.parked.clear();
    if (lastSeq !== null) this.last = lastSeq;
    for (const m of early) this.push(m);
  }

  /** A row from the channel layer. */
  push(m: MessageRecord): void {
    if (this.stopped) return;
    if (!this.started) {
      this.parked.set(m.seq, m);
      return;
    }
    if (this.last === null) this.last = m.seq - 1;
    if (m.seq <= this.last) {
      // Already passed on (read from the store meanwhile), or older than where this instance joined: the
      // feeds drop what they have and heal what they lack, so it goes on rather than being judged here.
      this.deps.emit(m);
      return;
    }
    if (m.seq === this.last + 1 && !this.reading) {
      this.pass(m);
      this.drainParked();
      return;
    }
    this.parked.set(m.seq, m);
    if (!this.reading) this.wait();
  }

  /** Rows waiting behind a gap (tests). */
  get waiting(): number {
    return this.parked.size;
  }

  /** Drops what is parked and stops (the room is no longer watched here). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.parked.clear();
  }

  private wait(): void {
    this.timer ??= setTimeout(() => void this.fill(), this.deps.waitMs ?? REORDER_WAIT_MS);
    this.timer.unref();
  }

  private pass(m: MessageRecord): void {
    this.last = m.seq;
    this.deps.emit(m);
  }

  /** Passes on the parked rows that now follow in order; clears the wait once nothing is parked. */
  private drainParked(): void {
    for (let next = this.parked.get(this.last! + 1); next; next = this.parked.get(this.last! + 1)) {
      this.parked.delete(next.seq);
      this.pass(next);
    }
    if (this.parked.size === 0 && this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  /** The wait is over: reads the gap (and only the gap) from the store, then passes on what follows. */
  private async fill(): Promise<void> {
    this.timer = null;
    if (this.stopped || this.parked.size === 0) return;
    this.reading = true;
    this.storeReads++;
    let exhausted = false;
    try {
      while (!this.stopped && this.parked.size > 0 && !this.parked.has(this.last! + 1)) {
        const before = this.last!;
        const first = Math.min(...this.parked.keys());
        const page = await this.deps.readAfter(before, Math.min(first - before - 1, REORDER_READ_PAGE));
        for (const m of page) if (m.seq === this.last! + 1) this.pass(m);
        if (this.stopped) return;
        this.drainParked();
        // The store has nothing newer where the gap is (or nothing that follows on): stop asking it.
        if (this.last === before) {
          exhausted = true;
          break;
        }
      }
    } catch (err) {
      exhausted = true;
      this.deps.onReadError(err);
    } finally {
      this.reading = false;
    }
    if (this.stopped) return;
    this.drainParked();
    if (this.parked.size === 0) return;
    // A gap the store cannot fill here goes on as it is (each feed judges it); one that opened while reading
    // gets its own wait.
    if (exhausted) this.skipGap();
    else this.wait();
  }

  /** Passes the parked rows on in seq order across a gap the store could not fill here. */
  private skipGap(): void {
    const rows = [...this.parked.values()].sort((a, b) => a.seq - b.seq);
    this.parked.clear();
    for (const m of rows) this.pass(m);
  }
}

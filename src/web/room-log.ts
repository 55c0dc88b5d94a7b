/**
 * What the client holds of one room: its messages keyed by `seq` (so a duplicate is a no-op), the highest
 * `seq` up to which nothing is missing, and whether older pages exist. Pure state, no DOM and no socket.
 */
import type { ChatMessage, MessageUpdate } from './protocol.js';

/** The messages of one room held by this page. */
export class RoomLog {
  /** seq -> message. */
  readonly messages = new Map<number, ChatMessage>();
  /**
   * Seqs of the update rows (edits, deletes, reactions) received: they are never shown, but they are rows of the
   * room's seq stream, so the gapless run and the receipts' cursors pass over them like over messages.
   */
  private readonly updateSeqs = new Set<number>();
  private maxUpdateSeq = 0;
  /**
   * Message id -> the newest update applied to it (its seq and the state it carried). History pages and live
   * updates travel separately, so a page read from the store before a change can arrive after the change's
   * update: a message's state is only ever taken from a newer update, and a page never brings back an older one.
   */
  private readonly latest = new Map<number, { seq: number; message: ChatMessage }>();
  /** True once the first page (the newest messages) arrived: from then on gaps are detected and healed. */
  loaded = false;
  /** Whether older messages than the oldest held exist on the server. */
  hasOlder = true;
  /** For a room subscribed but never opened: the newest seq when it was first subscribed (only news replays). */
  tailSince: number | undefined;
  private top = 0;
  private sortedCache: ChatMessage[] | null = null;

  constructor(readonly roomId: number) {}

  /**
   * The highest seq such that every message from the oldest held one up to it is here: what `resume` and
   * `subscribe` send as `since`, and where a gap starts.
   */
  get contiguousTop(): number {
    return this.top;
  }

  /** The largest seq held, of a message or an update (0 when empty). */
  get maxSeq(): number {
    const all = this.sorted();
    return Math.max(all.length === 0 ? 0 : all[all.length - 1]!.seq, this.maxUpdateSeq);
  }

  /** The smallest seq held (0 when empty): the `before` of the next older page. */
  get minSeq(): number {
    return this.sorted()[0]?.seq ?? 0;
  }

  /** True when messages above `contiguousTop` are held, i.e. some in between are missing. */
  get hasGap(): boolean {
    return this.loaded && this.maxSeq > this.top;
  }

  /** Adds messages; returns those that were new (duplicates are ignored: exactly once). */
  add(messages: Iterable<ChatMessage>): ChatMessage[] {
    const added: ChatMessage[] = [];
    for (const given of messages) {
      if (given.room !== this.roomId || this.messages.has(given.seq)) continue;
      const m = this.latest.get(given.id)?.message ?? given;
      this.messages.set(m.seq, m);
      added.push(m);
    }
    if (added.length > 0) {
      this.sortedCache = null;
      this.advanceTop();
    }
    return added;
  }

  /**
   * Takes update rows: each carries its message as it stands now, which replaces the held copy (replaying an
   * old update is harmless). Replies quoting a changed message get its new excerpt. Returns whether anything
   * shown changed; the update's own seq is recorded either way.
   */
  applyUpdates(updates: Iterable<MessageUpdate>): { changed: boolean; newSeqs: number } {
    let changed = false;
    let newSeqs = 0;
    for (const u of updates) {
      if (u.room !== this.roomId) continue;
      if (!this.updateSeqs.has(u.seq)) {
        this.updateSeqs.add(u.seq);
        this.maxUpdateSeq = Math.max(this.maxUpdateSeq, u.seq);
        newSeqs++;
      }
      const m = u.message;
      if (m === null) continue;
      const known = this.latest.get(m.id);
      if (known && known.seq >= u.seq) continue; // an older state than one already applied
      this.latest.set(m.id, { seq: u.seq, message: m });
      if (this.messages.has(m.seq)) {
        this.messages.set(m.seq, m);
        changed = true;
      }
      for (const [seq, other] of this.messages) {
        const quoted = other.replyTo;
        if (quoted === null || quoted === undefined || quoted.id !== m.id) continue;
        this.messages.set(seq, { ...other, replyTo: { ...quoted, excerpt: m.deleted === true ? '' : excerptOf(m.body), deleted: m.deleted === true } });
        changed = true;
      }
    }
    if (changed) this.sortedCache = null;
    if (newSeqs > 0) this.advanceTop();
    return { changed, newSeqs };
  }

  /** The held message with this id, if any. */
  byId(id: number): ChatMessage | undefined {
    for (const m of this.messages.values()) if (m.id === id) return m;
    return undefined;
  }

  /**
   * Marks the first page as received. Its messages are the newest, so the contiguous run starts at its oldest
   * message even when nothing below it is held.
   */
  markLoaded(hasOlder: boolean): void {
    this.loaded = true;
    this.hasOlder = hasOlder;
    const oldest = this.minSeq;
    this.top = oldest === 0 ? 0 : oldest - 1;
    this.advanceTop();
  }

  /** The held messages in seq order (cached between changes). */
  sorted(): ChatMessage[] {
    this.sortedCache ??= [...this.messages.values()].sort((a, b) => a.seq - b.seq);
    return this.sortedCache;
  }

  /** Moves `contiguousTop` up over every seq now held without a hole. */
  private advanceTop(): void {
    if (!this.loaded) return;
    // An empty room that was loaded starts at 0: seq 1 is the first that can arrive.
    while (this.messages.has(this.top + 1) || this.updateSeqs.has(this.top + 1)) this.top++;
  }
}

/** Characters of a quoted message a reply carries: the server's REPLY_EXCERPT_CHARS (src/store/rows.ts). */
export const EXCERPT_CHARS = 200;

/** The start of a body as the server quotes it in a reply (the view shortens it further to one or two lines). */
export function excerptOf(body: string): string {
  return body.slice(0, EXCERPT_CHARS);
}

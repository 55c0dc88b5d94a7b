/**
 * Messages written but not yet acknowledged. Each is written to localStorage *before* it is sent, so a
 * reload, a crash or a lost connection never loses it; it is resent with the same clientMsgId (the server
 * dedupes) until an `ack` or the stored message itself proves it arrived.
 */

import type { Attachment } from './protocol.js';

/** A message waiting for its `ack`. */
export interface OutboxEntry {
  clientMsgId: string;
  room: number;
  body: string;
  /** When it was written (ms since epoch); orders the pending messages of a room. */
  createdAt: number;
  /** The id of the message it answers, if any. */
  replyTo?: number;
  /** Uploaded files it carries (their ids go in the `send` frame; the rest shows them while pending). */
  attachments?: Attachment[];
}

/** The localStorage key of a user's outbox (per user: what one account wrote is never sent as another). */
export const outboxKey = (userId: number) => `confab.outbox.${userId}`;

/**
 * The outbox. Every operation reads and writes localStorage itself instead of caching, so tabs of the same
 * browser share one outbox without overwriting each other's entries.
 */
export class Outbox {
  // Fallback when storage is unavailable: the outbox then lasts as long as the page.
  private memory: OutboxEntry[] = [];
  private readonly key: string;

  constructor(userId: number) {
    this.key = outboxKey(userId);
  }

  /** Every entry, oldest first. */
  entries(): OutboxEntry[] {
    try {
      const raw = localStorage.getItem(this.key);
      if (raw === null) return [];
      const parsed: unknown = JSON.parse(raw);
      return Array.isArray(parsed) ? parsed.filter(isEntry) : [];
    } catch {
      return [...this.memory];
    }
  }

  /** The entries of one room, oldest first. */
  forRoom(room: number): OutboxEntry[] {
    return this.entries().filter((e) => e.room === room);
  }

  /** Whether `clientMsgId` is still waiting. */
  has(clientMsgId: string): boolean {
    return this.entries().some((e) => e.clientMsgId === clientMsgId);
  }

  /** Adds an entry (stored before the caller sends it). */
  add(entry: OutboxEntry): void {
    this.write([...this.entries().filter((e) => e.clientMsgId !== entry.clientMsgId), entry]);
  }

  /** Removes an entry; returns it, or undefined when it was not there (already acknowledged). */
  remove(clientMsgId: string): OutboxEntry | undefined {
    const all = this.entries();
    const found = all.find((e) => e.clientMsgId === clientMsgId);
    if (found !== undefined) this.write(all.filter((e) => e !== found));
    return found;
  }

  /** Drops every entry (signing out: they belong to this account). */
  clear(): void {
    this.write([]);
  }

  private write(entries: OutboxEntry[]): void {
    this.memory = entries;
    try {
      if (entries.length === 0) localStorage.removeItem(this.key);
      else localStorage.setItem(this.key, JSON.stringify(entries));
    } catch {
      /* storage full or disabled: the in-memory copy still resends while the page lives */
    }
  }
}

/** Guards against a corrupted or foreign value under the outbox key. */
function isEntry(value: unknown): value is OutboxEntry {
  if (typeof value !== 'object' || value === null) return false;
  const e = value as Record<string, unknown>;
  return (
    typeof e.clientMsgId === 'string' &&
    typeof e.room === 'number' &&
    typeof e.body === 'string' &&
    typeof e.createdAt === 'number'
  );
}
